/* explore-check.c: a scenario run in the simulator with the explorer's
 * invariants checked during the run and after its quiet period
 * (explore.h; docs/explore.md says which hold for which strategy, and
 * why the others do not).
 *
 * During the run, at every delivery, send and metadata change (the
 * engines' observers and the world's hooks) and once a cycle:
 *   size        no packet sent or delivered is larger than Size;
 *   decode      every packet delivered is accepted: nodes of one cluster
 *               never send each other what they cannot read; with a
 *               key, a refusal as a replay only where the network can
 *               make one (replay_cause());
 *   metadata    a node's metadata never goes back within one life, and
 *               never takes a version nobody published;
 *   members     every list holds only nodes of the cluster, the local
 *               node once, at most the cluster's size;
 *   counters    the world's counters add up (sent and duplicated =
 *               delivered + dropped by cause + in flight), its hooks saw
 *               what it counted, node by node, and each engine's sends
 *               and receipts are the world's;
 *   bounds      the simulator's queues within their bounds, the heap
 *               within a bound of the cluster's size.
 * After the quiet period, when the case leaves the protocol a fair
 * chance (run_explore_quiet_us(), connected seeds):
 *   membership  every live node lists exactly the live nodes (rumor,
 *               digest); classic: no live node lists a node that is no
 *               longer live;
 *   metadata    every live node holds the newest metadata any running
 *               node holds, with the bytes that were published with it
 *               (rumor, digest).
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <string.h>

#include "explore.h"
#include "sim.h"

/* How much of the quiet period the engine's reconnection may need
 * (engine/reconnect.c: attempts back off to 32 cycles), in cycles, with
 * room for the answer and the news to spread. */
#define QUIET_RECONNECT_CYCLES 48
/* A latency law whose bound exceeds this leaves no practical quiet. */
#define QUIET_LATENCY_MAX_US (10LL * 1000000)

typedef struct xc xc;

typedef struct xc_node {
    xc *x;
    size_t index;
    uint64_t sent;          /* packet_sent, over every life */
    uint64_t received;      /* packet_received */
    uint64_t rejected;      /* packet_rejected */
    uint64_t life;          /* the world's restarts when last seen */
    int64_t paused_us;      /* its first pause in the timeline (INT64_MAX:
                             * never paused) */
    int delivering_type;    /* the packet being handed to its engine ... */
    size_t delivering_from; /* ... and its sender (on_delivered()) */
    bool has_meta;          /* this life holds metadata ... */
    peko_version meta;      /* ... of this version */
} xc_node;

typedef struct xc_published {
    peko_version version;
    uint8_t *bytes;         /* NULL when the publish was not found */
    size_t n_bytes;
} xc_published;

struct xc {
    const scn_scenario *sc;
    const run_explore_check_options *opts;
    sim_world *world;
    peko_config config;     /* resolved */
    size_t n;
    xc_node *nodes;
    GArray *published;      /* xc_published */
    /* The hooks' own counts. */
    uint64_t hook_delivered;
    uint64_t hook_dropped[SIM_DROP_COUNT];
    /* The heap at the start, and what it may grow by. */
    size_t heap_base;
    size_t heap_bound;
    /* Why the network may hand a node a signed packet it must refuse as
     * a replay, or NULL when nothing can (replay_cause()). */
    const char *replay_cause;
    bool keyed;             /* packets are signed, numbered, challenged */
    uint64_t replays;       /* refused as replays, where expected */
    /* The membership invariant's window (persisting()): wrong[i * n + j]
     * stays 1 while node i's listing of node j has been wrong at every
     * sample since window_from_us. */
    int64_t window_from_us;
    bool window_open;
    uint8_t *wrong;
    /* The first violation; the run halts at it. */
    run_explore_verdict *v;
    volatile sig_atomic_t halt;
};

void run_explore_verdict_clear(run_explore_verdict *v)
{
    g_free(v->invariant);
    g_free(v->message);
    g_free(v->skipped);
    memset(v, 0, sizeof *v);
}

static void violate(xc *x, const char *invariant, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

static void violate(xc *x, const char *invariant, const char *format, ...)
{
    if (x->v->violated)
        return; /* the first one is the one to replay */
    va_list ap;
    va_start(ap, format);
    x->v->violated = true;
    x->v->invariant = g_strdup(invariant);
    x->v->message = g_strdup_vprintf(format, ap);
    x->v->at_us = x->world ? sim_world_now_us(x->world) : 0;
    va_end(ap);
    x->halt = 1;
}

static char *node_name(xc *x, const peko_addr *addr)
{
    size_t i;
    if (sim_world_index_of(x->world, addr, &i))
        return g_strdup_printf("node %zu", i);
    char buf[PEKO_ADDR_STRLEN];
    peko_addr_format(addr, buf);
    return g_strdup(buf);
}

/* ------------------------------------------------------------------ */
/* The quiet period.                                                    */

/* The largest latency a law gives, or -1 beyond QUIET_LATENCY_MAX_US. */
static int64_t dist_bound(const model_dist *d)
{
    double hi = d->hi;
    if (d->kind == MODEL_DIST_CONSTANT)
        hi = MIN(hi, d->value);
    else if (d->kind == MODEL_DIST_UNIFORM)
        hi = MIN(hi, d->max);
    return hi >= (double)QUIET_LATENCY_MAX_US ? -1 : (int64_t)ceil(hi);
}

/* The effective timeout of `config` (resolved) for n nodes. */
static int64_t timeout_of(const peko_config *config, size_t n)
{
    return config->timeout_us > 0 ? config->timeout_us
                                  : peko_digest_timeout_us(n, config);
}

/* The largest clock rate error any node may have, as a fraction. */
static double drift_bound(const scn_scenario *sc)
{
    double d = MAX(fabs(sc->clock.drift_ppm.lo), fabs(sc->clock.drift_ppm.hi));
    if (sc->clock.drift_ppm.kind == MODEL_DIST_CONSTANT)
        d = fabs(sc->clock.drift_ppm.value);
    for (size_t i = 0; i < sc->clock.n_entries; i++)
        if (sc->clock.entries[i].is_drift)
            d = MAX(d, fabs(sc->clock.entries[i].value));
    return d * 1e-6;
}

int64_t run_explore_quiet_us(const scn_scenario *sc)
{
    peko_config config;
    if (peko_config_resolve(&sc->engine, &config) < 0)
        return -1;
    int64_t latency = dist_bound(&sc->network.latency_us);
    bool tcp_loss = false;
    for (size_t i = 0; i < sc->n_events && latency >= 0; i++) {
        const scn_event *ev = &sc->events[i];
        if (ev->kind == SCN_EVENT_NETWORK && ev->network.set_latency) {
            int64_t b = dist_bound(&ev->network.latency_us);
            latency = b < 0 ? -1 : MAX(latency, b);
        }
        if (ev->kind == SCN_EVENT_NETWORK && ev->network.set_loss &&
            model_loss_can_lose(&ev->network.loss))
            tcp_loss = true;
    }
    if (latency < 0)
        return -1;
    tcp_loss |= model_loss_can_lose(&sc->network.loss);
    /* Removal of the dead and reconnection of the living (backoff), each
     * counted in the slowest node's cycles; a TCP transfer lost before
     * the heal may wait out a full retransmission timeout, and the
     * transfers behind it on its connection with it. */
    double cycles = (double)(2 * timeout_of(&config, sc->cluster.nodes) +
                             QUIET_RECONNECT_CYCLES * config.cycle_us);
    double slow = 1.0 / (1.0 - MIN(drift_bound(sc), 0.5));
    int64_t quiet = (int64_t)(cycles * slow) + 20 * latency;
    if (config.protocol == PEKO_PROTOCOL_TCP && tcp_loss)
        quiet += 2 * SIM_TCP_RTO_MAX_US;
    /* Whole milliseconds read better in the file. */
    return (quiet + 999) / 1000 * 1000;
}

/* ------------------------------------------------------------------ */
/* The observer: every engine's events, node by node.                   */

static void check_life(xc_node *nd)
{
    sim_node_stats st;
    sim_world_node_stats(nd->x->world, nd->index, &st);
    if (st.restarts != nd->life) {
        nd->life = st.restarts; /* a fresh engine starts without */
        nd->has_meta = false;
    }
}

static void on_packet_sent(void *user, peko_msg_type type,
                           const peko_addr *to, size_t n_bytes)
{
    xc_node *nd = user;
    xc *x = nd->x;
    nd->sent++;
    if (n_bytes > (size_t)x->config.size) {
        char *who = node_name(x, to);
        violate(x, "size",
                "node %zu sent a %s of %zu bytes to %s, above Size (%d)",
                nd->index, peko_msg_type_name(type), n_bytes, who,
                x->config.size);
        g_free(who);
    }
}

static void on_packet_received(void *user, peko_msg_type type,
                               const peko_addr *from, size_t n_bytes)
{
    xc_node *nd = user;
    (void)type;
    (void)from;
    (void)n_bytes;
    nd->received++;
}

/* Why the network of `sc` may hand a keyed node a packet of its own
 * cluster that it must refuse as a replay (engine/fresh.c), or NULL when
 * nothing can:
 *   - a duplicated delivery is the same packet twice;
 *   - latency that varies reorders packets, and a sender numbers all its
 *     packets in one sequence, so one overtaken by 64 of the same
 *     sender's packets (to anyone) falls below its receiver's window, as
 *     with IPsec;
 *   - a packet in flight when its receiver crashes reaches the new
 *     incarnation tagged for the old one;
 *   - over TCP, a lost segment holds its connection's packets back for
 *     a retransmission timeout while the sender's packets on its other
 *     connections (a swap's answer goes back on the connection its
 *     request came by) move its numbers on: the same as reordering.
 * Anything else refused as a replay is a violation. */
static const char *replay_cause(const scn_scenario *sc)
{
    if (sc->engine.secret_key == NULL || *sc->engine.secret_key == '\0')
        return NULL; /* nothing is numbered */
    if (sc->network.duplicate > 0)
        return "duplication";
    if (sc->network.latency_us.kind != MODEL_DIST_CONSTANT ||
        sc->regions.n_regions > 0)
        return "latency that varies";
    bool tcp = sc->engine.protocol == PEKO_PROTOCOL_TCP;
    if (tcp && model_loss_can_lose(&sc->network.loss))
        return "TCP retransmissions";
    for (size_t i = 0; i < sc->n_events; i++) {
        const scn_event *ev = &sc->events[i];
        if (ev->kind == SCN_EVENT_CRASH)
            return "a crash";
        if (tcp && ev->kind == SCN_EVENT_NETWORK && ev->network.set_loss &&
            model_loss_can_lose(&ev->network.loss))
            return "TCP retransmissions";
        if (ev->kind == SCN_EVENT_NETWORK &&
            ((ev->network.set_duplicate && ev->network.duplicate > 0) ||
             ev->network.set_latency))
            return "a network change";
    }
    return NULL;
}

/* Whether a pause explains node nd's refusal of the packet it is being
 * handed (on_delivered() said which) as a replay. A paused node's
 * packets wait, up to Buffer, and reach it when it resumes, however long
 * that took: a challenge that waited is answered then, and an echo that
 * waited is read then, long after the challenge's nonce stopped being
 * answerable (docs/wire.md, "Freshness", rule 2: at most 4 cycles, and
 * 4 s, after the last challenge that carried it; drawn anew after
 * that). Refusing that echo is the rule working, not a fault: the
 * challenger asks again with its current nonce. Only echoes, and only
 * between a node and one that has been paused: every other refusal
 * stays a violation. (Packets that waited otherwise reach the paused
 * node in the order they came, each sender's numbers ascending, so they
 * fit its windows.) */
static bool pause_explains(const xc_node *nd)
{
    const xc *x = nd->x;
    if (!x->keyed || nd->delivering_type != PEKO_MSG_ECHO ||
        nd->delivering_from >= x->n)
        return false;
    int64_t now = sim_world_now_us(x->world);
    return now >= nd->paused_us ||
           now >= x->nodes[nd->delivering_from].paused_us;
}

static void on_packet_rejected(void *user, peko_reject reason,
                               const peko_addr *from, size_t n_bytes)
{
    xc_node *nd = user;
    nd->rejected++;
    if (reason == PEKO_REJECT_REPLAY &&
        (nd->x->replay_cause || pause_explains(nd))) {
        nd->x->replays++;
    } else {
        char *who = node_name(nd->x, from);
        violate(nd->x, "decode",
                "node %zu rejected a packet of %zu bytes from %s: %s",
                nd->index, n_bytes, who, peko_reject_name(reason));
        g_free(who);
    }
}

static xc_published *find_published(xc *x, const peko_version *version)
{
    for (guint i = 0; i < x->published->len; i++) {
        xc_published *p = &g_array_index(x->published, xc_published, i);
        if (peko_version_compare(&p->version, version) == 0)
            return p;
    }
    return NULL;
}

/* A local publish: finds the timeline's publish that made it (now, this
 * node, this length) and keeps its bytes under the new version. */
static void note_publish(xc *x, size_t node, const peko_version *version,
                         size_t n_bytes)
{
    if (find_published(x, version)) {
        violate(x, "metadata",
                "node %zu published version %" PRIu64 " that exists already",
                node, version->counter);
        return;
    }
    xc_published p = {.version = *version, .n_bytes = n_bytes};
    int64_t now = sim_world_now_us(x->world);
    for (size_t e = 0; e < x->sc->n_events && p.bytes == NULL; e++) {
        const scn_event *ev = &x->sc->events[e];
        if (ev->kind == SCN_EVENT_PUBLISH && ev->time_us == now &&
            ev->publish.n_bytes == n_bytes &&
            scn_nodes_contains(&ev->nodes, (uint32_t)node)) {
            p.bytes = g_malloc(n_bytes ? n_bytes : 1);
            scn_event_payload(ev, p.bytes);
        }
    }
    g_array_append_val(x->published, p);
}

static void on_metadata_applied(void *user, const peko_version *version,
                                peko_msg_type via, size_t n_bytes)
{
    xc_node *nd = user;
    xc *x = nd->x;
    check_life(nd);
    if (nd->has_meta && peko_version_compare(version, &nd->meta) <= 0) {
        violate(x, "metadata",
                "node %zu went from version %" PRIu64 " to %" PRIu64
                " (%s): metadata went back",
                nd->index, nd->meta.counter, version->counter,
                via ? peko_msg_type_name(via) : "publish");
        return;
    }
    nd->has_meta = true;
    nd->meta = *version;
    if (via == 0) {
        note_publish(x, nd->index, version, n_bytes);
        return;
    }
    const xc_published *p = find_published(x, version);
    if (p == NULL)
        violate(x, "metadata",
                "node %zu took version %" PRIu64 " by %s, which nobody "
                "published",
                nd->index, version->counter, peko_msg_type_name(via));
    else if (p->n_bytes != n_bytes)
        violate(x, "metadata",
                "node %zu took version %" PRIu64 " with %zu bytes; it was "
                "published with %zu",
                nd->index, version->counter, n_bytes, p->n_bytes);
}

static const peko_observer observer = {
    .version = PEKO_OBSERVER_VERSION,
    .metadata_applied = on_metadata_applied,
    .packet_sent = on_packet_sent,
    .packet_received = on_packet_received,
    .packet_rejected = on_packet_rejected,
};

static void *observer_user(void *user, size_t i)
{
    xc *x = user;
    return &x->nodes[i];
}

/* ------------------------------------------------------------------ */
/* The world's hooks.                                                   */

static void on_delivered(void *user, size_t from, size_t to, int type,
                         size_t n_bytes)
{
    xc *x = user;
    x->hook_delivered++;
    if (to < x->n) {
        /* The engine reads it next: its verdict comes before any other
         * delivery (on_packet_rejected()). */
        x->nodes[to].delivering_type = type;
        x->nodes[to].delivering_from = from;
    }
    if (n_bytes > (size_t)x->config.size)
        violate(x, "size",
                "a packet of %zu bytes from node %zu reached node %zu, above "
                "Size (%d)",
                n_bytes, from, to, x->config.size);
}

static void on_dropped(void *user, size_t from, size_t to, int type,
                       size_t n_bytes, sim_drop_cause cause)
{
    xc *x = user;
    (void)type;
    x->hook_dropped[cause]++;
    if (cause == SIM_DROP_OVERSIZE)
        violate(x, "size",
                "node %zu sent %zu bytes to node %zu: dropped as oversize",
                from, n_bytes, to);
}

/* ------------------------------------------------------------------ */
/* Checks once a cycle and at the end.                                  */

static void check_counters(xc *x)
{
    sim_world_stats ws;
    sim_world_stats_get(x->world, &ws);
    uint64_t dropped = 0;
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        dropped += ws.dropped[c];
    if (ws.sends + ws.duplicated < ws.deliveries + dropped) {
        violate(x, "counters",
                "%" PRIu64 " sent + %" PRIu64 " duplicated < %" PRIu64
                " delivered + %" PRIu64 " dropped",
                ws.sends, ws.duplicated, ws.deliveries, dropped);
        return;
    }
    if (ws.deliveries != x->hook_delivered) {
        violate(x, "counters",
                "%" PRIu64 " deliveries counted, %" PRIu64 " told to the hook",
                ws.deliveries, x->hook_delivered);
        return;
    }
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        if (ws.dropped[c] != x->hook_dropped[c]) {
            violate(x, "counters",
                    "%" PRIu64 " drops for %s counted, %" PRIu64
                    " told to the hook",
                    ws.dropped[c], sim_drop_cause_name((sim_drop_cause)c),
                    x->hook_dropped[c]);
            return;
        }
    if (ws.unroutable != 0) {
        violate(x, "counters",
                "%" PRIu64 " packets sent to addresses no node has",
                ws.unroutable);
        return;
    }

    uint64_t sends = 0, deliveries = 0, out[SIM_DROP_COUNT] = {0},
             in[SIM_DROP_COUNT] = {0};
    int buffer = x->config.buffer;
    uint64_t send_queue = x->sc->network.send_queue;
    for (size_t i = 0; i < x->n; i++) {
        sim_node_stats st;
        sim_world_node_stats(x->world, i, &st);
        const xc_node *nd = &x->nodes[i];
        sends += st.sends;
        deliveries += st.deliveries;
        for (int c = 0; c < SIM_DROP_COUNT; c++) {
            out[c] += st.dropped_out[c];
            in[c] += st.dropped_in[c];
        }
        /* Refused sends (too large, queue full) are the only ones the
         * engine does not count as sent. */
        uint64_t refused = st.dropped_out[SIM_DROP_OVERSIZE] +
                           st.dropped_out[SIM_DROP_SEND_QUEUE];
        if (st.sends != nd->sent + refused) {
            violate(x, "counters",
                    "node %zu: the world counts %" PRIu64 " sends, its engine"
                    " %" PRIu64 " sent and %" PRIu64 " refused",
                    i, st.sends, nd->sent, refused);
            return;
        }
        if (st.deliveries != nd->received + nd->rejected) {
            violate(x, "counters",
                    "node %zu: %" PRIu64 " packets delivered, its engine "
                    "received %" PRIu64 " and rejected %" PRIu64,
                    i, st.deliveries, nd->received, nd->rejected);
            return;
        }
        if (st.held_max > (uint64_t)buffer ||
            st.rx_queue_max > (uint64_t)buffer ||
            st.uplink_queue_max > send_queue + 1) {
            violate(x, "bounds",
                    "node %zu: %" PRIu64 " packets held, %" PRIu64
                    " queued to receive, %" PRIu64 " to send; the bounds are "
                    "%d, %d and %" PRIu64,
                    i, st.held_max, st.rx_queue_max, st.uplink_queue_max,
                    buffer, buffer, send_queue + 1);
            return;
        }
    }
    if (sends != ws.sends || deliveries != ws.deliveries) {
        violate(x, "counters",
                "the nodes' sends and deliveries (%" PRIu64 ", %" PRIu64
                ") are not the world's (%" PRIu64 ", %" PRIu64 ")",
                sends, deliveries, ws.sends, ws.deliveries);
        return;
    }
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        if (out[c] != ws.dropped[c] || in[c] != ws.dropped[c]) {
            violate(x, "counters",
                    "drops for %s: %" PRIu64 " by senders, %" PRIu64
                    " by receivers, %" PRIu64 " in all",
                    sim_drop_cause_name((sim_drop_cause)c), out[c], in[c],
                    ws.dropped[c]);
            return;
        }
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* The heap, less what the event queue holds (packets in flight, which
 * the traffic and the latency decide, within the queue's own bound),
 * grows no more than the engines may need: a leak, or a table that
 * outgrows the cluster, shows here. */
static void check_heap(xc *x)
{
    sim_world_stats ws;
    sim_world_stats_get(x->world, &ws);
    size_t now = heap_in_use();
    size_t grown = now > x->heap_base + ws.queue_bytes
                       ? now - x->heap_base - ws.queue_bytes
                       : 0;
    if (grown > x->heap_bound)
        violate(x, "bounds",
                "the heap grew by %zu KiB beside the %zu KiB of the event "
                "queue, beyond the %zu KiB a cluster of %zu nodes may need",
                grown >> 10, ws.queue_bytes >> 10, x->heap_bound >> 10, x->n);
}

/* Every list holds nodes of the cluster only, itself once, no more than
 * the cluster. */
static void check_lists(xc *x)
{
    for (size_t i = 0; i < x->n && !x->v->violated; i++) {
        peko_nodelist *nl = sim_world_node(x->world, i);
        if (nl == NULL)
            continue;
        size_t count = peko_nodelist_count(nl);
        size_t others = 0;
        for (size_t j = 0; j < x->n; j++)
            if (j != i &&
                peko_nodelist_contains(nl, sim_world_addr(x->world, j)))
                others++;
        if (count != others + 1)
            violate(x, "members",
                    "node %zu lists %zu nodes: itself, %zu of the cluster "
                    "and %zu others",
                    i, count, others, count - others - 1);
    }
}

static void sample_membership(xc *x);

static void on_tick(sim_world *world, void *user)
{
    xc *x = user;
    if (x->opts->stop && *x->opts->stop)
        x->halt = 1;
    check_counters(x);
    check_lists(x);
    check_heap(x);
    if (!x->v->violated &&
        sim_world_now_us(world) >= x->window_from_us)
        sample_membership(x);
}

/* ------------------------------------------------------------------ */
/* After the quiet period.                                              */

static bool is_up(xc *x, size_t i)
{
    return sim_world_node_state(x->world, i) == SIM_NODE_UP &&
           sim_world_node(x->world, i) != NULL;
}

static bool is_live(xc *x, size_t i)
{
    return is_up(x, i) && peko_nodelist_is_running(sim_world_node(x->world, i));
}

/* The last time the timeline changes anything. */
static int64_t last_event_us(const scn_scenario *sc)
{
    return sc->n_events ? sc->events[sc->n_events - 1].time_us : 0;
}

/* Whether the running nodes' seeds join every live node to every other:
 * otherwise a node may have no way into the cluster (docs/explore.md). */
static bool seeds_connect(xc *x, const bool *up, const bool *live)
{
    size_t *parent = g_new(size_t, x->n);
    for (size_t i = 0; i < x->n; i++)
        parent[i] = i;
    uint32_t *seeds = g_new(uint32_t, SCN_MAX_SEEDS);
    for (size_t i = 0; i < x->n; i++) {
        if (!up[i])
            continue;
        size_t k = scn_scenario_seeds(x->sc, (uint32_t)i, seeds,
                                      SCN_MAX_SEEDS);
        for (size_t s = 0; s < k && s < SCN_MAX_SEEDS; s++) {
            if (!up[seeds[s]])
                continue;
            size_t a = i, b = seeds[s];
            while (parent[a] != a)
                a = parent[a];
            while (parent[b] != b)
                b = parent[b];
            parent[a] = b;
        }
    }
    g_free(seeds);
    size_t root = SIZE_MAX;
    bool connected = true;
    for (size_t i = 0; i < x->n && connected; i++) {
        if (!live[i])
            continue;
        size_t r = i;
        while (parent[r] != r)
            r = parent[r];
        if (root == SIZE_MAX)
            root = r;
        connected = r == root;
    }
    g_free(parent);
    return connected;
}

/* Each up node's list, as get() gives it: the local node once, every
 * other a node of the cluster, ascending, no repeats. */
static void check_get(xc *x, size_t i)
{
    peko_node_array list;
    peko_nodelist_get(sim_world_node(x->world, i), &list);
    size_t self = 0;
    peko_addr prev = {0};
    for (size_t k = 0; k < list.count && !x->v->violated; k++) {
        peko_addr a;
        size_t j;
        if (peko_addr_parse(list.nodes[k].addr, list.nodes[k].port, &a) < 0 ||
            !sim_world_index_of(x->world, &a, &j)) {
            violate(x, "members", "node %zu lists %s:%u, not of the cluster",
                    i, list.nodes[k].addr, list.nodes[k].port);
            break;
        }
        if (k > 0 && peko_addr_compare(&prev, &a) >= 0)
            violate(x, "members",
                    "node %zu lists node %zu twice or out of order", i, j);
        self += j == i;
        prev = a;
    }
    if (!x->v->violated && self != 1)
        violate(x, "members", "node %zu lists itself %zu times", i, self);
    peko_node_array_clear(&list);
}

/* Whether node i's listing of node j is wrong: a live node missing
 * (when the strategy promises exact lists) or a node that is not live
 * listed. */
static bool listing_wrong(xc *x, const bool *live, bool exact, size_t i,
                          size_t j)
{
    bool listed = peko_nodelist_contains(sim_world_node(x->world, i),
                                         sim_world_addr(x->world, j));
    return live[j] ? exact && !listed : listed;
}

/* Which nodes are up, and which of those run the protocol. */
static void up_and_live(xc *x, bool *up, bool *live)
{
    for (size_t i = 0; i < x->n; i++) {
        up[i] = is_up(x, i);
        live[i] = up[i] && is_live(x, i);
    }
}

/* A failure detector errs now and then by design: with a timeout of a
 * few cycles, a live node whose heartbeats are late is removed and
 * listed again a cycle later. What the protocol promises is that no
 * wrong listing lasts, so the invariant samples every listing at every
 * cycle over the run's last `timeout + 2 cycles` (slowed by the worst
 * clock drift) and counts only a listing wrong at every sample and at
 * the end. The window lies inside the quiet period, which leaves two
 * timeouts and the reconnection's backoff (run_explore_quiet_us()). */
static int64_t membership_window_us(const xc *x)
{
    double slow = 1.0 / (1.0 - MIN(drift_bound(x->sc), 0.5));
    return (int64_t)((double)(x->config.timeout_us + 2 * x->config.cycle_us) *
                     slow);
}

static void sample_membership(xc *x)
{
    bool classic = x->config.dissemination == PEKO_DISSEMINATION_CLASSIC;
    bool *up = g_new(bool, x->n), *live = g_new(bool, x->n);
    up_and_live(x, up, live);
    for (size_t i = 0; i < x->n; i++)
        for (size_t j = 0; j < x->n; j++) {
            uint8_t w = live[i] && j != i &&
                        listing_wrong(x, live, !classic, i, j);
            uint8_t *cell = &x->wrong[i * x->n + j];
            *cell = x->window_open ? (uint8_t)(*cell & w) : w;
        }
    x->window_open = true;
    g_free(up);
    g_free(live);
}

static void check_membership(xc *x, const bool *live, bool exact)
{
    for (size_t i = 0; i < x->n && !x->v->violated; i++) {
        if (!live[i])
            continue;
        GString *missing = g_string_new(NULL), *extra = g_string_new(NULL);
        for (size_t j = 0; j < x->n; j++) {
            if (j == i || !listing_wrong(x, live, exact, i, j))
                continue;
            if (x->window_open && !x->wrong[i * x->n + j])
                continue; /* wrong now, but not all along: it passes */
            g_string_append_printf(live[j] ? missing : extra, " %zu", j);
        }
        if (missing->len || extra->len)
            violate(x, "membership",
                    "node %zu: %s%s%s%s%s (since %.3f s at least)", i,
                    missing->len ? "missing live nodes" : "",
                    missing->str, missing->len && extra->len ? "; " : "",
                    extra->len ? "lists nodes that are not live:" : "",
                    extra->str,
                    (double)(x->window_open ? x->window_from_us
                                            : sim_world_now_us(x->world)) /
                        1e6);
        g_string_free(missing, TRUE);
        g_string_free(extra, TRUE);
    }
}

static void check_metadata(xc *x, const bool *up, const bool *live)
{
    peko_version newest = {0};
    size_t holder = SIZE_MAX;
    for (size_t i = 0; i < x->n; i++) {
        if (!up[i])
            continue;
        peko_version v;
        peko_nodelist_metadata_version(sim_world_node(x->world, i), &v);
        if (v.counter > 0 && peko_version_compare(&v, &newest) > 0) {
            newest = v;
            holder = i;
        }
    }
    if (holder == SIZE_MAX)
        return;
    const xc_published *p = find_published(x, &newest);
    for (size_t i = 0; i < x->n && !x->v->violated; i++) {
        if (!live[i])
            continue;
        peko_nodelist *nl = sim_world_node(x->world, i);
        peko_version v;
        peko_nodelist_metadata_version(nl, &v);
        if (peko_version_compare(&v, &newest) != 0) {
            violate(x, "metadata",
                    "node %zu holds version %" PRIu64 ", node %zu holds %" PRIu64,
                    i, v.counter, holder, newest.counter);
            break;
        }
        size_t n;
        const uint8_t *data = peko_nodelist_read(nl, &n);
        if (p && p->bytes &&
            (n != p->n_bytes || (n && memcmp(data, p->bytes, n) != 0)))
            violate(x, "metadata",
                    "node %zu holds version %" PRIu64 " with other bytes than"
                    " were published",
                    i, v.counter);
    }
}

static void check_end(xc *x)
{
    run_explore_verdict *v = x->v;
    check_counters(x);
    check_lists(x);
    check_heap(x);
    if (x->opts->inject == RUN_XP_INJECT_CRASH) {
        for (size_t i = 0; i < x->n; i++) {
            sim_node_stats st;
            sim_world_node_stats(x->world, i, &st);
            if (st.crashes > 0) {
                violate(x, "injected", "node %zu crashed (--inject crash)", i);
                break;
            }
        }
    }
    bool *up = g_new(bool, x->n), *live = g_new(bool, x->n);
    up_and_live(x, up, live);
    for (size_t i = 0; i < x->n; i++) {
        v->live += live[i];
        if (up[i] && !v->violated)
            check_get(x, i);
    }
    int64_t quiet = run_explore_quiet_us(x->sc);
    v->settled = quiet >= 0 &&
                 x->sc->cluster.duration_us - last_event_us(x->sc) >= quiet;
    bool classic = x->config.dissemination == PEKO_DISSEMINATION_CLASSIC;
    if (!v->settled)
        v->skipped = g_strdup_printf(
            "the quiet period is shorter than the %.3f s the case needs",
            (double)quiet / 1e6);
    else if (!classic && !seeds_connect(x, up, live))
        v->skipped = g_strdup("the live nodes' seeds do not connect them");
    if (v->skipped == NULL && !v->violated) {
        v->convergence = true;
        check_membership(x, live, !classic);
        if (!classic && !v->violated)
            check_metadata(x, up, live);
    }
    g_free(up);
    g_free(live);
}

/* ------------------------------------------------------------------ */
/* The watch.                                                           */

static void on_start(void *user, sim_world *world)
{
    xc *x = user;
    x->world = world;
    for (size_t i = 0; i < x->n; i++)
        x->nodes[i] = (xc_node){.x = x, .index = i, .paused_us = INT64_MAX};
    for (size_t e = 0; e < x->sc->n_events; e++) {
        const scn_event *ev = &x->sc->events[e];
        if (ev->kind != SCN_EVENT_PAUSE)
            continue;
        for (size_t i = 0; i < x->n; i++)
            if (scn_nodes_contains(&ev->nodes, (uint32_t)i))
                x->nodes[i].paused_us = MIN(x->nodes[i].paused_us,
                                            ev->time_us);
    }
    int rc = sim_world_every(world, x->config.cycle_us, x->config.cycle_us,
                             on_tick, x);
    if (rc < 0)
        violate(x, "bounds", "the simulator cannot schedule the checks: %s",
                g_strerror(-rc));
    x->heap_base = heap_in_use();
    /* Per node: buffers of Size, the seen-cache, a peer table, the
     * reconnection list; four times that, and 16 MiB, for the
     * simulator's own state and the allocator's slack. */
    size_t per_node = 8 * (size_t)x->config.size +
                      (size_t)x->config.seen_cache * 64 + x->n * 1024 +
                      64 * 1024;
    x->heap_bound = 4 * x->n * per_node + ((size_t)16 << 20);
}

static void on_finish(void *user, sim_world *world, bool complete)
{
    xc *x = user;
    (void)world;
    if (complete)
        check_end(x);
}

gboolean run_explore_check(const scn_scenario *sc,
                           const run_explore_check_options *opts,
                           run_explore_verdict *out, GError **error)
{
    memset(out, 0, sizeof *out);
    xc x = {
        .sc = sc,
        .opts = opts,
        .n = sc->cluster.nodes,
        .v = out,
        .published = g_array_new(FALSE, FALSE, sizeof(xc_published)),
    };
    if (peko_config_resolve(&sc->engine, &x.config) < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: the engine refuses the configuration", sc->name);
        g_array_free(x.published, TRUE);
        return FALSE;
    }
    x.config.timeout_us = timeout_of(&x.config, x.n);
    x.replay_cause = replay_cause(sc);
    x.keyed = sc->engine.secret_key != NULL && *sc->engine.secret_key != '\0';
    x.nodes = g_new0(xc_node, x.n);
    x.wrong = g_new0(uint8_t, x.n * x.n);
    x.window_from_us = sc->cluster.duration_us - membership_window_us(&x);
    static const run_sim_watch watch = {
        .start = on_start,
        .observer = &observer,
        .observer_user = observer_user,
        .hooks = {.delivered = on_delivered, .dropped = on_dropped},
        .finish = on_finish,
    };
    run_sim_options sim_opts = {
        .db_path = opts->db_path,
        .stop = &x.halt,
        .watch = &watch,
        .watch_user = &x,
    };
    run_sim_result result;
    gboolean ok = run_sim(sc, &sim_opts, &result, error);
    if (ok && !result.complete && !out->violated) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INTR,
                    "%s: stopped", sc->name);
        ok = FALSE;
    }
    if (ok) {
        out->replays = x.replays;
        for (size_t i = 0; i < x.n; i++)
            out->received += x.nodes[i].received;
        out->deliveries = result.deliveries;
        out->events = result.events;
        out->trace_hash = result.trace_hash;
        out->wall_s = result.wall_s;
    } else {
        run_explore_verdict_clear(out);
    }
    for (guint i = 0; i < x.published->len; i++)
        g_free(g_array_index(x.published, xc_published, i).bytes);
    g_array_free(x.published, TRUE);
    g_free(x.nodes);
    g_free(x.wrong);
    return ok;
}
