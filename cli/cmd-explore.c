/* cmd-explore.c: `peko explore`, seeds drawn into random clusters and
 * fault schedules, run with invariants checked, violations written out
 * as scenarios and shrunk (run/explore.h, docs/explore.md). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "explore.h"

static char *seeds_arg;
static char *seed_arg;
static char *replay_arg;
static char *jobs_arg;
static char *out_arg;
static char *nodes_arg;
static char *db_arg;
static char *shrink_runs_arg;
static char *inject_arg;
static char **set_args;
static gboolean no_shrink_arg;
static gboolean quiet_arg;

static const GOptionEntry explore_entries[] = {
    {"seeds", 'n', 0, G_OPTION_ARG_STRING, &seeds_arg,
     "Explore seeds A to B, or 1 to N (default 1-100)", "A-B|N"},
    {"seed", 's', 0, G_OPTION_ARG_STRING, &seed_arg,
     "Explore seed S alone, in this process, and say what it drew and "
     "checked",
     "S"},
    {"replay", 'r', 0, G_OPTION_ARG_FILENAME, &replay_arg,
     "Run a scenario file (one this command wrote) with the invariants "
     "checked",
     "FILE"},
    {"jobs", 'j', 0, G_OPTION_ARG_STRING, &jobs_arg,
     "Worker processes (default: the number of cores)", "J"},
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &out_arg,
     "Where violations are written: seed-S.ini (replays it), "
     "seed-S-shrunk.ini, seed-S.txt (default: explore-out)",
     "DIR"},
    {"nodes", 0, 0, G_OPTION_ARG_STRING, &nodes_arg,
     "Cluster sizes to draw from (default 16-64)", "MIN-MAX"},
    {"no-shrink", 0, 0, G_OPTION_ARG_NONE, &no_shrink_arg,
     "Write violations as drawn, without shrinking them", NULL},
    {"shrink-runs", 0, 0, G_OPTION_ARG_STRING, &shrink_runs_arg,
     "Runs one shrink may take (default 300)", "N"},
    {"db", 'd', 0, G_OPTION_ARG_FILENAME, &db_arg,
     "With --seed or --replay: record the run into FILE (SQLite)", "FILE"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &set_args,
     "With --replay: override a scenario key (repeatable)",
     "GROUP.KEY=VALUE"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet_arg,
     "No progress line and no summary", NULL},
    /* Test-only: a violation the checker reports on purpose, to test
     * replay and shrinking themselves (docs/explore.md). */
    {"inject", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &inject_arg,
     "Report a violation on purpose: crash", "KIND"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void free_args(void)
{
    g_clear_pointer(&seeds_arg, g_free);
    g_clear_pointer(&seed_arg, g_free);
    g_clear_pointer(&replay_arg, g_free);
    g_clear_pointer(&jobs_arg, g_free);
    g_clear_pointer(&out_arg, g_free);
    g_clear_pointer(&nodes_arg, g_free);
    g_clear_pointer(&db_arg, g_free);
    g_clear_pointer(&shrink_runs_arg, g_free);
    g_clear_pointer(&inject_arg, g_free);
    g_clear_pointer(&set_args, g_strfreev);
}

/* "MIN-MAX" or "N". */
static gboolean parse_nodes(const char *text, run_explore_limits *limits,
                            GError **error)
{
    const char *dash = strchr(text, '-');
    uint64_t lo, hi;
    if (dash == NULL) {
        if (!cli_parse_u64("--nodes", text, 2, 4096, &lo, error))
            return FALSE;
        hi = lo;
    } else {
        char *first = g_strndup(text, (gsize)(dash - text));
        gboolean ok =
            cli_parse_u64("--nodes (its MIN)", first, 2, 4096, &lo, error) &&
            cli_parse_u64("--nodes (its MAX)", dash + 1, lo, 4096, &hi, error);
        g_free(first);
        if (!ok)
            return FALSE;
    }
    limits->nodes_min = (uint32_t)lo;
    limits->nodes_max = (uint32_t)hi;
    return TRUE;
}

/* "A-B" (inclusive) or "N" (1 to N). Seeds are below 2^62, at most 2^40
 * of them at once. */
static gboolean parse_seeds(const char *text, run_explore_options *opts,
                            GError **error)
{
    const uint64_t max_seed = (UINT64_C(1) << 62) - 1;
    const char *dash = strchr(text, '-');
    uint64_t first = 1, last;
    if (dash == NULL) {
        if (!cli_parse_u64("--seeds", text, 1, UINT64_C(1) << 40, &last,
                           error))
            return FALSE;
    } else {
        char *a = g_strndup(text, (gsize)(dash - text));
        gboolean ok =
            cli_parse_u64("--seeds (its A)", a, 0, max_seed, &first, error) &&
            cli_parse_u64("--seeds (its B)", dash + 1, first, max_seed, &last,
                          error);
        g_free(a);
        if (!ok)
            return FALSE;
        if (last - first >= UINT64_C(1) << 40) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--seeds: at most 2^40 seeds at once, got %s", text);
            return FALSE;
        }
    }
    opts->first_seed = first;
    opts->n_seeds = last - first + 1;
    return TRUE;
}

static void format_duration(char *buf, size_t size, double s)
{
    if (s < 60)
        g_snprintf(buf, size, "%.0fs", s);
    else if (s < 3600)
        g_snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        g_snprintf(buf, size, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static bool bar_shown;

static void progress_times(const run_explore_progress *p, char *elapsed,
                           char *eta, size_t size)
{
    uint64_t finished = p->done + p->failed;
    format_duration(elapsed, size, p->elapsed_s);
    g_strlcpy(eta, "?", size);
    if (finished > 0)
        format_duration(eta, size,
                        p->elapsed_s / (double)finished *
                            (double)(p->total - finished));
}

static void progress_cb(void *user, const run_explore_progress *p)
{
    (void)user;
    char bar[CLI_BAR_WIDTH + 1], elapsed[32], eta[32];
    uint64_t finished = p->done + p->failed;
    cli_progress_bar(p->total ? (double)finished / (double)p->total : 1, bar);
    progress_times(p, elapsed, eta, sizeof elapsed);
    fprintf(stderr,
            "\r[%s] %" PRIu64 "/%" PRIu64 " seeds, %" PRIu64
            " violation%s%s, %zu running  %s elapsed, ETA %s \033[K",
            bar, finished, p->total, p->violations,
            p->violations == 1 ? "" : "s", p->failed ? ", some failed" : "",
            p->running, elapsed, eta);
    bar_shown = true;
}

/* Without a terminal (a CI log, nohup): a plain line a minute instead of
 * the bar, so a long exploration still says how far it is. */
#define PROGRESS_LOG_EVERY_S 60.0

static void progress_log_cb(void *user, const run_explore_progress *p)
{
    static double next_s = PROGRESS_LOG_EVERY_S;
    (void)user;
    if (p->elapsed_s < next_s)
        return;
    next_s = p->elapsed_s + PROGRESS_LOG_EVERY_S;
    char elapsed[32], eta[32];
    progress_times(p, elapsed, eta, sizeof elapsed);
    fprintf(stderr,
            "explore: %" PRIu64 " of %" PRIu64 " seeds, %" PRIu64
            " violation%s%s, %s elapsed, ETA %s\n",
            p->done + p->failed, p->total, p->violations,
            p->violations == 1 ? "" : "s", p->failed ? ", some failed" : "",
            elapsed, eta);
}

static void found_cb(void *user, const run_explore_found *f)
{
    (void)user;
    if (bar_shown)
        fputs("\r\033[K", stderr);
    printf("seed %" PRIu64 ": violates '%s': %s\n  replay: %s (%zu faults)\n",
           f->seed, f->invariant, f->message, f->replay_path, f->items);
    if (f->shrunk_path)
        printf("  shrunk: %s (%zu faults)\n", f->shrunk_path, f->shrunk_items);
    fflush(stdout);
}

static void print_verdict(const char *what, const run_explore_verdict *v)
{
    printf("%s: %zu live nodes at the end, %" PRIu64 " deliveries, %.2f s "
           "wall, trace %016" PRIx64 "\n",
           what, v->live, v->deliveries, v->wall_s, v->trace_hash);
    if (v->replays)
        printf("%" PRIu64 " packets refused as replays beside %" PRIu64
               " accepted (late copies the network made: docs/explore.md)\n",
               v->replays, v->received);
    if (v->violated)
        printf("violates '%s' at %.6f s: %s\n", v->invariant,
               (double)v->at_us / 1e6, v->message);
    else if (v->convergence)
        printf("every invariant held, convergence after the quiet period "
               "included\n");
    else
        printf("every invariant checked held; convergence not checked: %s\n",
               v->skipped ? v->skipped : "-");
}

/* --replay FILE: one scenario, checked. */
static int replay(run_explore_inject inject)
{
    scn_scenario *sc = cli_load_scenario("explore", replay_arg, set_args,
                                         NULL);
    if (sc == NULL)
        return CLI_EXIT_USAGE;
    cli_catch_stop();
    run_explore_check_options check = {
        .inject = inject,
        .db_path = db_arg,
        .stop = &cli_stop_requested,
    };
    run_explore_verdict v;
    GError *error = NULL;
    int status;
    if (!run_explore_check(sc, &check, &v, &error)) {
        fprintf(stderr, "peko explore: %s\n", error->message);
        g_error_free(error);
        status = CLI_EXIT_FAILED;
    } else {
        if (!quiet_arg || v.violated)
            print_verdict(replay_arg, &v);
        status = v.violated ? CLI_EXIT_FAILED : CLI_EXIT_OK;
        run_explore_verdict_clear(&v);
    }
    cli_release_stop();
    scn_scenario_free(sc);
    return status;
}

/* --seed S: one seed in this process. */
static int one_seed(uint64_t seed, run_explore_options *opts)
{
    run_explore_case c;
    GError *error = NULL;
    if (!run_explore_case_draw(seed, &opts->limits, &c, &error)) {
        fprintf(stderr, "peko explore: %s\n", error->message);
        g_error_free(error);
        run_explore_case_clear(&c);
        return CLI_EXIT_FAILED;
    }
    if (!quiet_arg) {
        printf("seed %" PRIu64 ": %u nodes, %s, fan-out %d, cycle %.3f s, "
               "Size %d%s%s, %zu faults, heal at %.3f s, end at %.3f s\n",
               seed, c.nodes, peko_dissemination_name(c.strategy), c.amount,
               (double)c.cycle_us / 1e6, c.size, c.tcp ? ", TCP" : "",
               c.secret_key ? ", keyed" : "", c.n_items,
               (double)c.heal_us / 1e6, (double)c.duration_us / 1e6);
        fflush(stdout);
    }
    run_explore_case_clear(&c);
    cli_catch_stop();
    opts->stop = &cli_stop_requested;
    bool found;
    run_explore_verdict v;
    int status;
    if (!run_explore_seed(seed, opts, &found, &v, &error)) {
        fprintf(stderr, "peko explore: seed %" PRIu64 ": %s\n", seed,
                error->message);
        g_error_free(error);
        status = CLI_EXIT_FAILED;
    } else {
        char *what = g_strdup_printf("seed %" PRIu64, seed);
        if (!quiet_arg || found)
            print_verdict(what, &v);
        g_free(what);
        if (found)
            printf("written to %s/seed-%" PRIu64 "*.ini\n", opts->out_dir,
                   seed);
        status = found ? CLI_EXIT_FAILED : CLI_EXIT_OK;
        run_explore_verdict_clear(&v);
    }
    cli_release_stop();
    return status;
}

static int explore(run_explore_options *opts)
{
    cli_catch_stop();
    bool show_bar = !quiet_arg && isatty(STDERR_FILENO);
    opts->progress = quiet_arg ? NULL
                     : show_bar ? progress_cb
                                : progress_log_cb;
    opts->found = found_cb;
    opts->stop = &cli_stop_requested;
    if (!quiet_arg) {
        printf("explore: seeds %" PRIu64 " to %" PRIu64 ", clusters of %u to "
               "%u nodes, %u worker%s, violations into %s\n",
               opts->first_seed, opts->first_seed + opts->n_seeds - 1,
               opts->limits.nodes_min, opts->limits.nodes_max, opts->jobs,
               opts->jobs == 1 ? "" : "s", opts->out_dir);
        fflush(stdout);
    }
    run_explore_result result;
    GError *error = NULL;
    int status = CLI_EXIT_OK;
    if (!run_explore(opts, &result, &error)) {
        if (bar_shown)
            fputc('\n', stderr);
        fprintf(stderr, "peko explore: %s\n", error->message);
        g_error_free(error);
        status = CLI_EXIT_FAILED;
    } else {
        if (bar_shown)
            fputs("\r\033[K", stderr);
        const run_explore_progress *p = &result.final;
        char elapsed[32];
        format_duration(elapsed, sizeof elapsed, p->elapsed_s);
        if (!quiet_arg)
            printf("%" PRIu64 " seeds explored in %s: %" PRIu64
                   " violation%s, %" PRIu64 " failed to run\n",
                   p->done, elapsed, p->violations,
                   p->violations == 1 ? "" : "s", p->failed);
        if (p->failed)
            fprintf(stderr, "peko explore: %" PRIu64 " seed%s failed, the "
                    "first: %s\n",
                    p->failed, p->failed == 1 ? "" : "s",
                    result.first_failure);
        if (result.interrupted)
            fprintf(stderr, "peko explore: interrupted with %" PRIu64
                    " of %" PRIu64 " seeds explored\n",
                    p->done + p->failed, p->total);
        if (p->violations || p->failed || result.interrupted)
            status = CLI_EXIT_FAILED;
        run_explore_result_clear(&result);
    }
    cli_release_stop();
    return status;
}

int cli_cmd_explore(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "- hunt for invariant violations over random clusters and faults");
    g_option_context_set_summary(
        context,
        "Each seed draws a cluster (16 to 64 nodes, a strategy, with or\n"
        "without a key), a network and a fault schedule (loss, partitions,\n"
        "crashes, pauses, clock skew and drift), heals every fault and\n"
        "leaves a quiet period; the run is checked during and after it\n"
        "(docs/explore.md). A violation is written as a scenario that\n"
        "replays it, then shrunk to the fewest faults that still fail.");
    g_option_context_set_description(
        context,
        "Exit status: 0 when no invariant was violated, 1 when one was (or\n"
        "a run failed, or the exploration was interrupted), 2 for a bad\n"
        "command line.");
    g_option_context_add_main_entries(context, explore_entries, NULL);
    gboolean ok = cli_parse_positional(context, "explore", &argc, &argv, 0);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    GError *error = NULL;
    run_explore_options opts = {
        .first_seed = 1,
        .n_seeds = 100,
        .jobs = (unsigned)g_get_num_processors(),
        .out_dir = out_arg ? out_arg : "explore-out",
        .limits = {RUN_EXPLORE_NODES_MIN, RUN_EXPLORE_NODES_MAX},
        .shrink = !no_shrink_arg,
        .shrink_runs = 300,
        .db_path = db_arg,
    };
    uint64_t v, seed = 0;
    int modes = (seed_arg != NULL) + (replay_arg != NULL) +
                (seeds_arg != NULL);
    if (modes > 1)
        error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "give one of --seeds, --seed and --replay");
    else if (db_arg && !seed_arg && !replay_arg)
        error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "--db records one run: give it with --seed or "
                            "--replay");
    else if (set_args && !replay_arg)
        error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "--set overrides a scenario: give it with "
                            "--replay");
    if (error == NULL && seeds_arg)
        parse_seeds(seeds_arg, &opts, &error);
    if (error == NULL && seed_arg)
        cli_parse_u64("--seed", seed_arg, 0, INT64_MAX, &seed, &error);
    if (error == NULL && jobs_arg &&
        cli_parse_u64("--jobs", jobs_arg, 1, 1024, &v, &error))
        opts.jobs = (unsigned)v;
    if (error == NULL && shrink_runs_arg &&
        cli_parse_u64("--shrink-runs", shrink_runs_arg, 1, 1000000, &v,
                      &error))
        opts.shrink_runs = v;
    if (error == NULL && nodes_arg)
        parse_nodes(nodes_arg, &opts.limits, &error);
    if (error == NULL && inject_arg) {
        if (strcmp(inject_arg, "crash") == 0)
            opts.inject = RUN_XP_INJECT_CRASH;
        else
            error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                                "--inject: expected crash, got '%s'",
                                inject_arg);
    }
    if (error) {
        int status = cli_usage_error("explore", "%s", error->message);
        g_error_free(error);
        free_args();
        return status;
    }

    int status;
    if (replay_arg)
        status = replay(opts.inject);
    else if (seed_arg)
        status = one_seed(seed, &opts);
    else
        status = explore(&opts);
    free_args();
    return status;
}
