/* plot-figures.c: the figures of `peko plot`, from what plot-data.c read
 * (plot-private.h). No SQL here: each section reduces the runs to curves
 * (medians and ranges over repetitions) and draws them with svg.h.
 */
#include <math.h>
#include <string.h>

#include "plot-private.h"
#include "stats.h"
#include "theory.h"

/* Metadata rumors drawn per configuration (the k-th of each run); a
 * scenario that publishes more shows its first ones. */
enum { MAX_RUMORS_PER_CONFIG = 6 };

/* Timeline events marked on a figure. */
enum { MAX_MARKERS = 40 };

/* Points of a membership curve. */
enum { MAX_MEMBER_POINTS = 400 };

/* Points of a theory curve. */
enum { THEORY_POINTS = 120 };

/* Coverage levels, the y of every level curve. */
static double level_y(size_t j)
{
    return (double)(j + 1) / PLOT_LEVELS;
}

/* Figures are numbered for their element ids. */
static void write_figure(const ana_svg_figure *fig, GString *html)
{
    static unsigned serial; /* ids only need to be unique in one page */
    char id[32];
    g_snprintf(id, sizeof id, "fig%u", ++serial);
    g_string_append(html, "<div class=\"fig\">\n");
    ana_svg_figure_write(fig, id, html);
    g_string_append(html, "</div>\n");
}

static void note(GString *html, const char *text)
{
    g_string_append(html, "<p class=\"note\">");
    ana_svg_append_escaped(html, text);
    g_string_append(html, "</p>\n");
}

static unsigned series_colour(size_t i)
{
    return (unsigned)(i % ANA_SVG_SERIES_COLOURS);
}

/* Once the colours repeat, a dash tells the series apart. */
static ana_svg_dash series_dash(size_t i)
{
    static const ana_svg_dash dashes[] = {ANA_SVG_SOLID, ANA_SVG_DASHED,
                                          ANA_SVG_DOTTED};
    return dashes[(i / ANA_SVG_SERIES_COLOURS) % G_N_ELEMENTS(dashes)];
}

/* ------------------------------------------------------------------ */
/* Curves over repetitions.                                             */

/* Per level, the median of rows[i][j] over the rows and a range: min..max
 * (p_lo 0, p_hi 100) or percentiles. */
typedef struct level_stats {
    double med[PLOT_LEVELS], lo[PLOT_LEVELS], hi[PLOT_LEVELS];
} level_stats;

static void reduce_levels(GPtrArray *rows, double p_lo, double p_hi,
                          level_stats *out)
{
    double *column = g_new(double, MAX(rows->len, 1u));
    for (size_t j = 0; j < PLOT_LEVELS; j++) {
        for (guint i = 0; i < rows->len; i++)
            column[i] = ((const double *)g_ptr_array_index(rows, i))[j];
        out->med[j] = ana_stats_median(column, rows->len);
        out->lo[j] = ana_stats_percentile(column, rows->len, p_lo);
        out->hi[j] = ana_stats_percentile(column, rows->len, p_hi);
    }
    g_free(column);
}

/* Draws a coverage curve: the median time at each level, shifted by
 * offset_us, from (start, 0) up to the last level reached and then flat
 * to the right edge; with more than one row, the range as a band. */
static void draw_levels(ana_svg_figure *fig, const char *label,
                        unsigned colour, ana_svg_dash dash, GPtrArray *rows,
                        double p_lo, double p_hi, double offset_us)
{
    level_stats st;
    reduce_levels(rows, p_lo, p_hi, &st);
    double x[PLOT_LEVELS + 2], y[PLOT_LEVELS + 2];
    size_t n = 0;
    if (isfinite(st.med[0])) {
        x[n] = st.med[0] + offset_us;
        y[n++] = 0;
    }
    double last_y = NAN;
    for (size_t j = 0; j < PLOT_LEVELS && isfinite(st.med[j]); j++) {
        x[n] = st.med[j] + offset_us;
        y[n++] = last_y = level_y(j);
    }
    if (!isnan(last_y)) {
        x[n] = INFINITY;
        y[n++] = last_y;
    }
    if (rows->len > 1) {
        double x1[PLOT_LEVELS], y1[PLOT_LEVELS], x2[PLOT_LEVELS];
        for (size_t j = 0; j < PLOT_LEVELS; j++) {
            x1[j] = st.lo[j] + offset_us;
            x2[j] = st.hi[j] + offset_us;
            y1[j] = level_y(j);
        }
        ana_svg_figure_band(fig, NULL, colour, x1, y1, PLOT_LEVELS, x2, y1,
                            PLOT_LEVELS);
    }
    ana_svg_figure_line(fig, label, colour, dash, x, y, n);
}

/* A legend entry for the bands of a figure. */
static void band_note(ana_svg_figure *fig, const char *text)
{
    ana_svg_figure_band(fig, text, ANA_SVG_BLACK, NULL, NULL, 0, NULL, NULL,
                        0);
}

/* Adds the scenario's events, once each over all runs, as markers. */
static void add_markers(ana_svg_figure *fig, const plot_data *data)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);
    size_t added = 0;
    for (guint r = 0; r < data->set.n_runs && added < MAX_MARKERS; r++) {
        const plot_run *run = &data->runs[r];
        for (guint i = 0; i < run->timeline->len && added < MAX_MARKERS;
             i++) {
            const plot_event *e = &g_array_index(run->timeline, plot_event, i);
            char *label = e->detail && e->detail[0]
                              ? g_strdup_printf("%s %s", e->event, e->detail)
                              : g_strdup(e->event);
            char *key = g_strdup_printf("%.0f %s", e->t_us, label);
            if (g_hash_table_add(seen, key)) {
                ana_svg_figure_marker(fig, e->t_us, label);
                added++;
            }
            g_free(label);
        }
    }
    g_hash_table_destroy(seen);
}

static double max_sim_time(const plot_data *data)
{
    double m = 0;
    for (guint r = 0; r < data->set.n_runs; r++)
        if (isfinite(data->set.runs[r].sim_time_s))
            m = MAX(m, data->set.runs[r].sim_time_s * 1e6);
    return m;
}

/* ------------------------------------------------------------------ */
/* 1. Coverage over time.                                               */

typedef struct rumor_curve {
    size_t config;
    size_t k;               /* the k-th metadata rumor of each run */
    GPtrArray *rows;        /* borrowed level_us arrays */
    double created_us;      /* median over the runs */
    char *label;
} rumor_curve;

static void rumor_curve_clear(gpointer p)
{
    rumor_curve *c = p;
    g_ptr_array_unref(c->rows);
    g_free(c->label);
}

/* The metadata curves: per configuration, the k-th rumor of its runs. */
static GArray *metadata_curves(const plot_data *data, size_t *cut)
{
    GArray *curves = g_array_new(FALSE, TRUE, sizeof(rumor_curve));
    g_array_set_clear_func(curves, rumor_curve_clear);
    gboolean one_config = data->set.n_configs == 1;
    *cut = 0;
    for (guint c = 0; c < data->set.n_configs; c++) {
        const plot_config *config = &data->configs[c];
        size_t most = 0;
        for (guint i = 0; i < plot_config_n_runs(config); i++)
            most = MAX(most, plot_config_run(data, config, i)->metadata->len);
        if (most > MAX_RUMORS_PER_CONFIG)
            *cut += most - MAX_RUMORS_PER_CONFIG;
        for (size_t k = 0; k < MIN(most, MAX_RUMORS_PER_CONFIG); k++) {
            rumor_curve curve = {.config = c, .k = k,
                                 .rows = g_ptr_array_new()};
            GArray *created = g_array_new(FALSE, FALSE, sizeof(double));
            int64_t origin = -1;
            gboolean same_origin = TRUE;
            for (guint i = 0; i < plot_config_n_runs(config); i++) {
                const plot_run *run = plot_config_run(data, config, i);
                if (k >= run->metadata->len)
                    continue;
                const plot_rumor *rumor =
                    &g_array_index(run->metadata, plot_rumor, k);
                g_ptr_array_add(curve.rows, rumor->level_us);
                g_array_append_val(created, rumor->created_us);
                same_origin = same_origin &&
                              (origin < 0 || origin == rumor->origin);
                origin = rumor->origin;
            }
            curve.created_us = ana_stats_median(
                (const double *)(void *)created->data, created->len);
            g_array_free(created, TRUE);
            GString *label = g_string_new(NULL);
            if (!one_config)
                g_string_append(label, config->short_label);
            if (one_config || most > 1)
                g_string_append_printf(label, "%smetadata #%zu",
                                       one_config ? "" : " ", k + 1);
            if (one_config && same_origin)
                g_string_append_printf(label, " from node %" G_GINT64_FORMAT,
                                       origin);
            if (curve.rows->len > 1)
                g_string_append_printf(label, ", median of %u",
                                       curve.rows->len);
            curve.label = g_string_free(label, FALSE);
            g_array_append_val(curves, curve);
        }
    }
    return curves;
}

static void curve_style(const plot_data *data, const rumor_curve *curve,
                        unsigned *colour, ana_svg_dash *dash)
{
    if (data->set.n_configs == 1) {
        *colour = series_colour(curve->k);
        *dash = ANA_SVG_SOLID;
    } else {
        static const ana_svg_dash dashes[] = {ANA_SVG_SOLID, ANA_SVG_DASHED,
                                              ANA_SVG_DOTTED};
        *colour = series_colour(curve->config);
        *dash = dashes[(curve->k + curve->config / ANA_SVG_SERIES_COLOURS) %
                       G_N_ELEMENTS(dashes)];
    }
}

/* The heartbeat curves of a configuration: every kept heartbeat of every
 * run (PLOT_HEARTBEAT_CURVES at most per run). Returns NULL when it has
 * none. */
static GPtrArray *heartbeat_rows(const plot_data *data,
                                 const plot_config *config)
{
    GPtrArray *rows = g_ptr_array_new();
    for (guint i = 0; i < plot_config_n_runs(config); i++) {
        const plot_run *run = plot_config_run(data, config, i);
        for (guint h = 0; h < run->heartbeats->len; h++)
            g_ptr_array_add(rows,
                            g_array_index(run->heartbeats, plot_rumor, h)
                                .level_us);
    }
    if (rows->len == 0) {
        g_ptr_array_unref(rows);
        return NULL;
    }
    return rows;
}

static void draw_heartbeats(ana_svg_figure *fig, const plot_data *data,
                            gboolean own_colours)
{
    gboolean bands = FALSE;
    for (guint c = 0; c < data->set.n_configs; c++) {
        const plot_config *config = &data->configs[c];
        GPtrArray *rows = heartbeat_rows(data, config);
        if (!rows)
            continue;
        char *label = own_colours
                          ? g_strdup_printf("%s, %u heartbeats",
                                            config->short_label, rows->len)
                          : g_strdup_printf("heartbeats, median of %u",
                                            rows->len);
        draw_levels(fig, label, own_colours ? series_colour(c) : ANA_SVG_BLACK,
                    own_colours ? series_dash(c) : ANA_SVG_SOLID, rows, 10,
                    90, 0);
        bands = bands || rows->len > 1;
        g_free(label);
        g_ptr_array_unref(rows);
    }
    if (bands)
        band_note(fig, "shaded: heartbeats' 10th\u201390th pct");
}

static gboolean any_heartbeats(const plot_data *data)
{
    for (guint r = 0; r < data->set.n_runs; r++)
        if (data->runs[r].heartbeats->len > 0)
            return TRUE;
    return FALSE;
}

static gboolean any_repetitions(const plot_data *data)
{
    for (guint c = 0; c < data->set.n_configs; c++)
        if (plot_config_n_runs(&data->configs[c]) > 1)
            return TRUE;
    return FALSE;
}

static ana_svg_figure *coverage_figure(const char *title, gboolean absolute)
{
    ana_svg_figure *fig = ana_svg_figure_new(title);
    ana_svg_figure_set_axis(fig, ANA_SVG_X,
                            absolute ? "run time" : "time since creation",
                            ANA_SVG_TIME_US);
    ana_svg_figure_set_axis(fig, ANA_SVG_Y, "nodes holding the rumor",
                            ANA_SVG_PERCENT);
    ana_svg_figure_set_range(fig, ANA_SVG_Y, 0, 1);
    /* Rumors spread in hops of milliseconds and stragglers catch up by
     * anti-entropy seconds later: a log axis shows both. */
    if (!absolute)
        ana_svg_figure_set_log(fig, ANA_SVG_X, TRUE);
    return fig;
}

void plot_section_coverage(const plot_data *data, GString *html)
{
    g_string_append(html, "<h2>Coverage over time</h2>\n");
    size_t cut;
    GArray *curves = metadata_curves(data, &cut);
    gboolean heartbeats = any_heartbeats(data);
    gboolean one_config = data->set.n_configs == 1;
    if (curves->len == 0 && !heartbeats) {
        note(html, "No rumor was recorded: nothing to draw.");
        g_array_unref(curves);
        return;
    }
    const char *range_text =
        any_repetitions(data) ? "shaded: min\u2013max over repetitions" : NULL;

    if (curves->len > 0 || one_config) {
        ana_svg_figure *fig = coverage_figure(
            curves->len > 0 ? "Coverage after creation, metadata rumors"
                            : "Coverage after creation, heartbeats",
            FALSE);
        for (guint i = 0; i < curves->len; i++) {
            const rumor_curve *curve = &g_array_index(curves, rumor_curve, i);
            unsigned colour;
            ana_svg_dash dash;
            curve_style(data, curve, &colour, &dash);
            draw_levels(fig, curve->label, colour, dash, curve->rows, 0, 100,
                        0);
        }
        if (curves->len > 0 && range_text)
            band_note(fig, range_text);
        if (one_config)
            draw_heartbeats(fig, data, FALSE);
        write_figure(fig, html);
        ana_svg_figure_free(fig);
    } else {
        note(html, "No metadata rumor was recorded.");
    }
    if (cut > 0) {
        char *text = g_strdup_printf(
            "Only the first %d metadata rumors of each configuration are "
            "drawn (%zu more are not).",
            MAX_RUMORS_PER_CONFIG, cut);
        note(html, text);
        g_free(text);
    }

    if (!one_config && heartbeats) {
        ana_svg_figure *fig = coverage_figure(
            "Coverage after creation, median of the sampled heartbeats",
            FALSE);
        draw_heartbeats(fig, data, TRUE);
        write_figure(fig, html);
        ana_svg_figure_free(fig);
    }

    if (curves->len > 0) {
        ana_svg_figure *fig = coverage_figure(
            "Metadata coverage over the run, with the scenario's events",
            TRUE);
        ana_svg_figure_set_range(fig, ANA_SVG_X, 0, max_sim_time(data));
        for (guint i = 0; i < curves->len; i++) {
            const rumor_curve *curve = &g_array_index(curves, rumor_curve, i);
            unsigned colour;
            ana_svg_dash dash;
            curve_style(data, curve, &colour, &dash);
            draw_levels(fig, curve->label, colour, dash, curve->rows, 0, 100,
                        curve->created_us);
        }
        if (range_text)
            band_note(fig, range_text);
        add_markers(fig, data);
        write_figure(fig, html);
        ana_svg_figure_free(fig);
    }
    g_array_unref(curves);
}

/* ------------------------------------------------------------------ */
/* 2. CDF of infection times.                                           */

static gint compare_sample(gconstpointer a, gconstpointer b)
{
    double ta = ((const plot_sample *)a)->t_us;
    double tb = ((const plot_sample *)b)->t_us;
    return ta < tb ? -1 : ta > tb;
}

void plot_section_cdf(const plot_data *data, GString *html)
{
    g_string_append(html, "<h2>Infection times of metadata rumors</h2>\n");
    ana_svg_figure *fig = ana_svg_figure_new(
        "CDF of infection time, all metadata infections");
    ana_svg_figure_set_axis(fig, ANA_SVG_X, "time since creation",
                            ANA_SVG_TIME_US);
    ana_svg_figure_set_axis(fig, ANA_SVG_Y, "infections at or before",
                            ANA_SVG_PERCENT);
    ana_svg_figure_set_log(fig, ANA_SVG_X, TRUE);
    ana_svg_figure_set_range(fig, ANA_SVG_Y, 0, 1);
    size_t drawn = 0;
    for (guint c = 0; c < data->set.n_configs; c++) {
        const plot_config *config = &data->configs[c];
        GArray *all = g_array_new(FALSE, FALSE, sizeof(plot_sample));
        for (guint i = 0; i < plot_config_n_runs(config); i++) {
            const GArray *s = plot_config_run(data, config, i)->samples;
            g_array_append_vals(all, s->data, s->len);
        }
        if (all->len == 0) {
            g_array_free(all, TRUE);
            continue;
        }
        g_array_sort(all, compare_sample);
        double total = 0;
        for (guint i = 0; i < all->len; i++)
            total += g_array_index(all, plot_sample, i).weight;
        double x[PLOT_LEVELS + 1], y[PLOT_LEVELS + 1];
        x[0] = g_array_index(all, plot_sample, 0).t_us;
        y[0] = 0;
        double cumulative = 0;
        guint i = 0;
        for (size_t j = 0; j < PLOT_LEVELS; j++) {
            double want = level_y(j) * total;
            while (i + 1 < all->len &&
                   cumulative + g_array_index(all, plot_sample, i).weight <
                       want - 1e-9) {
                cumulative += g_array_index(all, plot_sample, i).weight;
                i++;
            }
            x[j + 1] = g_array_index(all, plot_sample, i).t_us;
            y[j + 1] = level_y(j);
        }
        char *label = g_strdup_printf(
            "%s (%.0f infections)",
            data->set.n_configs == 1 ? "metadata rumors" : config->short_label,
            total);
        ana_svg_figure_line(fig, label, series_colour(c), series_dash(c), x, y,
                            PLOT_LEVELS + 1);
        g_free(label);
        g_array_free(all, TRUE);
        drawn++;
    }
    if (drawn > 0)
        write_figure(fig, html);
    else
        note(html, "No metadata rumor reached a node beyond its origin.");
    ana_svg_figure_free(fig);
}

/* ------------------------------------------------------------------ */
/* 3 and 4. Sweeps: a metric against fan-out or loss, with theory.      */

typedef enum sweep_kind { SWEEP_FANOUT, SWEEP_LOSS } sweep_kind;

typedef struct sweep_axis {
    const char *name;     /* "fan-out" */
    const char *key;      /* sweep point key: "engine.amount" */
    const char *axis;     /* x axis label */
    ana_svg_scale scale;
} sweep_axis;

static const sweep_axis sweep_axes[] = {
    [SWEEP_FANOUT] = {"fan-out", "engine.amount", "fan-out, engine.amount",
                      ANA_SVG_LINEAR},
    [SWEEP_LOSS] = {"loss rate", "network.loss",
                    "long-run loss rate, network.loss", ANA_SVG_PERCENT},
};

static double sweep_x(const ana_run *run, sweep_kind kind)
{
    return kind == SWEEP_FANOUT ? run->fanout : run->loss;
}

/* A run's value of a metric in the figure's units: microseconds for a
 * time. A run's t90, t99 and messages are medians over its metadata
 * rumors, or over its heartbeats when it published none (runs.h). */
static double run_value(const ana_run *run, ana_metric metric)
{
    return ana_metric_get(metric)->is_time ? plot_run_us(run, metric)
                                           : run->value[metric];
}

/* A sweep point or --set list without the swept key: "a=1,b=2" less b. */
static char *strip_key(const char *point, const char *key)
{
    char **parts = plot_split_point(point);
    GString *out = g_string_new(NULL);
    size_t len = strlen(key);
    for (char **p = parts; *p; p++) {
        if (strncmp(*p, key, len) == 0 && (*p)[len] == '=')
            continue;
        if (out->len)
            g_string_append_c(out, ',');
        g_string_append(out, *p);
    }
    g_strfreev(parts);
    return g_string_free(out, FALSE);
}

/* One series of a sweep figure: runs that differ only by the swept
 * value. */
typedef struct sweep_series {
    const char *scenario;   /* borrowed from a run */
    char *rest;             /* the sweep point less the swept key */
    char *label;            /* what tells it from the other series */
    GArray *runs;           /* const ana_run * */
} sweep_series;

static void sweep_series_clear(gpointer p)
{
    sweep_series *s = p;
    g_free(s->rest);
    g_free(s->label);
    g_array_unref(s->runs);
}

static GArray *sweep_group(const plot_data *data, sweep_kind kind)
{
    GArray *series = g_array_new(FALSE, TRUE, sizeof(sweep_series));
    g_array_set_clear_func(series, sweep_series_clear);
    /* Walk configurations in their order so series come out sorted. */
    for (guint c = 0; c < data->set.n_configs; c++) {
        const plot_config *config = &data->configs[c];
        for (guint i = 0; i < plot_config_n_runs(config); i++) {
            const ana_run *run = plot_config_run(data, config, i)->run;
            if (!isfinite(sweep_x(run, kind)))
                continue;
            const char *scenario = run->scenario ? run->scenario : "";
            const char *point =
                run->sweep_point[0] ? run->sweep_point : run->overrides;
            char *rest = strip_key(point, sweep_axes[kind].key);
            sweep_series *found = NULL;
            for (guint s = 0; s < series->len && !found; s++) {
                sweep_series *t = &g_array_index(series, sweep_series, s);
                if (strcmp(t->scenario, scenario) == 0 &&
                    strcmp(t->rest, rest) == 0)
                    found = t;
            }
            if (found) {
                g_free(rest);
            } else {
                sweep_series s = {
                    .scenario = scenario,
                    .rest = rest,
                    .runs = g_array_new(FALSE, FALSE, sizeof(ana_run *)),
                };
                g_array_append_val(series, s);
                found = &g_array_index(series, sweep_series, series->len - 1);
            }
            g_array_append_val(found->runs, run);
        }
    }
    const char **scenarios = g_new(const char *, MAX(series->len, 1u));
    const char **points = g_new(const char *, MAX(series->len, 1u));
    for (guint s = 0; s < series->len; s++) {
        scenarios[s] = g_array_index(series, sweep_series, s).scenario;
        points[s] = g_array_index(series, sweep_series, s).rest;
    }
    char **labels = plot_short_labels(scenarios, points, series->len);
    for (guint s = 0; s < series->len; s++)
        g_array_index(series, sweep_series, s).label = g_strdup(labels[s]);
    g_strfreev(labels);
    g_free(scenarios);
    g_free(points);
    return series;
}

static const ana_run *series_run(const GArray *runs, guint i)
{
    return g_array_index(runs, const ana_run *, i);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The distinct swept values of the runs, sorted. */
static GArray *distinct_x(const GArray *runs, sweep_kind kind)
{
    GArray *xs = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 0; i < runs->len; i++) {
        double x = sweep_x(series_run(runs, i), kind);
        gboolean seen = FALSE;
        for (guint j = 0; j < xs->len && !seen; j++)
            seen = g_array_index(xs, double, j) == x;
        if (!seen && isfinite(x))
            g_array_append_val(xs, x);
    }
    g_array_sort(xs, (GCompareFunc)compare_double);
    return xs;
}

/* The positive finite values a figure shows, to choose its y scale. */
typedef struct value_range {
    double lo, hi;
} value_range;

static void range_add(value_range *r, const double *v, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        if (isfinite(v[i]) && v[i] > 0) {
            r->lo = MIN(r->lo, v[i]);
            r->hi = MAX(r->hi, v[i]);
        }
}

/* Median and min..max of a metric over the runs at each swept value. */
static void sweep_points(ana_svg_figure *fig, const char *label,
                         unsigned colour, const GArray *runs,
                         sweep_kind kind, ana_metric metric,
                         value_range *range)
{
    GArray *xs = distinct_x(runs, kind);
    double *med = g_new(double, MAX(xs->len, 1u));
    double *lo = g_new(double, MAX(xs->len, 1u));
    double *hi = g_new(double, MAX(xs->len, 1u));
    double *values = g_new(double, MAX(runs->len, 1u));
    for (guint j = 0; j < xs->len; j++) {
        size_t n = 0;
        for (guint i = 0; i < runs->len; i++) {
            const ana_run *run = series_run(runs, i);
            double v = run_value(run, metric);
            if (sweep_x(run, kind) == g_array_index(xs, double, j) &&
                !isnan(v))
                values[n++] = v;
        }
        med[j] = n ? ana_stats_median(values, n) : NAN;
        lo[j] = n ? ana_stats_percentile(values, n, 0) : NAN;
        hi[j] = n ? ana_stats_percentile(values, n, 100) : NAN;
    }
    ana_svg_figure_points(fig, label, colour, (const double *)(void *)xs->data,
                          med, lo, hi, xs->len);
    range_add(range, med, xs->len);
    range_add(range, lo, xs->len);
    range_add(range, hi, xs->len);
    g_free(values);
    g_free(med);
    g_free(lo);
    g_free(hi);
    g_array_free(xs, TRUE);
}

/* Whether some swept value has more than one run. */
static gboolean has_repetitions(const GArray *runs, sweep_kind kind)
{
    for (guint i = 0; i < runs->len; i++)
        for (guint j = i + 1; j < runs->len; j++)
            if (sweep_x(series_run(runs, i), kind) ==
                sweep_x(series_run(runs, j), kind))
                return TRUE;
    return FALSE;
}

/* Medians of what the theory needs over a series' runs. */
typedef struct theory_inputs {
    double nodes, round_us, amount;
    double x_lo, x_hi;
} theory_inputs;

static double median_field(const GArray *runs, size_t offset)
{
    double *v = g_new(double, MAX(runs->len, 1u));
    size_t n = 0;
    for (guint i = 0; i < runs->len; i++) {
        double x = G_STRUCT_MEMBER(double, series_run(runs, i), offset);
        if (isfinite(x))
            v[n++] = x;
    }
    double m = n ? ana_stats_median(v, n) : NAN;
    g_free(v);
    return m;
}

static theory_inputs theory_of(const GArray *runs, sweep_kind kind)
{
    theory_inputs t = {
        /* The run's round (runs.h): the mean one-way latency, as rumors
         * are forwarded on receipt, or the cycle without one. */
        .round_us = median_field(runs, G_STRUCT_OFFSET(ana_run, round_s)) *
                    1e6,
        .amount = median_field(runs, G_STRUCT_OFFSET(ana_run, fanout)),
        .x_lo = INFINITY,
        .x_hi = -INFINITY,
    };
    double *v = g_new(double, MAX(runs->len, 1u));
    for (guint i = 0; i < runs->len; i++) {
        const ana_run *run = series_run(runs, i);
        v[i] = (double)run->nodes;
        double x = sweep_x(run, kind);
        t.x_lo = MIN(t.x_lo, x);
        t.x_hi = MAX(t.x_hi, x);
    }
    t.nodes = runs->len ? ana_stats_median(v, runs->len) : NAN;
    g_free(v);
    return t;
}

/* The fan-out a forward of the series makes at swept value x: the swept
 * fan-out, or the series' fan-out thinned by the loss rate. */
static double effective_fanout(const theory_inputs *t, sweep_kind kind,
                               double x)
{
    return kind == SWEEP_FANOUT ? x : t->amount * (1 - x);
}

typedef enum theory_curve {
    THEORY_T90,       /* forward-once hops to 90%, times the round */
    THEORY_PUSH,      /* push rounds to everyone, times the round */
    THEORY_MESSAGES,  /* forward-once: f sends per node reached */
} theory_curve;

static void theory_line(ana_svg_figure *fig, const char *label,
                        unsigned colour, ana_svg_dash dash,
                        const theory_inputs *t, sweep_kind kind,
                        theory_curve which, value_range *range)
{
    if (!(t->x_hi > t->x_lo) || !isfinite(t->nodes))
        return;
    if (which != THEORY_MESSAGES && !(t->round_us > 0))
        return;
    if (kind == SWEEP_LOSS && !isfinite(t->amount))
        return;
    double x[THEORY_POINTS], y[THEORY_POINTS];
    for (size_t i = 0; i < THEORY_POINTS; i++) {
        x[i] = t->x_lo + (t->x_hi - t->x_lo) * (double)i / (THEORY_POINTS - 1);
        double f = effective_fanout(t, kind, x[i]);
        switch (which) {
        case THEORY_T90:
            y[i] = ana_theory_forward_once_rounds(t->nodes, f, 0.9) *
                   t->round_us;
            break;
        case THEORY_PUSH:
            y[i] = ana_theory_push_rounds(t->nodes, f) * t->round_us;
            break;
        case THEORY_MESSAGES: {
            /* Each node reached forwards once to f peers; the sender pays
             * for lost copies too, so the swept fan-out counts. */
            ana_theory_forward_once run =
                ana_theory_forward_once_run(t->nodes, f);
            double sent = kind == SWEEP_FANOUT ? x[i] : t->amount;
            y[i] = run.reach * sent;
            break;
        }
        }
    }
    ana_svg_figure_line(fig, label, colour, dash, x, y, THEORY_POINTS);
    range_add(range, y, THEORY_POINTS);
}

static ana_svg_figure *sweep_figure(const char *title, sweep_kind kind,
                                    const char *y_label, ana_svg_scale y_scale,
                                    double x_lo, double x_hi)
{
    ana_svg_figure *fig = ana_svg_figure_new(title);
    ana_svg_figure_set_axis(fig, ANA_SVG_X, sweep_axes[kind].axis,
                            sweep_axes[kind].scale);
    ana_svg_figure_set_axis(fig, ANA_SVG_Y, y_label, y_scale);
    ana_svg_figure_set_range(fig, ANA_SVG_Y, 0, NAN);
    /* Points stay off the frame: half a step of room on a fan-out axis,
     * 5% of the span on a loss axis. */
    double pad = kind == SWEEP_FANOUT ? 0.5 : 0.05 * (x_hi - x_lo);
    ana_svg_figure_set_range(fig, ANA_SVG_X, x_lo - pad, x_hi + pad);
    if (kind == SWEEP_FANOUT)
        ana_svg_figure_set_min_step(fig, ANA_SVG_X, 1);
    return fig;
}

/* Times that span decades (fan-out 1 waiting for anti-entropy beside a
 * few hops of latency) stay readable on a log axis. */
static void write_time_figure(ana_svg_figure *fig, const value_range *range,
                              GString *html)
{
    if (range->hi > 30 * range->lo) {
        ana_svg_figure_set_log(fig, ANA_SVG_Y, TRUE);
        ana_svg_figure_set_range(fig, ANA_SVG_Y, NAN, NAN);
    }
    write_figure(fig, html);
}

static const char *rumor_kind_text(const plot_data *data)
{
    size_t with = 0;
    for (guint r = 0; r < data->set.n_runs; r++)
        with += !data->set.runs[r].heartbeats_only;
    return with == data->set.n_runs ? "metadata rumors"
           : with == 0              ? "heartbeats"
                                    : "metadata rumors (heartbeats if none)";
}

static void sweep_section(const plot_data *data, sweep_kind kind,
                          GString *html)
{
    const sweep_axis *ax = &sweep_axes[kind];
    g_string_append(html, "<h2>");
    g_string_append_c(html, g_ascii_toupper(ax->name[0]));
    g_string_append(html, ax->name + 1);
    g_string_append(html, " sweep</h2>\n");

    GArray *series = sweep_group(data, kind);
    gboolean varies = FALSE;
    double x_lo = INFINITY, x_hi = -INFINITY;
    for (guint s = 0; s < series->len; s++) {
        GArray *xs =
            distinct_x(g_array_index(series, sweep_series, s).runs, kind);
        varies = varies || xs->len > 1;
        for (guint j = 0; j < xs->len; j++) {
            x_lo = MIN(x_lo, g_array_index(xs, double, j));
            x_hi = MAX(x_hi, g_array_index(xs, double, j));
        }
        g_array_free(xs, TRUE);
    }
    if (!varies) {
        char *text = g_strdup_printf("The runs do not differ by %s (%s).",
                                     ax->name, ax->key);
        note(html, text);
        g_free(text);
        g_array_unref(series);
        return;
    }

    /* One series: measured t90 and t99 in one figure, beside the theory's
     * t90. Several: the series take the colours, so t99 gets a figure of
     * its own. */
    const char *what = rumor_kind_text(data);
    gboolean one = series->len == 1;
    char *title = g_strdup_printf(one ? "t90 and t99 of %s vs %s"
                                      : "t90 of %s vs %s",
                                  what, ax->name);
    ana_svg_figure *t90 = sweep_figure(
        title, kind, one ? "time to 90% and 99% of nodes"
                         : "t90, time to 90% of nodes",
        ANA_SVG_TIME_US, x_lo, x_hi);
    g_free(title);
    ana_svg_figure *t99 = t90;
    if (!one) {
        title = g_strdup_printf("t99 of %s vs %s", what, ax->name);
        t99 = sweep_figure(title, kind, "t99, time to 99% of nodes",
                           ANA_SVG_TIME_US, x_lo, x_hi);
        g_free(title);
    }
    title = g_strdup_printf("Messages per node of %s vs %s", what, ax->name);
    ana_svg_figure *msgs = sweep_figure(title, kind, "packets sent per node",
                                        ANA_SVG_LINEAR, x_lo, x_hi);
    g_free(title);

    const char *t90_text = kind == SWEEP_FANOUT
                               ? "theory (forward-once, t90)"
                               : "theory (forward-once, f(1\u2212loss), t90)";
    const char *push_text =
        kind == SWEEP_FANOUT ? "push model" : "push model, f(1\u2212loss)";
    const char *msgs_text = "theory (forward-once, f \u00d7 reach)";
    value_range t90_range = {INFINITY, -INFINITY};
    value_range t99_range = {INFINITY, -INFINITY};
    gboolean repeated = FALSE;
    for (guint s = 0; s < series->len; s++) {
        const sweep_series *ser = &g_array_index(series, sweep_series, s);
        gboolean reps = has_repetitions(ser->runs, kind);
        repeated = repeated || reps;
        if (one) {
            sweep_points(t90, reps ? "measured t90: median, min\u2013max"
                                   : "measured t90",
                         series_colour(0), ser->runs, kind, ANA_METRIC_T90,
                         &t90_range);
            sweep_points(t90, reps ? "measured t99: median, min\u2013max"
                                   : "measured t99",
                         series_colour(1), ser->runs, kind, ANA_METRIC_T99,
                         &t90_range);
            sweep_points(msgs, reps ? "measured: median, min\u2013max"
                                    : "measured",
                         series_colour(0), ser->runs, kind,
                         ANA_METRIC_MESSAGES, NULL);
        } else {
            unsigned colour = series_colour(s);
            sweep_points(t90, ser->label, colour, ser->runs, kind,
                         ANA_METRIC_T90, &t90_range);
            sweep_points(t99, ser->label, colour, ser->runs, kind,
                         ANA_METRIC_T99, &t99_range);
            sweep_points(msgs, ser->label, colour, ser->runs, kind,
                         ANA_METRIC_MESSAGES, NULL);
        }
        theory_inputs t = theory_of(ser->runs, kind);
        unsigned theory_colour = one ? ANA_SVG_BLACK : series_colour(s);
        theory_line(t90, one ? t90_text : NULL, theory_colour,
                    ANA_SVG_DASHED, &t, kind, THEORY_T90, &t90_range);
        theory_line(t90, one ? push_text : NULL, theory_colour,
                    ANA_SVG_DOTTED, &t, kind, THEORY_PUSH, &t90_range);
        theory_line(msgs, one ? msgs_text : NULL, theory_colour,
                    ANA_SVG_DASHED, &t, kind, THEORY_MESSAGES, NULL);
    }
    if (!one) {
        char *dashed = g_strdup_printf("dashed: %s", t90_text);
        char *dotted = g_strdup_printf("dotted: %s", push_text);
        ana_svg_figure_note(t90, dashed, ANA_SVG_DASHED);
        ana_svg_figure_note(t90, dotted, ANA_SVG_DOTTED);
        g_free(dashed);
        g_free(dotted);
        dashed = g_strdup_printf("dashed: %s", msgs_text);
        ana_svg_figure_note(msgs, dashed, ANA_SVG_DASHED);
        g_free(dashed);
    }
    write_time_figure(t90, &t90_range, html);
    if (!one)
        write_time_figure(t99, &t99_range, html);
    write_figure(msgs, html);
    if (!one)
        ana_svg_figure_free(t99);
    ana_svg_figure_free(t90);
    ana_svg_figure_free(msgs);
    if (repeated)
        note(html, "Dots are medians over the repetitions at each value, "
                   "whiskers span their minimum to maximum (a whisker "
                   "leaving the top: some never reached 90% or 99%).");
    note(html, kind == SWEEP_FANOUT
                   ? "Theory: forward-once (each node forwards its first copy "
                     "to f random peers) hops to 90% of the nodes, times the "
                     "round (the mean one-way latency), the quantity t90 "
                     "measures; the push model's rounds to every node, times "
                     "the same round, for reference."
                   : "Theory: forward-once with the fan-out thinned by loss, "
                     "f(1\u2212loss), hops to 90% of the nodes times the "
                     "round (the mean one-way latency), the quantity t90 "
                     "measures; messages count every copy sent, lost or "
                     "not.");
    g_array_unref(series);
}

void plot_section_fanout(const plot_data *data, GString *html)
{
    sweep_section(data, SWEEP_FANOUT, html);
}

void plot_section_loss(const plot_data *data, GString *html)
{
    sweep_section(data, SWEEP_LOSS, html);
}

/* ------------------------------------------------------------------ */
/* 5. Membership convergence.                                           */

void plot_section_membership(const plot_data *data, GString *html)
{
    g_string_append(html, "<h2>Membership convergence</h2>\n");
    ana_svg_figure *fig = ana_svg_figure_new(
        "Live nodes whose list holds exactly the live nodes");
    ana_svg_figure_set_axis(fig, ANA_SVG_X, "run time", ANA_SVG_TIME_US);
    ana_svg_figure_set_axis(fig, ANA_SVG_Y, "complete / live",
                            ANA_SVG_PERCENT);
    ana_svg_figure_set_range(fig, ANA_SVG_Y, 0, 1);
    ana_svg_figure_set_range(fig, ANA_SVG_X, 0, max_sim_time(data));
    size_t drawn = 0;
    gboolean churn = FALSE, ranges = FALSE;
    for (guint c = 0; c < data->set.n_configs; c++) {
        const plot_config *config = &data->configs[c];
        guint samples = 0, with = 0;
        for (guint i = 0; i < plot_config_n_runs(config); i++) {
            const plot_run *run = plot_config_run(data, config, i);
            samples = MAX(samples, run->membership->len);
            with += run->membership->len > 0;
        }
        if (samples == 0)
            continue;
        gboolean config_churn = FALSE;
        guint stride = (samples + MAX_MEMBER_POINTS - 1) / MAX_MEMBER_POINTS;
        guint n = (samples + stride - 1) / stride;
        double *x = g_new(double, n), *med = g_new(double, n);
        double *lo = g_new(double, n), *hi = g_new(double, n);
        double *live = g_new(double, n);
        double *ratio = g_new(double, plot_config_n_runs(config));
        double *alive = g_new(double, plot_config_n_runs(config));
        for (guint p = 0; p < n; p++) {
            guint s = p * stride;
            size_t k = 0;
            x[p] = NAN;
            for (guint i = 0; i < plot_config_n_runs(config); i++) {
                const plot_run *run = plot_config_run(data, config, i);
                if (s >= run->membership->len)
                    continue;
                const plot_member *m =
                    &g_array_index(run->membership, plot_member, s);
                if (isnan(x[p]))
                    x[p] = m->t_us;
                if (m->live != run->run->nodes)
                    config_churn = TRUE;
                ratio[k] = m->live > 0 ? (double)m->complete / (double)m->live
                                       : 0;
                alive[k++] = run->run->nodes > 0
                                 ? (double)m->live / (double)run->run->nodes
                                 : 0;
            }
            med[p] = ana_stats_median(ratio, k);
            lo[p] = ana_stats_percentile(ratio, k, 0);
            hi[p] = ana_stats_percentile(ratio, k, 100);
            live[p] = ana_stats_median(alive, k);
        }
        unsigned colour = series_colour(c);
        if (with > 1) {
            ana_svg_figure_band(fig, NULL, colour, x, lo, n, x, hi, n);
            ranges = TRUE;
        }
        char *label = with > 1 ? g_strdup_printf("%s, median of %u",
                                                 config->short_label, with)
                               : g_strdup(config->short_label);
        ana_svg_figure_line(fig, label, colour, ANA_SVG_SOLID, x, med, n);
        if (config_churn)
            ana_svg_figure_line(fig, NULL, colour, ANA_SVG_DASHED, x, live,
                                n);
        churn = churn || config_churn;
        g_free(label);
        g_free(x);
        g_free(med);
        g_free(lo);
        g_free(hi);
        g_free(live);
        g_free(ratio);
        g_free(alive);
        drawn++;
    }
    if (drawn > 0) {
        if (ranges)
            band_note(fig, "shaded: min\u2013max over repetitions");
        if (churn)
            ana_svg_figure_note(fig, "dashed: live nodes / N",
                                ANA_SVG_DASHED);
        add_markers(fig, data);
        write_figure(fig, html);
    } else {
        note(html, "No membership sample was recorded.");
    }
    ana_svg_figure_free(fig);
}

/* ------------------------------------------------------------------ */

void plot_append_time(GString *out, double us)
{
    if (isnan(us)) {
        g_string_append(out, "\u2013");
    } else if (isinf(us)) {
        g_string_append(out, "never");
    } else if (us < 1e3) {
        ana_svg_append_number(out, us, 0);
        g_string_append(out, " \u00b5s");
    } else if (us < 1e6) {
        ana_svg_append_number(out, us / 1e3, 1);
        g_string_append(out, " ms");
    } else {
        ana_svg_append_number(out, us / 1e6, 2);
        g_string_append(out, " s");
    }
}
