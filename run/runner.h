/* runner.h: what `peko sim` and `peko testbed` share.
 *
 * A scenario becomes a run the same way in the simulator and on real
 * sockets: every node is given its seeds (scn_scenario_seeds) and joins at
 * its slot of the stagger (scn_scenario_start_us) or at a join event; the
 * timeline's events are applied in order; membership is sampled every
 * sample_interval; and all of it is recorded into the same tables
 * (analysis/recorder.h). The runner holds that logic once, and the plan
 * that orders it: which step comes when, and which first at equal times.
 * How a node is crashed or a partition made differs, and is a table of
 * operations (run_ops) that the simulator (sim.c) and the testbed
 * (testbed.c) each implement. How time passes is theirs too: the
 * simulator queues the plan's steps in its event queue at their virtual
 * times, the testbed walks them (run_runner_peek, run_runner_step) on a
 * GLib main loop in real time.
 */
#ifndef RUN_RUNNER_H
#define RUN_RUNNER_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"
#include "recorder.h"
#include "scenario.h"

/* A node's life, as the timeline changes it. */
typedef enum run_node_state {
    RUN_NODE_UP = 0, /* running; joined or not yet */
    RUN_NODE_PAUSED, /* frozen: no timers, nothing read */
    RUN_NODE_DOWN,   /* crashed: no engine, state lost */
} run_node_state;

/* A world of nodes the runner drives: the simulator's or the testbed's.
 * Node indices are 0 .. nodes-1 of the scenario. Operations return 0 or
 * a negative errno; a node already in the state asked for answers
 * -EALREADY (or -ENODEV when it is down, -EBUSY for restarting a node
 * that is up), which the runner does not count as a failure. */
typedef struct run_ops {
    /* The run's clock: microseconds since the run started. */
    int64_t (*now_us)(void *world);
    /* Node i's engine; NULL while it is down. */
    peko_nodelist *(*node)(void *world, size_t i);
    /* Node i's address, as its peers know it. */
    const peko_addr *(*addr)(void *world, size_t i);
    run_node_state (*state)(void *world, size_t i);
    /* Makes `observer` (copied) observe node i's engine, now and after
     * every restart. */
    void (*observe)(void *world, size_t i, const peko_observer *observer,
                    void *user);

    /* The lifecycle (scenario events of the same names). join gives the
     * node its seeds, then joins it; restart makes a fresh engine, gives
     * it its seeds and joins it. */
    int (*join)(void *world, size_t i);
    int (*crash)(void *world, size_t i);
    int (*restart)(void *world, size_t i);
    int (*pause)(void *world, size_t i);
    int (*resume)(void *world, size_t i);
    int (*stop)(void *world, size_t i);
    int (*start)(void *world, size_t i);

    /* The network. Index arrays are borrowed for the call. partition:
     * group a cut from group b (both ways unless one_way); returns an
     * id > 0. partition_groups: a symmetric cut into n_groups groups plus
     * the implicit group of the nodes in none. */
    int (*partition)(void *world, const size_t *a, size_t n_a,
                     const size_t *b, size_t n_b, bool one_way);
    int (*partition_groups)(void *world, const size_t *const *groups,
                            const size_t *n_each, size_t n_groups);
    int (*heal)(void *world, int id);
    void (*heal_all)(void *world);
    /* A `network` event: new latency, loss or duplication, as it says. */
    void (*set_network)(void *world, const scn_event *ev);
    /* Whether node i has joined and sends heartbeats (not stopped). NULL:
     * asked of its engine (node). A world that runs some nodes elsewhere
     * (the testbed's workers) answers for those from the timeline. */
    bool (*is_running)(void *world, size_t i);
} run_ops;

/* What the runner does at a time. At equal times steps run in this
 * order: the joins (by node), then the timeline's events (in file
 * order), then the membership sample. */
typedef enum run_step_kind {
    RUN_STEP_JOIN = 0, /* a node's first join, at its stagger slot */
    RUN_STEP_EVENT,    /* a timeline event */
    RUN_STEP_SAMPLE,   /* a membership sample, every sample_interval */
} run_step_kind;

typedef struct run_step {
    int64_t t_us;       /* the run's time it is due at */
    run_step_kind kind;
    size_t index;       /* the node (JOIN) or the event (EVENT); 0 */
} run_step;

typedef struct run_runner {
    const scn_scenario *sc;     /* borrowed */
    const run_ops *ops;         /* borrowed */
    void *world;                /* borrowed, passed to every operation */
    size_t n;                   /* nodes */
    ana_recorder *rec;          /* owned once opened; NULL: a run that
                                 * records nothing (no samples, no
                                 * timeline rows) */
    GHashTable *partitions;     /* name (borrowed from sc) -> id; looked
                                 * up by name only, never iterated */
    char *error;                /* the first failure applying the plan */
    /* The plan: every initial join and every event, in the order they
     * run (samples are periodic, not listed). Owned; read-only. */
    run_step *plan;
    size_t n_plan;
    size_t next;                /* run_runner_step's place in the plan */
    int64_t next_sample_us;     /* its next sample; -1: no samples */
    /* Set by a signal handler to stop the run (NULL: never): a sample
     * or an event over many nodes then ends early and records nothing
     * more. Borrowed. */
    const volatile sig_atomic_t *stop;
    /* The ground truth as last told to the recorder, and which nodes
     * joined (n each; owned). */
    ana_node_state *truth;
    bool *joined;
    /* What the last membership sample saw (owned, n each, allocated at
     * the first sample): which nodes were live, and per node what its
     * list was found to be (runner.c) and its recorder's list-change
     * count then, so that a list that has not changed since, among the
     * same live nodes, is not read again. */
    bool *sample_live;
    uint8_t *sample_checked;
    uint64_t *sample_changes;
    bool sample_valid;          /* the arrays hold a finished sample */
} run_runner;

/* Sets up *r for scenario `sc` on `world`, and its plan. Cannot fail. */
void run_runner_init(run_runner *r, const scn_scenario *sc, const run_ops *ops,
                     void *world);
/* Frees the recorder (without finishing the run: see recorder.h) and the
 * runner's own state. */
void run_runner_clear(run_runner *r);

/* Node `node`'s seeds as node indices, ascending, into out (room for
 * SCN_MAX_SEEDS); returns how many. */
size_t run_seeds(const scn_scenario *sc, uint32_t node,
                 size_t out[SCN_MAX_SEEDS]);

/* How a run is recorded. */
typedef struct run_recording {
    const char *db_path;     /* required */
    const char *source;      /* run.source: "sim", "testbed" */
    const char *sweep_id;    /* NULL: a run on its own */
    const char *sweep_point;
    uint32_t repetition;
    ana_now_fn now_us;       /* the run's clock (read once at open: the
                              * run's time 0) */
    void *now_user;
} run_recording;

/* Opens the recorder: a run row with the scenario's parameters
 * (scn_scenario_to_json) and heartbeat sample, every node registered
 * with its address (ops->addr) as "node-<i>", and the recorder observing
 * every node (ops->observe). The run records ground truth: after every
 * join and lifecycle event the runner tells the recorder each node's
 * state that changed (ana_recorder_node_state), and when a node stops
 * being up, which nodes list it (ana_recorder_listed). Returns FALSE
 * with *error set when the database cannot be opened or a node
 * registered. */
gboolean run_runner_open_recorder(run_runner *r, const run_recording *how,
                                  GError **error);

/* Runs one step now, whatever the cursor says: what a world that queues
 * the plan's steps itself calls at each one's time. */
void run_runner_do(run_runner *r, const run_step *step);

/* The next step of the plan and the samples together, without running
 * it: TRUE with *out set, FALSE when none is left (then there are no
 * samples either). Samples never end: the caller stops at the run's
 * duration. */
bool run_runner_peek(const run_runner *r, run_step *out);

/* Runs the step run_runner_peek() gives and moves past it. */
void run_runner_step(run_runner *r);

/* Node i's first join (its stagger slot). A failure other than "already
 * joined" or "down" is kept in r->error. */
void run_runner_join(run_runner *r, size_t i);

/* Applies one timeline event now and records it in the timeline with
 * the run's time (when recording). Failures are kept in r->error. */
void run_runner_apply(run_runner *r, const scn_event *ev);

/* One membership sample now: how many nodes are live (up, joined and
 * sending heartbeats) and how many of those list exactly the live
 * nodes. It reads every list (N^2 lookups once they are full), so it
 * gives up without recording when r->stop is set meanwhile. Nothing
 * without a recorder. */
void run_runner_sample(run_runner *r);

#endif /* RUN_RUNNER_H */
