/* recorder-private.h: the recorder's state, shared by recorder.c (life
 * cycle and hooks), observer.c (engine callbacks) and flush.c (writing).
 * Internal to the analysis library. */
#ifndef ANA_RECORDER_PRIVATE_H
#define ANA_RECORDER_PRIVATE_H

#include <sqlite3.h>

#include "addrmap.h"
#include "recorder.h"
#include "rumors.h"

/* Message types as counter rows: peko_msg_type, 0 for "unknown". */
#define ANA__TYPES PEKO_MSG_TYPE_COUNT

/* Sampled heartbeat origins are found on the hot path by a bitmap over
 * the top bits of their address hash: one load decides for almost every
 * heartbeat that it is not recorded, before any hash-table probe. 2^16
 * bits (8 KiB) keep it in L1 and false positives rare (K / 65536). */
#define ANA__FILTER_BITS 16

typedef struct ana__counter {
    uint64_t packets;
    uint64_t bytes;
} ana__counter;

/* How a node came to hold a rumor (infection.via). */
typedef enum ana__via {
    ANA__VIA_ORIGIN = 0,
    ANA__VIA_RUMOR = 1,
    ANA__VIA_SWAP = 2,
} ana__via;

/* The text of each in the database (infection.via, fleet_receipt.via;
 * flush.c). */
extern const char *const ana__via_names[3];

typedef struct ana__infection_row {
    int64_t t_us;       /* since the rumor's creation */
    uint32_t rumor_id;
    uint32_t node;
    int32_t hops;       /* -1: NULL (not by rumor) */
    int32_t from_node;  /* -1: NULL (the origin, or unknown) */
    uint8_t via;        /* ana__via */
} ana__infection_row;

typedef struct ana__metadata_row {
    int64_t t_us;       /* run time */
    uint64_t counter;
    peko_addr origin;
    uint64_t n_bytes;
    uint32_t node;
    int32_t origin_node; /* -1: not a registered node */
    uint8_t via;         /* peko_msg_type, 0 for a local publish */
} ana__metadata_row;

typedef struct ana__membership_row {
    int64_t t_us;
    uint64_t live;
    uint64_t complete;
} ana__membership_row;

typedef struct ana__state_row {
    int64_t t_us;
    uint64_t seq;       /* shared with ana__change_row */
    uint32_t node;
    uint8_t state;      /* ana_node_state */
} ana__state_row;

/* What a node's list did about a peer (membership_change.change). */
typedef enum ana__change {
    ANA__CHANGE_LISTED = 0, /* held it when it stopped being up */
    ANA__CHANGE_EXPIRED,    /* removed it (the engine's node_expired) */
    ANA__CHANGE_ADDED,      /* listed it again (node_added) */
} ana__change;

typedef struct ana__change_row {
    int64_t t_us;
    uint64_t seq;
    uint32_t node;
    uint32_t peer;
    uint8_t change;     /* ana__change */
} ana__change_row;

typedef struct ana__timeline_row {
    int64_t t_us;
    char *event;        /* owned */
    char *detail;       /* owned, may be NULL */
} ana__timeline_row;

/* Fleet rows (info.fleet): stamped with the node's real-time clock. */
typedef struct ana__receipt_row {
    int64_t wall_us;
    uint64_t engine_id;
    peko_addr origin;
    peko_addr from;     /* family 0: none (the origin, or unknown) */
    uint32_t node;
    int32_t hops;       /* -1: NULL */
    uint8_t kind;       /* PEKO_MSG_HEARTBEAT or PEKO_MSG_METADATA */
    uint8_t via;        /* ana__via */
} ana__receipt_row;

typedef struct ana__members_row {
    int64_t wall_us;
    uint64_t members;
    uint32_t node;
} ana__members_row;

typedef struct ana__offset_row {
    int64_t wall_us;
    int64_t offset_us;
    int64_t error_us;
    peko_addr peer;     /* family 0: none */
    uint32_t node;
    uint8_t kernel;     /* source 'kernel' rather than 'swap' */
} ana__offset_row;

/* Registration of a node (cold: read when writing rows). */
typedef struct ana__node_info {
    peko_addr addr;
    char *name;          /* owned, may be NULL */
    bool registered;
    bool sampled;        /* its heartbeats are recorded */
    bool written;        /* its node row exists in the file */
} ana__node_info;

/* A node's observer context (hot: every callback reads it). Two cache
 * lines hold what a delivered heartbeat touches: the fields of line 0,
 * and in line 1 the node's heartbeat counters, the traffic counters of
 * nearly every packet in a large run (ana__counter_of); the engine
 * fetches both lines ahead of a delivery (peko_nodelist_prefetch). */
struct ana_node_ctx {
    ana_recorder *rec;
    ana__counter *traffic;   /* [ANA__TYPES][ANA_OUTCOME_COUNT] of this
                              * node, but for heartbeat[] */
    ana__counter *rejects;   /* [PEKO_REJECT_COUNT] of this node */
    uint32_t index;
    /* The rumor the node last reported (created, first seen, duplicate):
     * the engine sends a rumor's copies right after reporting it, so the
     * next sends of its kind carry it. 0: not a recorded rumor. */
    uint32_t current;
    uint8_t current_kind;
    uint64_t last_rx_bytes;  /* size of the packet being handled */
    uint64_t peers_refreshed;
    /* Heartbeats sent, delivered, received and duplicate (the outcomes
     * 0 to ANA__HOT_OUTCOMES - 1): one line. */
    ana__counter heartbeat[4] __attribute__((aligned(64)));
    peko_addr swap_from;     /* sender of the last swap message received */
    bool has_swap_from;
    uint64_t peers_added;
    uint64_t peers_expired;
    /* Peers this node removed and has not listed again: while 0 (and no
     * node is silent), node_added returns at once. */
    uint32_t open_removals;
};

struct ana_recorder {
    sqlite3 *db;
    int64_t run_id;
    char *path;                   /* for messages */

    ana_now_fn now_us;
    void *now_user;
    int64_t t0_us;                /* the clock at open: run time 0 */

    size_t n_nodes;
    ana_node_ctx *ctx;            /* n_nodes */
    ana__node_info *nodes;        /* n_nodes */
    size_t nodes_unwritten;       /* registered, row not yet written */
    ana__counter *traffic;        /* n_nodes * ANA__TYPES * ANA_OUTCOME_COUNT */
    ana__counter *rejects;        /* n_nodes * PEKO_REJECT_COUNT */
    ana__addrmap addrs;

    /* Heartbeat sampling. */
    uint64_t origin_filter[(1u << ANA__FILTER_BITS) / 64];
    uint32_t hb_every;            /* 1: every heartbeat */
    size_t hb_origins;            /* sampled origins, <= n_nodes */

    ana__rumors rumors;
    /* Nodes whose engines run in another process (n_nodes, or NULL when
     * every node is observed here): rumors they create are adopted when
     * first seen here (ana_recorder_set_foreign). */
    bool *foreign;

    /* Ground truth and membership changes (rare: no hot path). */
    bool ground_truth;
    uint8_t *node_state;          /* n_nodes, ana_node_state */
    size_t n_silent;              /* nodes whose state is silent */
    GHashTable *open_removals;    /* (node << 32 | peer) as gint64 *, a
                                   * set: looked up, never iterated in an
                                   * order that reaches the file */
    uint64_t change_seq;          /* next node_state / membership_change
                                   * seq */

    /* Rows waiting for the next write. */
    ana__infection_row *infections; /* batch_rows */
    size_t n_infections;
    GArray *metadata_rows;        /* ana__metadata_row */
    GArray *membership_rows;      /* ana__membership_row */
    GArray *timeline_rows;        /* ana__timeline_row */
    GArray *state_rows;           /* ana__state_row */
    GArray *change_rows;          /* ana__change_row */
    bool fleet;                   /* info.fleet */
    uint32_t fleet_hb_every;      /* >= 1 */
    ana_now_fn wall_us;
    void *wall_user;
    GArray *receipt_rows;         /* ana__receipt_row */
    GArray *members_rows;         /* ana__members_row */
    GArray *offset_rows;          /* ana__offset_row */
    uint64_t receipt_seq;         /* next fleet_receipt.seq */
    uint64_t members_seq;         /* next fleet_members.seq */
    uint64_t offset_seq;          /* next clock_offset.seq */
    size_t buffered;              /* rows in all of them */
    size_t batch_rows;
    uint64_t membership_seq;      /* next membership.sample */
    uint64_t timeline_seq;        /* next timeline.seq */

    /* Prepared statements, one per kind of row. */
    sqlite3_stmt *st_node;
    sqlite3_stmt *st_node_totals;
    sqlite3_stmt *st_rumor;
    sqlite3_stmt *st_infection;
    sqlite3_stmt *st_metadata;
    sqlite3_stmt *st_membership;
    sqlite3_stmt *st_timeline;
    sqlite3_stmt *st_state;
    sqlite3_stmt *st_change;
    sqlite3_stmt *st_traffic;
    sqlite3_stmt *st_rejection;
    sqlite3_stmt *st_run_end;
    sqlite3_stmt *st_receipt;
    sqlite3_stmt *st_members;
    sqlite3_stmt *st_offset;

    GError *failed;               /* first write failure, sticky */
    bool finished;
    ana_recorder_stats stats;
};

/* The run time now: the clock minus its value at open. */
static inline int64_t ana__now(const ana_recorder *rec)
{
    return rec->now_us(rec->now_user) - rec->t0_us;
}

static inline ana__counter *ana__traffic_of(ana__counter *base, unsigned type,
                                            ana_outcome outcome)
{
    return &base[type * ANA_OUTCOME_COUNT + (unsigned)outcome];
}

/* The outcomes whose heartbeat counters live in the context's own line. */
#define ANA__HOT_OUTCOMES 4
G_STATIC_ASSERT(ANA_OUTCOME_SENT == 0 && ANA_OUTCOME_DELIVERED == 1 &&
                ANA_OUTCOME_RECEIVED == 2 && ANA_OUTCOME_DUPLICATE == 3);

/* The one counter of (type, outcome) for a node: every write and read
 * goes through here. The counters of the traffic array that heartbeat[]
 * stands for stay zero. */
static inline ana__counter *ana__counter_of(ana_node_ctx *ctx, unsigned type,
                                            ana_outcome outcome)
{
    if (type == PEKO_MSG_HEARTBEAT && (unsigned)outcome < ANA__HOT_OUTCOMES)
        return &ctx->heartbeat[outcome];
    return ana__traffic_of(ctx->traffic, type, outcome);
}

/* Buffers a membership_change row (callbacks and hooks alike). */
void ana__push_change(ana_recorder *rec, int64_t t_us, uint32_t node,
                      uint32_t peer, ana__change change);

/* The key of (node, peer) in rec->open_removals. */
static inline uint64_t ana__pair_key(uint32_t node, uint32_t peer)
{
    return (uint64_t)node << 32 | peer;
}

/* Hash of a pair key (a uint64_t *): splitmix64's finalizer. GLib's
 * g_int64_hash folds the halves together (node ^ peer), which puts every
 * pair with the same xor in one bucket. */
guint ana__pair_hash(gconstpointer key);

/* fleet-rows.c: the fleet rows of info.fleet (no-ops without it). */

/* A node's first receipt of a rumor (or its creation, via ORIGIN). */
void ana__fleet_receipt(ana_node_ctx *ctx, const peko_rumor *rumor,
                        int32_t hops, const peko_addr *from, ana__via via);
/* A metadata version obtained by swap. */
void ana__fleet_metadata_swap(ana_node_ctx *ctx, const peko_version *version,
                              const peko_addr *from);
/* The node's member count changed (peers_added - peers_expired). */
void ana__fleet_members(ana_node_ctx *ctx);
/* The observer's clock_offset callback. */
void ana__fleet_on_clock_offset(void *user, const peko_addr *peer,
                                int64_t offset_us, int64_t error_us);
/* Allocation and release of the fleet buffers (always made). */
void ana__fleet_init(ana_recorder *rec, const ana_run_info *info);
void ana__fleet_clear(ana_recorder *rec);
/* The buffered fleet rows (and drops them, as drop_buffered does). */
gboolean ana__fleet_write(ana_recorder *rec, GError **error);
void ana__fleet_drop(ana_recorder *rec);
gboolean ana__fleet_prepare(ana_recorder *rec, GError **error);
void ana__fleet_finalize(ana_recorder *rec);

/* flush.c */

/* Prepares the statements. Returns TRUE, or FALSE with *error set. */
gboolean ana__flush_prepare(ana_recorder *rec, GError **error);
void ana__flush_finalize(ana_recorder *rec);

/* Writes the buffered rows in one transaction; with `counters`, also the
 * traffic, rejection and per-node totals so far. On failure the rows are
 * dropped (counted in stats.rows_dropped), the first failure is kept in
 * rec->failed, and FALSE is returned with *error set. */
gboolean ana__flush_write(ana_recorder *rec, bool counters, GError **error);

/* Called when a row was buffered: writes the batch once it is full. A
 * failure is kept in rec->failed for flush() or finish() to report. */
static inline void ana__row_buffered(ana_recorder *rec)
{
    if (++rec->buffered >= rec->batch_rows)
        ana__flush_write(rec, false, NULL);
}

/* True when rows are no longer buffered: after finish, or after a write
 * failed (they would be lost anyway; counting them keeps memory bounded). */
static inline bool ana__rows_closed(ana_recorder *rec)
{
    if (rec->finished)
        return true;
    if (rec->failed) {
        rec->stats.rows_dropped++;
        return true;
    }
    return false;
}

/* Ends the run row; see ana_recorder_finish(). */
gboolean ana__flush_end_run(ana_recorder *rec, ana_status status,
                            const char *trace_hash, int64_t sim_time_us,
                            double wall_s, uint64_t events,
                            uint64_t deliveries, GError **error);

#endif /* ANA_RECORDER_PRIVATE_H */
