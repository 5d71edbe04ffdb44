/* nodelist.c: the gossip state machine behind peko.h.
 *
 * Everything here is driven by two inputs, on_packet and on_timer, and
 * reaches the world only through nl->env. See DESIGN.md section 3 for the
 * protocol and docs/wire.md for the bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodelist-private.h"

/* The receive path's layout (nodelist-private.h), in cache lines. */
#define LINE 64
G_STATIC_ASSERT(offsetof(peko_nodelist, peers) + sizeof(peko__peers) <= LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, observer.node_refreshed) == LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, observer.packet_received) <
                2 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, self.fingerprint) + 4 <= 3 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, traffic.duplicates) >= 3 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, traffic.by_type[0]) + 32 <=
                4 * LINE);

#define OBSERVE(nl, member, ...)                                             \
    do {                                                                     \
        if ((nl)->observer.member)                                           \
            (nl)->observer.member((nl)->observer_user, __VA_ARGS__);         \
    } while (0)

/* Hops saturate rather than wrap: a 255 is "far", never "near". */
#define PEKO_HOPS_MAX 255

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */

static inline int64_t nl_now_us(peko_nodelist *nl)
{
    return nl->env->now_us(nl->env);
}

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire). */
static uint64_t nl_random_below(peko_nodelist *nl, uint64_t n)
{
    uint64_t x = nl->env->random_u64(nl->env);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            x = nl->env->random_u64(nl->env);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

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

static void send_packet(peko_nodelist *nl, peko_msg_type type,
                        const peko_addr *to, const uint8_t *bytes,
                        size_t n_bytes)
{
    int rc = nl->env->send(nl->env, to, bytes, n_bytes);
    if (rc < 0) {
        nl->stats.send_failed++;
        peko__print_error(nl, "send failed", to);
        return;
    }
    nl->traffic.by_type[type - 1].sent++;
    nl->traffic.by_type[type - 1].sent_bytes += n_bytes;
    OBSERVE(nl, packet_sent, type, to, n_bytes);
}

/* ------------------------------------------------------------------ */
/* Peers.                                                               */

static peko__peer *peer_find(const peko_nodelist *nl, const peko_addr *addr)
{
    return peko__peers_find(&nl->peers, addr, peko_addr_fingerprint(addr));
}

static peko__peer *peer_add(peko_nodelist *nl, const peko_addr *addr,
                            int64_t now_us)
{
    peko__peer *peer = peko__peers_add(&nl->peers, addr,
                                       peko_addr_fingerprint(addr));
    peer->last_seen_us = now_us;
    nl->stats.nodes_added++;
    OBSERVE(nl, node_added, addr);
    return peer;
}

static void expire_peers(peko_nodelist *nl, int64_t now_us)
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
        OBSERVE(nl, node_expired, &addr);
    }
    peko__peers_shrink(&nl->peers);
}

/* ------------------------------------------------------------------ */
/* Rumor spreading: fan-out to uninfected peers.                        */

static bool is_picked(const uint32_t *picked, size_t n, uint32_t index)
{
    for (size_t i = 0; i < n; i++)
        if (picked[i] == index)
            return true;
    return false;
}

static bool is_infected(const peko__peer *peer, const uint8_t *set,
                        uint32_t n_set)
{
    return n_set && peko__wire_set_contains(set, n_set, peer->fingerprint);
}

/* Grows the pick scratch to hold `need` entries (grow only). */
static void ensure_pick_scratch(peko_nodelist *nl, size_t need)
{
    if (nl->pick_scratch_cap >= need)
        return;
    size_t cap = nl->pick_scratch_cap ? nl->pick_scratch_cap : 32;
    while (cap < need)
        cap *= 2;
    nl->pick_scratch = g_renew(uint32_t, nl->pick_scratch, cap);
    nl->pick_scratch_cap = cap;
}

#define PICK_BATCH 16 /* draws fetched together by pick_targets */
#define REDRAW_MAX 64 /* empty slots drawn before draw_peer_slot counts
                       * its way to a peer instead */

/* A slot drawn uniformly among those that hold a peer (there is one):
 * empty slots are drawn again, a bit test each. The table is kept at
 * least an eighth full, but the smallest one may hold a single peer, so
 * after REDRAW_MAX empty draws the peer is chosen exactly instead: the
 * r-th in slot order, r drawn among the peers. Whether that happens does
 * not depend on which peer would have come out, so each peer is equally
 * likely either way. */
static uint32_t draw_peer_slot(peko_nodelist *nl)
{
    const peko__peers *ps = &nl->peers;
    for (int k = 0; k < REDRAW_MAX; k++) {
        uint32_t s = (uint32_t)nl_random_below(nl, ps->cap);
        if (peko__peers_used(ps, s))
            return s;
    }
    uint64_t r = nl_random_below(nl, ps->n);
    uint32_t s = 0;
    for (;; s++)
        if (peko__peers_used(ps, s) && r-- == 0)
            break;
    return s;
}

/* Picks up to `amount` peers, uniformly at random without replacement,
 * among those whose fingerprint is not in the carried infected set. Writes
 * their slots to nl->pick_scratch and returns how many.
 *
 * The carried set holds the path the rumor took (a few entries per hop),
 * so most peers are eligible and rejection sampling finds targets in a
 * few draws. When it does not, the eligible peers are listed and sampled
 * exactly; both phases draw uniformly among the eligible peers not yet
 * picked, so together they are uniform sampling without replacement. */
static size_t pick_targets(peko_nodelist *nl, const uint8_t *set,
                           uint32_t n_set)
{
    size_t want = nl->amount;
    uint32_t *picked = nl->pick_scratch; /* holds `want` (creation) */
    size_t n_picked = 0;
    uint32_t n = nl->peers.n;
    const peko__peer *slots = nl->peers.slots;
    if (n == 0)
        return 0;

    /* Draws come in batches of what is still wanted, and the drawn
     * records are fetched together before any is looked at: in a large
     * list each is a cache miss, and this way they overlap. Drawing ahead
     * changes no draw: a batch holds at most the picks still wanted, all
     * of which a draw-and-look loop would have drawn too. */
    size_t tries = 4 * want + 8;
    while (n_picked < want && tries > 0) {
        uint32_t batch[PICK_BATCH];
        size_t m = MIN(MIN(want - n_picked, tries), (size_t)PICK_BATCH);
        for (size_t k = 0; k < m; k++) {
            batch[k] = draw_peer_slot(nl);
            __builtin_prefetch(&slots[batch[k]]);
        }
        tries -= m;
        for (size_t k = 0; k < m; k++) {
            uint32_t i = batch[k];
            if (is_picked(picked, n_picked, i) ||
                is_infected(&slots[i], set, n_set))
                continue;
            picked[n_picked++] = i;
        }
    }
    if (n_picked == want)
        return n_picked;

    /* Exact phase: candidates go after the picks in the same scratch,
     * grown here rather than kept at the list's size: this phase is rare
     * in a large cluster, where the scratch would cost 4 bytes a peer. */
    ensure_pick_scratch(nl, n_picked + n);
    picked = nl->pick_scratch;
    uint32_t *cand = picked + n_picked;
    size_t n_cand = 0;
    for (uint32_t i = 0; i < nl->peers.cap; i++) {
        if (peko__peers_used(&nl->peers, i) &&
            !is_picked(picked, n_picked, i) &&
            !is_infected(&slots[i], set, n_set))
            cand[n_cand++] = i;
    }
    while (n_picked < want && n_cand > 0) {
        /* Partial Fisher-Yates: swap the draw to the front of the
         * candidates, where it becomes the next pick (the candidates start
         * right after the picks, so the two stay contiguous). */
        size_t j = (size_t)nl_random_below(nl, n_cand);
        uint32_t chosen = cand[j];
        cand[j] = cand[0];
        cand[0] = chosen;
        n_picked++;
        cand++;
        n_cand--;
    }
    return n_picked;
}

static void sort_u32(uint32_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* The position of the first of set[lo, hi) (big-endian, ascending) that
 * is not below v; hi if none. */
static uint32_t set_lower_bound(const uint8_t *set, uint32_t lo, uint32_t hi,
                                uint32_t v)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (peko__get_u32(set + 4 * (size_t)mid) < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Writes into nl->set_scratch the union of the carried set (its first
 * n_keep entries) and the new fingerprints, ascending and big-endian.
 * Returns the number of entries. The carried set is already in wire form
 * and much longer than the few new entries, so its runs between them are
 * copied as they lie rather than entry by entry. */
static uint32_t merge_set(peko_nodelist *nl, const uint8_t *carried,
                          uint32_t n_keep, uint32_t *fresh, size_t n_fresh)
{
    sort_u32(fresh, n_fresh);
    uint8_t *out = nl->set_scratch;
    uint32_t n_out = 0;
    uint32_t i = 0;    /* carried entries before i are written */
    uint32_t last = 0; /* fingerprints are never 0 */
    for (size_t j = 0; j < n_fresh; j++) {
        uint32_t v = fresh[j];
        if (v == last)
            continue;
        last = v;
        uint32_t k = set_lower_bound(carried, i, n_keep, v);
        if (k > i)
            memcpy(out + 4 * (size_t)n_out, carried + 4 * (size_t)i,
                   4 * (size_t)(k - i));
        n_out += k - i;
        i = k;
        /* Already carried: it goes out with the next run. */
        if (i < n_keep && peko__get_u32(carried + 4 * (size_t)i) == v)
            continue;
        peko__put_u32(out + 4 * (size_t)n_out++, v);
    }
    if (n_keep > i)
        memcpy(out + 4 * (size_t)n_out, carried + 4 * (size_t)i,
               4 * (size_t)(n_keep - i));
    return n_out + (n_keep - i);
}

/* Sends *msg to up to `amount` peers not in the carried infected set,
 * after adding the local node and the chosen targets to the set (pekonode:
 * targets are marked infected before the packet leaves). The set is kept
 * within Size: when it would not fit, the fresh entries are kept and the
 * carried ones are cut from the end (docs/wire.md). Returns the number of
 * packets sent. */
static size_t spread(peko_nodelist *nl, peko__msg *msg, const uint8_t *carried,
                     uint32_t n_carried)
{
    size_t n_targets = pick_targets(nl, carried, n_carried);
    if (n_targets == 0)
        return 0;

    uint32_t fresh[1025]; /* amount <= 1024 (config.c) plus the local node */
    size_t n_fresh = 0;
    fresh[n_fresh++] = nl->self.fingerprint;
    for (size_t t = 0; t < n_targets; t++)
        fresh[n_fresh++] = nl->peers.slots[nl->pick_scratch[t]].fingerprint;

    size_t fixed = peko__wire_size_without_set(msg, nl->wire_keys);
    size_t room = fixed < nl->size ? (nl->size - fixed) / 4 : 0;
    if (room < n_fresh) {
        /* The packet cannot even name its targets; Size is too small for
         * this message (a large origin record). */
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", NULL);
        return 0;
    }
    uint32_t n_keep = n_carried;
    if (n_carried + n_fresh > room) {
        n_keep = (uint32_t)(room - n_fresh);
        nl->stats.infected_truncated++;
    }
    msg->infected = nl->set_scratch;
    msg->n_infected = merge_set(nl, carried, n_keep, fresh, n_fresh);

    size_t n_bytes = peko__wire_encode(msg, nl->wire_keys, nl->tx, nl->size);
    if (n_bytes == 0) {
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", NULL);
        return 0;
    }
    /* One encoding, the same bytes to every target. env->send() must not
     * re-enter this node list (peko.h), so the peer table is stable. */
    for (size_t t = 0; t < n_targets; t++)
        send_packet(nl, msg->type,
                    &nl->peers.slots[nl->pick_scratch[t]].addr, nl->tx,
                    n_bytes);
    return n_targets;
}

/* ------------------------------------------------------------------ */
/* Metadata.                                                            */

static void metadata_apply(peko_nodelist *nl, const uint8_t *data,
                           uint32_t n_bytes, const peko_version *version,
                           peko_msg_type via)
{
    uint8_t *copy = n_bytes ? g_memdup2(data, n_bytes) : NULL;
    g_free(nl->meta);
    nl->meta = copy;
    nl->meta_len = n_bytes;
    nl->meta_version = *version;
    OBSERVE(nl, metadata_applied, version, via, n_bytes);
}

/* True if `version` is real (counter > 0) and newer than ours. A counter
 * of 0 means "no metadata" and never wins, whatever its origin. */
static bool metadata_is_newer(const peko_nodelist *nl,
                              const peko_version *version)
{
    return version->counter > 0 &&
           peko_version_compare(version, &nl->meta_version) > 0;
}

static void fill_metadata_msg(peko_nodelist *nl, peko__msg *msg,
                              peko_msg_type type)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->sender = nl->self.addr;
    msg->version = nl->meta_version;
    msg->meta = nl->meta;
    msg->meta_len = nl->meta_len;
}

/* ------------------------------------------------------------------ */
/* Heartbeats and swaps, once per cycle.                                */

static void fill_heartbeat_msg(peko_nodelist *nl, peko__msg *msg)
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

static void heartbeat_originate(peko_nodelist *nl, int64_t now_us)
{
    nl->self.seq++;
    nl->self.last_seen_us = now_us;
    peko__msg msg;
    fill_heartbeat_msg(nl, &msg);
    peko__seen_insert(&nl->seen, heartbeat_key(&msg.origin, msg.incarnation,
                                               msg.seq));
    peko_rumor rumor = {
        .kind = PEKO_MSG_HEARTBEAT,
        .origin = nl->self.addr,
        .id = ((uint64_t)nl->incarnation << 32) | nl->self.seq,
    };
    OBSERVE(nl, rumor_created, &rumor);
    spread(nl, &msg, NULL, 0);
}

static void swap_request(peko_nodelist *nl)
{
    if (nl->peers.n == 0)
        return;
    const peko__peer *peer = &nl->peers.slots[draw_peer_slot(nl)];
    peko__msg msg;
    fill_metadata_msg(nl, &msg, PEKO_MSG_SWAP_REQUEST);
    size_t n_bytes = peko__wire_encode(&msg, nl->wire_keys, nl->tx,
                                       (size_t)nl->config.size);
    if (n_bytes == 0) {
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", &peer->addr);
        return;
    }
    peko__print_swap(nl, true, &nl->self.addr, &peer->addr);
    send_packet(nl, PEKO_MSG_SWAP_REQUEST, &peer->addr, nl->tx, n_bytes);
}

static int arm_cycle(peko_nodelist *nl)
{
    return nl->env->timer_arm(nl->env, PEKO_TIMER_CYCLE, nl->next_cycle_us);
}

static void cycle(peko_nodelist *nl)
{
    int64_t now = nl_now_us(nl);
    expire_peers(nl, now);
    if (nl->running)
        heartbeat_originate(nl, now);
    swap_request(nl);
    peko__print_listen(nl);

    /* Keep a steady period: the next deadline follows the previous one,
     * unless the node fell more than a cycle behind (a paused process). */
    nl->next_cycle_us += nl->config.cycle_us;
    if (nl->next_cycle_us <= now)
        nl->next_cycle_us = now + nl->config.cycle_us;
    if (arm_cycle(nl) < 0)
        peko__print_error(nl, "timer failed", NULL);
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                           */

static void forward(peko_nodelist *nl, const peko__msg *in)
{
    peko__msg out = *in;
    out.sender = nl->self.addr;
    out.hops = in->hops < PEKO_HOPS_MAX ? (uint8_t)(in->hops + 1)
                                        : PEKO_HOPS_MAX;
    nl->traffic.forwarded += spread(nl, &out, in->infected, in->n_infected);
}

/* origin_fp is peko_addr_fingerprint(&m->origin). */
static void on_heartbeat(peko_nodelist *nl, const peko__msg *m,
                         uint32_t origin_fp)
{
    peko_rumor rumor = {
        .kind = PEKO_MSG_HEARTBEAT,
        .origin = m->origin,
        .id = ((uint64_t)m->incarnation << 32) | m->seq,
    };
    bool classic = nl->classic;

    /* Our own heartbeat coming back (or an older incarnation of us):
     * never list ourselves as a peer. */
    if (peko_addr_equal(&m->origin, &nl->self.addr)) {
        nl->traffic.duplicates++;
        OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
        if (classic)
            forward(nl, m);
        return;
    }

    int64_t now = nl_now_us(nl);
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
    if (peer == NULL && (first || classic)) {
        peer = peer_add(nl, &m->origin, now);
        peer->has_heartbeat = true;
        peer->incarnation = m->incarnation;
        peer->seq = m->seq;
        peko__peer_set_text(peer, m->name, m->name_len, m->data,
                            m->data_len);
    } else if (peer != NULL) {
        /* Only a newer heartbeat refreshes: a late copy says nothing about
         * whether the origin is alive now. A new incarnation is a
         * restarted node, newer whatever its sequence. */
        bool newer = !peer->has_heartbeat ||
                     peer->incarnation != m->incarnation ||
                     m->seq > peer->seq;
        if (newer) {
            peer->has_heartbeat = true;
            peer->incarnation = m->incarnation;
            peer->seq = m->seq;
            peer->last_seen_us = now;
            peko__peer_set_text(peer, m->name, m->name_len, m->data,
                                m->data_len);
            OBSERVE(nl, node_refreshed, &m->origin);
        }
    }

    if (first) {
        OBSERVE(nl, rumor_first_seen, &rumor, m->hops, &m->sender);
    } else {
        nl->traffic.duplicates++;
        OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
    }
    if (first || classic)
        forward(nl, m);
}

static void on_metadata(peko_nodelist *nl, const peko__msg *m)
{
    peko_rumor rumor = {
        .kind = PEKO_MSG_METADATA,
        .origin = m->version.origin,
        .id = m->version.counter,
    };
    bool newer = metadata_is_newer(nl, &m->version);
    if (newer) {
        metadata_apply(nl, m->meta, m->meta_len, &m->version,
                       PEKO_MSG_METADATA);
        OBSERVE(nl, rumor_first_seen, &rumor, m->hops, &m->sender);
    } else {
        nl->traffic.duplicates++;
        OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
    }
    if (newer || nl->classic)
        forward(nl, m);
}

static void on_swap_request(peko_nodelist *nl, const peko__msg *m)
{
    if (peko_addr_equal(&m->sender, &nl->self.addr))
        return; /* never answer ourselves */
    /* pekonode: the responder adopts a newer version from the request,
     * then answers with what it holds. */
    if (metadata_is_newer(nl, &m->version))
        metadata_apply(nl, m->meta, m->meta_len, &m->version,
                       PEKO_MSG_SWAP_REQUEST);
    peko__msg reply;
    fill_metadata_msg(nl, &reply, PEKO_MSG_SWAP_RESPONSE);
    size_t n_bytes = peko__wire_encode(&reply, nl->wire_keys, nl->tx,
                                       (size_t)nl->config.size);
    if (n_bytes == 0) {
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", &m->sender);
        return;
    }
    peko__print_swap(nl, false, &m->sender, &nl->self.addr);
    send_packet(nl, PEKO_MSG_SWAP_RESPONSE, &m->sender, nl->tx, n_bytes);
}

static void on_swap_response(peko_nodelist *nl, const peko__msg *m)
{
    if (metadata_is_newer(nl, &m->version))
        metadata_apply(nl, m->meta, m->meta_len, &m->version,
                       PEKO_MSG_SWAP_RESPONSE);
}

void peko_nodelist_on_packet(peko_nodelist *nl, const peko_addr *from,
                             const uint8_t *bytes, size_t n_bytes)
{
    /* A heartbeat's origin is looked up once the packet is decoded, and
     * in a large list its record is rarely in cache: start fetching it
     * now, so the fetch overlaps the decoding. The bytes are not checked
     * yet: a bad packet costs one useless fetch, and the fingerprint is
     * used only if the packet decodes as a heartbeat, whose origin this
     * then is (wire.h). */
    peko_addr origin;
    uint32_t origin_fp = 0;
    if (peko__wire_peek_origin(bytes, n_bytes, &origin)) {
        origin_fp = peko_addr_fingerprint(&origin);
        peko__peers_prefetch(&nl->peers, origin_fp);
    }

    peko__msg m;
    peko_reject reason = peko__wire_decode(bytes, n_bytes, nl->size,
                                           nl->wire_keys, &m);
    if (reason != PEKO_REJECT_NONE) {
        nl->stats.rejected[reason]++;
        nl->stats.rejected_bytes += n_bytes;
        OBSERVE(nl, packet_rejected, reason, from, n_bytes);
        peko__print_error(nl, peko_reject_name(reason), from);
        return;
    }
    nl->traffic.by_type[m.type - 1].received++;
    nl->traffic.by_type[m.type - 1].received_bytes += n_bytes;
    OBSERVE(nl, packet_received, m.type, from, n_bytes);

    switch (m.type) {
    case PEKO_MSG_HEARTBEAT:
        g_assert(origin_fp != 0);
        on_heartbeat(nl, &m, origin_fp);
        break;
    case PEKO_MSG_METADATA:
        on_metadata(nl, &m);
        break;
    case PEKO_MSG_SWAP_REQUEST:
        on_swap_request(nl, &m);
        break;
    case PEKO_MSG_SWAP_RESPONSE:
        on_swap_response(nl, &m);
        break;
    }
}

void peko_nodelist_on_timer(peko_nodelist *nl, peko_timer timer)
{
    if (timer == PEKO_TIMER_CYCLE && nl->joined)
        cycle(nl);
}

/* ------------------------------------------------------------------ */
/* Life cycle and the public API.                                        */

static bool env_is_usable(const peko_env *env)
{
    return env && env->version >= 1 && env->now_us && env->timer_arm &&
           env->timer_cancel && env->send && env->random_u64;
}

static size_t str_len_or_zero(const char *s)
{
    return s ? strlen(s) : 0;
}

int peko_nodelist_new(const peko_config *config, const peko_node *local,
                      peko_env *env, peko_nodelist **out)
{
    *out = NULL;
    peko_config resolved;
    peko_config defaults = {0};
    if (!env_is_usable(env) || local == NULL)
        return -EINVAL;
    if (peko_config_resolve(config ? config : &defaults, &resolved) < 0)
        return -EINVAL;
    peko_addr addr;
    if (peko_addr_parse(local->addr, local->port, &addr) < 0)
        return -EINVAL;
    size_t name_len = str_len_or_zero(local->name);
    size_t data_len = str_len_or_zero(local->private_data);
    if (name_len > UINT16_MAX || data_len > UINT16_MAX)
        return -EINVAL;

    /* On a line boundary, for the layout of the receive path; a whole
     * number of lines, as aligned_alloc wants. Failure aborts, as in
     * g_malloc. */
    size_t n_alloc = (sizeof(peko_nodelist) + LINE - 1) / LINE * LINE;
    peko_nodelist *nl = aligned_alloc(LINE, n_alloc);
    if (nl == NULL)
        g_error("peko: out of memory for a node list");
    memset(nl, 0, n_alloc);
    nl->keys = peko__keyring_new();
    if (peko__keyring_set(nl->keys, resolved.secret_key,
                          resolved.accepted_keys,
                          resolved.accepted_key_count) < 0) {
        peko__keyring_free(nl->keys);
        free(nl);
        return -EINVAL;
    }
    nl->env = env;
    nl->config = resolved;
    nl->size = (uint32_t)resolved.size;
    nl->amount = (uint16_t)resolved.amount;
    nl->classic = resolved.dissemination == PEKO_DISSEMINATION_CLASSIC;
    /* Keys live in the keyring only; the listen address is copied. */
    nl->config.secret_key = NULL;
    nl->config.accepted_keys = NULL;
    nl->config.accepted_key_count = 0;
    g_strlcpy(nl->listen, resolved.listen_addr, sizeof nl->listen);
    nl->config.listen_addr = nl->listen;

    nl->self.addr = addr;
    nl->self.fingerprint = peko_addr_fingerprint(&addr);
    peko__peer_set_text(&nl->self, (const uint8_t *)local->name,
                        (uint16_t)name_len,
                        (const uint8_t *)local->private_data,
                        (uint16_t)data_len);
    nl->incarnation = (uint32_t)env->random_u64(env);
    nl->self.incarnation = nl->incarnation;
    nl->self.has_heartbeat = true;

    nl->wire_keys = peko__keyring_has_keys(nl->keys) ? nl->keys : NULL;
    peko__peers_init(&nl->peers);
    ensure_pick_scratch(nl, (size_t)resolved.amount);
    peko__seen_init(&nl->seen, (size_t)resolved.seen_cache);
    nl->tx = g_malloc((size_t)resolved.size);
    nl->set_scratch_cap = (size_t)resolved.size / 4 + 1026;
    nl->set_scratch = g_malloc(nl->set_scratch_cap * 4);

    /* Our own heartbeat must fit with a full fan-out in its set. */
    peko__msg hb;
    fill_heartbeat_msg(nl, &hb);
    size_t need = peko__wire_size_without_set(&hb, nl->wire_keys) +
                  4 * ((size_t)resolved.amount + 1);
    if (need > (size_t)resolved.size) {
        peko_nodelist_free(nl);
        return -EINVAL;
    }
    *out = nl;
    return 0;
}

void peko_nodelist_free(peko_nodelist *nl)
{
    if (nl == NULL)
        return;
    if (nl->joined)
        nl->env->timer_cancel(nl->env, PEKO_TIMER_CYCLE);
    peko__peers_clear(&nl->peers);
    peko__seen_clear(&nl->seen);
    peko__keyring_free(nl->keys);
    peko__peer_clear_text(&nl->self);
    g_free(nl->meta);
    g_free(nl->tx);
    g_free(nl->set_scratch);
    g_free(nl->pick_scratch);
    free(nl);
}

void peko_nodelist_set_observer(peko_nodelist *nl,
                                const peko_observer *observer, void *user)
{
    memset(&nl->observer, 0, sizeof nl->observer);
    nl->observer_user = NULL;
    if (observer) {
        nl->observer = *observer;
        nl->observer_user = user;
    }
}

int peko_nodelist_set(peko_nodelist *nl, const peko_node *node)
{
    peko_addr addr;
    if (node == NULL || peko_addr_parse(node->addr, node->port, &addr) < 0)
        return -EINVAL;
    size_t name_len = str_len_or_zero(node->name);
    size_t data_len = str_len_or_zero(node->private_data);
    if (name_len > UINT16_MAX || data_len > UINT16_MAX)
        return -EINVAL;
    peko__peer *peer;
    if (peko_addr_equal(&addr, &nl->self.addr))
        peer = &nl->self;
    else if ((peer = peer_find(nl, &addr)) == NULL)
        peer = peer_add(nl, &addr, nl_now_us(nl));
    peko__peer_set_text(peer, (const uint8_t *)node->name,
                        (uint16_t)name_len,
                        (const uint8_t *)node->private_data,
                        (uint16_t)data_len);
    return 0;
}

int peko_nodelist_join(peko_nodelist *nl)
{
    if (nl->joined)
        return -EALREADY;
    nl->next_cycle_us = nl_now_us(nl);
    int rc = arm_cycle(nl);
    if (rc < 0)
        return rc;
    nl->joined = true;
    nl->running = true;
    peko__print_join(nl);
    return 0;
}

static int compare_peer_ptr(const void *a, const void *b)
{
    const peko__peer *pa = *(const peko__peer *const *)a;
    const peko__peer *pb = *(const peko__peer *const *)b;
    return peko_addr_compare(&pa->addr, &pb->addr);
}

const peko__peer **peko__nodelist_sorted(const peko_nodelist *nl,
                                         size_t *n_out)
{
    size_t n = (size_t)nl->peers.n + 1;
    const peko__peer **sorted = g_new(const peko__peer *, n);
    sorted[0] = &nl->self;
    size_t k = 1;
    for (uint32_t i = 0; i < nl->peers.cap; i++)
        if (peko__peers_used(&nl->peers, i))
            sorted[k++] = &nl->peers.slots[i];
    qsort(sorted, n, sizeof *sorted, compare_peer_ptr);
    *n_out = n;
    return sorted;
}

static void node_from_peer(peko_node *node, const peko__peer *peer)
{
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(&peer->addr, host);
    node->addr = g_strdup(host);
    node->port = peer->addr.port;
    node->name =
        g_strndup((const char *)peko__peer_name(peer), peer->name_len);
    node->private_data =
        g_strndup((const char *)peko__peer_data(peer), peer->data_len);
}

void peko_nodelist_get(const peko_nodelist *nl, peko_node_array *out)
{
    size_t n;
    const peko__peer **sorted = peko__nodelist_sorted(nl, &n);
    out->nodes = g_new0(peko_node, n);
    out->count = n;
    for (size_t i = 0; i < n; i++)
        node_from_peer(&out->nodes[i], sorted[i]);
    g_free(sorted);
}

void peko_node_array_clear(peko_node_array *array)
{
    if (array == NULL || array->nodes == NULL)
        return;
    for (size_t i = 0; i < array->count; i++) {
        g_free((char *)array->nodes[i].addr);
        g_free((char *)array->nodes[i].name);
        g_free((char *)array->nodes[i].private_data);
    }
    g_free(array->nodes);
    array->nodes = NULL;
    array->count = 0;
}

size_t peko_nodelist_count(const peko_nodelist *nl)
{
    return (size_t)nl->peers.n + 1;
}

bool peko_nodelist_contains(const peko_nodelist *nl, const peko_addr *addr)
{
    return peko_addr_equal(addr, &nl->self.addr) ||
           peer_find(nl, addr) != NULL;
}

void peko_nodelist_stop(peko_nodelist *nl)
{
    nl->running = false;
    peko__print_stop_start(nl, true);
}

void peko_nodelist_start(peko_nodelist *nl)
{
    nl->running = true;
    peko__print_stop_start(nl, false);
}

bool peko_nodelist_is_running(const peko_nodelist *nl)
{
    return nl->joined && nl->running;
}

int peko_nodelist_publish(peko_nodelist *nl, const uint8_t *data,
                          size_t n_bytes)
{
    if (data == NULL && n_bytes > 0)
        return -EINVAL;
    if (n_bytes > UINT32_MAX)
        return -EMSGSIZE;
    peko__msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = PEKO_MSG_METADATA;
    msg.sender = nl->self.addr;
    msg.version.counter = nl->meta_version.counter + 1;
    msg.version.origin = nl->self.addr;
    msg.meta = data;
    msg.meta_len = (uint32_t)n_bytes;
    /* The rumor must fit with a full fan-out, and the swap that carries
     * it to late joiners must fit too (it is smaller: no set). */
    size_t need = peko__wire_size_without_set(&msg, nl->wire_keys) +
                  4 * ((size_t)nl->config.amount + 1);
    if (need > (size_t)nl->config.size)
        return -EMSGSIZE;

    peko_version version = msg.version;
    metadata_apply(nl, data, (uint32_t)n_bytes, &version, 0);
    peko_rumor rumor = {
        .kind = PEKO_MSG_METADATA,
        .origin = version.origin,
        .id = version.counter,
    };
    OBSERVE(nl, rumor_created, &rumor);
    peko__print_publish(nl);
    msg.meta = nl->meta;
    spread(nl, &msg, NULL, 0);
    return 0;
}

const uint8_t *peko_nodelist_read(const peko_nodelist *nl,
                                  size_t *n_bytes_out)
{
    if (n_bytes_out)
        *n_bytes_out = nl->meta_len;
    return nl->meta;
}

void peko_nodelist_metadata_version(const peko_nodelist *nl,
                                    peko_version *out)
{
    *out = nl->meta_version;
}

int peko_nodelist_set_keys(peko_nodelist *nl, const char *send_key,
                           const char *const *accepted, size_t accepted_count)
{
    if (accepted_count > 0 && (accepted == NULL || !send_key || !*send_key))
        return -EINVAL;
    int rc = peko__keyring_set(nl->keys, send_key, accepted, accepted_count);
    nl->wire_keys = peko__keyring_has_keys(nl->keys) ? nl->keys : NULL;
    return rc;
}

void peko_nodelist_stats(const peko_nodelist *nl, peko_stats *out)
{
    *out = nl->stats;
    out->duplicates = nl->traffic.duplicates;
    out->forwarded = nl->traffic.forwarded;
    for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++) {
        out->received[t] = nl->traffic.by_type[t - 1].received;
        out->received_bytes[t] = nl->traffic.by_type[t - 1].received_bytes;
        out->sent[t] = nl->traffic.by_type[t - 1].sent;
        out->sent_bytes[t] = nl->traffic.by_type[t - 1].sent_bytes;
    }
}

const peko_addr *peko_nodelist_local_addr(const peko_nodelist *nl)
{
    return &nl->self.addr;
}

void peko_nodelist_config(const peko_nodelist *nl, peko_config *out)
{
    *out = nl->config;
}
