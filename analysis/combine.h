/* combine.h: several recordings of one run, combined into one run.
 *
 * When the nodes of one run are recorded by several processes, each
 * process's file holds a partial view: its own nodes' infections,
 * metadata versions, traffic and list changes. Combining puts them back
 * together as the one run a single recorder would have written, so
 * `peko report`, `compare` and `plot` read it like any other.
 *
 * Contract: sources -> one run.
 * - Each source is a peko database of the current schema holding exactly
 *   one run; all of them record the same scenario, parameters, seed and
 *   number of nodes (refused otherwise), with the same node ids.
 * - Each source has a time correction, offset_us, added to every time it
 *   recorded to bring it onto a common clock. `peko testbed --workers`
 *   passes 0 for all: its workers read the machine's one CLOCK_MONOTONIC
 *   from a common start. The joining itself (below, from "Rumors are
 *   joined" on) is join.c's, the core this shares with the fleet merge
 *   (fleet.h), which stages a deployment's recordings with per-node
 *   offsets it estimates; this module only reads ordinary recordings
 *   into that core and writes the run row.
 * - Every node's engine is observed by exactly one source. Per-node rows
 *   (infections, metadata versions, traffic, rejections, list changes,
 *   node counters) are united; counters are summed; where two sources
 *   hold the same (node, rumor) or (node, version), the earliest is kept.
 * - Rumors are joined by (kind, origin, engine id). A rumor's creation is
 *   the one recorded by the source holding its origin's own infection
 *   (via 'origin'); every other source's infection times are taken from
 *   its own created_us and rebased onto that creation. A rumor no source
 *   saw created (a heartbeat of an unsampled time, say) is dropped with
 *   its infections. copies, duplicates and messages are summed, infected
 *   is counted again. Each node's first infection by a rumor is kept
 *   (ties: by source); one that falls before the creation (only a wrong
 *   offset can do that) is kept as it is, with its negative time.
 * - Membership samples are matched by their number (every source samples
 *   at the same steps of the plan): live is the same in every source (the
 *   largest is kept), complete is summed (each source counts its own
 *   nodes); a sample missing from any source is dropped.
 * - What describes the whole run is the first source's: the run row's
 *   scenario, parameters and sweep columns, node addresses and names,
 *   the timeline, and the ground truth (node_state). The run is complete
 *   only if every source is; its length is the longest, its deliveries
 *   and events the sums, its error the first source's that has one.
 *   node_state and membership_change rows are numbered again in time
 *   order (ties: by source, then by their own order).
 *
 * The output gets one new run (appended, as a recorder appends), in one
 * transaction: on failure it is left as it was (a file made for the
 * combine is removed).
 */
#ifndef ANA_COMBINE_H
#define ANA_COMBINE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct ana_combine_source {
    const char *path;        /* a peko database with one run; borrowed */
    int64_t offset_us;       /* added to every time it recorded */
} ana_combine_source;

typedef struct ana_combine_stats {
    int64_t run_id;          /* the combined run in the output */
    size_t rumors;           /* rumors in the combined run */
    size_t rumors_dropped;   /* seen, but created in no source */
    size_t infections;       /* infection rows of the combined run */
} ana_combine_stats;

/* Combines the runs of sources[0 .. n-1] (n >= 1) into one new run in
 * the database at `out_path` (created if missing; none of the sources).
 * Fills *stats (may be NULL). Returns TRUE, or FALSE with *error set,
 * naming the source at fault when one is, and the output unchanged. */
gboolean ana_combine(const char *out_path, const ana_combine_source *sources,
                     size_t n, ana_combine_stats *stats, GError **error);

G_END_DECLS

#endif /* ANA_COMBINE_H */
