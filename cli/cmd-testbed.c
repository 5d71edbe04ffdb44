/* cmd-testbed.c: `peko testbed SCENARIO`, one scenario on real sockets.
 *
 * The frame (options, scenario, database, progress, report) is the one
 * `peko sim` uses (scenario-cmd.h); here are the testbed's own parts: its
 * nodes as real engines on the loopback (testbed.h), in --workers
 * processes, the lines about the testbed, and with --capture the traffic
 * recorded with libpcap and set against the engines' counters.
 */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "netem.h"
#include "scenario-cmd.h"
#include "testbed.h"

/* A worker (or the one process) that ran a step of the timeline later
 * than this after its time is said to have fallen behind: beyond a few
 * milliseconds the loop, not the network, sets the times measured. */
#define CLI_TESTBED_BEHIND_US 10000

static gboolean netem_arg;
static char *workers_arg;

static const GOptionEntry testbed_entries[] = {
    {"netem", 0, 0, G_OPTION_ARG_NONE, &netem_arg,
     "Kernel faults instead: network namespaces and tc netem (root; see"
     " docs/testbed.md)",
     NULL},
    {"workers", 'w', 0, G_OPTION_ARG_STRING, &workers_arg,
     "Split the nodes over K processes, one loop each (default: the"
     " number of online cores, at most one per node; 1 with --capture)",
     "K"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void progress_cb(void *user, int64_t now_us, int64_t end_us,
                        size_t live, uint64_t deliveries)
{
    cli_progress *p = user;
    double wall_s = (double)(g_get_monotonic_time() - p->start_wall_us) / 1e6;
    char detail[96];
    g_snprintf(detail, sizeof detail,
               "%.1f/%.1f s  %zu nodes live  %.0f deliveries/s",
               (double)now_us / 1e6, (double)end_us / 1e6, live,
               wall_s > 0 ? (double)deliveries / wall_s : 0);
    cli_progress_draw(p, end_us > 0 ? (double)now_us / (double)end_us : 1.0,
                      detail);
}

/* The workers' process ids, on stderr: who to look at (or, in a test,
 * whom to kill) while the run goes on. */
static void started_cb(void *user, const pid_t *pids, size_t n)
{
    cli_progress *p = user;
    GString *s = g_string_new("peko testbed: workers started, pids");
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(s, " %ld", (long)pids[i]);
    if (p->enabled)
        fputc('\n', stderr);
    fprintf(stderr, "%s\n", s->str);
    g_string_free(s, TRUE);
}

/* ------------------------------------------------------------------ */
/* The report.                                                          */

static void print_capture(GString *out, const char *path,
                          const run_testbed_capture *c)
{
    const tp_capture_stats *st = &c->stats;
    g_string_append_printf(out, "capture: %s, %" G_GUINT64_FORMAT
                                " frames",
                           path, st->frames);
    if (st->kernel_stats)
        g_string_append_printf(out,
                               " (kernel: %" G_GUINT64_FORMAT
                               " through the filter, %" G_GUINT64_FORMAT
                               " dropped, %" G_GUINT64_FORMAT
                               " dropped by the interface)",
                               st->kernel_received, st->kernel_dropped,
                               st->interface_dropped);
    g_string_append_c(out, '\n');
    g_string_append_printf(out, "  %-14s %12s %12s %10s\n", "type",
                           "captured", "engines sent", "missing");
    uint64_t captured = 0, sent = 0, captured_bytes = 0, sent_bytes = 0;
    for (size_t t = 1; t < PEKO_MSG_TYPE_COUNT; t++) {
        captured += st->packets[t];
        sent += c->engine_sent[t];
        captured_bytes += st->bytes[t];
        sent_bytes += c->engine_sent_bytes[t];
        g_string_append_printf(out,
                               "  %-14s %12" G_GUINT64_FORMAT
                               " %12" G_GUINT64_FORMAT " %10" G_GINT64_FORMAT
                               "\n",
                               peko_msg_type_name((peko_msg_type)t),
                               st->packets[t], c->engine_sent[t],
                               (int64_t)(c->engine_sent[t] - st->packets[t]));
    }
    g_string_append_printf(out,
                           "  %-14s %12" G_GUINT64_FORMAT
                           " %12" G_GUINT64_FORMAT " %10" G_GINT64_FORMAT
                           "\n",
                           "all", captured, sent,
                           (int64_t)(sent - captured));
    g_string_append_printf(out,
                           "  %-14s %12" G_GUINT64_FORMAT
                           " %12" G_GUINT64_FORMAT " %10" G_GINT64_FORMAT
                           "\n",
                           "bytes", captured_bytes, sent_bytes,
                           (int64_t)(sent_bytes - captured_bytes));
    uint64_t explained = c->filter_lost + c->filter_partitioned +
                         c->delay_pending + c->tcp_send_dropped;
    g_string_append_printf(
        out,
        "  never on the wire: %" G_GUINT64_FORMAT " lost and %"
        G_GUINT64_FORMAT " partitioned by the filter, %" G_GUINT64_FORMAT
        " still delayed at the end, %" G_GUINT64_FORMAT
        " dropped by TCP before the socket: %" G_GUINT64_FORMAT
        " in all, %" G_GINT64_FORMAT " unexplained\n",
        c->filter_lost, c->filter_partitioned, c->delay_pending,
        c->tcp_send_dropped, explained,
        (int64_t)(sent - captured) - (int64_t)explained);
    if (st->packets[0])
        g_string_append_printf(out, "  %" G_GUINT64_FORMAT
                                    " captured messages were not peko"
                                    " packets\n",
                               st->packets[0]);
    if (st->cut || st->tcp_gaps || st->undecoded)
        g_string_append_printf(out,
                               "  cut %" G_GUINT64_FORMAT ", TCP gaps %"
                               G_GUINT64_FORMAT ", undecoded %"
                               G_GUINT64_FORMAT
                               ": the counts are a lower bound\n",
                               st->cut, st->tcp_gaps, st->undecoded);
    g_string_append_printf(out, "  receiving sockets dropped %"
                                G_GUINT64_FORMAT
                                " (captured, never read)\n",
                           c->kernel_dropped);
}

typedef struct report_ctx {
    const scn_scenario *sc;
    run_testbed_result r;
    const char *capture_path;
    size_t workers;           /* chosen by check() */
} report_ctx;

/* The lines about the testbed itself, before the report's body. */
static void append_head(GString *out, const ana_run_summary *s, void *user)
{
    const report_ctx *ctx = user;
    const scn_scenario *sc = ctx->sc;
    const run_testbed_result *r = &ctx->r;
    g_string_append_printf(out,
                           "%s: %zu nodes on the loopback, %s ports %u-%u,"
                           " seed %" G_GUINT64_FORMAT ", run %"
                           G_GINT64_FORMAT " (%s)\n",
                           sc->name, r->nodes,
                           sc->engine.protocol == PEKO_PROTOCOL_TCP ? "TCP"
                                                                    : "UDP",
                           r->port_first, r->port_last, sc->cluster.seed,
                           r->run_id, s->status);
    g_string_append_printf(out,
                           "  ran %.3f s of real time, %.2f s of CPU"
                           " (%.0f%% of one core), peak memory %.1f MiB\n",
                           (double)r->run_time_us / 1e6, r->cpu_s,
                           r->wall_s > 0 ? 100 * r->cpu_s / r->wall_s : 0,
                           (double)r->peak_rss_kib / 1024.0);
    g_string_append_printf(out,
                           "  deliveries %" G_GUINT64_FORMAT ", %"
                           G_GUINT64_FORMAT
                           " messages delayed for the scenario's latency,"
                           " timeline at most ",
                           r->deliveries, r->delayed);
    cli_report_append_time(out, r->late_max_us);
    g_string_append(out, " late\n");
    if (r->workers > 1) {
        g_string_append_printf(out, "  %zu workers, timeline at most", r->workers);
        for (size_t i = 0; i < r->workers; i++) {
            g_string_append(out, i ? ", " : " ");
            cli_report_append_time(out, r->worker_late_us[i]);
        }
        g_string_append(out, " late in each\n");
    }
    for (size_t i = 0; i < r->workers; i++)
        if (r->worker_late_us[i] > CLI_TESTBED_BEHIND_US) {
            g_string_append_printf(out, "  worker %zu fell behind: a step ran ",
                                   i);
            cli_report_append_time(out, r->worker_late_us[i]);
            g_string_append(out, " after its time; its nodes measured the"
                                 " machine, not the protocol\n");
        }
    if (r->workers <= 1 && r->late_max_us > CLI_TESTBED_BEHIND_US) {
        g_string_append(out, "  the testbed fell behind: a step ran ");
        cli_report_append_time(out, r->late_max_us);
        g_string_append(out, " after its time (--workers splits the nodes"
                             " over more cores)\n");
    }
}
/* The capture's reconciliation, after the report's body. */
static void append_tail(GString *out, const ana_run_summary *s, void *user)
{
    (void)s;
    const report_ctx *ctx = user;
    if (ctx->r.captured)
        print_capture(out, ctx->capture_path, &ctx->r.capture);
}

/* ------------------------------------------------------------------ */
/* The command (scenario-cmd.h).                                        */

static int check(void *user, const scn_scenario *sc,
                 const cli_scenario_args *args)
{
    report_ctx *ctx = user;
    if (netem_arg) {
        GError *error = NULL;
        if (!run_netem_check(&error)) {
            fprintf(stderr, "peko testbed: --netem: %s\n", error->message);
            g_error_free(error);
            return CLI_EXIT_FAILED;
        }
    }
    /* One worker per online core by default, at most one per node; a
     * capture needs every socket in one process. */
    ctx->workers = 1;
    if (workers_arg) {
        guint64 v;
        if (!g_ascii_string_to_unsigned(workers_arg, 10, 1, 1024, &v, NULL)) {
            fprintf(stderr, "peko testbed: --workers: '%s' is not a number"
                            " of processes from 1 to 1024\n", workers_arg);
            return CLI_EXIT_USAGE;
        }
        ctx->workers = (size_t)v;
        if (ctx->workers > 1 && args->out) {
            fprintf(stderr, "peko testbed: --capture needs --workers 1 (one"
                            " process sees every socket)\n");
            return CLI_EXIT_USAGE;
        }
        if (ctx->workers > sc->cluster.nodes) {
            fprintf(stderr, "peko testbed: --workers %zu: the scenario has"
                            " %u nodes, at most one worker per node\n",
                    ctx->workers, sc->cluster.nodes);
            return CLI_EXIT_USAGE;
        }
    } else if (args->out == NULL) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        ctx->workers = cores > 1 ? (size_t)cores : 1;
        ctx->workers = MIN(ctx->workers, (size_t)MAX(sc->cluster.nodes, 1u));
    }
    char **notes = run_testbed_notes(sc);
    for (char **n = notes; *n; n++)
        fprintf(stderr, "peko testbed: note: %s\n", *n);
    g_strfreev(notes);
    return CLI_EXIT_OK;
}

static gboolean run(void *user, const scn_scenario *sc, const char *db_path,
                    const cli_scenario_args *args, cli_progress *bar,
                    cli_report_run_args *report, GError **error)
{
    report_ctx *ctx = user;
    run_testbed_options opts = {
        .db_path = db_path,
        .capture_path = args->out,
        .print = args->print,
        .progress = progress_cb,
        .progress_user = bar,
        .stop = &cli_stop_requested,
        .started = started_cb,
        .started_user = bar,
    };
    gboolean ran = ctx->workers > 1
                       ? run_testbed_workers(sc, &opts, ctx->workers,
                                             &ctx->r, error)
                       : run_testbed(sc, &opts, &ctx->r, error);
    /* Recorded (run_id set) even when it failed: then it is reported. */
    ctx->sc = sc;
    ctx->capture_path = args->out;
    report->run_id = ctx->r.run_id;
    report->complete = ctx->r.complete;
    report->reached_us = ctx->r.run_time_us;
    report->head = append_head;
    report->tail = append_tail;
    report->user = ctx;
    return ran;
}

static const cli_scenario_cmd testbed_cmd = {
    .name = "testbed",
    .parameter = "SCENARIO - run a scenario on real sockets on this machine",
    .summary =
        "Runs the scenario's nodes as real engines on UDP or TCP sockets on\n"
        "the loopback, split over --workers processes (one main loop each),\n"
        "with the scenario's latency, loss, partitions and timeline\n"
        "emulated; records the run into SQLite with the same tables as\n"
        "'peko sim' and prints the same report (see docs/testbed.md). Runs\n"
        "take the scenario's duration in real time.",
    .description = "Exit status: 0 when the run completed, 1 when it was\n"
                   "interrupted or could not be run or recorded, 2 for a bad\n"
                   "command line or scenario.",
    .seed_help =
        "Run seed, 0 to 2^63-1 (default: the scenario's): seeds the engines,"
        " the loss and the latency draws",
    .verbose_help = "Report every metadata rumor",
    .out_option = "capture",
    .out_help =
        "Capture the cluster's traffic on the loopback into FILE (pcap; needs"
        " CAP_NET_RAW) and reconcile it with the engines' counters",
    .out_arg = "FILE",
    .entries = testbed_entries,
    .check = check,
    .run = run,
};

int cli_cmd_testbed(int argc, char **argv)
{
    report_ctx ctx = {0};
    int status = cli_scenario_main(&testbed_cmd, &ctx, argc, argv);
    run_testbed_result_clear(&ctx.r);
    g_clear_pointer(&workers_arg, g_free);
    netem_arg = FALSE;
    return status;
}
