/* pool.h: jobs run in forked worker processes, a few at a time.
 *
 * What `peko sweep` and `peko explore` share: each job is one child
 * process (fork), at most `jobs` at once; the parent waits for them,
 * hands each ended job's status to its owner, and starts the next.
 * Workers die with the parent (PR_SET_PDEATHSIG: a killed sweep or
 * explorer takes them along, so nothing it holds, a lock or a file,
 * outlives it). A stop request (a signal handler setting *stop) starts
 * no further job and passes SIGTERM on to the running ones, which see it
 * in run_pool_worker_stop and end early.
 *
 * Jobs are numbered 0 .. n_jobs-1 and started in that order.
 */
#ifndef RUN_POOL_H
#define RUN_POOL_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct run_pool_ops {
    /* In the child: runs job `index` and returns its exit status (0 to
     * 125). The child exits with it at once (no atexit handlers: the
     * parent's state is the parent's). Required. */
    int (*work)(void *user, size_t index);
    /* In the parent: job `index` ended; `status` is waitpid()'s. FALSE
     * with *error set stops the pool (the running jobs are ended and
     * reaped, without further calls). Required. */
    gboolean (*done)(void *user, size_t index, int status, GError **error);
    /* In the parent: whether job `index` may start now, with `running`
     * jobs under way (always at least one is allowed when none runs).
     * NULL: whenever a worker is free. */
    bool (*may_start)(void *user, size_t index, size_t running);
    /* In the parent: job `index` was just started (its owner counts
     * what the running jobs hold). NULL: nothing. */
    void (*started)(void *user, size_t index);
    /* In the parent, after each start and end and about once a second:
     * `running` jobs under way. NULL: none. */
    void (*progress)(void *user, size_t running);
} run_pool_ops;

typedef struct run_pool_options {
    unsigned jobs;                    /* workers at once, >= 1 */
    volatile sig_atomic_t *stop;      /* set by a signal handler; may be NULL */
} run_pool_options;

/* Set in a worker when it is asked to stop (SIGINT, SIGTERM): its job
 * should end early and say so in its status. 0 in the parent. */
extern volatile sig_atomic_t run_pool_worker_stop;

/* Runs jobs 0 .. n_jobs-1 (fewer when stopped). Returns TRUE once every
 * started job has ended and been handed to ops->done, FALSE with *error
 * set when a worker could not be started or ops->done failed (every
 * worker still running has then been ended and reaped). *started (may be
 * NULL) is set to the number of jobs started. */
gboolean run_pool_run(size_t n_jobs, const run_pool_ops *ops, void *user,
                      const run_pool_options *opts, size_t *started,
                      GError **error);

#endif /* RUN_POOL_H */
