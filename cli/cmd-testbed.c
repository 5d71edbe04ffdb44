/* cmd-testbed.c: `peko testbed SCENARIO`, one scenario on real sockets.
 *
 * Loads and checks the scenario (a bad one never starts a run), runs its
 * nodes as real engines on the loopback (testbed.h) with a progress bar
 * on a terminal, records the run into SQLite (a temporary file unless
 * --db names one) with the same tables as `peko sim`, and prints the
 * same convergence report, read back from that database. With --capture
 * it also records the traffic with libpcap and sets it against the
 * engines' counters.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "netem.h"
#include "report-print.h"
#include "schema.h"
#include "summary.h"
#include "testbed.h"

/* A worker (or the one process) that ran a step of the timeline later
 * than this after its time is said to have fallen behind: beyond a few
 * milliseconds the loop, not the network, sets the times measured. */
#define CLI_TESTBED_BEHIND_US 10000

static char *seed_arg;
static char *db_arg;
static char *capture_arg;
static char **set_args;
static gboolean verbose_arg;
static gboolean print_arg;
static gboolean netem_arg;
static char *workers_arg;

static const GOptionEntry testbed_entries[] = {
    {"seed", 's', 0, G_OPTION_ARG_STRING, &seed_arg,
     "Run seed, 0 to 2^63-1 (default: the scenario's): seeds the engines,"
     " the loss and the latency draws",
     "N"},
    {"db", 'd', 0, G_OPTION_ARG_FILENAME, &db_arg,
     "Record the run into FILE (SQLite; runs are appended). Default: a "
     "temporary file, removed after the report",
     "FILE"},
    {"capture", 0, 0, G_OPTION_ARG_FILENAME, &capture_arg,
     "Capture the cluster's traffic on the loopback into FILE (pcap; needs"
     " CAP_NET_RAW) and reconcile it with the engines' counters",
     "FILE"},
    {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &set_args,
     "Override a scenario key, e.g. --set engine.amount=4 (repeatable)",
     "GROUP.KEY=VALUE"},
    {"netem", 0, 0, G_OPTION_ARG_NONE, &netem_arg,
     "Kernel faults instead: network namespaces and tc netem (root; see"
     " docs/testbed.md)",
     NULL},
    {"workers", 'w', 0, G_OPTION_ARG_STRING, &workers_arg,
     "Split the nodes over K processes, one loop each (default: the"
     " number of online cores, at most one per node; 1 with --capture)",
     "K"},
    {"print", 'p', 0, G_OPTION_ARG_NONE, &print_arg,
     "Show the engines' console lines (pekonode's format)", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose_arg,
     "Report every metadata rumor", NULL},
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
    const run_testbed_result *r;
    const char *capture_path;
} report_ctx;

/* The lines about the testbed itself, before the report's body. */
static void append_head(GString *out, const ana_run_summary *s, void *user)
{
    const report_ctx *ctx = user;
    const scn_scenario *sc = ctx->sc;
    const run_testbed_result *r = ctx->r;
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
    if (ctx->r->captured)
        print_capture(out, ctx->capture_path, &ctx->r->capture);
}

/* ------------------------------------------------------------------ */

static void free_args(void)
{
    g_clear_pointer(&workers_arg, g_free);
    g_clear_pointer(&seed_arg, g_free);
    g_clear_pointer(&db_arg, g_free);
    g_clear_pointer(&capture_arg, g_free);
    g_clear_pointer(&set_args, g_strfreev);
}

int cli_cmd_testbed(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "SCENARIO - run a scenario on real sockets on this machine");
    g_option_context_set_summary(
        context,
        "Runs the scenario's nodes as real engines on UDP or TCP sockets on\n"
        "the loopback, split over --workers processes (one main loop each),\n"
        "with the scenario's latency, loss, partitions and timeline\n"
        "emulated; records the run into SQLite with the same tables as\n"
        "'peko sim' and prints the same report (see docs/testbed.md). Runs\n"
        "take the scenario's duration in real time.");
    g_option_context_set_description(
        context, "Exit status: 0 when the run completed, 1 when it was\n"
                 "interrupted or could not be run or recorded, 2 for a bad\n"
                 "command line or scenario.");
    g_option_context_add_main_entries(context, testbed_entries, NULL);
    gboolean ok = cli_parse_positional(context, "testbed", &argc, &argv, 1);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    const cli_path paths[] = {
        {"the scenario", argv[1], FALSE},
        {"--db", db_arg, TRUE},
        {"--capture", capture_arg, TRUE},
    };
    if (!cli_check_paths("testbed", paths, G_N_ELEMENTS(paths))) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    scn_scenario *sc =
        cli_load_scenario("testbed", argv[1], set_args, seed_arg);
    if (sc == NULL) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    if (netem_arg) {
        GError *error = NULL;
        if (!run_netem_check(&error)) {
            fprintf(stderr, "peko testbed: --netem: %s\n", error->message);
            g_error_free(error);
            scn_scenario_free(sc);
            free_args();
            return CLI_EXIT_FAILED;
        }
    }
    /* One worker per online core by default, at most one per node; a
     * capture needs every socket in one process. */
    size_t workers = 1;
    if (workers_arg) {
        guint64 v;
        if (!g_ascii_string_to_unsigned(workers_arg, 10, 1, 1024, &v, NULL)) {
            fprintf(stderr, "peko testbed: --workers: '%s' is not a number"
                            " of processes from 1 to 1024\n", workers_arg);
            scn_scenario_free(sc);
            free_args();
            return CLI_EXIT_USAGE;
        }
        workers = (size_t)v;
        if (workers > 1 && capture_arg) {
            fprintf(stderr, "peko testbed: --capture needs --workers 1 (one"
                            " process sees every socket)\n");
            scn_scenario_free(sc);
            free_args();
            return CLI_EXIT_USAGE;
        }
        if (workers > sc->cluster.nodes) {
            fprintf(stderr, "peko testbed: --workers %zu: the scenario has"
                            " %u nodes, at most one worker per node\n",
                    workers, sc->cluster.nodes);
            scn_scenario_free(sc);
            free_args();
            return CLI_EXIT_USAGE;
        }
    } else if (capture_arg == NULL) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cores > 1 ? (size_t)cores : 1;
        workers = MIN(workers, (size_t)MAX(sc->cluster.nodes, 1u));
    }
    char **notes = run_testbed_notes(sc);
    for (char **n = notes; *n; n++)
        fprintf(stderr, "peko testbed: note: %s\n", *n);
    g_strfreev(notes);

    bool temporary = db_arg == NULL;
    char *db_path = temporary ? cli_temp_db("testbed") : g_strdup(db_arg);
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
    run_testbed_options opts = {
        .db_path = db_path,
        .capture_path = capture_arg,
        .print = print_arg,
        .progress = progress_cb,
        .progress_user = &bar,
        .stop = &cli_stop_requested,
        .started = started_cb,
        .started_user = &bar,
    };
    run_testbed_result result;
    GError *error = NULL;
    int status = CLI_EXIT_OK;
    gboolean ran = workers > 1
                       ? run_testbed_workers(sc, &opts, workers, &result,
                                             &error)
                       : run_testbed(sc, &opts, &result, &error);
    cli_progress_end(&bar, !ran);
    if (!ran && result.run_id == 0) {
        /* Nothing was recorded: the nodes, the capture or the database
         * could not be set up. */
        fprintf(stderr, "peko testbed: %s\n", error->message);
        g_error_free(error);
        status = CLI_EXIT_FAILED;
    } else {
        if (!ran) {
            fprintf(stderr, "peko testbed: %s\n", error->message);
            g_clear_error(&error);
        }
        report_ctx ctx = {.sc = sc, .r = &result, .capture_path = capture_arg};
        status = cli_report_run(&(cli_report_run_args){
            .command = "testbed",
            .db_path = db_path,
            .temporary = temporary,
            .run_id = result.run_id,
            .complete = result.complete,
            .ok = ran,
            .reached_us = result.run_time_us,
            .verbose = verbose_arg,
            .head = append_head,
            .tail = append_tail,
            .user = &ctx,
        });
        if (!ran)
            status = CLI_EXIT_FAILED;
    }
    cli_release_stop();
    run_testbed_result_clear(&result);
    if (temporary)
        ana_db_remove(db_path);
    g_free(db_path);
    scn_scenario_free(sc);
    free_args();
    return status;
}
