/* summary.h: the figures of one recorded run, read back from its database.
 *
 * What `peko sim` prints at the end of a run, computed with the schema's
 * views (docs/schema.md) from the file just written, so the report shows
 * what the database holds and nothing else.
 */
#ifndef ANA_SUMMARY_H
#define ANA_SUMMARY_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* One rumor's spread; times in microseconds after its creation, -1 when
 * that share of the nodes never held it. */
typedef struct ana_rumor_figures {
    int64_t rumor_id;
    int64_t origin;           /* node id */
    int64_t created_us;       /* after the run's start */
    int64_t infected;         /* nodes that held it */
    int64_t t50_us, t90_us, t99_us, t100_us;
    double messages_per_node; /* copies received, over the run's nodes */
} ana_rumor_figures;

typedef struct ana_run_summary {
    int64_t run_id;
    int64_t nodes;
    char *status;                   /* owned */
    ana_rumor_figures *metadata;    /* every metadata rumor, by creation */
    size_t n_metadata;
    /* Heartbeat rumors of the sampled origins, as medians over them. */
    int64_t heartbeats;             /* rumors recorded */
    int64_t heartbeat_full;         /* of which reached every node */
    int64_t heartbeat_t50_us, heartbeat_t99_us, heartbeat_t100_us;
    double heartbeat_messages_per_node;
    int64_t first_converged_us;     /* membership samples; -1 if never */
    int64_t last_unconverged_us;    /* last sample not converged; -1 */
    /* Packets by outcome over all nodes and types ("lost", ...). */
    GPtrArray *outcome_names;       /* owned strings */
    GArray *outcome_packets;        /* int64_t, same order */
} ana_run_summary;

/* Reads the figures of run `run_id` from the database at `path` (opened
 * read-only). Returns TRUE, or FALSE with *error set (a missing file, a
 * file that is not a peko database, an unknown run). */
gboolean ana_run_summary_load(const char *path, int64_t run_id,
                              ana_run_summary *out, GError **error);
void ana_run_summary_clear(ana_run_summary *summary);

G_END_DECLS

#endif /* ANA_SUMMARY_H */
