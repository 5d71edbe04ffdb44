/* world.c: the simulated world of world.h.
 *
 * Every node's environment closes over its sim_node; the engine's calls
 * into the environment become events in the world's queue, and events
 * become the engine's inputs (on_timer, on_packet). Nothing here reads a
 * clock or a global random source, and no decision depends on a pointer
 * value or on hash-table order.
 */
#include "world-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL /* the trace hash's start */
#define FNV_PRIME 0x100000001b3ULL
/* How often sim_world_run_until() looks at the stop flag, in events. */
#define STOP_CHECK_EVENTS 256

/* ------------------------------------------------------------------ */
/* Addresses: node i is 10.(i+1 as 24 bits):port.                      */

static void node_addr(const sim_world *w, size_t i, peko_addr *out)
{
    uint32_t v = (uint32_t)(i + 1);
    memset(out, 0, sizeof *out);
    out->family = PEKO_AF_INET4;
    out->port = w->port;
    out->ip[0] = 10;
    out->ip[1] = (uint8_t)(v >> 16);
    out->ip[2] = (uint8_t)(v >> 8);
    out->ip[3] = (uint8_t)v;
}

bool sim_world_index_of(const sim_world *w, const peko_addr *addr,
                        size_t *index)
{
    if (addr->family != PEKO_AF_INET4 || addr->ip[0] != 10 ||
        addr->port != w->port)
        return false;
    uint32_t v = ((uint32_t)addr->ip[1] << 16) |
                 ((uint32_t)addr->ip[2] << 8) | addr->ip[3];
    if (v == 0 || v > w->n)
        return false;
    *index = v - 1;
    return true;
}

/* ------------------------------------------------------------------ */
/* The trace hash: FNV-1a's step (xor in, multiply by the 64-bit FNV
 * prime) taken a little-endian 8-byte word at a time instead of a byte at
 * a time, with an xorshift after each multiply so high bits feed back into
 * low ones. Each step is a bijection of the state, so a run that differs
 * in one word always ends on a different hash. Byte-wise FNV-1a is a
 * serial multiply per byte and cost a quarter of a large run's time. */

static inline uint64_t trace_step(uint64_t h, uint64_t word)
{
    h ^= word;
    h *= FNV_PRIME;
    return h ^ (h >> 32);
}

/* Bytes as little-endian words, the last one zero-padded (the length is
 * hashed before the bytes, so padding is unambiguous). Whole 32-byte
 * blocks go to four lanes, word k of a block to lane k, each lane its own
 * chain of steps; the rest goes to the first lane; then the lanes fold
 * into one, in order. Four chains run side by side where one chain waits
 * on each multiply in turn. A run that differs in one word still ends on
 * a different hash: that word changes one lane, and every step and fold
 * is a bijection of the lane it changes. */
static uint64_t trace_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    uint64_t w;
    size_t total = n;
    if (n >= 32) {
        uint64_t lane[4] = {h, h ^ 0x9e3779b97f4a7c15ULL,
                            h ^ 0xbf58476d1ce4e5b9ULL,
                            h ^ 0x94d049bb133111ebULL};
        for (; n >= 32; p += 32, n -= 32)
            for (int k = 0; k < 4; k++) {
                memcpy(&w, p + 8 * k, 8);
                lane[k] = trace_step(lane[k], GUINT64_FROM_LE(w));
            }
        h = trace_step(trace_step(trace_step(lane[0], lane[1]), lane[2]),
                       lane[3]);
    }
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = trace_step(h, GUINT64_FROM_LE(w));
    }
    if (n && total >= 8) {
        /* The same zero-padded word, from the packet's last 8 bytes
         * shifted down: one load, where copying the few bytes left into
         * a zeroed word costs a call and a stalled store forward. */
        memcpy(&w, p + n - 8, 8);
        h = trace_step(h, GUINT64_FROM_LE(w) >> (8 * (8 - n)));
    } else if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = trace_step(h, GUINT64_FROM_LE(w));
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* Time stamps, by arithmetic.                                          */

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void sim_world_format_time(const sim_world *w, int64_t t_us,
                           char buf[SIM_WORLD_TIME_STRLEN])
{
    /* Whole seconds of each term first, so epoch + t cannot overflow. */
    int64_t s = floor_div(w->epoch_us, 1000000) + floor_div(t_us, 1000000);
    int64_t frac = (w->epoch_us - floor_div(w->epoch_us, 1000000) * 1000000) +
                   (t_us - floor_div(t_us, 1000000) * 1000000);
    s += frac / 1000000;
    int64_t days = floor_div(s, 86400);
    int64_t sod = s - days * 86400;
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    snprintf(buf, SIM_WORLD_TIME_STRLEN,
             "%04" G_GINT64_FORMAT "-%02u-%02u %02u:%02u:%02u", year, month,
             day, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
             (unsigned)(sod % 60));
}

/* ------------------------------------------------------------------ */
/* Drops and deliveries: the two ends of every packet.                  */

static inline int msg_type(const uint8_t *bytes, size_t n_bytes)
{
    return (int)peko_wire_type(bytes, n_bytes);
}

void sim__drop(sim_world *w, size_t from, size_t to, const uint8_t *bytes,
               size_t n_bytes, sim_drop_cause cause)
{
    w->stats.dropped[cause]++;
    w->stats.dropped_bytes += n_bytes;
    w->nodes[from].stats.dropped_out[cause]++;
    if (to != SIZE_MAX)
        w->nodes[to].stats.dropped_in[cause]++;
    if (w->hooks.dropped)
        w->hooks.dropped(w->hooks_user, from, to, msg_type(bytes, n_bytes),
                         n_bytes, cause);
}

static void drop_packet(sim_world *w, uint32_t from, uint32_t to,
                        sim_packet *pkt, sim_drop_cause cause)
{
    sim__drop(w, from, to, pkt->bytes, pkt->n_bytes, cause);
    sim_evq_packet_free(&w->q, pkt);
}

bool sim__push_packet(sim_world *w, int64_t t_us, uint16_t kind, uint32_t to,
                      uint32_t from, uint64_t wire, sim_packet *pkt,
                      sim_drop_cause cause)
{
    sim_payload p = {.kind = kind, .node = to, .arg = from, .u64 = wire,
                     .packet = pkt};
    if (sim_evq_push(&w->q, t_us, &p) != SIM_EVQ_NONE)
        return true;
    drop_packet(w, from, to, pkt, cause);
    return false;
}

/* The initial sequence number a node uses towards a peer in the capture:
 * a pure function of the seed, the pair and a counter. */
uint32_t sim__tcp_isn(const sim_world *w, uint32_t from, uint32_t to,
                      uint32_t counter)
{
    uint64_t x = w->seed ^ ((uint64_t)from << 40) ^ ((uint64_t)to << 16) ^
                 counter;
    return (uint32_t)model_splitmix64(&x);
}

static void capture(sim_world *w, const sim_node *from, const sim_node *to,
                    uint64_t wire, const sim_packet *pkt)
{
    int64_t ts_us = w->epoch_us + w->now_us;
    sim_node *sender = &w->nodes[from->index];
    if (w->tcp) {
        peko_addr src = from->addr;
        src.port = SIM_WIRE_PORT(wire);
        /* The receiver never sends on this connection: it acknowledges
         * its own initial sequence number plus one throughout. */
        uint32_t ack = sim__tcp_isn(w, to->index, from->index, UINT32_MAX) + 1;
        sim_pcap_write_tcp(w->pcap, ts_us, &src, &to->addr, &sender->ip_id,
                           SIM_WIRE_SEQ(wire), ack, pkt->bytes, pkt->n_bytes);
    } else {
        sim_pcap_write_udp(w->pcap, ts_us, &from->addr, &to->addr,
                           sender->ip_id++, pkt->bytes, pkt->n_bytes);
    }
}

/* Hands a packet to its receiving engine and frees it. */
static void hand(sim_world *w, sim_node *to, uint32_t from_index,
                 uint64_t wire, sim_packet *pkt)
{
    const sim_node *from = &w->nodes[from_index];

    uint64_t h = w->trace_hash;
    h = trace_step(h, (uint64_t)w->now_us);
    h = trace_step(h, ((uint64_t)to->index << 32) | from_index);
    h = trace_step(h, pkt->n_bytes);
    w->trace_hash = trace_bytes(h, pkt->bytes, pkt->n_bytes);

    int type = msg_type(pkt->bytes, pkt->n_bytes);
    w->stats.deliveries++;
    w->stats.delivered_bytes += pkt->n_bytes;
    to->stats.deliveries++;
    to->stats.delivered_bytes += pkt->n_bytes;
    to->stats.delivered_by_type[type]++;
    to->stats.delivered_bytes_by_type[type] += pkt->n_bytes;
    if (G_UNLIKELY(w->hooks_on)) {
        if (w->hooks.delivered)
            w->hooks.delivered(w->hooks_user, from_index, to->index, type,
                               pkt->n_bytes);
    }
    if (G_UNLIKELY(w->pcap != NULL))
        capture(w, from, to, wire, pkt);
    /* The sender's listen address, in TCP mode too: the engine reads the
     * sender from the packet and uses `from` only in its reports, which
     * are easier to read (and to map back to nodes) this way. */
    peko_nodelist_on_packet(to->nl, &from->addr, pkt->bytes, pkt->n_bytes);
    sim_evq_packet_free(&w->q, pkt);
}

/* A packet reaches a node that is not simply up and idle. */
static void arrive_slow(sim_world *w, sim_node *to, uint32_t from,
                        uint64_t wire, sim_packet *pkt)
{
    switch (to->state) {
    case SIM_NODE_UP:
        if (to->rx_cost_us)
            sim__rx_enqueue(w, to, from, wire, pkt);
        else
            hand(w, to, from, wire, pkt);
        break;
    case SIM_NODE_PAUSED:
        sim__hold(w, to, from, wire, pkt);
        break;
    default:
        drop_packet(w, from, to->index, pkt, SIM_DROP_NODE_DOWN);
        break;
    }
}

static inline void arrive_at(sim_world *w, uint32_t node, uint32_t from,
                             uint64_t wire, sim_packet *pkt)
{
    sim_node *to = &w->nodes[node];
    if (G_LIKELY(to->state == SIM_NODE_UP && to->rx_cost_us == 0))
        hand(w, to, from, wire, pkt);
    else
        arrive_slow(w, to, from, wire, pkt);
}

static inline void arrive(sim_world *w, const sim_event *ev)
{
    arrive_at(w, ev->p.node, ev->p.arg, ev->p.u64, ev->p.packet);
}

/* A folded fan-out (fold): each copy in turn, as if each had been an
 * event of its own, popped right after the one before. Returns the
 * copies delivered. */
static unsigned arrive_many(sim_world *w, const sim_event *ev)
{
    g_assert(ev->packet_holds >= 2 && ev->packet_holds <= SIM_FOLD_MAX);
    arrive_at(w, ev->p.node, ev->p.arg, 0, ev->p.packet);
    for (unsigned k = 1; k < ev->packet_holds; k++) {
        uint32_t to = (uint32_t)(ev->p.u64 >> (32 * (k - 1)));
        g_assert(to != 0 && to - 1 < w->n);
        /* Off the queue from here, as its own event would have been. */
        w->folded--;
        arrive_at(w, to - 1, ev->p.arg, 0, ev->p.packet);
    }
    return ev->packet_holds;
}

/* True if a packet queued at its receiver belongs to a life of the
 * receiver that has ended (it crashed since). */
static bool stale(const sim_node *to, uint64_t wire)
{
    return to->state == SIM_NODE_DOWN ||
           SIM_WIRE_EPOCH(wire) != (uint16_t)to->epoch;
}

static void process(sim_world *w, const sim_event *ev)
{
    sim_node *to = &w->nodes[ev->p.node];
    if (stale(to, ev->p.u64)) {
        drop_packet(w, ev->p.arg, to->index, ev->p.packet,
                    SIM_DROP_NODE_DOWN);
        return;
    }
    g_assert(to->rx_count > 0);
    to->rx_count--;
    if (to->state == SIM_NODE_PAUSED)
        sim__hold(w, to, ev->p.arg, ev->p.u64, ev->p.packet);
    else
        hand(w, to, ev->p.arg, ev->p.u64, ev->p.packet);
}

static void replay(sim_world *w, const sim_event *ev)
{
    sim_node *to = &w->nodes[ev->p.node];
    if (stale(to, ev->p.u64)) {
        drop_packet(w, ev->p.arg, to->index, ev->p.packet,
                    SIM_DROP_NODE_DOWN);
        return;
    }
    arrive_slow(w, to, ev->p.arg, ev->p.u64, ev->p.packet);
}

static void fire_timer(sim_world *w, const sim_event *ev)
{
    sim_node *node = &w->nodes[ev->p.node];
    peko_timer timer = (peko_timer)ev->p.arg;
    /* Disarmed before the call: the engine usually re-arms inside it. */
    node->timers[timer] = SIM_EVQ_NONE;
    if (G_UNLIKELY(node->state != SIM_NODE_UP)) {
        /* A crash cancels timers, so this node is paused: the timer
         * fires when it resumes. */
        g_assert(node->state == SIM_NODE_PAUSED);
        node->overdue |= 1u << timer;
        return;
    }
    w->stats.timers++;
    peko_nodelist_on_timer(node->nl, timer);
}

/* A buffer's slot in sim_world.hints: its address, hashed. Only which
 * fetches are made depends on it, never what a run computes. */
static inline size_t hint_of(const sim_packet *pkt)
{
    return (size_t)(((uintptr_t)pkt >> 4) * 0x9e3779b97f4a7c15ULL >> 32) &
           (SIM_HINTS - 1);
}

sim_packet *sim__packet_new(sim_world *w, const uint8_t *bytes,
                            size_t n_bytes)
{
    sim_packet *pkt = sim_evq_packet_new(&w->q, n_bytes);
    if (n_bytes)
        memcpy(pkt->bytes, bytes, n_bytes);
    size_t h = hint_of(pkt);
    if (w->hints[h].pkt == pkt)
        w->hints[h].pkt = NULL;
    return pkt;
}

/* The engine's prefetch key of pkt, from the hints if there. */
static inline uint64_t prefetch_key(sim_world *w, const sim_packet *pkt)
{
    size_t h = hint_of(pkt);
    if (w->hints[h].pkt != pkt) {
        w->hints[h].pkt = pkt;
        w->hints[h].key = peko_prefetch_key(pkt->bytes, pkt->n_bytes);
    }
    return w->hints[h].key;
}

/* Starts fetching what the next event's node will read, while this event
 * runs: in a large world a node's state is rarely still in cache when its
 * next event comes. That is the first lines of its engine, where the
 * engine keeps what every received packet reads
 * (engine/nodelist-private.h). Only fetches: if this event schedules one
 * that comes first, nothing is lost but the fetch. */
static inline void fetch_ahead(sim_world *w)
{
    uint32_t next;
    if (!sim_evq_peek_node(&w->q, &next) || next >= w->n)
        return;
    const sim_node *node = &w->nodes[next];
    const char *nl = (const char *)node->nl;
    if (nl == NULL)
        return;
    for (int line = 0; line < 4; line++)
        __builtin_prefetch(nl + 64 * line);
}

/* Deliveries pushed in order (the ring) are known several events
 * ahead, and each chains misses: the receiver's sim_node (the env its
 * engine calls, its state, streams and counters: the first
 * SIM_NODE_HOT_BYTES), then its engine, then the index line of the
 * heartbeat origin's entry in its peer table, then the entry (and
 * refresh links) that line names, then the shared record the entry
 * names. So each is fetched in stages, one stage per event dispatched:
 * the sim_node STAGE_SIM_NODE events ahead, the receiver's engine
 * STAGE_NODE ahead (the queue has fetched the packet by then), the
 * index line STAGE_INDEX ahead, the entry STAGE_ENTRY ahead, the record
 * STAGE_RECORD ahead, each once the previous stage's lines have had an
 * event's time to arrive. Only fetches: a prediction that a timer or a
 * new push overtakes costs nothing but the fetch. */
#ifndef SIM_STAGE_SCALE
#define SIM_STAGE_SCALE 1 /* for measuring other distances */
#endif
#define STAGE_SIM_NODE (7 * SIM_STAGE_SCALE)
#define STAGE_NODE (5 * SIM_STAGE_SCALE)
#define STAGE_INDEX (3 * SIM_STAGE_SCALE)
#define STAGE_ENTRY (2 * SIM_STAGE_SCALE)
#define STAGE_RECORD (1 * SIM_STAGE_SCALE)
/* What a delivery reads of its sim_node lies within what is fetched. */
G_STATIC_ASSERT(offsetof(sim_node, stats.dropped_out) <= SIM_NODE_HOT_BYTES);

/* The receivers of the k-th ordered delivery ahead into to[] (a folded
 * fan-out has several: the ring holds only the send path's arrivals,
 * whose u64 is 0 or names the others); returns how many, 0 if none. */
static inline unsigned peek_receivers(const sim_world *w, size_t k,
                                      uint32_t to[SIM_FOLD_MAX],
                                      const sim_packet **pkt)
{
    uint32_t node;
    uint64_t u64;
    if (!sim_evq_peek_ordered(&w->q, k, &node, &u64, pkt) || node >= w->n)
        return 0;
    unsigned n = 0;
    to[n++] = node;
    for (; n < SIM_FOLD_MAX && (uint32_t)u64 != 0 && (uint32_t)u64 <= w->n;
         u64 >>= 32)
        to[n++] = (uint32_t)u64 - 1;
    return n;
}

static inline void fetch_delivery(sim_world *w, size_t k, unsigned stage)
{
    uint32_t to[SIM_FOLD_MAX];
    const sim_packet *pkt;
    unsigned n = peek_receivers(w, k, to, &pkt);
    if (n == 0 || pkt == NULL)
        return;
    uint64_t key = prefetch_key(w, pkt);
    if (key == 0)
        return;
    for (unsigned i = 0; i < n; i++) {
        const peko_nodelist *nl = w->nodes[to[i]].nl;
        if (nl != NULL)
            peko_nodelist_prefetch_key(nl, key, stage);
    }
}

static inline void fetch_deliveries(sim_world *w)
{
    uint32_t to[SIM_FOLD_MAX];
    const sim_packet *pkt;
    unsigned n = peek_receivers(w, STAGE_SIM_NODE, to, &pkt);
    for (unsigned i = 0; i < n; i++)
        for (size_t line = 0; line < SIM_NODE_HOT_BYTES; line += 64)
            __builtin_prefetch((const char *)&w->nodes[to[i]] + line);
    n = peek_receivers(w, STAGE_NODE, to, &pkt);
    for (unsigned i = 0; i < n; i++) {
        const char *nl = (const char *)w->nodes[to[i]].nl;
        if (nl != NULL)
            for (int line = 0; line < 4; line++)
                __builtin_prefetch(nl + 64 * line);
    }
    fetch_delivery(w, STAGE_INDEX, 0);
    fetch_delivery(w, STAGE_ENTRY, 1);
    fetch_delivery(w, STAGE_RECORD, 2);
}

uint64_t sim_world_run_until(sim_world *w, int64_t t_us)
{
    uint64_t dispatched = 0; /* a folded copy counts as an event */
    uint64_t next_check = 0;
    sim_event ev;
    for (;;) {
        /* A stop request is seen within STOP_CHECK_EVENTS events: a
         * microsecond or so each, so well within a second of wall time
         * however long the slice of virtual time. An event may hold
         * SIM_FOLD_MAX copies, hence the margin. */
        if (G_UNLIKELY(dispatched >= next_check)) {
            if (w->stop && *w->stop)
                return dispatched;
            next_check = dispatched + STOP_CHECK_EVENTS - (SIM_FOLD_MAX - 1);
        }
        if (!sim_evq_pop_until(&w->q, t_us, &ev))
            break;
        g_assert(ev.time_us >= w->now_us);
        w->now_us = ev.time_us;
        fetch_ahead(w);
        fetch_deliveries(w);
        switch (ev.p.kind) {
        case SIM_EV_ARRIVE:
            arrive(w, &ev);
            break;
        case SIM_EV_TIMER:
            fire_timer(w, &ev);
            break;
        case SIM_EV_PROCESS:
            process(w, &ev);
            break;
        case SIM_EV_REPLAY:
            replay(w, &ev);
            break;
        case SIM_EV_CALL:
            sim__call_fire(w, ev.p.ptr);
            break;
        case SIM_EV_ARRIVE_MANY: {
            unsigned extra = arrive_many(w, &ev) - 1;
            dispatched += extra;
            w->stats.events += extra;
            break;
        }
        default:
            g_assert_not_reached();
        }
        dispatched++;
        w->stats.events++;
    }
    if (t_us > w->now_us)
        w->now_us = t_us;
    return dispatched;
}

/* ------------------------------------------------------------------ */
/* Sending.                                                             */

/* A buffer holding `bytes` for one packet in flight from `sender`. The
 * engine's buffer is borrowed for the send call only, so the bytes are
 * copied, unless they are the bytes this sender sent last: then the
 * packets share that buffer. Only the memory changes, never what any
 * node reads or when, so the trace is the same either way. */
static sim_packet *wire_copy(sim_world *w, size_t sender,
                             const uint8_t *bytes, size_t n_bytes)
{
    sim_packet *last = w->last_sent;
    if (last != NULL && w->last_sender == sender &&
        last->n_bytes == n_bytes && memcmp(last->bytes, bytes, n_bytes) == 0) {
        sim_packet *shared = sim_evq_packet_share(&w->q, last);
        if (shared != NULL) {
            w->stats.shared++;
            return shared;
        }
    }
    sim_packet *pkt = sim__packet_new(w, bytes, n_bytes);
    sim_evq_packet_free(&w->q, last);
    /* A buffer just made has no holder but the caller: cannot fail. */
    w->last_sent = sim_evq_packet_share(&w->q, pkt);
    w->last_sender = sender;
    return pkt;
}

/* Makes this copy of pkt, from `from` to `to` at at_us, one more
 * receiver of the latest arrival pushed, if that carries the same packet
 * from the same sender at the same time and nothing was pushed since.
 * Pushed apart, the two would be consecutive in the queue's order (equal
 * times, consecutive sequences) and come out one right after the other;
 * folded, the world delivers them one right after the other
 * (arrive_many): the same deliveries in the same order, the same trace,
 * with one event where a fan-out took one each. Returns true if folded
 * (the event then holds the caller's hold of pkt). */
static bool fold(sim_world *w, uint32_t from, uint32_t to, int64_t at_us,
                 const sim_packet *pkt)
{
    if (w->unfolded || w->fold_copies == 0 || w->fold_copies >= SIM_FOLD_MAX ||
        w->fold_from != from || w->fold_time_us != at_us)
        return false;
    uint64_t u64 = w->fold_u64 |
                   ((uint64_t)(to + 1) << (32 * (w->fold_copies - 1)));
    if (!sim_evq_amend_last(&w->q, w->fold_handle, pkt, SIM_EV_ARRIVE_MANY,
                            u64))
        return false;
    w->fold_u64 = u64;
    w->fold_copies++;
    w->folded++;
    w->stats.folded++;
    return true;
}

int sim__send(sim_world *w, sim_node *node, const peko_addr *to,
              const uint8_t *bytes, size_t n_bytes)
{
    size_t dst;
    w->stats.sends++;
    node->stats.sends++;
    node->stats.sent_bytes += n_bytes;
    if (G_UNLIKELY(!sim_world_index_of(w, to, &dst))) {
        /* Nobody listens there: lost without a trace, like UDP. */
        w->stats.unroutable++;
        sim__drop(w, node->index, SIZE_MAX, bytes, n_bytes,
                  SIM_DROP_NODE_DOWN);
        return 0;
    }
    if (G_UNLIKELY(n_bytes > w->max_packet_bytes)) {
        /* What a socket refuses (EMSGSIZE) or the receiver's Size would
         * reject: never on the wire. */
        sim__drop(w, node->index, dst, bytes, n_bytes, SIM_DROP_OVERSIZE);
        return -EMSGSIZE;
    }
    if (G_UNLIKELY(sim__queued(w) >= w->packet_limit)) {
        /* The queue is at its bound: the packet is dropped, as by a full
         * socket buffer, and the sender told so. */
        w->stats.queue_full++;
        sim__drop(w, node->index, dst, bytes, n_bytes, SIM_DROP_SEND_QUEUE);
        return -ENOBUFS;
    }
    sim_node *dn = &w->nodes[dst];
    int64_t depart_us = w->now_us;
    if (G_UNLIKELY(node->uplink_bps != 0)) {
        depart_us = sim__uplink(w, node, n_bytes);
        if (depart_us < 0) {
            sim__drop(w, node->index, dst, bytes, n_bytes,
                      SIM_DROP_SEND_QUEUE);
            return -ENOBUFS;
        }
    }
    /* Judged by the partitions in effect as it leaves. */
    if (G_UNLIKELY(w->part_bits != 0) && sim__cut(w, node, dn)) {
        sim__drop(w, node->index, dst, bytes, n_bytes, SIM_DROP_PARTITION);
        return 0;
    }
    if (G_UNLIKELY(w->tcp))
        return sim__tcp_send(w, node, dn, depart_us, bytes, n_bytes);
    if (G_UNLIKELY(w->loss_on) && sim__lose(w, node)) {
        sim__drop(w, node->index, dst, bytes, n_bytes, SIM_DROP_LOSS);
        return 0;
    }

    int64_t latency_us = sim__latency(w, &node->lat_rng, node, dn);
    w->stats.latency_us_total += (uint64_t)latency_us;
    w->stats.latency_samples++;
    int64_t at_us = depart_us + latency_us;
    sim_packet *pkt = wire_copy(w, node->index, bytes, n_bytes);
    sim_payload p = {.kind = SIM_EV_ARRIVE,
                     .node = (uint32_t)dst,
                     .arg = node->index,
                     .packet = pkt};
    if (!fold(w, node->index, (uint32_t)dst, at_us, pkt)) {
        /* Below packet_limit there is always room. At a constant latency
         * arrivals are pushed in time order (virtual time never goes
         * back), which the queue serves without its heap; an uplink delay
         * can break that order, and the queue then takes the push into
         * its heap. */
        sim_evq_handle pushed =
            w->latency_fast ? sim_evq_push_ordered(&w->q, at_us, &p)
                            : sim_evq_push(&w->q, at_us, &p);
        if (pushed == SIM_EVQ_NONE)
            g_assert_not_reached();
        w->fold_handle = pushed;
        w->fold_time_us = at_us;
        w->fold_from = node->index;
        w->fold_copies = 1;
        w->fold_u64 = 0;
    }

    if (G_UNLIKELY(w->duplicate > 0) &&
        model_stream_double(&node->dup_rng) < w->duplicate &&
        sim__queued(w) < w->packet_limit) {
        /* The network delivers it twice, each copy on its own path. */
        int64_t again_us = sim__latency(w, &node->lat_rng, node, dn);
        p.packet = wire_copy(w, node->index, bytes, n_bytes);
        if (sim_evq_push(&w->q, depart_us + again_us, &p) == SIM_EVQ_NONE)
            g_assert_not_reached();
        w->stats.duplicated++;
        node->stats.duplicated++;
        w->stats.latency_us_total += (uint64_t)again_us;
        w->stats.latency_samples++;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The environment of each node.                                       */

static int64_t env_now_us(peko_env *env)
{
    sim_node *node = env->user;
    node->clock_read = true;
    return sim__node_time(node, node->world->now_us);
}

static int env_timer_arm(peko_env *env, peko_timer timer, int64_t deadline_us)
{
    sim_node *node = env->user;
    sim_world *w = node->world;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        return -EINVAL;
    /* Replace, as the env contract says: the old event is cancelled
     * lazily and never fires. */
    sim_evq_cancel(&w->q, node->timers[timer]);
    node->timers[timer] = SIM_EVQ_NONE;
    node->overdue &= ~(1u << timer);
    node->timer_deadline_us[timer] = deadline_us;
    sim__timer_push(w, node, timer);
    return 0;
}

static void env_timer_cancel(peko_env *env, peko_timer timer)
{
    sim_node *node = env->user;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        return;
    sim_evq_cancel(&node->world->q, node->timers[timer]);
    node->timers[timer] = SIM_EVQ_NONE;
    node->overdue &= ~(1u << timer);
}

static int env_send(peko_env *env, const peko_addr *to, const uint8_t *bytes,
                    size_t n_bytes)
{
    sim_node *node = env->user;
    return sim__send(node->world, node, to, bytes, n_bytes);
}

static uint64_t env_random_u64(peko_env *env)
{
    sim_node *node = env->user;
    return model_stream_u64(&node->rng);
}

/* What env_random_u64 will return k calls from now: a copy of the
 * stream runs ahead, the node's own does not move. */
static uint64_t env_random_peek(peko_env *env, unsigned k)
{
    sim_node *node = env->user;
    return model_stream_peek(&node->rng, k);
}

/* The node's own wall clock: the run's epoch plus its (skewed) time. */
static int64_t env_wall_us(peko_env *env)
{
    sim_node *node = env->user;
    return node->world->epoch_us + sim__node_time(node, node->world->now_us);
}

static void env_print(peko_env *env, const char *line)
{
    sim_node *node = env->user;
    sim_world *w = node->world;
    char stamp[SIM_WORLD_TIME_STRLEN];
    /* The node's own wall clock: a skewed node stamps skewed lines. */
    sim_world_format_time(w, sim__node_time(node, w->now_us), stamp);
    char *full = g_strconcat(stamp, " ", line, NULL);
    if (w->print) {
        w->print(w->print_user, node->index, full);
    } else {
        fputs(full, stdout);
        fputc('\n', stdout);
    }
    g_free(full);
}

int sim_world_inject(sim_world *w, size_t from, const peko_addr *to,
                     const uint8_t *bytes, size_t n_bytes)
{
    g_return_val_if_fail(from < w->n && to != NULL, -EINVAL);
    return sim__send(w, &w->nodes[from], to, bytes, n_bytes);
}

/* ------------------------------------------------------------------ */
/* Life cycle and queries.                                              */

void sim_world_config_init(sim_world_config *config)
{
    memset(config, 0, sizeof *config);
    peko_config_init(&config->engine);
    config->latency_us = SIM_WORLD_DEFAULT_LATENCY_US;
    config->epoch_us = SIM_WORLD_DEFAULT_EPOCH_US;
    config->port = SIM_WORLD_DEFAULT_PORT;
    config->max_events = 0;
    config->print = NULL;
    config->print_user = NULL;
}

int sim__engine_new(sim_world *w, sim_node *node)
{
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(&node->addr, host);
    peko_node local = {
        .addr = host,
        .port = w->port,
        .name = node->name,
        .private_data = NULL,
    };
    /* The incarnation is the node's wall clock in milliseconds, as on a
     * real host, but always greater than its previous engine's, even for
     * a restart in the same millisecond (serial-number order). */
    uint32_t incarnation =
        (uint32_t)((w->epoch_us + sim__node_time(node, w->now_us)) / 1000);
    if (node->incarnation != 0 &&
        (int32_t)(incarnation - node->incarnation) <= 0)
        incarnation = node->incarnation + 1;
    if (incarnation == 0)
        incarnation = 1;
    node->incarnation = incarnation;
    peko_config config = w->engine;
    config.incarnation = incarnation;
    node->clock_read = false;
    int rc = peko_nodelist_new(&config, &local, &node->env, &node->nl);
    if (rc < 0)
        return rc;
    g_assert(peko_addr_equal(peko_nodelist_local_addr(node->nl),
                             &node->addr));
    if (node->has_observer)
        peko_nodelist_set_observer(node->nl, &node->observer,
                                   node->observer_user);
    return 0;
}

/* Keeps the engine configuration, strings included, for restarts. */
static void copy_engine_config(sim_world *w, const peko_config *in)
{
    w->engine = *in;
    w->secret_key = g_strdup(in->secret_key);
    w->engine.secret_key = w->secret_key;
    w->accepted_keys = g_new0(char *, in->accepted_key_count + 1);
    for (size_t k = 0; k < in->accepted_key_count; k++)
        w->accepted_keys[k] = g_strdup(in->accepted_keys[k]);
    w->engine.accepted_keys = (const char *const *)w->accepted_keys;
    w->listen_addr = g_strdup(in->listen_addr);
    w->engine.listen_addr = w->listen_addr;
}

int sim_world_new(size_t n, const sim_world_config *config, uint64_t seed,
                  sim_world **out)
{
    sim_world_config defaults;
    *out = NULL;
    if (config == NULL) {
        sim_world_config_init(&defaults);
        config = &defaults;
    }
    if (n == 0 || n > SIM_WORLD_MAX_NODES || config->latency_us < 0 ||
        config->latency_us > MODEL_DIST_MAX)
        return -EINVAL;
    peko_config resolved;
    if (peko_config_resolve(&config->engine, &resolved) < 0)
        return -EINVAL;
    size_t max_events = config->max_events;
    if (max_events == 0 || max_events > SIM_EVQ_MAX_EVENTS)
        max_events = SIM_EVQ_MAX_EVENTS;
    /* Timers come first: a node whose cycle timer could not be armed
     * would fall silent for good, so room for every node's timers is
     * reserved and only packets ever meet the bound. */
    size_t timer_room = n * PEKO_TIMER_COUNT;
    if (max_events <= timer_room)
        return -EINVAL;

    sim_world *w = g_new0(sim_world, 1);
    w->n = n;
    w->nodes = sim_mem_alloc(n * sizeof *w->nodes); /* line-aligned */
    memset(w->nodes, 0, n * sizeof *w->nodes);
    w->packet_limit = max_events - timer_room;
    w->epoch_us = config->epoch_us;
    w->port = config->port;
    w->seed = seed;
    w->unfolded = config->unfolded;
    w->print = config->print;
    w->print_user = config->print_user;
    w->trace_hash = FNV_OFFSET;
    w->stop = config->stop;
    w->calls = g_ptr_array_new();
    w->records = peko_records_new();
    copy_engine_config(w, &config->engine);
    w->tcp = resolved.protocol == PEKO_PROTOCOL_TCP;
    w->max_packet_bytes = (size_t)resolved.size;
    if (!w->tcp && w->max_packet_bytes > SIM_WORLD_UDP_MAX_BYTES)
        w->max_packet_bytes = SIM_WORLD_UDP_MAX_BYTES;
    w->buffer = (uint32_t)resolved.buffer;
    sim__link_init(w, config->latency_us);
    /* A few events per node is the working set of a quiet cluster; the
     * queue doubles from there as traffic needs. */
    sim_evq_init(&w->q, MIN(n * 4, (size_t)1 << 20), max_events);

    for (size_t i = 0; i < n; i++) {
        if (i % STOP_CHECK_EVENTS == 0 && sim_world_stopped(w)) {
            sim_world_free(w);
            return -EINTR;
        }
        sim_node *node = &w->nodes[i];
        node->world = w;
        node->index = (uint32_t)i;
        node_addr(w, i, &node->addr);
        model_node_stream(&node->rng, seed, MODEL_STREAM_ENGINE,
                          (uint32_t)i);
        model_node_stream(&node->lat_rng, seed, MODEL_STREAM_LATENCY,
                          (uint32_t)i);
        model_node_stream(&node->loss_rng, seed, MODEL_STREAM_LOSS,
                          (uint32_t)i);
        model_node_stream(&node->dup_rng, seed, MODEL_STREAM_DUPLICATE,
                          (uint32_t)i);
        node->send_queue = SIM_WORLD_DEFAULT_SEND_QUEUE;
        g_snprintf(node->name, sizeof node->name, "node-%zu", i);
        node->env = (peko_env){
            .version = PEKO_ENV_VERSION,
            .user = node,
            .now_us = env_now_us,
            .timer_arm = env_timer_arm,
            .timer_cancel = env_timer_cancel,
            .send = env_send,
            .random_u64 = env_random_u64,
            .random_peek = env_random_peek,
            .print = env_print,
            .wall_us = env_wall_us,
            .records = w->records,
        };
        int rc = sim__engine_new(w, node);
        if (rc < 0) {
            sim_world_free(w);
            return rc;
        }
    }
    *out = w;
    return 0;
}

void sim_world_free(sim_world *w)
{
    if (w == NULL)
        return;
    /* Engines first: freeing one cancels its timers through its env,
     * which needs the queue. */
    for (size_t i = 0; i < w->n; i++) {
        sim_node *node = &w->nodes[i];
        peko_nodelist_free(node->nl);
        for (uint32_t k = 0; k < node->held_count; k++)
            sim_evq_packet_free(
                &w->q, node->held[(node->held_head + k) % node->held_cap]
                           .packet);
        sim__queues_free(node);
        sim__tcp_reset(node);
        g_free(node->conns);
        g_free(node->seeds);
    }
    peko_records_free(w->records);
    sim_evq_packet_free(&w->q, w->last_sent);
    sim_evq_clear(&w->q);
    sim__calls_free(w);
    sim__link_clear(w);
    sim_pcap_close(w->pcap, NULL);
    g_free(w->secret_key);
    g_strfreev(w->accepted_keys);
    g_free(w->listen_addr);
    g_free(w->core_free_us);
    sim_mem_free(w->nodes);
    g_free(w);
}

size_t sim_world_size(const sim_world *w)
{
    return w->n;
}

peko_nodelist *sim_world_node(sim_world *w, size_t i)
{
    g_return_val_if_fail(i < w->n, NULL);
    return w->nodes[i].nl;
}

const peko_addr *sim_world_addr(const sim_world *w, size_t i)
{
    g_return_val_if_fail(i < w->n, NULL);
    return &w->nodes[i].addr;
}

void sim_world_set_stop(sim_world *w, const volatile sig_atomic_t *stop)
{
    w->stop = stop;
}

bool sim_world_stopped(const sim_world *w)
{
    return w->stop && *w->stop;
}

int64_t sim_world_now_us(const sim_world *w)
{
    return w->now_us;
}

void sim_world_stats_get(const sim_world *w, sim_world_stats *out)
{
    *out = w->stats;
    out->now_us = w->now_us;
    out->pending = sim__queued(w);
    sim_evq_stats qs;
    sim_evq_stats_get(&w->q, &qs);
    out->queue_bytes = qs.bytes;
    uint64_t dropped = 0;
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        dropped += w->stats.dropped[c];
    out->in_flight = w->stats.sends + w->stats.duplicated -
                     w->stats.deliveries - dropped;
    out->pcap_records = w->pcap ? sim_pcap_records(w->pcap) : 0;
}

void sim_world_node_stats(const sim_world *w, size_t i, sim_node_stats *out)
{
    g_return_if_fail(i < w->n);
    *out = w->nodes[i].stats;
}

uint64_t sim_world_trace_hash(const sim_world *w)
{
    return w->trace_hash;
}

void sim_world_set_hooks(sim_world *w, const sim_world_hooks *hooks,
                         void *user)
{
    memset(&w->hooks, 0, sizeof w->hooks);
    w->hooks_user = NULL;
    if (hooks) {
        w->hooks = *hooks;
        w->hooks_user = user;
    }
    w->hooks_on = w->hooks.delivered != NULL || w->hooks.dropped != NULL;
}

gboolean sim_world_pcap_open(sim_world *w, const char *path, GError **error)
{
    sim_pcap *p = sim_pcap_open(path, error);
    if (p == NULL)
        return FALSE;
    sim_pcap_close(w->pcap, NULL);
    w->pcap = p;
    return TRUE;
}

gboolean sim_world_pcap_close(sim_world *w, GError **error)
{
    sim_pcap *p = w->pcap;
    w->pcap = NULL;
    return sim_pcap_close(p, error);
}
