/* sim.h: runs one scenario in the simulator and records it.
 *
 * The glue between a loaded scenario (scenarios/), the simulated world
 * (sim/) and the recorder (analysis/): builds the world the scenario
 * describes, schedules its joins, timeline and membership samples at
 * virtual times (what each does is the runner's, runner.h, shared with
 * the testbed), and writes everything into an SQLite database. `peko
 * sim` runs one; sweeps run many.
 */
#ifndef RUN_SIM_H
#define RUN_SIM_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "scenario.h"
#include "world.h"

/* Watching a run from inside, as `peko explore` checks its invariants:
 * told of the world once it is built (its timeline queued, before time
 * 0), of every node's engine events, of every delivery and drop, and of
 * the end, before the world is freed. Beside the recorder when there is
 * one. Every member may be NULL. Like the world's hooks and observers,
 * the observer and the hooks must only read the world; `start` may
 * schedule callbacks (sim_world_schedule()), which may do anything. */
typedef struct run_sim_watch {
    void (*start)(void *user, sim_world *world);
    /* Every engine of node i, restarts included, is observed with this
     * and observer_user(user, i). */
    const peko_observer *observer;
    void *(*observer_user)(void *user, size_t node);
    sim_world_hooks hooks;
    /* The run ended: at its duration (complete), or stopped early. */
    void (*finish)(void *user, sim_world *world, bool complete);
} run_sim_watch;

typedef struct run_sim_options {
    const char *db_path;     /* where to record; NULL: nothing is recorded
                              * (no membership samples either) */
    const char *pcap_path;   /* NULL: no capture */
    bool print;              /* the engines' console lines on stdout */
    /* Called about every 100 ms of wall time with the virtual time reached
     * (NULL: none). */
    void (*progress)(void *user, int64_t now_us, int64_t end_us,
                     uint64_t deliveries);
    void *progress_user;
    /* Set (by a signal handler) to stop early: the run is then recorded
     * as incomplete. May be NULL. */
    volatile sig_atomic_t *stop;
    /* A run of a sweep: recorded with these in run.sweep_id, sweep_point
     * and repetition. NULL sweep_id: a run on its own. */
    const char *sweep_id;
    const char *sweep_point;
    uint32_t repetition;
    const run_sim_watch *watch; /* NULL: none */
    void *watch_user;
} run_sim_options;

typedef struct run_sim_result {
    int64_t run_id;           /* in the database; 0 when not recorded */
    bool complete;            /* ran to the scenario's end */
    size_t nodes;
    int64_t sim_time_us;      /* virtual time reached */
    double wall_s;            /* wall time of the event loop */
    uint64_t events;
    uint64_t deliveries;
    uint64_t trace_hash;
    long peak_rss_kib;        /* getrusage() after the run */
    uint64_t estimate_bytes;  /* run_sim_estimate_memory()'s total
                               * (budget.h), for comparison */
} run_sim_result;

/* Runs `sc` (borrowed) to its end or until *opts->stop is set. Returns
 * TRUE with *out filled (an interrupted run is recorded as incomplete and
 * still returns TRUE), or FALSE with *error set when the world cannot be
 * built from the scenario or the database cannot be written. */
gboolean run_sim(const scn_scenario *sc, const run_sim_options *opts,
                 run_sim_result *out, GError **error);

#endif /* RUN_SIM_H */
