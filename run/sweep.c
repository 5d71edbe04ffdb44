/* sweep.c: a sweep's points in worker processes (sweep.h). */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "budget.h"
#include "merge.h"
#include "pool.h"
#include "schema.h"
#include "sim.h"
#include "sweep-runs.h"

/* A worker's exit statuses. */
enum {
    WORKER_OK = 0,
    WORKER_FAILED = 1,
    WORKER_INTERRUPTED = 3,
};

char *run_sweep_id(const scn_scenario *base)
{
    char *json = scn_scenario_to_json(base);
    char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, json, -1);
    char *id = g_strndup(sha, 16);
    g_free(sha);
    g_free(json);
    return id;
}

char *run_sweep_point_label(const scn_scenario *base, size_t combination)
{
    GString *label = g_string_new(NULL);
    for (size_t a = 0; a < base->sweep.n_axes; a++)
        g_string_append_printf(label, "%s%s=%s", a ? "," : "",
                               base->sweep.axes[a].key,
                               scn_sweep_value(&base->sweep, combination, a));
    return g_string_free(label, FALSE);
}

void run_sweep_result_clear(run_sweep_result *result)
{
    g_free(result->sweep_id);
    g_free(result->first_failure);
    memset(result, 0, sizeof *result);
}

/* ------------------------------------------------------------------ */
/* The work directory and its lock.                                     */

/* The lock is an flock() on DB.sweep/lock. Only its holder touches the
 * directory: it removes what a dead sweep left there on its way in, and
 * its own files, the lock file and the directory on its way out. A sweep
 * refused the lock owns nothing there and leaves it as it is. Workers
 * inherit the locked descriptor with fork(), so the lock is held until
 * the last of them has ended: a new sweep never shares the directory
 * with a worker of an old one. */
typedef struct workdir {
    char *path;     /* DB.sweep */
    char *lock_path;
    int lock_fd;    /* locked by us; -1 when we hold nothing */
} workdir;

/* Attempts at the lock when its holder removes the file meanwhile. */
#define LOCK_ATTEMPTS 8

static void remove_leftovers(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        if (g_str_has_prefix(name, "point-")) {
            char *p = g_build_filename(dir, name, NULL);
            g_unlink(p);
            g_free(p);
        }
    }
    g_dir_close(d);
}

/* Whether fd is the file at path now (not one removed and made anew). */
static bool is_same_file(int fd, const char *path)
{
    struct stat held, named;
    return fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
           held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

/* Creates the directory and takes its lock into w->lock_fd. Returns 0,
 * or a negative errno: -EWOULDBLOCK when another sweep holds it. */
static int take_lock(workdir *w, bool *made_dir)
{
    for (int attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
        *made_dir = true;
        if (g_mkdir_with_parents(w->path, 0755) != 0)
            return -errno;
        *made_dir = false;
        int fd = open(w->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            if (errno == ENOENT)
                continue; /* its holder removed the directory meanwhile */
            return -errno;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        /* Its holder may have removed the file between our open and our
         * flock: a lock on a file that is gone locks nothing. */
        if (is_same_file(fd, w->lock_path)) {
            w->lock_fd = fd;
            return 0;
        }
        close(fd);
    }
    return -EWOULDBLOCK; /* other sweeps keep taking it */
}

/* Takes the work directory of db_path. On failure *w holds nothing and
 * nothing in the directory was touched. */
static gboolean workdir_open(workdir *w, const char *db_path, GError **error)
{
    w->path = g_strconcat(db_path, ".sweep", NULL);
    w->lock_path = g_build_filename(w->path, "lock", NULL);
    w->lock_fd = -1;
    bool made_dir = false;
    int rc = take_lock(w, &made_dir);
    if (rc < 0) {
        if (made_dir)
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-rc),
                        "%s: cannot create the work directory: %s", w->path,
                        g_strerror(-rc));
        else
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-rc),
                        "%s: %s", w->path,
                        rc == -EWOULDBLOCK
                            ? "another peko sweep is writing this database"
                            : g_strerror(-rc));
        g_clear_pointer(&w->path, g_free);
        g_clear_pointer(&w->lock_path, g_free);
        return FALSE;
    }
    /* Anything left is from a sweep that died: its runs were never
     * merged, so they are redone. */
    remove_leftovers(w->path);
    return TRUE;
}

/* Leaves the directory as it was before the sweep: removed, lock
 * released. Only for a workdir_open() that succeeded. */
static void workdir_close(workdir *w)
{
    g_assert(w->lock_fd >= 0);
    remove_leftovers(w->path);
    /* Removed while still held: a sweep waiting on this file finds it
     * gone once it has the lock, and starts over (take_lock). */
    g_unlink(w->lock_path);
    g_rmdir(w->path);
    close(w->lock_fd);
    w->lock_fd = -1;
    g_clear_pointer(&w->path, g_free);
    g_clear_pointer(&w->lock_path, g_free);
}

/* ------------------------------------------------------------------ */
/* Workers (pool.h): one per point.                                     */

typedef struct point {
    size_t combination;
    uint32_t repetition;
    uint64_t memory;   /* its estimate (budget.h) */
    char *label;       /* sweep_point */
    char *db_path;     /* the worker's private file */
    bool ended;        /* its worker ended and was handed to finish() */
} point;

typedef struct sweeper {
    const scn_scenario *base;
    const run_sweep_options *opts;
    run_sweep_result *out;
    char *sweep_id;
    point *todo;
    size_t n_todo;
    uint64_t memory_running; /* the estimates of those running */
    int64_t start_us;
} sweeper;

/* In the child: runs one point; its exit status. */
static int worker_main(void *user, size_t index)
{
    sweeper *s = user;
    const point *pt = &s->todo[index];
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_sweep_point(s->base, pt->combination,
                                                pt->repetition, &error);
    run_sim_result result;
    run_sim_options opts = {
        .db_path = pt->db_path,
        .stop = &run_pool_worker_stop,
        .sweep_id = s->sweep_id,
        .sweep_point = pt->label,
        .repetition = pt->repetition,
    };
    int status = WORKER_OK;
    if (sc == NULL || !run_sim(sc, &opts, &result, &error)) {
        fprintf(stderr, "\npeko sweep: %s%srepetition %u: %s\n", pt->label,
                *pt->label ? " " : "", pt->repetition, error->message);
        status = WORKER_FAILED;
    } else if (!result.complete) {
        status = WORKER_INTERRUPTED;
    }
    g_clear_error(&error);
    scn_scenario_free(sc);
    return status;
}

static bool stopping(const sweeper *s)
{
    return s->opts->stop && *s->opts->stop;
}

static void report(void *user, size_t running)
{
    sweeper *s = user;
    s->out->final.running = running;
    s->out->final.elapsed_s =
        (double)(g_get_monotonic_time() - s->start_us) / 1e6;
    if (s->opts->progress)
        s->opts->progress(s->opts->progress_user, &s->out->final);
}

static void started(void *user, size_t index)
{
    sweeper *s = user;
    s->memory_running += s->todo[index].memory;
}

/* Whether point `index` may start now beside the runs going on: room for
 * its memory (one runs alone whatever it needs: run_sweep() refused the
 * sweep if it did not fit alone, and the pool always starts one when
 * none runs). */
static bool may_start(void *user, size_t index, size_t running)
{
    sweeper *s = user;
    (void)running;
    uint64_t limit = s->opts->max_memory;
    return limit == 0 || s->memory_running + s->todo[index].memory <= limit;
}

static void note_failure(sweeper *s, const point *pt, const char *why)
{
    s->out->final.failed++;
    if (s->out->first_failure == NULL)
        s->out->first_failure = g_strdup_printf(
            "%s%srepetition %u: %s", pt->label, *pt->label ? " " : "",
            pt->repetition, why);
}

/* A worker ended with `status` (waitpid's): merge its run or count it. */
static gboolean finish(void *user, size_t index, int status, GError **error)
{
    sweeper *s = user;
    point *pt = &s->todo[index];
    pt->ended = true;
    s->memory_running -= pt->memory;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    gboolean ok = TRUE;
    if (code == WORKER_OK) {
        ana_merge_stats stats = {0};
        ok = ana_merge(s->opts->db_path, pt->db_path, &stats, error);
        if (ok)
            s->out->final.done++;
    } else if (code == WORKER_INTERRUPTED || stopping(s)) {
        /* Discarded: the same command runs it again. */
    } else if (code >= 0) {
        note_failure(s, pt, "the run failed (see above)");
    } else {
        char *why = g_strdup_printf("the worker died of signal %d",
                                    WIFSIGNALED(status) ? WTERMSIG(status)
                                                        : 0);
        note_failure(s, pt, why);
        g_free(why);
    }
    ana_db_remove(pt->db_path);
    return ok;
}

/* Each combination's memory estimate (budget.h) into a new array, or
 * NULL with *error set: a point that does not fit the limit alone, or
 * one that cannot be built. */
static uint64_t *estimate_points(const scn_scenario *base,
                                 const run_sweep_options *opts, size_t combos,
                                 GError **error)
{
    uint64_t *memory = g_new0(uint64_t, combos);
    for (size_t c = 0; c < combos; c++) {
        scn_scenario *sc = scn_scenario_sweep_point(base, c, 0, error);
        if (sc == NULL) {
            g_free(memory);
            return NULL;
        }
        run_mem_estimate e;
        run_sim_estimate_memory(sc, &e);
        memory[c] = e.total;
        gboolean fits = run_sim_check_memory(sc, opts->max_memory,
                                             opts->max_memory_given, error);
        scn_scenario_free(sc);
        if (!fits) {
            char *label = run_sweep_point_label(base, c);
            if (*label)
                g_prefix_error(error, "the point %s: ", label);
            g_free(label);
            g_free(memory);
            return NULL;
        }
    }
    return memory;
}

gboolean run_sweep(const scn_scenario *base, const run_sweep_options *opts,
                   run_sweep_result *out, GError **error)
{
    memset(out, 0, sizeof *out);
    g_return_val_if_fail(opts->jobs >= 1 && opts->shard_count >= 1 &&
                             opts->shard_index < opts->shard_count,
                         FALSE);
    uint32_t reps = base->sweep.repetitions ? base->sweep.repetitions : 1;
    size_t combos = base->sweep.combinations ? base->sweep.combinations : 1;
    /* Before the database is touched: a sweep refused for its memory
     * leaves no trace. */
    uint64_t *memory = estimate_points(base, opts, combos, error);
    if (memory == NULL)
        return FALSE;
    workdir w = {0};
    if (!workdir_open(&w, opts->db_path, error)) {
        g_free(memory);
        return FALSE;
    }
    out->sweep_id = run_sweep_id(base);
    ana_sweep_runs *done = ana_sweep_runs_load(opts->db_path, out->sweep_id,
                                               error);
    gboolean ok = done != NULL;

    sweeper s = {
        .base = base,
        .opts = opts,
        .out = out,
        .sweep_id = out->sweep_id,
        .start_us = g_get_monotonic_time(),
    };
    s.todo = g_new0(point, ok ? combos * reps : 1);
    for (size_t c = 0; ok && c < combos; c++) {
        char *label = run_sweep_point_label(base, c);
        for (uint32_t r = 0; r < reps; r++) {
            size_t index = c * reps + r;
            if (index % opts->shard_count != opts->shard_index)
                continue;
            out->final.total++;
            if (ana_sweep_runs_is_complete(done, label, r)) {
                out->final.skipped++;
                continue;
            }
            point *pt = &s.todo[s.n_todo++];
            pt->combination = c;
            pt->repetition = r;
            pt->memory = memory[c];
            pt->label = g_strdup(label);
            char *name = g_strdup_printf("point-%zu.db", index);
            pt->db_path = g_build_filename(w.path, name, NULL);
            g_free(name);
        }
        g_free(label);
    }
    ana_sweep_runs_free(done);
    g_free(memory);

    if (ok) {
        static const run_pool_ops ops = {
            .work = worker_main,
            .done = finish,
            .started = started,
            .may_start = may_start,
            .progress = report,
        };
        run_pool_options pool_opts = {.jobs = opts->jobs, .stop = opts->stop};
        size_t started = 0;
        ok = run_pool_run(s.n_todo, &ops, &s, &pool_opts, &started, error);
        /* After a failure, the runs of the workers it ended are dropped. */
        for (size_t i = 0; !ok && i < started; i++)
            if (!s.todo[i].ended)
                ana_db_remove(s.todo[i].db_path);
    }
    out->interrupted = stopping(&s) && out->final.skipped + out->final.done +
                                               out->final.failed <
                                           out->final.total;
    report(&s, 0);
    for (size_t i = 0; i < s.n_todo; i++) {
        g_free(s.todo[i].label);
        g_free(s.todo[i].db_path);
    }
    g_free(s.todo);
    workdir_close(&w);
    if (!ok)
        run_sweep_result_clear(out);
    return ok;
}
