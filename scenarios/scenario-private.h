/* scenario-private.h: what the parser's files share. Not installed. */
#ifndef SCN_SCENARIO_PRIVATE_H
#define SCN_SCENARIO_PRIVATE_H

#include "scenario.h"

/* The parsed key file behind a scenario: the source of truth that
 * overrides edit and every reparse reads. */
struct scn__source {
    GKeyFile *kf;
    char *display;   /* the file as messages name it (path or name) */
};

/* State of one parse. */
typedef struct scn__ctx {
    const char *display;     /* for messages */
    GKeyFile *kf;
    scn_scenario *sc;        /* being filled */
    size_t ranges_left;      /* budget of resolved selector ranges */
    uint64_t fraction_work;  /* nodes visited choosing fractions so far */
} scn__ctx;

/* A quantity a distribution describes: how its parameters parse. */
typedef struct scn__quantity {
    bool is_duration;     /* parameters are durations (us), else numbers */
    bool signed_ok;       /* negative values allowed */
    double lo, hi;        /* the key's bounds; samples stay inside */
    const char *what;     /* "a duration like 20ms" */
    const char *example;  /* "normal(mean=20ms, sd=5ms)" */
} scn__quantity;

extern const scn__quantity scn__latency_quantity;
extern const scn__quantity scn__skew_quantity;
extern const scn__quantity scn__drift_quantity;

/* ---- errors (scenario.c) ---- */

/* Sets *error to "DISPLAY: [group] key: message" (group and key may be
 * NULL to leave them out). */
void scn__fail(GError **error, scn_error_code code, const scn__ctx *ctx,
               const char *group, const char *key, const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);

/* Prefixes an error from a value parser with "DISPLAY: [group] key: " and,
 * if `raw` looks like it carries a trailing comment, says that comments
 * go on their own line. */
void scn__fail_value(GError **error, GError *cause, const scn__ctx *ctx,
                     const char *group, const char *key, const char *raw);

/* g_key_file_get_value() with surrounding blanks stripped (owned). */
char *scn__get(const scn__ctx *ctx, const char *group, const char *key);

/* ---- units (units.c) ---- */

gboolean scn__parse_duration_bare(const char *text, gboolean allow_negative,
                                  int64_t bare_unit_us, int64_t *out_us,
                                  GError **error);
gboolean scn__parse_int(const char *text, int64_t min, int64_t max,
                        int64_t *out, GError **error);
gboolean scn__parse_bool(const char *text, bool *out, GError **error);
/* A plain decimal number ("-1.5", "50"): no exponent, no inf or nan. */
gboolean scn__parse_number(const char *text, double *out, GError **error);
/* "90s", "250ms" or "7us": the largest unit that is exact (owned). */
char *scn__format_duration(int64_t us);
/* Strips blanks in place; returns s. */
char *scn__strip(char *s);
/* Splits at commas outside parentheses and double quotes; items are
 * stripped. Returns a NULL-terminated vector (g_strfreev), or NULL with
 * *error set for unbalanced parentheses or quotes. */
char **scn__split_list(const char *text, char separator, GError **error);
/* Removes one level of double quotes with \" and \\ escapes, if the whole
 * text is quoted. Returns a new string, or NULL with *error set. */
char *scn__unquote(const char *text, GError **error);

/* ---- distributions and loss (dist.c) ---- */

gboolean scn__parse_dist(const char *text, const scn__quantity *q,
                         model_dist *out, GError **error);
gboolean scn__parse_loss(const char *text, model_loss *out, GError **error);
void scn__dist_constant(model_dist *out, const scn__quantity *q,
                        double value);

/* ---- node selectors (selector.c) ---- */

/* Resolves `text` against the cluster in ctx->sc (nodes, seed, regions if
 * `allow_regions`). "none" is accepted only if `allow_none`. On failure
 * *out is cleared and *error holds a bare message (no file prefix). */
gboolean scn__nodes_parse(scn__ctx *ctx, const char *text, bool allow_regions,
                          bool allow_none, scn_nodes *out, GError **error);
void scn__nodes_clear(scn_nodes *nodes);
void scn__nodes_copy(scn_nodes *dst, const scn_nodes *src);
/* True if a and b share a node. */
bool scn__nodes_intersect(const scn_nodes *a, const scn_nodes *b,
                          uint32_t *witness);
/* Builds a set from ranges (any order, overlaps allowed), merging. */
void scn__nodes_from_ranges(scn_nodes *out, GArray *ranges, const char *text);
/* A uniform draw in [0, bound) for fractions and random seed choice:
 * model_splitmix64() on a 64-bit state, rejecting the draws that would
 * favour small results. The choices of every run depend on its values,
 * so they never change. */
uint64_t scn__rand_below(uint64_t *state, uint64_t bound);
uint64_t scn__hash_text(uint64_t seed, const char *text);

/* ---- sections (cluster.c, network.c) ---- */

gboolean scn__parse_cluster(scn__ctx *ctx, GError **error);
gboolean scn__parse_cluster_late(scn__ctx *ctx, GError **error);
gboolean scn__parse_engine(scn__ctx *ctx, GError **error);
gboolean scn__parse_network(scn__ctx *ctx, GError **error);
gboolean scn__parse_regions(scn__ctx *ctx, GError **error);
gboolean scn__parse_clock(scn__ctx *ctx, GError **error);

/* ---- timeline (timeline.c) ---- */

gboolean scn__parse_timeline(scn__ctx *ctx, GError **error);
void scn__event_clear(scn_event *ev);

/* ---- keys, sweep and overrides (keys.c, sweep.c) ---- */

/* Every group of the file is one we know. */
gboolean scn__check_groups(scn__ctx *ctx, GError **error);
/* A timeline label or partition name: letters, digits, _ - . (<= 64). */
gboolean scn__is_label(const char *s);
/* Whether `key` is a [regions] / [clock] key; *kind tells which form
 * (0: plain key, 1: members.NAME or skew.NODES, 2: latency.FROM.TO). */
gboolean scn__regions_key_kind(const char *key, int *kind);
gboolean scn__clock_key_kind(const char *key, int *kind);
/* "unknown key; did you mean ...? (known keys: ...)" (owned). */
char *scn__unknown_key_message(const char *group, const char *key);

/* Checks every key of a fixed group ([cluster], [engine], [network])
 * against its table: unknown keys and a setting given twice under two
 * names are errors. */
gboolean scn__check_fixed_group(scn__ctx *ctx, const char *group,
                                GError **error);
/* The key as the file would hold it if written under its canonical name,
 * and the other spellings of it; for "engine.Amount": group "engine",
 * key "amount", aliases {"Amount", "fanout"}. Returns FALSE with a bare
 * message for unknown groups or keys. *aliases is NULL-terminated and
 * borrowed (static), or NULL. */
gboolean scn__canonical_key(const char *dotted, char **group, char **key,
                            const char *const **aliases, GError **error);
/* The first spelling of a canonical key present in `group` (NULL if none). */
const char *scn__find_alias(GKeyFile *kf, const char *group,
                            const char *canonical);

gboolean scn__parse_sweep(scn__ctx *ctx, bool check_values, GError **error);
void scn__sweep_clear(scn_sweep *sweep);

/* Parses the key file `kf` (borrowed) into a new scenario. With
 * `check_sweep`, every sweep value is checked by applying it. */
scn_scenario *scn__parse(GKeyFile *kf, const char *display,
                         bool check_sweep, GError **error);
/* Applies (key, value) pairs to a copy of sc's key file, reparses (with
 * `check_sweep`, checking the sweep's values again) and, on success,
 * replaces the contents of *sc and records the pairs in sc->overrides.
 * `pairs` alternates keys and values. On failure *sc is unchanged. */
gboolean scn__override_pairs(scn_scenario *sc, const char *const *pairs,
                             size_t n_pairs, bool check_sweep,
                             GError **error);
GKeyFile *scn__keyfile_copy(GKeyFile *kf);

#endif /* SCN_SCENARIO_PRIVATE_H */
