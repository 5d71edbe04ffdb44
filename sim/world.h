/* world.h: a simulated world of peko engines.
 *
 * N nodes, each a peko_nodelist driven by its own peko_env whose clock is
 * the world's virtual clock, whose timers and sends are events in one
 * event queue (evq.h), and whose randomness is the node's own stream of
 * the run's seed (model.h). One thread runs everything; nothing reads the
 * real clock, so a run is a pure function of (node count, config, seed)
 * and sim_world_trace_hash() proves it (DESIGN.md section 4).
 *
 * On top of the engines sits a network model and a node lifecycle:
 * - latency per packet from a distribution (model.h), per region pair if
 *   regions are set; loss (Bernoulli or Gilbert-Elliott, model.h);
 *   duplication; reordering follows from jitter;
 * - a bandwidth per node (serialization on its uplink, a bounded send
 *   queue) and a receive queue bounded by the engine's Buffer with a
 *   processing cost per packet;
 * - partitions, symmetric or one-way, that start and heal mid-run;
 * - crash, restart, pause and resume of nodes, and pekonode's stop/start;
 * - TCP mode (engine protocol TCP): reliable, ordered, with a connection
 *   set-up round trip and retransmission delays instead of loss;
 * - a clock offset and drift per node;
 * - callbacks at virtual times (timelines, samplers), hooks on every
 *   delivery and drop, and a packet capture (pcap.h).
 * A feature that is off costs at most a predictable branch per packet and
 * draws nothing. docs/simulator.md is the full description: event order,
 * random streams, units, drop causes.
 *
 * Events are ordered by (virtual time, insertion sequence). Randomness:
 * node i's engine draws from stream i of the seed; the network model
 * draws from per-sender streams of its own (latency, loss, duplication),
 * so no draw of one node shifts another's. The streams are numbered as
 * model.h says, and the laws are sampled with model.h's code: the
 * testbed draws the same numbers from the same streams.
 *
 * Addressing: node i listens on 10.a.b.c:port where a.b.c is i + 1 as a
 * 24-bit number (node 0 is 10.0.0.1, node 255 is 10.0.1.0), so an address
 * maps back to its node by arithmetic, not by a lookup.
 */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "model.h"
#include "net.h"
#include "peko.h"

/* 2022-05-19 14:51:23 UTC, the date on pekonode's README: console lines
 * of a simulated run are stamped as if the run started then. */
#define SIM_WORLD_DEFAULT_EPOCH_US (1652971883LL * 1000000LL)
#define SIM_WORLD_DEFAULT_LATENCY_US 1000 /* one-way, 1 ms */
#define SIM_WORLD_DEFAULT_PORT 8000
/* 10.0.0.1 .. 10.255.255.254: the 24 bits after "10." minus 0 and the
 * broadcast-looking 10.255.255.255. */
#define SIM_WORLD_MAX_NODES ((size_t)(1u << 24) - 2)
#define SIM_WORLD_DEFAULT_SEND_QUEUE 1000 /* uplink queue bound, packets */
#define SIM_WORLD_UDP_MAX_BYTES 65507     /* largest UDP payload over IPv4 */
/* TCP mode (docs/simulator.md): connections kept per node (least
 * recently used evicted), and the retransmission timer a lost attempt
 * costs: doubling from the initial value up to the maximum, giving up
 * (a loss) after the last retry as Linux's tcp_retries2 does. */
#define SIM_TCP_CONN_CACHE 16
#define SIM_TCP_RTO_INITIAL_US 200000LL
#define SIM_TCP_RTO_MAX_US (60LL * 1000000LL)
#define SIM_TCP_MAX_RETRIES 15

/* Receives every console line of every node, timestamp included
 * ("2022-05-19 14:51:23 [[Join]: ...]"), with the node's index. `line` is
 * borrowed for the call. */
typedef void (*sim_print_fn)(void *user, size_t node, const char *line);

typedef struct sim_world_config {
    peko_config engine;     /* every node's engine configuration, copied
                             * (restarts use it); protocol TCP selects the
                             * simulator's TCP mode */
    int64_t latency_us;     /* constant one-way delay, >= 0, until
                             * sim_world_set_latency() says otherwise */
    int64_t epoch_us;       /* unix time (us) shown at virtual time 0 */
    uint16_t port;          /* every node's port */
    size_t max_events;      /* event queue bound; 0 means SIM_EVQ_MAX_EVENTS.
                             * n * PEKO_TIMER_COUNT of it is kept for
                             * timers; sends beyond the rest are refused */
    sim_print_fn print;     /* NULL: lines go to stdout */
    void *print_user;
    /* Set by a signal handler to give up (NULL: never): sim_world_new()
     * then stops creating nodes (a million engines take seconds) and
     * the world keeps it as its stop flag (sim_world_set_stop()). */
    const volatile sig_atomic_t *stop;
    /* One event for each copy of a packet, where copies of one packet
     * due at one time are otherwise folded into one event (a fan-out;
     * `folded` below). The run is the same either way, bit for bit; only
     * memory and time differ. For tests and measurements. */
    bool unfolded;
} sim_world_config;

/* Counters since the world was created. Every packet sent ends up
 * delivered, dropped (under one cause) or still in flight, a duplicate
 * counting as one more packet:
 *     sends + duplicated == deliveries + sum(dropped) + in_flight. */
typedef struct sim_world_stats {
    int64_t now_us;            /* virtual time */
    uint64_t events;           /* events dispatched: timers, packet
                                * arrivals and queue steps, callbacks */
    uint64_t timers;           /* timer events handed to engines */
    uint64_t sends;            /* env->send() calls (and injections) */
    uint64_t deliveries;       /* packets handed to a node */
    uint64_t delivered_bytes;
    uint64_t unroutable;       /* sends to an address no node has (also
                                * counted as dropped[SIM_DROP_NODE_DOWN]) */
    uint64_t queue_full;       /* sends refused (-ENOBUFS) at the event
                                * queue's bound (also counted as
                                * dropped[SIM_DROP_SEND_QUEUE]); timers
                                * never are */
    size_t pending;            /* events waiting in the queue, each
                                * folded copy counted as one */
    size_t queue_bytes;        /* memory held by the event queue */
    /* The network model. */
    uint64_t dropped[SIM_DROP_COUNT]; /* packets, by cause */
    uint64_t dropped_bytes;
    uint64_t duplicated;       /* extra copies made by duplication */
    uint64_t shared;           /* packets put on the wire in the buffer of
                                * the sender's previous packet (the same
                                * bytes: a fan-out's copies) */
    uint64_t folded;           /* copies that travelled in the event of
                                * the copy before them (the same packet
                                * from the same sender, due at the same
                                * time: a fan-out), not one of their own */
    uint64_t in_flight;        /* sent, neither delivered nor dropped yet */
    uint64_t held;             /* packets waiting for a paused node now */
    uint64_t latency_us_total; /* sum of the network delays (propagation,
                                * TCP handshakes and retransmissions; not
                                * queueing) of packets put on the wire */
    uint64_t latency_samples;  /* packets that sum covers */
    uint64_t tcp_connects;     /* TCP connections opened (handshakes) */
    uint64_t tcp_retransmits;  /* TCP attempts lost and retried */
    uint64_t pcap_records;     /* frames written to the capture */
} sim_world_stats;

/* A node's life (sim_world_crash() and friends). A node that has not
 * joined yet is up: join is the engine's business. */
typedef enum sim_node_state {
    SIM_NODE_UP = 0,
    SIM_NODE_PAUSED,  /* frozen: timers and packets wait */
    SIM_NODE_DOWN,    /* crashed: no engine, state lost */
} sim_node_state;

/* Counters of one node (sim_world_node_stats()). */
typedef struct sim_node_stats {
    uint64_t sends;                     /* packets its engine sent */
    uint64_t sent_bytes;
    uint64_t deliveries;                /* packets handed to its engine */
    uint64_t delivered_bytes;
    /* The same by message type (index as the hooks' `type`: 0 for a
     * packet that is no message), so that a recorder needs no hook call
     * per delivery. */
    uint64_t delivered_by_type[PEKO_MSG_TYPE_COUNT];
    uint64_t delivered_bytes_by_type[PEKO_MSG_TYPE_COUNT];
    uint64_t dropped_out[SIM_DROP_COUNT]; /* its packets, dropped */
    uint64_t dropped_in[SIM_DROP_COUNT];  /* packets to it, dropped */
    uint64_t duplicated;                /* its packets the network doubled */
    uint64_t crashes;
    uint64_t restarts;
    uint64_t held_max;                  /* most packets held while paused */
    uint64_t uplink_queue_max;          /* most packets in its uplink queue */
    uint64_t rx_queue_max;              /* most packets in its receive queue */
} sim_node_stats;

/* Told of every delivery and every drop, as they happen. `type` is the
 * message type (byte 3 of the packet, docs/wire.md; 0 for a packet shorter
 * than 4 bytes). `to` is SIZE_MAX for a packet to an address no node has.
 * Either member may be NULL. The hooks run inside a send or a delivery:
 * they may read the world (sim_world_now_us(), the stats) but must not
 * change it or call into an engine. */
typedef struct sim_world_hooks {
    void (*delivered)(void *user, size_t from, size_t to, int type,
                      size_t n_bytes);
    void (*dropped)(void *user, size_t from, size_t to, int type,
                    size_t n_bytes, sim_drop_cause cause);
} sim_world_hooks;

/* A callback at a virtual time (sim_world_schedule(), sim_world_every()).
 * It runs between events, with the clock at its time, and may call
 * anything: the world's functions, engines, even sim_world_cancel() of
 * itself. It must not call sim_world_run_until() or sim_world_free(). */
typedef struct sim_world sim_world;
typedef void (*sim_world_fn)(sim_world *world, void *user);

/* Fills *config with the defaults: the engine's defaults, 1 ms latency,
 * the pekonode epoch, port 8000, the queue's maximum bound, stdout. */
void sim_world_config_init(sim_world_config *config);

/* Creates n nodes (1 <= n <= SIM_WORLD_MAX_NODES) with `config` (NULL:
 * defaults) and the run seed `seed`. Node i is named "node-i"; its random
 * stream is stream i of `seed`, so adding nodes never changes the draws of
 * existing ones. No node has joined yet and virtual time is 0. The
 * network model starts off: constant latency, no loss, no duplication,
 * unlimited bandwidth, no processing cost, no partition, exact clocks.
 * Returns 0
 * and sets *out, or -EINVAL (bad n, negative latency, a max_events that
 * leaves no room beyond the nodes' timers, or an engine config
 * peko_nodelist_new() rejects), or -EINTR once config->stop is set, with
 * *out NULL. */
int sim_world_new(size_t n, const sim_world_config *config, uint64_t seed,
                  sim_world **out);

/* Frees every node and every pending event. NULL is a no-op. */
void sim_world_free(sim_world *world);

size_t sim_world_size(const sim_world *world);

/* Node i's engine, owned by the world (valid until sim_world_free() or
 * until node i crashes; NULL while it is down, and a restart makes a new
 * one). The caller may call any peko_nodelist_* function on it between
 * runs or from a scheduled callback, e.g. set, join, publish. An observer
 * set here is lost at a crash: sim_world_set_observer() survives it. */
peko_nodelist *sim_world_node(sim_world *world, size_t i);

/* Node i's address (owned by the world). */
const peko_addr *sim_world_addr(const sim_world *world, size_t i);

/* Maps an address back to its node in O(1). Returns true and sets *index,
 * or false if no node of this world has that address. */
bool sim_world_index_of(const sim_world *world, const peko_addr *addr,
                        size_t *index);

int64_t sim_world_now_us(const sim_world *world);

/* Runs every event due at or before t_us, in (time, insertion) order, then
 * sets the clock to t_us (events may schedule further events; those due
 * by t_us run too). A t_us in the past does nothing. Returns the number of
 * events dispatched. Once the stop flag (sim_world_set_stop()) is set, it
 * returns within a few hundred events, with the clock at the last event
 * run and the rest still queued. */
uint64_t sim_world_run_until(sim_world *world, int64_t t_us);

/* A flag (borrowed; NULL: none) that a signal handler sets to stop the
 * run early: sim_world_run_until() looks at it every few hundred events,
 * and long callbacks may ask sim_world_stopped(). */
void sim_world_set_stop(sim_world *world, const volatile sig_atomic_t *stop);

/* True once the stop flag is set. */
bool sim_world_stopped(const sim_world *world);

void sim_world_stats_get(const sim_world *world, sim_world_stats *out);

/* A 64-bit digest of every delivery so far, in delivery order: for each,
 * the words (time_us), (receiver << 32 | sender), (length), then the bytes
 * as little-endian 8-byte words (the last zero-padded), each folded in as
 *     h ^= word; h *= 0x100000001b3; h ^= h >> 32;
 * starting from 0xcbf29ce484222325 (FNV-1a's constants, word-wise). Two
 * runs with equal inputs have equal hashes on any machine. */
uint64_t sim_world_trace_hash(const sim_world *world);

/* Large enough for "YYYY-MM-DD HH:MM:SS" with any int64 year, and a NUL. */
#define SIM_WORLD_TIME_STRLEN 40

/* Formats the wall-clock stamp of virtual time t_us as
 * "YYYY-MM-DD HH:MM:SS" (UTC, from the configured epoch) into buf, by
 * arithmetic alone: the real clock and time zone are never consulted. */
void sim_world_format_time(const sim_world *world, int64_t t_us,
                           char buf[SIM_WORLD_TIME_STRLEN]);

/* ------------------------------------------------------------------ */
/* The network model. Each setter may be called before the run or at any */
/* point of it (from a scheduled callback, for timelines): it applies to */
/* packets sent from then on. Each returns 0, or -EINVAL and changes     */
/* nothing.                                                             */

/* The one-way latency of every packet (unless a region pair overrides
 * it), sampled per packet from the sender's latency stream. Copied. */
int sim_world_set_latency(sim_world *world, const model_dist *latency);

/* Regions: region_of[i] (< n_regions) is node i's region, and
 * latency[from * n_regions + to] the latency from a node of region
 * `from` to one of region `to` (inside a region: from == to). A pair
 * whose pair_set entry is false (pair_set NULL: all are set) uses the
 * default latency of sim_world_set_latency(), now and after later
 * changes. Arrays are copied. n_regions 0 removes the regions.
 * -EINVAL for a region out of range, a bad distribution, or more than
 * SIM_WORLD_MAX_REGIONS regions. */
#define SIM_WORLD_MAX_REGIONS 1024 /* the matrix is regions^2 model_dists */
int sim_world_set_regions(sim_world *world, const uint16_t *region_of,
                          size_t n_regions, const model_dist *latency,
                          const bool *pair_set);

/* The loss model (copied). A new model restarts every Gilbert-Elliott
 * chain in the good state. */
int sim_world_set_loss(sim_world *world, const model_loss *loss);

/* The probability (0..1) that a packet that is not lost is delivered a
 * second time, with its own latency sample (UDP only: TCP never
 * duplicates). */
int sim_world_set_duplicate(sim_world *world, double probability);

/* Node i's uplink: packets leave one at a time, a packet of B bytes
 * taking ceil(8 B / bandwidth_bps) us, in send order; at most send_queue
 * packets (0: SIM_WORLD_DEFAULT_SEND_QUEUE) wait behind the one being
 * sent, more are dropped (SIM_DROP_SEND_QUEUE, and the send returns
 * -ENOBUFS as a full socket buffer would). bandwidth_bps 0: unlimited.
 * -EINVAL for a bad index or a negative bandwidth. */
int sim_world_set_uplink(sim_world *world, size_t i, int64_t bandwidth_bps,
                         uint32_t send_queue);

/* Node i's processing cost per received packet: a packet is handed to
 * the engine cost_us after it reaches the front of the node's receive
 * queue, one packet at a time. At most the engine's Buffer packets wait
 * behind the one in process; more are dropped (SIM_DROP_RECV_BUFFER).
 * 0 (the default): packets are handed over on arrival and never wait. */
int sim_world_set_rx_cost(sim_world *world, size_t i, int64_t cost_us);

/* The nodes share one host of `cores` processors: a received packet's
 * processing (sim_world_set_rx_cost) starts once its node is free and
 * one of the cores is, the core free soonest (the lowest-numbered among
 * equals) taking it, in the order the packets arrive. This is how N
 * processes on a K-core machine behave when a burst of packets wakes
 * them all (a netns fleet, docs/fleet.md): their handling is serialized
 * K at a time, which independent per-node processors would not show.
 * 0 (the default): each node has a processor of its own. Set it before
 * the first packet; -EINVAL above SIM_WORLD_MAX_HOST_CORES. */
#define SIM_WORLD_MAX_HOST_CORES 4096
int sim_world_set_host_cores(sim_world *world, uint32_t cores);

/* ------------------------------------------------------------------ */
/* Partitions. A packet is dropped (SIM_DROP_PARTITION) when any         */
/* partition in effect at the time it is sent cuts its sender off from   */
/* its receiver. The check is two 64-bit ANDs per packet, for any number */
/* of nodes: each partition owns bits of a per-node side mask.           */

#define SIM_WORLD_MAX_PARTITIONS 64 /* in effect at once */

/* Cuts group a from group b: both directions, or with one_way only
 * a -> b (b still reaches a). Nodes in neither group are not affected.
 * Index arrays are borrowed for the call; repeats are harmless. Returns
 * the partition's id (> 0), -EINVAL for an index out of range, an empty
 * group or a node in both groups, or -ENOSPC when all 64 side bits are
 * in use. */
int sim_world_partition(sim_world *world, const size_t *group_a, size_t n_a,
                        const size_t *group_b, size_t n_b, bool one_way);

/* A symmetric cut into n_groups groups (groups[g] has n_each[g] nodes)
 * plus one implicit group of every node in none of them: packets between
 * nodes of different groups are dropped. Uses ceil(log2(n_groups + 1))
 * side bits. Returns the id, -EINVAL (index out of range, a node in two
 * groups, no group) or -ENOSPC. */
int sim_world_partition_groups(sim_world *world, const size_t *const *groups,
                               const size_t *n_each, size_t n_groups);

/* Ends partition `id`. Returns 0, or -ENOENT if it is not in effect. */
int sim_world_heal(sim_world *world, int id);

/* Ends every partition. */
void sim_world_heal_all(sim_world *world);

/* True if a packet sent now from node `from` to node `to` would be
 * dropped by a partition. */
bool sim_world_is_cut(const sim_world *world, size_t from, size_t to);

/* ------------------------------------------------------------------ */
/* Node lifecycle. Each returns 0 or a negative errno; -EINVAL for an    */
/* index out of range.                                                  */

/* Node i's seed nodes (copied): what sim_world_join() and every restart
 * give its engine (pekonode's Set) before joining. */
int sim_world_set_seeds(sim_world *world, size_t i, const size_t *seeds,
                        size_t n_seeds);

/* Gives node i's engine its seeds, then joins it (pekonode's Join). A
 * late joiner is a node whose join is scheduled later. -EALREADY if it
 * has joined, -ENODEV if it is down. */
int sim_world_join(sim_world *world, size_t i);

/* Crashes node i: its engine is freed (state lost), its timers are
 * cancelled, packets it holds or has queued are dropped, and packets
 * reaching it from now on are dropped (SIM_DROP_NODE_DOWN); its open TCP
 * connections are gone. Packets it sent that are already on the wire
 * still arrive. -EALREADY if it is down. */
int sim_world_crash(sim_world *world, size_t i);

/* Restarts a crashed node: a fresh engine (its incarnation drawn anew
 * from the node's stream, which carries on), the world's observer for
 * it, its seeds, then join. -EBUSY if it is not down, or the engine's
 * error (the node then stays down). */
int sim_world_restart(sim_world *world, size_t i);

/* Pauses node i, as a process stopped by a debugger or a long GC pause:
 * its timers fire only at resume (late), and packets reaching it wait,
 * at most the engine's Buffer of them; more are dropped
 * (SIM_DROP_RECV_BUFFER). -EALREADY if paused, -ENODEV if down. */
int sim_world_pause(sim_world *world, size_t i);

/* Resumes a paused node: the packets it held are received in arrival
 * order, then its overdue timers fire, all at the current time and after
 * any event already due now. -EALREADY if it is not paused. */
int sim_world_resume(sim_world *world, size_t i);

/* pekonode's Stop and Start on node i's engine (heartbeats off and on).
 * -ENODEV if it is down. */
int sim_world_stop(sim_world *world, size_t i);
int sim_world_start(sim_world *world, size_t i);

sim_node_state sim_world_node_state(const sim_world *world, size_t i);

/* Observes node i's engine now and every engine a restart gives it.
 * `observer` is copied; NULL stops observing. Observer callbacks run
 * inside the engine: like the hooks, they must not change the world. */
void sim_world_set_observer(sim_world *world, size_t i,
                            const peko_observer *observer, void *user);

/* ------------------------------------------------------------------ */
/* Clocks.                                                              */

/* Node i's clock reads offset_us + t + t * drift_ppm / 1e6 at virtual
 * time t (drift resolved to 0.001 ppm, rounded down to whole
 * microseconds), and its timers fire at the first virtual time its clock
 * reaches their deadline. The clock stays monotonic because the drift
 * must exceed -1e6 ppm. Returns 0, -EINVAL (bad index, drift <= -1e6 ppm
 * or not finite, |offset| beyond MODEL_DIST_MAX), or -ERANGE when the
 * node's engine has read its clock and the new setting would turn it
 * back. */
int sim_world_set_clock(sim_world *world, size_t i, int64_t offset_us,
                        double drift_ppm);

/* Node i's clock now (what its engine's env->now_us() returns). */
int64_t sim_world_node_now_us(const sim_world *world, size_t i);

/* ------------------------------------------------------------------ */
/* Time-driven callbacks, ordered with every other event by (time,       */
/* insertion sequence).                                                 */

/* Calls fn(world, user) once at virtual time t_us (a past time means
 * now, after what is already due). Returns an id (> 0) for
 * sim_world_cancel(), or -ENOBUFS when the event queue is at its bound.
 * Each call costs a few bytes until the world is freed. */
int sim_world_schedule(sim_world *world, int64_t t_us, sim_world_fn fn,
                       void *user);

/* Calls fn(world, user) at first_us, then every period_us (> 0) after,
 * until cancelled. Returns an id, -EINVAL or -ENOBUFS. */
int sim_world_every(sim_world *world, int64_t first_us, int64_t period_us,
                    sim_world_fn fn, void *user);

/* Cancels a scheduled or periodic callback. Returns 0, or -ENOENT if it
 * is not pending (already run, cancelled, or never scheduled). */
int sim_world_cancel(sim_world *world, int id);

/* ------------------------------------------------------------------ */
/* Observation.                                                         */

/* Sets the delivery and drop hooks (copied; NULL removes them). */
void sim_world_set_hooks(sim_world *world, const sim_world_hooks *hooks,
                         void *user);

/* Node i's counters. */
void sim_world_node_stats(const sim_world *world, size_t i,
                          sim_node_stats *out);

/* Writes every delivery from now on into a pcap file at `path` (see
 * pcap.h): the frame is stamped with the time it is handed to the
 * receiving engine (epoch + virtual time). Replaces (and closes) a
 * capture already open. Returns FALSE with *error set if the file cannot
 * be created. */
gboolean sim_world_pcap_open(sim_world *world, const char *path,
                             GError **error);

/* Closes the capture, if any. Returns FALSE with *error set if writing
 * it failed. sim_world_free() closes it too, silently. */
gboolean sim_world_pcap_close(sim_world *world, GError **error);

/* Hands a packet to the network as if node `from`'s engine had sent it
 * (the same path, counters and drops), for tests and fault injection.
 * `bytes` is borrowed. Returns what env->send() would. */
int sim_world_inject(sim_world *world, size_t from, const peko_addr *to,
                     const uint8_t *bytes, size_t n_bytes);

#endif /* SIM_WORLD_H */
