/* cmd-plot.c: `peko plot DB -o report.html`, a database's runs drawn as
 * one self-contained HTML page (analysis/plot.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plot.h"

static char *output_arg;

static const GOptionEntry plot_entries[] = {
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output_arg,
     "Write the page to FILE (required; replaced atomically)", "FILE"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

int cli_cmd_plot(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "DB - draw a database's runs as one HTML page");
    g_option_context_set_summary(
        context,
        "Reads the peko database DB (read-only) and writes one self-contained\n"
        "HTML page with inline SVG figures: coverage over time, infection\n"
        "time CDFs, fan-out and loss sweeps beside theory, membership\n"
        "convergence and the scenario's timeline. Repetitions of a\n"
        "configuration (same scenario and sweep point) are drawn as their\n"
        "median and range. The page needs no network and runs no script.");
    g_option_context_set_description(
        context, "Exit status: 0 when the page was written, 1 when the\n"
                 "database cannot be read (or is not a peko database) or the\n"
                 "page cannot be written, 2 for a bad command line.");
    g_option_context_add_main_entries(context, plot_entries, NULL);
    gboolean ok = cli_parse_positional(context, "plot", &argc, &argv, 1);
    g_option_context_free(context);
    if (!ok) {
        g_clear_pointer(&output_arg, g_free);
        return CLI_EXIT_USAGE;
    }
    if (output_arg == NULL || output_arg[0] == '\0') {
        g_clear_pointer(&output_arg, g_free);
        return cli_usage_error("plot", "missing --output FILE (-o)");
    }

    const char *db_path = argv[1];
    const cli_path paths[] = {
        {"the database", db_path, FALSE},
        {"--output", output_arg, TRUE},
    };
    if (!cli_check_paths("plot", paths, G_N_ELEMENTS(paths))) {
        g_clear_pointer(&output_arg, g_free);
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_OK;
    if (!g_file_test(db_path, G_FILE_TEST_EXISTS)) {
        fprintf(stderr, "peko plot: %s: %s\n", db_path, g_strerror(ENOENT));
        status = CLI_EXIT_FAILED;
    } else if (g_file_test(db_path, G_FILE_TEST_IS_DIR)) {
        fprintf(stderr, "peko plot: %s: %s\n", db_path, g_strerror(EISDIR));
        status = CLI_EXIT_FAILED;
    } else {
        GError *error = NULL;
        ana_plot_info info;
        if (ana_plot_write(db_path, output_arg, &info, &error)) {
            printf("wrote %s: %zu of %zu runs in %zu configuration%s, "
                   "%zu KiB\n",
                   output_arg, info.runs, info.runs_total, info.configs,
                   info.configs == 1 ? "" : "s", (info.bytes + 1023) / 1024);
        } else {
            fprintf(stderr, "peko plot: %s\n", error->message);
            g_error_free(error);
            status = CLI_EXIT_FAILED;
        }
    }
    g_clear_pointer(&output_arg, g_free);
    return status;
}
