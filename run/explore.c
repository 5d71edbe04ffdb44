/* explore.c: many seeds in worker processes, and what one seed leaves
 * behind when it finds a violation (explore.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "explore.h"
#include "pool.h"

/* A worker's exit statuses. */
enum {
    SEED_PASSED = 0,
    SEED_VIOLATED = 1,
    SEED_FAILED = 2,      /* the run could not be made: a bug */
    SEED_INTERRUPTED = 3,
};

static char *seed_path(const char *dir, uint64_t seed, const char *suffix)
{
    char *name = g_strdup_printf("seed-%" PRIu64 "%s", seed, suffix);
    char *path = g_build_filename(dir, name, NULL);
    g_free(name);
    return path;
}

/* The scenario of `c` with what it violated in its header. */
static gboolean write_case(const char *path, const run_explore_case *c,
                           const run_explore_verdict *v, const char *what,
                           GError **error)
{
    char *comment = g_strdup_printf(
        "%s\nviolates '%s' at %.6f s: %s\nfaults: %zu", what, v->invariant,
        (double)v->at_us / 1e6, v->message, c->n_items);
    char *text = run_explore_case_to_ini(c, comment);
    gboolean ok = g_file_set_contents(path, text, -1, error);
    g_free(text);
    g_free(comment);
    return ok;
}

gboolean run_explore_seed(uint64_t seed, const run_explore_options *opts,
                          bool *found_out, run_explore_verdict *verdict,
                          GError **error)
{
    *found_out = false;
    memset(verdict, 0, sizeof *verdict);
    run_explore_case c;
    if (!run_explore_case_draw(seed, &opts->limits, &c, error)) {
        run_explore_case_clear(&c);
        return FALSE;
    }
    scn_scenario *sc = run_explore_case_scenario(&c, error);
    run_explore_check_options check = {.inject = opts->inject,
                                       .db_path = opts->db_path,
                                       .stop = opts->stop};
    gboolean ok = sc && run_explore_check(sc, &check, verdict, error);
    check.db_path = NULL; /* the shrinking runs are not recorded */
    scn_scenario_free(sc);
    if (!ok || !verdict->violated) {
        run_explore_case_clear(&c);
        return ok;
    }
    *found_out = true;

    char *replay = seed_path(opts->out_dir, seed, ".ini");
    char *shrunk_path = NULL;
    run_explore_case shrunk = {0};
    run_explore_verdict shrunk_v = {0};
    run_explore_shrink_stats stats = {0};
    if (g_mkdir_with_parents(opts->out_dir, 0755) != 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "%s: cannot create the directory: %s", opts->out_dir,
                    g_strerror(e));
        ok = FALSE;
    } else {
        ok = write_case(replay, &c, verdict, "as drawn", error);
    }
    if (ok && opts->shrink) {
        ok = run_explore_shrink(&c, verdict->invariant, &check,
                                opts->shrink_runs, &shrunk, &shrunk_v, &stats,
                                error);
        if (ok) {
            shrunk_path = seed_path(opts->out_dir, seed, "-shrunk.ini");
            char *what = g_strdup_printf(
                "shrunk from %zu faults to %zu in %zu runs%s", stats.items_before,
                stats.items_after, stats.runs,
                stats.exhausted ? " (budget spent: maybe not minimal)" : "");
            ok = write_case(shrunk_path, &shrunk, &shrunk_v, what, error);
            g_free(what);
        }
    }
    if (ok) {
        /* The summary the parent reads. */
        GKeyFile *kf = g_key_file_new();
        g_key_file_set_uint64(kf, "found", "seed", seed);
        g_key_file_set_string(kf, "found", "invariant", verdict->invariant);
        g_key_file_set_string(kf, "found", "message", verdict->message);
        g_key_file_set_string(kf, "found", "replay", replay);
        g_key_file_set_uint64(kf, "found", "items", c.n_items);
        if (shrunk_path) {
            g_key_file_set_string(kf, "found", "shrunk", shrunk_path);
            g_key_file_set_uint64(kf, "found", "shrunk_items", shrunk.n_items);
        }
        char *summary = seed_path(opts->out_dir, seed, ".txt");
        ok = g_key_file_save_to_file(kf, summary, error);
        g_free(summary);
        g_key_file_free(kf);
    }
    run_explore_case_clear(&shrunk);
    run_explore_verdict_clear(&shrunk_v);
    g_free(replay);
    g_free(shrunk_path);
    run_explore_case_clear(&c);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Many seeds.                                                          */

typedef struct explorer {
    const run_explore_options *opts;
    run_explore_result *out;
    int64_t start_us;
} explorer;

static int work(void *user, size_t index)
{
    explorer *e = user;
    run_explore_options opts = *e->opts;
    opts.stop = &run_pool_worker_stop;
    uint64_t seed = opts.first_seed + index;
    bool found;
    run_explore_verdict v;
    GError *error = NULL;
    if (!run_explore_seed(seed, &opts, &found, &v, &error)) {
        bool stopped = g_error_matches(error, G_FILE_ERROR,
                                       G_FILE_ERROR_INTR);
        if (!stopped)
            fprintf(stderr, "\npeko explore: seed %" PRIu64 ": %s\n", seed,
                    error->message);
        g_error_free(error);
        return stopped ? SEED_INTERRUPTED : SEED_FAILED;
    }
    run_explore_verdict_clear(&v);
    return found ? SEED_VIOLATED : SEED_PASSED;
}

static void report(void *user, size_t running)
{
    explorer *e = user;
    e->out->final.running = running;
    e->out->final.elapsed_s =
        (double)(g_get_monotonic_time() - e->start_us) / 1e6;
    if (e->opts->progress)
        e->opts->progress(e->opts->user, &e->out->final);
}

static void note_failure(explorer *e, uint64_t seed, const char *why)
{
    e->out->final.failed++;
    if (e->out->first_failure == NULL)
        e->out->first_failure =
            g_strdup_printf("seed %" PRIu64 ": %s", seed, why);
}

/* Tells the caller what seed `seed` found, from its summary. */
static void tell_found(explorer *e, uint64_t seed)
{
    char *path = seed_path(e->opts->out_dir, seed, ".txt");
    GKeyFile *kf = g_key_file_new();
    GError *error = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
        note_failure(e, seed, error->message);
        g_error_free(error);
    } else if (e->opts->found) {
        char *invariant = g_key_file_get_string(kf, "found", "invariant",
                                                NULL);
        char *message = g_key_file_get_string(kf, "found", "message", NULL);
        char *replay = g_key_file_get_string(kf, "found", "replay", NULL);
        char *shrunk = g_key_file_get_string(kf, "found", "shrunk", NULL);
        run_explore_found f = {
            .seed = seed,
            .invariant = invariant ? invariant : "?",
            .message = message ? message : "",
            .replay_path = replay ? replay : "",
            .shrunk_path = shrunk,
            .items = g_key_file_get_uint64(kf, "found", "items", NULL),
            .shrunk_items =
                g_key_file_get_uint64(kf, "found", "shrunk_items", NULL),
        };
        e->opts->found(e->opts->user, &f);
        g_free(invariant);
        g_free(message);
        g_free(replay);
        g_free(shrunk);
    }
    g_key_file_free(kf);
    g_free(path);
}

static gboolean done(void *user, size_t index, int status, GError **error)
{
    explorer *e = user;
    (void)error;
    uint64_t seed = e->opts->first_seed + index;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    switch (code) {
    case SEED_PASSED:
        e->out->final.done++;
        break;
    case SEED_VIOLATED:
        e->out->final.done++;
        e->out->final.violations++;
        tell_found(e, seed);
        break;
    case SEED_INTERRUPTED:
        break;
    case -1: {
        char *why = g_strdup_printf("the worker died of signal %d",
                                    WIFSIGNALED(status) ? WTERMSIG(status)
                                                        : 0);
        if (!(e->opts->stop && *e->opts->stop))
            note_failure(e, seed, why);
        g_free(why);
        break;
    }
    default:
        note_failure(e, seed, "the run could not be made (see above)");
        break;
    }
    return TRUE;
}

gboolean run_explore(const run_explore_options *opts, run_explore_result *out,
                     GError **error)
{
    memset(out, 0, sizeof *out);
    g_return_val_if_fail(opts->jobs >= 1 && opts->out_dir != NULL, FALSE);
    if (g_mkdir_with_parents(opts->out_dir, 0755) != 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "%s: cannot create the directory: %s", opts->out_dir,
                    g_strerror(e));
        return FALSE;
    }
    explorer e = {.opts = opts, .out = out,
                  .start_us = g_get_monotonic_time()};
    out->final.total = opts->n_seeds;
    static const run_pool_ops ops = {
        .work = work,
        .done = done,
        .progress = report,
    };
    run_pool_options pool = {.jobs = opts->jobs, .stop = opts->stop};
    if (!run_pool_run(opts->n_seeds, &ops, &e, &pool, NULL, error)) {
        run_explore_result_clear(out);
        return FALSE;
    }
    out->interrupted = out->final.done + out->final.failed < out->final.total;
    report(&e, 0);
    return TRUE;
}

void run_explore_result_clear(run_explore_result *r)
{
    g_free(r->first_failure);
    memset(r, 0, sizeof *r);
}
