/* membership.c: the peers a node lists, their heartbeat versions and
 * their expiry.
 *
 * A peer is listed from the moment some message names it (a heartbeat, a
 * digest entry with its record, a set()) and refreshed whenever a newer
 * heartbeat of it arrives, by rumor or by anti-entropy; a peer not
 * refreshed within the timeout is removed. A late copy refreshes
 * nothing, since it says nothing about whether the origin is alive now.
 *
 * What counts as newer. pekonode's classic strategy: another incarnation
 * (a restarted node), whatever its sequence, or a higher sequence within
 * the same incarnation. The other strategies order incarnations too
 * (serial-number arithmetic, RFC 1982: incarnations grow from one start
 * of a node to the next), so a stale copy of an old incarnation, which
 * anti-entropy keeps handing around, can never displace the new one.
 *
 * Expiry. Classic removes a silent peer outright, sweeping the whole
 * table once a cycle. The others keep their peers in refresh order
 * (peers.h) and read only those that are due; a due peer becomes a
 * tombstone that keeps its last version for one more timeout, so that
 * gossip still carrying that version cannot list it again (van Renesse,
 * Minsky and Hayden's "cleanup" time), and is then dropped.
 */
#include <string.h>

#include "strategy.h"

peko__peer *peko__peer_find(const peko_nodelist *nl, const peko_addr *addr)
{
    return peko__peers_find(&nl->peers, addr, peko_addr_fingerprint(addr));
}

/* How far from the least recently refreshed end a full list looks for a
 * member to replace. */
#define ADMISSION_SCAN 64

/* Makes room for one more peer in a full list: drops a tombstone, or the
 * member heard from least recently that never proved its address. A
 * flood of forged nodes fills the list with such members, which are
 * never refreshed again, so they are the ones that go; verified members
 * and those heard from recently stay. Returns false when there is none
 * (pekonode's classic has no refresh order: it only refuses). */
static bool make_room(peko_nodelist *nl)
{
    peko__peers *ps = &nl->peers;
    if (ps->n < (uint32_t)nl->config.max_members)
        return true;
    if (ps->lru == NULL)
        return false;
    uint32_t e = peko__peers_oldest(ps);
    for (int k = 0; k < ADMISSION_SCAN && e != PEKO__ENTRY_NONE;
         k++, e = peko__peers_newer(ps, e)) {
        const peko__peer *p = peko__peers_entry(ps, e);
        if (!peko__peer_is_dead(p) && (p->flags & PEKO__PEER_VERIFIED))
            continue;
        peko_addr addr = (*peko__peer_addr(&nl->peers, p));
        bool live = !peko__peer_is_dead(p);
        peko__peers_remove(ps, e);
        if (live) {
            nl->stats.members_evicted++;
            PEKO__OBSERVE(nl, node_expired, &addr);
        }
        return true;
    }
    return false;
}

peko__peer *peko__peer_add(peko_nodelist *nl, const peko_addr *addr,
                           int64_t now_us)
{
    if (!make_room(nl)) {
        nl->stats.members_refused++;
        return NULL;
    }
    peko__peer *peer = peko__peers_add(&nl->peers, addr,
                                       peko_addr_fingerprint(addr));
    peer->last_seen_us = now_us;
    nl->stats.nodes_added++;
    PEKO__OBSERVE(nl, node_added, addr);
    return peer;
}

/* pekonode's expiry: every slot, once a cycle. */
static void expire_sweep(peko_nodelist *nl, int64_t now_us)
{
    /* Upwards through the slots; a removal may move a record not yet
     * looked at into the slot just emptied (peers.h), so that slot is
     * looked at again. */
    for (uint32_t s = 0; s < nl->peers.cap;) {
        if (!peko__peers_used(&nl->peers, s) ||
            now_us - peko__peers_at(&nl->peers, s)->last_seen_us <=
                nl->timeout_us) {
            s++;
            continue;
        }
        peko_addr addr = (*peko__peer_addr(&nl->peers, peko__peers_at(&nl->peers, s)));
        peko__peers_remove(&nl->peers, peko__peers_entry_in(&nl->peers, s));
        nl->stats.nodes_expired++;
        PEKO__OBSERVE(nl, node_expired, &addr);
    }
}

/* Refresh order: only the peers that are due. A live one becomes a
 * tombstone (last_seen_us is then the time it died, and it goes to the
 * end of the order); a tombstone a timeout old is dropped. */
static void expire_ordered(peko_nodelist *nl, int64_t now_us)
{
    peko__peers *ps = &nl->peers;
    for (;;) {
        uint32_t e = peko__peers_oldest(ps);
        if (e == PEKO__ENTRY_NONE)
            break;
        peko__peer *peer = peko__peers_entry(ps, e);
        if (now_us - peer->last_seen_us <= nl->timeout_us)
            break;
        if (peko__peer_is_dead(peer)) {
            peko__peers_remove(ps, e);
            continue;
        }
        peko__peers_set_dead(ps, e, true);
        peer->last_seen_us = now_us;
        peko__peers_touch(ps, e);
        nl->stats.nodes_expired++;
        peko_addr addr = (*peko__peer_addr(&nl->peers, peer));
        PEKO__OBSERVE(nl, node_expired, &addr);
        if (peko__peer_has_heartbeat(peer))
            peko__reconnect_note_removed(nl, &addr, peer->incarnation,
                                         peer->seq, now_us);
        else
            peko__reconnect_note(nl, &addr, false, now_us);
    }
}

void peko__expire_peers(peko_nodelist *nl, int64_t now_us)
{
    if (peko__strategy_of(nl)->ordered)
        expire_ordered(nl, now_us);
    else
        expire_sweep(nl, now_us);
    peko__peers_shrink(&nl->peers);
}

/* ------------------------------------------------------------------ */
/* Versions.                                                            */

bool peko__version_after(const peko_nodelist *nl, uint32_t incarnation,
                         uint32_t seq, uint32_t than_incarnation,
                         uint32_t than_seq)
{
    if (!peko__strategy_of(nl)->ordered)
        return than_incarnation != incarnation || seq > than_seq;
    int32_t d = (int32_t)(incarnation - than_incarnation);
    return d > 0 || (d == 0 && seq > than_seq);
}

bool peko__version_newer(const peko_nodelist *nl, const peko__peer *peer,
                         uint32_t incarnation, uint32_t seq)
{
    return !peko__peer_has_heartbeat(peer) ||
           peko__version_after(nl, incarnation, seq, peer->incarnation,
                               peer->seq);
}

/* Record versions compare as serial numbers too. */
static inline bool rev_newer(uint16_t a, uint16_t b)
{
    return (int16_t)(uint16_t)(a - b) > 0;
}

bool peko__record_after(uint32_t incarnation, uint16_t rev,
                        uint32_t than_incarnation, uint16_t than_rev)
{
    int32_t d = (int32_t)(incarnation - than_incarnation);
    return d > 0 || (d == 0 && rev_newer(rev, than_rev));
}

/* A peer just got a newer heartbeat: refreshed now, and alive again if it
 * was a tombstone (which the observer hears as an addition). */
static void refresh(peko_nodelist *nl, peko__peer *peer, int64_t now_us)
{
    peer->last_seen_us = now_us;
    if (!peko__strategy_of(nl)->ordered) {
        PEKO__OBSERVE(nl, node_refreshed, peko__peer_addr(&nl->peers, peer));
        return;
    }
    uint32_t e = peko__peers_entry_of(&nl->peers, peer);
    peko__peers_touch(&nl->peers, e);
    if (peko__peer_is_dead(peer)) {
        peko__peers_set_dead(&nl->peers, e, false);
        nl->stats.nodes_added++;
        PEKO__OBSERVE(nl, node_added, peko__peer_addr(&nl->peers, peer));
    } else {
        PEKO__OBSERVE(nl, node_refreshed, peko__peer_addr(&nl->peers, peer));
    }
}

/* ------------------------------------------------------------------ */
/* Heartbeat rumors.                                                    */

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

static peko_rumor heartbeat_rumor(const peko_addr *origin,
                                  uint32_t incarnation, uint32_t seq)
{
    return (peko_rumor){
        .kind = PEKO_MSG_HEARTBEAT,
        .origin = *origin,
        .id = ((uint64_t)incarnation << 32) | seq,
    };
}

/* Sets a peer's heartbeat version and record from a heartbeat rumor. */
static void heartbeat_store(peko_nodelist *nl, peko__peer *peer,
                            const peko__msg *m)
{
    peer->flags |= PEKO__PEER_HEARTBEAT;
    peer->incarnation = m->incarnation;
    peer->seq = m->seq;
    peer->rev = m->rev;
    peko__peer_set_text(&nl->peers, peer, m->name, m->name_len, m->data, m->data_len);
}

peko__heartbeat_seen peko__heartbeat_receive(peko_nodelist *nl,
                                             const peko__msg *m,
                                             uint32_t origin_fp)
{
    peko_rumor rumor = heartbeat_rumor(&m->origin, m->incarnation, m->seq);

    /* Our own heartbeat coming back (or an older incarnation of us):
     * never list ourselves as a peer. */
    if (peko_addr_equal(&m->origin, peko__self_addr(nl))) {
        nl->traffic.duplicates++;
        PEKO__OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
        return (peko__heartbeat_seen){.first = false, .ours = true};
    }

    int64_t now = peko__now_us(nl);
    peko__peer *peer = peko__peers_find(&nl->peers, &m->origin, origin_fp);
    /* Fast path: a known peer's own heartbeat version says whether this
     * copy is new, exactly and without memory. The seen-cache answers for
     * what the version cannot: in classic, another incarnation, where a
     * late copy of the old one must not count as new twice, and an origin
     * with no version stored, which its first copy stores unless the list
     * has no room for it. */
    bool first;
    uint64_t key = 0;
    if (peer && peko__peer_has_heartbeat(peer) &&
        (peer->incarnation == m->incarnation ||
         peko__strategy_of(nl)->ordered)) {
        /* Where incarnations are ordered, a heartbeat older than the
         * known one is old news too, whatever its incarnation. */
        first = peko__version_newer(nl, peer, m->incarnation, m->seq);
    } else {
        /* Another incarnation (classic) is keyed. With no version yet,
         * the copy that stores one is not: the version answers for every
         * later copy, and a key kept besides would only take room (a
         * cold start would key nearly every origin; docs/simulator.md,
         * "Memory"). */
        key = heartbeat_key(&m->origin, m->incarnation, m->seq);
        first = peer && peko__peer_has_heartbeat(peer)
                    ? peko__seen_insert(&nl->seen, key)
                    : !peko__seen_contains(&nl->seen, key);
    }
    if (peer == NULL &&
        (first || peko__strategy_of(nl)->copies_add_nodes)) {
        peer = peko__peer_add(nl, &m->origin, now);
        if (peer == NULL) {
            /* The list is full of members we trust more: a newcomer's
             * rumor is not passed on either, and its key answers for
             * its later copies. */
            if (first)
                peko__seen_insert(&nl->seen, key);
            first = false;
        } else {
            heartbeat_store(nl, peer, m);
        }
    } else if (peer != NULL &&
               peko__version_newer(nl, peer, m->incarnation, m->seq)) {
        heartbeat_store(nl, peer, m);
        refresh(nl, peer, now);
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
    msg->sender = (*peko__self_addr(nl));
    msg->origin = (*peko__self_addr(nl));
    msg->incarnation = nl->incarnation;
    msg->seq = nl->self.seq;
    msg->rev = nl->self.rev;
    msg->name = peko__peer_name(&nl->peers, &nl->self);
    msg->name_len = peko__peer_name_len(&nl->peers, &nl->self);
    msg->data = peko__peer_data(&nl->peers, &nl->self);
    msg->data_len = peko__peer_data_len(&nl->peers, &nl->self);
}

void peko__heartbeat_next(peko_nodelist *nl, int64_t now_us, peko__msg *msg)
{
    nl->self.seq++;
    nl->self.last_seen_us = now_us;
    peko__heartbeat_fill(nl, msg);
    /* Not keyed: copies of our own heartbeats are told apart by their
     * origin before any key is read (peko__heartbeat_receive). */
    peko_rumor rumor = heartbeat_rumor(&msg->origin, msg->incarnation,
                                       msg->seq);
    PEKO__OBSERVE(nl, rumor_created, &rumor);
}

/* ------------------------------------------------------------------ */
/* Digest entries (anti-entropy).                                       */

void peko__entry_of_peer(const peko_nodelist *nl, const peko__peer *peer,
                         bool full, peko__entry *e)
{
    memset(e, 0, sizeof *e);
    e->addr = (*peko__peer_addr(&nl->peers, peer));
    e->incarnation = peer->incarnation;
    e->seq = peer->seq;
    e->rev = peer->rev;
    e->full = full;
    if (full) {
        e->name = peko__peer_name(&nl->peers, peer);
        e->name_len = peko__peer_name_len(&nl->peers, peer);
        e->data = peko__peer_data(&nl->peers, peer);
        e->data_len = peko__peer_data_len(&nl->peers, peer);
    }
}

bool peko__entry_record_newer(const peko__entry *e, const peko__peer *peer)
{
    return peko__record_after(e->incarnation, e->rev, peer->incarnation,
                              peer->rev);
}

peko__applied peko__entry_apply(peko_nodelist *nl, const peko__entry *e,
                                uint32_t fp, peko_msg_type via,
                                const peko_addr *from, int64_t now_us)
{
    if (peko_addr_equal(&e->addr, peko__self_addr(nl)))
        return PEKO__APPLIED_NOTHING;
    peko__peer *peer = peko__peers_find(&nl->peers, &e->addr, fp);
    if (peer == NULL) {
        /* A node we do not know: only its record can list it; and not
         * one we removed at this version, whose tombstone is gone while
         * others still hand its last record round (docs/protocol.md,
         * "Tombstones"). */
        if (!e->full)
            return PEKO__APPLIED_UNKNOWN;
        if (peko__strategy_of(nl)->ordered &&
            peko__reconnect_was_removed(nl, &e->addr, e->incarnation,
                                        e->seq))
            return PEKO__APPLIED_NOTHING;
        peer = peko__peer_add(nl, &e->addr, now_us);
        if (peer == NULL)
            return PEKO__APPLIED_NOTHING;
    } else if (!peko__version_newer(nl, peer, e->incarnation, e->seq)) {
        /* Not newer; but the record may be (a name changed without a new
         * heartbeat reaching us yet). */
        if (e->full && e->incarnation == peer->incarnation &&
            rev_newer(e->rev, peer->rev)) {
            peko__peer_set_text(&nl->peers, peer, e->name, e->name_len, e->data,
                                e->data_len);
            peer->rev = e->rev;
        }
        return PEKO__APPLIED_NOTHING;
    } else {
        refresh(nl, peer, now_us);
        nl->stats.repaired++;
    }

    bool record_newer = !peko__peer_has_heartbeat(peer) ||
                        peko__entry_record_newer(e, peer);
    peer->flags |= PEKO__PEER_HEARTBEAT;
    if (e->full) {
        peko__peer_set_text(&nl->peers, peer, e->name, e->name_len, e->data,
                            e->data_len);
        peer->rev = e->rev;
    } else if (record_newer) {
        /* The record we hold is older than this version's: say so in our
         * own digests (one rev behind it), so that a peer sends it. */
        peer->rev = (uint16_t)(e->rev - 1);
    }
    peer->incarnation = e->incarnation;
    peer->seq = e->seq;
    peko_rumor rumor = heartbeat_rumor(&e->addr, e->incarnation, e->seq);
    PEKO__OBSERVE(nl, heartbeat_learned, &rumor, via, from);
    return PEKO__APPLIED_TAKEN;
}
