/* test-explore.c: `peko explore`'s parts (run/explore.h): a seed draws
 * the same case every time, the checker finds a violation made by hand
 * and passes a healthy run, and the shrinker keeps only the faults a
 * failure needs. */
#include <criterion/criterion.h>
#include <string.h>

#include "explore.h"

static const run_explore_limits limits = {RUN_EXPLORE_NODES_MIN,
                                          RUN_EXPLORE_NODES_MAX};

static char *draw_text(uint64_t seed)
{
    run_explore_case c;
    GError *error = NULL;
    cr_assert(run_explore_case_draw(seed, &limits, &c, &error), "seed %lu: %s",
              (unsigned long)seed, error ? error->message : "");
    char *text = run_explore_case_to_ini(&c, NULL);
    run_explore_case_clear(&c);
    return text;
}

/* ------------------------------------------------------------------ */
/* Drawing.                                                             */

Test(explore, a_seed_draws_the_same_scenario_text_every_time)
{
    for (uint64_t seed = 1; seed <= 40; seed++) {
        char *a = draw_text(seed), *b = draw_text(seed);
        cr_assert_str_eq(a, b, "seed %lu", (unsigned long)seed);
        g_free(a);
        g_free(b);
    }
}

Test(explore, seeds_draw_different_cases_within_the_limits)
{
    GHashTable *texts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                              NULL);
    bool strategies[PEKO_DISSEMINATION_COUNT] = {false};
    size_t faults = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        run_explore_case c;
        cr_assert(run_explore_case_draw(seed, &limits, &c, NULL));
        cr_assert_geq(c.nodes, RUN_EXPLORE_NODES_MIN);
        cr_assert_leq(c.nodes, RUN_EXPLORE_NODES_MAX);
        cr_assert_gt(c.duration_us, c.heal_us);
        strategies[c.strategy] = true;
        faults += c.n_items;
        for (size_t i = 0; i < c.n_items; i++)
            cr_assert_leq(c.items[i].end_us, c.heal_us,
                          "seed %lu: an episode outlasts the heal point",
                          (unsigned long)seed);
        /* What runs is the text, and the text parses. */
        scn_scenario *sc = run_explore_case_scenario(&c, NULL);
        cr_assert_not_null(sc);
        cr_assert_eq(sc->cluster.nodes, c.nodes);
        cr_assert_geq(sc->cluster.duration_us - c.heal_us,
                      run_explore_quiet_us(sc),
                      "seed %lu: the quiet period is too short",
                      (unsigned long)seed);
        scn_scenario_free(sc);
        g_hash_table_add(texts, run_explore_case_to_ini(&c, NULL));
        run_explore_case_clear(&c);
    }
    cr_assert_eq(g_hash_table_size(texts), 60);
    for (int d = 0; d < PEKO_DISSEMINATION_COUNT; d++)
        cr_assert(strategies[d], "no case drew %s",
                  peko_dissemination_name((peko_dissemination)d));
    cr_assert_gt(faults, 60);
    g_hash_table_destroy(texts);
}

Test(explore, a_subset_keeps_only_the_items_flagged)
{
    run_explore_case c, sub;
    uint64_t seed = 1;
    do
        cr_assert(run_explore_case_draw(++seed, &limits, &c, NULL));
    while (c.n_items < 3 && (run_explore_case_clear(&c), true));
    bool *keep = g_new0(bool, c.n_items);
    keep[1] = true;
    run_explore_case_subset(&c, keep, &sub);
    cr_assert_eq(sub.n_items, 1);
    cr_assert_eq(sub.items[0].kind, c.items[1].kind);
    cr_assert_eq(sub.items[0].start_us, c.items[1].start_us);
    cr_assert_eq(sub.nodes, c.nodes);
    cr_assert_eq(sub.duration_us, c.duration_us);
    g_free(keep);
    run_explore_case_clear(&sub);
    run_explore_case_clear(&c);
}

/* ------------------------------------------------------------------ */
/* Checking.                                                            */

static scn_scenario *load(const char *text)
{
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_data(text, "test.ini", &error);
    cr_assert_not_null(sc, "%s", error ? error->message : "");
    return sc;
}

static void check(const char *text, run_explore_inject inject,
                  run_explore_verdict *v)
{
    scn_scenario *sc = load(text);
    run_explore_check_options opts = {.inject = inject};
    GError *error = NULL;
    cr_assert(run_explore_check(sc, &opts, v, &error), "%s",
              error ? error->message : "");
    scn_scenario_free(sc);
}

Test(explore, a_healthy_cluster_passes_every_invariant)
{
    run_explore_verdict v;
    check("[cluster]\nnodes = 16\nduration = 30s\nseed = 3\n"
          "heartbeat_sample = none\n"
          "[engine]\ndissemination = digest\ncycle = 200ms\n",
          RUN_XP_INJECT_NONE, &v);
    cr_assert_not(v.violated, "%s: %s", v.invariant, v.message);
    cr_assert(v.convergence, "%s", v.skipped ? v.skipped : "");
    cr_assert_eq(v.live, 16);
    run_explore_verdict_clear(&v);
}

/* A partition that never heals: after the quiet period each side lists
 * only itself, which the membership invariant must see. */
Test(explore, a_partition_left_in_place_violates_membership)
{
    run_explore_verdict v;
    check("[cluster]\nnodes = 8\nduration = 40s\nseed = 4\n"
          "heartbeat_sample = none\n"
          "[engine]\ndissemination = rumor\ncycle = 200ms\n"
          "[timeline]\ncut = 1s partition groups=0-3\n",
          RUN_XP_INJECT_NONE, &v);
    cr_assert(v.violated);
    cr_assert_str_eq(v.invariant, "membership");
    cr_assert_not_null(strstr(v.message, "missing live nodes"), "%s",
                       v.message);
    run_explore_verdict_clear(&v);
}

/* Stopped for good is not live: a node that stops and never starts must
 * be removed everywhere, and the check passes once it is. */
Test(explore, a_node_stopped_for_good_is_not_counted_live)
{
    run_explore_verdict v;
    check("[cluster]\nnodes = 8\nduration = 40s\nseed = 5\n"
          "heartbeat_sample = none\n"
          "[engine]\ndissemination = digest\ncycle = 200ms\n"
          "[timeline]\noff = 2s stop nodes=5\n",
          RUN_XP_INJECT_NONE, &v);
    cr_assert_not(v.violated, "%s: %s", v.invariant, v.message);
    cr_assert(v.convergence);
    cr_assert_eq(v.live, 7);
    run_explore_verdict_clear(&v);
}

/* Too short a quiet period checks nothing it cannot: convergence is
 * skipped and said so, not reported as a violation. */
Test(explore, convergence_is_not_checked_without_its_quiet_period)
{
    run_explore_verdict v;
    check("[cluster]\nnodes = 8\nduration = 3s\nseed = 6\n"
          "heartbeat_sample = none\n"
          "[engine]\ndissemination = rumor\ncycle = 200ms\n"
          "[timeline]\ncut = 1s partition groups=0-3\n",
          RUN_XP_INJECT_NONE, &v);
    cr_assert_not(v.violated, "%s: %s", v.invariant, v.message);
    cr_assert_not(v.convergence);
    cr_assert_not_null(v.skipped);
    run_explore_verdict_clear(&v);
}

Test(explore, a_check_is_deterministic)
{
    const char *text = "[cluster]\nnodes = 12\nduration = 20s\nseed = 7\n"
                       "heartbeat_sample = none\n"
                       "[engine]\ndissemination = rumor\ncycle = 250ms\n"
                       "secret_key = k\n"
                       "[network]\nloss = 5%\nduplicate = 2%\n"
                       "latency = uniform(1ms, 20ms)\n"
                       "[timeline]\nc = 2s crash nodes=3\n"
                       "r = 4s restart nodes=3\n";
    run_explore_verdict a, b;
    check(text, RUN_XP_INJECT_NONE, &a);
    check(text, RUN_XP_INJECT_NONE, &b);
    cr_assert_not(a.violated, "%s: %s", a.invariant, a.message);
    cr_assert_eq(a.trace_hash, b.trace_hash);
    cr_assert_eq(a.deliveries, b.deliveries);
    run_explore_verdict_clear(&a);
    run_explore_verdict_clear(&b);
}

/* A keyed cluster of 6 whose node 0 is every node's seed, with a pause
 * of 9 s in `timeline`: longer than a challenge's nonce lives
 * (docs/wire.md, "Freshness", rule 2). */
static void check_pause(int seed, const char *latency, const char *timeline,
                        run_explore_verdict *v)
{
    char *text = g_strdup_printf(
        "[cluster]\nnodes = 6\nduration = 45s\nseed = %d\nseeds = 1\n"
        "seed_mode = first\nheartbeat_sample = none\n"
        "[engine]\ndissemination = rumor\ncycle = 500ms\nsecret_key = k\n"
        "[network]\nlatency = %s\n"
        "[timeline]\n%s",
        seed, latency, timeline);
    check(text, RUN_XP_INJECT_NONE, v);
    g_free(text);
}

/* Explore seed 5338: a node paused from the start holds the hellos its
 * peers sent it and answers them when it resumes, 9 s later. Its echoes
 * are new, but answer challenges whose nonce is long dead, and their
 * receivers must refuse them (rule 2): that is the pause, not a fault of
 * the cluster, and the decode invariant must not count it. */
Test(explore, echoes_to_challenges_that_waited_out_a_pause_are_expected)
{
    run_explore_verdict v;
    check_pause(11, "5ms",
                "p = 0us pause nodes=0\nr = 9s resume nodes=0\n", &v);
    cr_assert_not(v.violated, "%s: %s", v.invariant, v.message);
    cr_assert_gt(v.replays, 0, "no echo waited out the pause");
    cr_assert(v.convergence, "%s", v.skipped ? v.skipped : "");
    run_explore_verdict_clear(&v);
}

/* The other way round: a node that joins, sends its hello and is paused
 * before the echo comes reads that echo 7 s late, and must refuse it. */
Test(explore, echoes_that_waited_out_the_challengers_pause_are_expected)
{
    run_explore_verdict v;
    check_pause(12, "20ms",
                "j = 2s join node=5\np = 2001ms pause nodes=5\n"
                "r = 9s resume nodes=5\n",
                &v);
    cr_assert_not(v.violated, "%s: %s", v.invariant, v.message);
    cr_assert_gt(v.replays, 0, "no echo waited out the pause");
    cr_assert(v.convergence, "%s", v.skipped ? v.skipped : "");
    run_explore_verdict_clear(&v);
}

/* ------------------------------------------------------------------ */
/* Shrinking.                                                           */

static void add(run_explore_case *c, run_explore_kind kind, int64_t start,
                int64_t end, const char *nodes, const char *value)
{
    c->items = g_renew(run_explore_item, c->items, c->n_items + 1);
    c->items[c->n_items++] = (run_explore_item){
        .kind = kind,
        .start_us = start,
        .end_us = end,
        .nodes = g_strdup(nodes),
        .value = g_strdup(value),
    };
}

/* A case of eight faults of which one, a crash, is what the (injected)
 * invariant objects to: the shrinker ends with that crash alone. */
Test(explore, the_shrinker_removes_the_faults_a_failure_does_not_need)
{
    run_explore_case c = {
        .seed = 11,
        .nodes = 12,
        .seeds = 1,
        .strategy = PEKO_DISSEMINATION_RUMOR,
        .amount = 3,
        .cycle_us = 200000,
        .size = 16384,
        .latency = g_strdup("2ms"),
        .heal_us = 6000000,
    };
    add(&c, RUN_XP_BASE_LOSS, 0, -1, NULL, "2%");
    add(&c, RUN_XP_PUBLISH, 500000, -1, "2", "40");
    add(&c, RUN_XP_PARTITION, 1000000, 3000000, "0-3", NULL);
    add(&c, RUN_XP_LOSS, 1500000, 2500000, NULL, "30%");
    add(&c, RUN_XP_PAUSE, 2000000, 3500000, "6", NULL);
    add(&c, RUN_XP_CRASH, 2500000, 4000000, "9", NULL);
    add(&c, RUN_XP_PUBLISH, 3000000, -1, "4", "12");
    add(&c, RUN_XP_LATENCY, 4000000, 5000000, NULL, "uniform(5ms, 50ms)");
    /* Room for every event while the quiet period is worked out, as the
     * drawer does. */
    c.duration_us = c.heal_us + 3600 * 1000000LL;
    GError *error = NULL;
    scn_scenario *sc = run_explore_case_scenario(&c, &error);
    cr_assert_not_null(sc, "%s", error ? error->message : "");
    c.duration_us = c.heal_us + run_explore_quiet_us(sc);
    scn_scenario_free(sc);

    run_explore_check_options opts = {.inject = RUN_XP_INJECT_CRASH};
    run_explore_case out;
    run_explore_verdict v;
    run_explore_shrink_stats stats;
    cr_assert(run_explore_shrink(&c, "injected", &opts, 100, &out, &v, &stats,
                                 &error),
              "%s", error ? error->message : "");
    cr_assert_eq(stats.items_before, 8);
    cr_assert_eq(out.n_items, 1);
    cr_assert_eq(out.items[0].kind, RUN_XP_CRASH);
    cr_assert_str_eq(out.items[0].nodes, "9");
    cr_assert_not(stats.exhausted);
    cr_assert_str_eq(v.invariant, "injected");
    /* The shrunk case still fails when run as its own text. */
    sc = run_explore_case_scenario(&out, NULL);
    run_explore_verdict again;
    cr_assert(run_explore_check(sc, &opts, &again, NULL));
    cr_assert(again.violated);
    scn_scenario_free(sc);
    run_explore_verdict_clear(&again);
    run_explore_verdict_clear(&v);
    run_explore_case_clear(&out);
    run_explore_case_clear(&c);
}

/* A case that does not fail is refused, not "shrunk". */
Test(explore, the_shrinker_refuses_a_case_that_passes)
{
    run_explore_case c = {
        .seed = 12,
        .nodes = 8,
        .seeds = 1,
        .strategy = PEKO_DISSEMINATION_DIGEST,
        .amount = 3,
        .cycle_us = 200000,
        .size = 16384,
        .latency = g_strdup("2ms"),
        .heal_us = 2000000,
    };
    add(&c, RUN_XP_PUBLISH, 500000, -1, "2", "40");
    c.duration_us = c.heal_us + 3600 * 1000000LL;
    scn_scenario *sc = run_explore_case_scenario(&c, NULL);
    cr_assert_not_null(sc);
    c.duration_us = c.heal_us + run_explore_quiet_us(sc);
    scn_scenario_free(sc);
    run_explore_check_options opts = {.inject = RUN_XP_INJECT_CRASH};
    run_explore_case out;
    run_explore_verdict v;
    run_explore_shrink_stats stats;
    GError *error = NULL;
    cr_assert_not(run_explore_shrink(&c, "injected", &opts, 100, &out, &v,
                                     &stats, &error));
    cr_assert_not_null(error);
    g_error_free(error);
    run_explore_case_clear(&c);
}
