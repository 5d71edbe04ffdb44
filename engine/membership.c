/* membership.c: the peers a node lists, their heartbeat versions and
 * their expiry.
 *
 * A peer is listed from the moment some message names it (a heartbeat, a
 * set()) and refreshed whenever a newer heartbeat of it arrives; a peer
 * not refreshed within the timeout is removed. What counts as newer:
 * another incarnation (a restarted node), or a higher sequence number
 * within the same incarnation. A late copy refreshes nothing, since it
 * says nothing about whether the origin is alive now.
 */
#include <string.h>

#include "strategy.h"

peko__peer *peko__peer_find(const peko_nodelist *nl, const peko_addr *addr)
{
    return peko__peers_find(&nl->peers, addr, peko_addr_fingerprint(addr));
}

peko__peer *peko__peer_add(peko_nodelist *nl, const peko_addr *addr,
                           int64_t now_us)
{
    peko__peer *peer = peko__peers_add(&nl->peers, addr,
                                       peko_addr_fingerprint(addr));
    peer->last_seen_us = now_us;
    nl->stats.nodes_added++;
    PEKO__OBSERVE(nl, node_added, addr);
    return peer;
}

void peko__expire_peers(peko_nodelist *nl, int64_t now_us)
{
    /* Upwards through the slots; a removal may move a record not yet
     * looked at into the slot just emptied (peers.h), so that slot is
     * looked at again. */
    for (uint32_t s = 0; s < nl->peers.cap;) {
        const peko__peer *peer = &nl->peers.slots[s];
        if (!peko__peers_used(&nl->peers, s) ||
            now_us - peer->last_seen_us <= nl->config.timeout_us) {
            s++;
            continue;
        }
        peko_addr addr = peer->addr;
        peko__peers_remove(&nl->peers, s);
        nl->stats.nodes_expired++;
        PEKO__OBSERVE(nl, node_expired, &addr);
    }
    peko__peers_shrink(&nl->peers);
}

/* ------------------------------------------------------------------ */
/* Heartbeats.                                                          */

/* The seen-cache key of a heartbeat rumor: a 64-bit mix of its origin,
 * incarnation and sequence. Pointers never enter it. */
static uint64_t heartbeat_key(const peko_addr *origin, uint32_t incarnation,
                              uint32_t seq)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
    const uint8_t *bytes = (const uint8_t *)origin;
    for (size_t i = 0; i < sizeof *origin; i++) {
        h ^= bytes[i];
        h *= 0x100000001b3ULL;
    }
    h ^= ((uint64_t)incarnation << 32) | seq;
    /* splitmix64 finalizer: FNV alone leaves the xored counter weak. */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static peko_rumor heartbeat_rumor(const peko__msg *m)
{
    return (peko_rumor){
        .kind = PEKO_MSG_HEARTBEAT,
        .origin = m->origin,
        .id = ((uint64_t)m->incarnation << 32) | m->seq,
    };
}

/* Sets a peer's heartbeat version, record and refresh time. */
static void heartbeat_store(peko__peer *peer, const peko__msg *m,
                            int64_t now_us)
{
    peer->has_heartbeat = true;
    peer->incarnation = m->incarnation;
    peer->seq = m->seq;
    peer->last_seen_us = now_us;
    peko__peer_set_text(peer, m->name, m->name_len, m->data, m->data_len);
}

peko__heartbeat_seen peko__heartbeat_receive(peko_nodelist *nl,
                                             const peko__msg *m,
                                             uint32_t origin_fp)
{
    peko_rumor rumor = heartbeat_rumor(m);

    /* Our own heartbeat coming back (or an older incarnation of us):
     * never list ourselves as a peer. */
    if (peko_addr_equal(&m->origin, &nl->self.addr)) {
        nl->traffic.duplicates++;
        PEKO__OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
        return (peko__heartbeat_seen){.first = false, .ours = true};
    }

    int64_t now = peko__now_us(nl);
    peko__peer *peer = peko__peers_find(&nl->peers, &m->origin, origin_fp);
    /* Fast path: a known peer's own heartbeat counter says whether this
     * copy is new, exactly and without memory. The seen-cache answers for
     * what the counter cannot: origins not (or no longer) listed, and
     * another incarnation, where a late copy of the old one must not count
     * as new twice. */
    bool first;
    if (peer && peer->has_heartbeat && peer->incarnation == m->incarnation)
        first = m->seq > peer->seq;
    else
        first = peko__seen_insert(
            &nl->seen, heartbeat_key(&m->origin, m->incarnation, m->seq));
    if (peer == NULL &&
        (first || peko__strategy_of(nl)->copies_add_nodes)) {
        peer = peko__peer_add(nl, &m->origin, now);
        heartbeat_store(peer, m, now);
    } else if (peer != NULL) {
        /* Only a newer heartbeat refreshes. A new incarnation is a
         * restarted node, newer whatever its sequence. */
        bool newer = !peer->has_heartbeat ||
                     peer->incarnation != m->incarnation ||
                     m->seq > peer->seq;
        if (newer) {
            heartbeat_store(peer, m, now);
            PEKO__OBSERVE(nl, node_refreshed, &m->origin);
        }
    }

    if (first) {
        PEKO__OBSERVE(nl, rumor_first_seen, &rumor, m->hops, &m->sender);
    } else {
        nl->traffic.duplicates++;
        PEKO__OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
    }
    return (peko__heartbeat_seen){.first = first, .ours = false};
}

void peko__heartbeat_fill(peko_nodelist *nl, peko__msg *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->type = PEKO_MSG_HEARTBEAT;
    msg->sender = nl->self.addr;
    msg->origin = nl->self.addr;
    msg->incarnation = nl->incarnation;
    msg->seq = nl->self.seq;
    msg->name = peko__peer_name(&nl->self);
    msg->name_len = nl->self.name_len;
    msg->data = peko__peer_data(&nl->self);
    msg->data_len = nl->self.data_len;
}

void peko__heartbeat_next(peko_nodelist *nl, int64_t now_us, peko__msg *msg)
{
    nl->self.seq++;
    nl->self.last_seen_us = now_us;
    peko__heartbeat_fill(nl, msg);
    peko__seen_insert(&nl->seen, heartbeat_key(&msg->origin,
                                               msg->incarnation, msg->seq));
    peko_rumor rumor = heartbeat_rumor(msg);
    PEKO__OBSERVE(nl, rumor_created, &rumor);
}
