/* cmd-merge.c: `peko merge OUT.db IN.db...`, runs recorded elsewhere
 * (shards of a sweep, other machines) combined into one database
 * (analysis/merge.h). */
#include <stdio.h>

#include "cli.h"
#include "fleet.h"
#include "merge.h"

static gboolean opt_fleet;
static gboolean opt_common_clock;
static char *opt_run_label;

static const GOptionEntry merge_entries[] = {
    {"fleet", 0, 0, G_OPTION_ARG_NONE, &opt_fleet,
     "Combine the recordings of one deployment's nodes (peko node --db"
     " --run-label) into ONE run, on one clock (docs/fleet.md)",
     NULL},
    {"run-label", 0, 0, G_OPTION_ARG_STRING, &opt_run_label,
     "With --fleet: the deployment's label (default: the first input's)",
     "LABEL"},
    {"common-clock", 0, 0, G_OPTION_ARG_NONE, &opt_common_clock,
     "With --fleet: the recordings share one clock (one machine): no"
     " offsets are applied",
     NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* `peko merge --fleet OUT IN...`: one run out of many recordings. */
static int merge_fleet(int argc, char **argv)
{
    ana_fleet_options opts;
    ana_fleet_options_init(&opts);
    opts.run_label = opt_run_label;
    opts.clocks = opt_common_clock ? ANA_FLEET_CLOCKS_COMMON
                                   : ANA_FLEET_CLOCKS_MEASURED;
    ana_fleet_result res;
    GError *error = NULL;
    if (!ana_fleet_merge(argv[1], (const char *const *)argv + 2,
                         (size_t)argc - 2, &opts, &res, &error)) {
        fprintf(stderr, "peko merge: %s\n", error->message);
        g_error_free(error);
        return CLI_EXIT_FAILED;
    }
    printf("%s: run %" G_GINT64_FORMAT ", a fleet of %zu nodes from %d"
           " recording%s: %zu rumors, %zu infections\n",
           argv[1], res.run_id, res.nodes, argc - 2, argc == 3 ? "" : "s",
           res.rumors, res.infections);
    if (opt_common_clock)
        printf("clocks: one common clock (no correction)\n");
    else
        printf("clocks: node %zu's is the reference; offsets corrected up"
               " to %.3f ms, error bound up to +-%.3f ms\n",
               res.reference, (double)res.max_offset_us / 1e3,
               (double)res.max_error_us / 1e3);
    if (res.early_receipts)
        printf("%zu receipts fell before their rumor's creation by less"
               " than the error bound: counted at 0\n",
               res.early_receipts);
    return CLI_EXIT_OK;
}

int cli_cmd_merge(int argc, char **argv)
{
    GOptionContext *context =
        g_option_context_new("OUT.db IN.db... - combine recorded runs");
    g_option_context_set_summary(
        context,
        "Copies every run of each IN database into OUT (created if missing),\n"
        "one transaction per input: a failure leaves OUT as it was before\n"
        "that input. Runs OUT already holds are skipped, so merging a shard\n"
        "twice adds nothing; a sweep's shards merge into the same report as\n"
        "one unsharded sweep.\n\n"
        "With --fleet, the IN files are the recordings of one deployment's\n"
        "nodes (`peko node --db FILE --run-label LABEL`): they become ONE run\n"
        "of N nodes, every node's times put on one clock by the offsets the\n"
        "nodes measured, which peko report, compare and plot read like a\n"
        "simulated run.");
    g_option_context_set_description(
        context, "Exit status: 0 when every input merged, 1 when one could\n"
                 "not be read or OUT not written, 2 for a bad command line\n"
                 "(an input that is OUT included).");
    g_option_context_add_main_entries(context, merge_entries, NULL);
    gboolean ok = cli_parse_between(context, "merge", &argc, &argv, 2, -1);
    g_option_context_free(context);
    if (ok && !opt_fleet && (opt_run_label || opt_common_clock)) {
        cli_usage_error("merge", "--run-label and --common-clock go with"
                                 " --fleet");
        ok = FALSE;
    }
    if (!ok) {
        g_clear_pointer(&opt_run_label, g_free);
        return CLI_EXIT_USAGE;
    }
    cli_path *paths = g_new0(cli_path, (size_t)argc - 1);
    paths[0] = (cli_path){"the output", argv[1], TRUE};
    for (int i = 2; i < argc; i++)
        paths[i - 1] = (cli_path){"the input", argv[i], FALSE};
    ok = cli_check_paths("merge", paths, (size_t)argc - 1);
    g_free(paths);
    if (!ok) {
        g_clear_pointer(&opt_run_label, g_free);
        return CLI_EXIT_USAGE;
    }
    if (opt_fleet) {
        int status = merge_fleet(argc, argv);
        g_clear_pointer(&opt_run_label, g_free);
        return status;
    }

    int status = CLI_EXIT_OK;
    ana_merge_stats total = {0};
    for (int i = 2; i < argc; i++) {
        ana_merge_stats stats = {0};
        GError *error = NULL;
        if (!ana_merge(argv[1], argv[i], &stats, &error)) {
            fprintf(stderr, "peko merge: %s\n", error->message);
            g_error_free(error);
            status = CLI_EXIT_FAILED;
            continue;
        }
        printf("%s: %zu run%s copied, %zu already present\n", argv[i],
               stats.copied, stats.copied == 1 ? "" : "s", stats.duplicates);
        total.copied += stats.copied;
        total.duplicates += stats.duplicates;
        total.incomplete += stats.incomplete;
    }
    printf("%s: %zu run%s added", argv[1], total.copied,
           total.copied == 1 ? "" : "s");
    if (total.incomplete)
        printf(" (%zu not complete: reports leave them out)",
               total.incomplete);
    printf("\n");
    return status;
}
