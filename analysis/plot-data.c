/* plot-data.c: what `peko plot` reads from a database (plot-private.h).
 *
 * The runs, their configurations and their figures come from runs.h;
 * here only what is drawn is read: the infection rows of metadata rumors
 * and of the sampled heartbeats, each reduced at once to PLOT_LEVELS
 * times, and membership and timeline rows. Every query is keyed on
 * run_id (and rumor_id), so a run costs the same however many others
 * share the file.
 */
#include <math.h>
#include <string.h>

#include "db.h"
#include "plot-private.h"

void plot_levels_fill(const double *t, size_t m, int64_t nodes,
                      double *level_us)
{
    for (int64_t j = 1; j <= PLOT_LEVELS; j++) {
        int64_t k = (j * nodes + PLOT_LEVELS - 1) / PLOT_LEVELS;
        k = MAX(k, 1);
        level_us[j - 1] = (size_t)k <= m ? t[k - 1] : INFINITY;
    }
}

static char *column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return text ? g_strdup((const char *)text) : NULL;
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

static void run_clear(plot_run *r)
{
    g_clear_pointer(&r->metadata, g_array_unref);
    g_clear_pointer(&r->heartbeats, g_array_unref);
    g_clear_pointer(&r->samples, g_array_unref);
    g_clear_pointer(&r->membership, g_array_unref);
    g_clear_pointer(&r->timeline, g_array_unref);
}

void plot_data_clear(plot_data *data)
{
    for (size_t i = 0; data->runs && i < data->set.n_runs; i++)
        run_clear(&data->runs[i]);
    for (size_t c = 0; data->configs && c < data->set.n_configs; c++) {
        g_free(data->configs[c].label);
        g_free(data->configs[c].short_label);
    }
    g_free(data->runs);
    g_free(data->configs);
    ana_runset_clear(&data->set);
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
                           "SELECT rumor_id, origin, created_us"
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

/* The curve of a rumor from its sorted infection times. */
static plot_rumor rumor_curve(const rumor_row *row, const GArray *times,
                              int64_t nodes)
{
    plot_rumor out = {
        .rumor_id = row->rumor_id,
        .origin = row->origin,
        .created_us = row->created_us,
        .level_us = g_new(double, PLOT_LEVELS),
    };
    plot_levels_fill((const double *)(void *)times->data, times->len, nodes,
                     out.level_us);
    return out;
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
    int64_t run_id = run->run->run_id;
    gboolean ok = read_rumor_rows(r, run_id, "metadata", rows, error);
    for (guint i = 0; ok && i < rows->len; i++) {
        const rumor_row *row = &g_array_index(rows, rumor_row, i);
        size_t origin_rows;
        ok = read_infections(r, run_id, row->rumor_id, times, &origin_rows,
                             error);
        if (!ok)
            break;
        plot_rumor rumor = rumor_curve(row, times, run->run->nodes);
        g_array_append_val(run->metadata, rumor);
        add_samples(run->samples, times, origin_rows);
    }
    g_array_free(rows, TRUE);
    return ok;
}

/* The curves of up to PLOT_HEARTBEAT_CURVES sampled heartbeats, evenly
 * spread; their figures are the runset's (heartbeat_value[]). */
static gboolean load_heartbeats(reader *r, plot_run *run, GArray *times,
                                GError **error)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(rumor_row));
    int64_t run_id = run->run->run_id;
    gboolean ok = read_rumor_rows(r, run_id, "heartbeat", rows, error);
    guint stride = rows->len > PLOT_HEARTBEAT_CURVES
                       ? (rows->len + PLOT_HEARTBEAT_CURVES - 1) /
                             PLOT_HEARTBEAT_CURVES
                       : 1;
    for (guint i = 0; ok && i < rows->len; i += stride) {
        const rumor_row *row = &g_array_index(rows, rumor_row, i);
        size_t origin_rows;
        ok = read_infections(r, run_id, row->rumor_id, times, &origin_rows,
                             error);
        if (!ok)
            break;
        plot_rumor rumor = rumor_curve(row, times, run->run->nodes);
        g_array_append_val(run->heartbeats, rumor);
    }
    g_array_free(rows, TRUE);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Membership and timeline.                                             */

static gboolean load_membership(reader *r, plot_run *run, GError **error)
{
    sqlite3_bind_int64(r->membership, 1, run->run->run_id);
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
    sqlite3_bind_int64(r->timeline, 1, run->run->run_id);
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

/* What tells a configuration apart: its sweep point, or the --set list
 * of a run outside a sweep. */
static const char *config_point(const plot_data *data, size_t c)
{
    const ana_run *first = &data->set.runs[data->set.configs[c].runs[0]];
    return first->sweep_point[0] ? first->sweep_point : first->overrides;
}

static const char *config_scenario(const plot_data *data, size_t c)
{
    const char *scenario = data->set.configs[c].scenario;
    return scenario ? scenario : "";
}

/* Each configuration's labels: its scenario and sweep point (or the
 * overrides of a plain run), numbered when a second one has the same;
 * and the short form, what tells it from the others. */
static void label_configs(plot_data *data)
{
    size_t n = data->set.n_configs;
    GHashTable *labels = g_hash_table_new(g_str_hash, g_str_equal);
    const char **scenarios = g_new(const char *, MAX(n, 1));
    const char **points = g_new(const char *, MAX(n, 1));
    for (size_t c = 0; c < n; c++) {
        const char *scenario = scenarios[c] = config_scenario(data, c);
        const char *point = points[c] = config_point(data, c);
        char *label = point[0] ? g_strdup_printf("%s %s", scenario, point)
                               : g_strdup(scenario);
        for (int k = 2; g_hash_table_contains(labels, label); k++) {
            g_free(label);
            label = point[0]
                        ? g_strdup_printf("%s %s (%d)", scenario, point, k)
                        : g_strdup_printf("%s (%d)", scenario, k);
        }
        data->configs[c].label = label;
        g_hash_table_add(labels, label);
    }
    g_hash_table_destroy(labels);
    char **shorts = plot_short_labels(scenarios, points, n);
    for (size_t c = 0; c < n; c++) {
        /* Configurations the short form cannot tell apart keep their
         * full, numbered label. */
        gboolean unique = TRUE;
        for (size_t d = 0; d < n && unique; d++)
            unique = d == c || strcmp(shorts[d], shorts[c]) != 0;
        data->configs[c].short_label =
            g_strdup(unique ? shorts[c] : data->configs[c].label);
    }
    g_strfreev(shorts);
    g_free(scenarios);
    g_free(points);
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
        g_prefix_error(error, "run %" G_GINT64_FORMAT ": ", run->run->run_id);
    return ok;
}

gboolean plot_data_load(const char *path, plot_data *out, GError **error)
{
    memset(out, 0, sizeof *out);
    if (!ana_runset_load_full(path, -1, ANA_RUNSET_HEARTBEATS, &out->set,
                              error))
        return FALSE;
    size_t n_runs = out->set.n_runs, n_configs = out->set.n_configs;
    out->runs = g_new0(plot_run, MAX(n_runs, 1));
    out->configs = g_new0(plot_config, MAX(n_configs, 1));
    for (size_t i = 0; i < n_runs; i++)
        out->runs[i].run = &out->set.runs[i];
    for (size_t c = 0; c < n_configs; c++)
        out->configs[c].config = &out->set.configs[c];
    label_configs(out);

    reader r = {0};
    gboolean ok = ana__db_open_reader(path, &r.db, error);
    if (ok) {
        ok = reader_prepare(&r, error);
        GArray *times = g_array_new(FALSE, FALSE, sizeof(double));
        for (size_t i = 0; ok && i < n_runs; i++)
            ok = load_run(&r, &out->runs[i], times, error);
        g_array_unref(times);
        if (!ok)
            g_prefix_error(error, "%s: ", path);
        reader_clear(&r);
    }
    if (!ok) {
        plot_data_clear(out);
        return FALSE;
    }
    return TRUE;
}
