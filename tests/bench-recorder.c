/* bench-recorder.c: the recorder's observer callbacks under a synthetic
 * gossip stream.
 *
 * 1,000 nodes spread rumors one after another, round robin over origins:
 * mostly heartbeats, every 200th a metadata publish. For each rumor the
 * origin reports it created and sends it to 3 peers; every other node
 * receives it once as new (packet_received, rumor_first_seen, and for a
 * heartbeat node_refreshed) and forwards it to 3 peers (packet_sent x3),
 * then receives 2 duplicates (packet_received, rumor_duplicate); one node
 * in 100 also swaps metadata (packet_sent, packet_received). That is
 * about 10 callbacks per node per rumor, the mix of a fan-out-3 run with
 * duplicate suppression.
 *
 * The stream is built one rumor at a time into a buffer outside the timed
 * region, then played through ana_recorder_observer() as the engine calls
 * it. The figure is callbacks per second, with the batches the callbacks
 * write along the way included, and the time spent in those writes and in
 * the final ana_recorder_finish(). Two sampling settings: the default
 * (heartbeats of 16 origins, all metadata: the usual run) and every origin
 * (every rumor recorded: the worst case, one infection row per node per
 * rumor). Target: 10 million callbacks/s with the default.
 *
 * Then the membership callbacks of a run with ground truth: a cold start
 * (NODES^2 node_added, none written) and a crash of a tenth of the nodes
 * (states, snapshots, removals, re-adds, all written): rare events next
 * to packets, timed to show they stay cheap.
 *
 * The median of 3 repetitions (or PEKO_BENCH_REPS); BENCH lines (bench.h)
 * named recorder-default and recorder-every-origin: callbacks_per_s,
 * hot_callbacks_per_s (the batch writes taken out), finish_ms, file_mib
 * and rows_written (a count: the same work).
 *
 * Run with `meson test -C build --benchmark` or directly:
 *     bench-recorder [SCALE]
 * SCALE multiplies the 5 million callbacks (e.g. 0.1 for a quick look).
 * The database goes to a temporary directory, removed afterwards.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "recorder.h"

#define NODES 1000
#define FANOUT 3
#define DUPLICATES 2
#define METADATA_EVERY 200 /* one rumor in 200 is a publish */
#define SWAP_EVERY 100     /* one node in 100 swaps per rumor */
#define DEFAULT_REPS 3
#define MAX_REPS 100 /* bench_reps() allows no more */

enum op {
    OP_CREATED,
    OP_FIRST_SEEN,
    OP_DUPLICATE,
    OP_SENT,
    OP_RECEIVED,
    OP_REFRESHED,
};

typedef struct event {
    uint8_t op;
    uint8_t type;   /* peko_msg_type of a packet */
    uint16_t hops;
    uint32_t node;
    uint32_t peer;  /* sender (received, first seen, duplicate), target */
    uint32_t size;  /* bytes of a packet */
} event;

typedef struct stream {
    event *events;
    size_t n;
    size_t cap;
    peko_addr addrs[NODES];
    uint64_t incarnation[NODES];
    uint32_t sequence[NODES];
    uint64_t metadata_counter;
    uint64_t rng;
} stream;

static int64_t bench_now_us;

static int64_t bench_clock(void *user)
{
    return bench_now_us;
}

static uint32_t next_random(stream *s)
{
    /* xorshift64*: enough to scatter senders; fixed seed. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (uint32_t)((s->rng * 0x2545f4914f6cdd1dULL) >> 32);
}

static void push(stream *s, enum op op, uint8_t type, unsigned hops,
                 uint32_t node, uint32_t peer, uint32_t size)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16384;
        s->events = g_renew(event, s->events, s->cap);
    }
    s->events[s->n++] = (event){
        .op = (uint8_t)op,
        .type = type,
        .hops = (uint16_t)hops,
        .node = node,
        .peer = peer,
        .size = size,
    };
}

/* Builds the events of rumor number r into s->events and sets *rumor. */
static void build_rumor(stream *s, size_t r, peko_rumor *rumor)
{
    s->n = 0;
    uint32_t origin = (uint32_t)(r % NODES);
    bool metadata = r % METADATA_EVERY == METADATA_EVERY - 1;
    rumor->origin = s->addrs[origin];
    if (metadata) {
        rumor->kind = PEKO_MSG_METADATA;
        rumor->id = ++s->metadata_counter;
    } else {
        rumor->kind = PEKO_MSG_HEARTBEAT;
        rumor->id = (s->incarnation[origin] << 32) | ++s->sequence[origin];
    }
    uint8_t type = (uint8_t)rumor->kind;
    uint32_t size = metadata ? 300 : 120;

    push(s, OP_CREATED, type, 0, origin, 0, 0);
    for (int f = 0; f < FANOUT; f++)
        push(s, OP_SENT, type, 0, origin, (origin + 1 + (uint32_t)f) % NODES,
             size);
    /* Nodes in ring order from the origin; each heard first from one
     * already infected, about log3(k) hops out. */
    unsigned hops = 0;
    size_t next_level = 1;
    for (size_t k = 1; k < NODES; k++) {
        if (k >= next_level) {
            hops++;
            next_level = next_level * FANOUT + 1;
        }
        uint32_t node = (uint32_t)((origin + k) % NODES);
        uint32_t from = (uint32_t)((origin + next_random(s) % k) % NODES);
        push(s, OP_RECEIVED, type, 0, node, from, size);
        push(s, OP_FIRST_SEEN, type, hops - 1, node, from, size);
        if (!metadata)
            push(s, OP_REFRESHED, type, 0, node, origin, 0);
        for (int f = 0; f < FANOUT; f++)
            push(s, OP_SENT, type, 0, node, next_random(s) % NODES, size);
        for (int d = 0; d < DUPLICATES; d++) {
            uint32_t dup_from = next_random(s) % NODES;
            push(s, OP_RECEIVED, type, 0, node, dup_from, size);
            push(s, OP_DUPLICATE, type, hops, node, dup_from, size);
        }
        if (k % SWAP_EVERY == 0) {
            uint32_t peer = next_random(s) % NODES;
            push(s, OP_SENT, PEKO_MSG_SWAP_REQUEST, 0, node, peer, 80);
            push(s, OP_RECEIVED, PEKO_MSG_SWAP_RESPONSE, 0, node, peer, 80);
        }
    }
}

/* Plays the events as the engine would call them. */
static void play(const stream *s, const peko_rumor *rumor, ana_recorder *rec,
                 const peko_observer *obs, ana_node_ctx **ctx)
{
    for (size_t i = 0; i < s->n; i++) {
        const event *e = &s->events[i];
        void *user = ctx[e->node];
        const peko_addr *peer = &s->addrs[e->peer];
        switch ((enum op)e->op) {
        case OP_CREATED:
            obs->rumor_created(user, rumor);
            break;
        case OP_FIRST_SEEN:
            bench_now_us += 7; /* a little virtual time per hop */
            obs->rumor_first_seen(user, rumor, e->hops, peer);
            break;
        case OP_DUPLICATE:
            obs->rumor_duplicate(user, rumor, e->hops, peer);
            break;
        case OP_SENT:
            obs->packet_sent(user, (peko_msg_type)e->type, peer, e->size);
            break;
        case OP_RECEIVED:
            obs->packet_received(user, (peko_msg_type)e->type, peer,
                                 e->size);
            break;
        case OP_REFRESHED:
            obs->node_refreshed(user, peer);
            break;
        }
    }
}

typedef struct result {
    double callbacks_per_s;   /* including the batches written meanwhile */
    double hot_per_s;         /* with the batch writes taken out */
    uint64_t callbacks;
    int64_t run_flush_us;     /* batches written during the stream */
    int64_t finish_us;        /* ana_recorder_finish() */
    uint64_t flushes;
    uint64_t rumors;
    uint64_t infections;
    uint64_t rows_written;
    double file_mib;
} result;

static result run_once(const char *dir, size_t callbacks, size_t origins,
                       int rep)
{
    stream *s = g_new0(stream, 1);
    s->rng = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < NODES; i++) {
        char host[32];
        g_snprintf(host, sizeof host, "10.0.%zu.%zu", (i + 1) / 256,
                   (i + 1) % 256);
        peko_addr_parse(host, 8000, &s->addrs[i]);
        s->incarnation[i] = 1000 + i;
    }

    char *path = g_strdup_printf("%s/bench-%zu-%d.db", dir, origins, rep);
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "bench-recorder";
    info.nodes = NODES;
    info.heartbeat_origins = origins;
    info.now_us = bench_clock;
    info.started_at = "2022-05-19T14:51:23Z";
    bench_now_us = 0;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    if (rec == NULL) {
        fprintf(stderr, "bench-recorder: %s\n", error->message);
        exit(1);
    }
    ana_node_ctx **ctx = g_new(ana_node_ctx *, NODES);
    for (size_t i = 0; i < NODES; i++) {
        char name[24];
        g_snprintf(name, sizeof name, "node-%zu", i);
        if (!ana_recorder_add_node(rec, i, &s->addrs[i], name, &error)) {
            fprintf(stderr, "bench-recorder: %s\n", error->message);
            exit(1);
        }
        ctx[i] = ana_recorder_node_ctx(rec, i);
    }
    const peko_observer *obs = ana_recorder_observer();

    result res = {0};
    int64_t played_us = 0;
    peko_rumor rumor;
    for (size_t r = 0; res.callbacks < callbacks; r++) {
        build_rumor(s, r, &rumor);
        int64_t start_us = g_get_monotonic_time();
        play(s, &rumor, rec, obs, ctx);
        played_us += g_get_monotonic_time() - start_us;
        res.callbacks += s->n;
    }
    ana_recorder_stats st;
    ana_recorder_stats_get(rec, &st);
    res.run_flush_us = st.flush_us;

    int64_t start_us = g_get_monotonic_time();
    if (!ana_recorder_finish(rec, ANA_STATUS_COMPLETE, NULL, bench_now_us,
                             0, res.callbacks, 0, &error)) {
        fprintf(stderr, "bench-recorder: %s\n", error->message);
        exit(1);
    }
    res.finish_us = g_get_monotonic_time() - start_us;
    ana_recorder_stats_get(rec, &st);
    ana_recorder_free(rec);

    res.callbacks_per_s =
        (double)res.callbacks * 1e6 / (double)MAX(played_us, 1);
    res.hot_per_s = (double)res.callbacks * 1e6 /
                    (double)MAX(played_us - res.run_flush_us, 1);
    res.flushes = st.flushes;
    res.rumors = st.rumors;
    res.infections = st.infections;
    res.rows_written = st.rows_written;
    GStatBuf sb;
    if (g_stat(path, &sb) == 0)
        res.file_mib = (double)sb.st_size / (1024.0 * 1024.0);
    g_unlink(path);
    char *side = g_strconcat(path, "-wal", NULL);
    g_unlink(side);
    g_free(side);
    side = g_strconcat(path, "-shm", NULL);
    g_unlink(side);
    g_free(side);
    g_free(path);
    g_free(ctx);
    g_free(s->events);
    g_free(s);
    return res;
}

/* ------------------------------------------------------------------ */
/* Membership changes: the failure detector's rows.                     */

/* A cold start of a run with ground truth (every node adds every other:
 * NODES^2 node_added, none of them written), then a tenth of the nodes
 * crash: the world says so and names who lists them, every other node
 * removes each (written), and they restart and are listed again (re-adds,
 * written). Times the cold start alone (the path every addition takes
 * while no node is silent) and the crash wave as a whole. */
static void run_membership(const char *dir)
{
    peko_addr *addrs = g_new(peko_addr, NODES);
    for (size_t i = 0; i < NODES; i++) {
        char host[32];
        g_snprintf(host, sizeof host, "10.0.%zu.%zu", (i + 1) / 256,
                   (i + 1) % 256);
        peko_addr_parse(host, 8000, &addrs[i]);
    }
    char *path = g_strdup_printf("%s/bench-membership.db", dir);
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "bench-recorder";
    info.nodes = NODES;
    info.ground_truth = true;
    info.now_us = bench_clock;
    info.started_at = "2022-05-19T14:51:23Z";
    bench_now_us = 0;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    if (rec == NULL) {
        fprintf(stderr, "bench-recorder: %s\n", error->message);
        exit(1);
    }
    ana_node_ctx **ctx = g_new(ana_node_ctx *, NODES);
    for (size_t i = 0; i < NODES; i++) {
        if (!ana_recorder_add_node(rec, i, &addrs[i], NULL, &error)) {
            fprintf(stderr, "bench-recorder: %s\n", error->message);
            exit(1);
        }
        ctx[i] = ana_recorder_node_ctx(rec, i);
        ana_recorder_node_state(rec, i, 0, ANA_NODE_UP);
    }
    const peko_observer *obs = ana_recorder_observer();

    int64_t start_us = g_get_monotonic_time();
    for (size_t i = 0; i < NODES; i++)
        for (size_t j = 0; j < NODES; j++)
            if (i != j)
                obs->node_added(ctx[i], &addrs[j]);
    int64_t cold_us = g_get_monotonic_time() - start_us;
    uint64_t cold = (uint64_t)NODES * (NODES - 1);

    uint64_t wave = 0;
    start_us = g_get_monotonic_time();
    for (size_t c = 0; c < NODES; c += 10) {
        bench_now_us = 1000000;
        ana_recorder_node_state(rec, c, bench_now_us, ANA_NODE_CRASHED);
        for (size_t i = 0; i < NODES; i++)
            if (i % 10 != 0)
                ana_recorder_listed(rec, i, c, bench_now_us);
        wave += 1 + NODES - NODES / 10;
    }
    bench_now_us = 10000000;
    for (size_t i = 0; i < NODES; i++)
        for (size_t c = 0; c < NODES && i % 10 != 0; c += 10, wave++)
            obs->node_expired(ctx[i], &addrs[c]);
    bench_now_us = 20000000;
    for (size_t c = 0; c < NODES; c += 10, wave++)
        ana_recorder_node_state(rec, c, bench_now_us, ANA_NODE_UP);
    for (size_t i = 0; i < NODES; i++)
        for (size_t c = 0; c < NODES && i % 10 != 0; c += 10, wave++)
            obs->node_added(ctx[i], &addrs[c]);
    int64_t wave_us = g_get_monotonic_time() - start_us;

    start_us = g_get_monotonic_time();
    if (!ana_recorder_finish(rec, ANA_STATUS_COMPLETE, NULL, bench_now_us,
                             0, 0, 0, &error)) {
        fprintf(stderr, "bench-recorder: %s\n", error->message);
        exit(1);
    }
    int64_t finish_us = g_get_monotonic_time() - start_us;
    ana_recorder_stats st;
    ana_recorder_stats_get(rec, &st);
    ana_recorder_free(rec);
    printf("membership, cold start       %6.2f M node_added/s (%" G_GUINT64_FORMAT
           " calls, no row)\n",
           (double)cold / (double)MAX(cold_us, 1), cold);
    printf("membership, 10%% crash wave   %6.2f M calls/s (%" G_GUINT64_FORMAT
           " states, snapshots, removals, re-adds), %" G_GUINT64_FORMAT
           " rows written, finish %.1f ms\n",
           (double)wave / (double)MAX(wave_us, 1), wave, st.rows_written,
           (double)finish_us / 1e3);
    ana_db_remove(path);
    g_free(path);
    g_free(ctx);
    g_free(addrs);
}

static int cmp_result(const void *a, const void *b)
{
    double x = ((const result *)a)->callbacks_per_s;
    double y = ((const result *)b)->callbacks_per_s;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? g_ascii_strtod(argv[1], NULL) : 1.0;
    if (!(scale > 0))
        scale = 1.0;
    size_t callbacks = (size_t)(scale * 5e6);
    char *dir = g_dir_make_tmp("peko-bench-rec-XXXXXX", NULL);
    if (dir == NULL) {
        fprintf(stderr, "bench-recorder: no temporary directory\n");
        return 1;
    }

    struct {
        const char *label;
        const char *name;
        size_t origins;
    } settings[] = {
        {"16 heartbeat origins (default)", "recorder-default",
         ANA_DEFAULT_HEARTBEAT_ORIGINS},
        {"every origin (worst case)", "recorder-every-origin", NODES},
    };
    int reps = bench_reps(DEFAULT_REPS);
    printf("recorder callbacks, %d nodes, ~%zu callbacks, median of %d "
           "(target: 10 M callbacks/s with the default sampling)\n",
           NODES, callbacks, reps);
    for (size_t k = 0; k < G_N_ELEMENTS(settings); k++) {
        result runs[MAX_REPS];
        double hot[MAX_REPS], finish[MAX_REPS];
        for (int rep = 0; rep < reps; rep++) {
            runs[rep] = run_once(dir, callbacks, settings[k].origins, rep);
            hot[rep] = runs[rep].hot_per_s;
            finish[rep] = (double)runs[rep].finish_us / 1e3;
        }
        qsort(runs, (size_t)reps, sizeof runs[0], cmp_result);
        const result *m = &runs[reps / 2];
        printf("%-31s %6.2f M callbacks/s (min %.2f, max %.2f; %.2f M/s "
               "without writes)\n",
               settings[k].label, m->callbacks_per_s / 1e6,
               runs[0].callbacks_per_s / 1e6,
               runs[reps - 1].callbacks_per_s / 1e6,
               m->hot_per_s / 1e6);
        printf("%-31s %" G_GUINT64_FORMAT " callbacks, %" G_GUINT64_FORMAT
               " rumors, %" G_GUINT64_FORMAT " infection rows, %"
               G_GUINT64_FORMAT " rows written in %" G_GUINT64_FORMAT
               " transactions, %.1f MiB\n",
               "", m->callbacks, m->rumors, m->infections, m->rows_written,
               m->flushes, m->file_mib);
        printf("%-31s writes during the run %.1f ms, finish %.1f ms\n", "",
               (double)m->run_flush_us / 1e3, (double)m->finish_us / 1e3);
        double rates[MAX_REPS];
        for (int rep = 0; rep < reps; rep++)
            rates[rep] = runs[rep].callbacks_per_s;
        const char *name = settings[k].name;
        bench_figure(name, "callbacks_per_s",
                     bench_median(rates, (size_t)reps), "1/s", BENCH_HIGHER,
                     reps);
        bench_figure(name, "hot_callbacks_per_s",
                     bench_median(hot, (size_t)reps), "1/s", BENCH_HIGHER,
                     reps);
        bench_figure(name, "finish_ms", bench_median(finish, (size_t)reps),
                     "ms", BENCH_LOWER, reps);
        bench_figure(name, "file_mib", m->file_mib, "MiB", BENCH_LOWER, 1);
        bench_figure(name, "rows_written", (double)m->rows_written, "count",
                     BENCH_NONE, 1);
    }
    run_membership(dir);
    g_rmdir(dir);
    g_free(dir);
    return 0;
}
