/* runs.h: the runs of a database, each reduced to a few figures (metrics),
 * and grouped into configurations.
 *
 * What `peko report` aggregates, `peko compare` tests and `peko plot`
 * draws. A run's metrics come from the schema's tables and views
 * (docs/schema.md), computed the same way for a simulated and a
 * real-network run. docs/analysis.md defines each metric.
 *
 * A configuration is what repetitions share: the scenario's name, the
 * source (sim, testbed, node) and the sweep point ("engine.amount=3");
 * outside a sweep (sweep point ""), also every parameter but the seed. Runs of one configuration
 * differ only by seed. Configurations are ordered by
 * scenario, then by sweep point in natural order (2 before 10), and runs
 * within one by repetition, then seed: an order that does not depend on
 * run ids, so a merged database reports exactly as an unsharded one.
 */
#ifndef ANA_RUNS_H
#define ANA_RUNS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qos.h"

G_BEGIN_DECLS

/* Every metric is a double; NAN when it does not apply to the run (no
 * rumor, no membership sample), INFINITY for a time that never came (a
 * rumor that never reached 99% of the nodes), so "never" sorts after
 * every time and a comparison sees it as worse. */
typedef enum ana_metric {
    ANA_METRIC_T50 = 0,          /* s: time until 50% of nodes held it */
    ANA_METRIC_T90,
    ANA_METRIC_T99,
    ANA_METRIC_T100,
    ANA_METRIC_ROUNDS50,         /* t50 / the governing round length */
    ANA_METRIC_ROUNDS90,
    ANA_METRIC_MESSAGES,         /* copies received per node per rumor */
    ANA_METRIC_REDUNDANCY,       /* messages / (infected - 1) - 1 */
    ANA_METRIC_NEVER_REACHED,    /* nodes a rumor never reached */
    ANA_METRIC_CONVERGENCE,      /* s: first sample with complete lists */
    ANA_METRIC_STALENESS,        /* s: mean delay until a node held a
                                  * published metadata version */
    /* The failure detector (qos.h): NAN for a run without ground truth
     * (recorded by `peko node`, or before schema 3). */
    ANA_METRIC_DETECTION,        /* s: median over the run's silences of
                                  * the time until gone from every live
                                  * list */
    ANA_METRIC_DETECTION_P99,    /* s: their 99th percentile */
    ANA_METRIC_WRONG_REMOVALS,   /* removals: a count (is_count) */
    ANA_METRIC_WRONG_RATE,       /* per node-hour (is_count) */
    ANA_METRIC_MISTAKE_DURATION, /* s: T_M, mean until undone */
    /* Cost, from the traffic table: sent, over nodes and cycles. */
    ANA_METRIC_PACKETS_PER_CYCLE,
    ANA_METRIC_BYTES_PER_CYCLE,
    ANA_METRIC_DROPS_LOST,       /* packets dropped, by cause */
    ANA_METRIC_DROPS_PARTITIONED,
    ANA_METRIC_DROPS_QUEUE,
    ANA_METRIC_DROPS_OVERSIZE,
    ANA_METRIC_DROPS_NODE_DOWN,
    ANA_METRIC_COUNT
} ana_metric;

typedef struct ana_metric_info {
    const char *name;         /* as --metric takes it: "t99" */
    const char *unit;         /* "s", "rounds", "msgs/node", "" */
    const char *description;  /* one line */
    bool is_time;             /* seconds: shown as ms or s */
    bool is_count;            /* rare events over an exposure (wrong
                               * removals over node-hours): compared as
                               * counts pooled over runs, not as a
                               * distribution (compare.h) */
} ana_metric_info;

/* The metric's description (static). Every metric is better lower. */
const ana_metric_info *ana_metric_get(ana_metric metric);

/* Looks up a metric by name ("t99", "messages_per_node"...). Returns
 * TRUE and sets *out, or FALSE. */
bool ana_metric_from_name(const char *name, ana_metric *out);

typedef struct ana_run {
    int64_t run_id;
    char *scenario;           /* owned, as are the strings below */
    char *sweep_point;        /* "" outside a sweep */
    char *sweep_id;           /* NULL outside a sweep */
    int64_t repetition;       /* -1 outside a sweep */
    int64_t seed;
    char *status;             /* "complete", "incomplete", "running" */
    char *source;             /* "sim", "testbed" */
    char *dissemination;      /* "rumor", "classic", NULL if unknown */
    int64_t nodes;
    int64_t rumors;           /* rumors the metrics are over */
    bool heartbeats_only;     /* no metadata rumor: over heartbeats */
    /* From the run's parameters; NAN when absent. */
    double fanout;            /* engine.amount */
    double latency_s;         /* mean one-way latency */
    double cycle_s;           /* engine.cycle */
    double loss;              /* long-run loss rate */
    char *variant;            /* params without seed and overrides:
                               * what repetitions share */
    double round_s;           /* the governing round: latency_s (rumor
                               * forwarding is immediate), else cycle_s */
    double value[ANA_METRIC_COUNT];
    char *overrides;          /* the run's --set list less the seed,
                               * "k=v,k=v"; "" when none */
    double sim_time_s;        /* the run's length in run time; NAN if
                               * not recorded */
    int64_t heartbeats;       /* sampled heartbeats recorded */
    /* The failure detector's settings, from the parameters. */
    double timeout_s;         /* the timeout in effect: the configured
                               * one, or digest's default for `nodes`
                               * (peko_digest_timeout_us); NAN unknown */
    bool timeout_scaled;      /* digest's default, scaled with the list */
    double exchanges;         /* engine.exchanges; NAN unknown */
    double size;              /* engine.size (bytes); NAN unknown */
    /* The failure detector's figures (qos.h), when the run recorded
     * ground truth (has_qos); owned. */
    bool has_qos;
    ana_qos qos;
    /* The rumor metrics (t50 to never_reached) over the sampled
     * heartbeats alone: for a run whose value[] is over metadata rumors,
     * only when loaded with ANA_RUNSET_HEARTBEATS. NAN for the other
     * metrics, when not loaded and when no heartbeat was sampled. */
    double heartbeat_value[ANA_METRIC_COUNT];
} ana_run;

typedef struct ana_config {
    char *scenario;           /* borrowed from its first run */
    char *sweep_point;
    size_t *runs;             /* indices into the runset's runs; owned */
    size_t n_runs;
} ana_config;

typedef struct ana_runset {
    char *path;               /* owned */
    ana_run *runs;            /* complete runs, in load order */
    size_t n_runs;
    size_t n_not_complete;    /* runs left out: incomplete or running */
    ana_config *configs;      /* ordered as said above */
    size_t n_configs;
} ana_runset;

/* Loads the complete runs of the database at `path` (read-only), or only
 * run `only_run` when it is >= 0 (then it must exist, complete or not).
 * Returns TRUE, or FALSE with *error set (a missing file, a file that is
 * not a peko database, an unknown run). */
gboolean ana_runset_load(const char *path, int64_t only_run,
                         ana_runset *out, GError **error);
void ana_runset_clear(ana_runset *set);

/* What ana_runset_load_full() loads beyond ana_runset_load(), or-ed. */
typedef enum ana_runset_flags {
    /* heartbeat_value[] of runs that also published metadata rumors:
     * about as costly as all their other metrics. */
    ANA_RUNSET_HEARTBEATS = 1u << 0,
} ana_runset_flags;

/* ana_runset_load(), and what `flags` asks for beyond it. */
gboolean ana_runset_load_full(const char *path, int64_t only_run,
                              unsigned flags, ana_runset *out,
                              GError **error);

/* The values of `metric` over the runs of `config`, in run order, into
 * out[0 .. config->n_runs). Returns how many were not NAN (those are
 * packed first, keeping their order). */
size_t ana_config_values(const ana_runset *set, const ana_config *config,
                         ana_metric metric, double *out);

/* For a count metric (ana_metric_info.is_count): the events of each run
 * of `config` with ground truth, and its exposure in node-hours, into
 * counts[] and exposure[] (room for config->n_runs). Returns how many
 * runs had them. */
size_t ana_config_counts(const ana_runset *set, const ana_config *config,
                         ana_metric metric, double *counts,
                         double *exposure);

/* The configuration of `set` that is `other` (a configuration of
 * `other_set`): same scenario and sweep point, and outside a sweep the
 * same parameters but the seed. NULL if none. */
const ana_config *ana_runset_find(const ana_runset *set,
                                  const ana_runset *other_set,
                                  const ana_config *other);

G_END_DECLS

#endif /* ANA_RUNS_H */
