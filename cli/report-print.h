/* report-print.h: what `peko sim` and `peko testbed` print while a run
 * goes (a progress bar) and after it (the convergence report read back
 * from the database, summary.h).
 */
#ifndef PEKO_REPORT_PRINT_H
#define PEKO_REPORT_PRINT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "summary.h"

/* A duration for the report: "850 us", "12.3 ms", "4.210 s", or "never"
 * for a negative one. */
void peko_report_append_time(GString *out, int64_t us);

/* The report's body, after the lines each command writes about its own
 * run: every metadata rumor (the first 8 unless `verbose`) with t50, t99,
 * t100 and messages per node, the sampled heartbeats, when every live
 * node's list was first complete, and packets by outcome. */
void peko_report_append_summary(GString *out, const ana_run_summary *s,
                                bool verbose);

/* A progress bar on stderr, only on a terminal and only once the run has
 * taken a second. */
typedef struct peko_progress {
    bool enabled;          /* set by the caller: stderr is a terminal */
    int64_t start_wall_us; /* g_get_monotonic_time() at the start */
    bool shown;            /* something was drawn */
} peko_progress;

/* Redraws the bar at `frac` (0..1) of the run with `detail` beside it
 * and an estimate of the time left. */
void peko_progress_draw(peko_progress *p, double frac, const char *detail);

/* Erases the bar (`keep`: ends its line instead, before an error
 * message). */
void peko_progress_end(peko_progress *p, bool keep);

#endif /* PEKO_REPORT_PRINT_H */
