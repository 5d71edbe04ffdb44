/* scenario-cmd.c: the frame `peko sim` and `peko testbed` share
 * (scenario-cmd.h). */
#include "scenario-cmd.h"

#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "schema.h"

static void args_clear(cli_scenario_args *a)
{
    g_clear_pointer(&a->seed, g_free);
    g_clear_pointer(&a->db, g_free);
    g_clear_pointer(&a->out, g_free);
    g_clear_pointer(&a->set, g_strfreev);
}

/* Parses the command line; FALSE after a usage error. */
static gboolean parse(const cli_scenario_cmd *cmd, cli_scenario_args *a,
                      int *argc, char ***argv)
{
    const GOptionEntry common[] = {
        {"seed", 's', 0, G_OPTION_ARG_STRING, &a->seed, cmd->seed_help, "N"},
        {"db", 'd', 0, G_OPTION_ARG_FILENAME, &a->db,
         "Record the run into FILE (SQLite; runs are appended). Default: a "
         "temporary file, removed after the report",
         "FILE"},
        {cmd->out_option, 0, 0, G_OPTION_ARG_FILENAME, &a->out,
         cmd->out_help, cmd->out_arg},
        {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &a->set,
         "Override a scenario key, e.g. --set engine.amount=4 (repeatable)",
         "GROUP.KEY=VALUE"},
        {"print", 'p', 0, G_OPTION_ARG_NONE, &a->print,
         "Show the engines' console lines (pekonode's format)", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &a->verbose,
         cmd->verbose_help, NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *context = g_option_context_new(cmd->parameter);
    g_option_context_set_summary(context, cmd->summary);
    g_option_context_set_description(context, cmd->description);
    g_option_context_add_main_entries(context, common, NULL);
    if (cmd->entries)
        g_option_context_add_main_entries(context, cmd->entries, NULL);
    gboolean ok = cli_parse_positional(context, cmd->name, argc, argv, 1);
    g_option_context_free(context);
    return ok;
}

int cli_scenario_main(const cli_scenario_cmd *cmd, void *user, int argc,
                      char **argv)
{
    cli_scenario_args a = {0};
    if (!parse(cmd, &a, &argc, &argv)) {
        args_clear(&a);
        return CLI_EXIT_USAGE;
    }
    char out_what[64];
    g_snprintf(out_what, sizeof out_what, "--%s", cmd->out_option);
    const cli_path paths[] = {
        {"the scenario", argv[1], FALSE},
        {"--db", a.db, TRUE},
        {out_what, a.out, TRUE},
    };
    scn_scenario *sc = NULL;
    int status = CLI_EXIT_USAGE;
    if (cli_check_paths(cmd->name, paths, G_N_ELEMENTS(paths)))
        sc = cli_load_scenario(cmd->name, argv[1], a.set, a.seed);
    if (sc)
        status = cmd->check ? cmd->check(user, sc, &a) : CLI_EXIT_OK;
    bool temporary = a.db == NULL;
    char *db_path = NULL;
    if (status == CLI_EXIT_OK) {
        db_path = temporary ? cli_temp_db(cmd->name) : g_strdup(a.db);
        if (db_path == NULL)
            status = CLI_EXIT_FAILED;
    }
    if (db_path == NULL) {
        if (sc)
            scn_scenario_free(sc);
        args_clear(&a);
        return status;
    }

    cli_catch_stop();
    cli_progress bar = {
        .enabled = isatty(STDERR_FILENO) && !a.print,
        .start_wall_us = g_get_monotonic_time(),
    };
    cli_report_run_args report = {
        .command = cmd->name,
        .db_path = db_path,
        .temporary = temporary,
        .verbose = a.verbose,
    };
    GError *error = NULL;
    gboolean ran = cmd->run(user, sc, db_path, &a, &bar, &report, &error);
    cli_progress_end(&bar, !ran);
    if (!ran) {
        fprintf(stderr, "peko %s: %s\n", cmd->name,
                error ? error->message : "the run failed");
        g_clear_error(&error);
    }
    /* A run that failed is still reported if it was recorded. */
    report.ok = ran;
    status = report.run_id != 0 ? cli_report_run(&report) : CLI_EXIT_FAILED;
    if (!ran)
        status = CLI_EXIT_FAILED;
    cli_release_stop();
    if (temporary)
        ana_db_remove(db_path);
    g_free(db_path);
    scn_scenario_free(sc);
    args_clear(&a);
    return status;
}
