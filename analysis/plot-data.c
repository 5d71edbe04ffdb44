/* plot-data.c: what `peko plot` reads from a database (plot-private.h).
 *
 * Queries only; plot-figures.c draws. Only what is drawn is read: the
 * infection rows of metadata rumors and of the sampled heartbeats, each
 * reduced at once to PLOT_LEVELS times, and membership and timeline rows.
 * Every query is keyed on run_id (and rumor_id), so a run costs the same
 * however many others share the file.
 */
#include <math.h>
#include <string.h>

#include "db.h"
#include "plot-private.h"
#include "schema.h"
#include "stats.h"

void plot_levels_fill(const double *t, size_t m, int64_t nodes,
                      double *level_us)
{
    for (int64_t j = 1; j <= PLOT_LEVELS; j++) {
        int64_t k = (j * nodes + PLOT_LEVELS - 1) / PLOT_LEVELS;
        k = MAX(k, 1);
        level_us[j - 1] = (size_t)k <= m ? t[k - 1] : INFINITY;
    }
}

/* tX as rumor_summary defines it: the k-th earliest of the sorted times,
 * k = ceil(X N / 100) (at least 1), or never when fewer nodes held it. */
static double time_at_percent(const double *t, size_t m, int64_t nodes,
                              int percent)
{
    int64_t k = MAX((percent * nodes + 99) / 100, 1);
    return (size_t)k <= m ? t[k - 1] : INFINITY;
}

static char *column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return text ? g_strdup((const char *)text) : NULL;
}

static double column_double(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL
               ? NAN
               : sqlite3_column_double(st, col);
}

/* ------------------------------------------------------------------ */
/* Clearing.                                                            */

static void rumor_clear(gpointer p)
{
    g_free(((plot_rumor *)p)->level_us);
}

static void event_clear(gpointer p)
{
    plot_event *e = p;
    g_free(e->event);
    g_free(e->detail);
}

static void run_clear(gpointer p)
{
    plot_run *r = p;
    g_free(r->scenario);
    g_free(r->sweep_point);
    g_free(r->status);
    g_free(r->variant);
    g_free(r->overrides);
    g_clear_pointer(&r->metadata, g_array_unref);
    g_clear_pointer(&r->heartbeats, g_array_unref);
    g_clear_pointer(&r->samples, g_array_unref);
    g_clear_pointer(&r->membership, g_array_unref);
    g_clear_pointer(&r->timeline, g_array_unref);
}

static void config_clear(gpointer p)
{
    plot_config *c = p;
    g_free(c->label);
    g_free(c->short_label);
    g_clear_pointer(&c->runs, g_array_unref);
}

void plot_data_clear(plot_data *data)
{
    g_free(data->path);
    g_clear_pointer(&data->runs, g_array_unref);
    g_clear_pointer(&data->configs, g_array_unref);
    g_clear_pointer(&data->left_out, g_ptr_array_unref);
    memset(data, 0, sizeof *data);
}

/* ------------------------------------------------------------------ */
/* Statements, prepared once per database.                              */

typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *rumors;      /* ?1 run, ?2 kind */
    sqlite3_stmt *infections;  /* ?1 run, ?2 rumor: times in order */
    sqlite3_stmt *membership;  /* ?1 run */
    sqlite3_stmt *timeline;    /* ?1 run */
} reader;

static gboolean reader_prepare(reader *r, GError **error)
{
    return ana__db_prepare(r->db,
                           "SELECT rumor_id, origin, created_us, messages"
                           " FROM rumor WHERE run_id = ?1 AND kind = ?2"
                           " ORDER BY created_us, rumor_id",
                           &r->rumors, error) &&
           /* The table's key is (run_id, rumor_id, t_us, node_id): rows
            * come in time order without a sort. */
           ana__db_prepare(r->db,
                           "SELECT t_us, via = 'origin' FROM infection"
                           " WHERE run_id = ?1 AND rumor_id = ?2"
                           " ORDER BY t_us",
                           &r->infections, error) &&
           ana__db_prepare(r->db,
                           "SELECT t_us, live, complete FROM membership"
                           " WHERE run_id = ?1 ORDER BY sample",
                           &r->membership, error) &&
           ana__db_prepare(r->db,
                           "SELECT t_us, event, detail FROM timeline"
                           " WHERE run_id = ?1 ORDER BY seq",
                           &r->timeline, error);
}

static void reader_clear(reader *r)
{
    sqlite3_finalize(r->rumors);
    sqlite3_finalize(r->infections);
    sqlite3_finalize(r->membership);
    sqlite3_finalize(r->timeline);
    sqlite3_close(r->db);
}

/* ------------------------------------------------------------------ */
/* Rumors.                                                              */

typedef struct rumor_row {
    int64_t rumor_id, origin;
    double created_us;
    int64_t messages;
} rumor_row;

static gboolean read_rumor_rows(reader *r, int64_t run_id, const char *kind,
                                GArray *rows, GError **error)
{
    sqlite3_bind_int64(r->rumors, 1, run_id);
    sqlite3_bind_text(r->rumors, 2, kind, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(r->rumors)) == SQLITE_ROW) {
        rumor_row row = {
            .rumor_id = sqlite3_column_int64(r->rumors, 0),
            .origin = sqlite3_column_int64(r->rumors, 1),
            .created_us = sqlite3_column_double(r->rumors, 2),
            .messages = sqlite3_column_int64(r->rumors, 3),
        };
        g_array_append_val(rows, row);
    }
    sqlite3_reset(r->rumors);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, r->db, rc, "reading rumors");
    return TRUE;
}

/* The infection times of one rumor, in order, into `times` (cleared
 * first); *origin_rows counts the origin's own rows among them. */
static gboolean read_infections(reader *r, int64_t run_id, int64_t rumor_id,
                                GArray *times, size_t *origin_rows,
                                GError **error)
{
    g_array_set_size(times, 0);
    *origin_rows = 0;
    sqlite3_bind_int64(r->infections, 1, run_id);
    sqlite3_bind_int64(r->infections, 2, rumor_id);
    int rc;
    while ((rc = sqlite3_step(r->infections)) == SQLITE_ROW) {
        double t = sqlite3_column_double(r->infections, 0);
        g_array_append_val(times, t);
        *origin_rows += sqlite3_column_int(r->infections, 1) != 0;
    }
    sqlite3_reset(r->infections);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, r->db, rc, "reading infections");
    return TRUE;
}

static void fill_rumor(plot_rumor *out, const rumor_row *row,
                       const GArray *times, int64_t nodes, gboolean curve)
{
    const double *t = (const double *)(void *)times->data;
    size_t m = times->len;
    out->rumor_id = row->rumor_id;
    out->origin = row->origin;
    out->created_us = row->created_us;
    out->infected = (int64_t)m;
    out->t50_us = time_at_percent(t, m, nodes, 50);
    out->t90_us = time_at_percent(t, m, nodes, 90);
    out->t99_us = time_at_percent(t, m, nodes, 99);
    out->t100_us = time_at_percent(t, m, nodes, 100);
    out->messages_per_node =
        nodes > 0 ? (double)row->messages / (double)nodes : NAN;
    if (curve) {
        out->level_us = g_new(double, PLOT_LEVELS);
        plot_levels_fill(t, m, nodes, out->level_us);
    }
}

/* Infection times of a metadata rumor for the CDF, without the origin's
 * own row: all of them, or PLOT_CDF_SAMPLES evenly spread, each the
 * middle of the run of times it stands for. */
static void add_samples(GArray *samples, const GArray *times,
                        size_t origin_rows)
{
    const double *t = (const double *)(void *)times->data;
    size_t m = times->len;
    /* The origin's row has t_us 0 and sorts first. */
    size_t skip = MIN(origin_rows, m);
    size_t n = m - skip;
    size_t stride = n > PLOT_CDF_SAMPLES
                        ? (n + PLOT_CDF_SAMPLES - 1) / PLOT_CDF_SAMPLES
                        : 1;
    for (size_t i = 0; i < n; i += stride) {
        size_t len = MIN(stride, n - i);
        plot_sample s = {.t_us = t[skip + i + len / 2], .weight = (double)len};
        g_array_append_val(samples, s);
    }
}

static gboolean load_metadata(reader *r, plot_run *run, GArray *times,
                              GError **error)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(rumor_row));
    gboolean ok = read_rumor_rows(r, run->run_id, "metadata", rows, error);
    for (guint i = 0; ok && i < rows->len; i++) {
        const rumor_row *row = &g_array_index(rows, rumor_row, i);
        size_t origin_rows;
        ok = read_infections(r, run->run_id, row->rumor_id, times,
                             &origin_rows, error);
        if (!ok)
            break;
        plot_rumor rumor = {0};
        fill_rumor(&rumor, row, times, run->nodes, TRUE);
        g_array_append_val(run->metadata, rumor);
        add_samples(run->samples, times, origin_rows);
    }
    g_array_free(rows, TRUE);
    return ok;
}

static double median_of(GArray *values)
{
    return values->len ? ana_stats_median((const double *)(void *)values->data,
                                          values->len)
                       : NAN;
}

static gboolean load_heartbeats(reader *r, plot_run *run, GArray *times,
                                GError **error)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(rumor_row));
    gboolean ok = read_rumor_rows(r, run->run_id, "heartbeat", rows, error);
    run->n_heartbeats = rows->len;
    guint stride = rows->len > PLOT_HEARTBEAT_CURVES
                       ? (rows->len + PLOT_HEARTBEAT_CURVES - 1) /
                             PLOT_HEARTBEAT_CURVES
                       : 1;
    GArray *t50 = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *t99 = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *t100 = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *msgs = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 0; ok && i < rows->len; i++) {
        const rumor_row *row = &g_array_index(rows, rumor_row, i);
        size_t origin_rows;
        ok = read_infections(r, run->run_id, row->rumor_id, times,
                             &origin_rows, error);
        if (!ok)
            break;
        plot_rumor rumor = {0};
        fill_rumor(&rumor, row, times, run->nodes, i % stride == 0);
        g_array_append_val(t50, rumor.t50_us);
        g_array_append_val(t99, rumor.t99_us);
        g_array_append_val(t100, rumor.t100_us);
        if (!isnan(rumor.messages_per_node))
            g_array_append_val(msgs, rumor.messages_per_node);
        if (rumor.level_us)
            g_array_append_val(run->heartbeats, rumor);
    }
    run->hb_t50_us = median_of(t50);
    run->hb_t99_us = median_of(t99);
    run->hb_t100_us = median_of(t100);
    run->hb_messages_per_node = median_of(msgs);
    g_array_free(t50, TRUE);
    g_array_free(t99, TRUE);
    g_array_free(t100, TRUE);
    g_array_free(msgs, TRUE);
    g_array_free(rows, TRUE);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Membership and timeline.                                             */

static gboolean load_membership(reader *r, plot_run *run, GError **error)
{
    sqlite3_bind_int64(r->membership, 1, run->run_id);
    int rc;
    while ((rc = sqlite3_step(r->membership)) == SQLITE_ROW) {
        plot_member m = {
            .t_us = sqlite3_column_double(r->membership, 0),
            .live = sqlite3_column_int64(r->membership, 1),
            .complete = sqlite3_column_int64(r->membership, 2),
        };
        g_array_append_val(run->membership, m);
    }
    sqlite3_reset(r->membership);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, r->db, rc, "reading membership");
    return TRUE;
}

static gboolean load_timeline(reader *r, plot_run *run, GError **error)
{
    sqlite3_bind_int64(r->timeline, 1, run->run_id);
    int rc;
    while ((rc = sqlite3_step(r->timeline)) == SQLITE_ROW) {
        plot_event e = {
            .t_us = sqlite3_column_double(r->timeline, 0),
            .event = column_text(r->timeline, 1),
            .detail = column_text(r->timeline, 2),
        };
        if (e.event == NULL)
            e.event = g_strdup("");
        g_array_append_val(run->timeline, e);
    }
    sqlite3_reset(r->timeline);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, r->db, rc, "reading the timeline");
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Runs and configurations.                                             */

/* The run table gained sweep_point and repetition in schema 2; a file of
 * schema 1 has neither, and every run in it is outside a sweep. */
static gboolean has_sweep_columns(sqlite3 *db, gboolean *out, GError **error)
{
    sqlite3_int64 n;
    if (!ana__db_query_int(db,
                           "SELECT count(*) FROM pragma_table_info('run')"
                           " WHERE name IN ('sweep_point', 'repetition')",
                           "reading the run table's columns", &n, error))
        return FALSE;
    *out = n == 2;
    return TRUE;
}

#define PARAMS "CASE WHEN json_valid(params) THEN params ELSE '{}' END"

static gboolean read_runs(sqlite3 *db, GArray *runs, GError **error)
{
    gboolean sweep;
    if (!has_sweep_columns(db, &sweep, error))
        return FALSE;
    char *sql = g_strdup_printf(
        "SELECT run_id, scenario, %s, %s, seed, status, nodes,"
        " coalesce(sim_time_us, 0),"
        " json_extract(" PARAMS ", '$.engine.amount'),"
        " json_extract(" PARAMS ", '$.network.loss.expected'),"
        " json_extract(" PARAMS ", '$.network.latency_us.expected'),"
        " json_remove(" PARAMS ", '$.cluster.seed', '$.overrides'),"
        " (SELECT group_concat(value, ',') FROM json_each(" PARAMS ","
        "   '$.overrides') WHERE value NOT LIKE 'cluster.seed=%%')"
        " FROM run ORDER BY run_id",
        sweep ? "sweep_point" : "''", sweep ? "repetition" : "NULL");
    sqlite3_stmt *st;
    gboolean ok = ana__db_prepare(db, sql, &st, error);
    g_free(sql);
    if (!ok)
        return FALSE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        plot_run run = {
            .run_id = sqlite3_column_int64(st, 0),
            .scenario = column_text(st, 1),
            .sweep_point = column_text(st, 2),
            .repetition = sqlite3_column_type(st, 3) == SQLITE_NULL
                              ? -1
                              : sqlite3_column_int64(st, 3),
            .seed = sqlite3_column_int64(st, 4),
            .status = column_text(st, 5),
            .nodes = sqlite3_column_int64(st, 6),
            .sim_time_us = sqlite3_column_double(st, 7),
            .amount = column_double(st, 8),
            .loss = column_double(st, 9),
            .latency_us = column_double(st, 10),
            .variant = column_text(st, 11),
            .overrides = column_text(st, 12),
        };
        if (!run.scenario)
            run.scenario = g_strdup("");
        if (!run.sweep_point)
            run.sweep_point = g_strdup("");
        if (!run.status)
            run.status = g_strdup("");
        if (!run.variant)
            run.variant = g_strdup("");
        if (!run.overrides)
            run.overrides = g_strdup("");
        g_array_append_val(runs, run);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "reading runs");
    return TRUE;
}

char **plot_split_point(const char *point)
{
    GPtrArray *parts = g_ptr_array_new();
    int depth = 0;
    const char *start = point;
    for (const char *p = point;; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        else if ((*p == ',' && depth == 0) || *p == '\0') {
            if (p > start || *p == ',')
                g_ptr_array_add(parts, g_strndup(start, (gsize)(p - start)));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    g_ptr_array_add(parts, NULL);
    return (char **)g_ptr_array_free(parts, FALSE);
}

char **plot_short_labels(const char *const *scenario,
                         const char *const *point, size_t n)
{
    char ***parts = g_new0(char **, MAX(n, 1));
    gboolean same_scenario = TRUE;
    for (size_t i = 0; i < n; i++) {
        parts[i] = plot_split_point(point[i]);
        same_scenario = same_scenario && strcmp(scenario[i], scenario[0]) == 0;
    }
    char **labels = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        GString *rest = g_string_new(NULL);
        for (char **part = parts[i]; *part; part++) {
            gboolean everywhere = n > 1;
            for (size_t j = 0; j < n && everywhere; j++)
                everywhere = g_strv_contains((const char *const *)parts[j],
                                             *part);
            if (everywhere)
                continue;
            if (rest->len)
                g_string_append_c(rest, ',');
            g_string_append(rest, *part);
        }
        gboolean named = !same_scenario || n == 1 || rest->len == 0;
        labels[i] = named && rest->len
                        ? g_strdup_printf("%s %s", scenario[i], rest->str)
                    : named ? g_strdup(scenario[i])
                            : g_strdup(rest->str);
        g_string_free(rest, TRUE);
    }
    for (size_t i = 0; i < n; i++)
        g_strfreev(parts[i]);
    g_free(parts);
    return labels;
}

/* Runs outside a sweep are repetitions when everything but the seed is
 * the same: their key includes their parameters. */
static char *config_key(const plot_run *run)
{
    return g_strdup_printf("%s\n%s\n%s", run->scenario, run->sweep_point,
                           run->sweep_point[0] ? "" : run->variant);
}

typedef struct config_order {
    size_t index;      /* into the configs array */
    char *scenario;    /* borrowed */
    char *point_key;   /* natural order of the sweep point; owned */
    int64_t first_run;
} config_order;

static int compare_order(const void *pa, const void *pb)
{
    const config_order *a = pa, *b = pb;
    int c = strcmp(a->scenario, b->scenario);
    if (c == 0)
        c = strcmp(a->point_key, b->point_key);
    if (c == 0)
        c = (a->first_run > b->first_run) - (a->first_run < b->first_run);
    return c;
}

/* Groups the runs into configurations, ordered by scenario, then sweep
 * point in natural order ("amount=2" before "amount=10"), then first run;
 * sets each run's config index and each configuration's label. */
static void group_configs(plot_data *data)
{
    GHashTable *by_key =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GArray *unordered = g_array_new(FALSE, TRUE, sizeof(plot_config));
    g_array_set_clear_func(unordered, config_clear);
    for (guint i = 0; i < data->runs->len; i++) {
        plot_run *run = &g_array_index(data->runs, plot_run, i);
        char *key = config_key(run);
        gpointer found;
        size_t index;
        if (g_hash_table_lookup_extended(by_key, key, NULL, &found)) {
            index = GPOINTER_TO_SIZE(found);
            g_free(key);
        } else {
            index = unordered->len;
            plot_config c = {
                .runs = g_array_new(FALSE, FALSE, sizeof(size_t)),
            };
            g_array_append_val(unordered, c);
            g_hash_table_insert(by_key, key, GSIZE_TO_POINTER(index));
        }
        size_t run_index = i;
        g_array_append_val(g_array_index(unordered, plot_config, index).runs,
                           run_index);
    }
    g_hash_table_destroy(by_key);

    size_t n = unordered->len;
    config_order *order = g_new0(config_order, MAX(n, 1));
    for (size_t c = 0; c < n; c++) {
        plot_config *config = &g_array_index(unordered, plot_config, c);
        const plot_run *first = plot_config_run(data, config, 0);
        const char *point =
            first->sweep_point[0] ? first->sweep_point : first->overrides;
        order[c] = (config_order){
            .index = c,
            .scenario = first->scenario,
            .point_key = g_utf8_collate_key_for_filename(point, -1),
            .first_run = first->run_id,
        };
    }
    qsort(order, n, sizeof *order, compare_order);

    /* Labels: scenario and sweep point (or the overrides of a plain run);
     * a second configuration with the same label gets a number. */
    GHashTable *labels = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t o = 0; o < n; o++) {
        plot_config config = g_array_index(unordered, plot_config,
                                           order[o].index);
        g_free(order[o].point_key);
        /* Moved into data->configs: the unordered array must not free it. */
        g_array_index(unordered, plot_config, order[o].index).runs = NULL;
        const plot_run *first = plot_config_run(data, &config, 0);
        const char *point =
            first->sweep_point[0] ? first->sweep_point : first->overrides;
        char *label = point[0] ? g_strdup_printf("%s %s", first->scenario,
                                                 point)
                               : g_strdup(first->scenario);
        for (int k = 2; g_hash_table_contains(labels, label); k++) {
            g_free(label);
            label = point[0] ? g_strdup_printf("%s %s (%d)", first->scenario,
                                               point, k)
                             : g_strdup_printf("%s (%d)", first->scenario, k);
        }
        config.label = label;
        g_array_append_val(data->configs, config);
        g_hash_table_add(labels,
                         g_array_index(data->configs, plot_config,
                                       data->configs->len - 1)
                             .label);
        for (guint i = 0; i < config.runs->len; i++)
            g_array_index(data->runs, plot_run,
                          g_array_index(config.runs, size_t, i))
                .config = data->configs->len - 1;
    }
    g_hash_table_destroy(labels);
    g_free(order);
    g_array_unref(unordered);

    const char **scenarios = g_new(const char *, MAX(n, 1));
    const char **points = g_new(const char *, MAX(n, 1));
    for (size_t c = 0; c < n; c++) {
        const plot_config *config =
            &g_array_index(data->configs, plot_config, c);
        const plot_run *first = plot_config_run(data, config, 0);
        scenarios[c] = first->scenario;
        points[c] = first->sweep_point[0] ? first->sweep_point
                                          : first->overrides;
    }
    char **shorts = plot_short_labels(scenarios, points, n);
    for (size_t c = 0; c < n; c++) {
        plot_config *config = &g_array_index(data->configs, plot_config, c);
        /* Configurations the short form cannot tell apart keep their
         * full, numbered label. */
        gboolean unique = TRUE;
        for (size_t d = 0; d < n && unique; d++)
            unique = d == c || strcmp(shorts[d], shorts[c]) != 0;
        config->short_label = unique ? g_strdup(shorts[c])
                                     : g_strdup(config->label);
    }
    g_strfreev(shorts);
    g_free(scenarios);
    g_free(points);
}

/* Keeps the runs to draw: the complete ones, or every run when none is
 * complete (an interrupted run is still worth a look). */
static void choose_runs(plot_data *data, GArray *all)
{
    size_t complete = 0;
    for (guint i = 0; i < all->len; i++)
        complete += strcmp(g_array_index(all, plot_run, i).status,
                           "complete") == 0;
    data->incomplete_drawn = complete == 0 && all->len > 0;
    for (guint i = 0; i < all->len; i++) {
        plot_run *run = &g_array_index(all, plot_run, i);
        if (complete > 0 && strcmp(run->status, "complete") != 0) {
            g_ptr_array_add(data->left_out,
                            g_strdup_printf("run %" G_GINT64_FORMAT " (%s)",
                                            run->run_id, run->status));
            run_clear(run);
            continue;
        }
        g_array_append_val(data->runs, *run);
    }
    /* The runs were moved or cleared one by one. */
    g_array_set_clear_func(all, NULL);
}

static gboolean load_run(reader *r, plot_run *run, GArray *times,
                         GError **error)
{
    run->metadata = g_array_new(FALSE, TRUE, sizeof(plot_rumor));
    g_array_set_clear_func(run->metadata, rumor_clear);
    run->heartbeats = g_array_new(FALSE, TRUE, sizeof(plot_rumor));
    g_array_set_clear_func(run->heartbeats, rumor_clear);
    run->samples = g_array_new(FALSE, FALSE, sizeof(plot_sample));
    run->membership = g_array_new(FALSE, FALSE, sizeof(plot_member));
    run->timeline = g_array_new(FALSE, TRUE, sizeof(plot_event));
    g_array_set_clear_func(run->timeline, event_clear);
    gboolean ok = load_metadata(r, run, times, error) &&
                  load_heartbeats(r, run, times, error) &&
                  load_membership(r, run, error) &&
                  load_timeline(r, run, error);
    if (!ok)
        g_prefix_error(error, "run %" G_GINT64_FORMAT ": ", run->run_id);
    return ok;
}

gboolean plot_data_load(const char *path, plot_data *out, GError **error)
{
    memset(out, 0, sizeof *out);
    out->path = g_strdup(path);
    out->runs = g_array_new(FALSE, TRUE, sizeof(plot_run));
    g_array_set_clear_func(out->runs, run_clear);
    out->configs = g_array_new(FALSE, TRUE, sizeof(plot_config));
    g_array_set_clear_func(out->configs, config_clear);
    out->left_out = g_ptr_array_new_with_free_func(g_free);

    reader r = {0};
    int rc = sqlite3_open_v2(path, &r.db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        ana__db_error(error, r.db, rc, "opening");
        sqlite3_close(r.db);
        g_prefix_error(error, "%s: ", path);
        plot_data_clear(out);
        return FALSE;
    }
    int version = 0;
    GArray *all = g_array_new(FALSE, TRUE, sizeof(plot_run));
    g_array_set_clear_func(all, run_clear);
    gboolean ok = ana_schema_check(r.db, &version, error);
    if (ok && version == 0) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_NOT_PEKO,
                    "an empty database, not a recorded peko run");
        ok = FALSE;
    }
    ok = ok && reader_prepare(&r, error) && read_runs(r.db, all, error);
    if (ok) {
        out->n_total = all->len;
        choose_runs(out, all);
    }
    g_array_unref(all);
    GArray *times = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 0; ok && i < out->runs->len; i++)
        ok = load_run(&r, &g_array_index(out->runs, plot_run, i), times,
                      error);
    g_array_unref(times);
    reader_clear(&r);
    if (!ok) {
        g_prefix_error(error, "%s: ", path);
        plot_data_clear(out);
        return FALSE;
    }
    group_configs(out);
    return TRUE;
}
