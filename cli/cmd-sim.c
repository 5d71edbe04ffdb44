/* cmd-sim.c: `peko sim SCENARIO`, one scenario in the simulator.
 *
 * The frame (options, scenario, database, progress, report) is the one
 * `peko testbed` uses too (scenario-cmd.h); here are the simulator's own
 * parts: --max-memory, the run, and the lines about the simulation.
 */
#include <stdio.h>

#include "budget.h"
#include "cli.h"
#include "scenario-cmd.h"
#include "sim.h"

static char *max_memory_arg;

static const GOptionEntry sim_entries[] = {
    {"max-memory", 0, 0, G_OPTION_ARG_STRING, &max_memory_arg,
     "Refuse a run estimated to need more than SIZE (e.g. 8GiB; default: "
     "the memory available now; 0: no check)",
     "SIZE"},
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
    run_sim_result r;
} report_ctx;

/* The lines about the simulation itself, before the report's body. */
static void append_head(GString *out, const ana_run_summary *s, void *user)
{
    const report_ctx *ctx = user;
    const scn_scenario *sc = ctx->sc;
    const run_sim_result *r = &ctx->r;
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
/* The command (scenario-cmd.h).                                        */

static int check(void *user, const scn_scenario *sc,
                 const cli_scenario_args *args)
{
    (void)user;
    (void)args;
    uint64_t max_memory;
    gboolean max_memory_given;
    if (!cli_parse_max_memory("sim", max_memory_arg, &max_memory,
                              &max_memory_given))
        return CLI_EXIT_USAGE;
    GError *error = NULL;
    if (!run_sim_check_memory(sc, max_memory, max_memory_given, &error)) {
        fprintf(stderr, "peko sim: %s\n", error->message);
        g_error_free(error);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static gboolean run(void *user, const scn_scenario *sc, const char *db_path,
                    const cli_scenario_args *args, cli_progress *bar,
                    cli_report_run_args *report, GError **error)
{
    report_ctx *ctx = user;
    run_sim_options opts = {
        .db_path = db_path,
        .pcap_path = args->out,
        .print = args->print,
        .progress = progress_cb,
        .progress_user = bar,
        .stop = &cli_stop_requested,
    };
    if (!run_sim(sc, &opts, &ctx->r, error))
        return FALSE;
    ctx->sc = sc;
    report->run_id = ctx->r.run_id;
    report->complete = ctx->r.complete;
    report->reached_us = ctx->r.sim_time_us;
    report->head = append_head;
    report->user = ctx;
    return TRUE;
}

static const cli_scenario_cmd sim_cmd = {
    .name = "sim",
    .parameter = "SCENARIO - run a scenario in the deterministic simulator",
    .summary =
        "Runs the scenario file (see docs/scenarios.md and scenarios/*.ini),\n"
        "records it into SQLite and prints its convergence report. The same\n"
        "scenario and seed give the same run, bit for bit (see the trace).",
    .description =
        "Exit status: 0 when the run completed, 1 when it was\n"
        "interrupted or could not be recorded, 2 for a bad command\n"
        "line or scenario, or a run estimated to need more memory\n"
        "than --max-memory (default: what the machine has).",
    .seed_help = "Run seed, 0 to 2^63-1 (default: the scenario's)",
    .verbose_help = "Report every metadata rumor and the run's parameters",
    .out_option = "pcap",
    .out_help =
        "Write every delivered datagram to FILE (pcap, virtual timestamps)",
    .out_arg = "FILE",
    .entries = sim_entries,
    .check = check,
    .run = run,
};

int cli_cmd_sim(int argc, char **argv)
{
    report_ctx ctx = {0};
    int status = cli_scenario_main(&sim_cmd, &ctx, argc, argv);
    g_clear_pointer(&max_memory_arg, g_free);
    return status;
}
