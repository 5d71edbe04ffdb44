/* report-print.h: what `peko sim` and `peko testbed` print while a run
 * goes (a progress bar) and after it (the convergence report read back
 * from the database, summary.h).
 */
#ifndef CLI_REPORT_PRINT_H
#define CLI_REPORT_PRINT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "summary.h"

/* A duration for the report: "850 us", "12.3 ms", "4.210 s", or "never"
 * for a negative one. */
void cli_report_append_time(GString *out, int64_t us);

/* The report's body, after the lines each command writes about its own
 * run: every metadata rumor (the first 8 unless `verbose`) with t50, t99,
 * t100 and messages per node, the sampled heartbeats, when every live
 * node's list was first complete, and packets by outcome. */
void cli_report_append_summary(GString *out, const ana_run_summary *s,
                               bool verbose);

/* A progress bar on stderr, only on a terminal and only once the run has
 * taken a second. */
typedef struct cli_progress {
    bool enabled;          /* set by the caller: stderr is a terminal */
    int64_t start_wall_us; /* g_get_monotonic_time() at the start */
    bool shown;            /* something was drawn */
} cli_progress;

/* Redraws the bar at `frac` (0..1) of the run with `detail` beside it
 * and an estimate of the time left. */
void cli_progress_draw(cli_progress *p, double frac, const char *detail);

/* Erases the bar (`keep`: ends its line instead, before an error
 * message). */
void cli_progress_end(cli_progress *p, bool keep);

/* The end of `peko sim` and `peko testbed`: reads the run back from its
 * database and prints the command's own lines (head, and tail after the
 * summary; tail may be NULL), the report's body, then either that the run
 * was interrupted or where it was recorded (not for a temporary file, nor
 * when `ok` is false: the run had an error already reported). Returns
 * CLI_EXIT_OK, or CLI_EXIT_FAILED for an interrupted run or a database
 * that cannot be read back. */
typedef struct cli_report_run_args {
    const char *command;      /* "sim", "testbed" */
    const char *db_path;
    bool temporary;
    int64_t run_id;
    bool complete;            /* ran to its end */
    bool ok;                  /* no error during the run */
    int64_t reached_us;       /* run time reached, for an interrupted run */
    bool verbose;
    void (*head)(GString *out, const ana_run_summary *s, void *user);
    void (*tail)(GString *out, const ana_run_summary *s, void *user);
    void *user;
} cli_report_run_args;

int cli_report_run(const cli_report_run_args *args);

#endif /* CLI_REPORT_PRINT_H */
