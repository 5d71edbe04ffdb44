/* sim.c: one scenario in the simulator, recorded (sim.h). */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "budget.h"
#include "recorder.h"
#include "runner.h"
#include "world.h"

typedef struct simrun simrun;

typedef struct simrun_step {
    simrun *run;
    const run_step *step;       /* the runner's plan's */
} simrun_step;

/* A node's engine observed by the recorder and a watch at once. */
typedef struct simrun_tee {
    void *rec_user;             /* the recorder's context for the node */
    void *watch_user;
    const peko_observer *watch; /* borrowed from the watch */
} simrun_tee;

struct simrun {
    const scn_scenario *sc;
    sim_world *world;
    run_runner runner;          /* the recorder, the timeline's state */
    size_t n;
    simrun_step *steps;         /* one per step of the runner's plan */
    const run_sim_watch *watch; /* NULL: none */
    void *watch_user;
    simrun_tee *tees;           /* per node, when both observe */
};

/* ------------------------------------------------------------------ */
/* The simulator's values in the recorder's vocabulary.                 */

static ana_outcome outcome_of_drop(sim_drop_cause cause)
{
    switch (cause) {
    case SIM_DROP_LOSS:
        return ANA_OUTCOME_LOST;
    case SIM_DROP_PARTITION:
        return ANA_OUTCOME_PARTITIONED;
    case SIM_DROP_SEND_QUEUE:
    case SIM_DROP_RECV_BUFFER:
        return ANA_OUTCOME_QUEUE_OVERFLOW;
    case SIM_DROP_OVERSIZE:
        return ANA_OUTCOME_OVERSIZE;
    case SIM_DROP_NODE_DOWN:
    default:
        return ANA_OUTCOME_NODE_DOWN;
    }
}

static peko_msg_type msg_type(int type)
{
    return type > 0 && type < PEKO_MSG_TYPE_COUNT ? (peko_msg_type)type
                                                  : (peko_msg_type)0;
}

/* ------------------------------------------------------------------ */
/* Hooks and callbacks.                                                 */

/* Deliveries reach the recorder in bulk at the end (record_deliveries):
 * the world counts them by node and type, and a hook call per delivery
 * was a twentieth of a large run. This hook is set only for a watch. */
static void on_delivered(void *user, size_t from, size_t to, int type,
                         size_t n_bytes)
{
    simrun *run = user;
    if (run->watch && run->watch->hooks.delivered)
        run->watch->hooks.delivered(run->watch_user, from, to, type,
                                    n_bytes);
}

static void on_dropped(void *user, size_t from, size_t to, int type,
                       size_t n_bytes, sim_drop_cause cause)
{
    simrun *run = user;
    if (run->runner.rec)
        ana_recorder_traffic(run->runner.rec, from, msg_type(type),
                             outcome_of_drop(cause), 1, n_bytes);
    if (run->watch && run->watch->hooks.dropped)
        run->watch->hooks.dropped(run->watch_user, from, to, type, n_bytes,
                                  cause);
}

/* ------------------------------------------------------------------ */
/* The recorder's observer and a watch's, both on one engine.          */

#define TEE(member, ...)                                                     \
    do {                                                                     \
        simrun_tee *t = user;                                                \
        const peko_observer *rec = ana_recorder_observer();                  \
        if (rec->member)                                                     \
            rec->member(t->rec_user, __VA_ARGS__);                           \
        if (t->watch->member)                                                \
            t->watch->member(t->watch_user, __VA_ARGS__);                    \
    } while (0)

static void tee_node_added(void *user, const peko_addr *node)
{
    TEE(node_added, node);
}

static void tee_node_refreshed(void *user, const peko_addr *node)
{
    TEE(node_refreshed, node);
}

static void tee_node_expired(void *user, const peko_addr *node)
{
    TEE(node_expired, node);
}

static void tee_rumor_created(void *user, const peko_rumor *rumor)
{
    TEE(rumor_created, rumor);
}

static void tee_rumor_first_seen(void *user, const peko_rumor *rumor,
                                 unsigned hops, const peko_addr *from)
{
    TEE(rumor_first_seen, rumor, hops, from);
}

static void tee_rumor_duplicate(void *user, const peko_rumor *rumor,
                                unsigned hops, const peko_addr *from)
{
    TEE(rumor_duplicate, rumor, hops, from);
}

static void tee_metadata_applied(void *user, const peko_version *version,
                                 peko_msg_type via, size_t n_bytes)
{
    TEE(metadata_applied, version, via, n_bytes);
}

static void tee_packet_sent(void *user, peko_msg_type type,
                            const peko_addr *to, size_t n_bytes)
{
    TEE(packet_sent, type, to, n_bytes);
}

static void tee_packet_received(void *user, peko_msg_type type,
                                const peko_addr *from, size_t n_bytes)
{
    TEE(packet_received, type, from, n_bytes);
}

static void tee_packet_rejected(void *user, peko_reject reason,
                                const peko_addr *from, size_t n_bytes)
{
    TEE(packet_rejected, reason, from, n_bytes);
}

static void tee_heartbeat_learned(void *user, const peko_rumor *rumor,
                                  peko_msg_type via, const peko_addr *from)
{
    TEE(heartbeat_learned, rumor, via, from);
}

static void tee_clock_offset(void *user, const peko_addr *peer,
                             int64_t offset_us, int64_t error_us)
{
    TEE(clock_offset, peer, offset_us, error_us);
}

static const peko_observer tee_observer = {
    .version = PEKO_OBSERVER_VERSION,
    .node_added = tee_node_added,
    .node_refreshed = tee_node_refreshed,
    .node_expired = tee_node_expired,
    .rumor_created = tee_rumor_created,
    .rumor_first_seen = tee_rumor_first_seen,
    .rumor_duplicate = tee_rumor_duplicate,
    .metadata_applied = tee_metadata_applied,
    .packet_sent = tee_packet_sent,
    .packet_received = tee_packet_received,
    .packet_rejected = tee_packet_rejected,
    .heartbeat_learned = tee_heartbeat_learned,
    .clock_offset = tee_clock_offset,
};

/* Gives every engine the watch's observer, beside the recorder's when
 * the run is recorded. */
static void observe_for_watch(simrun *run)
{
    const run_sim_watch *watch = run->watch;
    if (watch == NULL || watch->observer == NULL)
        return;
    if (run->runner.rec)
        run->tees = g_new0(simrun_tee, run->n);
    for (size_t i = 0; i < run->n; i++) {
        void *user = watch->observer_user
                         ? watch->observer_user(run->watch_user, i)
                         : run->watch_user;
        if (run->tees == NULL) {
            sim_world_set_observer(run->world, i, watch->observer, user);
            continue;
        }
        run->tees[i] = (simrun_tee){
            .rec_user = ana_recorder_node_ctx(run->runner.rec, i),
            .watch_user = user,
            .watch = watch->observer,
        };
        sim_world_set_observer(run->world, i, &tee_observer, &run->tees[i]);
    }
}

static int64_t world_now(void *user)
{
    return sim_world_now_us(user);
}

static void on_step(sim_world *world, void *user)
{
    simrun_step *ss = user;
    (void)world;
    run_runner_do(&ss->run->runner, ss->step);
}

static void on_sample(sim_world *world, void *user)
{
    simrun *run = user;
    (void)world;
    run_runner_sample(&run->runner);
}

/* ------------------------------------------------------------------ */
/* The simulated world as the runner's world (runner.h).                */

static int64_t op_now_us(void *w)
{
    return sim_world_now_us(w);
}

static peko_nodelist *op_node(void *w, size_t i)
{
    return sim_world_node(w, i);
}

static const peko_addr *op_addr(void *w, size_t i)
{
    return sim_world_addr(w, i);
}

static run_node_state op_state(void *w, size_t i)
{
    switch (sim_world_node_state(w, i)) {
    case SIM_NODE_PAUSED:
        return RUN_NODE_PAUSED;
    case SIM_NODE_DOWN:
        return RUN_NODE_DOWN;
    case SIM_NODE_UP:
    default:
        return RUN_NODE_UP;
    }
}

static void op_observe(void *w, size_t i, const peko_observer *observer,
                       void *user)
{
    sim_world_set_observer(w, i, observer, user);
}

static int op_join(void *w, size_t i)
{
    return sim_world_join(w, i);
}

static int op_crash(void *w, size_t i)
{
    return sim_world_crash(w, i);
}

static int op_restart(void *w, size_t i)
{
    return sim_world_restart(w, i);
}

static int op_pause(void *w, size_t i)
{
    return sim_world_pause(w, i);
}

static int op_resume(void *w, size_t i)
{
    return sim_world_resume(w, i);
}

static int op_stop(void *w, size_t i)
{
    return sim_world_stop(w, i);
}

static int op_start(void *w, size_t i)
{
    return sim_world_start(w, i);
}

static int op_partition(void *w, const size_t *a, size_t n_a,
                        const size_t *b, size_t n_b, bool one_way)
{
    return sim_world_partition(w, a, n_a, b, n_b, one_way);
}

static int op_partition_groups(void *w, const size_t *const *groups,
                               const size_t *n_each, size_t n_groups)
{
    return sim_world_partition_groups(w, groups, n_each, n_groups);
}

static int op_heal(void *w, int id)
{
    return sim_world_heal(w, id);
}

static void op_heal_all(void *w)
{
    sim_world_heal_all(w);
}

static void op_set_network(void *w, const scn_event *ev)
{
    if (ev->network.set_latency)
        sim_world_set_latency(w, &ev->network.latency_us);
    if (ev->network.set_loss)
        sim_world_set_loss(w, &ev->network.loss);
    if (ev->network.set_duplicate)
        sim_world_set_duplicate(w, ev->network.duplicate);
}

static const run_ops sim_ops = {
    .now_us = op_now_us,
    .node = op_node,
    .addr = op_addr,
    .state = op_state,
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
/* Building the world.                                                  */

static gboolean fail(GError **error, const char *what, int rc)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-rc),
                "%s: %s", what, g_strerror(-rc));
    return FALSE;
}

static gboolean set_up_network(simrun *run, GError **error)
{
    const scn_scenario *sc = run->sc;
    sim_world *w = run->world;
    int rc = sim_world_set_latency(w, &sc->network.latency_us);
    if (rc < 0)
        return fail(error, "the scenario's latency", rc);
    if ((rc = sim_world_set_loss(w, &sc->network.loss)) < 0)
        return fail(error, "the scenario's loss", rc);
    if ((rc = sim_world_set_duplicate(w, sc->network.duplicate)) < 0)
        return fail(error, "the scenario's duplication", rc);
    if (sc->network.bandwidth_bps > 0 ||
        sc->network.send_queue != SIM_WORLD_DEFAULT_SEND_QUEUE)
        for (size_t i = 0; i < run->n; i++)
            if ((rc = sim_world_set_uplink(w, i, sc->network.bandwidth_bps,
                                           sc->network.send_queue)) < 0)
                return fail(error, "the scenario's bandwidth", rc);
    /* The scenario's bound is the world's, typed where run/ sees both. */
    G_STATIC_ASSERT(SCN_HOST_CORES_MAX == SIM_WORLD_MAX_HOST_CORES);
    if (sc->network.processing_us > 0) {
        for (size_t i = 0; i < run->n; i++)
            if ((rc = sim_world_set_rx_cost(w, i,
                                            sc->network.processing_us)) < 0)
                return fail(error, "the scenario's processing", rc);
        if ((rc = sim_world_set_host_cores(w, sc->network.host_cores)) < 0)
            return fail(error, "the scenario's host_cores", rc);
    }

    size_t n_regions = sc->regions.n_regions;
    if (n_regions > 0) {
        uint16_t *region_of = g_new(uint16_t, run->n);
        for (size_t i = 0; i < run->n; i++)
            region_of[i] = (uint16_t)scn_scenario_region_of(sc, (uint32_t)i);
        rc = sim_world_set_regions(w, region_of, n_regions,
                                   sc->regions.latency_us,
                                   sc->regions.latency_set);
        g_free(region_of);
        if (rc < 0)
            return fail(error, "the scenario's regions", rc);
    }

    /* Clocks: from each node's clock stream. */
    for (size_t i = 0; i < run->n; i++) {
        model_stream rng;
        model_node_stream(&rng, sc->cluster.seed, MODEL_STREAM_CLOCK,
                          (uint32_t)i);
        int64_t offset_us;
        double drift_ppm;
        scn_scenario_clock(sc, (uint32_t)i, &rng, &offset_us, &drift_ppm);
        if (offset_us == 0 && drift_ppm == 0)
            continue;
        if ((rc = sim_world_set_clock(w, i, offset_us, drift_ppm)) < 0)
            return fail(error, "the scenario's clocks", rc);
    }
    return TRUE;
}

static gboolean set_up_nodes(simrun *run, GError **error)
{
    const scn_scenario *sc = run->sc;
    size_t *seeds = g_new(size_t, SCN_MAX_SEEDS);
    for (size_t i = 0; i < run->n; i++) {
        size_t k = run_seeds(sc, (uint32_t)i, seeds);
        int rc = sim_world_set_seeds(run->world, i, seeds, k);
        if (rc < 0) {
            g_free(seeds);
            return fail(error, "seeding a node", rc);
        }
    }
    g_free(seeds);

    /* The whole plan now, in its order: the event queue runs equal times
     * in the order they were queued, so they run in the plan's. */
    const run_runner *r = &run->runner;
    run->steps = g_new(simrun_step, r->n_plan ? r->n_plan : 1);
    for (size_t k = 0; k < r->n_plan; k++) {
        run->steps[k] = (simrun_step){.run = run, .step = &r->plan[k]};
        int rc = sim_world_schedule(run->world, r->plan[k].t_us, on_step,
                                    &run->steps[k]);
        if (rc < 0)
            return fail(error, "scheduling the timeline", rc);
    }
    if (sc->cluster.sample_interval_us > 0 && run->runner.rec) {
        int rc = sim_world_every(run->world, sc->cluster.sample_interval_us,
                                 sc->cluster.sample_interval_us, on_sample,
                                 run);
        if (rc < 0)
            return fail(error, "scheduling membership samples", rc);
    }
    return TRUE;
}

static gboolean open_recorder(simrun *run, const run_sim_options *opts,
                              GError **error)
{
    static const sim_world_hooks all_hooks = {
        .delivered = on_delivered,
        .dropped = on_dropped,
    };
    static const sim_world_hooks drop_hooks = {
        .dropped = on_dropped,
    };
    const sim_world_hooks *hooks =
        run->watch && run->watch->hooks.delivered ? &all_hooks : &drop_hooks;
    if (opts->db_path == NULL) {
        if (run->watch)
            sim_world_set_hooks(run->world, hooks, run);
        return TRUE;
    }
    run_recording how = {
        .db_path = opts->db_path,
        .source = "sim",
        .sweep_id = opts->sweep_id,
        .sweep_point = opts->sweep_point,
        .repetition = opts->repetition,
        .now_us = world_now,
        .now_user = run->world,
    };
    if (!run_runner_open_recorder(&run->runner, &how, error))
        return FALSE;
    sim_world_set_hooks(run->world, hooks, run);
    return TRUE;
}

/* Hands the recorder every node's deliveries by type, counted by the
 * world, before it writes its counters. */
static void record_deliveries(simrun *run)
{
    for (size_t i = 0; i < run->n; i++) {
        sim_node_stats ns;
        sim_world_node_stats(run->world, i, &ns);
        for (int t = 0; t < PEKO_MSG_TYPE_COUNT; t++)
            if (ns.delivered_by_type[t] != 0)
                ana_recorder_traffic(run->runner.rec, i, msg_type(t),
                                     ANA_OUTCOME_DELIVERED,
                                     ns.delivered_by_type[t],
                                     ns.delivered_bytes_by_type[t]);
    }
}

static void simrun_clear(simrun *run)
{
    run_runner_clear(&run->runner);
    sim_world_free(run->world);
    g_free(run->steps);
    g_free(run->tees);
}

/* ------------------------------------------------------------------ */

gboolean run_sim(const scn_scenario *sc, const run_sim_options *opts,
                 run_sim_result *out, GError **error)
{
    memset(out, 0, sizeof *out);
    simrun run = {.sc = sc,
                  .n = sc->cluster.nodes,
                  .watch = opts->watch,
                  .watch_user = opts->watch_user};

    sim_world_config wc;
    sim_world_config_init(&wc);
    wc.engine = sc->engine;
    if (opts->print)
        wc.engine.is_print = true;
    wc.stop = opts->stop;
    int rc = sim_world_new(run.n, &wc, sc->cluster.seed, &run.world);
    if (rc == -EINTR) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INTR,
                    "%s: interrupted while the world was being built:"
                    " nothing was run or recorded",
                    sc->name);
        simrun_clear(&run);
        return FALSE;
    }
    if (rc < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: the simulator refused the scenario's cluster or"
                    " engine settings",
                    sc->name);
        simrun_clear(&run);
        return FALSE;
    }
    run_runner_init(&run.runner, sc, &sim_ops, run.world);
    run.runner.stop = opts->stop;
    sim_world_set_stop(run.world, opts->stop);
    if (!set_up_network(&run, error) || !open_recorder(&run, opts, error) ||
        !set_up_nodes(&run, error) ||
        (opts->pcap_path &&
         !sim_world_pcap_open(run.world, opts->pcap_path, error))) {
        simrun_clear(&run);
        return FALSE;
    }
    observe_for_watch(&run);
    if (run.watch && run.watch->start)
        run.watch->start(run.watch_user, run.world);

    /* Run in slices of virtual time, so the progress bar is drawn about
     * every 1/1000 of the run (at least every 10 ms of it). A stop request
     * is seen sooner: the world looks at it every few hundred events, and
     * a membership sample or an event over many nodes gives up. */
    int64_t end_us = sc->cluster.duration_us;
    int64_t slice_us = MAX(end_us / 1000, 10000);
    int64_t wall_start_us = g_get_monotonic_time();
    int64_t last_progress_us = wall_start_us;
    /* A stop request at any point, even during the last slice (which
     * then ends early, its sample or event perhaps half done), makes the
     * run incomplete. */
    for (int64_t t = 0; t < end_us && !sim_world_stopped(run.world);) {
        t = MIN(t + slice_us, end_us);
        sim_world_run_until(run.world, t);
        int64_t now_wall = g_get_monotonic_time();
        if (opts->progress && now_wall - last_progress_us >= 100000) {
            sim_world_stats st;
            sim_world_stats_get(run.world, &st);
            opts->progress(opts->progress_user, t, end_us, st.deliveries);
            last_progress_us = now_wall;
        }
    }
    bool stopped = sim_world_stopped(run.world);
    double wall_s = (double)(g_get_monotonic_time() - wall_start_us) / 1e6;

    sim_world_stats st;
    sim_world_stats_get(run.world, &st);
    run_mem_estimate estimate;
    run_sim_estimate_memory(sc, &estimate);
    out->estimate_bytes = estimate.total;
    out->nodes = run.n;
    out->complete = !stopped;
    out->sim_time_us = st.now_us;
    out->wall_s = wall_s;
    out->events = st.events;
    out->deliveries = st.deliveries;
    out->trace_hash = sim_world_trace_hash(run.world);
    out->run_id = run.runner.rec ? ana_recorder_run_id(run.runner.rec) : 0;
    if (run.watch && run.watch->finish)
        run.watch->finish(run.watch_user, run.world, !stopped);

    gboolean ok = TRUE;
    if (opts->pcap_path)
        ok = sim_world_pcap_close(run.world, error);
    char hash[ANA_TRACE_HASH_STRLEN];
    ana_trace_hash_format(out->trace_hash, hash);
    GError *finish_error = NULL;
    if (run.runner.rec)
        record_deliveries(&run);
    if (run.runner.rec &&
        !ana_recorder_finish(run.runner.rec,
                             stopped ? ANA_STATUS_INCOMPLETE
                                     : ANA_STATUS_COMPLETE,
                             hash, st.now_us, wall_s, st.events,
                             st.deliveries, &finish_error)) {
        if (ok)
            g_propagate_error(error, finish_error);
        else
            g_clear_error(&finish_error);
        ok = FALSE;
    }
    if (ok && run.runner.error) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s",
                    run.runner.error);
        ok = FALSE;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->peak_rss_kib = ru.ru_maxrss;
    simrun_clear(&run);
    return ok;
}
