/* cmd-node.c: `peko node`, one gossip node on real sockets as a daemon.
 *
 * Reads its settings from a config file and flags (node-config.h), binds
 * the transport, joins its seed nodes and gossips until SIGTERM or
 * SIGINT. A control socket (ctl-server.h) answers `peko ctl`; with
 * --metrics an HTTP endpoint (metrics-http.h) serves the same counters
 * to Prometheus. SIGHUP reloads the keys from the key file or the config
 * file. With --db the node records itself into SQLite, as the simulator
 * does. Under systemd it reports readiness, reloads and its watchdog
 * (sd-notify.h) and logs with journald's priorities (journal-log.h).
 * docs/node.md has it all.
 */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timex.h>
#include <unistd.h>

#include "cli.h"
#include "ctl-proto.h"
#include "ctl-server.h"
#include "journal-log.h"
#include "metrics-http.h"
#include "node-config.h"
#include "node-seeds.h"
#include "peko-transport.h"
#include "recorder.h"
#include "scenario.h"
#include "sd-notify.h"

/* How often the recording is written out while the node runs. */
#define NODE_FLUSH_INTERVAL_S 10

/* Of every origin's heartbeats, the fleet rows keep sequence 1, M+1,
 * 2M+1, ...: a node receives N heartbeats a cycle, and a daemon runs for
 * months. Metadata rumors are all kept. */
#define NODE_FLEET_HEARTBEAT_EVERY 10

/* The test hook of docs/fleet.md: the node's clock skewed by this many
 * microseconds (peko_transport_options.wall_skew_us). */
#define NODE_SKEW_ENV "PEKO_TEST_WALL_SKEW_US"

#define LOG_PREFIX "peko node: "

static cli_node_args args;

static const GOptionEntry node_entries[] = {
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &args.config_path,
     "Read settings from FILE (.ini, group [node]); flags override it",
     "FILE"},
    {"addr", 0, 0, G_OPTION_ARG_STRING, &args.addr,
     "This node's address as others reach it (default 127.0.0.1)", "IP"},
    {"port", 'P', 0, G_OPTION_ARG_STRING, &args.port,
     "This node's port (required)", "PORT"},
    {"name", 'n', 0, G_OPTION_ARG_STRING, &args.name, "Node name", "NAME"},
    {"data", 0, 0, G_OPTION_ARG_STRING, &args.data,
     "Node private data", "TEXT"},
    {"seeds", 's', 0, G_OPTION_ARG_STRING, &args.seeds,
     "Nodes to join through, comma-separated (10.0.0.2:8000,[::1]:8001)",
     "HOST:PORT,..."},
    {"listen", 'l', 0, G_OPTION_ARG_STRING, &args.listen_addr,
     "Address to bind (default 0.0.0.0, or :: for an IPv6 node)", "IP"},
    {"protocol", 0, 0, G_OPTION_ARG_STRING, &args.protocol,
     "udp (default) or tcp", "PROTO"},
    {"amount", 0, 0, G_OPTION_ARG_STRING, &args.amount,
     "Fan-out (default 3)", "N"},
    {"cycle", 0, 0, G_OPTION_ARG_STRING, &args.cycle,
     "Heartbeat period, e.g. 6s or 500ms (default 6s)", "DURATION"},
    {"buffer", 0, 0, G_OPTION_ARG_STRING, &args.buffer,
     "Receive buffer in packets (default 3 x amount)", "N"},
    {"size", 0, 0, G_OPTION_ARG_STRING, &args.size,
     "Largest packet, e.g. 16KiB (default 16384)", "BYTES"},
    {"timeout", 0, 0, G_OPTION_ARG_STRING, &args.timeout,
     "Expire silent nodes after this (default 3 x cycle + 2s)", "DURATION"},
    {"secret-key", 'k', 0, G_OPTION_ARG_STRING, &args.secret_key,
     "Cluster key (visible to ps: prefer a key file)", "KEY"},
    {"key-file", 0, 0, G_OPTION_ARG_FILENAME, &args.key_file,
     "Read the keys from FILE, one a line, the first the sending key;"
     " SIGHUP reads it again",
     "FILE"},
    {"accepted-key", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args.accepted_keys,
     "A further key accepted on receipt, during a rotation (repeatable)",
     "KEY"},
    {"dissemination", 0, 0, G_OPTION_ARG_STRING, &args.dissemination,
     "rumor (default), classic (pekonode's forward-every-copy) or digest"
     " (no packet per heartbeat: for large clusters)",
     "MODE"},
    {"exchanges", 0, 0, G_OPTION_ARG_STRING, &args.exchanges,
     "digest: peers to exchange versions with each cycle (default 1)", "N"},
    {"seen-cache", 0, 0, G_OPTION_ARG_STRING, &args.seen_cache,
     "Rumor keys remembered for duplicate suppression (default 16384)",
     "N"},
    {"print", 'p', 0, G_OPTION_ARG_NONE, &args.print,
     "Print pekonode's console lines on stdout", NULL},
    {"control", 0, 0, G_OPTION_ARG_FILENAME, &args.control,
     "Control socket (default $XDG_RUNTIME_DIR/peko-PORT.sock, or"
     " /tmp/peko-UID-PORT.sock)",
     "PATH"},
    {"db", 'd', 0, G_OPTION_ARG_FILENAME, &args.db,
     "Record the node's run into FILE (SQLite, the simulator's schema)",
     "FILE"},
    {"run-label", 0, 0, G_OPTION_ARG_STRING, &args.run_label,
     "Label the recording as part of deployment LABEL, for"
     " `peko merge --fleet`",
     "LABEL"},
    {"seed", 0, 0, G_OPTION_ARG_STRING, &args.seed,
     "Seed of the node's random stream (default: from the system)", "N"},
    {"metrics", 0, 0, G_OPTION_ARG_STRING, &args.metrics,
     "Serve the counters for Prometheus over HTTP at ADDR:PORT/metrics"
     " (a bare PORT listens on 127.0.0.1)",
     "[ADDR:]PORT"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void free_args(void)
{
    char **strings[] = {
        &args.config_path, &args.addr, &args.port, &args.name, &args.data,
        &args.seeds, &args.listen_addr, &args.protocol, &args.amount,
        &args.cycle, &args.buffer, &args.size, &args.timeout,
        &args.secret_key, &args.dissemination, &args.seen_cache,
        &args.exchanges, &args.control, &args.db, &args.seed,
        &args.metrics, &args.key_file, &args.run_label,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
        g_clear_pointer(strings[i], g_free);
    g_clear_pointer(&args.accepted_keys, g_strfreev);
    args.print = FALSE;
}

/* ------------------------------------------------------------------ */
/* The running node.                                                    */

typedef struct node_run {
    cli_node_settings settings;
    GMainLoop *loop;
    peko_transport *tp;
    run_ctl_server *ctl;
    char *control_path;
    cli_metrics_server *metrics;
    cli_node_seeds *seeds;
    ana_recorder *rec;
    int64_t start_us;
    int64_t start_wall_us;
    guint signals[3];        /* SIGTERM, SIGINT, SIGHUP sources */
    int signal_received;
} node_run;

static int64_t mono_now(void *user)
{
    (void)user;
    return g_get_monotonic_time();
}

/* The node's real-time clock: the one its engine stamps swaps with. */
static int64_t wall_now(void *user)
{
    return peko_transport_wall_us(user);
}

/* The kernel's NTP state, as chrony or ntpd keep it: when the clock is
 * marked synchronized, its estimated error (and the offset the kernel
 * is still slewing away), recorded as a 'kernel' clock estimate. An
 * unsynchronized clock (no NTP daemon, as in most containers) records
 * nothing. */
static void record_kernel_clock(node_run *run)
{
    struct timex tx = {0};
    int state = ntp_adjtime(&tx);
    if (state < 0 || state == TIME_ERROR || (tx.status & STA_UNSYNC))
        return;
    /* offset is in ns with STA_NANO, else in us; esterror in us. */
    int64_t offset_us = (tx.status & STA_NANO) ? tx.offset / 1000 : tx.offset;
    ana_recorder_clock_estimate(run->rec, 0, "kernel", NULL, offset_us,
                                tx.esterror);
}

static gboolean on_quit_signal(gpointer user)
{
    node_run *run = user;
    run->signal_received = 1;
    g_main_loop_quit(run->loop);
    return G_SOURCE_CONTINUE;
}

/* "RELOADING=1" with the time, as Type=notify-reload asks; "READY=1"
 * when done. A Type=notify service takes both as well. */
static void notify_reloading(void)
{
    char *state = g_strdup_printf("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                                  g_get_monotonic_time());
    run_notify(state);
    g_free(state);
}

/* Reads the keys again and applies them; says why not on stderr. */
static void reload_keys(node_run *run)
{
    const cli_node_settings *st = &run->settings;
    const char *path = st->key_file ? st->key_file : st->config_path;
    if (path == NULL) {
        run_log(LOG_WARNING, LOG_PREFIX,
                "SIGHUP: no key file or config file to reload keys from");
        return;
    }
    if (st->keys_from_flags) {
        run_log(LOG_WARNING, LOG_PREFIX,
                "SIGHUP: keys were given as flags, which override the"
                " file: keys unchanged");
        return;
    }
    char *secret = NULL;
    char **accepted = NULL;
    GError *error = NULL;
    gboolean read =
        st->key_file
            ? cli_node_read_key_file(path, &secret, &accepted, &error)
            : cli_node_settings_read_keys(path, &secret, &accepted, &error);
    if (!read) {
        run_log(LOG_ERR, LOG_PREFIX, "SIGHUP: %s; keys unchanged",
                error->message);
        g_error_free(error);
        return;
    }
    size_t n = accepted ? g_strv_length(accepted) : 0;
    int rc = peko_nodelist_set_keys(peko_transport_nodelist(run->tp), secret,
                                    (const char *const *)accepted, n);
    if (rc < 0)
        run_log(LOG_ERR, LOG_PREFIX,
                "SIGHUP: the keys were refused (%s); keys unchanged",
                g_strerror(-rc));
    else
        run_log(LOG_NOTICE, LOG_PREFIX,
                "SIGHUP: keys reloaded from %s (%s, %zu more accepted)", path,
                secret ? "signing" : "unsigned", n);
    g_free(secret);
    g_strfreev(accepted);
}

static gboolean on_hup(gpointer user)
{
    node_run *run = user;
    notify_reloading();
    reload_keys(run);
    run_notify("READY=1");
    return G_SOURCE_CONTINUE;
}

static gboolean on_watchdog(gpointer user)
{
    run_notify("WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

static gboolean on_flush(gpointer user)
{
    node_run *run = user;
    GError *error = NULL;
    record_kernel_clock(run);
    if (!ana_recorder_flush(run->rec, &error)) {
        run_log(LOG_ERR, LOG_PREFIX, "recording: %s", error->message);
        g_error_free(error);
    }
    return G_SOURCE_CONTINUE;
}

/* The run's parameters, for the run table: the engine's part as a
 * scenario run records it ($.engine, scn_engine_params_json), so a report
 * reads both alike; then the node's address and its seeds. */
static char *params_json(const node_run *run)
{
    peko_config c;
    peko_nodelist_config(peko_transport_nodelist(run->tp), &c);
    /* The effective configuration leaves the keys out; whether there are
     * any comes from the settings. */
    c.secret_key = run->settings.config.secret_key;
    c.accepted_keys = run->settings.config.accepted_keys;
    c.accepted_key_count = run->settings.config.accepted_key_count;
    char local[PEKO_ADDR_STRLEN];
    peko_addr_format(peko_transport_local_addr(run->tp), local);
    model_json *j = model_json_new();
    model_json_begin_object(j);
    model_json_member_string(j, "node", local);
    model_json_key(j, "engine");
    scn_engine_params_json(j, &c);
    model_json_key(j, "seeds");
    model_json_begin_array(j);
    for (size_t i = 0; i < run->settings.n_seeds; i++) {
        /* A numeric seed in its canonical form; a DNS name as given. */
        peko_addr a;
        char s[PEKO_ADDR_STRLEN];
        if (peko_addr_parse(run->settings.seed_hosts[i],
                            run->settings.seed_ports[i], &a) == 0) {
            peko_addr_format(&a, s);
            model_json_string(j, s);
        } else {
            char *named = g_strdup_printf("%s:%u", run->settings.seed_hosts[i],
                                          (unsigned)run->settings.seed_ports[i]);
            model_json_string(j, named);
            g_free(named);
        }
    }
    model_json_end_array(j);
    model_json_key(j, "fleet");
    model_json_begin_object(j);
    if (run->settings.run_label)
        model_json_member_string(j, "label", run->settings.run_label);
    model_json_member_int(j, "heartbeat_every", NODE_FLEET_HEARTBEAT_EVERY);
    model_json_end_object(j);
    model_json_end_object(j);
    return model_json_finish(j);
}

/* Opens the recording and makes it the engine's observer. The engine
 * does nothing before it joins, so nothing is missed by observing it
 * only now, once the bound address is known. */
static bool recording_start(node_run *run, GError **error)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = run->settings.config_path ? run->settings.config_path
                                              : "";
    info.seed = run->settings.seed;
    info.source = "node";
    info.nodes = 1;
    info.now_us = mono_now;
    info.fleet = true;
    info.fleet_heartbeat_every = NODE_FLEET_HEARTBEAT_EVERY;
    info.run_label = run->settings.run_label;
    info.wall_us = wall_now;
    info.wall_user = run->tp;
    char *params = params_json(run);
    info.params_json = params;
    run->rec = ana_recorder_open(run->settings.db_path, &info, error);
    g_free(params);
    if (run->rec == NULL)
        return false;
    if (!ana_recorder_add_node(run->rec, 0, peko_transport_local_addr(run->tp),
                               run->settings.name, error)) {
        g_clear_pointer(&run->rec, ana_recorder_free);
        return false;
    }
    peko_nodelist_set_observer(peko_transport_nodelist(run->tp),
                               ana_recorder_observer(),
                               ana_recorder_node_ctx(run->rec, 0));
    record_kernel_clock(run);
    return true;
}

static void recording_finish(node_run *run)
{
    peko_transport_counters k;
    peko_transport_stats(run->tp, &k);
    /* What the transport knows and the engine does not: packets it
     * handed over, and those it (or the kernel) dropped. */
    ana_recorder_traffic(run->rec, 0, 0, ANA_OUTCOME_DELIVERED, k.received,
                         k.received_bytes);
    if (k.oversize)
        ana_recorder_traffic(run->rec, 0, 0, ANA_OUTCOME_OVERSIZE, k.oversize,
                             0);
    if (k.kernel_dropped + k.tcp_send_dropped)
        ana_recorder_traffic(run->rec, 0, 0, ANA_OUTCOME_QUEUE_OVERFLOW,
                             k.kernel_dropped + k.tcp_send_dropped, 0);
    int64_t elapsed = g_get_monotonic_time() - run->start_us;
    GError *error = NULL;
    if (!ana_recorder_finish(run->rec, ANA_STATUS_COMPLETE, NULL, elapsed,
                             (double)elapsed / 1e6, 0, k.received, &error)) {
        run_log(LOG_ERR, LOG_PREFIX, "recording: %s", error->message);
        g_error_free(error);
    } else {
        run_log(LOG_INFO, LOG_PREFIX, "recorded into %s, run %" G_GINT64_FORMAT,
                run->settings.db_path, ana_recorder_run_id(run->rec));
    }
}

static uint64_t entropy_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        seed = (uint64_t)g_get_real_time() ^ (uint64_t)getpid() << 32;
    return seed & (uint64_t)INT64_MAX; /* SQLite integers are signed */
}

static int node_main(node_run *run)
{
    cli_node_settings *st = &run->settings;
    /* Handlers first: a signal that comes while the node starts (a
     * reload as soon as the control socket appears) waits for the loop
     * instead of killing the process with its default action. */
    run->signals[0] = g_unix_signal_add(SIGTERM, on_quit_signal, run);
    run->signals[1] = g_unix_signal_add(SIGINT, on_quit_signal, run);
    run->signals[2] = g_unix_signal_add(SIGHUP, on_hup, run);
    if (!st->seeded) {
        st->seed = entropy_seed();
        st->seeded = true;
    }

    peko_transport_options opts;
    peko_transport_options_init(&opts);
    opts.config = &st->config;
    opts.local = (peko_node){.addr = st->addr, .port = st->port,
                             .name = st->name, .private_data = st->data};
    opts.seeded = true;
    opts.seed = st->seed;
    GError *error = NULL;
    const char *skew = g_getenv(NODE_SKEW_ENV);
    if (skew) {
        gint64 v;
        if (!g_ascii_string_to_signed(skew, 10, -G_GINT64_CONSTANT(86400000000),
                                      G_GINT64_CONSTANT(86400000000), &v,
                                      &error)) {
            fprintf(stderr, "peko node: $%s: %s\n", NODE_SKEW_ENV,
                    error->message);
            g_error_free(error);
            return CLI_EXIT_USAGE;
        }
        opts.wall_skew_us = v;
        run_log(LOG_WARNING, LOG_PREFIX,
                "$%s: this node's clock is skewed by %" G_GINT64_FORMAT
                " us (a test hook)",
                NODE_SKEW_ENV, v);
    }
    /* Where the control socket goes, first: a directory another user
     * took refuses the node before it starts or records anything. */
    run->control_path = st->control_path
                            ? g_strdup(st->control_path)
                            : run_ctl_default_path(st->port, TRUE, &error);
    if (run->control_path == NULL) {
        fprintf(stderr, "peko node: %s\n", error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }
    run->tp = peko_transport_new(&opts, &error);
    if (run->tp == NULL) {
        run_log(LOG_ERR, LOG_PREFIX, "%s", error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }
    if (st->db_path && !recording_start(run, &error)) {
        run_log(LOG_ERR, LOG_PREFIX, "%s: %s", st->db_path, error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }

    run->ctl = run_ctl_server_new(run->control_path, NULL, run->tp, &error);
    if (run->ctl == NULL) {
        run_log(LOG_ERR, LOG_PREFIX, "%s", error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }
    if (st->metrics_host) {
        run->metrics = cli_metrics_server_new(st->metrics_host,
                                              st->metrics_port, run->tp,
                                              run->start_wall_us, &error);
        if (run->metrics == NULL) {
            run_log(LOG_ERR, LOG_PREFIX, "%s", error->message);
            g_error_free(error);
            return CLI_EXIT_FAILED;
        }
    }

    peko_nodelist *nl = peko_transport_nodelist(run->tp);
    run->seeds = cli_node_seeds_start(
        nl, peko_transport_local_addr(run->tp)->family, st->seed_hosts,
        st->seed_ports, st->n_seeds);
    int rc = peko_nodelist_join(nl);
    if (rc < 0) {
        run_log(LOG_ERR, LOG_PREFIX, "join: %s", g_strerror(-rc));
        return CLI_EXIT_FAILED;
    }
    peko_config resolved;
    peko_nodelist_config(nl, &resolved);
    char local[PEKO_ADDR_STRLEN];
    peko_addr_format(peko_transport_local_addr(run->tp), local);
    char *metrics = run->metrics
                        ? g_strdup_printf(", metrics http://%s/metrics",
                                          cli_metrics_server_address(
                                              run->metrics))
                        : g_strdup("");
    run_log(LOG_INFO, LOG_PREFIX,
            "%s over %s (listening on %s), %zu seed%s, control socket %s%s",
            local, resolved.protocol == PEKO_PROTOCOL_TCP ? "TCP" : "UDP",
            resolved.listen_addr, st->n_seeds, st->n_seeds == 1 ? "" : "s",
            run->control_path, metrics);
    g_free(metrics);

    run->loop = g_main_loop_new(NULL, FALSE);
    guint ids[2];
    ids[0] = run->rec ? g_timeout_add_seconds(NODE_FLUSH_INTERVAL_S, on_flush,
                                              run)
                      : 0;
    /* A service manager's watchdog is pinged at half its interval, from
     * the main loop, so a stuck loop is what it notices. */
    int64_t watchdog_us = run_notify_watchdog_us();
    ids[1] = watchdog_us > 0
                 ? g_timeout_add(MAX(1, (guint)MIN(watchdog_us / 2000,
                                                   G_MAXUINT)),
                                 on_watchdog, run)
                 : 0;
    /* Ready: the sockets are bound, the control socket answers. */
    char *state = g_strdup_printf("READY=1\nSTATUS=%s over %s, control"
                                  " socket %s",
                                  local,
                                  resolved.protocol == PEKO_PROTOCOL_TCP
                                      ? "TCP"
                                      : "UDP",
                                  run->control_path);
    rc = run_notify(state);
    g_free(state);
    if (rc < 0)
        run_log(LOG_WARNING, LOG_PREFIX,
                "cannot notify the service manager at $NOTIFY_SOCKET: %s",
                g_strerror(-rc));
    g_main_loop_run(run->loop);
    run_notify("STOPPING=1");
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++)
        if (ids[i])
            g_source_remove(ids[i]);
    run_log(LOG_INFO, LOG_PREFIX, "%s: shutting down", local);
    return CLI_EXIT_OK;
}

static void node_run_clear(node_run *run)
{
    /* The control socket first (its file goes), then the recording, then
     * the sockets. */
    for (size_t i = 0; i < G_N_ELEMENTS(run->signals); i++)
        if (run->signals[i])
            g_source_remove(run->signals[i]);
    run_ctl_server_free(run->ctl);
    cli_metrics_server_free(run->metrics);
    cli_node_seeds_free(run->seeds);
    if (run->rec && run->tp)
        recording_finish(run);
    if (run->tp)
        peko_nodelist_set_observer(peko_transport_nodelist(run->tp), NULL,
                                   NULL);
    ana_recorder_free(run->rec);
    peko_transport_free(run->tp);
    g_free(run->control_path);
    if (run->loop)
        g_main_loop_unref(run->loop);
    cli_node_settings_clear(&run->settings);
}

int cli_cmd_node(int argc, char **argv)
{
    GOptionContext *context =
        g_option_context_new("- run one gossip node on real sockets");
    g_option_context_set_summary(
        context,
        "Runs a pekonode-compatible node: binds UDP (or TCP), joins the seed\n"
        "nodes and gossips until SIGTERM or SIGINT. `peko ctl` talks to it\n"
        "through its control socket, Prometheus through --metrics; SIGHUP\n"
        "reloads the keys from the key file or the config file. Under\n"
        "systemd it reports readiness (Type=notify). See docs/node.md.");
    g_option_context_set_description(
        context,
        "Durations take units (200ms, 6s, 1min), sizes too (16KiB).\n"
        "Exit status: 0 after a clean shutdown, 1 when the node could not\n"
        "start (address in use, control socket taken, database refused),\n"
        "2 for a bad command line or config file.");
    g_option_context_add_main_entries(context, node_entries, NULL);
    gboolean ok = cli_parse(context, "node", &argc, &argv);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }

    node_run run = {.start_us = g_get_monotonic_time(),
                    .start_wall_us = g_get_real_time()};
    run_log_init();
    GError *error = NULL;
    if (!cli_node_settings_load(&args, &run.settings, &error)) {
        int status = cli_usage_error("node", "%s", error->message);
        g_error_free(error);
        free_args();
        return status;
    }
    free_args();
    const cli_node_settings *st = &run.settings;
    const cli_path paths[] = {
        {"--config", st->config_path, FALSE},
        {"--db", st->db_path, TRUE},
        {"--control", st->control_path, TRUE},
    };
    if (!cli_check_paths("node", paths, G_N_ELEMENTS(paths))) {
        node_run_clear(&run);
        return CLI_EXIT_USAGE;
    }
    int status = node_main(&run);
    node_run_clear(&run);
    return status;
}
