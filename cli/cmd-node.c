/* cmd-node.c: `peko node`, one gossip node on real sockets as a daemon.
 *
 * Reads its settings from a config file and flags (node-config.h), binds
 * the transport, joins its seed nodes and gossips until SIGTERM or
 * SIGINT. A control socket (ctl-server.h) answers `peko ctl`. SIGHUP
 * reloads the keys from the config file. With --db the node records
 * itself into SQLite, as the simulator does. docs/node.md has it all.
 */
#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli.h"
#include "ctl-proto.h"
#include "ctl-server.h"
#include "node-config.h"
#include "peko-transport.h"
#include "recorder.h"
#include "scenario.h"

/* How often the recording is written out while the node runs. */
#define NODE_FLUSH_INTERVAL_S 10

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
     "Cluster key (visible to ps: prefer the config file)", "KEY"},
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
    {"seed", 0, 0, G_OPTION_ARG_STRING, &args.seed,
     "Seed of the node's random stream (default: from the system)", "N"},
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
    ana_recorder *rec;
    int64_t start_us;
    int signal_received;
} node_run;

static int64_t mono_now(void *user)
{
    (void)user;
    return g_get_monotonic_time();
}

static gboolean on_quit_signal(gpointer user)
{
    node_run *run = user;
    run->signal_received = 1;
    g_main_loop_quit(run->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_hup(gpointer user)
{
    node_run *run = user;
    const char *path = run->settings.config_path;
    if (path == NULL) {
        fprintf(stderr, "peko node: SIGHUP: no config file to reload keys"
                        " from\n");
        return G_SOURCE_CONTINUE;
    }
    if (run->settings.keys_from_flags) {
        fprintf(stderr, "peko node: SIGHUP: keys were given as flags, which"
                        " override the file: keys unchanged\n");
        return G_SOURCE_CONTINUE;
    }
    char *secret = NULL;
    char **accepted = NULL;
    GError *error = NULL;
    if (!cli_node_settings_read_keys(path, &secret, &accepted, &error)) {
        fprintf(stderr, "peko node: SIGHUP: %s; keys unchanged\n",
                error->message);
        g_error_free(error);
        return G_SOURCE_CONTINUE;
    }
    size_t n = accepted ? g_strv_length(accepted) : 0;
    int rc = peko_nodelist_set_keys(peko_transport_nodelist(run->tp), secret,
                                    (const char *const *)accepted, n);
    if (rc < 0)
        fprintf(stderr, "peko node: SIGHUP: the keys were refused (%s);"
                        " keys unchanged\n",
                g_strerror(-rc));
    else
        fprintf(stderr, "peko node: SIGHUP: keys reloaded from %s (%s, %zu"
                        " more accepted)\n",
                path, secret ? "signing" : "unsigned", n);
    g_free(secret);
    g_strfreev(accepted);
    return G_SOURCE_CONTINUE;
}

static gboolean on_flush(gpointer user)
{
    node_run *run = user;
    GError *error = NULL;
    if (!ana_recorder_flush(run->rec, &error)) {
        fprintf(stderr, "peko node: recording: %s\n", error->message);
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
        peko_addr a;
        char s[PEKO_ADDR_STRLEN];
        peko_addr_parse(run->settings.seed_hosts[i],
                        run->settings.seed_ports[i], &a);
        peko_addr_format(&a, s);
        model_json_string(j, s);
    }
    model_json_end_array(j);
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
        fprintf(stderr, "peko node: recording: %s\n", error->message);
        g_error_free(error);
    } else {
        fprintf(stderr, "peko node: recorded into %s, run %" G_GINT64_FORMAT
                        "\n",
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
        fprintf(stderr, "peko node: %s\n", error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }
    if (st->db_path && !recording_start(run, &error)) {
        fprintf(stderr, "peko node: %s: %s\n", st->db_path, error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }

    run->ctl = run_ctl_server_new(run->control_path, NULL, run->tp, &error);
    if (run->ctl == NULL) {
        fprintf(stderr, "peko node: %s\n", error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }

    peko_nodelist *nl = peko_transport_nodelist(run->tp);
    for (size_t i = 0; i < st->n_seeds; i++)
        peko_nodelist_set(nl, &(peko_node){.addr = st->seed_hosts[i],
                                           .port = st->seed_ports[i]});
    int rc = peko_nodelist_join(nl);
    if (rc < 0) {
        fprintf(stderr, "peko node: join: %s\n", g_strerror(-rc));
        return CLI_EXIT_FAILED;
    }
    peko_config resolved;
    peko_nodelist_config(nl, &resolved);
    char local[PEKO_ADDR_STRLEN];
    peko_addr_format(peko_transport_local_addr(run->tp), local);
    fprintf(stderr, "peko node: %s over %s (listening on %s), %zu seed%s,"
                    " control socket %s\n",
            local, resolved.protocol == PEKO_PROTOCOL_TCP ? "TCP" : "UDP",
            resolved.listen_addr, st->n_seeds, st->n_seeds == 1 ? "" : "s",
            run->control_path);

    run->loop = g_main_loop_new(NULL, FALSE);
    guint ids[4];
    ids[0] = g_unix_signal_add(SIGTERM, on_quit_signal, run);
    ids[1] = g_unix_signal_add(SIGINT, on_quit_signal, run);
    ids[2] = g_unix_signal_add(SIGHUP, on_hup, run);
    ids[3] = run->rec ? g_timeout_add_seconds(NODE_FLUSH_INTERVAL_S, on_flush,
                                              run)
                      : 0;
    g_main_loop_run(run->loop);
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++)
        if (ids[i])
            g_source_remove(ids[i]);
    fprintf(stderr, "peko node: %s: shutting down\n", local);
    return CLI_EXIT_OK;
}

static void node_run_clear(node_run *run)
{
    /* The control socket first (its file goes), then the recording, then
     * the sockets. */
    run_ctl_server_free(run->ctl);
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
        "through its control socket; SIGHUP reloads the keys from the\n"
        "config file. See docs/node.md.");
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

    node_run run = {.start_us = g_get_monotonic_time()};
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
