/* sweep.h: runs every point of a scenario's sweep, in parallel worker
 * processes, into one database.
 *
 * A sweep is the scenario's [sweep] combinations times its repetitions;
 * repetition r of a combination runs with seed base + r. Each point is
 * identified in the database by (sweep_id, sweep_point, repetition):
 * sweep_id fingerprints the base scenario (file contents as parsed, with
 * the command line's overrides), so re-running the same command finds the
 * points already done and runs only the others.
 *
 * Workers are forked child processes, at most `jobs` at once. Each
 * records its run into a private file in a work directory beside the
 * database (DB.sweep/); the parent, the database's only writer, merges
 * each finished run into DB (analysis/merge.h) and deletes the file. A
 * lock on the work directory keeps two sweeps from writing one database:
 * the second is refused and leaves the first's files alone.
 *
 * Before anything is written, every combination's memory is estimated
 * (budget.h); a sweep with a point that does not fit is refused.
 *
 * Interrupting (SIGINT, SIGTERM) stops the workers; their unfinished runs
 * are discarded, finished ones are kept, and the same command resumes.
 * Killed outright, the sweep takes its workers with it (the kernel kills
 * a worker whose sweep is gone), so the lock is free again at once.
 */
#ifndef RUN_SWEEP_H
#define RUN_SWEEP_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

typedef struct run_sweep_progress {
    size_t total;       /* points of this sweep (of this shard) */
    size_t skipped;     /* already in the database before we started */
    size_t done;        /* finished and merged by this invocation */
    size_t failed;      /* workers that failed */
    size_t running;
    double elapsed_s;
} run_sweep_progress;

typedef struct run_sweep_options {
    const char *db_path;              /* required */
    unsigned jobs;                    /* worker processes, >= 1 */
    uint32_t shard_index;             /* 0-based; this shard's points are */
    uint32_t shard_count;             /* those with index % count == index */
    /* Called after every change and about once a second (NULL: none). */
    void (*progress)(void *user, const run_sweep_progress *p);
    void *progress_user;
    volatile sig_atomic_t *stop;      /* set by a signal handler; may be NULL */
    /* The memory the sweep's runs may take together (budget.h), 0: no
     * check. A point estimated above it alone refuses the sweep before
     * anything is written (RUN_BUDGET_ERROR_TOO_BIG); below it, workers
     * start only while the estimates of those running fit, so fewer than
     * `jobs` run at once when each needs much. */
    uint64_t max_memory;
    bool max_memory_given;            /* from --max-memory, for messages */
} run_sweep_options;

typedef struct run_sweep_result {
    char *sweep_id;                   /* owned */
    run_sweep_progress final;
    bool interrupted;
    char *first_failure;              /* owned; NULL if none failed */
} run_sweep_result;

/* The sweep's fingerprint (16 hex digits, owned). */
char *run_sweep_id(const scn_scenario *base);

/* "engine.amount=3,network.loss=0.1": combination `combination`'s axis
 * values (owned); "" without axes. */
char *run_sweep_point_label(const scn_scenario *base, size_t combination);

/* Runs the sweep of `base` (borrowed). Returns TRUE when it could be
 * attempted (check out->final.failed and out->interrupted; clear *out
 * with run_sweep_result_clear()), FALSE with *error set and nothing in
 * *out when the database or the work directory cannot be used. */
gboolean run_sweep(const scn_scenario *base, const run_sweep_options *opts,
                   run_sweep_result *out, GError **error);

void run_sweep_result_clear(run_sweep_result *result);

#endif /* RUN_SWEEP_H */
