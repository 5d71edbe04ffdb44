/* world-private.h: the world's state, shared by the files that make up
 * the simulator (world.c core and dispatch; link.c latency, loss and
 * duplication; queues.c uplink and receive queues; partition.c; clock.c;
 * lifecycle.c; tcp.c; schedule.c). Nothing outside sim/ includes it.
 */
#ifndef SIM_WORLD_PRIVATE_H
#define SIM_WORLD_PRIVATE_H

#include <glib.h>
#include <signal.h>

#include "evq.h"
#include "pcap.h"
#include "world.h"

/* Event kinds in the world's queue. */
enum {
    SIM_EV_TIMER = 1,   /* node: whose; arg: peko_timer */
    SIM_EV_ARRIVE = 2,  /* a packet reaches its receiver off the network.
                         * node: receiver; arg: sender; u64: wire info
                         * (below); packet: bytes */
    SIM_EV_PROCESS = 3, /* a queued packet's turn has come (receive
                         * queue with a processing cost); as ARRIVE, and
                         * u64 carries the receiver's epoch */
    SIM_EV_REPLAY = 4,  /* a packet held while the receiver was paused,
                         * released on resume; as PROCESS */
    SIM_EV_CALL = 5,    /* a scheduled callback; ptr: sim_call */
    SIM_EV_ARRIVE_MANY = 6, /* copies of one UDP packet from one sender
                         * reaching up to SIM_FOLD_MAX receivers at one
                         * time (a fan-out, folded by sim__send): node:
                         * the first; u64: the others, each its index + 1
                         * in 32 bits (0: none); arg: sender; packet: one
                         * hold a copy */
};

/* Receivers one folded arrival holds: the node field and two in u64. */
#define SIM_FOLD_MAX 3

/* The u64 of packet events: TCP sequence number (bits 0-31) and source
 * port (32-47) for the capture, and the receiver's epoch (48-63) once the
 * packet is queued at the receiver. A packet queued across 65536 crashes
 * of its receiver would be mistaken for current: not a practical case. */
#define SIM_WIRE_SEQ(u) ((uint32_t)(u))
#define SIM_WIRE_PORT(u) ((uint16_t)((u) >> 32))
#define SIM_WIRE_EPOCH(u) ((uint16_t)((u) >> 48))
#define SIM_WIRE_MAKE(seq, port, epoch)                                       \
    ((uint64_t)(uint32_t)(seq) | ((uint64_t)(uint16_t)(port) << 32) |        \
     ((uint64_t)(uint16_t)(epoch) << 48))
#define SIM_WIRE_WITH_EPOCH(u, epoch)                                         \
    (((u) & 0x0000ffffffffffffULL) | ((uint64_t)(uint16_t)(epoch) << 48))

/* A packet held by a paused receiver. */
typedef struct sim_held {
    sim_packet *packet;
    uint32_t from;
    uint64_t wire;
} sim_held;

/* One open TCP connection from a node to a peer (tcp.c). */
typedef struct sim_tcp_conn {
    uint32_t peer;           /* node index; UINT32_MAX: slot unused */
    uint32_t peer_epoch;     /* the peer's epoch when it was opened */
    uint64_t last_use;       /* owner's use counter: LRU order */
    int64_t last_arrival_us; /* latest arrival scheduled on it */
    uint32_t next_seq;       /* sequence number of its next byte */
    uint16_t sport;          /* its ephemeral source port */
} sim_tcp_conn;

/* The bytes of a sim_node that a delivery and a forward read: the
 * fields up to its counters of drops (static-asserted in world.c). Nodes
 * are line-aligned. */
#define SIM_NODE_HOT_BYTES (6 * 64)

typedef struct sim_node {
    /* Hot: read on every event that involves the node, first the
     * delivery's (the env the engine calls, the node's state), then the
     * streams its engine and its sends draw from, the send path's, and
     * the counters of both: the first SIM_NODE_HOT_BYTES, which
     * fetch_deliveries (world.c) fetches ahead of a delivery. */
    peko_env env;                /* env.user = this node */
    sim_world *world;
    peko_nodelist *nl;           /* NULL while down */
    uint32_t index;
    uint8_t state;               /* sim_node_state */
    bool clock_on;               /* offset or drift set */
    bool clock_read;             /* the engine has read its clock */
    uint32_t incarnation;        /* of the latest engine; a restart's is
                                  * always greater (sim__engine_new) */
    uint32_t epoch;              /* bumped at each crash */
    int64_t rx_cost_us;          /* 0: packets are processed on arrival */

    /* Streams, node i's of model_purpose: rng is the engine's own
     * (MODEL_STREAM_ENGINE); lat_rng draws the latency of the packets it
     * sends, their duplicates' and its TCP handshakes'; loss_rng the
     * loss and chain steps of its packets and TCP retransmissions;
     * dup_rng whether a packet it sends is duplicated. */
    model_stream rng;
    model_stream lat_rng;
    int64_t uplink_bps;          /* 0: unlimited */
    uint64_t part_a, part_b;     /* partition sides, one bit per cut */
    sim_node_stats stats;

    model_stream loss_rng, dup_rng;
    uint32_t ge_gen;             /* loss model generation of ge */
    model_loss_chain ge;         /* Gilbert-Elliott state */
    uint16_t region;             /* index into the region matrix */
    peko_addr addr;

    /* Timers: the deadline the engine asked for, in node time. */
    sim_evq_handle timers[PEKO_TIMER_COUNT];
    int64_t timer_deadline_us[PEKO_TIMER_COUNT];
    uint32_t overdue;            /* timers that came due while paused */

    /* Clock: node time = t + offset + floor(t * drift_ppb / 1e9). */
    int64_t clock_offset_us;
    int64_t drift_ppb;

    /* Uplink queue: finish times of packets not yet serialized, a ring
     * grown on demand up to send_queue + 1 entries. */
    uint32_t send_queue;
    uint32_t tx_cap, tx_head, tx_count;
    int64_t *tx_finish_us;

    /* Receive queue (rx_cost_us > 0): packets accepted, not processed. */
    uint32_t rx_count;
    int64_t rx_busy_until_us;

    /* Held while paused, in arrival order: a ring up to Buffer. */
    uint32_t held_cap, held_head, held_count;
    sim_held *held;

    /* TCP connections opened by this node (tcp.c), allocated on use. */
    sim_tcp_conn *conns;
    uint64_t conn_uses;
    uint32_t conns_opened;

    uint16_t ip_id;              /* IPv4 identification, for the capture */

    /* Lifecycle: what a restart needs. */
    uint32_t *seeds;
    size_t n_seeds;
    bool has_observer;
    peko_observer observer;
    void *observer_user;
    char name[24];               /* "node-<index>" */
} __attribute__((aligned(64))) sim_node;

/* An active partition: which of the 64 side bits it owns. */
typedef struct sim_partition {
    int id;
    uint64_t mask;
} sim_partition;

/* A scheduled callback (schedule.c). */
typedef struct sim_call {
    int id;                      /* index in w->calls + 1 */
    sim_world_fn fn;
    void *user;
    int64_t period_us;           /* 0: once */
    int64_t next_us;             /* when it is due */
    sim_evq_handle handle;       /* its pending event */
    bool firing;                 /* inside fn */
    bool cancelled;              /* cancelled inside fn */
} sim_call;

#define SIM_MAX_PARTITION_BITS 64
#define SIM_HINTS 16 /* a power of two: sim_world.hints */

struct sim_world {
    size_t n;
    sim_node *nodes;                 /* n, never reallocated: envs point in */
    peko_records *records;           /* shared by every node's engine: a
                                      * peer's address, name and data are
                                      * held once, not once per engine */
    sim_evq q;
    /* The last packet put on the wire and its sender, held by the world
     * too: an engine sends the same bytes to each of its fan-out's
     * targets (and a joining node to each of its seeds), and the copies
     * share this buffer instead of taking one each (wire_copy in world.c). */
    sim_packet *last_sent;
    size_t last_sender;
    /* The latest arrival pushed by the send path, which the next copy of
     * its packet joins when it is due at the same time and nothing was
     * pushed between (fold in world.c): a fan-out's copies then take one
     * event, not one each. */
    sim_evq_handle fold_handle;
    int64_t fold_time_us;
    uint32_t fold_from;
    uint32_t fold_copies;            /* receivers it holds */
    uint64_t fold_u64;               /* its u64 (SIM_EV_ARRIVE_MANY) */
    size_t folded;                   /* copies in flight beyond the events
                                      * that carry them */
    bool unfolded;                   /* config.unfolded: never fold */
    /* The engine's prefetch keys (peko_prefetch_key) of the packets the
     * delivery pipeline looked at lately, so that each is computed once
     * per packet rather than once per receiver and stage (fetch_delivery
     * in world.c). Direct-mapped by the buffer's address; a buffer
     * filled anew forgets its key (sim__packet_new). Hints only. */
    struct {
        const sim_packet *pkt;
        uint64_t key;
    } hints[SIM_HINTS];
    int64_t now_us;                  /* virtual time */
    size_t packet_limit;             /* events in flight (folded copies
                                      * counted, sim__queued) beyond which
                                      * sends are refused: the rest of the
                                      * queue's bound is kept for timers */

    /* Network model (link.c). */
    model_dist latency;              /* default one-way latency */
    int64_t latency_const_us;        /* its value when latency_fast */
    bool latency_fast;               /* constant latency, no regions */
    size_t n_regions;
    model_dist *region_latency;      /* n_regions^2, owned */
    bool *region_set;                /* n_regions^2: pair overrides default */
    model_loss loss;
    bool loss_on;                    /* the model can lose a packet */
    uint32_t loss_gen;               /* bumped when the model changes */
    double duplicate;
    bool tcp;                        /* engine protocol is TCP */
    size_t max_packet_bytes;         /* larger packets: SIM_DROP_OVERSIZE */
    uint32_t buffer;                 /* engine Buffer, resolved */

    /* The host (queues.c): 0 cores, each node has a processor of its
     * own; else every node's receive processing shares these cores, by
     * the time each is next free. */
    uint32_t host_cores;
    int64_t *core_free_us;           /* host_cores, owned */

    /* Partitions (partition.c). */
    uint64_t part_bits;              /* bits in use by active partitions */
    uint64_t part_symmetric;         /* of those, the symmetric ones */
    sim_partition parts[SIM_MAX_PARTITION_BITS];
    size_t n_parts;
    int next_part_id;

    /* Observation. */
    sim_world_hooks hooks;
    void *hooks_user;
    bool hooks_on;
    sim_pcap *pcap;

    /* Scheduled callbacks (schedule.c): by id - 1; NULL once done. */
    GPtrArray *calls;

    /* What engines are created with (restarts too). */
    peko_config engine;              /* strings point at the copies below */
    char *secret_key;
    char **accepted_keys;            /* NULL-terminated */
    char *listen_addr;

    int64_t epoch_us;
    uint16_t port;
    uint64_t seed;
    sim_print_fn print;
    void *print_user;
    uint64_t trace_hash;             /* over every delivery so far */
    const volatile sig_atomic_t *stop; /* run_until returns once set */
    sim_world_stats stats;           /* now_us, pending, queue_bytes filled
                                      * on request */
};

/* ------------------------------------------------------------------ */
/* Shared between the files.                                            */

/* world.c: counts a drop of a packet from `from` to `to` (SIZE_MAX: no
 * such node) and tells the hook. */
void sim__drop(sim_world *w, size_t from, size_t to, const uint8_t *bytes,
               size_t n_bytes, sim_drop_cause cause);
/* world.c: creates node i's engine from the world's engine config, with
 * its observer. Returns 0 or the engine's error. */
int sim__engine_new(sim_world *w, sim_node *node);
/* Events pending, each folded copy counted as one: what packet_limit
 * bounds, the same whether copies are folded or not. */
static inline size_t sim__queued(const sim_world *w)
{
    return sim_evq_size(&w->q) + w->folded;
}

/* world.c: the send path, shared by the env and sim_world_inject(). */
int sim__send(sim_world *w, sim_node *node, const peko_addr *to,
              const uint8_t *bytes, size_t n_bytes);
/* world.c: a new packet holding a copy of bytes[0, n_bytes). */
sim_packet *sim__packet_new(sim_world *w, const uint8_t *bytes,
                            size_t n_bytes);
/* world.c: pushes a packet event; on a full queue drops the packet
 * (freeing it) with `cause` and returns false. */
bool sim__push_packet(sim_world *w, int64_t t_us, uint16_t kind,
                      uint32_t to, uint32_t from, uint64_t wire,
                      sim_packet *pkt, sim_drop_cause cause);

/* link.c */
void sim__link_init(sim_world *w, int64_t latency_us);
void sim__link_clear(sim_world *w);
/* One-way latency of a packet from -> to, drawn from `rng` (the
 * stream of whoever pays for the draw: always a sender's). */
static inline int64_t sim__latency(sim_world *w, model_stream *rng,
                                   const sim_node *from, const sim_node *to);
/* True if the loss model drops this packet (steps the sender's chain). */
bool sim__lose(sim_world *w, sim_node *from);

/* partition.c */
static inline bool sim__cut(const sim_world *w, const sim_node *from,
                            const sim_node *to)
{
    uint64_t blocked = (from->part_a & to->part_b) |
                       (from->part_b & to->part_a & w->part_symmetric);
    return blocked != 0;
}

/* queues.c: the time a packet of n_bytes sent now leaves node's uplink,
 * or -1 when the uplink queue is full. */
int64_t sim__uplink(sim_world *w, sim_node *node, size_t n_bytes);
/* queues.c: a packet reached an up receiver that has a processing cost:
 * queue it or drop it. Takes the packet. */
void sim__rx_enqueue(sim_world *w, sim_node *to, uint32_t from,
                     uint64_t wire, sim_packet *pkt);
/* queues.c: hold a packet for a paused receiver, or drop it. */
void sim__hold(sim_world *w, sim_node *to, uint32_t from, uint64_t wire,
               sim_packet *pkt);
/* queues.c: release held packets as REPLAY events (resume), or drop them
 * as node_down (crash). */
void sim__held_release(sim_world *w, sim_node *node);
void sim__held_drop(sim_world *w, sim_node *node);
void sim__queues_free(sim_node *node);

/* clock.c */
static inline int64_t sim__node_time(const sim_node *node, int64_t t_us);
int64_t sim__virtual_time(const sim_node *node, int64_t node_us,
                          int64_t now_us);
/* Pushes timer `timer` at its stored node-time deadline. */
void sim__timer_push(sim_world *w, sim_node *node, peko_timer timer);

/* tcp.c: the TCP path from the uplink on. Schedules the arrival or drops
 * the packet; returns 0. */
int sim__tcp_send(sim_world *w, sim_node *from, sim_node *to,
                  int64_t depart_us, const uint8_t *bytes, size_t n_bytes);
/* Forgets node's connections (crash). */
void sim__tcp_reset(sim_node *node);
/* world.c: the initial sequence number `from` uses towards `to` on its
 * counter-th connection, for the capture. */
uint32_t sim__tcp_isn(const sim_world *w, uint32_t from, uint32_t to,
                      uint32_t counter);

/* schedule.c */
void sim__call_fire(sim_world *w, sim_call *call);
void sim__calls_free(sim_world *w);

/* ------------------------------------------------------------------ */
/* Inline bodies.                                                       */

static inline int64_t sim__node_time(const sim_node *node, int64_t t_us)
{
    if (!node->clock_on)
        return t_us;
    /* floor(t * ppb / 1e9), exact in 128 bits; t >= 0 always. */
    __int128_t skew = (__int128_t)t_us * node->drift_ppb;
    int64_t d = (int64_t)(skew / 1000000000);
    if (skew % 1000000000 < 0)
        d--;
    return t_us + node->clock_offset_us + d;
}

static inline int64_t sim__latency(sim_world *w, model_stream *rng,
                                   const sim_node *from, const sim_node *to)
{
    if (w->latency_fast)
        return w->latency_const_us;
    const model_dist *d = &w->latency;
    if (w->n_regions) {
        size_t pair = (size_t)from->region * w->n_regions + to->region;
        if (w->region_set[pair])
            d = &w->region_latency[pair];
    }
    return model_dist_sample_us(d, rng);
}

#endif /* SIM_WORLD_PRIVATE_H */
