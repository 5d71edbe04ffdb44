/* report.c: configurations aggregated and set beside theory (report.h). */
#include "report.h"

#include <math.h>
#include <string.h>

#include "stats.h"
#include "theory.h"

ana_metric_summary ana_metric_summarize(const double *values, size_t n)
{
    ana_metric_summary s = {.mean = NAN, .median = NAN, .median_lo = NAN,
                            .median_hi = NAN, .median_level = NAN,
                            .min = NAN, .max = NAN};
    double *all = g_new(double, n ? n : 1);
    double *finite = g_new(double, n ? n : 1);
    size_t n_finite = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(values[i]))
            continue;
        all[s.n++] = values[i];
        if (isinf(values[i]))
            s.never++;
        else
            finite[n_finite++] = values[i];
    }
    /* A mean over the runs that got there would flatter: with any run
     * that never did, the mean time is "never" too (the median still
     * says where most runs were). */
    if (s.never > 0)
        s.mean = INFINITY;
    else if (n_finite > 0)
        s.mean = ana_stats_mean(finite, n_finite);
    if (s.n > 0) {
        s.median = ana_stats_median(all, s.n);
        /* An interval of order statistics, not mean +- t sd: with a few
         * skewed values (times are), the t-interval reaches below zero;
         * this one keeps to the values measured and holds for any
         * distribution. A "never" among them may be its upper bound. */
        ana_stats_median_interval ci = ana_stats_median_ci(all, s.n,
                                                     ANA_REPORT_LEVEL);
        s.median_lo = ci.lo;
        s.median_hi = ci.hi;
        s.median_level = ci.level;
        s.min = s.max = all[0];
        for (size_t i = 1; i < s.n; i++) {
            s.min = MIN(s.min, all[i]);
            s.max = MAX(s.max, all[i]);
        }
    }
    g_free(all);
    g_free(finite);
    return s;
}

/* Forward-once describes rumor mode (each node forwards its first copy
 * once, at once); classic mode forwards every copy and has no such
 * model here. */
static void theory_for(const ana_config_report *cr, double tolerance,
                       ana_theory_figures *t)
{
    const ana_run *run = cr->first;
    *t = (ana_theory_figures){.reach = NAN, .rounds50 = NAN,
                              .rounds90 = NAN, .push_rounds = NAN,
                              .dev50 = NAN, .dev90 = NAN};
    double n = (double)run->nodes, f = run->fanout;
    if (!(f >= 1) || n < 2) {
        t->why_not = "the fan-out or the cluster size is unknown";
        return;
    }
    t->push_rounds = ana_theory_push_rounds(n, f);
    if (g_strcmp0(run->dissemination, "digest") == 0) {
        t->why_not = "digest spreads heartbeats by exchanges: see the "
                     "failure detector's theory";
        return;
    }
    if (run->dissemination == NULL ||
        strcmp(run->dissemination, "rumor") != 0) {
        t->why_not = "classic dissemination forwards every copy";
        return;
    }
    t->model = "forward-once";
    ana_theory_forward_once fo = ana_theory_forward_once_run(n, f);
    t->reach = fo.reach;
    t->rounds50 = ana_theory_forward_once_rounds(n, f, 0.5);
    t->rounds90 = ana_theory_forward_once_rounds(n, f, 0.9);
    double m50 = cr->metric[ANA_METRIC_ROUNDS50].mean;
    double m90 = cr->metric[ANA_METRIC_ROUNDS90].mean;
    /* Only a fraction the rumor reaches by itself is compared: beyond
     * its reach, anti-entropy (one swap a cycle) takes over. */
    if (isfinite(t->rounds50) && isfinite(m50))
        t->dev50 = (m50 - t->rounds50) / t->rounds50;
    if (isfinite(t->rounds90) && isfinite(m90))
        t->dev90 = (m90 - t->rounds90) / t->rounds90;
    t->deviates = fabs(t->dev50) > tolerance || fabs(t->dev90) > tolerance;
}

/* ------------------------------------------------------------------ */
/* The failure detector.                                                */

#define FD_LEVEL 0.95

/* The time a crashed node's last heartbeat takes to reach every node,
 * by the model of the run's strategy (docs/theory.md, "Detection"). */
static void propagation_for(const ana_run *run, ana_fd_figures *fd)
{
    double n = (double)run->nodes, f = run->fanout;
    double hop_s = run->latency_s > 0 ? run->latency_s : 0;
    fd->propagation_s = fd->propagation_cycles = NAN;
    fd->propagation_coverage = NAN;
    if (run->dissemination == NULL || n < 2)
        return;
    if (strcmp(run->dissemination, "digest") == 0) {
        double e = run->exchanges >= 1 ? run->exchanges : 1;
        /* A swap carries at most a window of the list: beyond it the
         * spread slows by the window's share (docs/theory.md). */
        fd->propagation_model = "push-pull";
        double entries = ana_theory_digest_swap_entries(run->size);
        if (!isnan(entries))
            fd->propagation_coverage = MIN(1.0, entries / n);
        fd->propagation_cycles =
            isnan(fd->propagation_coverage)
                ? ana_theory_exchange_rounds(n, 1.0 - 1.0 / n, e)
                : ana_theory_digest_spread_rounds(n, e, run->size);
        fd->propagation_s = fd->propagation_cycles * run->cycle_s;
    } else if (strcmp(run->dissemination, "rumor") == 0 && f >= 1) {
        /* The rumor's hops, then a swap a cycle repairs what it
         * missed. */
        ana_theory_forward_once fo = ana_theory_forward_once_run(n, f);
        fd->propagation_model = "forward-once";
        fd->propagation_s =
            fo.rounds_to_die * hop_s +
            ana_theory_anti_entropy_rounds(n, MAX(0.0, 1.0 - fo.reach)) *
                run->cycle_s;
    } else if (strcmp(run->dissemination, "classic") == 0 && f >= 1) {
        fd->propagation_model = "push";
        fd->propagation_s = ana_theory_push_rounds(n, f) * hop_s;
    }
}

void ana_fd_figures_build(const ana_runset *set, const ana_config *config,
                          ana_fd_figures *out)
{
    ana_fd_figures *fd = out;
    *fd = (ana_fd_figures){
        .detection_median_s = NAN, .detection_p99_s = NAN,
        .wrong_rate = NAN, .wrong_rate_hi = NAN, .recurrence_s = NAN,
        .recurrence_lo_s = NAN, .mistake_duration_s = NAN,
        .timeout_s = NAN, .propagation_s = NAN, .propagation_cycles = NAN,
        .propagation_coverage = NAN,
        .detection_bound_s = NAN, .mistake_p = NAN, .mistake_p_aimed = NAN,
        .rate_aimed = NAN,
    };
    GArray *detections = g_array_new(FALSE, FALSE, sizeof(double));
    double repair_sum_s = 0;
    for (size_t i = 0; i < config->n_runs; i++) {
        const ana_run *run = &set->runs[config->runs[i]];
        if (!run->has_qos)
            continue;
        const ana_qos *q = &run->qos;
        fd->runs++;
        fd->silences += q->silences;
        fd->crashes += q->crashes;
        fd->pauses += q->pauses;
        fd->stops += q->stops;
        fd->detected += q->detected;
        fd->undetected += q->undetected;
        fd->recovered += q->recovered;
        fd->unlisted += q->unlisted;
        fd->silent_adds += q->silent_adds;
        fd->removals += q->removals;
        fd->wrong += q->wrong;
        fd->repaired += q->repaired;
        fd->unrepaired += q->unrepaired;
        fd->node_hours += q->node_hours;
        fd->pair_hours += q->pair_hours;
        repair_sum_s += q->repair_sum_s;
        g_array_append_vals(detections, q->detection_s, q->n_detection);
    }
    if (detections->len) {
        const double *d = (const double *)(void *)detections->data;
        fd->detection_median_s = ana_stats_median(d, detections->len);
        fd->detection_p99_s = ana_stats_percentile(d, detections->len, 99);
    }
    g_array_free(detections, TRUE);
    if (fd->repaired)
        fd->mistake_duration_s = repair_sum_s / (double)fd->repaired;
    if (fd->node_hours > 0) {
        fd->wrong_rate = (double)fd->wrong / fd->node_hours;
        fd->wrong_rate_hi =
            ana_stats_poisson_upper(fd->wrong, FD_LEVEL) / fd->node_hours;
    }
    if (fd->pair_hours > 0) {
        double pair_s = fd->pair_hours * 3600;
        fd->recurrence_s =
            fd->wrong ? pair_s / (double)fd->wrong : INFINITY;
        fd->recurrence_lo_s =
            pair_s / ana_stats_poisson_upper(fd->wrong, FD_LEVEL);
    }

    /* A heartbeat's measured spread, beside the propagation time. */
    double *t99 = g_new(double, config->n_runs);
    double *t100 = g_new(double, config->n_runs);
    for (size_t i = 0; i < config->n_runs; i++) {
        const ana_run *r = &set->runs[config->runs[i]];
        const double *v = r->heartbeats_only ? r->value : r->heartbeat_value;
        t99[i] = v[ANA_METRIC_T99];
        t100[i] = v[ANA_METRIC_T100];
    }
    fd->heartbeat_t99_s = ana_metric_summarize(t99, config->n_runs).median;
    fd->heartbeat_t100_s = ana_metric_summarize(t100, config->n_runs).median;
    g_free(t99);
    g_free(t100);

    const ana_run *run = &set->runs[config->runs[0]];
    fd->timeout_s = run->timeout_s;
    fd->timeout_scaled = run->timeout_scaled;
    propagation_for(run, fd);
    fd->detection_bound_s = fd->timeout_s + fd->propagation_s + run->cycle_s;
    if (g_strcmp0(run->dissemination, "digest") == 0 && run->nodes >= 2) {
        double n = (double)run->nodes;
        double e = run->exchanges >= 1 ? run->exchanges : 1;
        fd->mistake_p = ana_theory_digest_mistake_p(
            n, fd->timeout_s / run->cycle_s, e, run->size);
        fd->mistake_p_aimed = exp2(-ANA_THEORY_DIGEST_MISTAKE_LOG2);
        fd->rate_aimed = fd->mistake_p / (n * fd->timeout_s / 3600.0);
    }
}

void ana_report_build(const ana_runset *set, double tolerance,
                      ana_report *out)
{
    *out = (ana_report){
        .set = set,
        .tolerance = tolerance,
        .configs = g_new0(ana_config_report, set->n_configs ? set->n_configs
                                                            : 1),
        .n_configs = set->n_configs,
    };
    size_t max_runs = 1;
    for (size_t c = 0; c < set->n_configs; c++)
        max_runs = MAX(max_runs, set->configs[c].n_runs);
    double *values = g_new(double, max_runs);
    for (size_t c = 0; c < set->n_configs; c++) {
        ana_config_report *cr = &out->configs[c];
        cr->config = &set->configs[c];
        cr->first = &set->runs[cr->config->runs[0]];
        for (int m = 0; m < ANA_METRIC_COUNT; m++) {
            for (size_t i = 0; i < cr->config->n_runs; i++)
                values[i] = set->runs[cr->config->runs[i]].value[m];
            cr->metric[m] =
                ana_metric_summarize(values, cr->config->n_runs);
        }
        theory_for(cr, tolerance, &cr->theory);
        ana_fd_figures_build(set, cr->config, &cr->fd);
        out->n_deviating += cr->theory.deviates;
    }
    g_free(values);
}

void ana_report_clear(ana_report *report)
{
    g_free(report->configs);
    *report = (ana_report){0};
}
