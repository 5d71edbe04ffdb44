/* cmd-demo.c: `peko demo`, a small cluster in the simulator.
 *
 * Starts N nodes in one simulated world (1 s cycle so it is over quickly
 * in virtual time), joins each through node 0, runs 10 virtual seconds,
 * has node 2 publish metadata, runs 10 more, then shows what every node
 * sees. Exits 0 only if every node lists every node and holds the
 * metadata: the demo doubles as a smoke test of the whole engine.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "world.h"

#define DEMO_NODES_DEFAULT 5
#define DEMO_NODES_MIN 3       /* node 2 publishes */
#define DEMO_NODES_MAX 1000    /* every node lists every node: n^2 memory */
#define DEMO_SEED_DEFAULT 1
#define DEMO_CYCLE_US 1000000LL
#define DEMO_PHASE_US (10 * 1000000LL)
#define DEMO_PUBLISHER 2
#define DEMO_METADATA "hello from peko"
#define DEMO_METADATA_SHOWN 40 /* bytes of metadata in the table */

/* Numbers are taken as strings and parsed after GOption, so a bad value
 * gets a message that names the option and its range. */
static char *nodes_arg;
static char *seed_arg;
static gboolean print_arg;

static const GOptionEntry demo_entries[] = {
    {"nodes", 'n', 0, G_OPTION_ARG_STRING, &nodes_arg,
     "Number of nodes, 3 to 1000 (default 5); traffic grows as N squared",
     "N"},
    {"seed", 's', 0, G_OPTION_ARG_STRING, &seed_arg,
     "Run seed, 0 to 2^64-1: same seed, same run (default 1)", "N"},
    {"print", 'p', 0, G_OPTION_ARG_NONE, &print_arg,
     "Show the engine's console lines (pekonode's format)", NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

typedef struct demo_options {
    size_t nodes;
    uint64_t seed;
    bool print;
} demo_options;

/* Parses the command line into *opts; returns CLI_EXIT_OK or reports the
 * problem and returns CLI_EXIT_USAGE. */
static int parse_options(int argc, char **argv, demo_options *opts)
{
    GOptionContext *context =
        g_option_context_new("- a small cluster in the simulator");
    g_option_context_set_summary(
        context,
        "Starts a cluster of simulated nodes (1 s cycle, 1 ms one-way latency),\n"
        "joins each through node 0, runs 10 virtual seconds, has node 2 publish\n"
        "\"" DEMO_METADATA "\", runs 10 more, and shows every node's view.");
    g_option_context_set_description(
        context,
        "Exit status: 0 if every node lists every node and holds the metadata,\n"
        "1 if not, 2 for a bad command line.");
    g_option_context_add_main_entries(context, demo_entries, NULL);
    gboolean ok = cli_parse(context, "demo", &argc, &argv);
    g_option_context_free(context);

    uint64_t nodes = DEMO_NODES_DEFAULT, seed = DEMO_SEED_DEFAULT;
    GError *error = NULL;
    if (ok && nodes_arg)
        ok = cli_parse_u64("--nodes", nodes_arg, DEMO_NODES_MIN, DEMO_NODES_MAX,
                           &nodes, &error);
    if (ok && seed_arg)
        ok = cli_parse_u64("--seed", seed_arg, 0, UINT64_MAX, &seed, &error);
    if (error) {
        cli_usage_error("demo", "%s", error->message);
        g_error_free(error);
    }
    g_clear_pointer(&nodes_arg, g_free);
    g_clear_pointer(&seed_arg, g_free);
    opts->nodes = (size_t)nodes;
    opts->seed = seed;
    opts->print = print_arg;
    return ok ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

static void format_version(const peko_version *v, char *buf, size_t size)
{
    if (v->counter == 0) {
        g_strlcpy(buf, "-", size);
        return;
    }
    char origin[PEKO_ADDR_STRLEN];
    peko_addr_format(&v->origin, origin);
    g_snprintf(buf, size, "%" G_GUINT64_FORMAT "@%s", (guint64)v->counter,
               origin);
}

/* True if node i lists exactly every node of the world. */
static bool has_full_list(sim_world *w, size_t i)
{
    peko_nodelist *nl = sim_world_node(w, i);
    size_t n = sim_world_size(w);
    if (peko_nodelist_count(nl) != n)
        return false;
    for (size_t j = 0; j < n; j++)
        if (!peko_nodelist_contains(nl, sim_world_addr(w, j)))
            return false;
    return true;
}

static bool has_metadata(sim_world *w, size_t i)
{
    size_t n;
    const uint8_t *meta = peko_nodelist_read(sim_world_node(w, i), &n);
    return meta && n == strlen(DEMO_METADATA) &&
           memcmp(meta, DEMO_METADATA, n) == 0;
}

static void print_table(sim_world *w)
{
    size_t n = sim_world_size(w);
    printf("%5s  %-16s %9s  %-22s %s\n", "node", "address", "list",
           "metadata version", "metadata");
    for (size_t i = 0; i < n; i++) {
        peko_nodelist *nl = sim_world_node(w, i);
        char addr[PEKO_ADDR_STRLEN], version[PEKO_ADDR_STRLEN + 24];
        peko_addr_format(sim_world_addr(w, i), addr);
        peko_version v;
        peko_nodelist_metadata_version(nl, &v);
        format_version(&v, version, sizeof version);
        size_t n_meta;
        const uint8_t *meta = peko_nodelist_read(nl, &n_meta);
        GString *shown = g_string_new(NULL);
        if (meta) {
            g_string_append_c(shown, '"');
            cli_append_escaped(shown, meta, n_meta, DEMO_METADATA_SHOWN);
            g_string_append_c(shown, '"');
        } else {
            g_string_append_c(shown, '-');
        }
        char list[32];
        g_snprintf(list, sizeof list, "%zu/%zu", peko_nodelist_count(nl), n);
        printf("%5zu  %-16s %9s  %-22s %s\n", i, addr, list, version,
               shown->str);
        g_string_free(shown, TRUE);
    }
}

/* Reports every node that falls short; returns how many do. */
static size_t report_failures(sim_world *w)
{
    size_t n = sim_world_size(w), bad = 0;
    for (size_t i = 0; i < n; i++) {
        bool list_ok = has_full_list(w, i), meta_ok = has_metadata(w, i);
        if (list_ok && meta_ok)
            continue;
        bad++;
        fprintf(stderr, "peko demo: node %zu", i);
        if (!list_ok)
            fprintf(stderr, " lists %zu of %zu nodes%s",
                    peko_nodelist_count(sim_world_node(w, i)), n,
                    meta_ok ? "" : " and");
        if (!meta_ok)
            fprintf(stderr, " lacks the metadata");
        fputc('\n', stderr);
    }
    return bad;
}

int cli_cmd_demo(int argc, char **argv)
{
    demo_options opts;
    int status = parse_options(argc, argv, &opts);
    if (status != CLI_EXIT_OK)
        return status;

    size_t n = opts.nodes;
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = DEMO_CYCLE_US;
    config.engine.is_print = opts.print;
    sim_world *w;
    int rc = sim_world_new(n, &config, opts.seed, &w);
    if (rc < 0) {
        fprintf(stderr, "peko demo: cannot create the world: %s\n",
                g_strerror(-rc));
        return CLI_EXIT_FAILED;
    }

    printf("peko demo: %zu nodes, seed %" G_GUINT64_FORMAT
           ", cycle 1 s, one-way latency %.3g ms\n",
           n, (guint64)opts.seed, (double)config.latency_us / 1000.0);
    fflush(stdout);

    int64_t wall_start_us = g_get_monotonic_time();

    /* Every node but node 0 learns node 0 (pekonode's Set), then joins. */
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(sim_world_addr(w, 0), host);
    peko_node seed_node = {.addr = host, .port = config.port, .name = "node-0"};
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i != 0)
            rc = peko_nodelist_set(sim_world_node(w, i), &seed_node);
        if (rc == 0)
            rc = peko_nodelist_join(sim_world_node(w, i));
    }
    if (rc == 0) {
        sim_world_run_until(w, DEMO_PHASE_US);
        rc = peko_nodelist_publish(sim_world_node(w, DEMO_PUBLISHER),
                                   (const uint8_t *)DEMO_METADATA,
                                   strlen(DEMO_METADATA));
    }
    if (rc < 0) {
        fprintf(stderr, "peko demo: the engine refused: %s\n",
                g_strerror(-rc));
        sim_world_free(w);
        return CLI_EXIT_FAILED;
    }
    sim_world_run_until(w, 2 * DEMO_PHASE_US);

    int64_t wall_us = g_get_monotonic_time() - wall_start_us;

    fflush(stdout);
    if (opts.print)
        putchar('\n');
    print_table(w);

    sim_world_stats st;
    sim_world_stats_get(w, &st);
    printf("\nvirtual time %.3f s, events %" G_GUINT64_FORMAT
           ", deliveries %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
           " bytes), wall time %.1f ms, trace %016" G_GINT64_MODIFIER "x\n",
           (double)st.now_us / 1e6, (guint64)st.events,
           (guint64)st.deliveries, (guint64)st.delivered_bytes,
           (double)wall_us / 1000.0, (guint64)sim_world_trace_hash(w));
    fflush(stdout);

    size_t bad = report_failures(w);
    if (bad) {
        fprintf(stderr,
                "peko demo: not converged: %zu of %zu nodes fall short after "
                "%.3f s of virtual time\n",
                bad, n, (double)st.now_us / 1e6);
    } else {
        printf("converged: all %zu nodes list every node and hold the "
               "metadata\n", n);
    }
    sim_world_free(w);
    return bad ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}
