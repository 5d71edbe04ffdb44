/* reconnect.c: seeds and removed members, tried again with backoff
 * (docs/protocol.md, "Reconnection").
 *
 * Without it a silence longer than the timeout splits a cluster for
 * ever: both sides remove each other, and nothing ever makes them talk
 * again, since peers are chosen from the list. So a node remembers its
 * seeds (set()) and the members it removed, and each cycle sends a swap
 * request to one of them that is due and not listed, backing off from one
 * cycle to RECONNECT_BACKOFF_MAX, as Serf's reconnect does. The swap
 * carries its own record, and the answer the records the other side
 * knows, so one answered attempt heals the partition. Removed members
 * are given up after RECONNECT_GIVE_UP_US; seeds never. A removed
 * member's last heartbeat version is kept with it: its records at that
 * version or older, handed round by nodes that removed it later, never
 * list it again here once its tombstone is gone (docs/protocol.md,
 * "Tombstones").
 */
#include <string.h>

#include "strategy.h"

#define RECONNECT_MAX 256             /* addresses remembered */
#define RECONNECT_BACKOFF_MAX 32      /* cycles between two attempts */
#define RECONNECT_GIVE_UP_US (24LL * 3600 * 1000000) /* removed members */

static bool listed(const peko_nodelist *nl, const peko_addr *addr)
{
    const peko__peer *p = peko__peer_find(nl, addr);
    return p != NULL && !peko__peer_is_dead(p);
}

void peko__reconnect_note(peko_nodelist *nl, const peko_addr *addr,
                          bool seed, int64_t now_us)
{
    if (peko_addr_equal(addr, peko__self_addr(nl)))
        return;
    uint32_t i = 0;
    while (i < nl->rc_n && !peko_addr_equal(&nl->rc[i].addr, addr))
        i++;
    if (i == nl->rc_n) {
        if (nl->rc_n < RECONNECT_MAX) {
            /* Room as needed: most nodes note a few seeds, and at the
             * bound's 14 KB a node it was much of a small simulated
             * node's memory. */
            if (nl->rc_n == nl->rc_cap) {
                nl->rc_cap = nl->rc_cap ? 2 * nl->rc_cap : 4;
                nl->rc = g_renew(peko__reconnect, nl->rc, nl->rc_cap);
            }
            nl->rc_n++;
        } else {
            /* Full: the oldest removed member makes room; seeds stay. */
            uint32_t oldest = RECONNECT_MAX;
            for (uint32_t k = 0; k < nl->rc_n; k++)
                if (!nl->rc[k].seed &&
                    (oldest == RECONNECT_MAX ||
                     nl->rc[k].noted_us < nl->rc[oldest].noted_us))
                    oldest = k;
            if (oldest == RECONNECT_MAX)
                return;
            i = oldest;
        }
        memset(&nl->rc[i], 0, sizeof nl->rc[i]);
        nl->rc[i].addr = *addr;
    }
    nl->rc[i].seed |= seed;
    nl->rc[i].removed = false;
    nl->rc[i].noted_us = now_us;
    nl->rc[i].backoff = 1;
    nl->rc[i].next_us = now_us + nl->config.cycle_us;
}

void peko__reconnect_note_removed(peko_nodelist *nl, const peko_addr *addr,
                                  uint32_t incarnation, uint32_t seq,
                                  int64_t now_us)
{
    peko__reconnect_note(nl, addr, false, now_us);
    for (uint32_t i = 0; i < nl->rc_n; i++)
        if (peko_addr_equal(&nl->rc[i].addr, addr)) {
            nl->rc[i].removed = true;
            nl->rc[i].incarnation = incarnation;
            nl->rc[i].seq = seq;
            return;
        }
}

bool peko__reconnect_was_removed(const peko_nodelist *nl,
                                 const peko_addr *addr, uint32_t incarnation,
                                 uint32_t seq)
{
    for (uint32_t i = 0; i < nl->rc_n; i++)
        if (nl->rc[i].removed && peko_addr_equal(&nl->rc[i].addr, addr))
            return !peko__version_after(nl, incarnation, seq,
                                        nl->rc[i].incarnation, nl->rc[i].seq);
    return false;
}

void peko__reconnect_cycle(peko_nodelist *nl, int64_t now_us)
{
    bool tried = false;
    for (uint32_t k = 0; k < nl->rc_n;) {
        peko__reconnect *r = &nl->rc[k];
        bool back = listed(nl, &r->addr);
        if (!r->seed &&
            (back || now_us - r->noted_us > RECONNECT_GIVE_UP_US)) {
            nl->rc[k] = nl->rc[--nl->rc_n]; /* listed again, or given up */
            continue;
        }
        if (back) {
            r->backoff = 1;
        } else if (!tried && r->next_us <= now_us) {
            /* One attempt a cycle, whatever the list holds. */
            tried = true;
            peko__ae_request_to(nl, &r->addr);
            nl->stats.reconnect_attempts++;
            if (r->backoff < RECONNECT_BACKOFF_MAX)
                r->backoff *= 2;
            r->next_us = now_us + (int64_t)r->backoff * nl->config.cycle_us;
        }
        k++;
    }
}
