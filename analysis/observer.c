/* observer.c: the recorder's engine callbacks (ana_recorder_observer()).
 *
 * These run on the hot path of every packet, so each does O(1) work in
 * memory: a counter bump, and for the few recorded rumors a probe of the
 * rumor table and a row appended to a buffer. SQLite is reached only when
 * a buffer fills (ana__row_buffered), once per batch_rows rows.
 */
#include "recorder-private.h"

static inline unsigned type_slot(peko_msg_type type)
{
    return (unsigned)type < ANA__TYPES ? (unsigned)type : 0;
}

/* Whether a heartbeat may be a recorded one: every-M-th first (one
 * compare when M is 1), then the origin filter. A true here is confirmed
 * by the rumor table; a false is final. */
static inline bool heartbeat_wanted_origin(const ana_recorder *rec,
                                           const peko_addr *origin)
{
    uint64_t bit = ana__addr_hash(origin) >> (64 - ANA__FILTER_BITS);
    return (rec->origin_filter[bit >> 6] >> (bit & 63)) & 1;
}

static inline bool heartbeat_wanted(const ana_recorder *rec,
                                    const peko_rumor *rumor)
{
    if (rec->hb_every > 1 &&
        ((uint32_t)rumor->id - 1) % rec->hb_every != 0)
        return false;
    return heartbeat_wanted_origin(rec, &rumor->origin);
}

static int32_t node_of(const ana_recorder *rec, const peko_addr *addr);

/* The rumor_id of (kind, origin, engine_id), or 0. A rumor of a foreign
 * origin (ana_recorder_set_foreign) that this recorder has not seen yet
 * is adopted: its creation happened in another process, so its
 * created_us here is now, the first time a node here sees it. The caller
 * has checked that the rumor is one to record (kind, sampling). */
static uint32_t find_or_adopt(ana_recorder *rec, uint8_t kind,
                              const peko_addr *origin, uint64_t engine_id)
{
    uint32_t id = ana__rumors_find(&rec->rumors, kind, origin, engine_id);
    if (id != 0 || rec->foreign == NULL || rec->finished)
        return id;
    int32_t node = node_of(rec, origin);
    /* Heartbeats of an origin not sampled can pass the origin filter (a
     * false positive): only its own worker would know, so ask here. */
    if (node < 0 || !rec->foreign[node] ||
        (kind == PEKO_MSG_HEARTBEAT && !rec->nodes[node].sampled))
        return 0;
    return ana__rumors_add(&rec->rumors, kind, origin, engine_id,
                           (uint32_t)node, ana__now(rec));
}

/* The rumor_id of a recorded rumor, or 0. Metadata rumors are all
 * recorded (they are few); heartbeats pass the sampling filter first. */
static inline uint32_t recorded(ana_recorder *rec, const peko_rumor *rumor)
{
    if (rumor->kind == PEKO_MSG_HEARTBEAT) {
        if (!heartbeat_wanted(rec, rumor))
            return 0;
    } else if (rumor->kind != PEKO_MSG_METADATA) {
        return 0;
    }
    return find_or_adopt(rec, (uint8_t)rumor->kind, &rumor->origin,
                         rumor->id);
}

static int32_t node_of(const ana_recorder *rec, const peko_addr *addr)
{
    uint32_t node;
    if (addr && ana__addrmap_find(&rec->addrs, addr, &node))
        return (int32_t)node;
    return -1;
}

static void push_infection(ana_recorder *rec, uint32_t rumor_id,
                           uint32_t node, int64_t t_us, int32_t hops,
                           int32_t from_node, ana__via via)
{
    if (ana__rows_closed(rec))
        return;
    rec->infections[rec->n_infections++] = (ana__infection_row){
        .t_us = t_us,
        .rumor_id = rumor_id,
        .node = node,
        .hops = hops,
        .from_node = from_node,
        .via = (uint8_t)via,
    };
    rec->stats.infections++;
    ana__row_buffered(rec);
}

/* Marks the node as holding the rumor and, the first time, records when
 * (relative to the rumor's creation) and how. */
static void infect(ana_recorder *rec, uint32_t rumor_id, uint32_t node,
                   int32_t hops, int32_t from_node, ana__via via)
{
    ana__rumor *r = ana__rumors_get(&rec->rumors, rumor_id);
    if (!ana__rumor_hold(r, node))
        return;
    push_infection(rec, rumor_id, node, ana__now(rec) - r->created_us, hops,
                   from_node, via);
}

/* The engine's hops count forwards since the origin (its first receivers
 * see 0); infection.hops counts packets on the path, so the origin is 0
 * and its first receivers 1. */
static int32_t path_hops(unsigned hops)
{
    return hops < INT32_MAX ? (int32_t)hops + 1 : INT32_MAX;
}

/* ------------------------------------------------------------------ */
/* Callbacks.                                                           */

/* A cold start adds N^2 peers, and none of those additions is recorded:
 * only a node listed again after its lister removed it (a re-add), or
 * listed while the world knows it silent (crashed, paused, stopped). Until
 * there is one of those, this is two compares. */
static void on_node_added(void *user, const peko_addr *node)
{
    ana_node_ctx *ctx = user;
    ctx->peers_added++;
    ana_recorder *rec = ctx->rec;
    if (rec->fleet)
        ana__fleet_members(ctx);
    if (ctx->open_removals == 0 && rec->n_silent == 0)
        return;
    int32_t peer = node_of(rec, node);
    if (peer < 0)
        return;
    bool readded = false;
    if (ctx->open_removals > 0) {
        uint64_t key = ana__pair_key(ctx->index, (uint32_t)peer);
        readded = g_hash_table_remove(rec->open_removals, &key);
        ctx->open_removals -= readded;
    }
    if (readded || ana_node_state_silent(rec->node_state[peer]))
        ana__push_change(rec, ana__now(rec), ctx->index, (uint32_t)peer,
                         ANA__CHANGE_ADDED);
}

static void on_node_refreshed(void *user, const peko_addr *node)
{
    ana_node_ctx *ctx = user;
    ctx->peers_refreshed++;
}

/* Removals are rare (a crash costs one per lister): every one of a node
 * of the run is recorded, and remembered until it is listed again. */
static void on_node_expired(void *user, const peko_addr *node)
{
    ana_node_ctx *ctx = user;
    ctx->peers_expired++;
    ana_recorder *rec = ctx->rec;
    if (rec->fleet)
        ana__fleet_members(ctx);
    int32_t peer = node_of(rec, node);
    if (peer < 0 || rec->finished)
        return;
    ana__push_change(rec, ana__now(rec), ctx->index, (uint32_t)peer,
                     ANA__CHANGE_EXPIRED);
    uint64_t *key = g_new(uint64_t, 1);
    *key = ana__pair_key(ctx->index, (uint32_t)peer);
    /* A second removal without a re-add between is not the engine's way,
     * but the set stays a set. */
    if (g_hash_table_add(rec->open_removals, key))
        ctx->open_removals++;
}

static void on_rumor_created(void *user, const peko_rumor *rumor)
{
    ana_node_ctx *ctx = user;
    ana_recorder *rec = ctx->rec;
    ctx->current = 0;
    if (rec->finished)
        return;
    if (rec->fleet)
        ana__fleet_receipt(ctx, rumor, 0, NULL, ANA__VIA_ORIGIN);
    if (rumor->kind == PEKO_MSG_HEARTBEAT) {
        /* The origin knows itself by index: exact, no filter needed. */
        if (!rec->nodes[ctx->index].sampled ||
            (rec->hb_every > 1 &&
             ((uint32_t)rumor->id - 1) % rec->hb_every != 0))
            return;
    } else if (rumor->kind != PEKO_MSG_METADATA) {
        return;
    }
    uint32_t id = ana__rumors_add(&rec->rumors, (uint8_t)rumor->kind,
                                  &rumor->origin, rumor->id, ctx->index,
                                  ana__now(rec));
    if (id == 0)
        return; /* created twice (cannot happen in one incarnation) */
    rec->stats.rumors++;
    ctx->current = id;
    ctx->current_kind = (uint8_t)rumor->kind;
    infect(rec, id, ctx->index, 0, -1, ANA__VIA_ORIGIN);
}

static void on_rumor_first_seen(void *user, const peko_rumor *rumor,
                                unsigned hops, const peko_addr *from)
{
    ana_node_ctx *ctx = user;
    ana_recorder *rec = ctx->rec;
    if (rec->fleet)
        ana__fleet_receipt(ctx, rumor, path_hops(hops), from,
                           ANA__VIA_RUMOR);
    uint32_t id = recorded(rec, rumor);
    ctx->current = id;
    if (id == 0)
        return;
    ctx->current_kind = (uint8_t)rumor->kind;
    ana__rumor *r = ana__rumors_get(&rec->rumors, id);
    r->copies++;
    r->dirty = true;
    infect(rec, id, ctx->index, path_hops(hops), node_of(rec, from),
           ANA__VIA_RUMOR);
}

static void on_rumor_duplicate(void *user, const peko_rumor *rumor,
                               unsigned hops, const peko_addr *from)
{
    ana_node_ctx *ctx = user;
    ana_recorder *rec = ctx->rec;
    /* The engine reports a duplicate while handling the packet that
     * carried it, right after packet_received: its size is that one. */
    ana__counter *c = ana__counter_of(ctx, type_slot(rumor->kind),
                                      ANA_OUTCOME_DUPLICATE);
    c->packets++;
    c->bytes += ctx->last_rx_bytes;
    uint32_t id = recorded(rec, rumor);
    ctx->current = id; /* classic dissemination forwards duplicates too */
    if (id == 0)
        return;
    ctx->current_kind = (uint8_t)rumor->kind;
    ana__rumor *r = ana__rumors_get(&rec->rumors, id);
    r->copies++;
    r->duplicates++;
    r->dirty = true;
}

static void on_metadata_applied(void *user, const peko_version *version,
                                peko_msg_type via, size_t n_bytes)
{
    ana_node_ctx *ctx = user;
    ana_recorder *rec = ctx->rec;
    if (ana__rows_closed(rec))
        return;
    ana__metadata_row row = {
        .t_us = ana__now(rec),
        .counter = version->counter,
        .origin = version->origin,
        .n_bytes = n_bytes,
        .node = ctx->index,
        .origin_node = node_of(rec, &version->origin),
        .via = (uint8_t)via,
    };
    g_array_append_val(rec->metadata_rows, row);
    ana__row_buffered(rec);
    /* A version that came by swap infects the node with its rumor too:
     * anti-entropy is how late joiners get metadata, and t100 must see
     * them. By rumor, on_rumor_first_seen records it (with hops). */
    if (via == PEKO_MSG_SWAP_REQUEST || via == PEKO_MSG_SWAP_RESPONSE) {
        if (rec->fleet)
            ana__fleet_metadata_swap(ctx, version,
                                     ctx->has_swap_from ? &ctx->swap_from
                                                        : NULL);
        uint32_t id = find_or_adopt(rec, PEKO_MSG_METADATA,
                                    &version->origin, version->counter);
        if (id != 0)
            infect(rec, id, ctx->index, -1,
                   ctx->has_swap_from ? node_of(rec, &ctx->swap_from) : -1,
                   ANA__VIA_SWAP);
    }
}

/* How many recorded heartbeats of one origin a learned version may
 * supersede at once: a bound on the walk below, far above the gaps a
 * node's knowledge of a live peer shows (a few cycles). */
#define SUPERSEDE_WALK 64

/* A heartbeat version learned by anti-entropy (rumor's repair, digest's
 * exchanges). Versions supersede one another: a node that learns
 * sequence s of an origin knows that the origin was alive at least as
 * late as every heartbeat before s, which is what a failure detector
 * asks of a heartbeat. So the node comes to hold every recorded heartbeat
 * of that incarnation up to s, now, by swap: walking back from s over
 * the sampled sequence numbers, up to the first it held already. Without
 * this, digest's heartbeats, which never travel as rumors, would never
 * "reach" anyone. */
static void on_heartbeat_learned(void *user, const peko_rumor *rumor,
                                 peko_msg_type via, const peko_addr *from)
{
    ana_node_ctx *ctx = user;
    ana_recorder *rec = ctx->rec;
    if (rec->fleet && !rec->finished)
        ana__fleet_receipt(ctx, rumor, -1, from, ANA__VIA_SWAP);
    if (rec->finished || !heartbeat_wanted_origin(rec, &rumor->origin))
        return;
    uint32_t incarnation = (uint32_t)(rumor->id >> 32);
    uint32_t seq = (uint32_t)rumor->id;
    uint32_t every = rec->hb_every > 1 ? rec->hb_every : 1;
    if (seq == 0)
        return;
    /* The newest sampled sequence at or below seq (sampled: (s - 1) % M
     * == 0, as heartbeat_wanted() says). */
    seq -= (seq - 1) % every;
    int32_t from_node = node_of(rec, from);
    for (int walk = 0; walk < SUPERSEDE_WALK && seq >= 1; walk++) {
        uint32_t id = find_or_adopt(rec, PEKO_MSG_HEARTBEAT, &rumor->origin,
                                    (uint64_t)incarnation << 32 | seq);
        if (id == 0)
            break; /* not recorded: created before sampling, or unknown */
        ana__rumor *r = ana__rumors_get(&rec->rumors, id);
        if (!ana__rumor_hold(r, ctx->index))
            break; /* held already, and so, most likely, those before */
        push_infection(rec, id, ctx->index, ana__now(rec) - r->created_us,
                       -1, from_node, ANA__VIA_SWAP);
        if (seq <= every)
            break;
        seq -= every;
    }
}

static void on_packet_sent(void *user, peko_msg_type type,
                           const peko_addr *to, size_t n_bytes)
{
    ana_node_ctx *ctx = user;
    unsigned t = type_slot(type);
    ana__counter *c = ana__counter_of(ctx, t, ANA_OUTCOME_SENT);
    c->packets++;
    c->bytes += n_bytes;
    if (ctx->current != 0 && t == ctx->current_kind) {
        ana__rumor *r = ana__rumors_get(&ctx->rec->rumors, ctx->current);
        r->messages++;
        r->dirty = true;
    }
}

static void on_packet_received(void *user, peko_msg_type type,
                               const peko_addr *from, size_t n_bytes)
{
    ana_node_ctx *ctx = user;
    unsigned t = type_slot(type);
    ana__counter *c = ana__counter_of(ctx, t, ANA_OUTCOME_RECEIVED);
    c->packets++;
    c->bytes += n_bytes;
    ctx->last_rx_bytes = n_bytes;
    ctx->current = 0;
    /* Only swaps need their sender later (metadata_applied has none);
     * copied, since `from` is borrowed for this packet only. */
    if (t == PEKO_MSG_SWAP_REQUEST || t == PEKO_MSG_SWAP_RESPONSE) {
        ctx->swap_from = *from;
        ctx->has_swap_from = true;
    }
}

static void on_packet_rejected(void *user, peko_reject reason,
                               const peko_addr *from, size_t n_bytes)
{
    ana_node_ctx *ctx = user;
    ana__counter *c = ana__counter_of(ctx, 0, ANA_OUTCOME_REJECTED);
    c->packets++;
    c->bytes += n_bytes;
    unsigned r = (unsigned)reason < PEKO_REJECT_COUNT ? (unsigned)reason : 0;
    ctx->rejects[r].packets++;
    ctx->rejects[r].bytes += n_bytes;
    ctx->current = 0;
}

static const peko_observer observer = {
    .version = PEKO_OBSERVER_VERSION,
    .node_added = on_node_added,
    .node_refreshed = on_node_refreshed,
    .node_expired = on_node_expired,
    .rumor_created = on_rumor_created,
    .rumor_first_seen = on_rumor_first_seen,
    .rumor_duplicate = on_rumor_duplicate,
    .metadata_applied = on_metadata_applied,
    .packet_sent = on_packet_sent,
    .packet_received = on_packet_received,
    .packet_rejected = on_packet_rejected,
    .heartbeat_learned = on_heartbeat_learned,
    .clock_offset = ana__fleet_on_clock_offset,
};

const peko_observer *ana_recorder_observer(void)
{
    return &observer;
}
