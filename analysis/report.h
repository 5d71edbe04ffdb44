/* report.h: a database's configurations, each aggregated over its
 * repetitions and set beside theory.
 *
 * What `peko report` prints. For every configuration of a runset
 * (runs.h): each metric's median over repetitions with a distribution-free
 * 95% confidence interval (order statistics, stats.h), mean, min and max;
 * and the rounds the
 * dissemination model predicts (theory.h, docs/theory.md), with a flag
 * when the measured rounds deviate from them by more than a tolerance.
 */
#ifndef ANA_REPORT_H
#define ANA_REPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "runs.h"

G_BEGIN_DECLS

/* Relative deviation of measured rounds from theory beyond which a
 * configuration is flagged (docs/theory.md says why this much). */
#define ANA_REPORT_DEFAULT_TOLERANCE 0.25

/* The confidence asked of each median's interval. */
#define ANA_REPORT_LEVEL 0.95

typedef struct ana_metric_summary {
    size_t n;          /* runs with a value (not NAN) */
    size_t never;      /* of those, INFINITY: the time never came */
    double mean;       /* INFINITY if any run never got there; NAN if
                        * no value */
    double median;     /* over all n values (INFINITY if most never) */
    double median_lo, median_hi; /* confidence interval for the median,
                                  * two of the values (stats.h) */
    double median_level; /* its coverage: ANA_REPORT_LEVEL or more from
                          * 6 values on, less below (0.9375 at 5) */
    double min, max;   /* over all n values */
} ana_metric_summary;

typedef struct ana_theory_figures {
    const char *model;    /* "forward-once", or NULL: no model applies */
    const char *why_not;  /* when model is NULL: why (static text) */
    double reach;         /* fraction the rumor reaches by itself */
    double rounds50;      /* hops to 50% and 90% of nodes; NAN: never */
    double rounds90;
    double push_rounds;   /* the push model, for reference */
    double dev50, dev90;  /* (measured mean - theory) / theory, or NAN */
    bool deviates;        /* |dev50| or |dev90| above the tolerance */
} ana_theory_figures;

/* The failure detector of a configuration: its runs' figures (qos.h)
 * pooled, every silence and every removal of every run together, and the
 * theory beside them (docs/analysis.md, docs/theory.md). */
typedef struct ana_fd_figures {
    size_t runs;            /* runs with ground truth; 0: nothing below */
    size_t silences, crashes, pauses, stops;
    size_t detected, undetected, recovered, unlisted, silent_adds;
    double detection_median_s, detection_p99_s; /* over every silence
                                                 * with a time; NAN: none */
    size_t removals, wrong, repaired, unrepaired;
    double node_hours, pair_hours;
    double wrong_rate;      /* wrong / node_hours, per node-hour */
    double wrong_rate_hi;   /* its exact one-sided 95% upper bound */
    double recurrence_s;    /* T_MR per pair: pair-seconds / wrong;
                             * INFINITY without a wrong removal */
    double recurrence_lo_s; /* its 95% lower bound, from wrong_rate_hi */
    double mistake_duration_s; /* T_M over every repaired mistake */
    /* Theory, from the first run's parameters. */
    double timeout_s;       /* the timeout in effect; NAN unknown */
    bool timeout_scaled;    /* digest's default for the cluster's size */
    const char *propagation_model; /* "push-pull" (digest), "forward-once"
                             * (rumor), "push" (classic); NULL: unknown */
    double propagation_s;   /* a last heartbeat's time to reach every
                             * node, repair included */
    double propagation_cycles; /* digest: the same in cycles; NAN else */
    double propagation_coverage; /* digest: the share of a node's list
                             * one swap carries, min(1, entries / n);
                             * NAN else */
    double heartbeat_t99_s, heartbeat_t100_s; /* measured: the medians
                             * over runs of the sampled heartbeats' t99
                             * and t100 (INFINITY: never; NAN: none
                             * loaded, see ANA_RUNSET_HEARTBEATS) */
    double detection_bound_s; /* timeout + propagation + one cycle */
    double mistake_p;       /* digest: P(a wrong removal anywhere within a
                             * timeout) the timeout gives; NAN else */
    double mistake_p_aimed; /* what digest's default aims at: 2^-10 */
    double rate_aimed;      /* mistake_p per node-hour: mistake_p /
                             * (nodes x timeout in hours) */
} ana_fd_figures;

typedef struct ana_config_report {
    const ana_config *config;   /* borrowed from the runset */
    const ana_run *first;       /* its first run: parameters all share */
    ana_metric_summary metric[ANA_METRIC_COUNT];
    ana_theory_figures theory;
    ana_fd_figures fd;
} ana_config_report;

typedef struct ana_report {
    const ana_runset *set;      /* borrowed */
    double tolerance;
    ana_config_report *configs; /* one per set->configs[i]; owned */
    size_t n_configs;
    size_t n_deviating;
} ana_report;

/* Summarises the `n` values (NAN ignored, INFINITY counted as never). */
ana_metric_summary ana_metric_summarize(const double *values, size_t n);

/* The failure detector figures of configuration `config` of `set`. */
void ana_fd_figures_build(const ana_runset *set, const ana_config *config,
                          ana_fd_figures *out);

/* Builds the report of `set` (borrowed; must outlive the report). */
void ana_report_build(const ana_runset *set, double tolerance,
                      ana_report *out);
void ana_report_clear(ana_report *report);

G_END_DECLS

#endif /* ANA_REPORT_H */
