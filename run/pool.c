/* pool.c: jobs in forked worker processes (pool.h). */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define POLL_INTERVAL_US (100 * 1000)

volatile sig_atomic_t run_pool_worker_stop;

static void worker_on_signal(int signo)
{
    (void)signo;
    run_pool_worker_stop = 1;
}

typedef struct worker {
    size_t index;
    pid_t pid;
} worker;

typedef struct pool {
    const run_pool_ops *ops;
    void *user;
    const run_pool_options *opts;
    GArray *running; /* worker */
    size_t next;     /* the next job to start */
} pool;

static bool stopping(const pool *p)
{
    return p->opts->stop && *p->opts->stop;
}

static void progress(pool *p)
{
    if (p->ops->progress)
        p->ops->progress(p->user, p->running->len);
}

/* In the child: runs the job and exits. Never returns. */
static G_NORETURN void worker_main(pool *p, size_t index)
{
    struct sigaction sa = {.sa_handler = worker_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int status = p->ops->work(p->user, index);
    fflush(NULL);
    _exit(status);
}

static gboolean launch(pool *p, GError **error)
{
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "starting a worker: %s", g_strerror(e));
        return FALSE;
    }
    if (pid == 0) {
        /* A worker ends with its parent: killed, the parent could
         * neither collect the job nor stop the worker, which would run on
         * holding whatever it inherited (a sweep's lock) and block the
         * next run. SIGKILL: nothing of the job is kept, so there is
         * nothing to end cleanly. The parent may have died before
         * prctl(): then it is not ours. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(125);
        worker_main(p, p->next);
    }
    worker w = {.index = p->next, .pid = pid};
    g_array_append_val(p->running, w);
    p->next++;
    if (p->ops->started)
        p->ops->started(p->user, w.index);
    return TRUE;
}

static bool may_start(const pool *p, size_t n_jobs)
{
    if (stopping(p) || p->next >= n_jobs ||
        p->running->len >= p->opts->jobs)
        return false;
    return p->ops->may_start == NULL || p->running->len == 0 ||
           p->ops->may_start(p->user, p->next, p->running->len);
}

static gboolean loop(pool *p, size_t n_jobs, GError **error)
{
    int64_t last_report = 0;
    bool signalled = false;
    while (p->running->len > 0 || (p->next < n_jobs && !stopping(p))) {
        while (may_start(p, n_jobs)) {
            if (!launch(p, error))
                return FALSE;
            progress(p);
        }
        if (stopping(p) && !signalled) {
            /* A terminal's Ctrl-C reached the workers already; a signal
             * sent to the parent alone did not. */
            for (guint i = 0; i < p->running->len; i++)
                kill(g_array_index(p->running, worker, i).pid, SIGTERM);
            signalled = true;
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (guint i = 0; i < p->running->len; i++) {
                worker w = g_array_index(p->running, worker, i);
                if (w.pid == pid) {
                    g_array_remove_index(p->running, i);
                    if (!p->ops->done(p->user, w.index, status, error))
                        return FALSE;
                    break;
                }
            }
            progress(p);
            continue;
        }
        if (pid < 0 && errno != EINTR && errno != ECHILD)
            break;
        g_usleep(POLL_INTERVAL_US);
        int64_t now = g_get_monotonic_time();
        if (now - last_report >= G_USEC_PER_SEC) {
            progress(p);
            last_report = now;
        }
    }
    return TRUE;
}

/* Ends every worker still running (after an error) and waits for it. */
static void reap_all(pool *p)
{
    for (guint i = 0; i < p->running->len; i++)
        kill(g_array_index(p->running, worker, i).pid, SIGTERM);
    for (guint i = 0; i < p->running->len; i++) {
        pid_t pid = g_array_index(p->running, worker, i).pid;
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    g_array_set_size(p->running, 0);
}

gboolean run_pool_run(size_t n_jobs, const run_pool_ops *ops, void *user,
                      const run_pool_options *opts, size_t *started,
                      GError **error)
{
    g_return_val_if_fail(ops && ops->work && ops->done && opts &&
                             opts->jobs >= 1,
                         FALSE);
    pool p = {
        .ops = ops,
        .user = user,
        .opts = opts,
        .running = g_array_new(FALSE, FALSE, sizeof(worker)),
    };
    progress(&p);
    gboolean ok = loop(&p, n_jobs, error);
    if (!ok)
        reap_all(&p);
    if (started)
        *started = p.next;
    g_array_free(p.running, TRUE);
    return ok;
}
