/* plot-private.h: what `peko plot` reads from a database, shared by its
 * files: plot-data.c reads it (queries only), plot-figures.c turns it
 * into figures (no SQL), plot.c lays out the page and writes it.
 *
 * Times are microseconds as doubles; INFINITY is a time that never came
 * (a share of the nodes a rumor never reached), so it sorts after every
 * time, and a median over repetitions is "never" only when most of them
 * never got there.
 */
#ifndef ANA_PLOT_PRIVATE_H
#define ANA_PLOT_PRIVATE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

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
 * its sampled heartbeats); their figures (t50, t99...) use all of them. */
#define PLOT_HEARTBEAT_CURVES 200

/* Infection times kept per metadata rumor for the CDF; a rumor that
 * reached more nodes is sampled evenly, each kept time standing for
 * `weight` infections. */
#define PLOT_CDF_SAMPLES 2000

typedef struct plot_rumor {
    int64_t rumor_id;
    int64_t origin;
    double created_us;
    int64_t infected;
    double t50_us, t90_us, t99_us, t100_us; /* INFINITY: never */
    double messages_per_node;               /* packets sent carrying it */
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

typedef struct plot_run {
    int64_t run_id;
    char *scenario;                         /* owned, as are the strings */
    char *sweep_point;                      /* "" outside a sweep */
    char *status;
    int64_t repetition;                     /* -1 outside a sweep */
    int64_t seed;
    int64_t nodes;
    double sim_time_us;                     /* run length */
    double amount;                          /* engine.amount; NAN absent */
    double loss;                            /* network.loss.expected */
    double latency_us;                      /* network.latency_us.expected */
    char *variant;                          /* params without the seed, to
                                             * tell plain runs apart */
    char *overrides;                        /* "k=v,k=v" of --set, or "" */
    size_t config;                          /* index into plot_data.configs */

    GArray *metadata;                       /* plot_rumor, by creation */
    GArray *heartbeats;                     /* plot_rumor, level curves of
                                             * up to PLOT_HEARTBEAT_CURVES */
    int64_t n_heartbeats;                   /* recorded, all of them */
    double hb_t50_us, hb_t99_us, hb_t100_us;/* medians over all of them */
    double hb_messages_per_node;            /* median */
    GArray *samples;                        /* plot_sample, metadata CDF */
    GArray *membership;                     /* plot_member, by sample */
    GArray *timeline;                       /* plot_event, by seq */
} plot_run;

/* Runs that share a scenario and a sweep point: repetitions. */
typedef struct plot_config {
    char *label;                            /* owned: "fanout.ini amount=3" */
    char *short_label;                      /* owned: what tells it apart
                                             * from the others: "amount=3" */
    GArray *runs;                           /* size_t indices into runs */
} plot_config;

typedef struct plot_data {
    char *path;                             /* owned */
    GArray *runs;                           /* plot_run drawn */
    GArray *configs;                        /* plot_config, ordered */
    size_t n_total;                         /* runs in the file */
    GPtrArray *left_out;                    /* "run 4 (running)" strings of
                                             * runs not drawn */
    gboolean incomplete_drawn;              /* no complete run: drew all */
} plot_data;

/* Reads every run of the database at `path` (opened read-only, checked
 * with ana_schema_check()). Runs are drawn only when complete, unless no
 * run is. Returns TRUE, or FALSE with *error set (the file cannot be
 * opened, is not a peko database, or a query failed); *out is then
 * cleared. */
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

/* The run at index `i` of a configuration. */
static inline const plot_run *plot_config_run(const plot_data *data,
                                              const plot_config *config,
                                              guint i)
{
    return &g_array_index(data->runs, plot_run,
                          g_array_index(config->runs, size_t, i));
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
