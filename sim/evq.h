/* evq.h: the simulator's event queue.
 *
 * A priority queue of events in virtual time (microseconds). Events are
 * ordered by (time, insertion sequence): events at equal times come out in
 * the order they were pushed, so a run never depends on pointer values or
 * on how the heap happens to break ties (DESIGN.md section 4).
 *
 * Layout, for speed at a million pending events:
 * - the heap holds only 16-byte keys (time, then sequence << 24 | slot),
 *   compared as one 128-bit integer, in a 4-ary heap whose sibling groups
 *   fill one 64-byte cache line each;
 * - the payload of each event lives in a 32-byte record in a pool indexed
 *   by the key's slot; freed records are reused last-in first-out, so a
 *   pop followed by a push touches memory that is already in cache;
 * - packet bytes carried by delivery events live in pooled buffers
 *   (sim_packet, packets.h) in size classes, carved from pages that
 *   any class takes once all their buffers are back;
 * - events the caller pushes in time order (sim_evq_push_ordered: the
 *   world's deliveries at a constant latency) skip the heap: their keys
 *   wait in a FIFO ring, and a pop takes the earlier of the ring's front
 *   and the heap's top. Pushing and popping them is O(1) and walks memory
 *   in order, where the heap would cost a cache line per level.
 * Nothing is allocated per event in steady state.
 *
 * Bound: memory. The key arrays (heap and ring) and the record pool grow
 * by doubling when full and never shrink before sim_evq_clear(); at most
 * max_events events (live plus cancelled-but-not-yet-dropped, heap and
 * ring together) are held, and a push beyond that fails. Cancellation is
 * lazy (the key stays in the heap or ring until it reaches the front),
 * but when cancelled events outnumber live ones both are compacted, so
 * they never hold more than about twice the live events. Packet pages
 * are kept up to the high-water mark of bytes in flight (packets.h).
 *
 * Not thread-safe: one queue is driven by one thread.
 */
#ifndef SIM_EVQ_H
#define SIM_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packets.h"

/* The hard ceiling on events held at once: the key's slot field is 24
 * bits. At 48 bytes per event (key plus record) this is 768 MiB. */
#define SIM_EVQ_MAX_EVENTS (1u << 24)

/* Identifies one pushed event, for sim_evq_cancel(). Stays unambiguous
 * until its record has been reused 2^32 times. 0 is never a handle. */
typedef uint64_t sim_evq_handle;
#define SIM_EVQ_NONE ((sim_evq_handle)0)

/* What an event carries. The queue interprets none of it except
 * `packet`, which it owns while the event is pending and frees if the
 * event is cancelled or the queue cleared. */
typedef struct sim_payload {
    uint16_t kind;      /* the caller's event type */
    uint32_t node;      /* the caller's node index */
    uint32_t arg;       /* e.g. a sender index or a timer id */
    uint64_t u64;       /* free for the caller */
    void *ptr;          /* borrowed, returned as is; NULL when packet set */
    sim_packet *packet; /* owned by the queue once pushed; may be NULL */
} sim_payload;

/* One popped event. */
typedef struct sim_event {
    int64_t time_us;    /* virtual time it was scheduled for */
    uint64_t seq;       /* insertion sequence (order among equal times) */
    sim_payload p;      /* p.packet, if any, now belongs to the caller */
    unsigned packet_holds; /* holds of p.packet passed with it: 1, or
                            * more after sim_evq_amend_last() */
} sim_event;

/* Holds of its packet one event may carry (sim_evq_amend_last). */
#define SIM_EVQ_MAX_HOLDS 255

/* Figures for tests, benchmarks and run summaries. */
typedef struct sim_evq_stats {
    size_t live;          /* pending, not cancelled */
    size_t cancelled;     /* cancelled, key still in the heap */
    size_t heap_cap;      /* keys the heap can hold before growing */
    size_t records_cap;   /* records in the pool before growing */
    size_t packets_out;   /* packet buffers handed out, not yet freed */
    size_t packets_pooled; /* free buffers in pages held by a class */
    size_t bytes;         /* memory held by the queue and its pools */
    uint64_t pushed;      /* pushes since init */
    uint64_t compactions; /* heap rebuilds to drop cancelled keys */
    unsigned arity;       /* children per heap node (4 unless built with
                           * -DSIM_EVQ_ARITY=n, for comparison) */
} sim_evq_stats;

typedef struct sim_evq_record sim_evq_record;

typedef struct sim_evq {
    __uint128_t *heap_base;       /* allocation, 64-byte aligned */
    __uint128_t *heap;            /* heap_base + 3: sibling groups align */
    size_t n;                     /* keys in the heap */
    size_t heap_cap;              /* keys allocated */
    __uint128_t *ring;            /* keys of ordered pushes, ascending */
    size_t ring_cap;              /* a power of two, or 0 */
    size_t ring_head;             /* position of the earliest */
    size_t ring_n;                /* keys in the ring */
    sim_evq_record *recs;         /* record pool, indexed by slot */
    uint32_t n_recs;              /* records ever handed out */
    uint32_t recs_cap;            /* records allocated */
    uint32_t free_head;           /* LIFO free list of slots; UINT32_MAX ends */
    uint32_t max_events;          /* the bound, <= SIM_EVQ_MAX_EVENTS */
    sim_evq_handle last_push;     /* the latest push's handle */
    size_t live;
    size_t cancelled;
    uint64_t next_seq;            /* 40 bits; renumbered before it wraps */
    uint64_t pushed;
    uint64_t compactions;
    sim_packet_pool packets;      /* the buffers events carry */
} sim_evq;

/* Initializes an empty queue that will hold at most max_events events
 * (0 means SIM_EVQ_MAX_EVENTS; larger values are clamped to it).
 * `capacity_hint` events are allocated up front (0: a small default), so a
 * caller that knows its working set avoids the doubling steps. Allocation
 * failure aborts, as everywhere in GLib. Pair with sim_evq_clear(). */
void sim_evq_init(sim_evq *q, size_t capacity_hint, size_t max_events);

/* Frees every pending event (and its packet), the pools and the heap,
 * and zeroes *q; sim_evq_init() makes it usable again. Packets popped
 * earlier must have been returned with sim_evq_packet_free() first
 * (asserted). Clearing a zeroed queue is a no-op. */
void sim_evq_clear(sim_evq *q);

/* Schedules an event at time_us (any int64; the queue does not enforce
 * that time moves forward, the caller's clock does). On success the queue
 * owns p->packet. Returns the event's handle, or SIM_EVQ_NONE when the
 * queue is at its bound: nothing is then pushed and the packet still
 * belongs to the caller. */
sim_evq_handle sim_evq_push(sim_evq *q, int64_t time_us,
                            const sim_payload *p);

/* As sim_evq_push, for events a caller pushes in nondecreasing time (the
 * world's deliveries at a constant latency): these skip the heap. An event
 * earlier than the last one pushed this way goes to the heap instead, so
 * the order of pops is (time, insertion sequence) whatever the caller
 * does; only the speed depends on keeping the promise. */
sim_evq_handle sim_evq_push_ordered(sim_evq *q, int64_t time_us,
                                    const sim_payload *p);

/* Removes the earliest event into *out and returns true, or returns false
 * if no event is pending. Cancelled events are dropped on the way. The
 * event's packet, if any, passes to the caller. */
bool sim_evq_pop(sim_evq *q, sim_event *out);

/* As sim_evq_pop, but only an event due at or before t_us: returns false
 * (and removes nothing) when the earliest is later or none is pending.
 * One look at the front where peeking and then popping take two. */
bool sim_evq_pop_until(sim_evq *q, int64_t t_us, sim_event *out);

/* Stores the time of the earliest pending event in *time_us and returns
 * true, or returns false if none is pending. May drop cancelled events
 * from the top, hence not const. */
bool sim_evq_peek_time(sim_evq *q, int64_t *time_us);

/* Stores the node field of the earliest pending event in *node and
 * returns true, or returns false if none is pending: a look ahead, for
 * fetching what the next event will touch. Like sim_evq_peek_time(), may
 * drop cancelled events from the top. */
bool sim_evq_peek_node(sim_evq *q, uint32_t *node);

/* A look further ahead, for fetching what later events will touch: the
 * node and u64 fields and packet (NULL if none) of the k-th key of the ring of
 * ordered pushes (0: its earliest), and true; false if the ring holds k
 * keys or fewer. Not necessarily the k-th event to pop (the heap may hold
 * earlier ones, and cancelled events are not skipped), so only a hint.
 * The ring fetches its records up to 8 keys ahead and their packets up to
 * 4, as it pops. */
bool sim_evq_peek_ordered(const sim_evq *q, size_t k, uint32_t *node,
                          uint64_t *u64, const sim_packet **packet);

/* Folds one more copy of a packet into the pending event `handle`, if
 * that is the last event pushed (nothing pushed since) and it carries
 * `packet`: the event then owns one more hold of the packet (the
 * caller's, e.g. from sim_evq_packet_share()), which passes to whoever
 * pops it (sim_event.packet_holds), and its kind and u64 become `kind`
 * and `u64` (where the caller says who the copies are for). Copies due
 * at one time and pushed one after another come out one after another,
 * with nothing between them, whether folded or not; folded, they cost
 * one event between them (48 bytes, and one push and pop) instead of one
 * each. Returns false, and changes nothing, if the event is not the
 * last pushed, is no longer pending, carries another packet or none, or
 * already holds SIM_EVQ_MAX_HOLDS. */
bool sim_evq_amend_last(sim_evq *q, sim_evq_handle handle,
                        const sim_packet *packet, uint16_t kind,
                        uint64_t u64);

/* Cancels a pending event: it will never be popped, and its packet is
 * freed now. Returns true if it was pending, false if it had already been
 * popped or cancelled (or the handle is SIM_EVQ_NONE): cancelling twice is
 * harmless. */
bool sim_evq_cancel(sim_evq *q, sim_evq_handle handle);

/* Pending events, cancelled ones not counted. */
size_t sim_evq_size(const sim_evq *q);

void sim_evq_stats_get(const sim_evq *q, sim_evq_stats *out);

/* A packet buffer for n_bytes (n_bytes is set; the bytes are not
 * initialized). Buffers up to 64 KiB come from the pool; larger ones are
 * a single g_malloc each. Allocation failure aborts. */
sim_packet *sim_evq_packet_new(sim_evq *q, size_t n_bytes);

/* Returns a buffer to the pool. NULL is a no-op. */
void sim_evq_packet_free(sim_evq *q, sim_packet *packet);

/* One more holder for `packet`, whose bytes must no longer change: the
 * same bytes sent to several peers take one buffer, not one each.
 * Returns `packet`, or NULL if it has as many holders as it can count
 * (the caller then makes a copy). Each holder frees it once. */
sim_packet *sim_evq_packet_share(sim_evq *q, sim_packet *packet);

/* For tests only: sets the next insertion sequence, to exercise the
 * renumbering that happens before the 40-bit sequence would wrap. */
void sim_evq__set_next_seq(sim_evq *q, uint64_t seq);

#endif /* SIM_EVQ_H */
