/* cmd-merge.c: `peko merge OUT.db IN.db...`, runs recorded elsewhere
 * (shards of a sweep, other machines) combined into one database
 * (analysis/merge.h). */
#include <stdio.h>

#include "cli.h"
#include "merge.h"

static const GOptionEntry merge_entries[] = {
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

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
        "one unsharded sweep.");
    g_option_context_set_description(
        context, "Exit status: 0 when every input merged, 1 when one could\n"
                 "not be read or OUT not written, 2 for a bad command line\n"
                 "(an input that is OUT included).");
    g_option_context_add_main_entries(context, merge_entries, NULL);
    gboolean ok = cli_parse_between(context, "merge", &argc, &argv, 2, -1);
    g_option_context_free(context);
    if (!ok)
        return CLI_EXIT_USAGE;
    cli_path *paths = g_new0(cli_path, (size_t)argc - 1);
    paths[0] = (cli_path){"the output", argv[1], TRUE};
    for (int i = 2; i < argc; i++)
        paths[i - 1] = (cli_path){"the input", argv[i], FALSE};
    ok = cli_check_paths("merge", paths, (size_t)argc - 1);
    g_free(paths);
    if (!ok)
        return CLI_EXIT_USAGE;

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
