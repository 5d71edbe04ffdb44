/* bench-world.c: the simulated world under whole-cluster loads.
 *
 * Cases (name some on the command line; by default all but the large):
 *   1000      1,000 nodes, default engine config (6 s cycle, fan-out 3, no
 *             key), every node seeded with node 0 and joined at time 0,
 *             60 simulated seconds, network model off (constant 1 ms).
 *             Target: well under 60 s wall, >= 1M deliveries/s.
 *   1000-net  the same with the network model on: log-normal latency,
 *             1 % Gilbert-Elliott loss, 1 % duplication, a 100 Mbit/s
 *             uplink per node, a one-way partition for 20 s and the
 *             delivery hooks set: what the features cost.
 *   2000      2,000 nodes that start knowing every other (set()), a
 *             one-hour cycle, one publish spread by rumor before anyone
 *             joins (so no heartbeat floods the cluster), then every node
 *             joins with heartbeats stopped so swaps reach the nodes the
 *             rumor missed; run until every node holds it (at most 4
 *             simulated hours). Peak RSS and bytes per membership entry.
 *   10000     the same with 10,000 nodes: 10^8 membership entries, about
 *             3.5 GiB of memory (2026-12-07). Large: not run by default
 *             unless PEKO_BENCH_LARGE=1.
 * The two 1000 cases run 3 times (PEKO_BENCH_REPS) and print medians; they
 * must give the same trace every time. The 2000 case runs as often; the
 * 10000 case once. Peak RSS is the first repetition's: later ones reuse a
 * heap the allocator has not returned, and only add fragmentation.
 * Wall time is measured around the run only (world creation and set()
 * excluded, reported apart); CPU time (user and system) likewise, which a
 * loaded machine distorts less. Each figure is a BENCH line (bench.h)
 * named world-1000, world-1000-net, world-publish-2000 and
 * world-publish-10000. Given several cases, each runs in a child process
 * of its own, so each peak RSS is its case's.
 *
 * Usage: bench-world [--large] [CASE...]
 *   --large   the cases named are large: skip (exit 77) unless
 *             PEKO_BENCH_LARGE=1 (how tests/meson.build runs 10000)
 * docs/simulator.md has the figures.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "mem.h"
#include "world.h"

#define SECOND_US 1000000LL
#define MAX_REPS 100 /* bench_reps() allows no more */

static double seconds_since(int64_t start_us)
{
    return (double)(g_get_monotonic_time() - start_us) / 1e6;
}

static void count_delivered(void *user, size_t from, size_t to, int type,
                            size_t n_bytes)
{
    (*(uint64_t *)user)++;
}

static void count_dropped(void *user, size_t from, size_t to, int type,
                          size_t n_bytes, sim_drop_cause cause)
{
    (*(uint64_t *)user)++;
}

typedef struct minute_result {
    double wall_s;
    double cpu_s;
    uint64_t events;
    uint64_t deliveries;
    uint64_t dropped;
    uint64_t trace;
} minute_result;

/* One run of the 1000 or 1000-net case. */
static minute_result run_1000(bool model)
{
    const size_t n = 1000;
    const int64_t duration_us = 60 * SECOND_US;
    sim_world_config config;
    sim_world_config_init(&config);
    sim_world *w;
    if (sim_world_new(n, &config, 1, &w) < 0)
        g_error("sim_world_new failed");

    uint64_t hooked = 0;
    if (model) {
        model_dist lat = {.kind = MODEL_DIST_LOGNORMAL,
                          .median = 2000, /* us */
                          .sigma = 0.5,
                          .hi = (double)MODEL_DIST_MAX};
        g_assert(sim_world_set_latency(w, &lat) == 0);
        model_loss loss = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                           .p_good_to_bad = 0.002,
                           .p_bad_to_good = 0.2,
                           .loss_good = 0.0,
                           .loss_bad = 1.0};
        g_assert(sim_world_set_loss(w, &loss) == 0);
        g_assert(sim_world_set_duplicate(w, 0.01) == 0);
        for (size_t i = 0; i < n; i++)
            g_assert(sim_world_set_uplink(w, i, 100000000, 1000) == 0);
        sim_world_hooks hooks = {.delivered = count_delivered,
                                 .dropped = count_dropped};
        sim_world_set_hooks(w, &hooks, &hooked);
    }

    size_t seed0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (i != 0)
            g_assert(sim_world_set_seeds(w, i, &seed0, 1) == 0);
        g_assert(sim_world_join(w, i) == 0);
    }

    double cpu_start_s = bench_cpu_s();
    int64_t start_us = g_get_monotonic_time();
    if (model) {
        size_t a[100], b[100];
        for (size_t i = 0; i < 100; i++) {
            a[i] = i;
            b[i] = 500 + i;
        }
        sim_world_run_until(w, 20 * SECOND_US);
        int id = sim_world_partition(w, a, 100, b, 100, true);
        g_assert(id >= 0);
        sim_world_run_until(w, 40 * SECOND_US);
        g_assert(sim_world_heal(w, id) == 0);
    }
    sim_world_run_until(w, duration_us);
    minute_result r = {
        .wall_s = seconds_since(start_us),
        .cpu_s = bench_cpu_s() - cpu_start_s,
    };

    sim_world_stats st;
    sim_world_stats_get(w, &st);
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        r.dropped += st.dropped[c];
    r.events = st.events;
    r.deliveries = st.deliveries;
    r.trace = sim_world_trace_hash(w);
    if (model)
        g_assert(hooked == st.deliveries + r.dropped);
    sim_world_free(w);
    return r;
}

static int bench_1000(bool model, int reps)
{
    const char *name = model ? "world-1000-net" : "world-1000";
    const double sim_s = 60.0;
    double wall[MAX_REPS], cpu[MAX_REPS], ev[MAX_REPS], del[MAX_REPS],
        rt[MAX_REPS], del_cpu[MAX_REPS];
    minute_result first = {0};
    double rss = 0;
    for (int k = 0; k < reps; k++) {
        minute_result r = run_1000(model);
        if (k == 0) {
            first = r;
            rss = bench_peak_rss_mib();
        }
        else if (r.trace != first.trace || r.deliveries != first.deliveries) {
            fprintf(stderr, "bench-world %s: repetition %d gave trace "
                            "%016" G_GINT64_MODIFIER "x, the first "
                            "%016" G_GINT64_MODIFIER "x: not deterministic\n",
                    name, k + 1, (guint64)r.trace, (guint64)first.trace);
            return 1;
        }
        wall[k] = r.wall_s;
        cpu[k] = r.cpu_s;
        ev[k] = (double)r.events / r.wall_s;
        del[k] = (double)r.deliveries / r.wall_s;
        rt[k] = sim_s / r.wall_s;
        del_cpu[k] = (double)r.deliveries / MAX(r.cpu_s, 1e-3);
        printf("bench-world %s: 1000 nodes, %.0f simulated s: wall %.3f s, "
               "CPU %.3f s, real-time factor %.1fx, %" G_GUINT64_FORMAT
               " events (%.2fM/s), %" G_GUINT64_FORMAT
               " deliveries (%.2fM/s), %" G_GUINT64_FORMAT
               " dropped, trace %016" G_GINT64_MODIFIER "x\n",
               model ? "1000-net" : "1000", sim_s, r.wall_s, r.cpu_s, rt[k],
               (guint64)r.events, ev[k] / 1e6, (guint64)r.deliveries,
               del[k] / 1e6, (guint64)r.dropped, (guint64)r.trace);
        fflush(stdout);
    }
    size_t n = (size_t)reps;
    bench_figure(name, "run_wall_s", bench_median(wall, n), "s", BENCH_LOWER,
                 reps);
    bench_figure(name, "events_per_s", bench_median(ev, n), "1/s",
                 BENCH_HIGHER, reps);
    bench_figure(name, "deliveries_per_s", bench_median(del, n), "1/s",
                 BENCH_HIGHER, reps);
    bench_figure(name, "realtime_factor", bench_median(rt, n), "x",
                 BENCH_HIGHER, reps);
    bench_figure(name, "cpu_s", bench_median(cpu, n), "s", BENCH_LOWER,
                 reps);
    bench_figure(name, "deliveries_per_cpu_s", bench_median(del_cpu, n),
                 "1/s", BENCH_HIGHER, reps);
    bench_figure(name, "peak_rss_mib", rss, "MiB", BENCH_LOWER, 1);
    bench_figure(name, "deliveries", (double)first.deliveries, "count",
                 BENCH_NONE, reps);
    return 0;
}

static bool all_hold(sim_world *w, size_t n, size_t *holding)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        if (peko_nodelist_read(sim_world_node(w, i), &len) != NULL)
            k++;
    }
    *holding = k;
    return k == n;
}

typedef struct publish_result {
    double setup_s;
    double wall_s;
    double cpu_s;
    size_t by_rumor;
    size_t holding;
    int64_t end_us;
    uint64_t deliveries;
} publish_result;

static publish_result run_publish(size_t n)
{
    publish_result r = {0};
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = 3600 * SECOND_US;
    sim_world *w;
    int64_t setup_us = g_get_monotonic_time();
    if (sim_world_new(n, &config, 1, &w) < 0)
        g_error("sim_world_new failed");
    for (size_t i = 0; i < n; i++) {
        peko_nodelist *nl = sim_world_node(w, i);
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            char host[PEKO_HOST_STRLEN];
            peko_addr_host(sim_world_addr(w, j), host);
            peko_node peer = {.addr = host, .port = config.port};
            g_assert(peko_nodelist_set(nl, &peer) == 0);
        }
    }
    r.setup_s = seconds_since(setup_us);

    /* The rumor first: nobody has joined, so no heartbeat floods the
     * cluster. A rumor that stops forwarding at nodes that already have
     * it misses a few percent of the nodes ... */
    const char *meta = "metadata for ten thousand nodes";
    g_assert(peko_nodelist_publish(sim_world_node(w, 0), (const uint8_t *)meta,
                                   strlen(meta)) == 0);
    double cpu_start_s = bench_cpu_s();
    int64_t start_us = g_get_monotonic_time();
    int64_t t = 0;
    sim_world_stats st;
    do {
        t += 10000;
        sim_world_run_until(w, t);
        sim_world_stats_get(w, &st);
    } while (st.pending > 0);
    all_hold(w, n, &r.by_rumor);
    int64_t rumor_done_us = t;

    /* ... which anti-entropy finds: every node joins with heartbeats
     * stopped (its first cycle, at once, is a swap with a random peer;
     * the next one an hour later). */
    for (size_t i = 0; i < n; i++) {
        g_assert(sim_world_join(w, i) == 0);
        g_assert(sim_world_stop(w, i) == 0);
    }
    while (!all_hold(w, n, &r.holding) && t < 4 * 3600 * SECOND_US) {
        t += t < rumor_done_us + SECOND_US ? 10000 : SECOND_US;
        sim_world_run_until(w, t);
    }
    r.wall_s = seconds_since(start_us);
    r.cpu_s = bench_cpu_s() - cpu_start_s;
    r.end_us = t;
    sim_world_stats_get(w, &st);
    r.deliveries = st.deliveries;
    sim_world_free(w);
    return r;
}

static int bench_publish(size_t n, int reps)
{
    char name[32];
    g_snprintf(name, sizeof name, "world-publish-%zu", n);
    double setup[MAX_REPS], wall[MAX_REPS], cpu[MAX_REPS];
    publish_result r = {0};
    double rss = 0;
    for (int k = 0; k < reps; k++) {
        r = run_publish(n);
        if (k == 0)
            rss = bench_peak_rss_mib();
        setup[k] = r.setup_s;
        wall[k] = r.wall_s;
        cpu[k] = r.cpu_s;
        printf("bench-world %zu: %zu nodes knowing all others (set() in "
               "%.1f s); the rumor reached %zu nodes, swaps the rest: "
               "%zu/%zu hold it at %.2f simulated s; %.3f s wall, %.3f s "
               "CPU, %" G_GUINT64_FORMAT " deliveries; peak RSS so far "
               "%.0f MiB\n",
               n, n, r.setup_s, r.by_rumor, r.holding, n,
               (double)r.end_us / 1e6, r.wall_s, r.cpu_s,
               (guint64)r.deliveries, bench_peak_rss_mib());
        fflush(stdout);
        /* Not a failure of the benchmark: how far anti-entropy gets is
         * the engine's business, and a figure (nodes_holding). */
        if (r.holding != n)
            printf("bench-world %zu: only %zu of %zu nodes hold the "
                   "metadata after %.0f simulated s\n",
                   n, r.holding, n, (double)r.end_us / 1e6);
    }
    /* Bytes per entry as peak RSS over N·(N−1), the whole process: the
     * engines' peer tables dominate, their fixed buffers (about 40 KB per
     * node) weigh more at 2,000 nodes than at 10,000. */
    double entries = (double)n * (double)(n - 1);
    size_t m = (size_t)reps;
    bench_figure(name, "setup_s", bench_median(setup, m), "s", BENCH_LOWER,
                 reps);
    bench_figure(name, "run_wall_s", bench_median(wall, m), "s",
                 BENCH_LOWER, reps);
    bench_figure(name, "cpu_s", bench_median(cpu, m), "s", BENCH_LOWER,
                 reps);
    bench_figure(name, "peak_rss_mib", rss, "MiB", BENCH_LOWER, 1);
    bench_figure(name, "bytes_per_entry", rss * 1024.0 * 1024.0 / entries,
                 "B", BENCH_LOWER, 1);
    bench_figure(name, "reached_by_rumor", (double)r.by_rumor, "count",
                 BENCH_NONE, reps);
    bench_figure(name, "nodes_holding", (double)r.holding, "count",
                 BENCH_NONE, reps);
    bench_figure(name, "simulated_s", (double)r.end_us / 1e6, "s",
                 BENCH_NONE, reps);
    return 0;
}

static int run_case(const char *c)
{
    if (strcmp(c, "1000") == 0)
        return bench_1000(false, bench_reps(3));
    if (strcmp(c, "1000-net") == 0)
        return bench_1000(true, bench_reps(3));
    if (strcmp(c, "2000") == 0)
        return bench_publish(2000, bench_reps(3));
    if (strcmp(c, "10000") == 0)
        return bench_publish(10000, 1);
    g_assert_not_reached();
}

static bool is_case(const char *c)
{
    static const char *const known[] = {"1000", "1000-net", "2000", "10000"};
    for (size_t i = 0; i < G_N_ELEMENTS(known); i++)
        if (strcmp(c, known[i]) == 0)
            return true;
    return false;
}

/* Runs a case in a child process, so its peak RSS is its own. */
static int run_case_apart(const char *c)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench-world: fork");
        return 1;
    }
    if (pid == 0) {
        int status = run_case(c);
        fflush(stdout);
        _exit(status);
    }
    int status;
    pid_t got;
    do
        got = waitpid(pid, &status, 0);
    while (got < 0 && errno == EINTR);
    if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench-world %s: failed\n", c);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sim_mem_malloc_on_huge_pages(argv); /* as peko sim runs */
    int a = 1;
    bool large = argc > a && strcmp(argv[a], "--large") == 0;
    if (large)
        a++;
    const char *cases[8];
    int n_cases = 0;
    for (int i = a; i < argc; i++) {
        if (!is_case(argv[i]) || n_cases == (int)G_N_ELEMENTS(cases)) {
            fprintf(stderr, "usage: bench-world [--large] [CASE...]: "
                            "unknown case '%s' (1000, 1000-net, 2000, "
                            "10000)\n", argv[i]);
            return 2;
        }
        cases[n_cases++] = argv[i];
    }
    if (large && !bench_large()) {
        printf("bench-world: skipped, the large cases need "
               "PEKO_BENCH_LARGE=1 (10000 needs about 5 GiB)\n");
        return 77;
    }
    if (n_cases == 0) {
        cases[n_cases++] = "1000";
        cases[n_cases++] = "1000-net";
        cases[n_cases++] = "2000";
        if (bench_large())
            cases[n_cases++] = "10000";
    }
    if (n_cases == 1)
        return run_case(cases[0]);
    int status = 0;
    for (int i = 0; i < n_cases; i++)
        status |= run_case_apart(cases[i]);
    return status;
}
