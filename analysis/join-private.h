/* join-private.h: the one core that joins several recordings of one run
 * into one run. Internal to the analysis library; its two callers are
 * combine.c (`peko testbed --workers`: ordinary recordings on one clock,
 * combine.h) and fleet.c (`peko merge --fleet`: a deployment's nodes on
 * clocks it measures, fleet.h). Each caller reads its sources its own way
 * and stages their rows, already on the common clock, into the staging
 * tables below; the core joins them and writes the run.
 *
 * The staging tables are TEMP tables of the output's connection; `src`
 * is the source's index (0 .. n-1), node ids are the combined run's, and
 * every time is on the common clock (the caller has added each source's
 * offset):
 *   c_run       the sources' run rows: (src, then main.run's columns);
 *               only the caller's run callback reads them
 *   c_node      (src, then main.node's columns)
 *   c_rumor     (src, rumor_id, kind, origin, created_us, made, engine_id,
 *               incarnation, sequence, copies, duplicates, messages):
 *               made = 1 when this source saw the rumor created, at
 *               created_us
 *   c_inf       (src, rumor_id, node_id, abs_us, hops, from_node, via):
 *               an infection at abs_us; rumor_id is the source's own
 *   c_traffic   (node_id, type, outcome, packets, bytes)
 *   c_rej       (node_id, reason, packets, bytes)
 *   c_memb      (src, sample, t_us, live, complete)
 *   c_meta      (src, node_id, counter, origin, origin_addr, t_us, via,
 *               bytes)
 *   c_timeline  (src, seq, t_us, event, detail)
 *   c_state     (src, seq, t_us, node_id, state)
 *   c_change    (src, seq, t_us, node_id, peer, change)
 *
 * The rules (what both callers' headers promise):
 * - rumors are joined by (kind, origin, engine_id); a rumor's creation is
 *   the earliest created_us among the rows with made = 1 (a rumor with
 *   none is dropped with its infections); new rumor ids in creation order
 *   (ties: src, then the source's rumor_id). copies, duplicates and
 *   messages are summed, infected counted again;
 * - each node's first infection by each rumor is kept (earliest abs_us;
 *   ties: src, via, hops, from_node), its time measured from the
 *   creation; one before the creation is counted in `early`, and stored
 *   at 0 with rules.clamp_early (a fleet's clock error) or as it is;
 * - node rows: src 0's, with peers_* summed over every source's row of
 *   the node; traffic and rejections summed per node and key; metadata
 *   versions: the earliest of each (node, counter, origin_addr);
 * - membership samples matched by number: a sample held by fewer than
 *   rules.membership_sources sources is dropped; live is the largest,
 *   complete the sum, t_us the earliest;
 * - timeline and node_state are src 0's; node_state and
 *   membership_change rows are numbered again in time order (ties: by
 *   source, then by their own order).
 *
 * All of it, the caller's run row and extra rows included, is written in
 * one transaction: on failure the output is left as it was (a file made
 * for the join is removed).
 */
#ifndef ANA_JOIN_PRIVATE_H
#define ANA_JOIN_PRIVATE_H

#include <glib.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ana__join_stats {
    int64_t run_id;           /* the joined run in the output */
    size_t rumors;            /* rumors of the joined run */
    size_t rumors_dropped;    /* staged, but made in no source */
    size_t infections;        /* infection rows of the joined run */
    size_t early;             /* infections before their rumor's creation */
} ana__join_stats;

typedef struct ana__join_spec {
    bool clamp_early;           /* store an early infection at 0 */
    size_t membership_sources;  /* sources every kept sample is in */
    /* Stages the sources' rows (required); runs before the transaction,
     * so it may ATTACH. */
    gboolean (*stage)(sqlite3 *db, void *user, GError **error);
    /* Writes the run row (required), in the transaction, and sets
     * *run_id; the rumors are keyed already (table c_key), and st's early
     * and rumors_dropped counted. */
    gboolean (*write_run)(sqlite3 *db, void *user, const ana__join_stats *st,
                          int64_t *run_id, GError **error);
    /* Adds the caller's own rows once the core's are written (may be
     * NULL), in the transaction. */
    gboolean (*finish)(sqlite3 *db, void *user, const ana__join_stats *st,
                       GError **error);
} ana__join_spec;

/* Joins into the database at `out_path` (created if missing) the sources
 * `spec->stage` stages; `inputs[0 .. n_inputs-1]` are their files, none
 * of which may be the output. Fills *stats (may be NULL) on success.
 * Returns TRUE, or FALSE with *error set and the output unchanged. */
gboolean ana__join(const char *out_path, const char *const *inputs,
                   size_t n_inputs, const ana__join_spec *spec, void *user,
                   ana__join_stats *stats, GError **error);

#endif /* ANA_JOIN_PRIVATE_H */
