/* sweep-runs.h: what a sweep has recorded in a database already.
 *
 * A run of a sweep carries its sweep_id, sweep_point and repetition in
 * its run row (docs/schema.md). `peko sweep` asks which points of its
 * sweep have a complete run, and runs only the others: that is how the
 * same command resumes an interrupted sweep, or completes the shards
 * merged into its database. The query lives here, beside the schema it
 * reads, so the runner never writes SQL of its own.
 */
#ifndef ANA_SWEEP_RUNS_H
#define ANA_SWEEP_RUNS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* The (sweep_point, repetition) pairs of one sweep that have a complete
 * run. Runs left 'running' (their writer died) or 'incomplete' (stopped
 * early) are not among them: they are to be run again. */
typedef struct ana_sweep_runs ana_sweep_runs;

/* Reads the complete runs of sweep `sweep_id` from the database at
 * `path`, read-only, waiting for a writer as a reader does. A missing
 * file, an empty database and a database of a schema before sweeps
 * (version 1) have none. Returns a new set (free with
 * ana_sweep_runs_free()), or NULL with *error set, prefixed with the
 * path: ANA_ERROR_NOT_PEKO for a file that is not a peko database,
 * ANA_ERROR_SCHEMA for a newer schema, ANA_ERROR_SQLITE when it cannot
 * be read. */
ana_sweep_runs *ana_sweep_runs_load(const char *path, const char *sweep_id,
                                    GError **error);

/* Whether repetition `repetition` of point `sweep_point` ("" without
 * axes) has a complete run. */
bool ana_sweep_runs_is_complete(const ana_sweep_runs *runs,
                                const char *sweep_point,
                                uint32_t repetition);

/* How many (point, repetition) pairs have a complete run. */
size_t ana_sweep_runs_n_complete(const ana_sweep_runs *runs);

/* NULL is a no-op. */
void ana_sweep_runs_free(ana_sweep_runs *runs);

G_END_DECLS

#endif /* ANA_SWEEP_RUNS_H */
