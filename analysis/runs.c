/* runs.c: loading runs and their metrics, grouping them (runs.h). */
#include "runs.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "db.h"
#include "stats.h"

static const ana_metric_info metric_infos[ANA_METRIC_COUNT] = {
    [ANA_METRIC_T50] = {"t50", "s", "time until 50% of nodes held a rumor",
                        true},
    [ANA_METRIC_T90] = {"t90", "s", "time until 90% of nodes held a rumor",
                        true},
    [ANA_METRIC_T99] = {"t99", "s", "time until 99% of nodes held a rumor",
                        true},
    [ANA_METRIC_T100] = {"t100", "s", "time until every node held a rumor",
                         true},
    [ANA_METRIC_ROUNDS50] = {"rounds50", "rounds", "t50 in rounds", false},
    [ANA_METRIC_ROUNDS90] = {"rounds90", "rounds", "t90 in rounds", false},
    [ANA_METRIC_MESSAGES] = {"messages_per_node", "msgs/node",
                             "rumor copies received per node", false},
    [ANA_METRIC_REDUNDANCY] = {"redundancy", "",
                               "relative message redundancy, m/(n-1) - 1",
                               false},
    [ANA_METRIC_NEVER_REACHED] = {"never_reached", "nodes",
                                  "nodes a rumor never reached", false},
    [ANA_METRIC_CONVERGENCE] = {"convergence", "s",
                                "first time every live node's list was "
                                "complete",
                                true},
    [ANA_METRIC_STALENESS] = {"staleness", "s",
                              "mean delay until a node held a published "
                              "metadata version",
                              true},
    [ANA_METRIC_DETECTION] = {"detection", "s",
                              "median time from a node's silence until "
                              "no live node listed it",
                              true},
    [ANA_METRIC_DETECTION_P99] = {"detection_p99", "s",
                                  "99th percentile of the detection time",
                                  true},
    [ANA_METRIC_WRONG_REMOVALS] = {"wrong_removals", "removals",
                                   "live nodes removed by live nodes",
                                   false, true},
    [ANA_METRIC_WRONG_RATE] = {"wrong_removal_rate", "/node-hour",
                               "wrong removals per node-hour", false,
                               true},
    [ANA_METRIC_MISTAKE_DURATION] = {"mistake_duration", "s",
                                     "mean time until a wrong removal "
                                     "was undone (T_M)",
                                     true},
    [ANA_METRIC_PACKETS_PER_CYCLE] = {"packets_per_node_cycle", "packets",
                                      "packets sent per node per cycle",
                                      false},
    [ANA_METRIC_BYTES_PER_CYCLE] = {"bytes_per_node_cycle", "bytes",
                                    "bytes sent per node per cycle", false},
    [ANA_METRIC_DROPS_LOST] = {"drops_lost", "packets",
                               "packets lost by the loss model", false},
    [ANA_METRIC_DROPS_PARTITIONED] = {"drops_partitioned", "packets",
                                      "packets dropped by partitions", false},
    [ANA_METRIC_DROPS_QUEUE] = {"drops_queue_overflow", "packets",
                                "packets dropped at full queues", false},
    [ANA_METRIC_DROPS_OVERSIZE] = {"drops_oversize", "packets",
                                   "packets dropped as too large", false},
    [ANA_METRIC_DROPS_NODE_DOWN] = {"drops_node_down", "packets",
                                    "packets sent to a node that was down",
                                    false},
};

/* traffic.outcome of each drop metric. */
static const struct {
    ana_metric metric;
    const char *outcome;
} drop_outcomes[] = {
    {ANA_METRIC_DROPS_LOST, "lost"},
    {ANA_METRIC_DROPS_PARTITIONED, "partitioned"},
    {ANA_METRIC_DROPS_QUEUE, "queue_overflow"},
    {ANA_METRIC_DROPS_OVERSIZE, "oversize"},
    {ANA_METRIC_DROPS_NODE_DOWN, "node_down"},
};

const ana_metric_info *ana_metric_get(ana_metric metric)
{
    g_return_val_if_fail(metric < ANA_METRIC_COUNT, NULL);
    return &metric_infos[metric];
}

bool ana_metric_from_name(const char *name, ana_metric *out)
{
    for (int m = 0; m < ANA_METRIC_COUNT; m++) {
        if (g_ascii_strcasecmp(name, metric_infos[m].name) == 0) {
            *out = (ana_metric)m;
            return true;
        }
    }
    /* Short forms people type. */
    if (g_ascii_strcasecmp(name, "messages") == 0) {
        *out = ANA_METRIC_MESSAGES;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* One run's metrics.                                                   */

static char *column_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    return text ? g_strdup((const char *)text) : NULL;
}

static double column_double(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL
               ? NAN
               : sqlite3_column_double(stmt, col);
}

/* A time column in microseconds as seconds; NULL is a time that never
 * came. */
static double column_time_s(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL
               ? INFINITY
               : sqlite3_column_double(stmt, col) / 1e6;
}

typedef struct loader {
    sqlite3 *db;
    sqlite3_stmt *rumor_ids;      /* ?1 run: rumor ids, is metadata */
    sqlite3_stmt *one_rumor;      /* ?1 run, ?2 rumor: its summary */
    sqlite3_stmt *heartbeats;     /* ?1 run: summaries of heartbeats */
    sqlite3_stmt *convergence;    /* ?1 run */
    sqlite3_stmt *staleness;      /* ?1 run */
    sqlite3_stmt *drops;          /* ?1 run */
} loader;

#define RUMOR_COLUMNS                                                       \
    "t50_us, t90_us, t99_us, t100_us, messages_per_node,"                 \
    " redundancy - 1.0, nodes - infected"

static gboolean loader_prepare(loader *l, GError **error)
{
    struct {
        sqlite3_stmt **stmt;
        const char *sql;
    } all[] = {
        {&l->rumor_ids,
         "SELECT rumor_id, kind = 'metadata' FROM rumor WHERE run_id = ?1"
         " ORDER BY rumor_id"},
        {&l->one_rumor, "SELECT " RUMOR_COLUMNS " FROM rumor_summary"
                        " WHERE run_id = ?1 AND rumor_id = ?2"},
        {&l->heartbeats, "SELECT " RUMOR_COLUMNS " FROM rumor_summary"
                         " WHERE run_id = ?1 AND kind = 'heartbeat'"
                         " ORDER BY rumor_id"},
        {&l->convergence,
         "SELECT count(*), min(CASE WHEN live > 0 AND complete = live"
         " THEN t_us END) FROM membership WHERE run_id = ?1"},
        /* Each version's publish time is its earliest 'publish' row. */
        {&l->staleness,
         "SELECT avg(m.t_us - p.t_us) FROM metadata_version m JOIN ("
         "  SELECT counter, origin_addr, min(t_us) AS t_us"
         "  FROM metadata_version WHERE run_id = ?1 AND via = 'publish'"
         "  GROUP BY counter, origin_addr) p"
         " ON p.counter = m.counter AND p.origin_addr = m.origin_addr"
         " WHERE m.run_id = ?1 AND m.via <> 'publish'"},
        {&l->drops, "SELECT outcome, sum(packets), sum(bytes) FROM traffic"
                    " WHERE run_id = ?1 GROUP BY outcome"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++) {
        int rc = sqlite3_prepare_v2(l->db, all[i].sql, -1, all[i].stmt, NULL);
        if (rc != SQLITE_OK)
            return ana__db_error(error, l->db, rc, "preparing a query");
    }
    return TRUE;
}

static void loader_clear(loader *l)
{
    sqlite3_finalize(l->rumor_ids);
    sqlite3_finalize(l->one_rumor);
    sqlite3_finalize(l->heartbeats);
    sqlite3_finalize(l->convergence);
    sqlite3_finalize(l->staleness);
    sqlite3_finalize(l->drops);
    sqlite3_close(l->db);
}

/* Per-rumor values, appended by add_rumor_row(), reduced by medians. */
enum { R_T50, R_T90, R_T99, R_T100, R_MSGS, R_RMR, R_MISSED, R_COUNT };

static void add_rumor_row(sqlite3_stmt *stmt, GArray *cols[R_COUNT])
{
    for (int c = R_T50; c <= R_T100; c++) {
        double t = column_time_s(stmt, c);
        g_array_append_val(cols[c], t);
    }
    for (int c = R_MSGS; c < R_COUNT; c++) {
        double v = column_double(stmt, c);
        if (!isnan(v))
            g_array_append_val(cols[c], v);
    }
}

static gboolean step_rows(loader *l, sqlite3_stmt *stmt, GArray *cols[R_COUNT],
                          GError **error)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        add_rumor_row(stmt, cols);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, l->db, rc, "reading rumors");
    return TRUE;
}

static double median_of(GArray *values)
{
    return values->len ? ana_stats_median((const double *)values->data,
                                          values->len)
                       : NAN;
}

/* The metrics a rumor has, reduced from its per-rumor columns. */
static const ana_metric rumor_metrics[] = {
    ANA_METRIC_T50,        ANA_METRIC_T90,        ANA_METRIC_T99,
    ANA_METRIC_T100,       ANA_METRIC_ROUNDS50,   ANA_METRIC_ROUNDS90,
    ANA_METRIC_MESSAGES,   ANA_METRIC_REDUNDANCY, ANA_METRIC_NEVER_REACHED,
};

static void columns_new(GArray *cols[R_COUNT])
{
    for (int c = 0; c < R_COUNT; c++)
        cols[c] = g_array_new(FALSE, FALSE, sizeof(double));
}

/* The medians of the columns into the rumor metrics of values[]; frees
 * the columns. */
static void reduce_rumors(GArray *cols[R_COUNT], double round_s,
                          double values[ANA_METRIC_COUNT])
{
    static const ana_metric targets[R_COUNT] = {
        ANA_METRIC_T50,      ANA_METRIC_T90,        ANA_METRIC_T99,
        ANA_METRIC_T100,     ANA_METRIC_MESSAGES,   ANA_METRIC_REDUNDANCY,
        ANA_METRIC_NEVER_REACHED,
    };
    for (int c = 0; c < R_COUNT; c++) {
        values[targets[c]] = median_of(cols[c]);
        g_array_free(cols[c], TRUE);
    }
    values[ANA_METRIC_ROUNDS50] = values[ANA_METRIC_T50] / round_s;
    values[ANA_METRIC_ROUNDS90] = values[ANA_METRIC_T90] / round_s;
}

typedef struct rumor_id {
    sqlite3_int64 id;
    bool metadata;            /* else a heartbeat */
} rumor_id;

/* The rumor metrics: medians over the run's metadata rumors, or over its
 * sampled heartbeats when it published none; and over its heartbeats
 * alone when `heartbeats` asks for them (they cost as much as the rest
 * of the run's metrics together). */
static gboolean load_rumors(loader *l, ana_run *run, bool heartbeats,
                            GError **error)
{
    GArray *cols[R_COUNT], *beats[R_COUNT];
    columns_new(cols);
    columns_new(beats);
    gboolean ok = TRUE;
    int rc;
    sqlite3_bind_int64(l->rumor_ids, 1, run->run_id);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(rumor_id));
    size_t n_metadata = 0;
    while ((rc = sqlite3_step(l->rumor_ids)) == SQLITE_ROW) {
        rumor_id id = {sqlite3_column_int64(l->rumor_ids, 0),
                       sqlite3_column_int(l->rumor_ids, 1) != 0};
        n_metadata += id.metadata;
        g_array_append_val(ids, id);
    }
    sqlite3_reset(l->rumor_ids);
    if (rc != SQLITE_DONE)
        ok = ana__db_error(error, l->db, rc, "reading rumors");
    for (guint i = 0; ok && i < ids->len; i++) {
        const rumor_id *id = &g_array_index(ids, rumor_id, i);
        if (!id->metadata)
            continue;
        sqlite3_bind_int64(l->one_rumor, 1, run->run_id);
        sqlite3_bind_int64(l->one_rumor, 2, id->id);
        ok = step_rows(l, l->one_rumor, cols, error);
    }
    run->heartbeats_only = n_metadata == 0;
    run->heartbeats = (int64_t)(ids->len - n_metadata);
    g_array_free(ids, TRUE);
    if (ok && (run->heartbeats_only || heartbeats)) {
        sqlite3_bind_int64(l->heartbeats, 1, run->run_id);
        ok = step_rows(l, l->heartbeats, beats, error);
    }
    run->rumors = run->heartbeats_only ? beats[R_T50]->len : cols[R_T50]->len;

    reduce_rumors(cols, run->round_s, run->value);
    reduce_rumors(beats, run->round_s, run->heartbeat_value);
    if (run->heartbeats_only)
        for (size_t i = 0; i < G_N_ELEMENTS(rumor_metrics); i++)
            run->value[rumor_metrics[i]] =
                run->heartbeat_value[rumor_metrics[i]];
    return ok;
}

static gboolean load_others(loader *l, ana_run *run, GError **error)
{
    int rc;
    sqlite3_bind_int64(l->convergence, 1, run->run_id);
    if ((rc = sqlite3_step(l->convergence)) != SQLITE_ROW)
        goto fail;
    run->value[ANA_METRIC_CONVERGENCE] =
        sqlite3_column_int64(l->convergence, 0) == 0
            ? NAN
            : column_time_s(l->convergence, 1);
    sqlite3_reset(l->convergence);

    sqlite3_bind_int64(l->staleness, 1, run->run_id);
    if ((rc = sqlite3_step(l->staleness)) != SQLITE_ROW)
        goto fail;
    run->value[ANA_METRIC_STALENESS] = column_double(l->staleness, 0) / 1e6;
    sqlite3_reset(l->staleness);

    for (size_t d = 0; d < G_N_ELEMENTS(drop_outcomes); d++)
        run->value[drop_outcomes[d].metric] = 0;
    double sent = 0, sent_bytes = 0;
    sqlite3_bind_int64(l->drops, 1, run->run_id);
    while ((rc = sqlite3_step(l->drops)) == SQLITE_ROW) {
        const char *outcome = (const char *)sqlite3_column_text(l->drops, 0);
        for (size_t d = 0; outcome && d < G_N_ELEMENTS(drop_outcomes); d++)
            if (strcmp(outcome, drop_outcomes[d].outcome) == 0)
                run->value[drop_outcomes[d].metric] =
                    sqlite3_column_double(l->drops, 1);
        if (outcome && strcmp(outcome, "sent") == 0) {
            sent = sqlite3_column_double(l->drops, 1);
            sent_bytes = sqlite3_column_double(l->drops, 2);
        }
    }
    sqlite3_reset(l->drops);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, l->db, rc, "reading traffic");
    /* Every node for the whole run, cold start included: what the
     * traffic table alone gives (docs/analysis.md). */
    double node_cycles = (double)run->nodes * run->sim_time_s / run->cycle_s;
    if (node_cycles > 0 && isfinite(node_cycles)) {
        run->value[ANA_METRIC_PACKETS_PER_CYCLE] = sent / node_cycles;
        run->value[ANA_METRIC_BYTES_PER_CYCLE] = sent_bytes / node_cycles;
    }
    return TRUE;

fail:
    sqlite3_reset(l->convergence);
    sqlite3_reset(l->staleness);
    return ana__db_error(error, l->db, rc, "reading a run");
}

/* The failure detector's figures, for a run that recorded ground truth.
 * A removal is judged against the timeout (qos.h); without a known
 * timeout there is no judging, and no figures. */
static gboolean load_qos(loader *l, ana_run *run, GError **error)
{
    double window_s = run->timeout_s;
    if (!run->has_qos || !(window_s > 0) || !isfinite(window_s) ||
        run->nodes < 1) {
        run->has_qos = false;
        return TRUE;
    }
    int64_t end_us = isfinite(run->sim_time_s)
                         ? (int64_t)(run->sim_time_s * 1e6)
                         : 0;
    if (!ana_qos_load(l->db, run->run_id, (size_t)run->nodes, end_us,
                      (int64_t)(window_s * 1e6), &run->qos, error))
        return FALSE;
    const ana_qos *q = &run->qos;
    run->value[ANA_METRIC_DETECTION] = q->detection_median_s;
    run->value[ANA_METRIC_DETECTION_P99] = q->detection_p99_s;
    run->value[ANA_METRIC_WRONG_REMOVALS] = (double)q->wrong;
    run->value[ANA_METRIC_WRONG_RATE] = q->wrong_rate;
    run->value[ANA_METRIC_MISTAKE_DURATION] = q->mistake_duration_s;
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Runs.                                                                */

#define PARAM(path)                                                         \
    "CASE WHEN json_valid(params) THEN json_extract(params, '" path "') END"

static const char runs_sql[] =
    "SELECT run_id, scenario, sweep_point, sweep_id, repetition, seed,"
    " status, source, nodes, " PARAM("$.engine.dissemination") ", "
    PARAM("$.engine.amount") ", " PARAM("$.network.latency_us.expected") ", "
    PARAM("$.engine.cycle_us") ", " PARAM("$.network.loss.expected") ","
    /* What repetitions share: everything but the seed (and the overrides
     * that set values the parameters already hold; and for a fleet, what
     * its merge measured: clock corrections, the swaps' latency). */
    " CASE WHEN NOT json_valid(params) THEN NULL"
    "   WHEN source = 'fleet' THEN json_remove(params, '$.fleet',"
    "     '$.network')"
    "   ELSE json_remove(params, '$.cluster.seed', '$.overrides') END,"
    " sim_time_us,"
    " (SELECT group_concat(value, ',') FROM json_each(CASE WHEN"
    "   json_valid(params) THEN params ELSE '{}' END, '$.overrides')"
    "   WHERE value NOT LIKE 'cluster.seed=%'), "
    PARAM("$.engine.timeout_us") ", " PARAM("$.engine.size") ", "
    PARAM("$.engine.exchanges") ", ground_truth"
    " FROM run WHERE (?1 < 0 AND status = 'complete') OR run_id = ?1"
    " ORDER BY run_id";

/* The timeout the run's nodes used: the configured one (resolved when
 * recorded), or digest's default for the run's size. NAN when the
 * parameters do not say. */
static void resolve_timeout(ana_run *run, double timeout_us)
{
    run->timeout_s = NAN;
    run->timeout_scaled = false;
    if (!(timeout_us >= 0) || !isfinite(timeout_us))
        return;
    if (timeout_us > 0 || g_strcmp0(run->dissemination, "digest") != 0) {
        run->timeout_s = timeout_us > 0 ? timeout_us / 1e6 : NAN;
        return;
    }
    /* Out-of-range parameters (a hand-edited file) are refused by
     * peko_digest_timeout_us() itself. */
    if (!(run->cycle_s > 0) || !(run->size > 0) || !(run->exchanges > 0) ||
        run->size > INT_MAX || run->exchanges > INT_MAX ||
        run->cycle_s > 1e12 || run->nodes < 1)
        return;
    peko_config c;
    memset(&c, 0, sizeof c);
    c.cycle_us = (int64_t)(run->cycle_s * 1e6);
    c.size = (int)run->size;
    c.exchanges = (int)run->exchanges;
    c.dissemination = PEKO_DISSEMINATION_DIGEST;
    int64_t us = peko_digest_timeout_us((size_t)run->nodes, &c);
    if (us > 0) {
        run->timeout_s = (double)us / 1e6;
        run->timeout_scaled = true;
    }
}

static void read_run_row(sqlite3_stmt *stmt, ana_run *run)
{
    run->run_id = sqlite3_column_int64(stmt, 0);
    run->scenario = column_text(stmt, 1);
    run->sweep_point = column_text(stmt, 2);
    if (!run->sweep_point)
        run->sweep_point = g_strdup("");
    run->sweep_id = column_text(stmt, 3);
    run->repetition = sqlite3_column_type(stmt, 4) == SQLITE_NULL
                          ? -1
                          : sqlite3_column_int64(stmt, 4);
    run->seed = sqlite3_column_int64(stmt, 5);
    run->status = column_text(stmt, 6);
    run->source = column_text(stmt, 7);
    run->nodes = sqlite3_column_int64(stmt, 8);
    run->dissemination = column_text(stmt, 9);
    run->fanout = column_double(stmt, 10);
    run->latency_s = column_double(stmt, 11) / 1e6;
    run->cycle_s = column_double(stmt, 12) / 1e6;
    run->loss = column_double(stmt, 13);
    run->variant = column_text(stmt, 14);
    if (!run->variant)
        run->variant = g_strdup("");
    run->sim_time_s = column_double(stmt, 15) / 1e6;
    run->overrides = column_text(stmt, 16);
    if (!run->overrides)
        run->overrides = g_strdup("");
    /* Rumors are forwarded on receipt, so a hop takes one one-way latency;
     * without a latency (or with none at all) the cycle paces it. */
    run->round_s = run->latency_s > 0 ? run->latency_s : run->cycle_s;
    for (int m = 0; m < ANA_METRIC_COUNT; m++)
        run->value[m] = run->heartbeat_value[m] = NAN;
    run->size = column_double(stmt, 18);
    run->exchanges = column_double(stmt, 19);
    run->has_qos = sqlite3_column_int(stmt, 20) == 1;
    resolve_timeout(run, column_double(stmt, 17));
}

static void run_clear(ana_run *run)
{
    ana_qos_clear(&run->qos);
    g_free(run->scenario);
    g_free(run->sweep_point);
    g_free(run->sweep_id);
    g_free(run->status);
    g_free(run->source);
    g_free(run->dissemination);
    g_free(run->variant);
    g_free(run->overrides);
}

/* Sort keys of a run: scenario, sweep point in natural order, then
 * repetition, seed, and run id last (only ties of identical runs). */
typedef struct run_key {
    size_t index;
    const ana_run *run;
    char *point_key;
} run_key;

static int compare_keys(const void *pa, const void *pb)
{
    const run_key *a = pa, *b = pb;
    int c = strcmp(a->run->scenario ? a->run->scenario : "",
                   b->run->scenario ? b->run->scenario : "");
    if (c == 0)
        c = g_strcmp0(a->run->source, b->run->source);
    if (c == 0)
        c = strcmp(a->point_key, b->point_key);
    if (c == 0)
        c = strcmp(a->run->sweep_point, b->run->sweep_point);
    if (c == 0 && !*a->run->sweep_point)
        c = strcmp(a->run->variant, b->run->variant);
    if (c == 0)
        c = (a->run->repetition > b->run->repetition) -
            (a->run->repetition < b->run->repetition);
    if (c == 0)
        c = (a->run->seed > b->run->seed) - (a->run->seed < b->run->seed);
    if (c == 0)
        c = (a->run->run_id > b->run->run_id) -
            (a->run->run_id < b->run->run_id);
    return c;
}

/* Runs of a sweep point are its repetitions. Outside a sweep, runs are
 * repetitions when everything but the seed is the same, so `peko sim`
 * runs of different settings recorded into one file stay apart. */
static bool same_config(const ana_run *a, const ana_run *b)
{
    /* A simulated and a real-network run of one scenario are two
     * configurations: what compare holds side by side, never pooled. */
    return g_strcmp0(a->scenario, b->scenario) == 0 &&
           g_strcmp0(a->source, b->source) == 0 &&
           strcmp(a->sweep_point, b->sweep_point) == 0 &&
           (*a->sweep_point || strcmp(a->variant, b->variant) == 0);
}

static void group_configs(ana_runset *set)
{
    size_t n = set->n_runs;
    run_key *keys = g_new(run_key, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        keys[i] = (run_key){
            .index = i,
            .run = &set->runs[i],
            .point_key =
                g_utf8_collate_key_for_filename(set->runs[i].sweep_point, -1),
        };
    qsort(keys, n, sizeof *keys, compare_keys);
    GArray *configs = g_array_new(FALSE, TRUE, sizeof(ana_config));
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_config(keys[i].run, keys[j].run))
            j++;
        ana_config config = {
            .scenario = keys[i].run->scenario,
            .sweep_point = keys[i].run->sweep_point,
            .runs = g_new(size_t, j - i),
            .n_runs = j - i,
        };
        for (size_t k = i; k < j; k++)
            config.runs[k - i] = keys[k].index;
        g_array_append_val(configs, config);
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        g_free(keys[i].point_key);
    g_free(keys);
    set->n_configs = configs->len;
    set->configs = (ana_config *)g_array_free(configs, FALSE);
}

gboolean ana_runset_load(const char *path, int64_t only_run,
                         ana_runset *out, GError **error)
{
    return ana_runset_load_full(path, only_run, 0, out, error);
}

gboolean ana_runset_load_full(const char *path, int64_t only_run,
                              unsigned flags, ana_runset *out,
                              GError **error)
{
    *out = (ana_runset){.path = g_strdup(path)};
    loader l = {0};
    if (!ana__db_open_reader(path, &l.db, error)) {
        ana_runset_clear(out);
        return FALSE;
    }
    sqlite3_stmt *runs = NULL;
    GArray *loaded = g_array_new(FALSE, TRUE, sizeof(ana_run));
    gboolean ok = loader_prepare(&l, error);
    int rc = SQLITE_OK;
    if (ok && (rc = sqlite3_prepare_v2(l.db, runs_sql, -1, &runs, NULL)) !=
                  SQLITE_OK)
        ok = ana__db_error(error, l.db, rc, "reading runs");
    if (ok) {
        sqlite3_bind_int64(runs, 1, only_run);
        while ((rc = sqlite3_step(runs)) == SQLITE_ROW) {
            ana_run run = {0};
            read_run_row(runs, &run);
            g_array_append_val(loaded, run);
        }
        if (rc != SQLITE_DONE)
            ok = ana__db_error(error, l.db, rc, "reading runs");
    }
    sqlite3_finalize(runs);
    for (guint i = 0; ok && i < loaded->len; i++) {
        ana_run *run = &g_array_index(loaded, ana_run, i);
        ok = load_rumors(&l, run, (flags & ANA_RUNSET_HEARTBEATS) != 0,
                         error) &&
             load_others(&l, run, error) && load_qos(&l, run, error);
    }
    sqlite3_int64 total = 0;
    if (ok && only_run < 0)
        ok = ana__db_query_int(l.db, "SELECT count(*) FROM run",
                               "counting runs", &total, error);
    loader_clear(&l);

    out->n_runs = loaded->len;
    out->runs = (ana_run *)g_array_free(loaded, FALSE);
    if (ok && only_run >= 0 && out->n_runs == 0) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID, "no run %" G_GINT64_FORMAT,
                    only_run);
        ok = FALSE;
    }
    if (!ok) {
        g_prefix_error(error, "%s: ", path);
        ana_runset_clear(out);
        return FALSE;
    }
    out->n_not_complete = only_run < 0 ? (size_t)total - out->n_runs : 0;
    group_configs(out);
    return TRUE;
}

void ana_runset_clear(ana_runset *set)
{
    for (size_t i = 0; i < set->n_runs; i++)
        run_clear(&set->runs[i]);
    for (size_t i = 0; i < set->n_configs; i++)
        g_free(set->configs[i].runs);
    g_free(set->runs);
    g_free(set->configs);
    g_free(set->path);
    *set = (ana_runset){0};
}

size_t ana_config_values(const ana_runset *set, const ana_config *config,
                         ana_metric metric, double *out)
{
    size_t n = 0;
    for (size_t i = 0; i < config->n_runs; i++) {
        double v = set->runs[config->runs[i]].value[metric];
        if (!isnan(v))
            out[n++] = v;
    }
    for (size_t i = n; i < config->n_runs; i++)
        out[i] = NAN;
    return n;
}

size_t ana_config_counts(const ana_runset *set, const ana_config *config,
                         ana_metric metric, double *counts,
                         double *exposure)
{
    g_return_val_if_fail(metric < ANA_METRIC_COUNT &&
                             metric_infos[metric].is_count,
                         0);
    size_t n = 0;
    for (size_t i = 0; i < config->n_runs; i++) {
        const ana_run *run = &set->runs[config->runs[i]];
        if (!run->has_qos)
            continue;
        counts[n] = (double)run->qos.wrong;
        exposure[n] = run->qos.node_hours;
        n++;
    }
    return n;
}

const ana_config *ana_runset_find(const ana_runset *set,
                                  const ana_runset *other_set,
                                  const ana_config *other)
{
    const ana_run *key = &other_set->runs[other->runs[0]];
    for (size_t i = 0; i < set->n_configs; i++) {
        const ana_run *run = &set->runs[set->configs[i].runs[0]];
        if (same_config(run, key))
            return &set->configs[i];
    }
    return NULL;
}
