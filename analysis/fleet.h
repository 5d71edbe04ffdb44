/* fleet.h: recordings of one deployment, made by separate processes on
 * separate clocks, combined into ONE run of N nodes (`peko merge
 * --fleet`; docs/fleet.md).
 *
 * Input. Each input file holds one run labelled `run_label` (run.
 * run_label) recorded with ana_run_info.fleet set: its node rows (one or
 * many nodes per run), and fleet_receipt, fleet_members and clock_offset
 * rows stamped with that process's real-time clock (run.wall_t0_us is
 * the clock when the run started). A `peko node --db --run-label L` file
 * is one such run with one node; a file may also hold many nodes in one
 * run, all on that process's clock.
 *
 * The joining and the writing are join.c's (join-private.h), the core
 * this shares with the testbed's combine (combine.h): this module reads
 * the fleet rows, estimates the clocks, checks the inputs and stages
 * everything on the common clock; the core joins rumors, keeps first
 * infections and writes the run in one transaction.
 *
 * Contract for callers (peko merge --fleet):
 * - every input run must carry the same label (given, or, when
 *   opts->run_label is NULL, the one the first input has); a file with
 *   none of that label, with several, or with runs of other labels only
 *   is refused, naming the file and the labels it has;
 * - a node address may appear in one input only;
 * - the runs must overlap in time (on the corrected clock): one that
 *   ended before another started is refused, naming both;
 * - clocks: ANA_FLEET_CLOCKS_MEASURED puts every input on one reference
 *   clock from the swap offsets the nodes measured (below);
 *   ANA_FLEET_CLOCKS_COMMON declares that every input's real-time clock
 *   is the same clock (processes of one machine): offset 0, error 0 for
 *   every node, and nothing else changes;
 * - the output (created if missing) gets one new run, source 'fleet',
 *   written in one transaction: on failure it is left as it was. An
 *   output that holds a fleet run of the same label and start already is
 *   refused (merging twice would count the deployment twice).
 *
 * The common clock (MEASURED). Nodes i and j are linked when either
 * measured the other's clock by Cristian's method (clock_offset,
 * source 'swap': offset o within +-e). Per link the measurement with the
 * smallest bound is kept. The reference is the node from which the sum
 * of bounds along a shortest-bound path to the farthest node is least
 * (ties: the lowest node id); each node's offset to it is the sum of the
 * offsets along that path, its error bound the sum of their bounds
 * (clock_correction). A node no path reaches is refused: without an
 * offset its times mean nothing on the common clock.
 *
 * Output rows: run (nodes N, heartbeat_origins N, run_label, wall_t0_us
 * on the reference clock), node (by address order), rumor and infection
 * (rumors joined by (kind, origin address, engine id); each node's first
 * receipt on the common clock; a receipt the clock error puts before the
 * creation is counted and stored as t_us 0), membership (a sample every
 * membership_step_us: live = nodes whose run covers it, complete = live
 * nodes listing as many peers as there are other live nodes),
 * metadata_version (per node, on the common clock; the earliest of a
 * repeated version), traffic and rejection (per node, summed),
 * clock_correction. peko report, compare and plot read it as any run.
 *
 * Errors: FALSE with *error set (ANA_ERROR), naming the file at fault;
 * the output is then unchanged (a file made for the merge is removed).
 */
#ifndef ANA_FLEET_H
#define ANA_FLEET_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef enum ana_fleet_clocks {
    ANA_FLEET_CLOCKS_MEASURED = 0, /* correct by the measured offsets */
    ANA_FLEET_CLOCKS_COMMON,       /* one clock already: offset 0, error 0 */
} ana_fleet_clocks;

typedef struct ana_fleet_options {
    const char *run_label;      /* the deployment; NULL: the first input's */
    ana_fleet_clocks clocks;
    int64_t membership_step_us; /* membership sample period; 0: 100 ms, or
                                 * more to keep at most 100,000 samples */
} ana_fleet_options;

typedef struct ana_fleet_result {
    int64_t run_id;             /* the new run in the output */
    size_t nodes;
    size_t rumors;
    size_t infections;
    size_t early_receipts;      /* receipts put before their creation by
                                 * the clock error, stored as t_us 0 */
    size_t reference;           /* node id of the reference clock */
    int64_t max_offset_us;      /* largest |offset| corrected */
    int64_t max_error_us;       /* largest error bound of a node's offset */
} ana_fleet_result;

/* Fills *opts with the defaults (measured clocks, label of the first
 * input, 100 ms samples). */
void ana_fleet_options_init(ana_fleet_options *opts);

/* Merges the `n_inputs` recordings at `inputs` into one run in the
 * database at `out_path`; see above. *result (may be NULL) is filled on
 * success. */
gboolean ana_fleet_merge(const char *out_path, const char *const *inputs,
                         size_t n_inputs, const ana_fleet_options *opts,
                         ana_fleet_result *result, GError **error);

G_END_DECLS

#endif /* ANA_FLEET_H */
