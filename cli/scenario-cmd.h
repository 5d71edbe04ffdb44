/* scenario-cmd.h: the one frame of `peko sim` and `peko testbed`.
 *
 * Both take a scenario file and the same options (--seed, --db, --set,
 * --print, --verbose, and one output file of their own), load and check
 * the scenario (a bad one never starts a run), record the run into
 * SQLite (a temporary file unless --db names one) with Ctrl-C caught and
 * a progress bar on a terminal, and print the convergence report read
 * back from that database (report-print.h). What differs, the run itself
 * and the lines about it, is the command's, through the hooks below.
 */
#ifndef CLI_SCENARIO_CMD_H
#define CLI_SCENARIO_CMD_H

#include <glib.h>
#include <stdbool.h>

#include "report-print.h"
#include "scenario.h"

/* The options every scenario command takes, as parsed. */
typedef struct cli_scenario_args {
    char *seed;               /* NULL: the scenario's */
    char *db;                 /* NULL: a temporary file */
    char *out;                /* the command's own output file, or NULL */
    char **set;               /* --set overrides */
    gboolean print;           /* the engines' console lines */
    gboolean verbose;         /* report every metadata rumor */
} cli_scenario_args;

typedef struct cli_scenario_cmd {
    const char *name;         /* "sim": messages say "peko sim: ..." */
    const char *parameter;    /* "SCENARIO - ..." for --help */
    const char *summary;
    const char *description;
    const char *seed_help;    /* what --seed seeds */
    const char *verbose_help;
    const char *out_option;   /* "pcap": the command's output file */
    const char *out_help;
    const char *out_arg;      /* "FILE" */
    const GOptionEntry *entries; /* the command's own options, or NULL */
    /* After the scenario is loaded, before anything is made: checks the
     * command's own options against it. Returns CLI_EXIT_OK to go on, or
     * the exit status (having said why on stderr). May be NULL. */
    int (*check)(void *user, const scn_scenario *sc,
                 const cli_scenario_args *args);
    /* Runs the scenario into `db_path`, drawing `bar`. Fills the run's
     * fields of *report (run_id, complete, reached_us, head, tail, user;
     * run_id 0 when nothing was recorded). Returns FALSE with *error set
     * when the run failed (then reported only if it was recorded). */
    gboolean (*run)(void *user, const scn_scenario *sc, const char *db_path,
                    const cli_scenario_args *args, cli_progress *bar,
                    cli_report_run_args *report, GError **error);
} cli_scenario_cmd;

/* The whole command: parses argv, then as above. `user` is the
 * command's, passed to its hooks. Returns the exit status (CLI_EXIT_*:
 * 0 for a complete run reported, 1 for a run that failed, was
 * interrupted or cannot be read back, 2 for a bad command line or
 * scenario). */
int cli_scenario_main(const cli_scenario_cmd *cmd, void *user, int argc,
                      char **argv);

#endif /* CLI_SCENARIO_CMD_H */
