/* cmd-sweep.c: `peko sweep SCENARIO --db FILE`, every point of a
 * scenario's [sweep], repetitions included, in parallel workers
 * (run/sweep.h), resumable. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "sweep.h"

static char *db_arg;
static char *jobs_arg;
static char *shard_arg;
static char *seed_arg;
static char **set_args;
static char *max_memory_arg;
static gboolean quiet_arg;

static const GOptionEntry sweep_entries[] = {
    {"db", 'd', 0, G_OPTION_ARG_FILENAME, &db_arg,
     "Record every run into FILE (SQLite; required). Runs already there "
     "are kept and not redone",
     "FILE"},
    {"jobs", 'j', 0, G_OPTION_ARG_STRING, &jobs_arg,
     "Worker processes (default: the number of cores)", "N"},
    {"shard", 0, 0, G_OPTION_ARG_STRING, &shard_arg,
     "Run only shard I of M (points whose index modulo M is I-1), to "
     "spread a sweep over machines; combine with peko merge",
     "I/M"},
    {"seed", 's', 0, G_OPTION_ARG_STRING, &seed_arg,
     "Base seed, 0 to 2^63-1 (default: the scenario's); repetition r "
     "runs with seed + r",
     "N"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &set_args,
     "Override a scenario key for every run, e.g. --set cluster.nodes=200 "
     "(repeatable)",
     "GROUP.KEY=VALUE"},
    {"max-memory", 0, 0, G_OPTION_ARG_STRING, &max_memory_arg,
     "The memory the runs may take together (e.g. 8GiB; default: what "
     "is available now; 0: no check). A point estimated above it is "
     "refused, and fewer workers run at once when each needs much",
     "SIZE"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet_arg,
     "No progress bar and no summary", NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void free_args(void)
{
    g_clear_pointer(&db_arg, g_free);
    g_clear_pointer(&jobs_arg, g_free);
    g_clear_pointer(&shard_arg, g_free);
    g_clear_pointer(&seed_arg, g_free);
    g_clear_pointer(&set_args, g_strfreev);
    g_clear_pointer(&max_memory_arg, g_free);
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

static void progress_cb(void *user, const run_sweep_progress *p)
{
    (void)user;
    size_t finished = p->skipped + p->done + p->failed;
    size_t left = p->total - finished;
    char bar[CLI_BAR_WIDTH + 1], elapsed[32], eta[32] = "?";
    cli_progress_bar(p->total ? (double)finished / (double)p->total : 1, bar);
    format_duration(elapsed, sizeof elapsed, p->elapsed_s);
    if (p->done > 0)
        format_duration(eta, sizeof eta,
                        p->elapsed_s / (double)p->done * (double)left);
    fprintf(stderr,
            "\r[%s] %zu/%zu runs, %zu left, %zu running%s  %s elapsed, "
            "ETA %s \033[K",
            bar, finished, p->total, left, p->running,
            p->failed ? ", some failed" : "", elapsed, eta);
    bar_shown = true;
}

/* "I/M" with 1 <= I <= M. */
static gboolean parse_shard(const char *text, uint32_t *index,
                            uint32_t *count, GError **error)
{
    const char *slash = text ? strchr(text, '/') : NULL;
    uint64_t i, m;
    if (slash == NULL) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--shard: expected I/M (for example 2/4), got '%s'",
                    text ? text : "");
        return FALSE;
    }
    char *first = g_strndup(text, (gsize)(slash - text));
    gboolean ok =
        cli_parse_u64("--shard (its M)", slash + 1, 1, 1000000, &m, error) &&
        cli_parse_u64("--shard (its I)", first, 1, m, &i, error);
    g_free(first);
    if (ok) {
        *index = (uint32_t)(i - 1);
        *count = (uint32_t)m;
    }
    return ok;
}

int cli_cmd_sweep(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "SCENARIO - run every point of a scenario's sweep");
    g_option_context_set_summary(
        context,
        "Runs each combination of the scenario's [sweep] axes the number of\n"
        "times its `repetitions` says (repetition r with seed + r), in\n"
        "parallel worker processes, all into one database. Interrupted, the\n"
        "same command resumes: finished runs are kept, not redone. Then:\n"
        "peko report FILE, peko plot FILE -o report.html.");
    g_option_context_set_description(
        context,
        "Sharding over machines: run `peko sweep S --shard I/M --db part-I.db`\n"
        "for I = 1..M, then `peko merge all.db part-*.db` (README).\n\n"
        "Exit status: 0 when every run completed, 1 when a run failed or the\n"
        "sweep was interrupted, 2 for a bad command line or scenario, or a\n"
        "point estimated to need more memory than --max-memory (default:\n"
        "what the machine has).");
    g_option_context_add_main_entries(context, sweep_entries, NULL);
    gboolean ok = cli_parse_positional(context, "sweep", &argc, &argv, 1);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    GError *error = NULL;
    uint64_t jobs = (uint64_t)g_get_num_processors();
    uint32_t shard_index = 0, shard_count = 1;
    if (db_arg == NULL)
        error = g_error_new(G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "--db FILE is required: the database to record "
                            "into (and to resume from)");
    else if (jobs_arg)
        cli_parse_u64("--jobs", jobs_arg, 1, 1024, &jobs, &error);
    if (error == NULL && shard_arg)
        parse_shard(shard_arg, &shard_index, &shard_count, &error);
    if (error) {
        int status = cli_usage_error("sweep", "%s", error->message);
        g_error_free(error);
        free_args();
        return status;
    }
    const cli_path paths[] = {
        {"the scenario", argv[1], FALSE},
        {"--db", db_arg, TRUE},
    };
    if (!cli_check_paths("sweep", paths, G_N_ELEMENTS(paths))) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    uint64_t max_memory;
    gboolean max_memory_given;
    if (!cli_parse_max_memory("sweep", max_memory_arg, &max_memory,
                              &max_memory_given)) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    scn_scenario *sc = cli_load_scenario("sweep", argv[1], set_args, seed_arg);
    if (sc == NULL) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    cli_catch_stop();

    bool show_bar = !quiet_arg && isatty(STDERR_FILENO);
    run_sweep_options opts = {
        .db_path = db_arg,
        .jobs = (unsigned)jobs,
        .shard_index = shard_index,
        .shard_count = shard_count,
        .progress = show_bar ? progress_cb : NULL,
        .stop = &cli_stop_requested,
        .max_memory = max_memory,
        .max_memory_given = max_memory_given,
    };
    run_sweep_result result;
    int status = CLI_EXIT_OK;
    if (!quiet_arg) {
        size_t combos = sc->sweep.combinations ? sc->sweep.combinations : 1;
        uint32_t reps = sc->sweep.repetitions ? sc->sweep.repetitions : 1;
        printf("sweep %s: %zu combination%s x %u repetition%s", sc->name,
               combos, combos == 1 ? "" : "s", reps, reps == 1 ? "" : "s");
        if (shard_count > 1)
            printf(", shard %u of %u", shard_index + 1, shard_count);
        printf(", %u worker%s\n", (unsigned)jobs, jobs == 1 ? "" : "s");
        fflush(stdout);
    }
    if (!run_sweep(sc, &opts, &result, &error)) {
        if (bar_shown)
            fputc('\n', stderr);
        fprintf(stderr, "peko sweep: %s\n", error->message);
        status = g_error_matches(error, RUN_BUDGET_ERROR,
                                 RUN_BUDGET_ERROR_TOO_BIG)
                     ? CLI_EXIT_USAGE
                     : CLI_EXIT_FAILED;
        g_error_free(error);
    } else {
        if (bar_shown)
            fputs("\r\033[K", stderr);
        const run_sweep_progress *p = &result.final;
        char elapsed[32];
        format_duration(elapsed, sizeof elapsed, p->elapsed_s);
        if (!quiet_arg)
            printf("%zu runs: %zu already recorded, %zu run now in %s, %zu "
                   "failed; sweep %s in %s\n",
                   p->total, p->skipped, p->done, elapsed, p->failed,
                   result.sweep_id, db_arg);
        if (result.interrupted) {
            fprintf(stderr,
                    "peko sweep: interrupted with %zu of %zu runs left; the "
                    "same command resumes\n",
                    p->total - p->skipped - p->done - p->failed, p->total);
            status = CLI_EXIT_FAILED;
        } else if (p->failed) {
            fprintf(stderr, "peko sweep: %zu run%s failed, the first: %s\n",
                    p->failed, p->failed == 1 ? "" : "s",
                    result.first_failure);
            status = CLI_EXIT_FAILED;
        } else if (!quiet_arg) {
            printf("next: peko report %s\n", db_arg);
        }
        run_sweep_result_clear(&result);
    }
    cli_release_stop();
    scn_scenario_free(sc);
    free_args();
    return status;
}
