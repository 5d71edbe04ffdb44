/* world.h: a simulated world of peko engines.
 *
 * N nodes, each a peko_nodelist driven by its own peko_env whose clock is
 * the world's virtual clock, whose timers and sends are events in one
 * event queue (evq.h), and whose randomness is the node's own stream of
 * the run's seed (rng.h). One thread runs everything; nothing reads the
 * real clock, so a run is a pure function of (node count, config, seed)
 * and sim_world_trace_hash() proves it (DESIGN.md section 4).
 *
 * This is the world's skeleton: every send is delivered after a constant
 * one-way latency. The network model (loss, latency distributions,
 * partitions), node lifecycle (crash, restart, join later), faults,
 * scenarios and recording plug in here as further event kinds and
 * per-node state, without changing how nodes see the world.
 *
 * Addressing: node i listens on 10.a.b.c:port where a.b.c is i + 1 as a
 * 24-bit number (node 0 is 10.0.0.1, node 255 is 10.0.1.0), so an address
 * maps back to its node by arithmetic, not by a lookup.
 */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"

/* 2022-05-19 14:51:23 UTC, the date on pekonode's README: console lines
 * of a simulated run are stamped as if the run started then. */
#define SIM_WORLD_DEFAULT_EPOCH_US (1652971883LL * 1000000LL)
#define SIM_WORLD_DEFAULT_LATENCY_US 1000 /* one-way, 1 ms */
#define SIM_WORLD_DEFAULT_PORT 8000
/* 10.0.0.1 .. 10.255.255.254: the 24 bits after "10." minus 0 and the
 * broadcast-looking 10.255.255.255. */
#define SIM_WORLD_MAX_NODES ((size_t)(1u << 24) - 2)

/* Receives every console line of every node, timestamp included
 * ("2022-05-19 14:51:23 [[Join]: ...]"), with the node's index. `line` is
 * borrowed for the call. */
typedef void (*sim_print_fn)(void *user, size_t node, const char *line);

typedef struct sim_world_config {
    peko_config engine;     /* every node's engine configuration; its
                             * strings are borrowed by sim_world_new() only */
    int64_t latency_us;     /* one-way delay of every delivery, >= 0 */
    int64_t epoch_us;       /* unix time (us) shown at virtual time 0 */
    uint16_t port;          /* every node's port */
    size_t max_events;      /* event queue bound; 0 means SIM_EVQ_MAX_EVENTS.
                             * n * PEKO_TIMER_COUNT of it is kept for
                             * timers; sends beyond the rest are refused */
    sim_print_fn print;     /* NULL: lines go to stdout */
    void *print_user;
} sim_world_config;

/* Counters since the world was created. */
typedef struct sim_world_stats {
    int64_t now_us;            /* virtual time */
    uint64_t events;           /* events dispatched (timers + deliveries) */
    uint64_t timers;           /* timer events fired */
    uint64_t sends;            /* env->send() calls */
    uint64_t deliveries;       /* packets handed to a node */
    uint64_t delivered_bytes;
    uint64_t unroutable;       /* sends to an address no node has: dropped,
                                * as UDP would */
    uint64_t queue_full;       /* sends refused (-ENOBUFS) at the queue's
                                * bound; timers never are */
    size_t pending;            /* events waiting in the queue */
    size_t queue_bytes;        /* memory held by the event queue */
} sim_world_stats;

typedef struct sim_world sim_world;

/* Fills *config with the defaults: the engine's defaults, 1 ms latency,
 * the pekonode epoch, port 8000, the queue's maximum bound, stdout. */
void sim_world_config_init(sim_world_config *config);

/* Creates n nodes (1 <= n <= SIM_WORLD_MAX_NODES) with `config` (NULL:
 * defaults) and the run seed `seed`. Node i is named "node-i"; its random
 * stream is stream i of `seed`, so adding nodes never changes the draws of
 * existing ones. No node has joined yet and virtual time is 0. Returns 0
 * and sets *out, or -EINVAL (bad n, negative latency, a max_events that
 * leaves no room beyond the nodes' timers, or an engine config
 * peko_nodelist_new() rejects) with *out NULL. */
int sim_world_new(size_t n, const sim_world_config *config, uint64_t seed,
                  sim_world **out);

/* Frees every node and every pending event. NULL is a no-op. */
void sim_world_free(sim_world *world);

size_t sim_world_size(const sim_world *world);

/* Node i's engine, owned by the world (valid until sim_world_free()). The
 * caller may call any peko_nodelist_* function on it between runs, e.g.
 * set, join, publish, or set_observer. */
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
 * events dispatched. */
uint64_t sim_world_run_until(sim_world *world, int64_t t_us);

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

#endif /* SIM_WORLD_H */
