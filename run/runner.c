/* runner.c: seeds, joins, the timeline and membership samples of a
 * scenario, for the simulator and the testbed alike (runner.h). */
#include "runner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int compare_steps(const void *pa, const void *pb)
{
    const run_step *a = pa, *b = pb;
    if (a->t_us != b->t_us)
        return a->t_us < b->t_us ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Every initial join and every event, ordered by (time, kind, index):
 * the order of run_step_kind at equal times, and within a kind the
 * nodes' and the file's. */
static void build_plan(run_runner *r)
{
    const scn_scenario *sc = r->sc;
    r->plan = g_new(run_step, r->n + sc->n_events + 1);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        int64_t t = scn_scenario_start_us(sc, (uint32_t)i);
        if (t >= 0) /* else a join event starts it */
            r->plan[k++] = (run_step){t, RUN_STEP_JOIN, i};
    }
    for (size_t e = 0; e < sc->n_events; e++)
        r->plan[k++] = (run_step){sc->events[e].time_us, RUN_STEP_EVENT, e};
    r->n_plan = k;
    qsort(r->plan, k, sizeof *r->plan, compare_steps);
    r->next_sample_us = sc->cluster.sample_interval_us > 0
                            ? sc->cluster.sample_interval_us
                            : -1;
}

void run_runner_init(run_runner *r, const scn_scenario *sc, const run_ops *ops,
                     void *world)
{
    memset(r, 0, sizeof *r);
    r->sc = sc;
    r->ops = ops;
    r->world = world;
    r->n = sc->cluster.nodes;
    r->partitions = g_hash_table_new(g_str_hash, g_str_equal);
    r->truth = g_new0(ana_node_state, r->n ? r->n : 1);
    r->joined = g_new0(bool, r->n ? r->n : 1);
    build_plan(r);
}

void run_runner_clear(run_runner *r)
{
    g_clear_pointer(&r->rec, ana_recorder_free);
    g_clear_pointer(&r->partitions, g_hash_table_destroy);
    g_clear_pointer(&r->error, g_free);
    g_clear_pointer(&r->plan, g_free);
    g_clear_pointer(&r->truth, g_free);
    g_clear_pointer(&r->joined, g_free);
    g_clear_pointer(&r->sample_live, g_free);
    g_clear_pointer(&r->sample_checked, g_free);
    g_clear_pointer(&r->sample_changes, g_free);
}

size_t run_seeds(const scn_scenario *sc, uint32_t node,
                 size_t out[SCN_MAX_SEEDS])
{
    uint32_t seeds[SCN_MAX_SEEDS];
    size_t k = scn_scenario_seeds(sc, node, seeds, SCN_MAX_SEEDS);
    if (k > SCN_MAX_SEEDS)
        k = SCN_MAX_SEEDS;
    for (size_t s = 0; s < k; s++)
        out[s] = seeds[s];
    return k;
}

static void keep_error(run_runner *r, char *message)
{
    if (r->error == NULL)
        r->error = message;
    else
        g_free(message);
}

/* Whether rc only says the node was already in that state. */
static bool is_no_op(int rc)
{
    return rc == 0 || rc == -EALREADY || rc == -ENODEV || rc == -EBUSY;
}

/* ------------------------------------------------------------------ */
/* Recording.                                                           */

gboolean run_runner_open_recorder(run_runner *r, const run_recording *how,
                                  GError **error)
{
    const scn_scenario *sc = r->sc;
    ana_run_info info;
    ana_run_info_init(&info);
    char *params = scn_scenario_to_json(sc);
    info.scenario = sc->name;
    info.params_json = params;
    info.seed = sc->cluster.seed;
    info.source = how->source;
    info.nodes = r->n;
    bool *sampled = g_new(bool, r->n);
    for (size_t i = 0; i < r->n; i++)
        sampled[i] = scn_nodes_contains(&sc->cluster.heartbeat_sample,
                                        (uint32_t)i);
    info.heartbeat_sampled = sampled;
    info.heartbeat_every = sc->cluster.heartbeat_every;
    info.sweep_id = how->sweep_id;
    info.sweep_point = how->sweep_point;
    info.repetition = how->sweep_id ? (int64_t)how->repetition : -1;
    info.now_us = how->now_us;
    info.now_user = how->now_user;
    info.ground_truth = true;
    r->rec = ana_recorder_open(how->db_path, &info, error);
    g_free(params);
    g_free(sampled);
    if (r->rec == NULL)
        return FALSE;
    for (size_t i = 0; i < r->n; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "node-%zu", i);
        if (!ana_recorder_add_node(r->rec, i, r->ops->addr(r->world, i),
                                   name, error))
            return FALSE;
        r->ops->observe(r->world, i, ana_recorder_observer(),
                        ana_recorder_node_ctx(r->rec, i));
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Ground truth.                                                        */

/* Whether node i sends heartbeats: the world's answer when it has one,
 * else its engine's. */
static bool is_running(run_runner *r, size_t i)
{
    if (r->ops->is_running)
        return r->ops->is_running(r->world, i);
    peko_nodelist *nl = r->ops->node(r->world, i);
    return nl && peko_nodelist_is_running(nl);
}

/* What node i is now, as the failure detector's analysis needs it. */
static ana_node_state truth_of(run_runner *r, size_t i)
{
    switch (r->ops->state(r->world, i)) {
    case RUN_NODE_DOWN:
        return ANA_NODE_CRASHED;
    case RUN_NODE_PAUSED:
        return ANA_NODE_PAUSED;
    case RUN_NODE_UP:
        break;
    }
    if (!r->joined[i])
        return ANA_NODE_ABSENT;
    return is_running(r, i) ? ANA_NODE_UP : ANA_NODE_STOPPED;
}

/* Tells the recorder node i's state if it changed. When i stops being
 * up, every node whose list still exists is asked whether it holds i:
 * the lists i must now leave (O(nodes), on a lifecycle event only). */
static void note_truth(run_runner *r, size_t i)
{
    ana_node_state now = truth_of(r, i);
    if (now == r->truth[i])
        return;
    bool was_up = r->truth[i] == ANA_NODE_UP;
    r->truth[i] = now;
    if (r->rec == NULL)
        return;
    int64_t t_us = r->ops->now_us(r->world);
    ana_recorder_node_state(r->rec, i, t_us, now);
    if (!was_up || !ana_node_state_silent(now))
        return;
    const peko_addr *addr = r->ops->addr(r->world, i);
    for (size_t j = 0; j < r->n; j++) {
        if (j == i || r->truth[j] == ANA_NODE_ABSENT ||
            r->truth[j] == ANA_NODE_CRASHED)
            continue;
        peko_nodelist *nl = r->ops->node(r->world, j);
        if (nl && peko_nodelist_contains(nl, addr))
            ana_recorder_listed(r->rec, j, i, t_us);
    }
}

/* ------------------------------------------------------------------ */
/* The plan's steps.                                                    */

void run_runner_do(run_runner *r, const run_step *step)
{
    switch (step->kind) {
    case RUN_STEP_JOIN:
        run_runner_join(r, step->index);
        break;
    case RUN_STEP_EVENT:
        run_runner_apply(r, &r->sc->events[step->index]);
        break;
    case RUN_STEP_SAMPLE:
        run_runner_sample(r);
        break;
    }
}

bool run_runner_peek(const run_runner *r, run_step *out)
{
    bool planned = r->next < r->n_plan;
    if (r->next_sample_us >= 0 &&
        (!planned || r->next_sample_us < r->plan[r->next].t_us)) {
        *out = (run_step){r->next_sample_us, RUN_STEP_SAMPLE, 0};
        return true;
    }
    if (!planned)
        return false;
    *out = r->plan[r->next];
    return true;
}

void run_runner_step(run_runner *r)
{
    run_step step;
    if (!run_runner_peek(r, &step))
        return;
    if (step.kind == RUN_STEP_SAMPLE)
        r->next_sample_us += r->sc->cluster.sample_interval_us;
    else
        r->next++;
    run_runner_do(r, &step);
}

/* ------------------------------------------------------------------ */
/* Joins and samples.                                                   */

void run_runner_join(run_runner *r, size_t i)
{
    int rc = r->ops->join(r->world, i);
    if (!is_no_op(rc))
        keep_error(r, g_strdup_printf("node %zu could not join: %s", i,
                                      g_strerror(-rc)));
    if (rc == 0 || rc == -EALREADY)
        r->joined[i] = true;
    note_truth(r, i);
}

/* run_runner.sample_checked: what the last sample found of a list. */
enum {
    SAMPLE_UNCHECKED = 0, /* not read: not live, not here, or wrong size */
    SAMPLE_INCOMPLETE,
    SAMPLE_COMPLETE,
};

/* A node is live when it is up, has joined and sends heartbeats: the
 * nodes a correct list holds once the cluster has settled. */
static bool node_is_live(run_runner *r, size_t i)
{
    return r->ops->state(r->world, i) == RUN_NODE_UP && is_running(r, i);
}

/* True when the run is asked to stop. */
static bool stopping(const run_runner *r)
{
    return r->stop && *r->stop;
}

void run_runner_sample(run_runner *r)
{
    if (r->rec == NULL)
        return; /* a sample is only ever recorded */
    size_t n = r->n;
    if (r->sample_live == NULL) {
        r->sample_live = g_new0(bool, n ? n : 1);
        r->sample_checked = g_new0(uint8_t, n ? n : 1);
        r->sample_changes = g_new0(uint64_t, n ? n : 1);
    }
    bool *live = g_new(bool, n ? n : 1);
    size_t n_live = 0;
    for (size_t i = 0; i < n; i++)
        n_live += live[i] = node_is_live(r, i);
    /* Checking a list reads n peers; a converged cluster's lists stay as
     * they are from sample to sample, and reading them all again was a
     * twentieth of a 1,000-node run. The recorder observes every engine
     * and counts each change to its list, across restarts (a restarted
     * engine starts empty, so it must add peers to reach the size of a
     * complete list): among the same live nodes, with the same size and
     * no change counted since, a list is the one checked last time. */
    bool same_live = r->sample_valid &&
                     memcmp(live, r->sample_live, n * sizeof *live) == 0;
    r->sample_valid = false;
    size_t complete = 0;
    for (size_t i = 0; i < n; i++) {
        if (stopping(r)) {
            g_free(live);
            return;
        }
        uint8_t last = same_live ? r->sample_checked[i] : SAMPLE_UNCHECKED;
        r->sample_checked[i] = SAMPLE_UNCHECKED;
        peko_nodelist *nl = live[i] ? r->ops->node(r->world, i) : NULL;
        /* A live node without an engine here runs in another process,
         * which counts it (the testbed's workers). */
        if (nl == NULL)
            continue;
        /* Same size and holding every live node means exactly them. */
        if (peko_nodelist_count(nl) != n_live)
            continue;
        uint64_t changes = ana_recorder_list_changes(r->rec, i);
        bool is_complete;
        if (last != SAMPLE_UNCHECKED && r->sample_changes[i] == changes) {
            is_complete = last == SAMPLE_COMPLETE;
        } else {
            size_t j = 0;
            while (j < n &&
                   (!live[j] ||
                    peko_nodelist_contains(nl, r->ops->addr(r->world, j))))
                j++;
            is_complete = j == n;
        }
        r->sample_checked[i] = is_complete ? SAMPLE_COMPLETE
                                           : SAMPLE_INCOMPLETE;
        r->sample_changes[i] = changes;
        complete += is_complete;
    }
    memcpy(r->sample_live, live, n * sizeof *live);
    r->sample_valid = true;
    g_free(live);
    ana_recorder_membership(r->rec, r->ops->now_us(r->world), n_live,
                            complete);
}

/* ------------------------------------------------------------------ */
/* The timeline.                                                        */

typedef int (*node_op)(void *world, size_t i);

/* Calls op on every node of the selector, in index order, and tells the
 * recorder what each node is afterwards. */
static void for_nodes(run_runner *r, const scn_event *ev, node_op op)
{
    const scn_nodes *nodes = &ev->nodes;
    /* A join or a restart leaves a joined engine behind. */
    bool joins = ev->kind == SCN_EVENT_JOIN || ev->kind == SCN_EVENT_RESTART;
    for (size_t k = 0; k < nodes->n_ranges; k++)
        for (uint32_t i = nodes->ranges[k].first;; i++) {
            if (stopping(r))
                return; /* the run ends here, recorded as incomplete */
            int rc = op(r->world, i); /* already in that state: no-op */
            if (!is_no_op(rc))
                keep_error(r, g_strdup_printf(
                                  "%s '%s' at %.3f s, node %u: %s",
                                  scn_event_kind_name(ev->kind), ev->label,
                                  (double)ev->time_us / 1e6, i,
                                  g_strerror(-rc)));
            if (joins && (rc == 0 || rc == -EALREADY))
                r->joined[i] = true;
            note_truth(r, i);
            if (i == nodes->ranges[k].last)
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

static void apply_publish(run_runner *r, const scn_event *ev)
{
    uint8_t *payload = g_malloc(ev->publish.n_bytes ? ev->publish.n_bytes : 1);
    scn_event_payload(ev, payload);
    for (size_t k = 0; k < ev->nodes.n_ranges; k++)
        for (uint32_t i = ev->nodes.ranges[k].first;; i++) {
            /* A crashed or paused node cannot publish: skipped. */
            peko_nodelist *nl = r->ops->node(r->world, i);
            if (nl && r->ops->state(r->world, i) == RUN_NODE_UP)
                peko_nodelist_publish(nl, payload, ev->publish.n_bytes);
            if (i == ev->nodes.ranges[k].last)
                break;
        }
    g_free(payload);
}

static void apply_partition(run_runner *r, const scn_event *ev)
{
    int id;
    if (ev->partition.one_way) {
        size_t *from = indices_of(&ev->partition.from);
        size_t *to = indices_of(&ev->partition.to);
        id = r->ops->partition(r->world, from, ev->partition.from.count, to,
                               ev->partition.to.count, true);
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
        id = r->ops->partition_groups(r->world,
                                      (const size_t *const *)groups, n_each,
                                      n_groups);
        for (size_t g = 0; g < n_groups; g++)
            g_free(groups[g]);
        g_free(groups);
        g_free(n_each);
    }
    if (id < 0) {
        keep_error(r, g_strdup_printf("partition '%s' at %.3f s: %s",
                                      ev->partition.name,
                                      (double)ev->time_us / 1e6,
                                      g_strerror(-id)));
        return;
    }
    g_hash_table_replace(r->partitions, ev->partition.name,
                         GINT_TO_POINTER(id));
}

static void apply_heal(run_runner *r, const scn_event *ev)
{
    if (ev->partition.name == NULL) {
        r->ops->heal_all(r->world);
        g_hash_table_remove_all(r->partitions);
        return;
    }
    gpointer id;
    if (g_hash_table_lookup_extended(r->partitions, ev->partition.name, NULL,
                                     &id)) {
        r->ops->heal(r->world, GPOINTER_TO_INT(id));
        g_hash_table_remove(r->partitions, ev->partition.name);
    }
}

void run_runner_apply(run_runner *r, const scn_event *ev)
{
    const run_ops *ops = r->ops;
    switch (ev->kind) {
    case SCN_EVENT_PUBLISH:
        apply_publish(r, ev);
        break;
    case SCN_EVENT_PARTITION:
        apply_partition(r, ev);
        break;
    case SCN_EVENT_HEAL:
        apply_heal(r, ev);
        break;
    case SCN_EVENT_CRASH:
        for_nodes(r, ev, ops->crash);
        break;
    case SCN_EVENT_RESTART:
        for_nodes(r, ev, ops->restart);
        break;
    case SCN_EVENT_PAUSE:
        for_nodes(r, ev, ops->pause);
        break;
    case SCN_EVENT_RESUME:
        for_nodes(r, ev, ops->resume);
        break;
    case SCN_EVENT_STOP:
        for_nodes(r, ev, ops->stop);
        break;
    case SCN_EVENT_START:
        for_nodes(r, ev, ops->start);
        break;
    case SCN_EVENT_JOIN:
        for_nodes(r, ev, ops->join);
        break;
    case SCN_EVENT_NETWORK:
        ops->set_network(r->world, ev);
        break;
    case SCN_EVENT_KIND_COUNT:
        break;
    }
    if (r->rec == NULL)
        return;
    const char *who = ev->kind == SCN_EVENT_PARTITION ||
                              ev->kind == SCN_EVENT_HEAL
                          ? ev->partition.name
                          : ev->nodes.text;
    char *detail = g_strdup_printf("%s%s%s", ev->label, who ? " " : "",
                                   who ? who : "");
    ana_recorder_timeline(r->rec, ops->now_us(r->world),
                          scn_event_kind_name(ev->kind), detail);
    g_free(detail);
}
