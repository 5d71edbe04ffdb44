/* merge.h: copies recorded runs from one peko database into another.
 *
 * What `peko merge` does with shards of a sweep run on several machines,
 * and what `peko sweep` does with each finished run: its worker processes
 * record into private files and the sweep's one writer merges them into
 * the sweep's database, so that file only ever has one writer.
 *
 * A run is copied whole (every table's rows, under a new run_id) in one
 * transaction per input file: a merge that fails or is interrupted leaves
 * the output as it was. Runs already present are skipped, so merging the
 * same shard twice, or a shard into the sweep it came from, adds nothing:
 * - a run of a sweep is present when the output has a complete run with
 *   the same sweep_id, sweep_point and repetition;
 * - any other run is present when the output has one with the same
 *   scenario, params, seed, source, started_at and trace_hash.
 * Only columns both files have are copied, so an input written by an
 * older peko (an older schema) merges into an up-to-date output.
 */
#ifndef ANA_MERGE_H
#define ANA_MERGE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef struct ana_merge_stats {
    size_t copied;            /* runs added to the output */
    size_t duplicates;        /* runs the output already had */
    size_t incomplete;        /* of the copied, runs not complete */
} ana_merge_stats;

/* Merges every run of the database at `in_path` into the one at
 * `out_path` (created if missing). Adds to *stats (may be NULL). Returns
 * TRUE, or FALSE with *error set, naming the file at fault, and the
 * output unchanged. `in_path` must not be `out_path`. */
gboolean ana_merge(const char *out_path, const char *in_path,
                   ana_merge_stats *stats, GError **error);

G_END_DECLS

#endif /* ANA_MERGE_H */
