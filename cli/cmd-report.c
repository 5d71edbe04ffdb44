/* cmd-report.c: `peko report DB`, each configuration of a database
 * aggregated over its repetitions and set beside theory
 * (analysis/report.h), as text, JSON or CSV. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "report.h"
#include "theory.h"

static char *run_arg;
static char *format_arg;
static char *tolerance_arg;

static const GOptionEntry report_entries[] = {
    {"run", 'r', 0, G_OPTION_ARG_STRING, &run_arg,
     "Report only run ID (complete or not)", "ID"},
    {"format", 'f', 0, G_OPTION_ARG_STRING, &format_arg,
     "text (default), json or csv", "FORMAT"},
    {"tolerance", 't', 0, G_OPTION_ARG_STRING, &tolerance_arg,
     "Flag measured rounds further than this from theory (default 25%)",
     "PCT"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void free_args(void)
{
    g_clear_pointer(&run_arg, g_free);
    g_clear_pointer(&format_arg, g_free);
    g_clear_pointer(&tolerance_arg, g_free);
}

/* ------------------------------------------------------------------ */
/* Text.                                                                */

static void format_value(char *buf, size_t size, ana_metric m, double v)
{
    const ana_metric_info *info = ana_metric_get(m);
    if (info->is_time || isnan(v) || isinf(v))
        cli_format_seconds(buf, size, v);
    else if (m == ANA_METRIC_NEVER_REACHED || fabs(v) >= 1000)
        g_snprintf(buf, size, "%.0f", v);
    else
        g_snprintf(buf, size, "%.2f", v);
}

/* Drop metrics that are zero in every run say nothing. */
static bool worth_showing(ana_metric m, const ana_metric_summary *s)
{
    if (s->n == 0)
        return false;
    if (m >= ANA_METRIC_DROPS_LOST)
        return s->max > 0;
    return true;
}

/* Rates and probabilities span many decades: three significant
 * digits, or "-" when there is none. */
static void format_small(char *buf, size_t size, double v)
{
    if (isnan(v))
        g_snprintf(buf, size, "-");
    else if (isinf(v))
        g_snprintf(buf, size, "never");
    else
        g_snprintf(buf, size, "%.3g", v);
}

/* The failure detector's figures, pooled over the configuration's runs,
 * with the theory beside them (report.h, ana_fd_figures). */
static void text_fd(GString *out, const ana_config_report *cr)
{
    const ana_fd_figures *fd = &cr->fd;
    const ana_run *run = cr->first;
    if (fd->runs == 0)
        return;
    char a[32], b[32], c[32], d[32];
    cli_format_seconds(a, sizeof a, fd->timeout_s);
    g_string_append_printf(out, "  failure detector: %zu silence%s (%zu "
                                "crash%s, %zu pause%s, %zu stop%s), timeout "
                                "%s%s\n",
                           fd->silences, fd->silences == 1 ? "" : "s",
                           fd->crashes, fd->crashes == 1 ? "" : "es",
                           fd->pauses, fd->pauses == 1 ? "" : "s", fd->stops,
                           fd->stops == 1 ? "" : "s", a,
                           fd->timeout_scaled ? " (scaled with the cluster)"
                                              : "");
    if (fd->silences) {
        cli_format_seconds(a, sizeof a, fd->detection_median_s);
        cli_format_seconds(b, sizeof b, fd->detection_p99_s);
        g_string_append_printf(out,
                               "    detection: median %s, p99 %s; %zu "
                               "detected, %zu never, %zu back first, %zu "
                               "never listed\n",
                               a, b, fd->detected, fd->undetected,
                               fd->recovered, fd->unlisted);
    }
    if (fd->propagation_model) {
        cli_format_seconds(a, sizeof a, fd->detection_bound_s);
        cli_format_seconds(b, sizeof b, fd->propagation_s);
        g_string_append_printf(out,
                               "    theory: gone from every list within "
                               "timeout + propagation + a cycle = %s "
                               "(propagation %s, %s)\n",
                               a, b, fd->propagation_model);
    }
    format_small(a, sizeof a, fd->wrong_rate);
    format_small(b, sizeof b, fd->wrong_rate_hi);
    g_string_append_printf(out,
                           "    wrong removals: %zu of %zu removals in %.4g "
                           "node-hours: %s per node-hour (< %s at 95%%)\n",
                           fd->wrong, fd->removals, fd->node_hours, a, b);
    format_small(b, sizeof b, fd->recurrence_lo_s);
    if (isinf(fd->recurrence_s))
        g_snprintf(a, sizeof a, "none yet");
    else
        g_snprintf(a, sizeof a, "%.3g s", fd->recurrence_s);
    cli_format_seconds(c, sizeof c, fd->mistake_duration_s);
    g_string_append_printf(out,
                           "    T_MR per pair %s (> %s s at 95%%), T_M %s "
                           "(%zu undone, %zu still wrong at the end); %zu "
                           "listing%s of a silent node\n",
                           a, b, c, fd->repaired, fd->unrepaired,
                           fd->silent_adds, fd->silent_adds == 1 ? "" : "s");
    if (g_strcmp0(run->dissemination, "digest") != 0)
        return;
    cli_format_seconds(a, sizeof a, fd->propagation_s);
    double e = run->exchanges >= 1 ? run->exchanges : 1;
    cli_format_seconds(b, sizeof b, fd->heartbeat_t99_s);
    cli_format_seconds(c, sizeof c, fd->heartbeat_t100_s);
    char window[64] = "";
    if (fd->propagation_coverage < 1.0)
        g_snprintf(window, sizeof window, ", a swap carries %.1f%% of a list",
                   100.0 * fd->propagation_coverage);
    g_string_append_printf(out,
                           "  digest theory: a heartbeat reaches every node "
                           "in %.0f cycles (%s; push-pull, %g exchange%s a "
                           "cycle%s); measured t99 %s, t100 %s\n",
                           fd->propagation_cycles, a, e, e == 1 ? "" : "s",
                           window, b, c);
    cli_format_seconds(a, sizeof a, fd->timeout_s);
    format_small(b, sizeof b, fd->mistake_p);
    format_small(c, sizeof c, fd->rate_aimed);
    format_small(d, sizeof d, fd->wrong_rate);
    g_string_append_printf(out,
                           "    timeout %s = %.0f cycles: a wrong removal "
                           "anywhere within a timeout with p <= %s (the "
                           "default aims at 2^-%d), <= %s per node-hour; "
                           "measured %s\n",
                           a, fd->timeout_s / run->cycle_s, b,
                           ANA_THEORY_DIGEST_MISTAKE_LOG2, c, d);
}

static void text_config(GString *out, const ana_report *report,
                        const ana_config_report *cr)
{
    const ana_run *run = cr->first;
    const ana_config *c = cr->config;
    char round[32];
    cli_format_seconds(round, sizeof round, run->round_s);
    g_string_append_printf(out, "\n%s%s%s: %zu run%s, %" G_GINT64_FORMAT
                                " nodes",
                           c->scenario, *c->sweep_point ? " " : "",
                           c->sweep_point, c->n_runs,
                           c->n_runs == 1 ? "" : "s", run->nodes);
    if (!isnan(run->fanout))
        g_string_append_printf(out, ", fan-out %g", run->fanout);
    if (run->dissemination)
        g_string_append_printf(out, ", %s mode", run->dissemination);
    g_string_append_printf(out, ", round %s (%s)%s\n", round,
                           run->latency_s > 0 ? "one-way latency" : "cycle",
                           run->heartbeats_only ? ", over heartbeats" : "");
    if (c->n_runs == 1)
        g_string_append_printf(out, "  run %" G_GINT64_FORMAT ", seed %"
                                    G_GINT64_FORMAT "\n",
                               run->run_id, run->seed);
    g_string_append_printf(out, "  %-22s %10s  %-27s %10s  %s\n", "metric",
                           "median", "95% CI", "mean", "min .. max");
    for (int m = 0; m < ANA_METRIC_COUNT; m++) {
        const ana_metric_summary *s = &cr->metric[m];
        if (!worth_showing((ana_metric)m, s))
            continue;
        char mean[32], lo[32], hi[32], med[32], min[32], max[32];
        char ci[96] = "";
        format_value(mean, sizeof mean, (ana_metric)m, s->mean);
        format_value(lo, sizeof lo, (ana_metric)m, s->median_lo);
        format_value(hi, sizeof hi, (ana_metric)m, s->median_hi);
        format_value(med, sizeof med, (ana_metric)m, s->median);
        format_value(min, sizeof min, (ana_metric)m, s->min);
        format_value(max, sizeof max, (ana_metric)m, s->max);
        /* Fewer than 6 runs cannot give 95%: say what the interval
         * (then min .. max) does cover. */
        if (s->n > 1 && s->median_level < ANA_REPORT_LEVEL)
            g_snprintf(ci, sizeof ci, "[%s, %s] %.0f%%", lo, hi,
                       s->median_level * 100);
        else if (s->n > 1)
            g_snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
        g_string_append_printf(out, "  %-22s %10s  %-27s %10s  %s .. %s",
                               ana_metric_get((ana_metric)m)->name, med, ci,
                               mean, min, max);
        if (s->never)
            g_string_append_printf(out, "  (never in %zu of %zu)", s->never,
                                   s->n);
        g_string_append_c(out, '\n');
    }
    text_fd(out, cr);
    const ana_theory_figures *t = &cr->theory;
    if (t->model == NULL) {
        g_string_append_printf(out, "  theory: none applies (%s)", t->why_not);
        if (!isnan(t->push_rounds))
            g_string_append_printf(out, "; push model %.1f rounds",
                                   t->push_rounds);
        g_string_append_c(out, '\n');
        return;
    }
    g_string_append_printf(out,
                           "  theory (%s, fan-out %g): reach %.1f%%, rounds to "
                           "50%% ",
                           t->model, run->fanout, t->reach * 100);
    if (isnan(t->rounds50))
        g_string_append(out, "never");
    else
        g_string_append_printf(out, "%.2f", t->rounds50);
    g_string_append(out, ", to 90% ");
    if (isnan(t->rounds90))
        g_string_append(out, "never (anti-entropy governs)");
    else
        g_string_append_printf(out, "%.2f", t->rounds90);
    g_string_append_printf(out, "; push model %.2f to all\n", t->push_rounds);
    g_string_append(out, "  measured vs theory:");
    if (isnan(t->dev50) && isnan(t->dev90))
        g_string_append(out, " nothing to compare");
    if (!isnan(t->dev50))
        g_string_append_printf(out, " rounds50 %+.1f%%", t->dev50 * 100);
    if (!isnan(t->dev90))
        g_string_append_printf(out, " rounds90 %+.1f%%", t->dev90 * 100);
    if (!isnan(t->dev50) || !isnan(t->dev90))
        g_string_append_printf(out, " -> %s (tolerance %.0f%%)",
                               t->deviates ? "DEVIATES" : "within",
                               report->tolerance * 100);
    g_string_append_c(out, '\n');
}

/* One line per configuration: the sweep at a glance. */
static void text_overview(GString *out, const ana_report *report)
{
    g_string_append_printf(out, "\n%-28s %4s %9s %9s %9s %9s %7s %7s %9s\n",
                           "configuration", "runs", "t50", "t90", "t99",
                           "t100", "rnd90", "theory", "msgs/node");
    for (size_t i = 0; i < report->n_configs; i++) {
        const ana_config_report *cr = &report->configs[i];
        char t[4][32];
        static const ana_metric times[4] = {ANA_METRIC_T50, ANA_METRIC_T90,
                                            ANA_METRIC_T99, ANA_METRIC_T100};
        for (int k = 0; k < 4; k++)
            cli_format_seconds(t[k], sizeof t[k], cr->metric[times[k]].median);
        char name[64];
        g_snprintf(name, sizeof name, "%s", *cr->config->sweep_point
                                                ? cr->config->sweep_point
                                                : cr->config->scenario);
        char rounds[32], theory[32];
        format_value(rounds, sizeof rounds, ANA_METRIC_ROUNDS90,
                     cr->metric[ANA_METRIC_ROUNDS90].median);
        format_value(theory, sizeof theory, ANA_METRIC_ROUNDS90,
                     cr->theory.rounds90);
        g_string_append_printf(
            out, "%-28s %4zu %9s %9s %9s %9s %7s %7s %9.2f%s\n", name,
            cr->config->n_runs, t[0], t[1], t[2], t[3], rounds, theory,
            cr->metric[ANA_METRIC_MESSAGES].median,
            cr->theory.deviates ? "  DEVIATES" : "");
    }
    g_string_append(out, "(medians over repetitions; rnd90: rounds to 90% of "
                         "nodes, theory: forward-once)\n");
}

static void print_text(const ana_report *report)
{
    const ana_runset *set = report->set;
    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "%s: %zu run%s in %zu configuration%s", set->path,
                           set->n_runs, set->n_runs == 1 ? "" : "s",
                           set->n_configs, set->n_configs == 1 ? "" : "s");
    if (set->n_not_complete)
        g_string_append_printf(out, " (%zu incomplete run%s left out)",
                               set->n_not_complete,
                               set->n_not_complete == 1 ? "" : "s");
    g_string_append_c(out, '\n');
    for (size_t i = 0; i < report->n_configs; i++)
        text_config(out, report, &report->configs[i]);
    if (report->n_configs > 1)
        text_overview(out, report);
    if (report->n_deviating)
        g_string_append_printf(out,
                               "%zu configuration%s deviate%s from theory by "
                               "more than %.0f%% (docs/theory.md)\n",
                               report->n_deviating,
                               report->n_deviating == 1 ? "" : "s",
                               report->n_deviating == 1 ? "s" : "",
                               report->tolerance * 100);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
}

/* ------------------------------------------------------------------ */
/* JSON and CSV.                                                        */

static void json_summary(model_json *j, const ana_metric_summary *s,
                         const char *unit)
{
    model_json_begin_object(j);
    model_json_member_string(j, "unit", unit);
    model_json_member_int(j, "n", (int64_t)s->n);
    model_json_member_int(j, "never", (int64_t)s->never);
    model_json_member_number(j, "mean", s->mean);
    model_json_member_number(j, "median", s->median);
    model_json_key(j, "median_ci");
    model_json_begin_array(j);
    model_json_number(j, s->median_lo);
    model_json_number(j, s->median_hi);
    model_json_end_array(j);
    model_json_member_number(j, "median_ci_level", s->median_level);
    model_json_member_number(j, "min", s->min);
    model_json_member_number(j, "max", s->max);
    model_json_end_object(j);
}

static void json_theory(model_json *j, const ana_theory_figures *t)
{
    model_json_begin_object(j);
    model_json_member_string(j, "model", t->model);
    model_json_member_string(j, "why_not", t->why_not);
    model_json_member_number(j, "reach", t->reach);
    model_json_member_number(j, "rounds50", t->rounds50);
    model_json_member_number(j, "rounds90", t->rounds90);
    model_json_member_number(j, "push_rounds", t->push_rounds);
    model_json_member_number(j, "deviation50", t->dev50);
    model_json_member_number(j, "deviation90", t->dev90);
    model_json_member_bool(j, "deviates", t->deviates);
    model_json_end_object(j);
}

static void json_fd(model_json *j, const ana_fd_figures *fd)
{
    model_json_begin_object(j);
    model_json_member_int(j, "runs", (int64_t)fd->runs);
    model_json_member_int(j, "silences", (int64_t)fd->silences);
    model_json_member_int(j, "crashes", (int64_t)fd->crashes);
    model_json_member_int(j, "pauses", (int64_t)fd->pauses);
    model_json_member_int(j, "stops", (int64_t)fd->stops);
    model_json_member_int(j, "detected", (int64_t)fd->detected);
    model_json_member_int(j, "undetected", (int64_t)fd->undetected);
    model_json_member_int(j, "recovered_first", (int64_t)fd->recovered);
    model_json_member_int(j, "never_listed", (int64_t)fd->unlisted);
    model_json_member_number(j, "detection_median_s",
                             fd->detection_median_s);
    model_json_member_number(j, "detection_p99_s", fd->detection_p99_s);
    model_json_member_int(j, "removals", (int64_t)fd->removals);
    model_json_member_int(j, "wrong_removals", (int64_t)fd->wrong);
    model_json_member_number(j, "node_hours", fd->node_hours);
    model_json_member_number(j, "pair_hours", fd->pair_hours);
    model_json_member_number(j, "wrong_removal_rate", fd->wrong_rate);
    model_json_member_number(j, "wrong_removal_rate_upper95",
                             fd->wrong_rate_hi);
    model_json_member_number(j, "mistake_recurrence_s", fd->recurrence_s);
    model_json_member_number(j, "mistake_recurrence_lower95_s",
                             fd->recurrence_lo_s);
    model_json_member_number(j, "mistake_duration_s", fd->mistake_duration_s);
    model_json_member_int(j, "repaired", (int64_t)fd->repaired);
    model_json_member_int(j, "unrepaired", (int64_t)fd->unrepaired);
    model_json_member_int(j, "silent_listings", (int64_t)fd->silent_adds);
    model_json_member_number(j, "heartbeat_t99_s", fd->heartbeat_t99_s);
    model_json_member_number(j, "heartbeat_t100_s", fd->heartbeat_t100_s);
    model_json_key(j, "theory");
    model_json_begin_object(j);
    model_json_member_number(j, "timeout_s", fd->timeout_s);
    model_json_member_bool(j, "timeout_scaled", fd->timeout_scaled);
    model_json_member_string(j, "propagation_model", fd->propagation_model);
    model_json_member_number(j, "propagation_s", fd->propagation_s);
    model_json_member_number(j, "propagation_cycles",
                             fd->propagation_cycles);
    model_json_member_number(j, "propagation_coverage",
                             fd->propagation_coverage);

    model_json_member_number(j, "detection_bound_s", fd->detection_bound_s);
    model_json_member_number(j, "mistake_p", fd->mistake_p);
    model_json_member_number(j, "mistake_p_aimed", fd->mistake_p_aimed);
    model_json_member_number(j, "wrong_removal_rate_aimed", fd->rate_aimed);
    model_json_end_object(j);
    model_json_end_object(j);
}

static void print_json(const ana_report *report)
{
    const ana_runset *set = report->set;
    model_json *j = model_json_new();
    model_json_begin_object(j);
    model_json_member_string(j, "database", set->path);
    model_json_member_int(j, "runs", (int64_t)set->n_runs);
    model_json_member_int(j, "not_complete", (int64_t)set->n_not_complete);
    model_json_member_number(j, "tolerance", report->tolerance);
    model_json_key(j, "configurations");
    model_json_begin_array(j);
    for (size_t i = 0; i < report->n_configs; i++) {
        const ana_config_report *cr = &report->configs[i];
        const ana_run *run = cr->first;
        model_json_begin_object(j);
        model_json_member_string(j, "scenario", cr->config->scenario);
        model_json_member_string(j, "sweep_point", cr->config->sweep_point);
        model_json_member_int(j, "runs", (int64_t)cr->config->n_runs);
        model_json_key(j, "run_ids");
        model_json_begin_array(j);
        for (size_t r = 0; r < cr->config->n_runs; r++)
            model_json_int(j, set->runs[cr->config->runs[r]].run_id);
        model_json_end_array(j);
        model_json_member_int(j, "nodes", run->nodes);
        model_json_member_number(j, "fanout", run->fanout);
        model_json_member_string(j, "dissemination", run->dissemination);
        model_json_member_number(j, "round_s", run->round_s);
        model_json_key(j, "metrics");
        model_json_begin_object(j);
        for (int m = 0; m < ANA_METRIC_COUNT; m++) {
            const ana_metric_info *info = ana_metric_get((ana_metric)m);
            model_json_key(j, info->name);
            json_summary(j, &cr->metric[m], info->unit);
        }
        model_json_end_object(j);
        model_json_key(j, "theory");
        json_theory(j, &cr->theory);
        if (cr->fd.runs) {
            model_json_key(j, "failure_detector");
            json_fd(j, &cr->fd);
        }
        model_json_end_object(j);
    }
    model_json_end_array(j);
    model_json_end_object(j);
    char *text = model_json_finish(j);
    puts(text);
    g_free(text);
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void csv_field(GString *out, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        g_string_append(out, s);
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            g_string_append_c(out, '"');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

static void csv_number(GString *out, double v)
{
    g_string_append_c(out, ',');
    if (isinf(v))
        g_string_append(out, "inf");
    else if (!isnan(v)) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append(out, model_json_format_double(v, buf));
    }
}

static void print_csv(const ana_report *report)
{
    GString *out = g_string_new(
        "scenario,sweep_point,runs,metric,unit,n,never,mean,median,"
        "median_ci_lo,median_ci_hi,median_ci_level,min,max,theory\n");
    for (size_t i = 0; i < report->n_configs; i++) {
        const ana_config_report *cr = &report->configs[i];
        for (int m = 0; m < ANA_METRIC_COUNT; m++) {
            const ana_metric_info *info = ana_metric_get((ana_metric)m);
            const ana_metric_summary *s = &cr->metric[m];
            csv_field(out, cr->config->scenario);
            g_string_append_c(out, ',');
            csv_field(out, cr->config->sweep_point);
            g_string_append_printf(out, ",%zu,%s,%s,%zu,%zu",
                                   cr->config->n_runs, info->name, info->unit,
                                   s->n, s->never);
            csv_number(out, s->mean);
            csv_number(out, s->median);
            csv_number(out, s->median_lo);
            csv_number(out, s->median_hi);
            csv_number(out, s->median_level);
            csv_number(out, s->min);
            csv_number(out, s->max);
            csv_number(out, m == ANA_METRIC_ROUNDS50   ? cr->theory.rounds50
                            : m == ANA_METRIC_ROUNDS90 ? cr->theory.rounds90
                                                       : NAN);
            g_string_append_c(out, '\n');
        }
    }
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
}

/* ------------------------------------------------------------------ */

int cli_cmd_report(int argc, char **argv)
{
    GOptionContext *context =
        g_option_context_new("DB - report a database's runs against theory");
    g_option_context_set_summary(
        context,
        "For each configuration (scenario and sweep point) of the database:\n"
        "infection times t50..t100, rounds, messages per node, redundancy,\n"
        "nodes never reached, membership convergence, metadata staleness and\n"
        "drops by cause, as median with a 95% confidence interval, mean,\n"
        "min and max over its repetitions, with the rounds theory predicts\n"
        "(docs/theory.md, metrics in docs/analysis.md).");
    g_option_context_set_description(
        context, "Exit status: 0 when the report was made, 1 when the\n"
                 "database cannot be read, 2 for a bad command line.");
    g_option_context_add_main_entries(context, report_entries, NULL);
    gboolean ok = cli_parse_positional(context, "report", &argc, &argv, 1);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    GError *error = NULL;
    uint64_t run_id = 0;
    double tolerance = ANA_REPORT_DEFAULT_TOLERANCE;
    const char *format = format_arg ? format_arg : "text";
    if (run_arg)
        cli_parse_u64("--run", run_arg, 1, INT64_MAX, &run_id, &error);
    if (!error && tolerance_arg)
        cli_parse_fraction("--tolerance", tolerance_arg, &tolerance, &error);
    if (!error && strcmp(format, "text") != 0 && strcmp(format, "json") != 0 &&
        strcmp(format, "csv") != 0)
        error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "--format: expected text, json or csv, got '%s'",
                            format);
    if (error) {
        int status = cli_usage_error("report", "%s", error->message);
        g_error_free(error);
        free_args();
        return status;
    }

    /* With the heartbeats' own figures: the failure detector's theory
     * sets their spread beside the propagation it predicts. */
    ana_runset set;
    if (!ana_runset_load_full(argv[1], run_arg ? (int64_t)run_id : -1,
                              ANA_RUNSET_HEARTBEATS, &set, &error)) {
        fprintf(stderr, "peko report: %s\n", error->message);
        g_error_free(error);
        free_args();
        return CLI_EXIT_FAILED;
    }
    ana_report report;
    ana_report_build(&set, tolerance, &report);
    if (strcmp(format, "json") == 0)
        print_json(&report);
    else if (strcmp(format, "csv") == 0)
        print_csv(&report);
    else
        print_text(&report);
    ana_report_clear(&report);
    ana_runset_clear(&set);
    free_args();
    return CLI_EXIT_OK;
}
