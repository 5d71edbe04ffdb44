/* plot.c: the page of `peko plot` (plot.h): header, table of
 * configurations, the sections of plot-figures.c, and the atomic write.
 */
#include "plot.h"

#include <math.h>
#include <string.h>

#include "plot-private.h"
#include "stats.h"

/* Timeline events listed in the page (the figures mark as many). */
enum { MAX_EVENTS_LISTED = 40 };

static void append_text(GString *html, const char *text)
{
    ana_svg_append_escaped(html, text);
}

static void page_head(GString *html, const char *title)
{
    g_string_append(
        html,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!DOCTYPE html>\n"
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n"
        "<head>\n"
        "<meta charset=\"UTF-8\"/>\n"
        "<title>");
    append_text(html, title);
    g_string_append(
        html,
        "</title>\n"
        "<style>\n"
        "body { font-family: sans-serif; color: #222; margin: 24px;"
        " max-width: 1040px; }\n"
        "h1 { font-size: 22px; margin-bottom: 4px; }\n"
        "h2 { font-size: 18px; margin-top: 36px; padding-bottom: 4px;"
        " border-bottom: 1px solid #ddd; }\n"
        "table { border-collapse: collapse; font-size: 13px;"
        " margin: 12px 0; }\n"
        "th, td { padding: 4px 10px; border-bottom: 1px solid #e4e4e4;"
        " text-align: right; white-space: nowrap; }\n"
        "th { background: #f4f4f4; }\n"
        "th.l, td.l { text-align: left; }\n"
        ".note { color: #555; font-style: italic; }\n"
        ".meta { color: #444; margin: 2px 0; }\n"
        ".fig { margin: 16px 0; }\n"
        ".fig svg { max-width: 100%; height: auto; }\n"
        "</style>\n"
        "</head>\n"
        "<body>\n");
}

/* ------------------------------------------------------------------ */
/* Header.                                                              */

static void append_count(GString *html, size_t n, const char *one,
                         const char *many)
{
    g_string_append_printf(html, "%zu %s", n, n == 1 ? one : many);
}

static void header(const plot_data *data, GString *html)
{
    const ana_runset *set = &data->set;
    char *base = g_path_get_basename(set->path);
    g_string_append(html, "<h1>peko plot: ");
    append_text(html, base);
    g_string_append(html, "</h1>\n<p class=\"meta\">Database ");
    append_text(html, set->path);
    g_string_append(html, ": ");
    append_count(html, set->n_runs + set->n_not_complete, "run", "runs");
    g_string_append(html, " (");
    append_count(html, set->n_runs, "drawn", "drawn");
    g_string_append(html, "), ");
    append_count(html, set->n_configs, "configuration", "configurations");
    g_string_append(html, ".</p>\n");
    g_free(base);

    /* Scenarios, once each, in configuration order. */
    GPtrArray *scenarios = g_ptr_array_new();
    for (size_t c = 0; c < set->n_configs; c++) {
        const char *name = set->configs[c].scenario;
        gboolean seen = FALSE;
        for (guint s = 0; s < scenarios->len && !seen; s++)
            seen = g_strcmp0(g_ptr_array_index(scenarios, s), name) == 0;
        if (!seen)
            g_ptr_array_add(scenarios, (gpointer)name);
    }
    if (scenarios->len > 0) {
        g_string_append(html, "<p class=\"meta\">");
        g_string_append(html, scenarios->len == 1 ? "Scenario: "
                                                  : "Scenarios: ");
        for (guint s = 0; s < scenarios->len; s++) {
            if (s)
                g_string_append(html, ", ");
            append_text(html, g_ptr_array_index(scenarios, s));
        }
        g_string_append(html, ".</p>\n");
    }
    g_ptr_array_unref(scenarios);

    /* Only complete runs are drawn (runs.h): an interrupted run's rumors
     * and samples stop wherever it stopped. */
    if (set->n_not_complete > 0) {
        g_string_append(html, "<p class=\"note\">");
        if (set->n_runs == 0)
            g_string_append(html, "No run is complete: nothing is drawn (");
        else
            g_string_append(html, "Not drawn, not complete: ");
        append_count(html, set->n_not_complete, "run", "runs");
        g_string_append(html, set->n_runs == 0
                                  ? " interrupted or still running).</p>\n"
                                  : ", interrupted or still running.</p>\n");
    }
}

/* ------------------------------------------------------------------ */
/* The table of configurations.                                         */

/* Medians over a configuration's runs of their figures (runs.h). */
typedef struct config_figures {
    double nodes_lo, nodes_hi;
    int64_t metadata;                /* metadata rumors over all runs */
    double t50, t90, t99, t100;      /* us: of metadata rumors */
    double messages;
    double hb_t99, hb_messages;      /* of the sampled heartbeats */
} config_figures;

/* The median of the values of the runs that are not NAN. */
static double median_over_runs(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            v[k++] = v[i];
    return k ? ana_stats_median(v, k) : NAN;
}

static void config_figures_of(const plot_data *data, const plot_config *config,
                              config_figures *out)
{
    enum { T50, T90, T99, T100, MSGS, HB_T99, HB_MSGS, COLUMNS };
    size_t n = plot_config_n_runs(config);
    double *col[COLUMNS];
    for (int c = 0; c < COLUMNS; c++)
        col[c] = g_new(double, MAX(n, 1));
    *out = (config_figures){.nodes_lo = INFINITY, .nodes_hi = -INFINITY};
    for (size_t i = 0; i < n; i++) {
        const ana_run *run = plot_config_run(data, config, i)->run;
        out->nodes_lo = MIN(out->nodes_lo, (double)run->nodes);
        out->nodes_hi = MAX(out->nodes_hi, (double)run->nodes);
        /* value[] is over heartbeats for a run without metadata rumors:
         * those runs have none to show here. */
        gboolean metadata = !run->heartbeats_only;
        out->metadata += metadata ? run->rumors : 0;
        col[T50][i] = metadata ? plot_run_us(run, ANA_METRIC_T50) : NAN;
        col[T90][i] = metadata ? plot_run_us(run, ANA_METRIC_T90) : NAN;
        col[T99][i] = metadata ? plot_run_us(run, ANA_METRIC_T99) : NAN;
        col[T100][i] = metadata ? plot_run_us(run, ANA_METRIC_T100) : NAN;
        col[MSGS][i] = metadata ? run->value[ANA_METRIC_MESSAGES] : NAN;
        col[HB_T99][i] = run->heartbeat_value[ANA_METRIC_T99] * 1e6;
        col[HB_MSGS][i] = run->heartbeat_value[ANA_METRIC_MESSAGES];
    }
    out->t50 = median_over_runs(col[T50], n);
    out->t90 = median_over_runs(col[T90], n);
    out->t99 = median_over_runs(col[T99], n);
    out->t100 = median_over_runs(col[T100], n);
    out->messages = median_over_runs(col[MSGS], n);
    out->hb_t99 = median_over_runs(col[HB_T99], n);
    out->hb_messages = median_over_runs(col[HB_MSGS], n);
    for (int c = 0; c < COLUMNS; c++)
        g_free(col[c]);
}

static void cell_time(GString *html, double us)
{
    g_string_append(html, "<td>");
    plot_append_time(html, us);
    g_string_append(html, "</td>");
}

static void cell_number(GString *html, double v, int decimals)
{
    g_string_append(html, "<td>");
    if (isnan(v))
        g_string_append(html, "\u2013");
    else
        ana_svg_append_number(html, v, decimals);
    g_string_append(html, "</td>");
}

static void config_table(const plot_data *data, GString *html)
{
    if (data->set.n_configs == 0) {
        g_string_append(html, data->set.n_not_complete > 0
                                  ? "<p class=\"note\">The database holds "
                                    "no complete run.</p>\n"
                                  : "<p class=\"note\">The database holds "
                                    "no run.</p>\n");
        return;
    }
    g_string_append(
        html,
        "<table>\n<tr><th class=\"l\">configuration</th><th>runs</th>"
        "<th>nodes</th><th>metadata rumors</th><th>t50</th><th>t90</th>"
        "<th>t99</th><th>t100</th><th>msgs/node</th><th>heartbeat t99</th>"
        "<th>heartbeat msgs/node</th></tr>\n");
    for (size_t c = 0; c < data->set.n_configs; c++) {
        const plot_config *config = &data->configs[c];
        config_figures f;
        config_figures_of(data, config, &f);
        g_string_append(html, "<tr><td class=\"l\">");
        append_text(html, config->label);
        g_string_append_printf(html, "</td><td>%zu</td><td>",
                               plot_config_n_runs(config));
        ana_svg_append_number(html, f.nodes_lo, 0);
        if (f.nodes_hi > f.nodes_lo) {
            g_string_append(html, "\u2013");
            ana_svg_append_number(html, f.nodes_hi, 0);
        }
        g_string_append_printf(html, "</td><td>%" G_GINT64_FORMAT "</td>",
                               f.metadata);
        cell_time(html, f.t50);
        cell_time(html, f.t90);
        cell_time(html, f.t99);
        cell_time(html, f.t100);
        cell_number(html, f.messages, 2);
        cell_time(html, f.hb_t99);
        cell_number(html, f.hb_messages, 2);
        g_string_append(html, "</tr>\n");
    }
    g_string_append(
        html,
        "</table>\n<p class=\"note\">Times are from a rumor's creation to "
        "the first receipt by 50%, 90%, 99% and 100% of the run's nodes; "
        "messages are packets sent carrying the rumor, per node. Each is a "
        "run's median over its metadata rumors, then the median over the "
        "configuration's runs, as <code>peko report</code> computes them "
        "(\u201cnever\u201d when most never got there). Heartbeat columns: "
        "the same over each run's sampled heartbeats.</p>\n");
}

/* ------------------------------------------------------------------ */
/* 6. The scenario's timeline.                                          */

typedef struct listed_event {
    const plot_event *event;   /* borrowed from a run */
    const char *scenario;      /* borrowed */
} listed_event;

static gint compare_listed(gconstpointer pa, gconstpointer pb)
{
    const listed_event *a = pa, *b = pb;
    if (a->event->t_us != b->event->t_us)
        return a->event->t_us < b->event->t_us ? -1 : 1;
    return strcmp(a->scenario, b->scenario);
}

static void timeline_section(const plot_data *data, GString *html)
{
    g_string_append(html, "<h2>Scenario timeline</h2>\n");
    /* Each event once over the runs (repetitions share a timeline), in
     * time order. */
    GHashTable *seen =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GArray *events = g_array_new(FALSE, FALSE, sizeof(listed_event));
    gboolean scenarios = FALSE;
    for (size_t r = 0; r < data->set.n_runs; r++) {
        const plot_run *run = &data->runs[r];
        const char *scenario = run->run->scenario ? run->run->scenario : "";
        scenarios = scenarios ||
                    g_strcmp0(run->run->scenario,
                              data->set.runs[0].scenario) != 0;
        for (guint i = 0; i < run->timeline->len; i++) {
            const plot_event *e = &g_array_index(run->timeline, plot_event, i);
            char *key = g_strdup_printf("%.0f\n%s\n%s\n%s", e->t_us,
                                        scenario, e->event,
                                        e->detail ? e->detail : "");
            if (g_hash_table_add(seen, key)) {
                listed_event l = {.event = e, .scenario = scenario};
                g_array_append_val(events, l);
            }
        }
    }
    g_hash_table_destroy(seen);
    if (events->len == 0) {
        g_string_append(html, "<p class=\"note\">The scenarios have no "
                              "timeline events.</p>\n");
        g_array_free(events, TRUE);
        return;
    }
    g_array_sort(events, compare_listed);
    g_string_append(html, "<p class=\"meta\">Marked as dashed lines on "
                          "the run-time figures above.</p>\n"
                          "<table>\n<tr><th>run time</th>");
    if (scenarios)
        g_string_append(html, "<th class=\"l\">scenario</th>");
    g_string_append(html, "<th class=\"l\">event</th>"
                          "<th class=\"l\">detail</th></tr>\n");
    guint shown = MIN(events->len, (guint)MAX_EVENTS_LISTED);
    for (guint i = 0; i < shown; i++) {
        const listed_event *l = &g_array_index(events, listed_event, i);
        g_string_append(html, "<tr><td>");
        plot_append_time(html, l->event->t_us);
        if (scenarios) {
            g_string_append(html, "</td><td class=\"l\">");
            append_text(html, l->scenario);
        }
        g_string_append(html, "</td><td class=\"l\">");
        append_text(html, l->event->event);
        g_string_append(html, "</td><td class=\"l\">");
        append_text(html, l->event->detail);
        g_string_append(html, "</td></tr>\n");
    }
    g_string_append(html, "</table>\n");
    if (events->len > shown)
        g_string_append_printf(html, "<p class=\"note\">%u more events "
                                     "are not listed.</p>\n",
                               events->len - shown);
    g_array_free(events, TRUE);
}

/* ------------------------------------------------------------------ */

gboolean ana_plot_render(const char *db_path, GString *html,
                         ana_plot_info *info, GError **error)
{
    g_return_val_if_fail(db_path != NULL && html != NULL, FALSE);
    plot_data data;
    if (!plot_data_load(db_path, &data, error))
        return FALSE;
    gsize start = html->len;
    char *base = g_path_get_basename(db_path);
    char *title = g_strdup_printf("peko plot: %s", base);
    page_head(html, title);
    g_free(title);
    g_free(base);
    header(&data, html);
    config_table(&data, html);
    plot_section_coverage(&data, html);
    plot_section_cdf(&data, html);
    plot_section_fanout(&data, html);
    plot_section_loss(&data, html);
    plot_section_membership(&data, html);
    timeline_section(&data, html);
    g_string_append(html, "</body>\n</html>\n");
    if (info) {
        info->runs = data.set.n_runs;
        info->runs_total = data.set.n_runs + data.set.n_not_complete;
        info->configs = data.set.n_configs;
        info->bytes = html->len - start;
    }
    plot_data_clear(&data);
    return TRUE;
}

gboolean ana_plot_write(const char *db_path, const char *html_path,
                        ana_plot_info *info, GError **error)
{
    g_return_val_if_fail(html_path != NULL, FALSE);
    GString *html = g_string_new(NULL);
    gboolean ok = ana_plot_render(db_path, html, info, error);
    if (ok && !g_file_set_contents_full(html_path, html->str,
                                        (gssize)html->len,
                                        G_FILE_SET_CONTENTS_CONSISTENT, 0644,
                                        error)) {
        g_prefix_error(error, "writing %s: ", html_path);
        ok = FALSE;
    }
    g_string_free(html, TRUE);
    return ok;
}
