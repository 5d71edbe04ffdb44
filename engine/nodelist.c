/* nodelist.c: the node list behind peko.h: its public API, its life
 * cycle, and the dispatch of its two inputs, on_packet and on_timer.
 *
 * Everything reaches the world only through nl->env. What a packet or a
 * cycle does is shared code (membership.c, metadata.c, spread.c) composed
 * by the configured dissemination strategy (strategy.h). See DESIGN.md
 * section 3 for the protocol and docs/wire.md for the bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

/* The receive path's layout (nodelist-private.h), in cache lines. */
#define LINE 64
G_STATIC_ASSERT(offsetof(peko_nodelist, peers) + sizeof(peko__peers) <= LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, observer_user) < 3 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, observer.node_refreshed) == LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, observer.packet_received) <
                2 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, strategy) < 3 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, wire_keys) + 8 <= 3 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, self) + sizeof(peko__peer) <=
                4 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, traffic.duplicates) >= 3 * LINE);
G_STATIC_ASSERT(offsetof(peko_nodelist, traffic.by_type[0]) + 32 <=
                4 * LINE);

/* ------------------------------------------------------------------ */
/* Sending.                                                             */

void peko__send_raw(peko_nodelist *nl, peko_msg_type type,
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
    PEKO__OBSERVE(nl, packet_sent, type, to, n_bytes);
}

void peko__send_packet(peko_nodelist *nl, peko_msg_type type,
                       const peko_addr *to, uint8_t *bytes, size_t n_bytes,
                       const peko__msg *request)
{
    if (peko__wire_is_signed(bytes) &&
        !peko__fresh_seal(nl, type, to, bytes, n_bytes, request))
        return; /* parked */
    peko__send_raw(nl, type, to, bytes, n_bytes);
}

uint8_t *peko__encode(peko_nodelist *nl, const peko__msg *msg,
                      const peko_addr *to, size_t *n_bytes)
{
    uint8_t *tx = peko__work_borrow(nl, nl->size);
    *n_bytes = peko__wire_encode_unsealed(msg, nl->wire_keys, tx, nl->size);
    if (*n_bytes != 0)
        return tx;
    peko__work_return(nl, tx);
    nl->stats.send_failed++;
    peko__print_error(nl, "packet does not fit Size", to);
    return NULL;
}

void peko__send_reply(peko_nodelist *nl, const peko__msg *msg,
                      const peko_addr *to, const peko__msg *request)
{
    size_t n_bytes;
    uint8_t *tx = peko__encode(nl, msg, to, &n_bytes);
    if (tx == NULL)
        return;
    peko__send_packet(nl, msg->type, to, tx, n_bytes, request);
    peko__work_return(nl, tx);
}

void peko__send_msg(peko_nodelist *nl, const peko__msg *msg,
                    const peko_addr *to)
{
    peko__send_reply(nl, msg, to, NULL);
}

/* ------------------------------------------------------------------ */
/* The cycle.                                                           */

static int arm_cycle(peko_nodelist *nl)
{
    return nl->env->timer_arm(nl->env, PEKO_TIMER_CYCLE, nl->next_cycle_us);
}

static void cycle(peko_nodelist *nl)
{
    int64_t now = peko__now_us(nl);
    const peko__strategy *s = peko__strategy_of(nl);
    if (nl->config.timeout_us == 0 && s->scaled_timeout_us)
        nl->timeout_us = s->scaled_timeout_us(nl);
    peko__expire_peers(nl, now);
    peko__fresh_cycle(nl);
    s->cycle(nl, now);
    nl->cycles++;
    peko__print_listen(nl);

    /* Keep a steady period: the next deadline follows the previous one,
     * unless the node fell more than a cycle behind (a paused process). */
    if (nl->cycles == 1 && s->random_phase)
        nl->next_cycle_us = now + 1 +
            (int64_t)peko__random_below(nl, (uint64_t)nl->config.cycle_us);
    else
        nl->next_cycle_us += nl->config.cycle_us;
    if (nl->next_cycle_us <= now)
        nl->next_cycle_us = now + nl->config.cycle_us;
    if (arm_cycle(nl) < 0)
        peko__print_error(nl, "timer failed", NULL);
}

/* ------------------------------------------------------------------ */
/* Receiving.                                                           */

static void on_rumor(peko_nodelist *nl, const peko__msg *m, bool first)
{
    const peko__strategy *s = peko__strategy_of(nl);
    if (first)
        s->rumor_first(nl, m);
    else
        s->rumor_copy(nl, m);
}

/* The key is the heartbeat's origin fingerprint (never 0, addr.c) in its
 * low 32 bits, its sequence number in the high 32. */
uint64_t peko_prefetch_key(const uint8_t *bytes, size_t n_bytes)
{
    peko_addr origin;
    uint32_t seq;
    if (!peko__wire_peek_origin(bytes, n_bytes, &origin, &seq))
        return 0;
    return (uint64_t)seq << 32 | peko_addr_fingerprint(&origin);
}

void peko_nodelist_prefetch(const peko_nodelist *nl, const uint8_t *bytes,
                            size_t n_bytes, unsigned stage)
{
    peko_nodelist_prefetch_key(nl, peko_prefetch_key(bytes, n_bytes), stage);
}

#define PREFETCH_PROBES 2 /* index slots peko_nodelist_prefetch_key follows */

void peko_nodelist_prefetch_key(const peko_nodelist *nl, uint64_t key,
                                unsigned stage)
{
    uint32_t fp = (uint32_t)key;
    uint32_t seq = (uint32_t)(key >> 32);
    /* Only a heartbeat's origin is worth it: every delivered heartbeat
     * looks its origin up, and in a large list neither the index line, the
     * entry nor the record is in cache. The lookup chains three reads
     * (peers.h): the index slot, the 24-byte entry it names, the shared
     * record the entry names. Stage 0 fetches the index slot; stage 1
     * reads it and fetches the entries its first two slots name (the
     * second holds the one sought when a collision put it there: at half
     * full, 76 % of the entries are in their first slot and 14 % in the
     * second) and, in an ordered table, their refresh links, which a new
     * heartbeat moves; stage 2 reads those entries and fetches their
     * records' address and fingerprint. And news is forwarded: when the
     * first entry holds an older sequence (it is most likely the origin's,
     * and its incarnation is not checked: a guess), stage 2 also fetches
     * the entries the forward's draws will pick (peko__prefetch_draws). */
    const peko__peers *ps = &nl->peers;
    if (ps->cap == 0 || fp == 0)
        return;
    if (stage == 0) {
        peko__peers_prefetch(ps, fp);
        /* And the observer's context, which the reports of every packet
         * read: its first two lines (a recorder keeps its hot counters
         * there, analysis/recorder-private.h). */
        if (nl->observer_user != NULL) {
            __builtin_prefetch(nl->observer_user);
            __builtin_prefetch((const char *)nl->observer_user + 64);
        }
        return;
    }
    if (stage > 2)
        return;
    /* An empty slot holds PEKO__ENTRY_NONE: no need for the bitmap's
     * line. */
    uint32_t slot = peko__peers_home(ps, fp);
    for (int k = 0; k < PREFETCH_PROBES; k++) {
        uint32_t e = peko__peers_entry_in(ps, slot);
        if (e >= ps->n)
            return;
        const peko__peer *p = peko__peers_entry(ps, e);
        if (stage == 1) {
            /* A 24-byte entry may straddle two lines. */
            __builtin_prefetch(p);
            __builtin_prefetch((const char *)p + sizeof *p - 1);
            if (ps->lru)
                peko__peers_prefetch_links(ps, e);
        } else {
            /* A held entry's handle names a live record. Records are 48
             * bytes in pages, so the address and fingerprint (the first
             * 24) may straddle two lines. */
            const char *r = (const char *)peko__peer_record(ps, p);
            __builtin_prefetch(r);
            __builtin_prefetch(r + offsetof(peko__record, fingerprint));
            if (k == 0 && peko__peer_has_heartbeat(p) && seq > p->seq)
                peko__prefetch_draws(nl);
        }
        slot = (slot + 1) & (ps->cap - 1);
    }
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
    if (peko__wire_peek_origin(bytes, n_bytes, &origin, NULL)) {
        origin_fp = peko_addr_fingerprint(&origin);
        peko__peers_prefetch(&nl->peers, origin_fp);
    }

    peko__msg m;
    peko_reject reason = peko__wire_decode(bytes, n_bytes, nl->size,
                                           nl->wire_keys, &m);
    /* With a key, an authentic packet must also be fresh; judged only
     * now, so that nothing unauthenticated moves a window. */
    bool ask = false;
    if (reason == PEKO_REJECT_NONE && nl->wire_keys != NULL)
        reason = peko__fresh_check(nl, &m, &ask);
    if (reason != PEKO_REJECT_NONE) {
        nl->stats.rejected[reason]++;
        nl->stats.rejected_bytes += n_bytes;
        PEKO__OBSERVE(nl, packet_rejected, reason, from, n_bytes);
        peko__print_error(nl, peko_reject_name(reason), from);
        if (ask)
            peko__fresh_refused(nl, &m, from);
        return;
    }
    nl->traffic.by_type[m.type - 1].received++;
    nl->traffic.by_type[m.type - 1].received_bytes += n_bytes;
    PEKO__OBSERVE(nl, packet_received, m.type, from, n_bytes);

    switch (m.type) {
    case PEKO_MSG_HEARTBEAT: {
        g_assert(origin_fp != 0);
        peko__heartbeat_seen seen = peko__heartbeat_receive(nl, &m, origin_fp);
        on_rumor(nl, &m, seen.first);
        break;
    }
    case PEKO_MSG_METADATA:
        on_rumor(nl, &m, peko__metadata_receive(nl, &m));
        break;
    case PEKO_MSG_SWAP_REQUEST:
        if (peko_addr_equal(&m.sender, peko__self_addr(nl)))
            return; /* never answer ourselves */
        peko__strategy_of(nl)->swap_request(nl, &m, from);
        break;
    case PEKO_MSG_SWAP_RESPONSE:
        peko__strategy_of(nl)->swap_response(nl, &m, from);
        break;
    case PEKO_MSG_CHALLENGE:
        peko__on_challenge(nl, &m, from);
        break;
    case PEKO_MSG_ECHO:
        /* With a key, fresh.c has matched it with our challenge. */
        if (nl->wire_keys == NULL)
            peko__on_echo(nl, &m, from);
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
    nl->strategy = (uint8_t)resolved.dissemination;
    /* Keys live in the keyring only; the listen address is copied. */
    nl->config.secret_key = NULL;
    nl->config.accepted_keys = NULL;
    nl->config.accepted_key_count = 0;
    g_strlcpy(nl->listen, resolved.listen_addr, sizeof nl->listen);
    nl->config.listen_addr = nl->listen;

    const peko__strategy *strategy = peko__strategy_of(nl);
    peko_records *records = env->version >= 3 ? env->records : NULL;
    if (records == NULL)
        records = nl->own_records = peko_records_new();
    peko__peers_init(&nl->peers, strategy->ordered, records);
    peko__peer_init(&nl->peers, &nl->self, &addr,
                    peko_addr_fingerprint(&addr));
    peko__peer_set_text(&nl->peers, &nl->self, (const uint8_t *)local->name,
                        (uint16_t)name_len,
                        (const uint8_t *)local->private_data,
                        (uint16_t)data_len);
    /* The random draw is made whatever the incarnation's source, so every
     * later draw of the node's stream stays where it was. */
    nl->incarnation = (uint32_t)env->random_u64(env);
    if (resolved.incarnation != 0)
        nl->incarnation = resolved.incarnation;
    else if (env->version >= 2 && env->wall_us != NULL)
        nl->incarnation = (uint32_t)(env->wall_us(env) / 1000);
    if (nl->incarnation == 0)
        nl->incarnation = 1; /* 0 means "unknown" in a signed trailer */
    nl->self.incarnation = nl->incarnation;
    nl->self.flags |= PEKO__PEER_HEARTBEAT;
    nl->config.incarnation = nl->incarnation;

    nl->wire_keys = peko__keyring_has_keys(nl->keys) ? nl->keys : NULL;
    peko__fresh_init(nl);
    if (strategy->ordered)
        peko__verify_init(nl);
    nl->timeout_us = resolved.timeout_us;
    if (resolved.timeout_us == 0 && strategy->scaled_timeout_us)
        nl->timeout_us = strategy->scaled_timeout_us(nl);
    peko__ensure_pick_scratch(nl, (size_t)resolved.amount);
    peko__seen_init(&nl->seen, (size_t)resolved.seen_cache);

    /* Our own heartbeat must fit with a full fan-out in its set. */
    peko__msg hb;
    peko__heartbeat_fill(nl, &hb);
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
    peko__peer_clear(&nl->peers, &nl->self);
    peko__peers_free(&nl->peers);
    peko__seen_clear(&nl->seen);
    peko__keyring_free(nl->keys);
    peko__fresh_free(nl);
    peko_records_free(nl->own_records);
    g_free(nl->meta);
    g_free(nl->pick_scratch);
    g_free(nl->rc);
    free(nl);
}

void peko_nodelist_set_observer(peko_nodelist *nl,
                                const peko_observer *observer, void *user)
{
    memset(&nl->observer, 0, sizeof nl->observer);
    nl->observer_user = NULL;
    if (observer) {
        /* An observer of an older version is shorter: copy what it has. */
        size_t n = observer->version >= 2
                       ? sizeof *observer
                       : offsetof(peko_observer, heartbeat_learned);
        memcpy(&nl->observer, observer, n);
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
    if (peko_addr_equal(&addr, peko__self_addr(nl))) {
        /* Our own record: a change is a new record version, which a
         * digest node announces (the others' heartbeats carry it). */
        if (peko__peer_set_text(&nl->peers, &nl->self, (const uint8_t *)node->name,
                                (uint16_t)name_len,
                                (const uint8_t *)node->private_data,
                                (uint16_t)data_len)) {
            nl->self.rev++;
            nl->announce = true;
        }
        return 0;
    }
    if (peko__strategy_of(nl)->ordered)
        peko__reconnect_note(nl, &addr, true, peko__now_us(nl));
    if ((peer = peko__peer_find(nl, &addr)) == NULL) {
        peer = peko__peer_add(nl, &addr, peko__now_us(nl));
        if (peer == NULL)
            return -ENOSPC;
    } else if (peko__peer_is_dead(peer)) {
        /* Told again about a node it removed: list it again. */
        uint32_t e = peko__peers_entry_of(&nl->peers, peer);
        peko__peers_set_dead(&nl->peers, e, false);
        peer->last_seen_us = peko__now_us(nl);
        peko__peers_touch(&nl->peers, e);
        nl->stats.nodes_added++;
        PEKO__OBSERVE(nl, node_added, &addr);
    }
    peko__peer_set_text(&nl->peers, peer, (const uint8_t *)node->name,
                        (uint16_t)name_len,
                        (const uint8_t *)node->private_data,
                        (uint16_t)data_len);
    return 0;
}

int peko_nodelist_join(peko_nodelist *nl)
{
    if (nl->joined)
        return -EALREADY;
    nl->next_cycle_us = peko__now_us(nl);
    int rc = arm_cycle(nl);
    if (rc < 0)
        return rc;
    nl->joined = true;
    nl->running = true;
    nl->announce = true;
    peko__print_join(nl);
    return 0;
}

/* A peer and its address, for sorting by address. */
typedef struct addr_peer {
    peko_addr addr;
    const peko__peer *peer;
} addr_peer;

static int compare_addr_peer(const void *a, const void *b)
{
    return peko_addr_compare(&((const addr_peer *)a)->addr,
                             &((const addr_peer *)b)->addr);
}

const peko__peer **peko__nodelist_sorted(const peko_nodelist *nl,
                                         size_t *n_out)
{
    size_t n = (size_t)peko__peers_live(&nl->peers) + 1;
    addr_peer *by_addr = g_new(addr_peer, n);
    by_addr[0] = (addr_peer){*peko__self_addr(nl), &nl->self};
    size_t k = 1;
    for (uint32_t i = 0; i < nl->peers.cap; i++) {
        if (!peko__peers_used(&nl->peers, i))
            continue;
        const peko__peer *p = peko__peers_at(&nl->peers, i);
        if (!peko__peer_is_dead(p))
            by_addr[k++] = (addr_peer){*peko__peer_addr(&nl->peers, p), p};
    }
    /* Addresses are unique, so the order is total. */
    qsort(by_addr, n, sizeof *by_addr, compare_addr_peer);
    const peko__peer **sorted = g_new(const peko__peer *, n);
    for (size_t i = 0; i < n; i++)
        sorted[i] = by_addr[i].peer;
    g_free(by_addr);
    *n_out = n;
    return sorted;
}

static void node_from_peer(const peko_nodelist *nl, peko_node *node,
                           const peko__peer *peer)
{
    char host[PEKO_HOST_STRLEN];
    const peko_addr *addr = peko__peer_addr(&nl->peers, peer);
    peko_addr_host(addr, host);
    node->addr = g_strdup(host);
    node->port = addr->port;
    node->name = g_strndup((const char *)peko__peer_name(&nl->peers, peer),
                           peko__peer_name_len(&nl->peers, peer));
    node->private_data =
        g_strndup((const char *)peko__peer_data(&nl->peers, peer),
                  peko__peer_data_len(&nl->peers, peer));
}

void peko_nodelist_get(const peko_nodelist *nl, peko_node_array *out)
{
    size_t n;
    const peko__peer **sorted = peko__nodelist_sorted(nl, &n);
    out->nodes = g_new0(peko_node, n);
    out->count = n;
    for (size_t i = 0; i < n; i++)
        node_from_peer(nl, &out->nodes[i], sorted[i]);
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
    return (size_t)peko__peers_live(&nl->peers) + 1;
}

bool peko_nodelist_contains(const peko_nodelist *nl, const peko_addr *addr)
{
    if (peko_addr_equal(addr, peko__self_addr(nl)))
        return true;
    const peko__peer *peer = peko__peer_find(nl, addr);
    return peer != NULL && !peko__peer_is_dead(peer);
}

void peko_nodelist_stop(peko_nodelist *nl)
{
    nl->running = false;
    peko__print_stop_start(nl, true);
}

void peko_nodelist_start(peko_nodelist *nl)
{
    if (!nl->running)
        nl->announce = true;
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
    msg.sender = (*peko__self_addr(nl));
    msg.version.counter = nl->meta_version.counter + 1;
    msg.version.origin = (*peko__self_addr(nl));
    msg.meta = data;
    msg.meta_len = (uint32_t)n_bytes;
    /* The rumor must fit with a full fan-out, and the swap that carries
     * it to late joiners must fit too (it is smaller: no set). */
    size_t need = peko__wire_size_without_set(&msg, nl->wire_keys) +
                  4 * ((size_t)nl->config.amount + 1);
    if (need > (size_t)nl->config.size)
        return -EMSGSIZE;

    peko_version version = msg.version;
    peko__metadata_apply(nl, data, (uint32_t)n_bytes, &version, 0);
    peko_rumor rumor = {
        .kind = PEKO_MSG_METADATA,
        .origin = version.origin,
        .id = version.counter,
    };
    PEKO__OBSERVE(nl, rumor_created, &rumor);
    peko__print_publish(nl);
    msg.meta = nl->meta;
    peko__spread(nl, &msg, NULL, 0);
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
    return peko__self_addr(nl);
}

void peko_nodelist_config(const peko_nodelist *nl, peko_config *out)
{
    *out = nl->config;
    out->timeout_us = nl->timeout_us;
}
