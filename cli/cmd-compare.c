/* cmd-compare.c: `peko compare BASE.db NEW.db`, the regression gate.
 *
 * Matches configurations (scenario and sweep point) of the two databases,
 * compares each chosen metric's distribution over repetitions
 * (analysis/compare.h) and exits 1 when any got significantly worse beyond
 * the tolerance. The level is Bonferroni-corrected over all the
 * comparisons made, so adding metrics does not add false alarms. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "compare.h"
#include "runs.h"

static char *metric_arg;
static char *tolerance_arg;
static char *alpha_arg;

static const GOptionEntry compare_entries[] = {
    {"metric", 'm', 0, G_OPTION_ARG_STRING, &metric_arg,
     "Metrics to compare, comma-separated (default "
     "t50,t90,t99,messages_per_node,wrong_removals; see docs/analysis.md)",
     "LIST"},
    {"tolerance", 't', 0, G_OPTION_ARG_STRING, &tolerance_arg,
     "Changes within this are the same (default 5%)", "PCT"},
    {"alpha", 'a', 0, G_OPTION_ARG_STRING, &alpha_arg,
     "Significance level over all comparisons (default 0.05)", "P"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* wrong_removals: a build that brings back false expiries fails the
 * gate (a count, judged as compare.h's ana_compare_counts says). */
static const ana_metric default_metrics[] = {
    ANA_METRIC_T50, ANA_METRIC_T90, ANA_METRIC_T99, ANA_METRIC_MESSAGES,
    ANA_METRIC_WRONG_REMOVALS};

static void free_args(void)
{
    g_clear_pointer(&metric_arg, g_free);
    g_clear_pointer(&tolerance_arg, g_free);
    g_clear_pointer(&alpha_arg, g_free);
}

static gboolean parse_metrics(const char *text, GArray *out, GError **error)
{
    char **names = g_strsplit(text, ",", -1);
    gboolean ok = TRUE;
    for (char **p = names; ok && *p; p++) {
        char *name = g_strstrip(*p);
        ana_metric m;
        if (*name == 0)
            continue;
        if (!ana_metric_from_name(name, &m)) {
            GString *known = g_string_new(NULL);
            for (int k = 0; k < ANA_METRIC_COUNT; k++)
                g_string_append_printf(known, "%s%s", k ? ", " : "",
                                       ana_metric_get((ana_metric)k)->name);
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--metric: unknown metric '%s' (known: %s)", name,
                        known->str);
            g_string_free(known, TRUE);
            ok = FALSE;
        } else {
            g_array_append_val(out, m);
        }
    }
    g_strfreev(names);
    if (ok && out->len == 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--metric: no metric given");
        ok = FALSE;
    }
    return ok;
}

static void format_metric(char *buf, size_t size, ana_metric m, double v)
{
    if (ana_metric_get(m)->is_time || !isfinite(v))
        cli_format_seconds(buf, size, v);
    else
        g_snprintf(buf, size, "%.3g", v);
}

static void format_change(char *buf, size_t size, double change)
{
    if (isnan(change))
        g_snprintf(buf, size, "-");
    else if (isinf(change))
        g_snprintf(buf, size, "%s", change > 0 ? "+inf" : "-inf");
    else
        g_snprintf(buf, size, "%+.1f%%", change * 100);
}

/* A pair of matched configurations. */
typedef struct match {
    const ana_config *base, *new_;
} match;

/* Matches configurations that are the same on both sides (runs.h); when
 * nothing matches and each side has exactly one configuration of the same
 * scenario, those two match: two differently configured runs of one
 * scenario, which describe_difference() then names. */
static GArray *match_configs(const ana_runset *base, const ana_runset *new_)
{
    GArray *matches = g_array_new(FALSE, FALSE, sizeof(match));
    for (size_t i = 0; i < base->n_configs; i++) {
        const ana_config *b = &base->configs[i];
        const ana_config *n = ana_runset_find(new_, base, b);
        if (n)
            g_array_append_val(matches, ((match){b, n}));
    }
    if (matches->len == 0 && base->n_configs == 1 && new_->n_configs == 1 &&
        g_strcmp0(base->configs[0].scenario, new_->configs[0].scenario) == 0)
        g_array_append_val(matches,
                           ((match){&base->configs[0], &new_->configs[0]}));
    return matches;
}

/* Says how two matched configurations differ in what the runs record, so
 * a reader knows a comparison of two settings from one of two builds. */
static void describe_difference(GString *out, const ana_run *b,
                                const ana_run *n)
{
    GString *diff = g_string_new(NULL);
    if (b->nodes != n->nodes)
        g_string_append_printf(diff, ", nodes %" G_GINT64_FORMAT " vs %"
                                     G_GINT64_FORMAT,
                               b->nodes, n->nodes);
    if (b->fanout != n->fanout && !(isnan(b->fanout) && isnan(n->fanout)))
        g_string_append_printf(diff, ", fan-out %g vs %g", b->fanout,
                               n->fanout);
    if (g_strcmp0(b->dissemination, n->dissemination) != 0)
        g_string_append_printf(diff, ", %s vs %s dissemination",
                               b->dissemination ? b->dissemination : "?",
                               n->dissemination ? n->dissemination : "?");
    if (g_strcmp0(b->source, n->source) != 0)
        g_string_append_printf(diff, ", %s vs %s", b->source, n->source);
    if (diff->len)
        g_string_append_printf(out, "  note: the runs differ: %s\n",
                               diff->str + 2);
    g_string_free(diff, TRUE);
}

/* What a comparison shows for a side: a count metric shows its events
 * per run (wrong_removals) or its pooled rate; others their median. */
static double shown(ana_metric m, const ana_comparison *c, bool base)
{
    if (!ana_metric_get(m)->is_count || m != ANA_METRIC_WRONG_REMOVALS)
        return base ? c->base : c->new_;
    size_t n = base ? c->n_base : c->n_new;
    double events = base ? c->base_events : c->new_events;
    return n ? events / (double)n : NAN;
}

/* Whether a configuration has a value of metric m to compare. */
static bool has_data(const ana_runset *set, const ana_config *config,
                     ana_metric m)
{
    double *v = g_new(double, config->n_runs ? config->n_runs : 1);
    double *e = g_new(double, config->n_runs ? config->n_runs : 1);
    size_t n = ana_metric_get(m)->is_count
                   ? ana_config_counts(set, config, m, v, e)
                   : ana_config_values(set, config, m, v);
    g_free(v);
    g_free(e);
    return n > 0;
}

/* One metric of one matched configuration. */
static ana_comparison compare_metric(const ana_runset *base,
                                     const ana_runset *new_, const match *mt,
                                     ana_metric m, double tolerance,
                                     double level, uint64_t seed)
{
    size_t max_runs = MAX(mt->base->n_runs, mt->new_->n_runs);
    double *bv = g_new(double, max_runs ? max_runs : 1);
    double *nv = g_new(double, max_runs ? max_runs : 1);
    ana_comparison c;
    if (ana_metric_get(m)->is_count) {
        double *be = g_new(double, max_runs ? max_runs : 1);
        double *ne = g_new(double, max_runs ? max_runs : 1);
        size_t nb = ana_config_counts(base, mt->base, m, bv, be);
        size_t nn = ana_config_counts(new_, mt->new_, m, nv, ne);
        c = ana_compare_counts(bv, be, nb, nv, ne, nn, tolerance, level);
        g_free(be);
        g_free(ne);
    } else {
        size_t nb = ana_config_values(base, mt->base, m, bv);
        size_t nn = ana_config_values(new_, mt->new_, m, nv);
        c = ana_compare_values(bv, nb, nv, nn, tolerance, level, seed);
    }
    g_free(bv);
    g_free(nv);
    return c;
}

int cli_cmd_compare(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "BASE.db NEW.db - did NEW get worse than BASE?");
    g_option_context_set_summary(
        context,
        "Matches the configurations of the two databases by scenario and\n"
        "sweep point and compares each metric's distribution over their\n"
        "repetitions: change of the median, a 95% bootstrap interval of it,\n"
        "and a two-sided Mann-Whitney U test, Bonferroni-corrected over all\n"
        "comparisons. Every metric is better lower. Use at least 5\n"
        "repetitions a side (fewer cannot be significant at 0.05; then the\n"
        "tolerance alone decides). Works across simulated and real runs.");
    g_option_context_set_description(
        context,
        "Exit status: 0 when nothing regressed, 1 when a metric is\n"
        "significantly worse beyond the tolerance, 2 for a bad command line,\n"
        "an unreadable database, or when no configuration matches.");
    g_option_context_add_main_entries(context, compare_entries, NULL);
    gboolean ok = cli_parse_positional(context, "compare", &argc, &argv, 2);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    GError *error = NULL;
    double tolerance = ANA_COMPARE_DEFAULT_TOLERANCE;
    double alpha = ANA_COMPARE_DEFAULT_ALPHA;
    GArray *metrics = g_array_new(FALSE, FALSE, sizeof(ana_metric));
    if (metric_arg)
        parse_metrics(metric_arg, metrics, &error);
    else
        g_array_append_vals(metrics, default_metrics,
                            G_N_ELEMENTS(default_metrics));
    if (!error && tolerance_arg)
        cli_parse_fraction("--tolerance", tolerance_arg, &tolerance, &error);
    if (!error && alpha_arg &&
        cli_parse_fraction("--alpha", alpha_arg, &alpha, &error) &&
        !(alpha > 0 && alpha < 1))
        error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "--alpha: expected a level between 0 and 1, "
                            "got '%s'",
                            alpha_arg);
    if (error) {
        int status = cli_usage_error("compare", "%s", error->message);
        g_error_free(error);
        g_array_free(metrics, TRUE);
        free_args();
        return status;
    }

    ana_runset base, new_;
    if (!ana_runset_load(argv[1], -1, &base, &error)) {
        fprintf(stderr, "peko compare: %s\n", error->message);
        g_error_free(error);
        g_array_free(metrics, TRUE);
        free_args();
        return CLI_EXIT_USAGE;
    }
    if (!ana_runset_load(argv[2], -1, &new_, &error)) {
        fprintf(stderr, "peko compare: %s\n", error->message);
        g_error_free(error);
        ana_runset_clear(&base);
        g_array_free(metrics, TRUE);
        free_args();
        return CLI_EXIT_USAGE;
    }

    GArray *matches = match_configs(&base, &new_);
    int status = CLI_EXIT_OK;
    if (matches->len == 0) {
        fprintf(stderr,
                "peko compare: no configuration of %s (%zu) matches one of "
                "%s (%zu): they must share scenario and sweep point\n",
                argv[1], base.n_configs, argv[2], new_.n_configs);
        status = CLI_EXIT_USAGE;
        goto done;
    }

    /* Which (match, metric) pairs have data on both sides, then each
     * compared at the level corrected for that many. */
    size_t rows = matches->len * metrics->len, tests = 0;
    ana_comparison *results = g_new0(ana_comparison, rows);
    for (guint i = 0; i < matches->len; i++) {
        match *mt = &g_array_index(matches, match, i);
        for (guint k = 0; k < metrics->len; k++) {
            ana_metric m = g_array_index(metrics, ana_metric, k);
            tests += has_data(&base, mt->base, m) &&
                     has_data(&new_, mt->new_, m);
        }
    }
    double level = tests ? alpha / (double)tests : alpha;
    for (guint i = 0; i < matches->len; i++) {
        match *mt = &g_array_index(matches, match, i);
        for (guint k = 0; k < metrics->len; k++) {
            ana_metric m = g_array_index(metrics, ana_metric, k);
            results[i * metrics->len + k] = compare_metric(
                &base, &new_, mt, m, tolerance, level,
                0x70656b6f00000000ULL + i * 64 + (uint64_t)m);
        }
    }

    GString *out = g_string_new(NULL);
    g_string_append_printf(
        out, "base %s (%zu runs), new %s (%zu runs): %u configuration%s, "
             "tolerance %.1f%%, level %.3g (%.3g over %zu comparison%s)\n",
        argv[1], base.n_runs, argv[2], new_.n_runs, matches->len,
        matches->len == 1 ? "" : "s", tolerance * 100,
        tests ? alpha / (double)tests : alpha, alpha, tests,
        tests == 1 ? "" : "s");
    size_t regressions = 0, untestable = 0;
    for (guint i = 0; i < matches->len; i++) {
        match *mt = &g_array_index(matches, match, i);
        g_string_append_printf(out, "\n%s%s%s: %zu base, %zu new run%s\n",
                               mt->base->scenario,
                               *mt->base->sweep_point ? " " : "",
                               mt->base->sweep_point, mt->base->n_runs,
                               mt->new_->n_runs,
                               mt->new_->n_runs == 1 ? "" : "s");
        describe_difference(out, &base.runs[mt->base->runs[0]],
                            &new_.runs[mt->new_->runs[0]]);
        g_string_append_printf(out, "  %-22s %10s %10s %8s  %-19s %8s  %s\n",
                               "metric", "base", "new", "change",
                               "95% CI of change", "p", "verdict");
        for (guint k = 0; k < metrics->len; k++) {
            ana_metric m = g_array_index(metrics, ana_metric, k);
            const ana_comparison *c = &results[i * metrics->len + k];
            char b[32], n[32], ch[32], lo[32], hi[32], ci[64] = "", p[32];
            format_metric(b, sizeof b, m, shown(m, c, true));
            format_metric(n, sizeof n, m, shown(m, c, false));
            format_change(ch, sizeof ch, c->change);
            if (!isnan(c->change_lo)) {
                format_change(lo, sizeof lo, c->change_lo);
                format_change(hi, sizeof hi, c->change_hi);
                g_snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
            }
            if (isnan(c->p))
                g_snprintf(p, sizeof p, "-");
            else
                g_snprintf(p, sizeof p, "%.2g", c->p);
            g_string_append_printf(out, "  %-22s %10s %10s %8s  %-19s %8s  %s%s\n",
                                   ana_metric_get(m)->name, b, n, ch, ci, p,
                                   ana_verdict_name(c->verdict),
                                   c->zero_rule
                                       ? " (none in base: any is one)"
                                   : c->verdict > ANA_VERDICT_SAME &&
                                           !c->testable
                                       ? " (too few runs to test: by "
                                         "tolerance)"
                                       : "");
            regressions += c->verdict == ANA_VERDICT_REGRESSION;
            untestable += c->verdict != ANA_VERDICT_NO_DATA &&
                          !c->testable && !c->zero_rule;
        }
    }
    if (untestable)
        g_string_append_printf(out,
                               "\nnote: %zu comparison%s had too few runs for "
                               "the test to reach the level; use more "
                               "repetitions\n",
                               untestable, untestable == 1 ? "" : "s");
    g_string_append_printf(out, "\n%s: %zu regression%s\n",
                           regressions ? "FAIL" : "ok", regressions,
                           regressions == 1 ? "" : "s");
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_free(results);
    if (regressions)
        status = CLI_EXIT_FAILED;

done:
    g_array_free(matches, TRUE);
    ana_runset_clear(&base);
    ana_runset_clear(&new_);
    g_array_free(metrics, TRUE);
    free_args();
    return status;
}
