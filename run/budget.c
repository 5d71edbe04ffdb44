/* budget.c: a simulated run's memory, estimated and checked (budget.h).
 *
 * The constants below are what the engine and the simulator allocate
 * (engine/peers.h, engine/seen.c, sim/evq.h), and the per-node rest and
 * the burst factor are fitted to peaks measured with /usr/bin/time -v
 * (docs/simulator.md, "Memory", has the table). Where the engine's
 * layout changes, the table is measured again.
 */
#include "budget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "evq.h"
#include "peko.h"

G_DEFINE_QUARK(run-budget-error-quark, run_budget_error)

/* The program before any node: code, GLib, SQLite's page cache, and a
 * huge page of malloc's heap beyond what it touches (sim/mem.h): a small
 * run's peak moves by one from run to run. */
#define BASE_BYTES (11u << 20)
/* Per node, beyond what is counted apart: the engine's node list and
 * keyring, the simulator's node and timers, the recorder's counters,
 * allocator overhead. Fitted. */
#define NODE_FIXED_BYTES (18u << 10)
/* The reconnection table (engine/reconnect.c): an entry a seed, up to
 * 256, in an array grown by doubling. */
#define RECONNECT_ENTRY_BYTES 56u
#define RECONNECT_MAX 256u
/* A peer's entry in a node's table (engine/peers.h), counted with the
 * room the entries have grown to (by a quarter at a time from 16, a
 * sixteenth from 4,096); the ordered tables' links per entry (refresh
 * list and bucket chain: three entry numbers) and bucket heads (one for
 * four slots); the index per slot (an entry number and a bit). Entry
 * numbers take 2 bytes in an index of at most 65,536 slots, 4 beyond.
 * The records the entries name (engine/records.h: address, name, data)
 * are shared by every engine of a run: one per node, text included. */
#define PEER_ENTRY_BYTES 24u
#define PEER_LINKS 3u
#define PEER_SLOTS_PER_BUCKET 4u
#define PEER_NARROW_SLOTS 65536.0
#define PEER_MIN_ROOM 16u
#define PEER_LARGE_ROOM 4096u
#define RECORD_BYTES 96u
/* An event in the queue: its 16-byte key and 32-byte record, with room
 * for the arrays' doubling. */
#define EVENT_BYTES 96u
/* A traced rumor in the recorder, before its bitmap of nodes. */
#define RUMOR_BYTES 128u
/* Over the sum of the parts: the fit's worst miss was 2 % low, and the
 * estimate must err high. */
#define MARGIN 1.15

/* A run's numbers, resolved once. */
typedef struct shape {
    double n;              /* nodes */
    double members;        /* peers each node lists at most */
    peko_config cfg;       /* resolved engine settings */
    bool classic;
    bool digest;
    double cycles;         /* cycles in the run */
    double publishes;      /* metadata rumors */
    double publish_bytes;  /* the largest */
    double restarted;      /* nodes that start again (restart, start) */
} shape;

static double pow2_at_least(double x)
{
    double p = 1;
    while (p < x)
        p *= 2;
    return p;
}

/* What a packet of n bytes takes: its size class, with its share of a
 * page (sim/packets.h). */
static double packet_class(double n_bytes)
{
    return (double)sim_evq_packet_footprint((size_t)n_bytes);
}

/* engine/peers.c: the entries' room once they hold `members`. */
static double peer_room(double members)
{
    uint64_t room = PEER_MIN_ROOM;
    while ((double)room < members)
        room += room / (room < PEER_LARGE_ROOM ? 4 : 16);
    return (double)room;
}

/* engine/peers.c: kept at most three quarters full, a power of two. */
static double peer_table_bytes(const shape *s)
{
    double cap = 8;
    while ((s->members + 1) * 4 > cap * 3)
        cap *= 2;
    double width = cap <= PEER_NARROW_SLOTS ? 2 : 4;
    double per_entry =
        PEER_ENTRY_BYTES + (s->classic ? 0 : PEER_LINKS * width);
    double per_slot =
        width + (s->classic ? 0 : width / PEER_SLOTS_PER_BUCKET);
    return peer_room(s->members) * per_entry + cap * per_slot + cap / 8;
}

/* The strategies with anti-entropy keep room to pick targets among
 * every peer (engine/spread.c). The room to sort a range of every peer,
 * encode, build a digest or an infected set is the engines' shared work
 * space (engine/records.h), counted once (loan_bytes). */
static double scratch_bytes(const shape *s)
{
    return s->classic ? 0 : 4 * s->members;
}

/* engine/seen.c: a ring of keys, 8 bytes each, grown by doubling from
 * 32 up to the capacity, and an index of at least twice as many slots,
 * 4 bytes each. A node keys only the heartbeats whose version it cannot
 * store (engine/membership.c): in classic, another incarnation of a
 * listed node, so a few keys for each restart (late copies of the old
 * incarnation are keyed too), and a newcomer's when the list is full. */
static double seen_bytes(const shape *s)
{
    double rumors = s->classic ? 4 * s->restarted : 0;
    double keys = MIN(rumors, (double)s->cfg.seen_cache);
    double ring = MIN(pow2_at_least(MAX(keys, 32)), (double)s->cfg.seen_cache);
    double slots = pow2_at_least(2 * ring);
    return 8 * ring + 4 * slots;
}

/* The work space every engine of the run borrows from (engine/records.h):
 * a range of every peer sorted (12 bytes a peer), a request's entries as
 * read (up to Size / 18 of 88 bytes), a digest and an encoding of Size
 * each, an infected set; doubled as the buffers grow. Once, not per
 * node. */
static double loan_bytes(const shape *s)
{
    double size = s->cfg.size;
    double parts = 12 * s->members + size / 18 * 88 + 3 * size;
    return 2 * parts;
}

/* The mean one-way latency of the slowest pair, in microseconds. */
static double slowest_latency_us(const scn_scenario *sc)
{
    double worst = model_dist_mean(&sc->network.latency_us);
    size_t r = sc->regions.n_regions;
    for (size_t i = 0; i < r * r; i++)
        if (sc->regions.latency_set == NULL || sc->regions.latency_set[i])
            worst = MAX(worst, model_dist_mean(&sc->regions.latency_us[i]));
    return MAX(worst, 1.0);
}

/* Packets in the event queue at the worst moment, in bytes.
 *
 * One rumor has its packets in flight for about hops x latency. Nodes
 * that start at the same instant send their rumors together, and keep
 * sending them together every cycle: then C rumors are in flight at
 * once, each with a generation of up to k N copies (k fitted: 0.8 at 250
 * nodes, falling as N^-1/3). Joins spread over `stagger` overlap only by
 * the fraction of it one rumor lasts. classic forwards every copy, so
 * its copies multiply by the fan-out at each of about N / (fan-out + 1)
 * hops; it fills the queue to its bound beyond a few dozen nodes. */
static double in_flight_bytes(const scn_scenario *sc, const shape *s)
{
    double n = s->n;
    double fan = s->cfg.amount;
    double hops = s->classic ? n / (fan + 1) + 2
                             : ceil(log(MAX(n, 2)) / log(fan + 1)) + 2;
    double window_us = hops * 2 * slowest_latency_us(sc);

    double initial = n - sc->cluster.late.count;
    double spread_us = (double)sc->cluster.stagger_us;
    if (!s->digest)
        spread_us = MIN(spread_us, (double)s->cfg.cycle_us);
    double concurrent = spread_us <= 0
                            ? initial
                            : initial * MIN(1.0, window_us / spread_us);
    for (size_t i = 0; i < sc->n_events; i++) {
        const scn_event *ev = &sc->events[i];
        if (ev->kind == SCN_EVENT_JOIN || ev->kind == SCN_EVENT_RESTART ||
            ev->kind == SCN_EVENT_RESUME || ev->kind == SCN_EVENT_START)
            concurrent = MAX(concurrent, (double)ev->nodes.count);
    }
    concurrent = MAX(concurrent, 1);

    double copies;
    if (s->classic)
        copies = 10 * pow(fan, MIN(n / (fan + 1), 60));
    else
        copies = n * MIN(fan, 0.8 * cbrt(250 / MAX(n, 1)));
    /* Nodes that start knowing many peers (seeds) spread the rumors of
     * a start at one instant faster, so more of their copies are in
     * flight together: fitted to 2,000 nodes with 1,024 seeds each
     * (peak 527 MiB, its packets 184 MB in 1.2 million buffers at the
     * worst moment), counted as 0.4 x seeds x fan-out copies a rumor. A
     * joining node itself sends a few packets, not one a seed (30,000 in
     * the first millisecond of that run). */
    if (!s->classic)
        copies = MAX(copies,
                     0.4 * MIN((double)sc->cluster.seeds, n - 1) * fan);
    double key = s->cfg.secret_key && *s->cfg.secret_key ? 32 : 0;
    double set = s->classic ? 4 * n : 4 * (fan + 1) * hops;
    double packet = MIN((double)s->cfg.size, 64 + key + set);
    double limit = (double)SIM_EVQ_MAX_EVENTS - n * PEKO_TIMER_COUNT;
    double packets = MIN(MAX(limit, 0), concurrent * copies);
    /* digest forwards a few fan-outs of announcements a node a cycle
     * (peko.h), besides each joining node's own fan-out. */
    if (s->digest)
        packets = MIN(packets, n * fan * (PEKO_DIGEST_ANNOUNCE_FANOUTS + 1));
    /* Over UDP a forward's copies share one buffer (sim/world.c); TCP
     * frames each. At a constant latency (no regions, no uplink, no
     * duplicates) they also share events, up to three copies an event
     * (SIM_EV_ARRIVE_MANY), but not every copy follows one of its packet
     * (fitted: 1.5 copies an event in a burst of joins). The classes
     * share their pages (sim/packets.h), so a packet costs its own
     * class's share of a page, whatever sizes are in flight beside it. */
    bool udp = s->cfg.protocol != PEKO_PROTOCOL_TCP;
    double sharing = udp ? MAX(fan, 1) : 1;
    bool folds = udp && sc->network.latency_us.kind == MODEL_DIST_CONSTANT &&
                 sc->regions.n_regions == 0 &&
                 sc->network.bandwidth_bps == 0 && sc->network.duplicate == 0;
    double per_event = folds ? MIN(MAX(fan, 1), 1.5) : 1;
    double per_packet = EVENT_BYTES / per_event +
                        packet_class(packet) / sharing;
    double bytes = packets * per_packet;

    /* Metadata rumors and swap answers carry the metadata: a publish's
     * generation of copies at once. */
    if (s->publishes > 0)
        bytes += MIN(n * fan, MAX(limit, 0)) *
                 (EVENT_BYTES + packet_class(MIN((double)s->cfg.size,
                                                 s->publish_bytes + 128)));
    return bytes;
}

static void shape_of(const scn_scenario *sc, shape *s)
{
    memset(s, 0, sizeof *s);
    s->n = sc->cluster.nodes;
    if (peko_config_resolve(&sc->engine, &s->cfg) < 0)
        peko_config_resolve(&(peko_config){0}, &s->cfg); /* not reached:
                                                          * the scenario
                                                          * was checked */
    s->members = MIN(s->n - 1, (double)s->cfg.max_members);
    s->classic = s->cfg.dissemination == PEKO_DISSEMINATION_CLASSIC;
    s->digest = s->cfg.dissemination == PEKO_DISSEMINATION_DIGEST;
    double duration = (double)sc->cluster.duration_us;
    double cycle = (double)MAX(s->cfg.cycle_us, 1);
    /* digest sends a heartbeat rumor only at join and start; the others
     * one every cycle. */
    s->cycles = floor(duration / cycle) + 1;
    for (size_t i = 0; i < sc->n_events; i++) {
        const scn_event *ev = &sc->events[i];
        if (ev->kind == SCN_EVENT_PUBLISH) {
            s->publishes += (double)ev->nodes.count;
            s->publish_bytes = MAX(s->publish_bytes,
                                   (double)ev->publish.n_bytes);
        } else if (ev->kind == SCN_EVENT_RESTART ||
                   ev->kind == SCN_EVENT_START) {
            s->restarted += (double)ev->nodes.count;
        }
    }
}

void run_sim_estimate_memory(const scn_scenario *sc, run_mem_estimate *out)
{
    memset(out, 0, sizeof *out);
    shape s;
    shape_of(sc, &s);

    double seeds = MIN((double)sc->cluster.seeds, (double)RECONNECT_MAX);
    double reconnect = RECONNECT_ENTRY_BYTES * pow2_at_least(MAX(seeds, 4));
    double per_node = NODE_FIXED_BYTES + reconnect + RECORD_BYTES +
                      peer_table_bytes(&s) + scratch_bytes(&s) +
                      seen_bytes(&s) + s.publish_bytes;
    /* Each traced rumor holds a bit per node. Every strategy makes a
     * heartbeat a cycle, and the recorder traces the sampled origins'
     * every M-th, digest's too (they arrive by swap, not by rumor). */
    double traced = (double)sc->cluster.heartbeat_sample.count *
                        ceil(s.cycles / MAX(sc->cluster.heartbeat_every, 1)) +
                    s.publishes;
    double recorder = traced * (RUMOR_BYTES + 8 * ceil(s.n / 64));

    /* Doubles: a cluster of millions of nodes can exceed 2^64 bytes. */
    double nodes = per_node * s.n;
    double flight = in_flight_bytes(sc, &s);
    double total =
        (BASE_BYTES + loan_bytes(&s) + nodes + flight + recorder) * MARGIN;
    const double cap = 0x1p63;
    out->base = BASE_BYTES;
    out->per_node = (uint64_t)MIN(per_node, cap);
    out->nodes = (uint64_t)MIN(nodes, cap);
    out->in_flight = (uint64_t)MIN(flight, cap);
    out->recorder = (uint64_t)MIN(recorder, cap);
    out->total = (uint64_t)MIN(total, cap);
}

/* ------------------------------------------------------------------ */
/* What the machine has.                                                */

/* A "Key:   123 kB" line of /proc/meminfo, in bytes; 0 if absent. */
static uint64_t meminfo(const char *key)
{
    char *text = NULL;
    if (!g_file_get_contents("/proc/meminfo", &text, NULL, NULL))
        return 0;
    uint64_t bytes = 0;
    size_t n_key = strlen(key);
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, key, n_key) == 0 && line[n_key] == ':') {
            unsigned long long kib = 0;
            if (sscanf(line + n_key + 1, "%llu", &kib) == 1)
                bytes = (uint64_t)kib * 1024;
            break;
        }
        line = next;
    }
    g_free(text);
    return bytes;
}

/* A number in a cgroup v2 file, or UINT64_MAX for "max" or no file. */
static uint64_t cgroup_value(const char *dir, const char *file)
{
    char *path = g_build_filename("/sys/fs/cgroup", dir, file, NULL);
    char *text = NULL;
    uint64_t v = UINT64_MAX;
    if (g_file_get_contents(path, &text, NULL, NULL) &&
        g_ascii_isdigit(text[0]))
        v = g_ascii_strtoull(text, NULL, 10);
    g_free(text);
    g_free(path);
    return v;
}

/* Room left under this process's cgroup v2 memory.max ("0::/path" in
 * /proc/self/cgroup), or UINT64_MAX without a limit. */
static uint64_t cgroup_room(void)
{
    char *text = NULL;
    if (!g_file_get_contents("/proc/self/cgroup", &text, NULL, NULL))
        return UINT64_MAX;
    uint64_t room = UINT64_MAX;
    char *line = strstr(text, "0::");
    if (line == text || (line && line[-1] == '\n')) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        const char *dir = line + 3;
        uint64_t max = cgroup_value(dir, "memory.max");
        uint64_t cur = cgroup_value(dir, "memory.current");
        if (max != UINT64_MAX)
            room = cur != UINT64_MAX && cur < max ? max - cur : 0;
    }
    g_free(text);
    return room;
}

static uint64_t rlimit_room(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return (uint64_t)rl.rlim_cur;
}

uint64_t run_memory_available(void)
{
    uint64_t room = meminfo("MemAvailable");
    if (room == 0)
        room = UINT64_MAX;
    room = MIN(room, cgroup_room());
    room = MIN(room, rlimit_room(RLIMIT_AS));
    room = MIN(room, rlimit_room(RLIMIT_DATA));
    return room == UINT64_MAX ? 0 : room;
}

void run_format_bytes(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < G_N_ELEMENTS(units)) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        g_snprintf(buf, size, "%" G_GUINT64_FORMAT " B", bytes);
    else
        g_snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

gboolean run_sim_check_memory(const scn_scenario *sc, uint64_t limit,
                              gboolean limit_is_given, GError **error)
{
    if (limit == 0)
        return TRUE;
    run_mem_estimate e;
    run_sim_estimate_memory(sc, &e);
    if (e.total <= limit)
        return TRUE;
    char total[32], nodes[32], per_node[32], flight[32], rec[32], lim[32];
    run_format_bytes(total, sizeof total, e.total);
    run_format_bytes(nodes, sizeof nodes, e.nodes);
    run_format_bytes(per_node, sizeof per_node, e.per_node);
    run_format_bytes(flight, sizeof flight, e.in_flight);
    run_format_bytes(rec, sizeof rec, e.recorder);
    run_format_bytes(lim, sizeof lim, limit);
    g_set_error(error, RUN_BUDGET_ERROR, RUN_BUDGET_ERROR_TOO_BIG,
                "%s: this run needs about %s of memory (%u nodes at %s each:"
                " %s; packets in flight at the peak: %s; traced rumors: %s),"
                " and %s %s%s; make the cluster smaller or spread its joins"
                " (cluster.stagger), or give --max-memory SIZE to allow"
                " more (--max-memory 0: no check)",
                sc->name, total, sc->cluster.nodes, per_node, nodes, flight,
                rec,
                limit_is_given ? "--max-memory allows" : "this machine has",
                lim, limit_is_given ? "" : " available");
    return FALSE;
}
