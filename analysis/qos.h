/* qos.h: the failure detector's quality of service, from a run's ground
 * truth and its nodes' membership changes.
 *
 * peko's node list is a failure detector: a node that removes a peer
 * suspects it. Chen, Toueg and Aguilera ("On the Quality of Service of
 * Failure Detectors", IEEE Transactions on Computers 51(5), 2002) measure
 * one by how fast it detects a crash and how often and how long it is
 * wrong about a live process. Here, over a whole cluster
 * (docs/analysis.md, "The failure detector", defines each figure):
 *
 *   detection time  from a node going silent (crashed, paused, stopped)
 *                   until it is gone, for good, from every live node's
 *                   list: median and 99th percentile over silences;
 *   wrong removals  removals of a node that was up, and had been for a
 *                   whole window (the timeout), by a node
 *                   that was not paused within it: their count, their
 *                   rate per node-hour, the mistake recurrence time T_MR
 *                   per pair of nodes and the mistake duration T_M
 *                   (until the remover lists the node again).
 *
 * The input is the rows of docs/schema.md's node_state and
 * membership_change tables, merged by seq. Everything is computed in one
 * pass in seq order: O(rows + silences x nodes / 64) time, and a bit set
 * of nodes per node that is silent at once.
 */
#ifndef ANA_QOS_H
#define ANA_QOS_H

#include <glib.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recorder.h"

G_BEGIN_DECLS

/* membership_change.change. */
typedef enum ana_qos_change {
    ANA_QOS_LISTED = 0, /* `node` held `peer` when the peer went silent */
    ANA_QOS_EXPIRED,    /* `node` removed `peer` */
    ANA_QOS_ADDED,      /* `node` listed `peer` again */
    ANA_QOS_CHANGE_COUNT
} ana_qos_change;

/* One row of either table. */
typedef struct ana_qos_row {
    int64_t seq;      /* orders the rows of both tables together */
    int64_t t_us;     /* run time */
    uint32_t node;    /* the node whose state, or whose list, changed */
    uint32_t peer;    /* a change's other node; unused for a state */
    bool is_state;    /* a node_state row, else a membership_change */
    uint8_t what;     /* ana_node_state (not ABSENT), or ana_qos_change */
} ana_qos_row;

typedef struct ana_qos_input {
    size_t nodes;          /* node ids are 0 .. nodes - 1 */
    int64_t end_us;        /* the run's length: what is still open then
                            * ends there (a later row moves it) */
    int64_t window_us;     /* a removal within this of a silence of the
                            * removed node, or of a pause of the remover,
                            * is explained by it: the timeout; > 0 */
    const ana_qos_row *rows;
    size_t n_rows;
} ana_qos_input;

typedef struct ana_qos {
    /* Silences: a node going from up to stopped, paused or crashed. */
    size_t silences;
    size_t crashes, pauses, stops;  /* by the state it went to first */
    size_t detected;     /* gone from every live list for good, before it
                          * came back or the run ended */
    size_t undetected;   /* still listed by a live node at the run's end:
                          * a detection time of "never" */
    size_t recovered;    /* back up before it left every live list: no
                          * detection time */
    size_t unlisted;     /* nobody listed it: nothing to detect */
    double *detection_s; /* detected (finite) and undetected (INFINITY),
                          * in the order the silences ended; owned */
    size_t n_detection;
    double detection_median_s; /* over detection_s; NAN when empty */
    double detection_p99_s;
    size_t silent_adds;  /* a node listed a silent node: stale gossip, or
                          * given as a seed */

    /* Removals. */
    size_t removals;     /* every expiry of a node of the run */
    size_t wrong;        /* wrong removals */
    size_t repaired;     /* wrong removals its remover undid */
    size_t unrepaired;   /* wrong removals still in force at the end */
    double repair_sum_s; /* the sum of their durations (repaired ones) */
    double mistake_duration_s; /* T_M: repair_sum_s / repaired; NAN if 0 */
    double node_hours;   /* time nodes could remove others: up or stopped */
    double pair_hours;   /* time of ordered pairs (remover up or stopped,
                          * the other up) */
    double wrong_rate;   /* wrong / node_hours; NAN without exposure */
    double recurrence_s; /* T_MR per pair: pair_hours * 3600 / wrong;
                          * INFINITY without a wrong removal, NAN without
                          * exposure */
} ana_qos;

/* Computes *out from *in (the rows are borrowed). Returns TRUE, or FALSE
 * with ANA_ERROR_INVALID and *out empty when a row is malformed: a node
 * or peer out of range, a change of a node about itself, a state or
 * change that is none, seq not increasing, time going backwards or
 * negative. A row may follow end_us: the run then ends at the last row. */
gboolean ana_qos_compute(const ana_qos_input *in, ana_qos *out,
                         GError **error);

/* Reads run `run_id`'s node_state and membership_change rows from `db`
 * (a peko database of the current schema) and computes *out as
 * ana_qos_compute() does, with the run's `nodes`, `end_us` and
 * `window_us`. Returns TRUE, or FALSE with *error set: a read failed, a
 * row names a state or change this build does not know, or a row is
 * malformed (ana_qos_compute()). */
gboolean ana_qos_load(sqlite3 *db, int64_t run_id, size_t nodes,
                      int64_t end_us, int64_t window_us, ana_qos *out,
                      GError **error);

/* Frees out->detection_s; leaves *q empty. NULL-safe. */
void ana_qos_clear(ana_qos *q);

/* The state (ANA_NODE_UP..CRASHED) or change named `name` ("up",
 * "expired"...), or -1. */
int ana_qos_state_from_name(const char *name);
int ana_qos_change_from_name(const char *name);

G_END_DECLS

#endif /* ANA_QOS_H */
