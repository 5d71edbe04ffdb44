/* cmd-sim.c: `peko sim SCENARIO`, one scenario in the simulator.
 *
 * Loads and checks the scenario (a bad one never starts a run), runs it
 * with a progress bar on a terminal, records it into SQLite (a temporary
 * file unless --db names one), and prints the convergence report read
 * back from that database.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "cli.h"
#include "report-print.h"
#include "schema.h"
#include "sim.h"
#include "summary.h"

static char *seed_arg;
static char *db_arg;
static char *pcap_arg;
static char **set_args;
static char *max_memory_arg;
static gboolean verbose_arg;
static gboolean print_arg;

static const GOptionEntry sim_entries[] = {
    {"seed", 's', 0, G_OPTION_ARG_STRING, &seed_arg,
     "Run seed, 0 to 2^63-1 (default: the scenario's)", "N"},
    {"db", 'd', 0, G_OPTION_ARG_FILENAME, &db_arg,
     "Record the run into FILE (SQLite; runs are appended). Default: a "
     "temporary file, removed after the report",
     "FILE"},
    {"pcap", 0, 0, G_OPTION_ARG_FILENAME, &pcap_arg,
     "Write every delivered datagram to FILE (pcap, virtual timestamps)",
     "FILE"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &set_args,
     "Override a scenario key, e.g. --set engine.amount=4 (repeatable)",
     "GROUP.KEY=VALUE"},
    {"max-memory", 0, 0, G_OPTION_ARG_STRING, &max_memory_arg,
     "Refuse a run estimated to need more than SIZE (e.g. 8GiB; default: "
     "the memory available now; 0: no check)",
     "SIZE"},
    {"print", 'p', 0, G_OPTION_ARG_NONE, &print_arg,
     "Show the engines' console lines (pekonode's format)", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose_arg,
     "Report every metadata rumor and the run's parameters", NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------ */
/* Progress and the report (report-print.h).                            */

static void progress_cb(void *user, int64_t now_us, int64_t end_us,
                        uint64_t deliveries)
{
    cli_progress *p = user;
    double wall_s = (double)(g_get_monotonic_time() - p->start_wall_us) / 1e6;
    char detail[96];
    g_snprintf(detail, sizeof detail,
               "%.1f/%.1f s simulated  %.2fM deliveries/s",
               (double)now_us / 1e6, (double)end_us / 1e6,
               wall_s > 0 ? (double)deliveries / wall_s / 1e6 : 0);
    cli_progress_draw(p, end_us > 0 ? (double)now_us / (double)end_us : 1.0,
                      detail);
}

typedef struct report_ctx {
    const scn_scenario *sc;
    const run_sim_result *r;
} report_ctx;

/* The lines about the simulation itself, before the report's body. */
static void append_head(GString *out, const ana_run_summary *s, void *user)
{
    const report_ctx *ctx = user;
    const scn_scenario *sc = ctx->sc;
    const run_sim_result *r = ctx->r;
    double rt = r->wall_s > 0 ? (double)r->sim_time_us / 1e6 / r->wall_s : 0;
    g_string_append_printf(out, "%s: %zu nodes, seed %" G_GUINT64_FORMAT
                                ", run %" G_GINT64_FORMAT " (%s)\n",
                           sc->name, r->nodes, sc->cluster.seed, r->run_id,
                           s->status);
    g_string_append_printf(
        out,
        "  simulated %.3f s in %.3f s wall: %.1fx real time, %.2fM events/s,"
        " %.2fM deliveries/s\n",
        (double)r->sim_time_us / 1e6, r->wall_s, rt,
        r->wall_s > 0 ? (double)r->events / r->wall_s / 1e6 : 0,
        r->wall_s > 0 ? (double)r->deliveries / r->wall_s / 1e6 : 0);
    g_string_append_printf(out,
                           "  events %" G_GUINT64_FORMAT
                           ", deliveries %" G_GUINT64_FORMAT
                           ", trace %016" G_GINT64_MODIFIER "x"
                           ", peak memory %.1f MiB (estimated %.1f MiB)\n",
                           r->events, r->deliveries, r->trace_hash,
                           (double)r->peak_rss_kib / 1024.0,
                           (double)r->estimate_bytes / 1048576.0);
}

/* ------------------------------------------------------------------ */


static void free_args(void)
{
    g_clear_pointer(&seed_arg, g_free);
    g_clear_pointer(&db_arg, g_free);
    g_clear_pointer(&pcap_arg, g_free);
    g_clear_pointer(&set_args, g_strfreev);
    g_clear_pointer(&max_memory_arg, g_free);
}

int cli_cmd_sim(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "SCENARIO - run a scenario in the deterministic simulator");
    g_option_context_set_summary(
        context,
        "Runs the scenario file (see docs/scenarios.md and scenarios/*.ini),\n"
        "records it into SQLite and prints its convergence report. The same\n"
        "scenario and seed give the same run, bit for bit (see the trace).");
    g_option_context_set_description(
        context, "Exit status: 0 when the run completed, 1 when it was\n"
                 "interrupted or could not be recorded, 2 for a bad command\n"
                 "line or scenario, or a run estimated to need more memory\n"
                 "than --max-memory (default: what the machine has).");
    g_option_context_add_main_entries(context, sim_entries, NULL);
    gboolean ok = cli_parse_positional(context, "sim", &argc, &argv, 1);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    const cli_path paths[] = {
        {"the scenario", argv[1], FALSE},
        {"--db", db_arg, TRUE},
        {"--pcap", pcap_arg, TRUE},
    };
    if (!cli_check_paths("sim", paths, G_N_ELEMENTS(paths))) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    uint64_t max_memory;
    gboolean max_memory_given;
    if (!cli_parse_max_memory("sim", max_memory_arg, &max_memory,
                              &max_memory_given)) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    scn_scenario *sc = cli_load_scenario("sim", argv[1], set_args, seed_arg);
    if (sc == NULL) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    GError *error = NULL;
    if (!run_sim_check_memory(sc, max_memory, max_memory_given, &error)) {
        fprintf(stderr, "peko sim: %s\n", error->message);
        g_error_free(error);
        scn_scenario_free(sc);
        free_args();
        return CLI_EXIT_USAGE;
    }

    bool temporary = db_arg == NULL;
    char *db_path = temporary ? cli_temp_db("sim") : g_strdup(db_arg);
    if (db_path == NULL) {
        scn_scenario_free(sc);
        free_args();
        return CLI_EXIT_FAILED;
    }

    cli_catch_stop();

    cli_progress bar = {
        .enabled = isatty(STDERR_FILENO) && !print_arg,
        .start_wall_us = g_get_monotonic_time(),
    };
    run_sim_options opts = {
        .db_path = db_path,
        .pcap_path = pcap_arg,
        .print = print_arg,
        .progress = progress_cb,
        .progress_user = &bar,
        .stop = &cli_stop_requested,
    };
    run_sim_result result;
    int status = CLI_EXIT_OK;
    if (!run_sim(sc, &opts, &result, &error)) {
        cli_progress_end(&bar, true);
        fprintf(stderr, "peko sim: %s\n", error->message);
        g_error_free(error);
        status = CLI_EXIT_FAILED;
    } else {
        cli_progress_end(&bar, false);
        report_ctx ctx = {.sc = sc, .r = &result};
        status = cli_report_run(&(cli_report_run_args){
            .command = "sim",
            .db_path = db_path,
            .temporary = temporary,
            .run_id = result.run_id,
            .complete = result.complete,
            .ok = true,
            .reached_us = result.sim_time_us,
            .verbose = verbose_arg,
            .head = append_head,
            .user = &ctx,
        });
    }
    cli_release_stop();
    if (temporary)
        ana_db_remove(db_path);
    g_free(db_path);
    scn_scenario_free(sc);
    free_args();
    return status;
}
