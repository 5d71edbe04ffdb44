/* simrun.c: one scenario in the simulator, recorded (simrun.h). */
#include "simrun.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "recorder.h"
#include "world.h"

/* The runner's own random streams of the run seed: purpose p, node i is
 * stream (p << 32 | i), above the simulator's purposes (world-private.h)
 * so no draw here shifts a draw there. */
#define SIMRUN_STREAM_CLOCK 16

typedef struct simrun simrun;

typedef struct simrun_join {
    simrun *run;
    size_t node;
} simrun_join;

typedef struct simrun_event {
    simrun *run;
    const scn_event *event;
} simrun_event;

struct simrun {
    const scn_scenario *sc;
    sim_world *world;
    ana_recorder *rec;
    size_t n;
    simrun_join *joins;         /* one per node */
    simrun_event *events;       /* one per timeline event */
    GHashTable *partitions;     /* name (borrowed from sc) -> id; looked up
                                 * by name only, never iterated */
    char *error;                /* first failure applying an event */
};

/* ------------------------------------------------------------------ */
/* The scenario's values in the simulator's vocabulary.                 */

static sim_dist dist_from_scenario(const scn_dist *d)
{
    sim_dist out = {.kind = SIM_DIST_CONSTANT, .lo_us = d->lo};
    switch (d->kind) {
    case SCN_DIST_CONSTANT:
        out.value_us = d->value;
        break;
    case SCN_DIST_UNIFORM:
        out.kind = SIM_DIST_UNIFORM;
        out.min_us = d->min;
        out.max_us = d->max;
        break;
    case SCN_DIST_NORMAL:
        out.kind = SIM_DIST_NORMAL;
        out.mean_us = d->mean;
        out.sd_us = d->sd;
        break;
    case SCN_DIST_LOGNORMAL:
        out.kind = SIM_DIST_LOGNORMAL;
        out.mu = log(d->median);
        out.sigma = d->sigma;
        break;
    case SCN_DIST_PARETO:
        out.kind = SIM_DIST_PARETO;
        out.scale_us = d->scale;
        out.shape = d->shape;
        break;
    }
    out.cap_us = d->hi;
    return out;
}

static sim_loss loss_from_scenario(const scn_loss *l)
{
    sim_loss out = {
        .kind = l->kind == SCN_LOSS_GILBERT_ELLIOTT ? SIM_LOSS_GILBERT_ELLIOTT
                                                    : SIM_LOSS_BERNOULLI,
        .rate = l->rate,
        .p_good_to_bad = l->p_good_to_bad,
        .p_bad_to_good = l->p_bad_to_good,
        .loss_good = l->loss_good,
        .loss_bad = l->loss_bad,
    };
    return out;
}

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

static void on_delivered(void *user, size_t from, size_t to, int type,
                         size_t n_bytes)
{
    simrun *run = user;
    (void)from;
    ana_recorder_traffic(run->rec, to, msg_type(type), ANA_OUTCOME_DELIVERED,
                         1, n_bytes);
}

static void on_dropped(void *user, size_t from, size_t to, int type,
                       size_t n_bytes, sim_drop_cause cause)
{
    simrun *run = user;
    (void)to;
    ana_recorder_traffic(run->rec, from, msg_type(type),
                         outcome_of_drop(cause), 1, n_bytes);
}

static int64_t world_now(void *user)
{
    return sim_world_now_us(user);
}

static void on_join(sim_world *world, void *user)
{
    simrun_join *join = user;
    int rc = sim_world_join(world, join->node);
    if (rc == 0)
        return;
    if (join->run->error == NULL && rc != -EALREADY && rc != -ENODEV)
        join->run->error = g_strdup_printf("node %zu could not join: %s",
                                           join->node, g_strerror(-rc));
}

/* A node is live when it is up, has joined and sends heartbeats: the
 * nodes a correct list holds once the cluster has settled. */
static bool node_is_live(sim_world *world, size_t i)
{
    if (sim_world_node_state(world, i) != SIM_NODE_UP)
        return false;
    peko_nodelist *nl = sim_world_node(world, i);
    return nl && peko_nodelist_is_running(nl);
}

static void on_sample(sim_world *world, void *user)
{
    simrun *run = user;
    size_t n = run->n;
    bool *live = g_new(bool, n);
    size_t n_live = 0;
    for (size_t i = 0; i < n; i++)
        n_live += live[i] = node_is_live(world, i);
    size_t complete = 0;
    for (size_t i = 0; i < n; i++) {
        if (!live[i])
            continue;
        peko_nodelist *nl = sim_world_node(world, i);
        /* Same size and holding every live node means exactly them. */
        if (peko_nodelist_count(nl) != n_live)
            continue;
        size_t j = 0;
        while (j < n && (!live[j] ||
                         peko_nodelist_contains(nl, sim_world_addr(world, j))))
            j++;
        complete += j == n;
    }
    g_free(live);
    ana_recorder_membership(run->rec, sim_world_now_us(world), n_live,
                            complete);
}

/* ------------------------------------------------------------------ */
/* The timeline.                                                        */

/* Calls fn on every node of the selector, in index order. */
static void for_nodes(simrun *run, const scn_nodes *nodes,
                      int (*fn)(sim_world *, size_t))
{
    for (size_t r = 0; r < nodes->n_ranges; r++)
        for (uint32_t i = nodes->ranges[r].first;; i++) {
            fn(run->world, i); /* a node already in that state: no-op */
            if (i == nodes->ranges[r].last)
                break;
        }
}

static size_t *indices_of(const scn_nodes *nodes)
{
    size_t *out = g_new(size_t, nodes->count ? nodes->count : 1);
    size_t k = 0;
    for (size_t r = 0; r < nodes->n_ranges; r++)
        for (uint32_t i = nodes->ranges[r].first;; i++) {
            out[k++] = i;
            if (i == nodes->ranges[r].last)
                break;
        }
    return out;
}

static void apply_publish(simrun *run, const scn_event *ev)
{
    uint8_t *payload = g_malloc(ev->publish.n_bytes ? ev->publish.n_bytes : 1);
    scn_event_payload(ev, payload);
    for (size_t r = 0; r < ev->nodes.n_ranges; r++)
        for (uint32_t i = ev->nodes.ranges[r].first;; i++) {
            /* A crashed or paused node cannot publish: skipped. */
            peko_nodelist *nl = sim_world_node(run->world, i);
            if (nl && sim_world_node_state(run->world, i) == SIM_NODE_UP)
                peko_nodelist_publish(nl, payload, ev->publish.n_bytes);
            if (i == ev->nodes.ranges[r].last)
                break;
        }
    g_free(payload);
}

static void apply_partition(simrun *run, const scn_event *ev)
{
    int id;
    if (ev->partition.one_way) {
        size_t *from = indices_of(&ev->partition.from);
        size_t *to = indices_of(&ev->partition.to);
        id = sim_world_partition(run->world, from, ev->partition.from.count,
                                 to, ev->partition.to.count, true);
        g_free(from);
        g_free(to);
    } else {
        size_t n_groups = ev->partition.n_groups;
        size_t **groups = g_new(size_t *, n_groups);
        size_t *n_each = g_new(size_t, n_groups);
        for (size_t g = 0; g < n_groups; g++) {
            groups[g] = indices_of(&ev->partition.groups[g]);
            n_each[g] = ev->partition.groups[g].count;
        }
        id = sim_world_partition_groups(run->world,
                                        (const size_t *const *)groups,
                                        n_each, n_groups);
        for (size_t g = 0; g < n_groups; g++)
            g_free(groups[g]);
        g_free(groups);
        g_free(n_each);
    }
    if (id < 0) {
        if (run->error == NULL)
            run->error = g_strdup_printf("partition '%s' at %.3f s: %s",
                                         ev->partition.name,
                                         (double)ev->time_us / 1e6,
                                         g_strerror(-id));
        return;
    }
    g_hash_table_replace(run->partitions, ev->partition.name,
                         GINT_TO_POINTER(id));
}

static void apply_heal(simrun *run, const scn_event *ev)
{
    if (ev->partition.name == NULL) {
        sim_world_heal_all(run->world);
        g_hash_table_remove_all(run->partitions);
        return;
    }
    gpointer id;
    if (g_hash_table_lookup_extended(run->partitions, ev->partition.name,
                                     NULL, &id)) {
        sim_world_heal(run->world, GPOINTER_TO_INT(id));
        g_hash_table_remove(run->partitions, ev->partition.name);
    }
}

static void apply_network(simrun *run, const scn_event *ev)
{
    if (ev->network.set_latency) {
        sim_dist d = dist_from_scenario(&ev->network.latency_us);
        sim_world_set_latency(run->world, &d);
    }
    if (ev->network.set_loss) {
        sim_loss l = loss_from_scenario(&ev->network.loss);
        sim_world_set_loss(run->world, &l);
    }
    if (ev->network.set_duplicate)
        sim_world_set_duplicate(run->world, ev->network.duplicate);
}

static int join_node(sim_world *world, size_t i)
{
    return sim_world_join(world, i);
}

static void on_event(sim_world *world, void *user)
{
    simrun_event *se = user;
    simrun *run = se->run;
    const scn_event *ev = se->event;
    (void)world;
    switch (ev->kind) {
    case SCN_EVENT_PUBLISH:
        apply_publish(run, ev);
        break;
    case SCN_EVENT_PARTITION:
        apply_partition(run, ev);
        break;
    case SCN_EVENT_HEAL:
        apply_heal(run, ev);
        break;
    case SCN_EVENT_CRASH:
        for_nodes(run, &ev->nodes, sim_world_crash);
        break;
    case SCN_EVENT_RESTART:
        for_nodes(run, &ev->nodes, sim_world_restart);
        break;
    case SCN_EVENT_PAUSE:
        for_nodes(run, &ev->nodes, sim_world_pause);
        break;
    case SCN_EVENT_RESUME:
        for_nodes(run, &ev->nodes, sim_world_resume);
        break;
    case SCN_EVENT_STOP:
        for_nodes(run, &ev->nodes, sim_world_stop);
        break;
    case SCN_EVENT_START:
        for_nodes(run, &ev->nodes, sim_world_start);
        break;
    case SCN_EVENT_JOIN:
        for_nodes(run, &ev->nodes, join_node);
        break;
    case SCN_EVENT_NETWORK:
        apply_network(run, ev);
        break;
    case SCN_EVENT_KIND_COUNT:
        break;
    }
    const char *who = ev->kind == SCN_EVENT_PARTITION ||
                              ev->kind == SCN_EVENT_HEAL
                          ? ev->partition.name
                          : ev->nodes.text;
    char *detail = g_strdup_printf("%s%s%s", ev->label, who ? " " : "",
                                   who ? who : "");
    ana_recorder_timeline(run->rec, sim_world_now_us(run->world),
                          scn_event_kind_name(ev->kind), detail);
    g_free(detail);
}

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
    sim_dist latency = dist_from_scenario(&sc->network.latency_us);
    int rc = sim_world_set_latency(w, &latency);
    if (rc < 0)
        return fail(error, "the scenario's latency", rc);
    sim_loss loss = loss_from_scenario(&sc->network.loss);
    if ((rc = sim_world_set_loss(w, &loss)) < 0)
        return fail(error, "the scenario's loss", rc);
    if ((rc = sim_world_set_duplicate(w, sc->network.duplicate)) < 0)
        return fail(error, "the scenario's duplication", rc);
    if (sc->network.bandwidth_bps > 0 ||
        sc->network.send_queue != SIM_WORLD_DEFAULT_SEND_QUEUE)
        for (size_t i = 0; i < run->n; i++)
            if ((rc = sim_world_set_uplink(w, i, sc->network.bandwidth_bps,
                                           sc->network.send_queue)) < 0)
                return fail(error, "the scenario's bandwidth", rc);

    size_t n_regions = sc->regions.n_regions;
    if (n_regions > 0) {
        uint16_t *region_of = g_new(uint16_t, run->n);
        for (size_t i = 0; i < run->n; i++)
            region_of[i] = (uint16_t)scn_scenario_region_of(sc, (uint32_t)i);
        sim_dist *matrix = g_new(sim_dist, n_regions * n_regions);
        for (size_t k = 0; k < n_regions * n_regions; k++)
            matrix[k] = dist_from_scenario(&sc->regions.latency_us[k]);
        rc = sim_world_set_regions(w, region_of, n_regions, matrix,
                                   sc->regions.latency_set);
        g_free(region_of);
        g_free(matrix);
        if (rc < 0)
            return fail(error, "the scenario's regions", rc);
    }

    /* Clocks: four uniforms per node from the runner's clock stream. */
    for (size_t i = 0; i < run->n; i++) {
        sim_rng rng;
        sim_rng_init(&rng, sc->cluster.seed,
                     ((uint64_t)SIMRUN_STREAM_CLOCK << 32) | i);
        double u[4];
        for (size_t k = 0; k < 4; k++)
            u[k] = sim_rng_double(&rng);
        int64_t offset_us;
        double drift_ppm;
        scn_scenario_clock(sc, (uint32_t)i, u, &offset_us, &drift_ppm);
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
    uint32_t *seeds = g_new(uint32_t, SCN_MAX_SEEDS);
    size_t *seeds_z = g_new(size_t, SCN_MAX_SEEDS);
    run->joins = g_new(simrun_join, run->n);
    for (size_t i = 0; i < run->n; i++) {
        size_t k = scn_scenario_seeds(sc, (uint32_t)i, seeds, SCN_MAX_SEEDS);
        if (k > SCN_MAX_SEEDS)
            k = SCN_MAX_SEEDS;
        for (size_t s = 0; s < k; s++)
            seeds_z[s] = seeds[s];
        int rc = sim_world_set_seeds(run->world, i, seeds_z, k);
        if (rc < 0) {
            g_free(seeds);
            g_free(seeds_z);
            return fail(error, "seeding a node", rc);
        }
        run->joins[i] = (simrun_join){.run = run, .node = i};
        int64_t start_us = scn_scenario_start_us(sc, (uint32_t)i);
        if (start_us >= 0 &&
            (rc = sim_world_schedule(run->world, start_us, on_join,
                                     &run->joins[i])) < 0) {
            g_free(seeds);
            g_free(seeds_z);
            return fail(error, "scheduling a join", rc);
        }
    }
    g_free(seeds);
    g_free(seeds_z);

    run->events = g_new(simrun_event, sc->n_events ? sc->n_events : 1);
    for (size_t e = 0; e < sc->n_events; e++) {
        run->events[e] = (simrun_event){.run = run, .event = &sc->events[e]};
        int rc = sim_world_schedule(run->world, sc->events[e].time_us,
                                    on_event, &run->events[e]);
        if (rc < 0)
            return fail(error, "scheduling the timeline", rc);
    }
    if (sc->cluster.sample_interval_us > 0) {
        int rc = sim_world_every(run->world, sc->cluster.sample_interval_us,
                                 sc->cluster.sample_interval_us, on_sample,
                                 run);
        if (rc < 0)
            return fail(error, "scheduling membership samples", rc);
    }
    return TRUE;
}

static gboolean open_recorder(simrun *run, const peko_simrun_options *opts,
                              GError **error)
{
    const scn_scenario *sc = run->sc;
    ana_run_info info;
    ana_run_info_init(&info);
    char *params = scn_scenario_to_json(sc);
    info.scenario = sc->name;
    info.params_json = params;
    info.seed = sc->cluster.seed;
    info.source = "sim";
    info.nodes = run->n;
    bool *sampled = g_new(bool, run->n);
    for (size_t i = 0; i < run->n; i++)
        sampled[i] = scn_nodes_contains(&sc->cluster.heartbeat_sample,
                                        (uint32_t)i);
    info.heartbeat_sampled = sampled;
    info.sweep_id = opts->sweep_id;
    info.sweep_point = opts->sweep_point;
    info.repetition = opts->sweep_id ? (int64_t)opts->repetition : -1;
    info.now_us = world_now;
    info.now_user = run->world;
    run->rec = ana_recorder_open(opts->db_path, &info, error);
    g_free(params);
    g_free(sampled);
    if (run->rec == NULL)
        return FALSE;
    for (size_t i = 0; i < run->n; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "node-%zu", i);
        if (!ana_recorder_add_node(run->rec, i, sim_world_addr(run->world, i),
                                   name, error))
            return FALSE;
        sim_world_set_observer(run->world, i, ana_recorder_observer(),
                               ana_recorder_node_ctx(run->rec, i));
    }
    static const sim_world_hooks hooks = {
        .delivered = on_delivered,
        .dropped = on_dropped,
    };
    sim_world_set_hooks(run->world, &hooks, run);
    return TRUE;
}

static void simrun_clear(simrun *run)
{
    ana_recorder_free(run->rec);
    sim_world_free(run->world);
    g_free(run->joins);
    g_free(run->events);
    if (run->partitions)
        g_hash_table_destroy(run->partitions);
    g_free(run->error);
}

/* ------------------------------------------------------------------ */

gboolean peko_simrun(const scn_scenario *sc, const peko_simrun_options *opts,
                     peko_simrun_result *out, GError **error)
{
    memset(out, 0, sizeof *out);
    simrun run = {.sc = sc, .n = sc->cluster.nodes};
    run.partitions = g_hash_table_new(g_str_hash, g_str_equal);

    sim_world_config wc;
    sim_world_config_init(&wc);
    wc.engine = sc->engine;
    if (opts->print)
        wc.engine.is_print = true;
    int rc = sim_world_new(run.n, &wc, sc->cluster.seed, &run.world);
    if (rc < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: the simulator refused the scenario's cluster or"
                    " engine settings",
                    sc->name);
        simrun_clear(&run);
        return FALSE;
    }
    if (!set_up_network(&run, error) || !open_recorder(&run, opts, error) ||
        !set_up_nodes(&run, error) ||
        (opts->pcap_path &&
         !sim_world_pcap_open(run.world, opts->pcap_path, error))) {
        simrun_clear(&run);
        return FALSE;
    }

    /* Run in slices of virtual time, so a signal or the progress bar is
     * seen about every 1/1000 of the run (at least every 10 ms of it). */
    int64_t end_us = sc->cluster.duration_us;
    int64_t slice_us = MAX(end_us / 1000, 10000);
    int64_t wall_start_us = g_get_monotonic_time();
    int64_t last_progress_us = wall_start_us;
    bool stopped = false;
    for (int64_t t = 0; t < end_us;) {
        if (opts->stop && *opts->stop) {
            stopped = true;
            break;
        }
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
    double wall_s = (double)(g_get_monotonic_time() - wall_start_us) / 1e6;

    sim_world_stats st;
    sim_world_stats_get(run.world, &st);
    out->nodes = run.n;
    out->complete = !stopped;
    out->sim_time_us = st.now_us;
    out->wall_s = wall_s;
    out->events = st.events;
    out->deliveries = st.deliveries;
    out->trace_hash = sim_world_trace_hash(run.world);
    out->run_id = ana_recorder_run_id(run.rec);

    gboolean ok = TRUE;
    if (opts->pcap_path)
        ok = sim_world_pcap_close(run.world, error);
    char hash[ANA_TRACE_HASH_STRLEN];
    ana_trace_hash_format(out->trace_hash, hash);
    GError *finish_error = NULL;
    if (!ana_recorder_finish(run.rec,
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
    if (ok && run.error) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", run.error);
        ok = FALSE;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->peak_rss_kib = ru.ru_maxrss;
    simrun_clear(&run);
    return ok;
}
