/* evq.c: the event queue of evq.h.
 *
 * Keys are 128-bit integers: the high word is the time with its sign bit
 * flipped (so unsigned order is signed time order), the low word is
 * seq << 24 | slot. Sequences are unique, so keys are unique and the heap
 * never has to break a tie itself: (time, seq) decides every comparison,
 * and the slot rides along only to find the record.
 *
 * The heap is 4-ary with the root at index 0 and the children of i at
 * 4i+1 .. 4i+4. Its allocation is 64-byte aligned and the heap starts 3
 * keys into it, so heap[1], and with it every sibling group, begins on a
 * cache line: a level of the sift-down costs one line, and a 4-ary heap
 * has half the levels of a binary one. The sift-down also prefetches the
 * level below the one it compares, and pops prefetch the record (and
 * packet) the caller will read next. Measured with tests/bench-evq.c's
 * hold model at 1M pending on a 2-core EPYC: 3.5 million holds/s without
 * the prefetches, 5.1-5.5 with them; the binary layout with the same
 * prefetches (build with -DSIM_EVQ_ARITY=2 to compare) reached 4.0.
 *
 * Ordered pushes (sim_evq_push_ordered) append their key to a ring
 * instead, as long as it is not less than the ring's last key; the ring
 * is then sorted, and the queue's front is the lesser of the ring's front
 * and the heap's top. Keys are the same either way, so where an event
 * waits never changes the order it comes out in.
 */
#include "evq.h"
#include "mem.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#ifndef SIM_EVQ_ARITY
#define SIM_EVQ_ARITY 4
#endif
#define ARITY SIM_EVQ_ARITY

typedef __uint128_t evq_key;

#define SLOT_BITS 24
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define SEQ_LIMIT ((uint64_t)1 << (64 - SLOT_BITS)) /* 2^40 */
#define TIME_FLIP ((uint64_t)1 << 63)
#define FREE_END UINT32_MAX
#define CACHE_LINE 64

/* Below this many cancelled keys the heap is never compacted: a rebuild
 * would cost more than the few dead keys do. */
#define COMPACT_MIN 1024

#define INITIAL_CAP 64

/* Heaps at least this large (512 KiB of keys) prefetch a level ahead in
 * the sift-down; smaller ones stay in L2 anyway. */
#define PREFETCH_MIN_KEYS ((size_t)1 << 15)

enum { REC_FREE = 0, REC_PENDING = 1, REC_CANCELLED = 2 };

/* 32 bytes: two records per cache line, never straddling one. */
struct sim_evq_record {
    uint32_t gen;      /* bumped each time the record is freed; never 0 */
    uint16_t kind;
    uint8_t state;     /* REC_* */
    uint8_t packet_holds; /* ptr is a sim_packet of which the queue owns
                           * this many holds (sim_evq_amend_last); 0:
                           * ptr is the caller's */
    uint32_t node;
    uint32_t arg;      /* while free: the next free slot */
    uint64_t u64;
    void *ptr;
};

G_STATIC_ASSERT(sizeof(struct sim_evq_record) == 32);
G_STATIC_ASSERT(sizeof(evq_key) == 16);
G_STATIC_ASSERT(SIM_EVQ_MAX_EVENTS == (1u << SLOT_BITS));

/* ------------------------------------------------------------------ */
/* Keys.                                                                */

static inline evq_key key_make(int64_t time_us, uint64_t seq, uint32_t slot)
{
    uint64_t hi = (uint64_t)time_us ^ TIME_FLIP;
    uint64_t lo = (seq << SLOT_BITS) | slot;
    return ((evq_key)hi << 64) | lo;
}

static inline uint32_t key_slot(evq_key k)
{
    return (uint32_t)k & SLOT_MASK;
}

static inline uint64_t key_seq(evq_key k)
{
    return (uint64_t)k >> SLOT_BITS;
}

static inline int64_t key_time(evq_key k)
{
    return (int64_t)((uint64_t)(k >> 64) ^ TIME_FLIP);
}

/* ------------------------------------------------------------------ */
/* Arrays: line-aligned, on huge pages when large (mem.h).              */

static void heap_alloc(sim_evq *q, size_t cap)
{
    /* ARITY - 1 keys of padding put heap[1] on a boundary. */
    evq_key *base = sim_mem_alloc((cap + ARITY - 1) * sizeof(evq_key));
    evq_key *heap = base + (ARITY - 1);
    if (q->n)
        memcpy(heap, q->heap, q->n * sizeof(evq_key));
    sim_mem_free(q->heap_base);
    q->heap_base = base;
    q->heap = heap;
    q->heap_cap = cap;
}

static void recs_alloc(sim_evq *q, uint32_t cap)
{
    sim_evq_record *recs = sim_mem_alloc((size_t)cap * sizeof *recs);
    if (q->n_recs)
        memcpy(recs, q->recs, (size_t)q->n_recs * sizeof *recs);
    sim_mem_free(q->recs);
    q->recs = recs;
    q->recs_cap = cap;
}

/* ------------------------------------------------------------------ */
/* Heap.                                                                */

static inline void sift_up(evq_key *h, size_t i, evq_key x)
{
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        evq_key p = h[parent];
        if (p < x)
            break;
        h[i] = p;
        i = parent;
    }
    h[i] = x;
}

/* Places x into the hole at index i of a heap of n keys. */
static inline void sift_down(evq_key *h, size_t n, size_t i, evq_key x)
{
    for (;;) {
        size_t c = ARITY * i + 1;
        size_t m;
        if (c + ARITY <= n) {
            /* Fetch the next level while comparing this one: whichever
             * child wins, its children are among these ARITY * ARITY
             * consecutive keys (four lines for a 4-ary heap). This hides
             * most of a cache miss per level once the heap outgrows the
             * cache, and was the biggest single gain measured; on small
             * heaps it only costs instructions. */
            size_t g = ARITY * c + 1;
            if (n >= PREFETCH_MIN_KEYS && g + ARITY * ARITY <= n)
                for (size_t j = 0; j < ARITY * ARITY; j += 4)
                    __builtin_prefetch(h + g + j);
#if ARITY == 4
            /* A tournament: two independent pairs, then the winners, so
             * the comparisons do not wait on each other. */
            size_t a = c + (h[c + 1] < h[c]);
            size_t b = c + 2 + (h[c + 3] < h[c + 2]);
            m = h[b] < h[a] ? b : a;
#else
            m = c;
            for (size_t j = c + 1; j < c + ARITY; j++)
                if (h[j] < h[m])
                    m = j;
#endif
        } else {
            if (c >= n)
                break;
            m = c;
            for (size_t j = c + 1; j < n; j++)
                if (h[j] < h[m])
                    m = j;
        }
        evq_key k = h[m];
        if (x < k)
            break;
        h[i] = k;
        i = m;
    }
    h[i] = x;
}

/* Floyd's bottom-up construction, O(n). */
static void heapify(evq_key *h, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = (n - 2) / ARITY + 1; i-- > 0;)
        sift_down(h, n, i, h[i]);
}

static int key_cmp(const void *a, const void *b)
{
    evq_key x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ */
/* The ring of ordered pushes.                                          */

static inline evq_key *ring_at(const sim_evq *q, size_t i)
{
    return &q->ring[(q->ring_head + i) & (q->ring_cap - 1)];
}

/* Doubles the ring, unrolling it to start at 0. The heap and the ring
 * together hold at most max_events keys, so the ring never outgrows the
 * power of two above that. */
static void ring_grow(sim_evq *q)
{
    size_t cap = q->ring_cap ? q->ring_cap * 2 : INITIAL_CAP;
    evq_key *ring = sim_mem_alloc(cap * sizeof(evq_key));
    for (size_t i = 0; i < q->ring_n; i++)
        ring[i] = *ring_at(q, i);
    sim_mem_free(q->ring);
    q->ring = ring;
    q->ring_cap = cap;
    q->ring_head = 0;
}

/* True if the queue's front key is the ring's. */
static inline bool front_in_ring(const sim_evq *q)
{
    return q->ring_n && (q->n == 0 || q->ring[q->ring_head] < q->heap[0]);
}

/* How many pops ahead the ring prefetches: records this far, and the
 * packet bytes of the record half as far (whose own fetch was asked for
 * that many pops ago). A pop is a whole delivery apart from the next, so
 * a few are enough for the fetches to land in time. */
#ifndef SIM_STAGE_SCALE
#define SIM_STAGE_SCALE 1
#endif
#define RING_AHEAD (8 * SIM_STAGE_SCALE)

/* Fetches the first lines of a packet: its header and the start of its
 * bytes, all a typical gossip packet has. */
static inline void prefetch_packet(const sim_packet *pkt)
{
    const char *p = (const char *)pkt;
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    __builtin_prefetch(p + 192);
}

/* Removes the ring's front key (the caller has read it). The ring is in
 * pop order, so what comes next is known: fetch it ahead. */
static inline void ring_pop(sim_evq *q)
{
    q->ring_head = (q->ring_head + 1) & (q->ring_cap - 1);
    q->ring_n--;
    if (q->ring_n > RING_AHEAD)
        __builtin_prefetch(&q->recs[key_slot(*ring_at(q, RING_AHEAD))]);
    if (q->ring_n > RING_AHEAD / 2) {
        const sim_evq_record *r =
            &q->recs[key_slot(*ring_at(q, RING_AHEAD / 2))];
        if (r->packet_holds)
            prefetch_packet(r->ptr);
    }
}

/* The 40-bit sequence is about to wrap (after 2^40 pushes). Only the
 * order of sequences matters, so renumber the pending keys 0..n-1 in
 * (time, seq) order: sort the heap (a sorted array is itself a valid
 * heap), then number it and the ring (already sorted) as one merged
 * sequence, so each keeps its order and both keep their relative one. */
static void renumber(sim_evq *q)
{
    qsort(q->heap, q->n, sizeof(evq_key), key_cmp);
    size_t i = 0, j = 0;
    uint64_t seq = 0;
    while (i < q->n || j < q->ring_n) {
        evq_key *k;
        if (j == q->ring_n || (i < q->n && q->heap[i] < *ring_at(q, j)))
            k = &q->heap[i++];
        else
            k = ring_at(q, j++);
        *k = key_make(key_time(*k), seq++, key_slot(*k));
    }
    q->next_seq = seq;
}

/* ------------------------------------------------------------------ */
/* Records.                                                             */

static inline void rec_release(sim_evq *q, uint32_t slot)
{
    sim_evq_record *r = &q->recs[slot];
    r->gen = r->gen + 1 ? r->gen + 1 : 1;
    r->state = REC_FREE;
    r->packet_holds = 0;
    r->ptr = NULL;
    r->arg = q->free_head;
    q->free_head = slot;
}

static inline uint32_t rec_acquire(sim_evq *q)
{
    uint32_t slot = q->free_head;
    if (slot != FREE_END) {
        q->free_head = q->recs[slot].arg;
        return slot;
    }
    if (q->n_recs == q->recs_cap) {
        uint64_t cap = (uint64_t)q->recs_cap * 2;
        recs_alloc(q, (uint32_t)MIN(cap, (uint64_t)q->max_events));
    }
    slot = q->n_recs++;
    q->recs[slot].gen = 1;
    return slot;
}

/* Drops every cancelled key and rebuilds the heap: O(n), and only when
 * dead keys outnumber live ones, so amortized O(1) per cancel. The walk
 * is in heap order, which is deterministic, so the free list is too. */
static void compact(sim_evq *q)
{
    size_t kept = 0;
    for (size_t i = 0; i < q->n; i++) {
        evq_key k = q->heap[i];
        uint32_t slot = key_slot(k);
        if (q->recs[slot].state == REC_CANCELLED)
            rec_release(q, slot);
        else
            q->heap[kept++] = k;
    }
    q->n = kept;
    /* The ring in place, front to back: it stays in order. */
    kept = 0;
    for (size_t i = 0; i < q->ring_n; i++) {
        evq_key k = *ring_at(q, i);
        uint32_t slot = key_slot(k);
        if (q->recs[slot].state == REC_CANCELLED)
            rec_release(q, slot);
        else
            *ring_at(q, kept++) = k;
    }
    q->ring_n = kept;
    q->cancelled = 0;
    q->compactions++;
    heapify(q->heap, q->n);
}

/* ------------------------------------------------------------------ */
/* Packets (packets.c).                                                 */

sim_packet *sim_evq_packet_new(sim_evq *q, size_t n_bytes)
{
    return sim_packet_pool_take(&q->packets, n_bytes);
}

void sim_evq_packet_free(sim_evq *q, sim_packet *pkt)
{
    if (pkt == NULL)
        return;
    if (pkt->shares > 0) {
        pkt->shares--;
        return;
    }
    sim_packet_pool_give(&q->packets, pkt);
}

/* ------------------------------------------------------------------ */
/* Public API.                                                          */

void sim_evq_init(sim_evq *q, size_t capacity_hint, size_t max_events)
{
    memset(q, 0, sizeof *q);
    if (max_events == 0 || max_events > SIM_EVQ_MAX_EVENTS)
        max_events = SIM_EVQ_MAX_EVENTS;
    q->max_events = (uint32_t)max_events;
    size_t cap = capacity_hint ? capacity_hint : INITIAL_CAP;
    if (cap > max_events)
        cap = max_events;
    q->free_head = FREE_END;
    heap_alloc(q, cap);
    recs_alloc(q, (uint32_t)cap);
}

sim_packet *sim_evq_packet_share(sim_evq *q, sim_packet *pkt)
{
    (void)q;
    if (pkt->shares == UINT16_MAX)
        return NULL;
    pkt->shares++;
    return pkt;
}

void sim_evq_clear(sim_evq *q)
{
    for (size_t i = 0; i < q->n + q->ring_n; i++) {
        evq_key k = i < q->n ? q->heap[i] : *ring_at(q, i - q->n);
        sim_evq_record *r = &q->recs[key_slot(k)];
        /* Counted as handed out while the event held it. */
        for (unsigned h = 0; h < r->packet_holds; h++)
            sim_evq_packet_free(q, r->ptr);
    }
    /* A popped packet not yet freed would come back to a pool that no
     * longer knows it: the caller must free popped packets first. */
    g_assert(q->packets.out == 0);
    sim_packet_pool_clear(&q->packets);
    sim_mem_free(q->heap_base);
    sim_mem_free(q->ring);
    sim_mem_free(q->recs);
    memset(q, 0, sizeof *q);
}

static inline sim_evq_handle push(sim_evq *q, int64_t time_us,
                                  const sim_payload *p, bool ordered)
{
    g_assert(p->packet == NULL || p->ptr == NULL);
    if (q->n + q->ring_n >= q->max_events) {
        if (q->cancelled)
            compact(q);
        if (q->n + q->ring_n >= q->max_events)
            return SIM_EVQ_NONE;
    }
    if (G_UNLIKELY(q->next_seq >= SEQ_LIMIT))
        renumber(q);

    uint32_t slot = rec_acquire(q);
    sim_evq_record *r = &q->recs[slot];
    r->kind = p->kind;
    r->state = REC_PENDING;
    r->packet_holds = p->packet != NULL;
    r->node = p->node;
    r->arg = p->arg;
    r->u64 = p->u64;
    r->ptr = p->packet ? (void *)p->packet : p->ptr;

    evq_key k = key_make(time_us, q->next_seq++, slot);
    /* Sequences only grow, so a key is above the ring's last one exactly
     * when its time is not below that key's time. */
    if (ordered && (q->ring_n == 0 || *ring_at(q, q->ring_n - 1) < k)) {
        if (q->ring_n == q->ring_cap)
            ring_grow(q);
        *ring_at(q, q->ring_n++) = k;
    } else {
        if (q->n == q->heap_cap)
            heap_alloc(q, MIN(q->heap_cap * 2, (size_t)q->max_events));
        sift_up(q->heap, q->n++, k);
    }
    q->live++;
    q->pushed++;
    q->last_push = ((uint64_t)r->gen << 32) | slot;
    return q->last_push;
}

sim_evq_handle sim_evq_push(sim_evq *q, int64_t time_us, const sim_payload *p)
{
    return push(q, time_us, p, false);
}

sim_evq_handle sim_evq_push_ordered(sim_evq *q, int64_t time_us,
                                    const sim_payload *p)
{
    return push(q, time_us, p, true);
}

/* Removes the top key (the caller has read it). */
static inline void pop_top(sim_evq *q)
{
    size_t n = --q->n;
    /* The next top is the least of the root's children (one cache line,
     * already hot): start fetching its record now, so the fetch overlaps
     * this sift-down and whatever the caller does before the next pop. */
    if (n >= ARITY + 1) {
        evq_key *h = q->heap;
        size_t a = 1 + (h[2] < h[1]);
        size_t b = 3 + (h[4] < h[3]);
        size_t m = h[b] < h[a] ? b : a;
        __builtin_prefetch(&q->recs[key_slot(h[m])]);
    }
    if (n)
        sift_down(q->heap, n, 0, q->heap[n]);
}

/* Drops the front's key, whose event was cancelled. */
static G_GNUC_NO_INLINE void drop_cancelled_front(sim_evq *q,
                                                   bool in_ring,
                                                   uint32_t slot)
{
    if (in_ring)
        ring_pop(q);
    else
        pop_top(q);
    rec_release(q, slot);
    q->cancelled--;
}

/* The key of the earliest pending event, and whether it is the ring's,
 * dropping cancelled ones from the front on the way; false if none is
 * pending. Inline: every pop and peek starts here. */
static inline bool front_live(sim_evq *q, evq_key *out, bool *in_ring_out)
{
    while (q->n || q->ring_n) {
        bool in_ring = front_in_ring(q);
        evq_key top = in_ring ? q->ring[q->ring_head] : q->heap[0];
        uint32_t slot = key_slot(top);
        if (G_LIKELY(q->recs[slot].state != REC_CANCELLED)) {
            *out = top;
            *in_ring_out = in_ring;
            return true;
        }
        drop_cancelled_front(q, in_ring, slot);
    }
    return false;
}

/* Removes the front found by front_live() into *out. */
static void take_front(sim_evq *q, evq_key top, bool in_ring, sim_event *out)
{
    uint32_t slot = key_slot(top);
    sim_evq_record *r = &q->recs[slot];
    /* The record is usually in cache already (the previous pop asked for
     * it). A packet's bytes were written at push time, long ago, and the
     * caller reads them next: fetch their first lines while the
     * sift-down runs. */
    if (r->packet_holds) {
        const char *bytes = r->ptr;
        __builtin_prefetch(bytes);
        __builtin_prefetch(bytes + 64);
    }
    if (in_ring)
        ring_pop(q);
    else
        pop_top(q);
    g_assert(r->state == REC_PENDING);
    out->time_us = key_time(top);
    out->seq = key_seq(top);
    out->p.kind = r->kind;
    out->p.node = r->node;
    out->p.arg = r->arg;
    out->p.u64 = r->u64;
    out->packet_holds = r->packet_holds;
    out->p.ptr = r->packet_holds ? NULL : r->ptr;
    out->p.packet = r->packet_holds ? r->ptr : NULL;
    rec_release(q, slot);
    q->live--;
}

bool sim_evq_pop(sim_evq *q, sim_event *out)
{
    evq_key top;
    bool in_ring;
    if (!front_live(q, &top, &in_ring))
        return false;
    take_front(q, top, in_ring, out);
    return true;
}

bool sim_evq_pop_until(sim_evq *q, int64_t t_us, sim_event *out)
{
    evq_key top;
    bool in_ring;
    if (!front_live(q, &top, &in_ring) || key_time(top) > t_us)
        return false;
    take_front(q, top, in_ring, out);
    return true;
}

bool sim_evq_peek_time(sim_evq *q, int64_t *time_us)
{
    evq_key top;
    bool in_ring;
    if (!front_live(q, &top, &in_ring))
        return false;
    *time_us = key_time(top);
    return true;
}

bool sim_evq_peek_ordered(const sim_evq *q, size_t k, uint32_t *node,
                          uint64_t *u64, const sim_packet **packet)
{
    if (k >= q->ring_n)
        return false;
    const sim_evq_record *r = &q->recs[key_slot(*ring_at(q, k))];
    *node = r->node;
    *u64 = r->u64;
    *packet = r->packet_holds ? r->ptr : NULL;
    return true;
}

bool sim_evq_amend_last(sim_evq *q, sim_evq_handle handle,
                        const sim_packet *packet, uint16_t kind, uint64_t u64)
{
    uint32_t slot = (uint32_t)handle;
    uint32_t gen = (uint32_t)(handle >> 32);
    if (handle == SIM_EVQ_NONE || handle != q->last_push || slot >= q->n_recs)
        return false;
    sim_evq_record *r = &q->recs[slot];
    if (r->gen != gen || r->state != REC_PENDING || r->packet_holds == 0 ||
        r->ptr != packet || r->packet_holds == SIM_EVQ_MAX_HOLDS)
        return false;
    r->kind = kind;
    r->u64 = u64;
    r->packet_holds++;
    return true;
}

bool sim_evq_peek_node(sim_evq *q, uint32_t *node)
{
    evq_key top;
    bool in_ring;
    if (!front_live(q, &top, &in_ring))
        return false;
    *node = q->recs[key_slot(top)].node;
    return true;
}

bool sim_evq_cancel(sim_evq *q, sim_evq_handle handle)
{
    uint32_t slot = (uint32_t)handle;
    uint32_t gen = (uint32_t)(handle >> 32);
    if (handle == SIM_EVQ_NONE || slot >= q->n_recs)
        return false;
    sim_evq_record *r = &q->recs[slot];
    if (r->gen != gen || r->state != REC_PENDING)
        return false;
    r->state = REC_CANCELLED;
    for (unsigned h = 0; h < r->packet_holds; h++)
        sim_evq_packet_free(q, r->ptr);
    r->packet_holds = 0;
    r->ptr = NULL;
    q->live--;
    q->cancelled++;
    if (q->cancelled >= COMPACT_MIN && q->cancelled > q->live)
        compact(q);
    return true;
}

size_t sim_evq_size(const sim_evq *q)
{
    return q->live;
}

void sim_evq_stats_get(const sim_evq *q, sim_evq_stats *out)
{
    out->live = q->live;
    out->cancelled = q->cancelled;
    out->heap_cap = q->heap_cap;
    out->records_cap = q->recs_cap;
    out->packets_out = q->packets.out;
    out->packets_pooled = q->packets.room_buffers;
    out->bytes = (q->heap_cap + ARITY - 1 + q->ring_cap) * sizeof(evq_key) +
                 (size_t)q->recs_cap * sizeof(sim_evq_record) +
                 sim_packet_pool_bytes(&q->packets);
    out->pushed = q->pushed;
    out->compactions = q->compactions;
    out->arity = ARITY;
}

void sim_evq__set_next_seq(sim_evq *q, uint64_t seq)
{
    q->next_seq = seq;
}
