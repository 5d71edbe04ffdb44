/* bench-world.c: the simulated world under whole-cluster loads.
 *
 * Cases (all by default, or name some on the command line):
 *   1000      1,000 nodes, default engine config (6 s cycle, fan-out 3, no
 *             key), every node seeded with node 0 and joined at time 0,
 *             60 simulated seconds, network model off (constant 1 ms).
 *             Target: well under 60 s wall, >= 1M deliveries/s.
 *   1000-net  the same with the network model on: log-normal latency,
 *             1 % Gilbert-Elliott loss, 1 % duplication, a 100 Mbit/s
 *             uplink per node, a one-way partition for 20 s and the
 *             delivery hooks set: what the features cost.
 *   10000     10,000 nodes that start knowing every other (set()), a
 *             one-hour cycle, one publish spread by rumor before anyone
 *             joins (so no heartbeat floods the cluster), then every node
 *             joins with heartbeats stopped so swaps reach the nodes the
 *             rumor missed; run until every node holds it. Peak RSS and
 *             bytes per node.
 *   2000      the same with 2,000 nodes: peer lists a 25th of the
 *             10000 case's, for comparing builds quickly (not run by
 *             default).
 * Wall time is measured around the run only (world creation and set()
 * excluded, reported apart). The 10000 case needs about 10 GiB of memory,
 * nearly all of it the engines' lists of 9,999 peers each.
 *
 * Usage: bench-world [CASE...]   (docs/simulator.md has the figures)
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "world.h"

#define SECOND_US 1000000LL

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

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

static void bench_1000(bool model)
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
    double wall_s = seconds_since(start_us);

    sim_world_stats st;
    sim_world_stats_get(w, &st);
    uint64_t dropped = 0;
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        dropped += st.dropped[c];
    printf("bench-world %s: %zu nodes, %.0f simulated s: wall %.3f s, "
           "real-time factor %.1fx, %" G_GUINT64_FORMAT " events (%.2fM/s), "
           "%" G_GUINT64_FORMAT " deliveries (%.2fM/s), %" G_GUINT64_FORMAT
           " dropped, peak RSS %.0f MiB, trace %016" G_GINT64_MODIFIER "x\n",
           model ? "1000-net" : "1000", n, (double)duration_us / 1e6, wall_s,
           (double)duration_us / 1e6 / wall_s, (guint64)st.events,
           (double)st.events / wall_s / 1e6, (guint64)st.deliveries,
           (double)st.deliveries / wall_s / 1e6, (guint64)dropped,
           peak_rss_mib(), (guint64)sim_world_trace_hash(w));
    if (model)
        g_assert(hooked == st.deliveries + dropped);
    sim_world_free(w);
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

static void bench_publish(size_t n)
{
    double rss_before = peak_rss_mib();
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
    double setup_s = seconds_since(setup_us);

    /* The rumor first: nobody has joined, so no heartbeat floods the
     * cluster. A rumor that stops forwarding at nodes that already have
     * it misses a few percent of the nodes ... */
    const char *meta = "metadata for ten thousand nodes";
    g_assert(peko_nodelist_publish(sim_world_node(w, 0), (const uint8_t *)meta,
                                   strlen(meta)) == 0);
    int64_t start_us = g_get_monotonic_time();
    size_t by_rumor = 0, holding = 0;
    int64_t t = 0;
    sim_world_stats st;
    do {
        t += 10000;
        sim_world_run_until(w, t);
        sim_world_stats_get(w, &st);
    } while (st.pending > 0);
    all_hold(w, n, &by_rumor);
    int64_t rumor_done_us = t;

    /* ... which anti-entropy finds: every node joins with heartbeats
     * stopped (its first cycle, at once, is a swap with a random peer;
     * the next one an hour later). */
    for (size_t i = 0; i < n; i++) {
        g_assert(sim_world_join(w, i) == 0);
        g_assert(sim_world_stop(w, i) == 0);
    }
    while (!all_hold(w, n, &holding) && t < 4 * 3600 * SECOND_US) {
        t += t < rumor_done_us + SECOND_US ? 10000 : SECOND_US;
        sim_world_run_until(w, t);
    }
    double wall_s = seconds_since(start_us);
    sim_world_stats_get(w, &st);
    double rss = peak_rss_mib();
    printf("bench-world %zu: %zu nodes knowing all others (set() in "
           "%.1f s); the rumor reached %zu nodes in %.2f simulated s, swaps "
           "the rest: %zu/%zu hold it at %.2f simulated s; %.3f s wall, "
           "%" G_GUINT64_FORMAT " deliveries; peak RSS %.0f MiB "
           "(%.0f KiB per node)\n",
           n, n, setup_s, by_rumor, (double)rumor_done_us / 1e6, holding, n,
           (double)t / 1e6, wall_s, (guint64)st.deliveries, rss,
           (rss - rss_before) * 1024.0 / (double)n);
    sim_world_free(w);
}

int main(int argc, char **argv)
{
    static const char *const all[] = {"1000", "1000-net", "10000"};
    const char *const *cases = argc > 1 ? (const char *const *)argv + 1 : all;
    int n_cases = argc > 1 ? argc - 1 : (int)G_N_ELEMENTS(all);
    for (int i = 0; i < n_cases; i++) {
        if (strcmp(cases[i], "1000") == 0)
            bench_1000(false);
        else if (strcmp(cases[i], "1000-net") == 0)
            bench_1000(true);
        else if (strcmp(cases[i], "10000") == 0)
            bench_publish(10000);
        else if (strcmp(cases[i], "2000") == 0)
            bench_publish(2000);
        else {
            fprintf(stderr, "bench-world: unknown case '%s' "
                            "(1000, 1000-net, 10000, 2000)\n", cases[i]);
            return 2;
        }
    }
    return 0;
}
