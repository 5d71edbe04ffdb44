/* node-metrics.h: the counters and gauges of a running node, one table
 * for `peko ctl stats` and for the metrics endpoint (docs/node.md,
 * "Metrics").
 *
 * A collection is a flat list of samples read at one instant from the
 * engine (peko_stats, the list, the metadata) and the transport
 * (peko_transport_counters). Each sample belongs to a metric family (a
 * Prometheus name, a type, a help line, at most one label) and most carry
 * the key `peko ctl stats` shows it under, so the two views can never
 * disagree on what a value is. Samples of one family are consecutive.
 *
 * Rendering is pure (no I/O): the control socket's `key=value` list, the
 * Prometheus text format 0.0.4, or OpenMetrics 1.0 text.
 */
#ifndef RUN_NODE_METRICS_H
#define RUN_NODE_METRICS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "peko-transport.h"

typedef enum run_metric_type {
    RUN_METRIC_COUNTER, /* only grows; exposed with the suffix _total */
    RUN_METRIC_GAUGE,
    RUN_METRIC_INFO,    /* value 1, facts in labels; exposed as _info */
} run_metric_type;

typedef struct run_metric_family {
    const char *name;   /* without _total or _info: "peko_engine_sent_bytes" */
    run_metric_type type;
    const char *unit;   /* OpenMetrics unit the name ends with, or NULL */
    const char *help;
    const char *label;  /* the one label's name, or NULL */
} run_metric_family;

#define RUN_METRIC_CTL_KEY_MAX 48

typedef struct run_metric_sample {
    const run_metric_family *family;
    const char *label_value;            /* static; NULL without a label */
    char ctl_key[RUN_METRIC_CTL_KEY_MAX]; /* "engine.sent.heartbeat"; ""
                                         * for a sample ctl does not show */
    uint64_t value;
} run_metric_sample;

/* What the node knows and the transport does not: only the metrics
 * endpoint shows these. */
typedef struct run_metrics_node {
    int64_t start_wall_us;   /* when the node started, Unix time in
                              * microseconds */
} run_metrics_node;

/* Appends every sample of `tp` (borrowed) to `out`, a GArray of
 * run_metric_sample, in family order. With `node` (may be NULL) the
 * samples only the metrics endpoint shows come last. Cannot fail. */
void run_metrics_collect(peko_transport *tp, const run_metrics_node *node,
                         GArray *out);

/* Appends " key=value" for every sample with a control key: the payload
 * of the control socket's `stats` answer. */
void run_metrics_format_ctl(const GArray *samples, GString *out);

/* The Prometheus text exposition format: HELP and TYPE lines, then the
 * samples, per family. With `openmetrics` the OpenMetrics 1.0 flavour:
 * family names without _total, UNIT lines, the info type, and the closing
 * "# EOF" line. RUN_METRICS_CONTENT_TYPE_* name each. */
void run_metrics_format_text(const GArray *samples, bool openmetrics,
                             GString *out);

#define RUN_METRICS_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define RUN_METRICS_CONTENT_TYPE_OPENMETRICS \
    "application/openmetrics-text; version=1.0.0; charset=utf-8"

#endif /* RUN_NODE_METRICS_H */
