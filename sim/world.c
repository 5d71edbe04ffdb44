/* world.c: the simulated world of world.h.
 *
 * Every node's environment closes over its sim_node; the engine's calls
 * into the environment become events in the world's queue, and events
 * become the engine's inputs (on_timer, on_packet). Nothing here reads a
 * clock or a global random source, and no decision depends on a pointer
 * value or on hash-table order.
 */
#include "world.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "evq.h"
#include "rng.h"

/* Event kinds in the world's queue. New kinds (faults, lifecycle,
 * network model steps) are appended. */
enum {
    SIM_EV_TIMER = 1,   /* node: whose; arg: peko_timer */
    SIM_EV_DELIVER = 2, /* node: receiver; arg: sender; packet: bytes */
};

typedef struct sim_node {
    sim_world *world;
    size_t index;
    peko_env env;                                /* env.user = this node */
    peko_nodelist *nl;
    peko_addr addr;
    sim_rng rng;                                 /* stream `index` of the seed */
    sim_evq_handle timers[PEKO_TIMER_COUNT];     /* armed, or SIM_EVQ_NONE */
    char name[24];                               /* "node-<index>" */
} sim_node;

struct sim_world {
    size_t n;
    sim_node *nodes;                 /* n, never reallocated: envs point in */
    sim_evq q;
    int64_t now_us;                  /* virtual time */
    int64_t latency_us;
    size_t packet_limit;             /* live events beyond which sends are
                                      * refused: the rest of the queue's
                                      * bound is kept for timers */
    int64_t epoch_us;
    uint16_t port;
    uint64_t seed;
    sim_print_fn print;
    void *print_user;
    uint64_t trace_hash;             /* over every delivery so far */
    sim_world_stats stats;           /* now_us, pending, queue_bytes filled
                                      * on request */
};

#define FNV_OFFSET 0xcbf29ce484222325ULL /* the trace hash's start */
#define FNV_PRIME 0x100000001b3ULL

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
 * hashed before the bytes, so padding is unambiguous). */
static uint64_t trace_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    uint64_t w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = trace_step(h, GUINT64_FROM_LE(w));
    }
    if (n) {
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
/* The environment of each node.                                       */

static int64_t env_now_us(peko_env *env)
{
    sim_node *node = env->user;
    return node->world->now_us;
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
    /* A deadline in the past fires at once (next in order), never in the
     * past: virtual time only moves forward. */
    int64_t at_us = deadline_us < w->now_us ? w->now_us : deadline_us;
    sim_payload p = {.kind = SIM_EV_TIMER,
                     .node = (uint32_t)node->index,
                     .arg = (uint32_t)timer};
    /* Cannot fail: every node's timers have room reserved (packet_limit),
     * and the old deadline was just cancelled. */
    node->timers[timer] = sim_evq_push(&w->q, at_us, &p);
    if (node->timers[timer] == SIM_EVQ_NONE)
        g_assert_not_reached();
    return 0;
}

static void env_timer_cancel(peko_env *env, peko_timer timer)
{
    sim_node *node = env->user;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        return;
    sim_evq_cancel(&node->world->q, node->timers[timer]);
    node->timers[timer] = SIM_EVQ_NONE;
}

static int env_send(peko_env *env, const peko_addr *to, const uint8_t *bytes,
                    size_t n_bytes)
{
    sim_node *node = env->user;
    sim_world *w = node->world;
    size_t dst;
    w->stats.sends++;
    if (!sim_world_index_of(w, to, &dst)) {
        /* Nobody listens there: lost without a trace, like UDP. */
        w->stats.unroutable++;
        return 0;
    }
    if (sim_evq_size(&w->q) >= w->packet_limit) {
        /* The queue is at its bound: the packet is dropped, as by a full
         * socket buffer, and the sender told so. */
        w->stats.queue_full++;
        return -ENOBUFS;
    }
    /* The engine's buffer is borrowed for this call only. */
    sim_packet *pkt = sim_evq_packet_new(&w->q, n_bytes);
    if (n_bytes)
        memcpy(pkt->bytes, bytes, n_bytes);
    sim_payload p = {.kind = SIM_EV_DELIVER,
                     .node = (uint32_t)dst,
                     .arg = (uint32_t)node->index,
                     .packet = pkt};
    /* Below packet_limit there is always room. */
    if (sim_evq_push(&w->q, w->now_us + w->latency_us, &p) == SIM_EVQ_NONE)
        g_assert_not_reached();
    return 0;
}

static uint64_t env_random_u64(peko_env *env)
{
    sim_node *node = env->user;
    return sim_rng_u64(&node->rng);
}

static void env_print(peko_env *env, const char *line)
{
    sim_node *node = env->user;
    sim_world *w = node->world;
    char stamp[SIM_WORLD_TIME_STRLEN];
    sim_world_format_time(w, w->now_us, stamp);
    char *full = g_strconcat(stamp, " ", line, NULL);
    if (w->print) {
        w->print(w->print_user, node->index, full);
    } else {
        fputs(full, stdout);
        fputc('\n', stdout);
    }
    g_free(full);
}

/* ------------------------------------------------------------------ */
/* Dispatch.                                                            */

static void deliver(sim_world *w, const sim_event *ev)
{
    sim_packet *pkt = ev->p.packet;
    sim_node *to = &w->nodes[ev->p.node];
    const sim_node *from = &w->nodes[ev->p.arg];

    uint64_t h = w->trace_hash;
    h = trace_step(h, (uint64_t)ev->time_us);
    h = trace_step(h, ((uint64_t)ev->p.node << 32) | ev->p.arg);
    h = trace_step(h, pkt->n_bytes);
    w->trace_hash = trace_bytes(h, pkt->bytes, pkt->n_bytes);

    w->stats.deliveries++;
    w->stats.delivered_bytes += pkt->n_bytes;
    peko_nodelist_on_packet(to->nl, &from->addr, pkt->bytes, pkt->n_bytes);
    sim_evq_packet_free(&w->q, pkt);
}

static void fire_timer(sim_world *w, const sim_event *ev)
{
    sim_node *node = &w->nodes[ev->p.node];
    peko_timer timer = (peko_timer)ev->p.arg;
    /* Disarmed before the call: the engine usually re-arms inside it. */
    node->timers[timer] = SIM_EVQ_NONE;
    w->stats.timers++;
    peko_nodelist_on_timer(node->nl, timer);
}

uint64_t sim_world_run_until(sim_world *w, int64_t t_us)
{
    uint64_t dispatched = 0;
    int64_t next_us;
    sim_event ev;
    while (sim_evq_peek_time(&w->q, &next_us) && next_us <= t_us) {
        sim_evq_pop(&w->q, &ev);
        g_assert(ev.time_us >= w->now_us);
        w->now_us = ev.time_us;
        switch (ev.p.kind) {
        case SIM_EV_TIMER:
            fire_timer(w, &ev);
            break;
        case SIM_EV_DELIVER:
            deliver(w, &ev);
            break;
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

int sim_world_new(size_t n, const sim_world_config *config, uint64_t seed,
                  sim_world **out)
{
    sim_world_config defaults;
    *out = NULL;
    if (config == NULL) {
        sim_world_config_init(&defaults);
        config = &defaults;
    }
    if (n == 0 || n > SIM_WORLD_MAX_NODES || config->latency_us < 0)
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
    w->nodes = g_new0(sim_node, n);
    w->latency_us = config->latency_us;
    w->packet_limit = max_events - timer_room;
    w->epoch_us = config->epoch_us;
    w->port = config->port;
    w->seed = seed;
    w->print = config->print;
    w->print_user = config->print_user;
    w->trace_hash = FNV_OFFSET;
    /* A few events per node is the working set of a quiet cluster; the
     * queue doubles from there as traffic needs. */
    sim_evq_init(&w->q, MIN(n * 4, (size_t)1 << 20), max_events);

    for (size_t i = 0; i < n; i++) {
        sim_node *node = &w->nodes[i];
        node->world = w;
        node->index = i;
        node_addr(w, i, &node->addr);
        sim_rng_init(&node->rng, seed, i);
        g_snprintf(node->name, sizeof node->name, "node-%zu", i);
        node->env = (peko_env){
            .version = PEKO_ENV_VERSION,
            .user = node,
            .now_us = env_now_us,
            .timer_arm = env_timer_arm,
            .timer_cancel = env_timer_cancel,
            .send = env_send,
            .random_u64 = env_random_u64,
            .print = env_print,
        };
        char host[PEKO_HOST_STRLEN];
        peko_addr_host(&node->addr, host);
        peko_node local = {
            .addr = host,
            .port = w->port,
            .name = node->name,
            .private_data = NULL,
        };
        int rc = peko_nodelist_new(&config->engine, &local, &node->env,
                                   &node->nl);
        if (rc < 0) {
            sim_world_free(w);
            return rc;
        }
        g_assert(peko_addr_equal(peko_nodelist_local_addr(node->nl),
                                 &node->addr));
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
    for (size_t i = 0; i < w->n; i++)
        peko_nodelist_free(w->nodes[i].nl);
    sim_evq_clear(&w->q);
    g_free(w->nodes);
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

int64_t sim_world_now_us(const sim_world *w)
{
    return w->now_us;
}

void sim_world_stats_get(const sim_world *w, sim_world_stats *out)
{
    *out = w->stats;
    out->now_us = w->now_us;
    out->pending = sim_evq_size(&w->q);
    sim_evq_stats qs;
    sim_evq_stats_get(&w->q, &qs);
    out->queue_bytes = qs.bytes;
}

uint64_t sim_world_trace_hash(const sim_world *w)
{
    return w->trace_hash;
}
