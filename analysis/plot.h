/* plot.h: a peko database's runs drawn as one self-contained HTML page.
 *
 * What `peko plot` writes: a header (the database, its runs, scenarios and
 * a table per configuration), then figures, each section replaced by a
 * one-line note when the database has nothing for it:
 *   - coverage over time of each metadata rumor (and the sampled
 *     heartbeats as one median curve), after creation and over the run;
 *   - the CDF of metadata infection times, per configuration;
 *   - t90, t99 and messages per node against fan-out, and against loss,
 *     with the theory beside them (theory.h), when the runs differ by
 *     either;
 *   - membership convergence over the run;
 *   - the scenario's timeline, also marked on every run-time axis.
 * Runs, configurations and their figures are those of `peko report`
 * (runs.h): only complete runs are drawn. A configuration is the runs
 * sharing a scenario and a sweep point; with repetitions a figure shows
 * their median and their range.
 *
 * The page is XHTML (well-formed XML) with inline SVG: no script, no
 * network access, no external font or style sheet. It only depends on
 * the database, so the same file gives the same page.
 */
#ifndef ANA_PLOT_H
#define ANA_PLOT_H

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

/* What a page shows. */
typedef struct ana_plot_info {
    size_t runs;          /* runs drawn */
    size_t runs_total;    /* runs in the database */
    size_t configs;       /* configurations */
    size_t bytes;         /* size of the page */
} ana_plot_info;

/* Reads the database at `db_path` (read-only; refused unless it is a peko
 * database of this build's schema, see ana_runset_load()) and appends the
 * page to `html`.
 * Fills *info when it is not NULL. Returns TRUE, or FALSE with *error set
 * in ANA_ERROR and `html` unchanged. */
gboolean ana_plot_render(const char *db_path, GString *html,
                         ana_plot_info *info, GError **error);

/* Renders the page and writes it to `html_path` atomically: into a
 * temporary file beside it, renamed over the path once complete, so a
 * failure leaves no partial file and any previous file intact. Returns
 * TRUE, or FALSE with *error set (ANA_ERROR for the database, G_FILE_ERROR
 * for the output). */
gboolean ana_plot_write(const char *db_path, const char *html_path,
                        ana_plot_info *info, GError **error);

G_END_DECLS

#endif /* ANA_PLOT_H */
