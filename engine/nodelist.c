/* nodelist.c: the gossip state machine behind peko.h.
 *
 * Everything here is driven by two inputs, on_packet and on_timer, and
 * reaches the world only through nl->env. See DESIGN.md section 3 for the
 * protocol and docs/wire.md for the bytes.
 */
#include <errno.h>
#include <string.h>

#include "nodelist-private.h"

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

static guint addr_hash(gconstpointer p)
{
    return peko_addr_fingerprint(p);
}

static gboolean addr_equal(gconstpointer a, gconstpointer b)
{
    return peko_addr_equal(a, b);
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
    nl->stats.sent[type]++;
    nl->stats.sent_bytes[type] += n_bytes;
    OBSERVE(nl, packet_sent, type, to, n_bytes);
}

/* ------------------------------------------------------------------ */
/* Peers.                                                               */

static void peer_set_record(peko__peer *peer, const uint8_t *name,
                            uint16_t name_len, const uint8_t *data,
                            uint16_t data_len)
{
    if (peer->name_len != name_len ||
        (name_len && memcmp(peer->name, name, name_len) != 0)) {
        g_free(peer->name);
        peer->name = name_len ? g_memdup2(name, name_len) : NULL;
        peer->name_len = name_len;
    }
    if (peer->data_len != data_len ||
        (data_len && memcmp(peer->data, data, data_len) != 0)) {
        g_free(peer->data);
        peer->data = data_len ? g_memdup2(data, data_len) : NULL;
        peer->data_len = data_len;
    }
}

static void peer_free(peko__peer *peer)
{
    g_free(peer->name);
    g_free(peer->data);
    g_free(peer);
}

static peko__peer *peer_find(const peko_nodelist *nl, const peko_addr *addr)
{
    return g_hash_table_lookup(nl->by_addr, addr);
}

/* The pick scratch holds the picks plus every candidate, so it grows with
 * the list; done here, outside the receive path's hot loop. */
static void ensure_pick_scratch(peko_nodelist *nl)
{
    size_t need = nl->n_peers + (size_t)nl->config.amount + 1;
    if (nl->pick_scratch_cap < need) {
        size_t cap = nl->pick_scratch_cap ? nl->pick_scratch_cap : 32;
        while (cap < need)
            cap *= 2;
        nl->pick_scratch = g_renew(size_t, nl->pick_scratch, cap);
        nl->pick_scratch_cap = cap;
    }
}

static peko__peer *peer_add(peko_nodelist *nl, const peko_addr *addr,
                            int64_t now_us)
{
    peko__peer *peer = g_new0(peko__peer, 1);
    peer->addr = *addr;
    peer->fingerprint = peko_addr_fingerprint(addr);
    peer->last_seen_us = now_us;
    if (nl->n_peers == nl->peers_cap) {
        nl->peers_cap = nl->peers_cap ? nl->peers_cap * 2 : 16;
        nl->peers = g_renew(peko__peer *, nl->peers, nl->peers_cap);
    }
    peer->index = nl->n_peers;
    nl->peers[nl->n_peers++] = peer;
    g_hash_table_insert(nl->by_addr, &peer->addr, peer);
    ensure_pick_scratch(nl);
    nl->stats.nodes_added++;
    OBSERVE(nl, node_added, addr);
    return peer;
}

/* Swap-remove: the last peer takes the hole. The order of peers depends
 * only on the sequence of adds and removes, so it stays deterministic. */
static void peer_remove(peko_nodelist *nl, peko__peer *peer)
{
    g_hash_table_remove(nl->by_addr, &peer->addr);
    size_t last = nl->n_peers - 1;
    if (peer->index != last) {
        nl->peers[peer->index] = nl->peers[last];
        nl->peers[peer->index]->index = peer->index;
    }
    nl->n_peers--;
    peer_free(peer);
}

static void expire_peers(peko_nodelist *nl, int64_t now_us)
{
    /* Backwards, so a swap-remove only moves an already visited peer. */
    for (size_t i = nl->n_peers; i-- > 0;) {
        peko__peer *peer = nl->peers[i];
        if (now_us - peer->last_seen_us <= nl->config.timeout_us)
            continue;
        peko_addr addr = peer->addr;
        peer_remove(nl, peer);
        nl->stats.nodes_expired++;
        OBSERVE(nl, node_expired, &addr);
    }
}

/* ------------------------------------------------------------------ */
/* Rumor spreading: fan-out to uninfected peers.                        */

static bool is_picked(const size_t *picked, size_t n, size_t index)
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

/* Picks up to `amount` peers, uniformly at random without replacement,
 * among those whose fingerprint is not in the carried infected set. Writes
 * their indices to nl->pick_scratch and returns how many.
 *
 * The carried set holds the path the rumor took (a few entries per hop),
 * so most peers are eligible and rejection sampling finds targets in a
 * few draws. When it does not, the eligible peers are listed and sampled
 * exactly; both phases draw uniformly among the eligible peers not yet
 * picked, so together they are uniform sampling without replacement. */
static size_t pick_targets(peko_nodelist *nl, const uint8_t *set,
                           uint32_t n_set)
{
    size_t want = (size_t)nl->config.amount;
    size_t *picked = nl->pick_scratch;
    size_t n_picked = 0;
    size_t n = nl->n_peers;
    if (n == 0)
        return 0;

    size_t tries = 4 * want + 8;
    while (n_picked < want && tries-- > 0) {
        size_t i = (size_t)nl_random_below(nl, n);
        if (is_picked(picked, n_picked, i) ||
            is_infected(nl->peers[i], set, n_set))
            continue;
        picked[n_picked++] = i;
    }
    if (n_picked == want)
        return n_picked;

    /* Exact phase: candidates go after the picks in the same scratch. */
    size_t *cand = picked + n_picked;
    size_t n_cand = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_picked(picked, n_picked, i) &&
            !is_infected(nl->peers[i], set, n_set))
            cand[n_cand++] = i;
    }
    while (n_picked < want && n_cand > 0) {
        /* Partial Fisher-Yates: swap the draw to the front of the
         * candidates, where it becomes the next pick (the candidates start
         * right after the picks, so the two stay contiguous). */
        size_t j = (size_t)nl_random_below(nl, n_cand);
        size_t chosen = cand[j];
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

/* Writes into nl->set_scratch the union of the carried set (its first
 * n_keep entries) and the new fingerprints, ascending and big-endian.
 * Returns the number of entries. */
static uint32_t merge_set(peko_nodelist *nl, const uint8_t *carried,
                          uint32_t n_keep, uint32_t *fresh, size_t n_fresh)
{
    sort_u32(fresh, n_fresh);
    uint8_t *out = nl->set_scratch;
    uint32_t n_out = 0;
    uint32_t last = 0; /* fingerprints are never 0 */
    size_t i = 0, j = 0;
    while (i < n_keep || j < n_fresh) {
        uint32_t v;
        if (j == n_fresh ||
            (i < n_keep && peko__get_u32(carried + 4 * i) <= fresh[j]))
            v = peko__get_u32(carried + 4 * i++);
        else
            v = fresh[j++];
        if (v == last)
            continue;
        peko__put_u32(out + 4 * n_out++, v);
        last = v;
    }
    return n_out;
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
        fresh[n_fresh++] = nl->peers[nl->pick_scratch[t]]->fingerprint;

    size_t fixed = peko__wire_size_without_set(msg, nl->keys);
    size_t room = fixed < (size_t)nl->config.size
                      ? ((size_t)nl->config.size - fixed) / 4
                      : 0;
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

    size_t n_bytes = peko__wire_encode(msg, nl->keys, nl->tx,
                                       (size_t)nl->config.size);
    if (n_bytes == 0) {
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", NULL);
        return 0;
    }
    /* One encoding, the same bytes to every target. env->send() must not
     * re-enter this node list (peko.h), so the peers array is stable. */
    for (size_t t = 0; t < n_targets; t++)
        send_packet(nl, msg->type, &nl->peers[nl->pick_scratch[t]]->addr,
                    nl->tx, n_bytes);
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
    msg->name = nl->self.name;
    msg->name_len = nl->self.name_len;
    msg->data = nl->self.data;
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
    if (nl->n_peers == 0)
        return;
    peko__peer *peer = nl->peers[nl_random_below(nl, nl->n_peers)];
    peko__msg msg;
    fill_metadata_msg(nl, &msg, PEKO_MSG_SWAP_REQUEST);
    size_t n_bytes = peko__wire_encode(&msg, nl->keys, nl->tx,
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
    nl->stats.forwarded += spread(nl, &out, in->infected, in->n_infected);
}

static void on_heartbeat(peko_nodelist *nl, const peko__msg *m)
{
    peko_rumor rumor = {
        .kind = PEKO_MSG_HEARTBEAT,
        .origin = m->origin,
        .id = ((uint64_t)m->incarnation << 32) | m->seq,
    };
    bool classic = nl->config.dissemination == PEKO_DISSEMINATION_CLASSIC;

    /* Our own heartbeat coming back (or an older incarnation of us):
     * never list ourselves as a peer. */
    if (peko_addr_equal(&m->origin, &nl->self.addr)) {
        nl->stats.duplicates++;
        OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
        if (classic)
            forward(nl, m);
        return;
    }

    int64_t now = nl_now_us(nl);
    peko__peer *peer = peer_find(nl, &m->origin);
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
        peer_set_record(peer, m->name, m->name_len, m->data, m->data_len);
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
            peer_set_record(peer, m->name, m->name_len, m->data, m->data_len);
            OBSERVE(nl, node_refreshed, &m->origin);
        }
    }

    if (first) {
        OBSERVE(nl, rumor_first_seen, &rumor, m->hops, &m->sender);
    } else {
        nl->stats.duplicates++;
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
        nl->stats.duplicates++;
        OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
    }
    if (newer || nl->config.dissemination == PEKO_DISSEMINATION_CLASSIC)
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
    size_t n_bytes = peko__wire_encode(&reply, nl->keys, nl->tx,
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
    peko__msg m;
    peko_reject reason = peko__wire_decode(bytes, n_bytes,
                                           (size_t)nl->config.size, nl->keys,
                                           &m);
    if (reason != PEKO_REJECT_NONE) {
        nl->stats.rejected[reason]++;
        nl->stats.rejected_bytes += n_bytes;
        OBSERVE(nl, packet_rejected, reason, from, n_bytes);
        peko__print_error(nl, peko_reject_name(reason), from);
        return;
    }
    nl->stats.received[m.type]++;
    nl->stats.received_bytes[m.type] += n_bytes;
    OBSERVE(nl, packet_received, m.type, from, n_bytes);

    switch (m.type) {
    case PEKO_MSG_HEARTBEAT:
        on_heartbeat(nl, &m);
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

    peko_nodelist *nl = g_new0(peko_nodelist, 1);
    nl->keys = peko__keyring_new();
    if (peko__keyring_set(nl->keys, resolved.secret_key,
                          resolved.accepted_keys,
                          resolved.accepted_key_count) < 0) {
        peko__keyring_free(nl->keys);
        g_free(nl);
        return -EINVAL;
    }
    nl->env = env;
    nl->config = resolved;
    /* Keys live in the keyring only; the listen address is copied. */
    nl->config.secret_key = NULL;
    nl->config.accepted_keys = NULL;
    nl->config.accepted_key_count = 0;
    g_strlcpy(nl->listen, resolved.listen_addr, sizeof nl->listen);
    nl->config.listen_addr = nl->listen;

    nl->self.addr = addr;
    nl->self.fingerprint = peko_addr_fingerprint(&addr);
    peer_set_record(&nl->self, (const uint8_t *)local->name,
                    (uint16_t)name_len, (const uint8_t *)local->private_data,
                    (uint16_t)data_len);
    nl->incarnation = (uint32_t)env->random_u64(env);
    nl->self.incarnation = nl->incarnation;
    nl->self.has_heartbeat = true;

    nl->by_addr = g_hash_table_new(addr_hash, addr_equal);
    peko__seen_init(&nl->seen, (size_t)resolved.seen_cache);
    nl->tx = g_malloc((size_t)resolved.size);
    nl->set_scratch_cap = (size_t)resolved.size / 4 + 1026;
    nl->set_scratch = g_malloc(nl->set_scratch_cap * 4);

    /* Our own heartbeat must fit with a full fan-out in its set. */
    peko__msg hb;
    fill_heartbeat_msg(nl, &hb);
    size_t need = peko__wire_size_without_set(&hb, nl->keys) +
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
    for (size_t i = 0; i < nl->n_peers; i++)
        peer_free(nl->peers[i]);
    g_free(nl->peers);
    if (nl->by_addr)
        g_hash_table_destroy(nl->by_addr);
    peko__seen_clear(&nl->seen);
    peko__keyring_free(nl->keys);
    g_free(nl->self.name);
    g_free(nl->self.data);
    g_free(nl->meta);
    g_free(nl->tx);
    g_free(nl->set_scratch);
    g_free(nl->pick_scratch);
    g_free(nl);
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
    peer_set_record(peer, (const uint8_t *)node->name, (uint16_t)name_len,
                    (const uint8_t *)node->private_data, (uint16_t)data_len);
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
    size_t n = nl->n_peers + 1;
    const peko__peer **sorted = g_new(const peko__peer *, n);
    sorted[0] = &nl->self;
    for (size_t i = 0; i < nl->n_peers; i++)
        sorted[i + 1] = nl->peers[i];
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
    node->name = g_strndup((const char *)peer->name, peer->name_len);
    node->private_data = g_strndup((const char *)peer->data, peer->data_len);
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
    return nl->n_peers + 1;
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
    size_t need = peko__wire_size_without_set(&msg, nl->keys) +
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
    return peko__keyring_set(nl->keys, send_key, accepted, accepted_count);
}

void peko_nodelist_stats(const peko_nodelist *nl, peko_stats *out)
{
    *out = nl->stats;
}

const peko_addr *peko_nodelist_local_addr(const peko_nodelist *nl)
{
    return &nl->self.addr;
}

void peko_nodelist_config(const peko_nodelist *nl, peko_config *out)
{
    *out = nl->config;
}
