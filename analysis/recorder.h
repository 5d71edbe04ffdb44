/* recorder.h: records a run, simulated or on real sockets, into SQLite.
 *
 * The recorder is an engine observer (peko_observer) plus a few hooks for
 * what only the world around the engines knows: packets the network
 * dropped or delivered, membership convergence samples, the scenario's
 * timeline, and the ground truth of which nodes are up. It writes the tables of schema.h (docs/schema.md), one run
 * per ana_recorder_open(), appended to whatever runs the file already
 * holds.
 *
 * Life of a run:
 *
 *     rec = ana_recorder_open(path, &info, &error);   run row: 'running'
 *     ana_recorder_add_node(rec, i, addr, name, &error);   for every node
 *     peko_nodelist_set_observer(nl_i, ana_recorder_observer(),
 *                                ana_recorder_node_ctx(rec, i));
 *     ... run: callbacks and hooks count and buffer in memory ...
 *     ana_recorder_finish(rec, ANA_STATUS_COMPLETE, ..., &error);
 *     ana_recorder_free(rec);
 *
 * Interrupted runs. A signal handler must only set a flag (a volatile
 * sig_atomic_t); the run loop checks it between events, stops, and calls
 * ana_recorder_finish() with ANA_STATUS_INCOMPLETE. Never call the
 * recorder from a signal handler. If the process dies instead (a crash,
 * SIGKILL, power loss), the file is still a valid database: it is in WAL
 * mode and written only in whole transactions, so it holds every batch
 * committed before the crash and its run row still says 'running'.
 * Readers treat 'running' as incomplete (run_summary.is_complete is 0).
 *
 * Cost. Callbacks run on the simulator's hot path (millions of packets per
 * second), so they do O(1) work and never call SQLite: counters are
 * arrays indexed by node, message type and outcome; heartbeat rumors are
 * filtered by the sampling set before any hash lookup; infection and other
 * rows are buffered and written with prepared statements in one
 * transaction per batch (info.batch_rows rows), and at finish.
 *
 * Determinism. Every row comes from the callbacks in the order the engine
 * makes them and the counters are written in (node, type, outcome) order;
 * no pointer value or hash order reaches the file. The same run therefore
 * writes the same rows, except run_id, started_at, finished_at and wall_s.
 *
 * Conventions: calls that touch SQLite return gboolean (or NULL) and set a
 * GError in ANA_ERROR (schema.h). Hooks and callbacks cannot fail: a write
 * that fails while they buffer (a batch filled up) is kept as the first
 * error; from then on rows are dropped (counters still count) and
 * ana_recorder_flush() and ana_recorder_finish() report it. Nothing here
 * is thread-safe: one recorder is driven from one thread.
 */
#ifndef ANA_RECORDER_H
#define ANA_RECORDER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"
#include "schema.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* What a run is.                                                       */

#define ANA_DEFAULT_HEARTBEAT_ORIGINS 16  /* heartbeat origins recorded */
#define ANA_DEFAULT_BATCH_ROWS 50000      /* rows per write transaction */

/* The run's clock: the simulator's virtual time, or the testbed's
 * monotonic clock. Microseconds; never goes backwards. */
typedef int64_t (*ana_now_fn)(void *user);

typedef enum ana_status {
    ANA_STATUS_RUNNING = 0,    /* being written, or its writer died */
    ANA_STATUS_COMPLETE = 1,   /* ran to its planned end */
    ANA_STATUS_INCOMPLETE = 2, /* stopped early (a signal, an error) */
    ANA_STATUS_COUNT
} ana_status;

/* "running", "complete", "incomplete" (the run.status values). */
const char *ana_status_name(ana_status status);

/* What happened to packets, the traffic.outcome values. The observer
 * counts sent, received, duplicate and rejected by itself; the others come
 * from ana_recorder_traffic(). Counted against the sender: sent and every
 * drop (lost .. unroutable) and net_duplicate. Counted against the
 * receiver: delivered, received, duplicate, rejected. */
typedef enum ana_outcome {
    ANA_OUTCOME_SENT = 0,       /* handed to the network by the engine */
    ANA_OUTCOME_DELIVERED,      /* handed to the receiver by the network */
    ANA_OUTCOME_RECEIVED,       /* accepted by the receiving engine */
    ANA_OUTCOME_DUPLICATE,      /* received, a rumor copy already seen */
    ANA_OUTCOME_REJECTED,       /* refused by the receiving engine */
    ANA_OUTCOME_LOST,           /* dropped by the network's loss model */
    ANA_OUTCOME_PARTITIONED,    /* dropped by a partition */
    ANA_OUTCOME_QUEUE_OVERFLOW, /* dropped at a full queue or buffer */
    ANA_OUTCOME_OVERSIZE,       /* dropped as larger than the path allows */
    ANA_OUTCOME_NODE_DOWN,      /* dropped: the receiver was down */
    ANA_OUTCOME_UNROUTABLE,     /* dropped: nobody has that address */
    ANA_OUTCOME_NET_DUPLICATE,  /* an extra copy the network made */
    ANA_OUTCOME_CAPTURED,       /* seen on the wire by a testbed's packet
                                 * capture (cluster-wide, under node 0) */
    ANA_OUTCOME_COUNT
} ana_outcome;

/* "sent", "delivered", ... (the traffic.outcome values). */
const char *ana_outcome_name(ana_outcome outcome);

/* What the world around the engines knows of a node: the failure
 * detector's ground truth (node_state.state). Whether a node should be in
 * the others' lists: only while UP. Whether its own list counts: while UP
 * or STOPPED (a stopped node still expires others). */
typedef enum ana_node_state {
    ANA_NODE_ABSENT = 0, /* not joined yet; never written */
    ANA_NODE_UP,         /* running and sending heartbeats */
    ANA_NODE_STOPPED,    /* running, heartbeats stopped (pekonode's Stop) */
    ANA_NODE_PAUSED,     /* frozen: keeps its list, does nothing */
    ANA_NODE_CRASHED,    /* no engine: its list is lost */
    ANA_NODE_STATE_COUNT
} ana_node_state;

/* "up", "stopped", "paused", "crashed" (and "absent"). */
const char *ana_node_state_name(ana_node_state state);

/* Whether a node in `state` is silent: running no heartbeats that others
 * could hear, so that removing it is right. An absent node is not: nobody
 * should know it yet. */
static inline bool ana_node_state_silent(ana_node_state state)
{
    return state == ANA_NODE_STOPPED || state == ANA_NODE_PAUSED ||
           state == ANA_NODE_CRASHED;
}

typedef struct ana_run_info {
    const char *scenario;     /* run.scenario; NULL means "" */
    const char *params_json;  /* run.params, a JSON text; NULL means "{}" */
    uint64_t seed;            /* run.seed (above 2^63-1 reads back
                               * negative: SQLite integers are signed) */
    const char *version;      /* run.version; NULL means PEKO_VERSION_STRING */
    const char *source;       /* run.source, "sim", "testbed" or "node"; NULL
                               * means "sim" */
    size_t nodes;             /* node indices 0..nodes-1, 1..INT32_MAX */
    size_t heartbeat_origins; /* K: heartbeat rumors are recorded for K
                               * origins evenly spaced by index (node
                               * floor(j*nodes/K), j < K); 0 records none,
                               * >= nodes records all. Metadata rumors are
                               * always all recorded. */
    const bool *heartbeat_sampled; /* NULL, or `nodes` flags naming the
                               * sampled origins exactly (a scenario's
                               * selector); heartbeat_origins is then
                               * ignored and recorded as their count */
    uint32_t heartbeat_every; /* M: of a sampled origin, only heartbeats
                               * with sequence 1, M+1, 2M+1, ...; 0 or 1
                               * means all */
    size_t batch_rows;        /* rows buffered before a write transaction;
                               * 0 means ANA_DEFAULT_BATCH_ROWS */
    const char *sweep_id;     /* run.sweep_id: the sweep this run is part
                               * of; NULL for a run on its own */
    const char *sweep_point;  /* run.sweep_point: the sweep's axis values,
                               * "engine.amount=3"; NULL means "" */
    int64_t repetition;       /* run.repetition; < 0 means NULL */
    bool ground_truth;        /* run.ground_truth: the caller reports
                               * every node's state as it changes
                               * (ana_recorder_node_state), so removals
                               * can be judged right or wrong */
    const char *started_at;   /* run.started_at; NULL means the wall clock
                               * now, "YYYY-MM-DDTHH:MM:SSZ" (UTC) */
    ana_now_fn now_us;        /* the run's clock, required */
    void *now_user;           /* passed to now_us */

    /* Fleet recording (docs/fleet.md): what each node saw, stamped with
     * its real-time clock, for ana_fleet_merge() (fleet.h) to put on one
     * clock. Off unless `fleet` is set; then wall_us is required. */
    bool fleet;               /* record fleet_receipt, fleet_members and
                               * clock_offset rows */
    uint32_t fleet_heartbeat_every; /* of every origin's heartbeats, the
                               * receipts of sequence 1, M+1, 2M+1, ...;
                               * 0 or 1 means all. Metadata: all */
    const char *run_label;    /* run.run_label: the deployment this
                               * recording belongs to; NULL for none */
    ana_now_fn wall_us;       /* the node's real-time clock, microseconds
                               * since the Unix epoch (run.wall_t0_us and
                               * every fleet row's wall_us) */
    void *wall_user;          /* passed to wall_us */
} ana_run_info;

/* Fills *info with the defaults: K = ANA_DEFAULT_HEARTBEAT_ORIGINS, every
 * heartbeat of those, ANA_DEFAULT_BATCH_ROWS, source "sim", and no nodes
 * and no clock (the caller must set nodes and now_us). */
void ana_run_info_init(ana_run_info *info);

/* ------------------------------------------------------------------ */
/* The recorder.                                                        */

typedef struct ana_recorder ana_recorder;
/* A node's observer context: the `user` of its peko_observer callbacks. */
typedef struct ana_node_ctx ana_node_ctx;

/* Opens (creating it if need be) the database at `path` and starts a run:
 * creates the schema if the file is new or empty, sets WAL journal mode,
 * and inserts the run row with status 'running'. Times are recorded
 * relative to info->now_us() as read here, so a run starts at t_us 0.
 * Strings in *info are copied. ":memory:" works (for tests).
 *
 * Returns the recorder, or NULL with *error set and the file untouched
 * when: info is incomplete or params_json is not JSON (ANA_ERROR_INVALID);
 * the path cannot be opened or written, e.g. a directory or a read-only
 * place (ANA_ERROR_SQLITE); the file is not SQLite or is another
 * program's database (ANA_ERROR_NOT_PEKO); it was written by a newer
 * schema (ANA_ERROR_SCHEMA). Waits up to 10 s for another writer (a
 * parallel sweep) to release the file. */
ana_recorder *ana_recorder_open(const char *path, const ana_run_info *info,
                                GError **error);

/* Frees the recorder and closes the database. Without a finish before,
 * nothing more is written: buffered rows are dropped and the run row keeps
 * 'running', exactly as after a crash. NULL is a no-op. */
void ana_recorder_free(ana_recorder *rec);

/* The run's run_id in the file (assigned by open). Cannot fail. */
int64_t ana_recorder_run_id(const ana_recorder *rec);

/* Registers node `index` (< info.nodes) with its address and name (copied;
 * NULL means none). The recorder maps addresses back to node ids with
 * this, so register every node before the run starts: rumors of an
 * unregistered origin are only recorded at their origin, and senders it
 * does not know are recorded as NULL. Returns TRUE, or FALSE with
 * ANA_ERROR_INVALID for an index out of range, an index registered
 * before, or an address another node has. */
gboolean ana_recorder_add_node(ana_recorder *rec, size_t index,
                               const peko_addr *addr, const char *name,
                               GError **error);

/* The observer to give every node's engine (static; never NULL). */
const peko_observer *ana_recorder_observer(void);

/* Node `index`'s context (< info.nodes), to pass as the observer's user;
 * owned by the recorder, valid until ana_recorder_free(). */
ana_node_ctx *ana_recorder_node_ctx(ana_recorder *rec, size_t index);

/* How many times the engines observed with node `index`'s context have
 * listed a node or stopped listing one (node_added plus node_expired,
 * counted since the recorder opened, across restarts): every change to
 * such an engine's list moves it, so an unchanged count means an
 * unchanged list. 0 for an index out of range. */
uint64_t ana_recorder_list_changes(const ana_recorder *rec, size_t index);

/* ------------------------------------------------------------------ */
/* Hooks for the world around the engines. None of them calls SQLite    */
/* (a full batch is written, as for callbacks). Times are in the time    */
/* source's base, as now_us() returns them.                             */

/* Adds `packets` packets of `bytes` bytes in all to the counter of
 * (node, type, outcome); type 0, or any value that is not a message type,
 * counts as "unknown" (a packet whose type the network did not read). For
 * outcomes the observer does not count (delivered and the drops); see
 * ana_outcome for whose node to name. */
void ana_recorder_traffic(ana_recorder *rec, size_t node, peko_msg_type type,
                          ana_outcome outcome, uint64_t packets,
                          uint64_t bytes);

/* Says that node `node` (< info.nodes, registered) runs in another
 * process that records it: this recorder sees its packets arrive but
 * never its engine. A rumor it creates (a recorded one: metadata, or a
 * sampled heartbeat) is then adopted when a node observed here first
 * sees it, with created_us the time of that first sight, so the
 * infections recorded here keep their real times; combining the
 * processes' files (combine.h) puts them back relative to the true
 * creation. What `peko testbed --workers` uses; a run without foreign
 * nodes records exactly as before. Cannot fail. */
void ana_recorder_set_foreign(ana_recorder *rec, size_t node);

/* A membership sample at t_us: `live` nodes are running and `complete` of
 * them hold exactly the live nodes in their list. */
void ana_recorder_membership(ana_recorder *rec, int64_t t_us, size_t live,
                             size_t complete);

/* A scenario event as applied at t_us ("publish", "partition", ...) with
 * free-form detail (NULL for none); both copied. */
void ana_recorder_timeline(ana_recorder *rec, int64_t t_us,
                           const char *event, const char *detail);

/* Ground truth, for runs opened with info.ground_truth (docs/schema.md,
 * node_state and membership_change). Both are called on rare events (a
 * join, crash, restart, pause, resume, stop or start), never per packet.
 *
 * Node `node` is in `state` from t_us on. A call that repeats the node's
 * last state writes nothing; ANA_NODE_ABSENT is refused (a node is absent
 * only before its first state). While a node is silent, every node that
 * lists it again is recorded (membership_change 'added'), as is every
 * re-add of a peer a node removed; a CRASHED node's own removals are
 * forgotten, since its list is gone. */
void ana_recorder_node_state(ana_recorder *rec, size_t node, int64_t t_us,
                             ana_node_state state);

/* At t_us, node `node`'s list holds `peer` (membership_change 'listed'):
 * the world's snapshot of who lists a node at the moment it stops being
 * up, from which the analysis knows whose lists it must leave. */
void ana_recorder_listed(ana_recorder *rec, size_t node, size_t peer,
                         int64_t t_us);

/* A clock offset estimate that did not come from the engine's swaps
 * (those the observer records by itself, source 'swap'): the kernel's
 * NTP state, source 'kernel', as chrony or ntpd keep it (peer NULL, the
 * offset to the servers' time, error_us the kernel's estimated error).
 * Only for runs opened with info.fleet; stamped with info.wall_us. */
void ana_recorder_clock_estimate(ana_recorder *rec, size_t node,
                                 const char *source, const peko_addr *peer,
                                 int64_t offset_us, int64_t error_us);

/* ------------------------------------------------------------------ */
/* Writing and ending.                                                  */

/* Writes every buffered row and the counters so far in one transaction,
 * leaving the run 'running' (a long run can call this now and then, so a
 * crash loses less). Returns TRUE, or FALSE with the error (the first
 * one, if an earlier batch failed inside a callback). */
gboolean ana_recorder_flush(ana_recorder *rec, GError **error);

/* Large enough for a 64-bit trace hash in hex and a NUL. */
#define ANA_TRACE_HASH_STRLEN 17

/* Formats a trace hash as run.trace_hash stores it: 16 lower-case hex
 * digits. */
void ana_trace_hash_format(uint64_t hash, char buf[ANA_TRACE_HASH_STRLEN]);

/* Ends the run: writes every buffered row, the counters, the per-node and
 * per-rumor totals, and the run row's status (COMPLETE or INCOMPLETE),
 * finished_at, trace_hash (hex, NULL for none), sim_time_us, wall_s,
 * events and deliveries, in one transaction, then checkpoints the WAL into
 * the main file. Later callbacks and hooks are ignored.
 *
 * Returns FALSE with ANA_ERROR_INVALID, writing nothing, for a status of
 * RUNNING or a second finish. If rows were lost, to an earlier failed
 * write or to this final one, the run is marked 'incomplete' whatever
 * `status` says, with the reason in run.error, and FALSE is returned with
 * the first error; should even that last update fail, the run row keeps
 * 'running'. Either way the run is over: later calls are refused. */
gboolean ana_recorder_finish(ana_recorder *rec, ana_status status,
                             const char *trace_hash, int64_t sim_time_us,
                             double wall_s, uint64_t events,
                             uint64_t deliveries, GError **error);

/* ------------------------------------------------------------------ */
/* The recorder's own figures.                                           */

typedef struct ana_recorder_stats {
    uint64_t rumors;       /* rumors recorded */
    uint64_t infections;   /* infection rows recorded */
    uint64_t rows_written; /* rows of any table committed */
    uint64_t rows_dropped; /* rows lost after a write failed */
    uint64_t flushes;      /* write transactions */
    int64_t flush_us;      /* wall time spent in them (real clock) */
    size_t buffered;       /* rows waiting for the next write */
} ana_recorder_stats;

/* Copies the figures so far into *out. Cannot fail. */
void ana_recorder_stats_get(const ana_recorder *rec, ana_recorder_stats *out);

G_END_DECLS

#endif /* ANA_RECORDER_H */
