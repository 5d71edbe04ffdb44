/* testbed.c: one scenario on real sockets, recorded (testbed.h).
 *
 * The nodes are transports on one GMainContext, bound to the loopback
 * on consecutive ports where they are free. A schedule source, armed at
 * the next step's time, walks the runner's plan (runner.h): the initial
 * joins, the timeline's events and the membership samples, in the same
 * order as the simulator. What to do at each step is the runner's too,
 * as for `peko sim`; this file is the world it acts on.
 */
#include "testbed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "peko-transport.h"
#include "recorder.h"
#include "runner.h"
#include "testbed-workers.h"

/* Progress and the stop flag are looked at this often. */
#define TB_TICK_US 100000

/* The UDP receive buffer each node asks of the kernel when the scenario
 * leaves `buffer` unset. A real host reads its socket as soon as a
 * datagram lands; here a worker's loop serves hundreds of sockets, and
 * each waits its turn behind every other ready one, so the system's
 * default (about 200 small datagrams) overflows in bursts a host would
 * absorb: 512 nodes started at once and told of node 0, on a busy
 * machine, lost 3,222 datagrams at 40 sockets in a 30 s run, and
 * with them the rumors those carried; with this buffer, none. The kernel
 * caps the request at net.core.rmem_max, and charges only what is
 * queued. A scenario that sets `buffer` gets Buffer x Size, as pekonode
 * (docs/testbed.md). */
#define TB_RCVBUF_BYTES (4 << 20)

typedef struct testbed testbed;

typedef struct tb_node {
    testbed *tb;
    size_t index;
    peko_transport *tp;        /* NULL while down */
    peko_addr addr;            /* its address, kept across restarts */
    bool joined;               /* this incarnation has joined */
    uint32_t incarnation;      /* restarts so far */
    model_stream latency;      /* its latency draws, across restarts: the
                                * simulator's node's latency stream */
    peko_stats past;           /* engine counters of earlier incarnations */
    peko_transport_counters past_tp; /* and their transport's */
    uint64_t node_down;        /* its messages to a node that was down */
    const peko_observer *observer; /* the recorder's, for every incarnation */
    void *observer_user;
    /* A node another worker runs (--workers): never bound here; its
     * life as the timeline makes it, which every worker applies. */
    bool foreign;
    bool f_down, f_paused, f_stopped, f_joined;
} tb_node;

typedef struct tb_source {
    GSource base;
    testbed *tb;
} tb_source;

struct testbed {
    const scn_scenario *sc;
    const run_testbed_options *opts;
    run_runner runner;
    GMainContext *ctx;
    peko_transport_filter *filter;
    tb_node *nodes;
    size_t n;
    size_t first, last;        /* the nodes run here: [first, last) */
    peko_config config;        /* every engine's (the scenario's) */
    char host[PEKO_HOST_STRLEN];
    GHashTable *by_port;       /* port -> node index + 1 */
    const model_dist *latency; /* the default latency, as events set it */

    bool started;
    int64_t start_us;          /* monotonic time of the run's time 0 */
    int64_t end_us;            /* the scenario's duration */
    tb_source *schedule;
    GSource *ticker;
    bool done, stopped;
    int64_t late_max_us;

    tp_capture *capture;
    GSource *capture_source;
};

/* ------------------------------------------------------------------ */
/* Small things.                                                        */

/* Node nd's engine seed: the simulator's engine stream of that node
 * (model.h) in its first life; a restarted node draws from a fork of it,
 * one per restart. */
static uint64_t engine_seed(const testbed *tb, const tb_node *nd)
{
    uint64_t key = model_stream_key(
        tb->sc->cluster.seed,
        model_stream_index(MODEL_STREAM_ENGINE, (uint32_t)nd->index));
    return nd->incarnation ? model_stream_key(key, nd->incarnation) : key;
}

static int64_t run_now(const testbed *tb)
{
    return tb->started ? g_get_monotonic_time() - tb->start_us : 0;
}

static int64_t recorder_now(void *user)
{
    return run_now(user);
}

static bool index_of(const testbed *tb, const peko_addr *addr, size_t *out)
{
    gpointer v = g_hash_table_lookup(tb->by_port, GUINT_TO_POINTER(addr->port));
    if (v == NULL)
        return false;
    size_t i = GPOINTER_TO_SIZE(v) - 1;
    if (!peko_addr_equal(&tb->nodes[i].addr, addr))
        return false;
    *out = i;
    return true;
}

static peko_msg_type type_of(const uint8_t *bytes, size_t n)
{
    return peko_wire_type(bytes, n);
}

static void add_stats(peko_stats *acc, const peko_stats *s)
{
    for (size_t t = 0; t < PEKO_MSG_TYPE_COUNT; t++) {
        acc->sent[t] += s->sent[t];
        acc->sent_bytes[t] += s->sent_bytes[t];
        acc->received[t] += s->received[t];
        acc->received_bytes[t] += s->received_bytes[t];
    }
    acc->send_failed += s->send_failed;
}

static void add_counters(peko_transport_counters *acc,
                         const peko_transport_counters *k)
{
    acc->received += k->received;
    acc->received_bytes += k->received_bytes;
    acc->sent += k->sent;
    acc->sent_bytes += k->sent_bytes;
    acc->send_errors += k->send_errors;
    acc->filter_lost += k->filter_lost;
    acc->filter_partitioned += k->filter_partitioned;
    acc->oversize += k->oversize;
    acc->read_errors += k->read_errors;
    acc->kernel_dropped += k->kernel_dropped;
    acc->tcp_send_dropped += k->tcp_send_dropped;
    acc->delayed += k->delayed;
    acc->delay_dropped += k->delay_dropped;
    acc->delay_pending += k->delay_pending;
}

/* Node i's engine and transport counters over all its incarnations. */
static void node_totals(const tb_node *nd, peko_stats *es,
                        peko_transport_counters *k)
{
    *es = nd->past;
    *k = nd->past_tp;
    if (nd->tp) {
        peko_stats now;
        peko_nodelist_stats(peko_transport_nodelist(nd->tp), &now);
        add_stats(es, &now);
        peko_transport_counters tk;
        peko_transport_stats(nd->tp, &tk);
        add_counters(k, &tk);
    }
}

/* ------------------------------------------------------------------ */
/* The delay hook: the scenario's latency, drawn per message.           */

/* The latency from node `from` to node `to`: the region pair's when the
 * scenario gives it, else the default (the [network] latency, or the
 * last `network` event's). */
static const model_dist *latency_of(const testbed *tb, size_t from,
                                    size_t to)
{
    const scn_regions *rg = &tb->sc->regions;
    if (rg->n_regions > 0) {
        int a = scn_scenario_region_of(tb->sc, (uint32_t)from);
        int b = scn_scenario_region_of(tb->sc, (uint32_t)to);
        if (a >= 0 && b >= 0) {
            size_t k = (size_t)a * rg->n_regions + (size_t)b;
            if (rg->latency_set[k])
                return &rg->latency_us[k];
        }
    }
    return tb->latency;
}

static int64_t on_delay(void *user, const peko_addr *from,
                        const peko_addr *to, const uint8_t *bytes,
                        size_t n_bytes)
{
    tb_node *nd = user;
    testbed *tb = nd->tb;
    (void)from;
    size_t j;
    if (!index_of(tb, to, &j))
        return 0;
    if (tb->nodes[j].foreign ? tb->nodes[j].f_down
                             : tb->nodes[j].tp == NULL) {
        /* Nothing listens there: the kernel drops it (UDP) or refuses
         * the connection (TCP). Counted as the simulator counts it. */
        nd->node_down++;
        ana_recorder_traffic(tb->runner.rec, nd->index,
                             type_of(bytes, n_bytes), ANA_OUTCOME_NODE_DOWN,
                             1, n_bytes);
    }
    /* The simulator's sampler on the simulator's stream of this node. */
    return model_dist_sample_us(latency_of(tb, nd->index, j), &nd->latency);
}

/* ------------------------------------------------------------------ */
/* Nodes.                                                               */

/* Binds node nd at `port` (0: any) with a fresh engine. */
static gboolean node_open(tb_node *nd, uint16_t port, GError **error)
{
    testbed *tb = nd->tb;
    char name[32];
    g_snprintf(name, sizeof name, "node-%zu", nd->index);
    peko_transport_options o;
    peko_transport_options_init(&o);
    o.config = &tb->config;
    o.local = (peko_node){.addr = tb->host, .port = port, .name = name};
    o.observer = nd->observer;
    o.observer_user = nd->observer_user;
    o.filter = tb->filter;
    o.seeded = true;
    o.seed = engine_seed(tb, nd);
    o.context = tb->ctx;
    o.delay = on_delay;
    o.delay_user = nd;
    if (tb->config.buffer == 0)
        o.rcvbuf_bytes = TB_RCVBUF_BYTES;
    nd->tp = peko_transport_new(&o, error);
    nd->joined = false;
    return nd->tp != NULL;
}

/* Frees node nd's transport, keeping its counters. */
static void node_close(tb_node *nd)
{
    if (nd->tp == NULL)
        return;
    peko_stats es;
    peko_nodelist_stats(peko_transport_nodelist(nd->tp), &es);
    add_stats(&nd->past, &es);
    peko_transport_counters k;
    peko_transport_stats(nd->tp, &k);
    add_counters(&nd->past_tp, &k);
    peko_transport_free(nd->tp);
    nd->tp = NULL;
}

/* Node i's address from its port, on the cluster's host. */
static void set_addr(testbed *tb, size_t i, uint16_t port)
{
    tb_node *nd = &tb->nodes[i];
    if (peko_addr_parse(tb->host, port, &nd->addr) < 0)
        g_assert_not_reached(); /* the host was parsed when bound */
    g_hash_table_insert(tb->by_port, GUINT_TO_POINTER(port),
                        GSIZE_TO_POINTER(i + 1));
    /* Its losses from the simulator's loss stream of node i. */
    peko_transport_filter_set_stream(
        tb->filter, &nd->addr,
        model_stream_index(MODEL_STREAM_LOSS, (uint32_t)i));
}

/* Binds every node run here: the first where the kernel says, the others
 * on the ports after it where those are free (a capture filter over a
 * range of ports stays short), else where the kernel says. A worker then
 * swaps ports with the coordinator: its own out, every node's back, with
 * the common start time. */
static gboolean open_nodes(testbed *tb, int64_t *start_us, GError **error)
{
    tb->by_port = g_hash_table_new(g_direct_hash, g_direct_equal);
    uint16_t base = 0;
    for (size_t i = tb->first; i < tb->last; i++) {
        tb_node *nd = &tb->nodes[i];
        uint32_t want =
            i == tb->first ? 0 : (uint32_t)base + (uint32_t)(i - tb->first);
        GError *local = NULL;
        if (want > G_MAXUINT16 ||
            !node_open(nd, (uint16_t)want, want ? &local : error)) {
            if (want == 0)
                return FALSE;
            g_clear_error(&local);
            if (!node_open(nd, 0, error))
                return FALSE;
        }
        nd->addr = *peko_transport_local_addr(nd->tp);
        if (i == tb->first)
            base = nd->addr.port;
    }
    if (tb->opts->workers <= 1) {
        for (size_t i = 0; i < tb->n; i++)
            set_addr(tb, i, tb->nodes[i].addr.port);
        return TRUE;
    }
    uint16_t *ports = g_new(uint16_t, tb->n);
    for (size_t i = tb->first; i < tb->last; i++)
        ports[i - tb->first] = tb->nodes[i].addr.port;
    gboolean ok = run__tb_worker_exchange(tb->opts->control_fd, ports,
                                          tb->last - tb->first, tb->n,
                                          start_us, ports, error);
    for (size_t i = 0; ok && i < tb->n; i++) {
        if (i >= tb->first && i < tb->last &&
            ports[i] != tb->nodes[i].addr.port) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                        "the coordinator gave node %zu another port", i);
            ok = FALSE;
        } else if (g_hash_table_contains(tb->by_port,
                                         GUINT_TO_POINTER(ports[i]))) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                        "the coordinator gave port %u twice", ports[i]);
            ok = FALSE;
        } else {
            set_addr(tb, i, ports[i]);
        }
    }
    g_free(ports);
    return ok;
}

/* ------------------------------------------------------------------ */
/* The testbed as the runner's world (runner.h).                        */

static int64_t op_now_us(void *w)
{
    return run_now(w);
}

static peko_nodelist *op_node(void *w, size_t i)
{
    testbed *tb = w;
    return tb->nodes[i].tp ? peko_transport_nodelist(tb->nodes[i].tp)
                           : NULL;
}

static const peko_addr *op_addr(void *w, size_t i)
{
    testbed *tb = w;
    return &tb->nodes[i].addr;
}

static run_node_state op_state(void *w, size_t i)
{
    testbed *tb = w;
    const tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return nd->f_down     ? RUN_NODE_DOWN
               : nd->f_paused ? RUN_NODE_PAUSED
                              : RUN_NODE_UP;
    if (nd->tp == NULL)
        return RUN_NODE_DOWN;
    return peko_transport_is_paused(nd->tp) ? RUN_NODE_PAUSED : RUN_NODE_UP;
}

static bool op_is_running(void *w, size_t i)
{
    testbed *tb = w;
    const tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return !nd->f_down && nd->f_joined && !nd->f_stopped;
    return nd->tp && peko_nodelist_is_running(peko_transport_nodelist(nd->tp));
}

/* The lifecycle of a node another worker runs: what its own worker does
 * to it, as the state the runner asks about, with the same answers for
 * a node already in that state. */
enum { F_JOIN, F_CRASH, F_RESTART, F_PAUSE, F_RESUME, F_STOP, F_START };

static int foreign_op(tb_node *nd, int op)
{
    switch (op) {
    case F_JOIN:
        if (nd->f_down)
            return -ENODEV;
        if (nd->f_joined)
            return -EALREADY;
        nd->f_joined = true;
        return 0;
    case F_CRASH:
        if (nd->f_down)
            return -EALREADY;
        nd->f_down = true;
        nd->f_paused = nd->f_stopped = nd->f_joined = false;
        return 0;
    case F_RESTART:
        if (!nd->f_down)
            return -EBUSY;
        nd->f_down = false;
        nd->f_joined = true;
        return 0;
    case F_PAUSE:
        if (nd->f_down)
            return -ENODEV;
        nd->f_paused = true;
        return 0;
    case F_RESUME:
        if (nd->f_down)
            return -EALREADY;
        nd->f_paused = false;
        return 0;
    case F_STOP:
        if (nd->f_down)
            return -ENODEV;
        nd->f_stopped = true;
        return 0;
    default: /* F_START */
        if (nd->f_down)
            return -ENODEV;
        nd->f_stopped = false;
        return 0;
    }
}

static void op_observe(void *w, size_t i, const peko_observer *observer,
                       void *user)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    nd->observer = observer;
    nd->observer_user = user;
    if (nd->tp)
        peko_nodelist_set_observer(peko_transport_nodelist(nd->tp), observer,
                                   user);
}

/* Gives node i its seeds (pekonode's Set), then joins it. */
static int op_join(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_JOIN);
    if (nd->tp == NULL)
        return -ENODEV;
    peko_nodelist *nl = peko_transport_nodelist(nd->tp);
    size_t seeds[SCN_MAX_SEEDS];
    size_t k = run_seeds(tb->sc, (uint32_t)i, seeds);
    for (size_t s = 0; s < k; s++) {
        const tb_node *seed = &tb->nodes[seeds[s]];
        char host[PEKO_HOST_STRLEN], name[32];
        peko_addr_host(&seed->addr, host);
        g_snprintf(name, sizeof name, "node-%zu", seeds[s]);
        int rc = peko_nodelist_set(nl, &(peko_node){.addr = host,
                                                    .port = seed->addr.port,
                                                    .name = name});
        if (rc < 0)
            return rc;
    }
    int rc = peko_nodelist_join(nl);
    if (rc == 0)
        nd->joined = true;
    return rc;
}

static int op_crash(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_CRASH);
    if (nd->tp == NULL)
        return -EALREADY;
    node_close(nd);
    return 0;
}

/* A fresh transport and engine on the same port, seeded anew, which
 * rejoins through its seeds. */
static int op_restart(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_RESTART);
    if (nd->tp != NULL)
        return -EBUSY;
    nd->incarnation++;
    GError *error = NULL;
    if (!node_open(nd, nd->addr.port, &error)) {
        /* Another program took the port meanwhile. */
        fprintf(stderr, "peko testbed: node %zu cannot restart: %s\n", i,
                error->message);
        g_error_free(error);
        return -EADDRINUSE;
    }
    return op_join(w, i);
}

static int op_pause(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_PAUSE);
    return nd->tp ? peko_transport_pause(nd->tp) : -ENODEV;
}

static int op_resume(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_RESUME);
    return nd->tp ? peko_transport_resume(nd->tp) : -EALREADY;
}

static int op_stop(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_STOP);
    if (nd->tp == NULL)
        return -ENODEV;
    peko_nodelist_stop(peko_transport_nodelist(nd->tp));
    return 0;
}

static int op_start(void *w, size_t i)
{
    testbed *tb = w;
    tb_node *nd = &tb->nodes[i];
    if (nd->foreign)
        return foreign_op(nd, F_START);
    if (nd->tp == NULL)
        return -ENODEV;
    peko_nodelist_start(peko_transport_nodelist(nd->tp));
    return 0;
}

static peko_addr *addrs_of(const testbed *tb, const size_t *idx, size_t n)
{
    peko_addr *out = g_new(peko_addr, n ? n : 1);
    for (size_t k = 0; k < n; k++)
        out[k] = tb->nodes[idx[k]].addr;
    return out;
}

static int op_partition(void *w, const size_t *a, size_t n_a,
                        const size_t *b, size_t n_b, bool one_way)
{
    testbed *tb = w;
    peko_addr *aa = addrs_of(tb, a, n_a);
    peko_addr *ab = addrs_of(tb, b, n_b);
    int id = peko_transport_filter_partition(tb->filter, aa, n_a, ab, n_b,
                                             one_way);
    g_free(aa);
    g_free(ab);
    return id;
}

static int op_partition_groups(void *w, const size_t *const *groups,
                               const size_t *n_each, size_t n_groups)
{
    testbed *tb = w;
    peko_addr **g = g_new(peko_addr *, n_groups);
    for (size_t k = 0; k < n_groups; k++)
        g[k] = addrs_of(tb, groups[k], n_each[k]);
    int id = peko_transport_filter_partition_groups(
        tb->filter, (const peko_addr *const *)g, n_each, n_groups);
    for (size_t k = 0; k < n_groups; k++)
        g_free(g[k]);
    g_free(g);
    return id;
}

static int op_heal(void *w, int id)
{
    testbed *tb = w;
    return peko_transport_filter_heal(tb->filter, id);
}

static void op_heal_all(void *w)
{
    testbed *tb = w;
    peko_transport_filter_heal_all(tb->filter);
}

static int set_loss(testbed *tb, const model_loss *l)
{
    if (l->kind == MODEL_LOSS_GILBERT_ELLIOTT)
        return peko_transport_filter_set_gilbert_elliott(
            tb->filter, l->p_good_to_bad, l->p_bad_to_good, l->loss_good,
            l->loss_bad);
    return peko_transport_filter_set_loss(tb->filter, l->rate);
}

static void op_set_network(void *w, const scn_event *ev)
{
    testbed *tb = w;
    if (ev->network.set_latency)
        tb->latency = &ev->network.latency_us; /* lives as long as sc */
    if (ev->network.set_loss)
        set_loss(tb, &ev->network.loss);
    /* Duplication is not emulated (run_testbed_notes() says so). */
}

static const run_ops testbed_ops = {
    .now_us = op_now_us,
    .node = op_node,
    .addr = op_addr,
    .state = op_state,
    .is_running = op_is_running,
    .observe = op_observe,
    .join = op_join,
    .crash = op_crash,
    .restart = op_restart,
    .pause = op_pause,
    .resume = op_resume,
    .stop = op_stop,
    .start = op_start,
    .partition = op_partition,
    .partition_groups = op_partition_groups,
    .heal = op_heal,
    .heal_all = op_heal_all,
    .set_network = op_set_network,
};

/* ------------------------------------------------------------------ */
/* The plan, in real time.                                              */

/* Runs every step due by now, in order, then arms the schedule for the
 * next one, or ends the run once its duration has passed and nothing
 * at or before it is left. */
static void run_due(testbed *tb)
{
    int64_t now = run_now(tb);
    int64_t next = INT64_MAX;
    for (;;) {
        run_step step;
        next = run_runner_peek(&tb->runner, &step) ? step.t_us : INT64_MAX;
        if (next > now || next > tb->end_us)
            break;
        tb->late_max_us = MAX(tb->late_max_us, now - next);
        run_runner_step(&tb->runner);
        now = run_now(tb);
    }
    if (next > tb->end_us && now >= tb->end_us) {
        tb->done = true;
        g_source_set_ready_time(&tb->schedule->base, -1);
        return;
    }
    g_source_set_ready_time(&tb->schedule->base,
                            tb->start_us + MIN(next, tb->end_us));
}

static gboolean schedule_dispatch(GSource *base, GSourceFunc unused,
                                  gpointer data)
{
    tb_source *s = (tb_source *)base;
    g_source_set_ready_time(base, -1);
    run_due(s->tb);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs schedule_funcs = {
    .dispatch = schedule_dispatch,
};

static size_t live_nodes(const testbed *tb)
{
    size_t live = 0;
    for (size_t i = 0; i < tb->n; i++) {
        const tb_node *nd = &tb->nodes[i];
        live += nd->tp && !peko_transport_is_paused(nd->tp) &&
                peko_nodelist_is_running(peko_transport_nodelist(nd->tp));
    }
    return live;
}

static uint64_t deliveries(const testbed *tb)
{
    uint64_t n = 0;
    for (size_t i = 0; i < tb->n; i++) {
        peko_stats es;
        peko_transport_counters k;
        node_totals(&tb->nodes[i], &es, &k);
        n += k.received;
    }
    return n;
}

static gboolean on_tick(gpointer user)
{
    testbed *tb = user;
    if (tb->opts->stop && *tb->opts->stop) {
        tb->done = true;
        tb->stopped = true;
    }
    if (tb->opts->progress)
        tb->opts->progress(tb->opts->progress_user,
                           MIN(run_now(tb), tb->end_us), tb->end_us,
                           live_nodes(tb), deliveries(tb));
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Setting up and ending.                                               */

static bool is_loopback(const char *text)
{
    peko_addr a;
    if (text == NULL || peko_addr_parse(text, 0, &a) < 0)
        return false;
    if (a.family == PEKO_AF_INET4)
        return a.ip[0] == 127;
    static const uint8_t v6_loopback[16] = {[15] = 1};
    return memcmp(a.ip, v6_loopback, 16) == 0;
}

static gboolean open_capture(testbed *tb, GError **error)
{
    uint16_t *ports = g_new(uint16_t, tb->n);
    for (size_t i = 0; i < tb->n; i++)
        ports[i] = tb->nodes[i].addr.port;
    peko_config resolved;
    peko_config_resolve(&tb->config, &resolved);
    tp_capture_options co;
    tp_capture_options_init(&co);
    co.protocol = tb->config.protocol;
    co.ports = ports;
    co.port_count = tb->n;
    co.size = resolved.size;
    co.pcap_path = tb->opts->capture_path;
    tb->capture = tp_capture_open(&co, error);
    g_free(ports);
    if (tb->capture == NULL)
        return FALSE;
    tb->capture_source = tp_capture_source_new(tb->capture);
    g_source_attach(tb->capture_source, tb->ctx);
    return TRUE;
}

static gboolean set_up(testbed *tb, int64_t *start_us, GError **error)
{
    const scn_scenario *sc = tb->sc;
    tb->config = sc->engine;
    /* The loopback only: the scenario's listen address if it is a
     * loopback one (::1 runs the cluster on IPv6), else 127.0.0.1. */
    const char *host = is_loopback(sc->listen_addr) ? sc->listen_addr
                                                    : "127.0.0.1";
    g_strlcpy(tb->host, host, sizeof tb->host);
    tb->config.listen_addr = tb->host;
    if (tb->opts->print)
        tb->config.is_print = true;

    tb->filter = peko_transport_filter_new(sc->cluster.seed);
    if (set_loss(tb, &sc->network.loss) < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: the filter refused the scenario's loss", sc->name);
        return FALSE;
    }
    tb->latency = &sc->network.latency_us;
    tb->nodes = g_new0(tb_node, tb->n);
    for (size_t i = 0; i < tb->n; i++) {
        tb_node *nd = &tb->nodes[i];
        nd->tb = tb;
        nd->index = i;
        nd->foreign = i < tb->first || i >= tb->last;
        model_node_stream(&nd->latency, sc->cluster.seed,
                          MODEL_STREAM_LATENCY, (uint32_t)i);
    }
    if (!open_nodes(tb, start_us, error))
        return FALSE;

    /* The capture before the first join, so it sees every packet, and
     * before the recording, so a capture refused leaves no run behind. */
    if (tb->opts->capture_path && !open_capture(tb, error))
        return FALSE;
    run_runner_init(&tb->runner, sc, &testbed_ops, tb);
    run_recording how = {
        .db_path = tb->opts->db_path,
        .source = "testbed",
        .now_us = recorder_now,
        .now_user = tb,
    };
    if (!run_runner_open_recorder(&tb->runner, &how, error))
        return FALSE;
    for (size_t i = 0; i < tb->n; i++)
        if (tb->nodes[i].foreign)
            ana_recorder_set_foreign(tb->runner.rec, i);
    return TRUE;
}

/* What the transports know and the engines do not, per node: packets
 * handed over, and those the filter, the queues or the kernel dropped.
 * Types are unknown to them (recorded as "unknown"); messages to a node
 * that was down were counted by type as they were sent. */
static void record_transport_counts(testbed *tb)
{
    ana_recorder *rec = tb->runner.rec;
    bool tcp = tb->config.protocol == PEKO_PROTOCOL_TCP;
    for (size_t i = 0; i < tb->n; i++) {
        const tb_node *nd = &tb->nodes[i];
        if (nd->foreign)
            continue; /* its worker counts it */
        peko_stats es;
        peko_transport_counters k;
        node_totals(nd, &es, &k);
        ana_recorder_traffic(rec, i, 0, ANA_OUTCOME_DELIVERED, k.received,
                             k.received_bytes);
        if (k.filter_lost)
            ana_recorder_traffic(rec, i, 0, ANA_OUTCOME_LOST, k.filter_lost,
                                 0);
        if (k.filter_partitioned)
            ana_recorder_traffic(rec, i, 0, ANA_OUTCOME_PARTITIONED,
                                 k.filter_partitioned, 0);
        /* Over TCP, messages to a node that was down are dropped with
         * their connection (tcp_send_dropped): counted once, as
         * node_down. */
        uint64_t tcp_dropped = k.tcp_send_dropped;
        if (tcp)
            tcp_dropped = tcp_dropped > nd->node_down
                              ? tcp_dropped - nd->node_down
                              : 0;
        uint64_t overflow = k.kernel_dropped + k.delay_dropped + tcp_dropped;
        if (overflow)
            ana_recorder_traffic(rec, i, 0, ANA_OUTCOME_QUEUE_OVERFLOW,
                                 overflow, 0);
        if (k.oversize)
            ana_recorder_traffic(rec, i, 0, ANA_OUTCOME_OVERSIZE, k.oversize,
                                 0);
    }
}

/* The capture's reconciliation against the engines' counters. Call with
 * every transport still open (their counters), before the capture is
 * closed. */
static void count_for_capture(testbed *tb, run_testbed_capture *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < tb->n; i++) {
        peko_stats es;
        peko_transport_counters k;
        node_totals(&tb->nodes[i], &es, &k);
        for (size_t t = 0; t < PEKO_MSG_TYPE_COUNT; t++) {
            c->engine_sent[t] += es.sent[t];
            c->engine_sent_bytes[t] += es.sent_bytes[t];
        }
        c->filter_lost += k.filter_lost;
        c->filter_partitioned += k.filter_partitioned;
        c->delay_pending += k.delay_pending;
        c->tcp_send_dropped += k.tcp_send_dropped;
        c->kernel_dropped += k.kernel_dropped;
    }
}

static void testbed_clear(testbed *tb)
{
    if (tb->schedule) {
        g_source_destroy(&tb->schedule->base);
        g_source_unref(&tb->schedule->base);
    }
    if (tb->ticker) {
        g_source_destroy(tb->ticker);
        g_source_unref(tb->ticker);
    }
    if (tb->capture_source) {
        g_source_destroy(tb->capture_source);
        g_source_unref(tb->capture_source);
    }
    if (tb->capture)
        tp_capture_close(tb->capture, NULL, NULL);
    for (size_t i = 0; tb->nodes && i < tb->n; i++)
        node_close(&tb->nodes[i]);
    run_runner_clear(&tb->runner);
    g_free(tb->nodes);
    if (tb->by_port)
        g_hash_table_destroy(tb->by_port);
    peko_transport_filter_free(tb->filter);
    /* Sources the transports left to finalize. */
    while (g_main_context_pending(tb->ctx))
        g_main_context_iteration(tb->ctx, FALSE);
    g_main_context_unref(tb->ctx);
}

/* ------------------------------------------------------------------ */

char **run_testbed_notes(const scn_scenario *sc)
{
    GPtrArray *notes = g_ptr_array_new();
    bool duplicate = sc->network.duplicate > 0;
    for (size_t e = 0; e < sc->n_events; e++)
        duplicate |= sc->events[e].kind == SCN_EVENT_NETWORK &&
                     sc->events[e].network.set_duplicate &&
                     sc->events[e].network.duplicate > 0;
    if (duplicate)
        g_ptr_array_add(notes, g_strdup("duplication (network.duplicate) is"
                                        " not emulated: no packet is"
                                        " delivered twice"));
    if (sc->network.bandwidth_bps > 0)
        g_ptr_array_add(notes, g_strdup("bandwidth (network.bandwidth) is"
                                        " not emulated: the loopback's"
                                        " applies"));
    if (sc->network.processing_us > 0)
        g_ptr_array_add(notes, g_strdup("processing and host_cores"
                                        " (network.processing) model a"
                                        " host: the testbed's is real"));
    if (model_dist_mean(&sc->clock.skew_us) != 0 ||
        sc->clock.skew_us.kind != MODEL_DIST_CONSTANT ||
        model_dist_mean(&sc->clock.drift_ppm) != 0 ||
        sc->clock.drift_ppm.kind != MODEL_DIST_CONSTANT ||
        sc->clock.n_entries > 0)
        g_ptr_array_add(notes, g_strdup("clock skew and drift ([clock]) are"
                                        " not emulated: every node reads the"
                                        " same monotonic clock"));
    if (sc->engine.protocol == PEKO_PROTOCOL_TCP &&
        model_loss_mean(&sc->network.loss) > 0)
        g_ptr_array_add(notes, g_strdup("over TCP the filter drops a lost"
                                        " message outright, where the"
                                        " simulator retransmits it later"));
    g_ptr_array_add(notes, NULL);
    return (char **)g_ptr_array_free(notes, FALSE);
}

gboolean run_testbed(const scn_scenario *sc, const run_testbed_options *opts,
                     run_testbed_result *out, GError **error)
{
    memset(out, 0, sizeof *out);
    testbed tb = {
        .sc = sc,
        .opts = opts,
        .n = sc->cluster.nodes,
        .end_us = sc->cluster.duration_us,
        .ctx = g_main_context_new(),
    };
    /* A worker's share: a contiguous block, so its ports are too. */
    size_t n_workers = opts->workers > 1 ? opts->workers : 1;
    size_t worker = opts->workers > 1 ? opts->worker : 0;
    tb.first = tb.n * worker / n_workers;
    tb.last = tb.n * (worker + 1) / n_workers;
    int64_t common_start_us = 0;
    if (!set_up(&tb, &common_start_us, error)) {
        testbed_clear(&tb);
        return FALSE;
    }

    tb.schedule = (tb_source *)g_source_new(&schedule_funcs,
                                            sizeof *tb.schedule);
    tb.schedule->tb = &tb;
    g_source_set_name(&tb.schedule->base, "peko-testbed-schedule");
    g_source_attach(&tb.schedule->base, tb.ctx);
    tb.ticker = g_timeout_source_new(TB_TICK_US / 1000);
    g_source_set_callback(tb.ticker, on_tick, &tb, NULL);
    g_source_attach(tb.ticker, tb.ctx);

    /* Time 0: the recorder read 0 when it opened, and every time from
     * now on is relative to this instant. */
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    tb.start_us = g_get_monotonic_time();
    if (opts->workers > 1) {
        /* Every worker's time 0 is the same instant of the machine's one
         * monotonic clock: the timeline is applied by all at the same
         * real times. */
        if (common_start_us > tb.start_us)
            g_usleep((gulong)(common_start_us - tb.start_us));
        tb.start_us = common_start_us;
    }
    tb.started = true;
    run_due(&tb);
    while (!tb.done)
        g_main_context_iteration(tb.ctx, TRUE);
    int64_t run_us = run_now(&tb);

    out->nodes = tb.n;
    out->complete = !tb.stopped;
    out->run_time_us = run_us;
    out->wall_s = (double)run_us / 1e6;
    out->late_max_us = tb.late_max_us;
    out->port_first = out->port_last = tb.nodes[0].addr.port;
    for (size_t i = 0; i < tb.n; i++) {
        out->port_first = MIN(out->port_first, tb.nodes[i].addr.port);
        out->port_last = MAX(out->port_last, tb.nodes[i].addr.port);
        peko_stats es;
        peko_transport_counters k;
        node_totals(&tb.nodes[i], &es, &k);
        out->deliveries += k.received;
        out->delayed += k.delayed;
    }
    out->run_id = ana_recorder_run_id(tb.runner.rec);

    /* Nothing runs from here on: the counters are final. */
    record_transport_counts(&tb);
    gboolean ok = TRUE;
    if (tb.capture) {
        out->captured = true;
        count_for_capture(&tb, &out->capture);
        for (size_t i = 0; i < tb.n; i++)
            node_close(&tb.nodes[i]);
        g_source_destroy(tb.capture_source);
        g_source_unref(tb.capture_source);
        tb.capture_source = NULL;
        ok = tp_capture_close(tb.capture, &out->capture.stats, error);
        tb.capture = NULL;
        for (size_t t = 0; t < PEKO_MSG_TYPE_COUNT; t++)
            if (out->capture.stats.packets[t])
                ana_recorder_traffic(tb.runner.rec, 0, (peko_msg_type)t,
                                     ANA_OUTCOME_CAPTURED,
                                     out->capture.stats.packets[t],
                                     out->capture.stats.bytes[t]);
    }

    GError *finish_error = NULL;
    if (!ana_recorder_finish(tb.runner.rec,
                             tb.stopped ? ANA_STATUS_INCOMPLETE
                                        : ANA_STATUS_COMPLETE,
                             NULL, run_us, out->wall_s, 0, out->deliveries,
                             &finish_error)) {
        if (ok)
            g_propagate_error(error, finish_error);
        else
            g_clear_error(&finish_error);
        ok = FALSE;
    }
    if (ok && tb.runner.error) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
                    tb.runner.error);
        ok = FALSE;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->peak_rss_kib = ru.ru_maxrss;
        double t0 = (double)ru0.ru_utime.tv_sec + ru0.ru_utime.tv_usec / 1e6 +
                    (double)ru0.ru_stime.tv_sec + ru0.ru_stime.tv_usec / 1e6;
        double t1 = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        out->cpu_s = t1 - t0;
    }
    testbed_clear(&tb);
    return ok;
}
