/* plot-private.h: what `peko plot` reads from a database, shared by its
 * files: plot-data.c reads it, plot-figures.c turns it into figures (no
 * SQL), plot.c lays out the page and writes it.
 *
 * The runs, their configurations, their order and every per-run figure
 * (t50 to t100, messages per node, the parameters) are those of
 * `peko report` (runs.h): plot-data.c loads them with
 * ana_runset_load_full(), the heartbeats' figures included, and adds only
 * what is drawn: coverage curves, infection times for the
 * CDF, membership samples and the timeline, for each run of the runset.
 *
 * Times here are microseconds as doubles (runs.h gives seconds); INFINITY
 * is a time that never came (a share of the nodes a rumor never reached),
 * so it sorts after every time, and a median over repetitions is "never"
 * only when most of them never got there.
 */
#ifndef ANA_PLOT_PRIVATE_H
#define ANA_PLOT_PRIVATE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "runs.h"
#include "svg.h"

G_BEGIN_DECLS

/* A coverage curve is sampled at PLOT_LEVELS levels of coverage, the
 * fractions j / PLOT_LEVELS of the run's nodes (j = 1 .. PLOT_LEVELS):
 * level_us[j - 1] is when the k-th node first held the rumor, k =
 * ceil(j N / PLOT_LEVELS). Sampling the time at each level, rather than
 * the coverage at each time, makes curves of runs with different lengths
 * line up, and makes medians and ranges over repetitions exact: a
 * quantile of monotone curves is the same taken either way. */
#define PLOT_LEVELS 200

/* At most this many heartbeat curves are kept per run (evenly spread over
 * its sampled heartbeats); their figures (t99...) come from runs.h and use
 * all of them. */
#define PLOT_HEARTBEAT_CURVES 200

/* Infection times kept per metadata rumor for the CDF; a rumor that
 * reached more nodes is sampled evenly, each kept time standing for
 * `weight` infections. */
#define PLOT_CDF_SAMPLES 2000

/* A rumor's coverage curve. */
typedef struct plot_rumor {
    int64_t rumor_id;
    int64_t origin;
    double created_us;
    double *level_us;                       /* PLOT_LEVELS times; owned */
} plot_rumor;

/* One sampled infection time of the CDF. */
typedef struct plot_sample {
    double t_us;
    double weight;                          /* infections it stands for */
} plot_sample;

typedef struct plot_member {
    double t_us;
    int64_t live, complete;
} plot_member;

typedef struct plot_event {
    double t_us;
    char *event;                            /* owned */
    char *detail;                           /* owned; may be NULL */
} plot_event;

/* What is drawn of one run of the runset, beside its ana_run. */
typedef struct plot_run {
    const ana_run *run;                     /* borrowed from the runset */
    GArray *metadata;                       /* plot_rumor, by creation */
    GArray *heartbeats;                     /* plot_rumor, level curves of
                                             * up to PLOT_HEARTBEAT_CURVES */
    GArray *samples;                        /* plot_sample, metadata CDF */
    GArray *membership;                     /* plot_member, by sample */
    GArray *timeline;                       /* plot_event, by seq */
} plot_run;

/* A configuration of the runset (runs sharing a scenario and a sweep
 * point: repetitions) and its names on the page. */
typedef struct plot_config {
    const ana_config *config;               /* borrowed from the runset */
    char *label;                            /* owned: "fanout.ini amount=3" */
    char *short_label;                      /* owned: what tells it apart
                                             * from the others: "amount=3" */
} plot_config;

typedef struct plot_data {
    ana_runset set;                         /* the complete runs, grouped
                                             * and ordered (runs.h) */
    plot_run *runs;                         /* runs[i] of set.runs[i] */
    plot_config *configs;                   /* configs[c] of
                                             * set.configs[c], in order */
} plot_data;

/* Loads the complete runs of the database at `path`
 * (ana_runset_load_full() with ANA_RUNSET_HEARTBEATS: opened read-only,
 * refused unless it is an up-to-date peko database) and what is drawn of
 * each. Runs that are not complete are only counted
 * (set.n_not_complete). Returns TRUE, or FALSE with *error set (the file
 * cannot be opened, is not a peko database, or a query failed); *out is
 * then cleared. */
gboolean plot_data_load(const char *path, plot_data *out, GError **error);
void plot_data_clear(plot_data *data);

/* The settings of a sweep point or --set list, "a=1,b=f(x, y)", split at
 * the commas outside parentheses: {"a=1", "b=f(x, y)"}. "" gives none.
 * Free with g_strfreev(). */
char **plot_split_point(const char *point);

/* Labels that tell n things apart: scenario[i] followed by the
 * comma-separated settings of point[i], less what all n share (the
 * scenario when it is the same for all; settings found in every point).
 * Falls back to the scenario when nothing is left. Returns a
 * NULL-terminated array of n strings (g_strfreev()). */
char **plot_short_labels(const char *const *scenario,
                         const char *const *point, size_t n);

/* Runs of a configuration, and the one at index `i` (0 .. n - 1). */
static inline size_t plot_config_n_runs(const plot_config *config)
{
    return config->config->n_runs;
}

static inline const plot_run *plot_config_run(const plot_data *data,
                                              const plot_config *config,
                                              size_t i)
{
    return &data->runs[config->config->runs[i]];
}

/* A time metric of runs.h (seconds) in microseconds. */
static inline double plot_run_us(const ana_run *run, ana_metric metric)
{
    return run->value[metric] * 1e6;
}

/* The k-th time at coverage level of sorted times t[0..m) for a run of
 * `nodes` nodes: the level_us array of a rumor, PLOT_LEVELS entries. */
void plot_levels_fill(const double *t, size_t m, int64_t nodes,
                      double *level_us);

/* ------------------------------------------------------------------ */
/* Sections of the page (plot-figures.c): each appends its figures, or a */
/* one-line note saying why it has none, to `html`.                     */

void plot_section_coverage(const plot_data *data, GString *html);
void plot_section_cdf(const plot_data *data, GString *html);
void plot_section_fanout(const plot_data *data, GString *html);
void plot_section_loss(const plot_data *data, GString *html);
void plot_section_membership(const plot_data *data, GString *html);

/* A time for a table: "850 µs", "12.3 ms", "1.25 s", "never", or "–"
 * for NAN. */
void plot_append_time(GString *out, double us);

G_END_DECLS

#endif /* ANA_PLOT_PRIVATE_H */
