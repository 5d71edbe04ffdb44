/* test-scenario.c: the scenario format and its parser (scenarios/).
 *
 * Every shipped scenario loads; each kind of mistake gives a message that
 * names the file, group and key; units, selectors, distributions, the
 * timeline, sweeps and overrides behave as docs/scenarios.md says; and
 * hostile input is refused with a message, never a crash. Statistical
 * checks use fixed uniform sequences, so they cannot flake. */
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "scenario.h"

TestSuite(scenario, .timeout = 120);

#define BASE "[cluster]\nnodes = 32\nduration = 60s\n"

static scn_scenario *load(const char *text)
{
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_data(text, "t.ini", &error);
    cr_assert_not_null(sc, "load failed: %s", error ? error->message : "?");
    return sc;
}

/* Loading `text` fails, and the message holds `a` and (if not NULL) `b`. */
static void expect_error(const char *text, const char *a, const char *b)
{
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_data(text, "t.ini", &error);
    cr_assert_null(sc, "loaded, expected an error containing '%s'", a);
    cr_assert_not_null(error);
    cr_assert(error->domain == SCN_ERROR);
    cr_assert(strstr(error->message, a) != NULL, "'%s' not in '%s'", a,
              error->message);
    if (b != NULL)
        cr_assert(strstr(error->message, b) != NULL, "'%s' not in '%s'", b,
                  error->message);
    g_error_free(error);
}

/* splitmix64 as a fixed source of uniforms in [0, 1). */
static double uniform01(uint64_t *state)
{
    return (double)(model_splitmix64(state) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------ */
/* Shipped scenarios.                                                   */

Test(scenario, every_shipped_scenario_loads)
{
    static const char *const names[] = {
        "quickstart", "fanout", "lossy", "partition-heal", "churn",
        "late-join", "skew", "bench-1000",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *path = g_strdup_printf("%s/scenarios/%s.ini", PEKO_SOURCE_ROOT,
                                     names[i]);
        GError *error = NULL;
        scn_scenario *sc = scn_scenario_load_file(path, &error);
        cr_assert_not_null(sc, "%s: %s", path, error ? error->message : "");
        char *json = scn_scenario_to_json(sc);
        cr_assert(g_str_has_prefix(json, "{\"scenario\":"));
        g_free(json);
        scn_scenario_free(sc);
        g_free(path);
    }
}

Test(scenario, shipped_scenarios_say_what_the_issue_asks)
{
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_file(
        PEKO_SOURCE_ROOT "/scenarios/bench-1000.ini", &error);
    cr_assert_not_null(sc);
    cr_assert_eq(sc->cluster.nodes, 1000);
    cr_assert_eq(sc->cluster.duration_us, 60000000);
    cr_assert_eq(sc->engine.amount, 3);
    cr_assert_eq(sc->engine.cycle_us, 6000000);  /* "Cycle = 6": seconds */
    cr_assert_null(sc->engine.secret_key);
    scn_scenario_free(sc);

    sc = scn_scenario_load_file(PEKO_SOURCE_ROOT "/scenarios/fanout.ini",
                                &error);
    cr_assert_not_null(sc);
    cr_assert_eq(sc->cluster.nodes, 1000);
    cr_assert_eq(sc->sweep.n_axes, 1);
    cr_assert_str_eq(sc->sweep.axes[0].key, "engine.amount");
    cr_assert_eq(sc->sweep.combinations, 6);
    cr_assert_eq(sc->sweep.repetitions, 10);
    scn_scenario_free(sc);

    sc = scn_scenario_load_file(PEKO_SOURCE_ROOT "/scenarios/late-join.ini",
                                &error);
    cr_assert_not_null(sc);
    cr_assert_eq(scn_scenario_start_us(sc, 32), -1);  /* joins by event */
    cr_assert_eq(sc->cluster.late.count, 1);
    scn_scenario_free(sc);
}

Test(scenario, heartbeat_every_thins_the_traced_heartbeats)
{
    scn_scenario *sc = load(BASE);
    cr_assert_eq(sc->cluster.heartbeat_every, 1); /* every heartbeat */
    scn_scenario_free(sc);
    sc = load(BASE "heartbeat_every = 10\n");
    cr_assert_eq(sc->cluster.heartbeat_every, 10);
    char *json = scn_scenario_to_json(sc);
    cr_assert_not_null(strstr(json, "\"heartbeat_every\":10"), "%s", json);
    g_free(json);
    scn_scenario_free(sc);
}

Test(scenario, missing_file_names_the_path)
{
    GError *error = NULL;
    cr_assert_null(scn_scenario_load_file("/nonexistent/x.ini", &error));
    cr_assert_eq(error->code, SCN_ERROR_IO);
    cr_assert(strstr(error->message, "/nonexistent/x.ini") != NULL);
    g_error_free(error);
}

/* ------------------------------------------------------------------ */
/* Error messages: file, group, key, what was expected.                 */

Test(scenario, bad_latency_says_what_was_expected)
{
    expect_error(BASE "[network]\nlatency = fast\n",
                 "t.ini: [network] latency: expected a duration like 20ms "
                 "or a distribution like normal(mean=20ms, sd=5ms), got "
                 "'fast'", NULL);
}

Test(scenario, unknown_group_and_key_are_errors)
{
    expect_error(BASE "[netwrok]\nlatency = 5ms\n",
                 "t.ini: [netwrok]: unknown group", "did you mean 'network'");
    expect_error(BASE "[engine]\nfanuot = 3\n",
                 "t.ini: [engine] fanuot: unknown key",
                 "did you mean 'fanout'");
    expect_error(BASE "colour = blue\n", "[cluster] colour: unknown key",
                 NULL);
    expect_error(BASE "[regions]\nnames = a\nlatncy.a.a = 1ms\n",
                 "[regions] latncy.a.a: unknown key", NULL);
    expect_error(BASE "[clock]\nskw = 1ms\n", "[clock] skw: unknown key",
                 NULL);
}

Test(scenario, a_key_or_group_given_twice_is_an_error)
{
    expect_error(BASE "[engine]\namount = 3\namount = 4\n",
                 "t.ini: line 6: [engine] amount is given twice",
                 "first on line 5");
    expect_error(BASE "[engine]\namount = 3\n[engine]\ncycle = 1s\n",
                 "line 6: [engine] appears twice", NULL);
    expect_error(BASE "[engine]\namount = 3\nAmount = 4\n",
                 "[engine] Amount: the same setting as amount", NULL);
    expect_error(BASE "protocol = tcp\n[engine]\nprotocol = udp\n",
                 "[engine] protocol: disagrees with [cluster] protocol",
                 NULL);
}

Test(scenario, required_keys_are_named)
{
    expect_error("[cluster]\nduration = 60s\n",
                 "t.ini: [cluster] nodes: missing", "nodes = 32");
    expect_error("[cluster]\nnodes = 3\n", "[cluster] duration: missing",
                 NULL);
    expect_error(BASE "[regions]\nassign = blocks\n",
                 "[regions] names: missing", NULL);
}

Test(scenario, syntax_errors_give_the_line)
{
    expect_error("nodes = 3\n", "t.ini: line 1: 'nodes' comes before any",
                 NULL);
    expect_error(BASE "just words\n", "line 4: expected 'key = value'",
                 NULL);
    expect_error(BASE "amount[de] = 3\n", "line 4:",
                 "localized keys are not supported");
    expect_error(BASE "[engine\n", "line 4: expected a group header", NULL);
    expect_error(BASE "= 3\n", "a value without a key", NULL);
}

Test(scenario, an_inline_comment_is_explained)
{
    expect_error(BASE "[engine]\namount = 3 # fan-out\n",
                 "[engine] amount: expected an integer from 1 to 1024, got "
                 "'3 # fan-out'", "comments go on a line of their own");
}

Test(scenario, values_out_of_range_are_errors)
{
    expect_error(BASE "[engine]\namount = 0\n",
                 "[engine] amount: expected an integer from 1 to 1024", NULL);
    expect_error(BASE "[network]\nloss = 150%\n",
                 "[network] loss: expected a rate like 1%", NULL);
    expect_error(BASE "[network]\nduplicate = 1.5\n",
                 "[network] duplicate: expected a rate like 5% or 0.05 (from "
                 "0 to 1), got '1.5'", NULL);
    expect_error(BASE "[network]\nbandwidth = 10MB\n",
                 "[network] bandwidth: expected a bandwidth like 10Mbit",
                 NULL);
    expect_error(BASE "seeds = 40\n",
                 "[cluster] seeds: expected an integer from 0 to 31", NULL);
    expect_error(BASE "stagger = 2min\n",
                 "[cluster] stagger: the start window is longer", NULL);
    expect_error(BASE "heartbeat_every = 0\n",
                 "[cluster] heartbeat_every: expected an integer from 1 to "
                 "1000000", NULL);
    expect_error(BASE "[engine]\nsize = 100KiB\n",
                 "[engine]: the engine refuses this configuration: size: "
                 "102400 bytes is above the largest UDP payload",
                 "65507");
    expect_error(BASE "[engine]\nsize = 16B\n",
                 "[engine] size: expected a size from 132 bytes to 64MiB, "
                 "got '16B'", NULL);
    expect_error(BASE "[engine]\ncycle = 10us\n",
                 "[engine] cycle: expected a duration from 1ms to 1 day",
                 NULL);
    expect_error(BASE "[engine]\nexchanges = 17\n",
                 "[engine] exchanges: expected an integer from 1 to 16",
                 NULL);
    expect_error(BASE "[engine]\naccepted_keys = old\n",
                 "[engine] accepted_keys: needs a secret_key", NULL);
    expect_error(BASE "[engine]\nlisten_addr = localhost\n",
                 "[engine] listen_addr: expected a numeric IPv4", NULL);
    expect_error(BASE "[engine]\ndissemination = flood\n",
                 "[engine] dissemination: expected rumor or classic or "
                 "digest, got 'flood'", NULL);
}

Test(scenario, distribution_parameters_are_checked)
{
    expect_error(BASE "[network]\nlatency = normal(mean=20ms)\n",
                 "[network] latency: normal: sd is missing", NULL);
    expect_error(BASE "[network]\nlatency = normal(mean=20ms, sd=fast)\n",
                 "[network] latency: normal: sd: expected a duration", NULL);
    expect_error(BASE "[network]\nlatency = gamma(2, 3)\n",
                 "unknown distribution 'gamma'", NULL);
    expect_error(BASE "[network]\nlatency = uniform(30ms, 10ms)\n",
                 "uniform: min is larger than max", NULL);
    expect_error(BASE "[network]\nlatency = uniform(-5ms, 10ms)\n",
                 "uniform: min: expected a duration of at least 0", NULL);
    expect_error(BASE "[network]\nlatency = normal(mean=2ms, sd=1ms, k=2)\n",
                 "normal: unknown parameter 'k'", NULL);
    expect_error(BASE "[network]\nlatency = pareto(scale=1ms, shape=0)\n",
                 "pareto: shape must be from 0.01 to 1000", NULL);
    expect_error(BASE "[network]\nlatency = lognormal(median=1ms, mean=2ms,"
                      " sigma=1)\n",
                 "give exactly one of median and mean", NULL);
    expect_error(BASE "[network]\nloss = gilbert_elliott(p_good_to_bad=1%)\n",
                 "p_good_to_bad and p_bad_to_good are required", NULL);
}

/* ------------------------------------------------------------------ */
/* Timeline errors.                                                     */

Test(scenario, timeline_errors_name_the_event)
{
    expect_error(BASE "[timeline]\nboom = 10s crash node=40\n",
                 "t.ini: [timeline] boom: crash: node=40: node 40 is out of "
                 "range (the cluster has 32 nodes, 0-31)", NULL);
    expect_error(BASE "[timeline]\nlate = 90s publish node=1 data=x\n",
                 "[timeline] late: time 90s is beyond the duration (60s)",
                 NULL);
    expect_error(BASE "[timeline]\ne1 = 10s explode node=1\n",
                 "[timeline] e1: unknown action 'explode'", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s crash nod=1\n",
                 "[timeline] e1: crash: unknown argument 'nod'", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s crash\n",
                 "[timeline] e1: crash: node= is missing", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s publish node=1\n",
                 "publish: give data=TEXT or size=SIZE", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s publish node=1 size=1MiB\n",
                 "the payload is 1048576 bytes; expected 1 to 16384", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s crash node=0%\n",
                 "crash: node=0% selects no nodes", NULL);
    expect_error(BASE "[timeline]\ne1 = soon crash node=1\n",
                 "[timeline] e1: time: expected a duration", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s crash node=1 node=2\n",
                 "node is given twice", NULL);
    expect_error(BASE "[timeline]\ne1 = 10s publish node=1 data=\"open\n",
                 "[timeline] e1: unbalanced quotes", NULL);
}

Test(scenario, timeline_consistency_is_checked)
{
    expect_error(BASE "[timeline]\nmend = 10s heal\n",
                 "[timeline] mend: heal: no partition is in effect at 10s",
                 NULL);
    expect_error(BASE "[timeline]\ncut = 5s partition groups=0-9|10-31\n"
                      "mend = 10s heal name=other\n",
                 "no partition named 'other' is in effect at 10s", NULL);
    expect_error(BASE "[timeline]\ncut = 5s partition groups=0-9|10-31\n"
                      "again = 8s partition groups=0-3 name=cut\n",
                 "partition 'cut' is already in effect", NULL);
    expect_error(BASE "[timeline]\ncut = 5s partition groups=0-9|5-31\n",
                 "node 5 is in two groups", NULL);
    expect_error(BASE "[timeline]\ncut = 5s partition groups=all\n",
                 "cuts nothing", NULL);
    expect_error(BASE "[timeline]\ncut = 5s partition from=0-9 to=5\n",
                 "node 5 is in both from and to", NULL);
    expect_error(BASE "[timeline]\nj = 20s join node=31\n"
                      "p = 10s publish node=31 data=x\n",
                 "[timeline] p: publish: node 31 has not joined yet at 10s "
                 "(it joins at 20s, in j)", NULL);
    expect_error(BASE "[timeline]\nj1 = 20s join node=30-31\n"
                      "j2 = 30s join node=31\n",
                 "[timeline] j2: join: node 31 already joins in j1", NULL);
}

Test(scenario, a_late_node_may_act_after_its_join_even_at_the_same_time)
{
    scn_scenario *sc = load(BASE "[timeline]\nj = 20s join node=31\n"
                                 "p = 20s publish node=31 data=x\n");
    cr_assert_eq(sc->n_events, 2);
    cr_assert_str_eq(sc->events[0].label, "j");
    scn_scenario_free(sc);
    expect_error(BASE "[timeline]\np = 20s publish node=31 data=x\n"
                      "j = 20s join node=31\n",
                 "node 31 has not joined yet", NULL);
}

/* ------------------------------------------------------------------ */
/* Units.                                                               */

Test(scenario, durations_parse_exactly)
{
    static const struct {
        const char *text;
        int64_t us;
    } ok[] = {
        {"250ms", 250000}, {"1.5s", 1500000}, {"2min", 120000000},
        {"1h", 3600000000LL}, {"0", 0}, {"0.1s", 100000}, {" 20 ms ", 20000},
        {"7us", 7}, {"0.000001s", 1}, {"1.250s", 1250000},
        {"365d", -1},  /* not a unit: refused below */
    };
    for (size_t i = 0; i + 1 < G_N_ELEMENTS(ok); i++) {
        int64_t us = -1;
        GError *error = NULL;
        cr_assert(scn_parse_duration(ok[i].text, FALSE, &us, &error),
                  "%s: %s", ok[i].text, error ? error->message : "");
        cr_assert_eq(us, ok[i].us, "%s: %lld", ok[i].text, (long long)us);
    }
    int64_t us = 0;
    cr_assert(scn_parse_duration("-250ms", TRUE, &us, NULL));
    cr_assert_eq(us, -250000);

    static const char *const bad[] = {
        "20", "-5s", "1e3s", "nan", "inf", "1.0000001ms", "0.5us", "",
        "99999999999999999999s", "366h * 24", "5 s s", "5sec", "0x10s",
        "9999999h", "1..2s", ".5s", "5.s", "+-5s",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *error = NULL;
        us = 42;
        cr_assert(!scn_parse_duration(bad[i], FALSE, &us, &error), "%s",
                  bad[i]);
        cr_assert_not_null(error);
        cr_assert_eq(us, 42, "%s changed the output", bad[i]);
        g_error_free(error);
    }
}

Test(scenario, sizes_rates_and_bandwidths_parse)
{
    uint64_t bytes;
    cr_assert(scn_parse_size("16384", &bytes, NULL) && bytes == 16384);
    cr_assert(scn_parse_size("16KiB", &bytes, NULL) && bytes == 16384);
    cr_assert(scn_parse_size("1.5MiB", &bytes, NULL) && bytes == 1572864);
    cr_assert(scn_parse_size("1 GiB", &bytes, NULL) && bytes == 1073741824);
    cr_assert(scn_parse_size("12B", &bytes, NULL) && bytes == 12);
    cr_assert(!scn_parse_size("1KB", &bytes, NULL));
    cr_assert(!scn_parse_size("-1", &bytes, NULL));
    cr_assert(!scn_parse_size("0.5B", &bytes, NULL));

    double rate;
    cr_assert(scn_parse_rate("5%", &rate, NULL) && fabs(rate - 0.05) < 1e-15);
    cr_assert(scn_parse_rate("0.05", &rate, NULL) && rate == 0.05);
    cr_assert(scn_parse_rate("100%", &rate, NULL) && rate == 1.0);
    cr_assert(scn_parse_rate("0", &rate, NULL) && rate == 0.0);
    static const char *const bad_rates[] = {"101%", "1.5", "-0.1", "nan",
                                            "", "5 %%", "1e-3", "inf"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad_rates); i++)
        cr_assert(!scn_parse_rate(bad_rates[i], &rate, NULL), "%s",
                  bad_rates[i]);

    int64_t bps;
    cr_assert(scn_parse_bandwidth("10Mbit", &bps, NULL) && bps == 10000000);
    cr_assert(scn_parse_bandwidth("1.5Gbit/s", &bps, NULL) &&
              bps == 1500000000);
    cr_assert(scn_parse_bandwidth("800kbps", &bps, NULL) && bps == 800000);
    cr_assert(scn_parse_bandwidth("56000 bit/s", &bps, NULL) && bps == 56000);
    cr_assert(scn_parse_bandwidth("unlimited", &bps, NULL) && bps == 0);
    cr_assert(!scn_parse_bandwidth("10", &bps, NULL));
    cr_assert(!scn_parse_bandwidth("10MB", &bps, NULL));
    cr_assert(!scn_parse_bandwidth("5000Gbit", &bps, NULL));
}

Test(scenario, pekonode_spellings_take_pekonode_units)
{
    scn_scenario *sc = load(BASE "[engine]\nCycle = 2\nTimeout = 9\n"
                                 "Amount = 4\nSize = 8192\nIsPrint = true\n"
                                 "SecretKey = \" s3cret \"\nProtocol = TCP\n");
    cr_assert_eq(sc->engine.cycle_us, 2000000);
    cr_assert_eq(sc->engine.timeout_us, 9000000);
    cr_assert_eq(sc->engine.amount, 4);
    cr_assert_eq(sc->engine.size, 8192);
    cr_assert(sc->engine.is_print);
    cr_assert_str_eq(sc->engine.secret_key, " s3cret ");
    cr_assert_eq(sc->engine.protocol, PEKO_PROTOCOL_TCP);
    scn_scenario_free(sc);
    sc = load(BASE "[engine]\nsecret_key = new\naccepted_keys = old, "
                   "\"older, with a comma\"\n");
    cr_assert_str_eq(sc->engine.secret_key, "new");
    cr_assert_eq(sc->engine.accepted_key_count, 2);
    cr_assert_str_eq(sc->engine.accepted_keys[1], "older, with a comma");
    scn_scenario_free(sc);
    /* Our own spellings want units. */
    expect_error(BASE "[engine]\ncycle = 2\n",
                 "[engine] cycle: expected a duration", "needs a unit");
}

/* ------------------------------------------------------------------ */
/* Selectors.                                                           */

Test(scenario, selectors_resolve_to_sorted_ranges)
{
    scn_scenario *sc = load(BASE "[timeline]\n"
                                 "a = 1s crash node=7,1,4,2-3\n"
                                 "b = 2s crash nodes=all\n"
                                 "c = 3s crash nodes=30-31,0\n");
    const scn_nodes *a = &sc->events[0].nodes;
    cr_assert_eq(a->count, 5);
    cr_assert_eq(a->n_ranges, 2);  /* 1-4 merged, then 7 */
    cr_assert_eq(a->ranges[0].first, 1);
    cr_assert_eq(a->ranges[0].last, 4);
    cr_assert_eq(a->ranges[1].first, 7);
    cr_assert(scn_nodes_contains(a, 3) && !scn_nodes_contains(a, 5));
    cr_assert_eq(sc->events[1].nodes.count, 32);
    cr_assert_eq(sc->events[1].nodes.n_ranges, 1);
    cr_assert_eq(sc->events[2].nodes.ranges[0].first, 0);
    cr_assert_str_eq(sc->events[2].nodes.text, "30-31,0");
    scn_scenario_free(sc);
    expect_error(BASE "[timeline]\na = 1s crash node=9-3\n",
                 "range 9-3 is reversed", NULL);
    expect_error(BASE "[timeline]\na = 1s crash node=eu\n",
                 "the scenario has no regions", NULL);
}

static void fraction_of(uint64_t seed, const char *sel, scn_nodes *out)
{
    char *text = g_strdup_printf(
        "[cluster]\nnodes = 100\nduration = 60s\nseed = %llu\n[timeline]\n"
        "a = 1s crash node=%s\n", (unsigned long long)seed, sel);
    scn_scenario *sc = load(text);
    g_free(text);
    out->count = sc->events[0].nodes.count;
    out->n_ranges = sc->events[0].nodes.n_ranges;
    out->ranges = g_memdup2(sc->events[0].nodes.ranges,
                            out->n_ranges * sizeof(scn_range));
    out->text = NULL;
    scn_scenario_free(sc);
}

static bool same_nodes(const scn_nodes *a, const scn_nodes *b)
{
    return a->n_ranges == b->n_ranges &&
           memcmp(a->ranges, b->ranges, a->n_ranges * sizeof(scn_range)) == 0;
}

Test(scenario, fractions_are_chosen_from_the_seed_and_the_text)
{
    scn_nodes a, b, c, d;
    fraction_of(1, "10%", &a);
    fraction_of(1, "10%", &b);
    fraction_of(1, "10%:other", &c);
    fraction_of(2, "10%", &d);
    cr_assert_eq(a.count, 10);
    cr_assert(same_nodes(&a, &b), "same seed and text, same nodes");
    cr_assert(!same_nodes(&a, &c), "a tag gives another draw");
    cr_assert(!same_nodes(&a, &d), "another seed gives another draw");
    g_free(a.ranges);
    g_free(b.ranges);
    g_free(c.ranges);
    g_free(d.ranges);

    /* A small non-zero fraction selects at least one node. */
    fraction_of(1, "0.1%", &a);
    cr_assert_eq(a.count, 1);
    g_free(a.ranges);
    fraction_of(1, "100%", &a);
    cr_assert_eq(a.count, 100);
    cr_assert_eq(a.n_ranges, 1);
    g_free(a.ranges);
}

Test(scenario, fraction_draws_are_pinned)
{
    /* Recorded runs replay only if these draws never change. */
    scn_nodes a;
    fraction_of(1, "5%", &a);
    cr_assert_eq(a.count, 5);
    uint32_t got[5];
    size_t k = 0;
    for (size_t r = 0; r < a.n_ranges; r++)
        for (uint32_t n = a.ranges[r].first; n <= a.ranges[r].last; n++)
            got[k++] = n;
    static const uint32_t want[5] = {0, 5, 7, 45, 95};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(got[i], want[i], "node %zu: %u, pinned %u", i, got[i],
                     want[i]);
    g_free(a.ranges);
}

Test(scenario, regions_assign_and_select_nodes)
{
    scn_scenario *sc = load(BASE "[regions]\nnames = eu, us, ap\n"
                                 "latency.eu.us = 80ms\n"
                                 "latency.us.eu = 90ms\n"
                                 "latency.eu.ap = 150ms\n"
                                 "[timeline]\na = 1s crash node=us\n");
    cr_assert_eq(sc->regions.assign, SCN_ASSIGN_ROUND_ROBIN);
    cr_assert_eq(scn_scenario_region_of(sc, 4), 1);  /* 4 % 3 */
    cr_assert_eq(sc->events[0].nodes.count, 11);     /* 1, 4, ..., 31 */
    cr_assert(scn_nodes_contains(&sc->events[0].nodes, 31));
    /* eu = 0, us = 1, ap = 2. Given pairs as written, reverse filled in. */
    cr_assert_eq(scn_scenario_latency(sc, 0, 1)->value, 80000);
    cr_assert_eq(scn_scenario_latency(sc, 1, 0)->value, 90000);
    cr_assert_eq(scn_scenario_latency(sc, 2, 0)->value, 150000);
    cr_assert_eq(scn_scenario_latency(sc, 1, 2), &sc->network.latency_us);
    scn_scenario_free(sc);

    sc = load(BASE "[regions]\nnames = a, b\nassign = blocks\n");
    cr_assert_eq(scn_scenario_region_of(sc, 15), 0);
    cr_assert_eq(scn_scenario_region_of(sc, 16), 1);
    cr_assert_eq(sc->regions.regions[1].members.ranges[0].first, 16);
    scn_scenario_free(sc);

    sc = load(BASE "[regions]\nnames = a, b\nmembers.a = 0-9,20-31\n"
                   "members.b = 10-19\n");
    cr_assert_eq(sc->regions.assign, SCN_ASSIGN_EXPLICIT);
    cr_assert_eq(scn_scenario_region_of(sc, 25), 0);
    cr_assert_eq(scn_scenario_region_of(sc, 12), 1);
    scn_scenario_free(sc);

    expect_error(BASE "[regions]\nnames = a, b\nmembers.a = 0-9\n"
                      "members.b = 9-31\n",
                 "[regions]: node 9 is in both a and b", NULL);
    expect_error(BASE "[regions]\nnames = a, b\nmembers.a = 0-9\n"
                      "members.b = 11-31\n",
                 "[regions]: node 10 is in no region", NULL);
    expect_error(BASE "[regions]\nnames = a, b\nlatency.a.c = 1ms\n",
                 "[regions] latency.a.c: unknown region 'c'", NULL);
    expect_error(BASE "[regions]\nnames = a, a\n", "named twice", NULL);
    expect_error(BASE "[regions]\nnames = a\n[timeline]\nx = 1s crash "
                      "node=b\n",
                 "unknown region 'b' (regions: a)", NULL);
}

Test(scenario, seeds_are_first_or_random_and_never_self)
{
    scn_scenario *sc = load(BASE "seeds = 3\n");
    uint32_t s[8];
    cr_assert_eq(scn_scenario_seeds(sc, 10, s, 8), 3);
    cr_assert(s[0] == 0 && s[1] == 1 && s[2] == 2);
    cr_assert_eq(scn_scenario_seeds(sc, 1, s, 8), 3);
    cr_assert(s[0] == 0 && s[1] == 2 && s[2] == 3);
    scn_scenario_free(sc);

    sc = load(BASE "seeds = 5\nseed_mode = random\n");
    for (uint32_t node = 0; node < 32; node++) {
        uint32_t t[8];
        cr_assert_eq(scn_scenario_seeds(sc, node, s, 8), 5);
        scn_scenario_seeds(sc, node, t, 8);
        cr_assert(memcmp(s, t, sizeof s[0] * 5) == 0, "deterministic");
        for (int i = 0; i < 5; i++) {
            cr_assert_neq(s[i], node);
            cr_assert_lt(s[i], 32);
            if (i > 0)
                cr_assert_lt(s[i - 1], s[i], "sorted and distinct");
        }
    }
    scn_scenario_free(sc);
}

Test(scenario, start_times_follow_the_stagger)
{
    scn_scenario *sc = load(BASE "stagger = 3s\n[timeline]\n"
                                 "j = 10s join node=31\n");
    cr_assert_eq(scn_scenario_start_us(sc, 0), 0);
    cr_assert_eq(scn_scenario_start_us(sc, 16), 1500000);
    cr_assert_eq(scn_scenario_start_us(sc, 30), 30 * 3000000LL / 32);
    cr_assert_eq(scn_scenario_start_us(sc, 31), -1);
    scn_scenario_free(sc);
}

/* ------------------------------------------------------------------ */
/* Distributions.                                                       */

static void parse_dist_in(const char *spec, model_dist *out)
{
    char *text = g_strdup_printf(BASE "[network]\nlatency = %s\n", spec);
    scn_scenario *sc = load(text);
    g_free(text);
    *out = sc->network.latency_us;
    scn_scenario_free(sc);
}

Test(scenario, distributions_parse)
{
    /* Straight into model.h's values, bounded by the key's limits. */
    model_dist d;
    parse_dist_in("20ms", &d);
    cr_assert_eq(d.kind, MODEL_DIST_CONSTANT);
    cr_assert_eq(d.value, 20000);
    cr_assert(d.lo == 0 && d.hi == (double)SCN_DURATION_MAX_US);
    cr_assert_eq(model_dist_check(&d), 0);
    parse_dist_in("uniform(10ms, 30ms)", &d);
    cr_assert(d.kind == MODEL_DIST_UNIFORM && d.min == 10000 &&
              d.max == 30000);
    parse_dist_in("normal(mean=20ms, sd=5ms)", &d);
    cr_assert(d.kind == MODEL_DIST_NORMAL && d.mean == 20000 &&
              d.sd == 5000);
    cr_assert_eq(d.lo, 0, "latencies are conditioned on x >= 0");
    parse_dist_in("normal(20ms, 5ms)", &d);
    cr_assert(d.mean == 20000 && d.sd == 5000);
    parse_dist_in("lognormal(median=10ms, sigma=0.5)", &d);
    cr_assert(d.kind == MODEL_DIST_LOGNORMAL && d.median == 10000 &&
              d.sigma == 0.5);
    parse_dist_in("lognormal(mean=10ms, sigma=0.5)", &d);
    cr_assert(fabs(d.median * exp(0.125) - 10000) < 1e-6);
    parse_dist_in("pareto(scale=5ms, shape=2.5, cap=1s)", &d);
    cr_assert(d.kind == MODEL_DIST_PARETO && d.scale == 5000 &&
              d.shape == 2.5 && d.hi == 1000000);
    parse_dist_in("constant(7ms)", &d);
    cr_assert_eq(d.value, 7000);
    /* A cap lowers the key's limit, never raises it. */
    scn_scenario *sc = load(BASE "[clock]\n"
                                 "drift_ppm = normal(0, 20, cap=500000)\n");
    cr_assert_eq(sc->clock.drift_ppm.hi, SCN_DRIFT_MAX_PPM);
    cr_assert_eq(sc->clock.drift_ppm.lo, -SCN_DRIFT_MAX_PPM);
    scn_scenario_free(sc);
}

Test(scenario, parsed_laws_have_the_configured_means)
{
    static const struct {
        const char *spec;
        double configured;  /* the mean as written */
    } cases[] = {
        {"uniform(10ms, 30ms)", 20000},
        {"normal(mean=20ms, sd=5ms)", 20000},
        {"lognormal(mean=10ms, sigma=0.5)", 10000},
        {"lognormal(median=10ms, sigma=0.3)", 10000 * 1.0460278599087169},
        {"pareto(scale=5ms, shape=3)", 7500},
        {"constant(3ms)", 3000},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        model_dist d;
        parse_dist_in(cases[i].spec, &d);
        double exact = model_dist_mean(&d);
        cr_assert(fabs(exact - cases[i].configured) <
                      0.001 * cases[i].configured,
                  "%s: model_dist_mean %g, configured %g", cases[i].spec,
                  exact, cases[i].configured);
    }
}

Test(scenario, clock_offsets_and_drift)
{
    scn_scenario *sc = load(BASE "[clock]\nskew = uniform(-500ms, 500ms)\n"
                                 "drift_ppm = normal(mean=0, sd=20)\n"
                                 "skew.3 = 2s\nskew.0-9 = -1s\n"
                                 "drift_ppm.5 = 100\n");
    int64_t offset;
    double drift;
    /* Node 20: skew, then drift, each model_dist_sample() of the stream. */
    model_stream st, copy;
    model_node_stream(&st, 1, MODEL_STREAM_CLOCK, 20);
    copy = st;
    scn_scenario_clock(sc, 20, &st, &offset, &drift);
    cr_assert_eq(offset, model_dist_sample_us(&sc->clock.skew_us, &copy));
    cr_assert_eq(drift, model_dist_sample(&sc->clock.drift_ppm, &copy));
    cr_assert_eq(memcmp(&st, &copy, sizeof st), 0);
    cr_assert(offset >= -500000 && offset <= 500000 && offset != 0);
    cr_assert(drift != 0 && fabs(drift) < 200);
    model_node_stream(&st, 1, MODEL_STREAM_CLOCK, 3);
    scn_scenario_clock(sc, 3, &st, &offset, &drift);
    cr_assert_eq(offset, -1000000, "later entries win");
    model_node_stream(&st, 1, MODEL_STREAM_CLOCK, 5);
    scn_scenario_clock(sc, 5, &st, &offset, &drift);
    cr_assert_eq(drift, 100);
    cr_assert_eq(sc->clock.skew_us.lo < 0, true, "skews may be negative");
    scn_scenario_free(sc);
    expect_error(BASE "[clock]\ndrift_ppm.3 = 200000\n",
                 "[clock] drift_ppm.3: expected a drift from -100000", NULL);
    expect_error(BASE "[clock]\nskew.40 = 1s\n",
                 "[clock] skew.40: node 40 is out of range", NULL);
}

/* ------------------------------------------------------------------ */
/* Timeline.                                                            */

Test(scenario, the_timeline_sorts_by_time_with_stable_ties)
{
    scn_scenario *sc = load(BASE "[timeline]\n"
                                 "a = 10s crash node=1\n"
                                 "b = 5s crash node=2\n"
                                 "c = 10s restart node=1\n"
                                 "d = 5s stop node=3\n"
                                 "e = 0 pause node=4\n"
                                 "f = 10s publish node=5 data=x\n"
                                 "g = 5000ms start node=3\n");
    static const char *const want[] = {"e", "b", "d", "g", "a", "c", "f"};
    cr_assert_eq(sc->n_events, G_N_ELEMENTS(want));
    for (size_t i = 0; i < sc->n_events; i++)
        cr_assert_str_eq(sc->events[i].label, want[i], "position %zu", i);
    scn_scenario_free(sc);
}

Test(scenario, every_action_parses)
{
    scn_scenario *sc = load(
        BASE "[timeline]\n"
        "p1 = 1s publish node=3 data=\"hello world\"\n"
        "p2 = 2s publish node=4 size=1KiB\n"
        "cut = 3s partition groups=0-9|10-19\n"
        "one = 4s partition from=0-3 to=4-7 name=oneway\n"
        "h1 = 5s heal name=oneway\n"
        "h2 = 6s heal\n"
        "c = 7s crash nodes=1-2\n"
        "r = 8s restart nodes=1-2\n"
        "pa = 9s pause node=5\n"
        "re = 10s resume node=5\n"
        "st = 11s stop node=6\n"
        "go = 12s start node=6\n"
        "j = 13s join node=31\n"
        "n = 14s network loss=gilbert_elliott(p_good_to_bad=1%, "
        "p_bad_to_good=30%) latency=normal(mean=5ms, sd=1ms) duplicate=1%\n");
    const scn_event *e = sc->events;
    cr_assert_eq(e[0].kind, SCN_EVENT_PUBLISH);
    cr_assert_str_eq(e[0].publish.data, "hello world");
    cr_assert_eq(e[0].publish.n_bytes, 11);
    cr_assert_null(e[1].publish.data);
    cr_assert_eq(e[1].publish.n_bytes, 1024);
    uint8_t buf[1024];
    scn_event_payload(&e[1], buf);
    cr_assert(buf[0] == 'a' && buf[25] == 'z' && buf[26] == 'a');

    cr_assert_eq(e[2].kind, SCN_EVENT_PARTITION);
    cr_assert_str_eq(e[2].partition.name, "cut");  /* the label */
    cr_assert_eq(e[2].partition.n_groups, 2);
    cr_assert(scn_partition_drops(&e[2], 0, 15));
    cr_assert(!scn_partition_drops(&e[2], 0, 9));
    cr_assert(scn_partition_drops(&e[2], 0, 25), "unlisted nodes: a group");
    cr_assert(!scn_partition_drops(&e[2], 20, 25));
    cr_assert(e[3].partition.one_way);
    cr_assert(scn_partition_drops(&e[3], 1, 5));
    cr_assert(!scn_partition_drops(&e[3], 5, 1));
    cr_assert_str_eq(e[4].partition.name, "oneway");
    cr_assert_null(e[5].partition.name);
    cr_assert_eq(e[6].kind, SCN_EVENT_CRASH);
    cr_assert_eq(e[7].kind, SCN_EVENT_RESTART);
    cr_assert_eq(e[8].kind, SCN_EVENT_PAUSE);
    cr_assert_eq(e[9].kind, SCN_EVENT_RESUME);
    cr_assert_eq(e[10].kind, SCN_EVENT_STOP);
    cr_assert_eq(e[11].kind, SCN_EVENT_START);
    cr_assert_eq(e[12].kind, SCN_EVENT_JOIN);
    cr_assert_eq(e[13].kind, SCN_EVENT_NETWORK);
    cr_assert(e[13].network.set_loss && e[13].network.set_latency &&
              e[13].network.set_duplicate);
    cr_assert_eq(e[13].network.loss.kind, MODEL_LOSS_GILBERT_ELLIOTT);
    cr_assert_eq(e[13].network.loss.loss_bad, 1.0, "Gilbert's default");
    cr_assert_eq(e[13].network.latency_us.mean, 5000);
    cr_assert(fabs(model_loss_mean(&e[13].network.loss) - 1.0 / 31) < 1e-12);
    scn_scenario_free(sc);
}

/* ------------------------------------------------------------------ */
/* Sweeps and overrides.                                                */

#define SWEPT BASE "[engine]\namount = 3\n[timeline]\np = 10s publish " \
                   "node=20 data=x\n"

Test(scenario, sweeps_parse_and_apply)
{
    scn_scenario *sc = load(SWEPT "[sweep]\nengine.amount = 1..3\n"
                                  "network.latency = 5ms, \"normal(mean=20ms,"
                                  " sd=5ms)\", uniform(1ms, 2ms)\n"
                                  "cluster.seed = 10..30 step 10\n"
                                  "repetitions = 4\n");
    const scn_sweep *sw = &sc->sweep;
    cr_assert_eq(sw->n_axes, 3);
    cr_assert_eq(sw->repetitions, 4);
    cr_assert_eq(sw->combinations, 27);
    cr_assert_eq(sw->axes[1].n_values, 3);
    cr_assert_str_eq(sw->axes[1].values[1], "normal(mean=20ms, sd=5ms)");
    cr_assert_str_eq(sw->axes[1].values[2], "uniform(1ms, 2ms)");
    cr_assert_str_eq(sw->axes[2].values[2], "30");
    /* Mixed radix, last axis fastest: 14 = (1, 1, 2). */
    cr_assert_str_eq(scn_sweep_value(sw, 14, 0), "2");
    cr_assert_str_eq(scn_sweep_value(sw, 14, 1), "normal(mean=20ms, sd=5ms)");
    cr_assert_str_eq(scn_sweep_value(sw, 14, 2), "30");
    cr_assert_null(scn_sweep_value(sw, 27, 0));

    GError *error = NULL;
    scn_scenario *point = scn_scenario_sweep_point(sc, 14, 3, &error);
    cr_assert_not_null(point, "%s", error ? error->message : "");
    cr_assert_eq(point->engine.amount, 2);
    cr_assert_eq(point->network.latency_us.kind, MODEL_DIST_NORMAL);
    cr_assert_eq(point->cluster.seed, 33, "axis value + repetition");
    cr_assert_eq(sc->engine.amount, 3, "the base is untouched");
    char *json = scn_scenario_to_json(point);
    cr_assert(strstr(json, "\"overrides\":[\"engine.amount=2\"") != NULL,
              "%s", json);
    g_free(json);
    scn_scenario_free(point);

    cr_assert(scn_scenario_apply_sweep(sc, 0, &error));
    cr_assert_eq(sc->engine.amount, 1);
    cr_assert(!scn_scenario_apply_sweep(sc, 27, &error));
    g_clear_error(&error);
    scn_scenario_free(sc);
}

Test(scenario, bad_sweeps_are_caught_at_load)
{
    expect_error(SWEPT "[sweep]\nengine.amount = 0..2\n",
                 "t.ini: [sweep]: with engine.amount=0: [engine] amount: "
                 "expected an integer from 1 to 1024", NULL);
    expect_error(SWEPT "[sweep]\nengine.amout = 1..2\n",
                 "[sweep] engine.amout: unknown key", "did you mean 'amount'");
    expect_error(SWEPT "[sweep]\nnetwrk.loss = 1%\n",
                 "[sweep] netwrk.loss: unknown group", NULL);
    expect_error(SWEPT "[sweep]\nengine.amount = 1..2\nengine.Amount = 3\n",
                 "engine.amount is swept twice", NULL);
    /* A combination can be wrong where each value alone is fine. */
    expect_error(SWEPT "[sweep]\ncluster.nodes = 10, 32\n",
                 "with cluster.nodes=10: [timeline] p: publish: node=20: "
                 "node 20 is out of range", NULL);
    expect_error(SWEPT "[sweep]\nrepetitions = 0\n",
                 "[sweep] repetitions: expected an integer from 1", NULL);
    expect_error(SWEPT "[sweep]\nengine.amount = 1,,2\n",
                 "value 2 is empty", NULL);
    expect_error(SWEPT "[sweep]\nengine.amount = 1..1000000000\n",
                 "more than 10000 values", NULL);
    expect_error(SWEPT "[sweep]\nengine.amount = 1..1000\n"
                      "engine.cycle = 1..1000\n"
                      "engine.buffer = 1..1000\n",
                 "more than 1000000 combinations", NULL);
    expect_error(SWEPT "[sweep]\nsweep.repetitions = 2\n",
                 "[sweep] keys cannot be set or swept", NULL);
}

Test(scenario, overrides_set_keys_by_any_spelling)
{
    scn_scenario *sc = load(SWEPT);
    GError *error = NULL;
    cr_assert(scn_scenario_override(sc, "engine.amount", "4", &error));
    cr_assert_eq(sc->engine.amount, 4);
    cr_assert(scn_scenario_override(sc, "engine.Amount", "5", &error),
              "%s", error ? error->message : "");
    cr_assert_eq(sc->engine.amount, 5);
    cr_assert(scn_scenario_override_arg(sc, "network.loss=2%", &error));
    cr_assert_eq(sc->network.loss.rate, 0.02);
    cr_assert(scn_scenario_override_arg(
        sc, "timeline.extra=20s crash node=7", &error));
    cr_assert_eq(sc->n_events, 2);
    cr_assert_str_eq(sc->events[1].label, "extra");
    cr_assert(scn_scenario_override(sc, "regions.names", "x, y", &error));
    cr_assert_eq(scn_scenario_region_of(sc, 3), 1);
    cr_assert(scn_scenario_override(sc, "engine.secret_key", "hush", &error));
    cr_assert_str_eq(sc->engine.secret_key, "hush");
    cr_assert_str_eq(sc->overrides[0], "engine.amount=4");
    cr_assert_str_eq(sc->overrides[1], "engine.Amount=5");

    char *json = scn_scenario_to_json(sc);
    cr_assert(strstr(json, "hush") == NULL, "secrets stay out: %s", json);
    cr_assert(strstr(json, "engine.secret_key=(hidden)") != NULL);
    g_free(json);

    /* A copy is equal, and independent. */
    scn_scenario *copy = scn_scenario_copy(sc);
    char *a = scn_scenario_to_json(sc), *b = scn_scenario_to_json(copy);
    cr_assert_str_eq(a, b);
    g_free(a);
    g_free(b);
    cr_assert(scn_scenario_override(copy, "engine.amount", "1", &error));
    cr_assert_eq(sc->engine.amount, 5);
    scn_scenario_free(copy);
    scn_scenario_free(sc);
}

Test(scenario, a_failed_override_changes_nothing)
{
    scn_scenario *sc = load(SWEPT);
    char *before = scn_scenario_to_json(sc);
    GError *error = NULL;
    static const char *const bad[][3] = {
        {"engine.amount", "many", "t.ini: [engine] amount: expected an "
                                  "integer from 1 to 1024, got 'many'"},
        {"cluster.nodes", "10", "[timeline] p: publish: node=20: node 20 is "
                                "out of range"},
        {"engine.amout", "3", "t.ini: cannot set engine.amout: unknown key"},
        {"nope.x", "3", "unknown group 'nope'"},
        {"engine", "3", "expected GROUP.KEY"},
        {"sweep.repetitions", "3", "cannot be set"},
        {"network.latency", "5ms\n[engine]", "one line of UTF-8 text"},
        {"timeline.bad label", "1s crash node=1", "a timeline label is"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        cr_assert(!scn_scenario_override(sc, bad[i][0], bad[i][1], &error),
                  "%s accepted", bad[i][0]);
        cr_assert(strstr(error->message, bad[i][2]) != NULL, "'%s' not in '%s'",
                  bad[i][2], error->message);
        g_clear_error(&error);
    }
    cr_assert(!scn_scenario_override_arg(sc, "engine.amount", &error));
    g_clear_error(&error);
    char *after = scn_scenario_to_json(sc);
    cr_assert_str_eq(before, after);
    g_free(before);
    g_free(after);
    scn_scenario_free(sc);
}

/* ------------------------------------------------------------------ */
/* JSON.                                                                */

Test(scenario, json_is_deterministic_and_escaped)
{
    const char *text = BASE "[engine]\nsecret_key = k\n[network]\n"
                            "loss = 0.1\n[timeline]\n"
                            "p = 1s publish node=1 data=\"say \\\"hi\\\"\\t\\\\\"\n";
    scn_scenario *a = load(text), *b = load(text);
    char *ja = scn_scenario_to_json(a), *jb = scn_scenario_to_json(b);
    cr_assert_str_eq(ja, jb);
    cr_assert(strstr(ja, "\"data\":\"say \\\"hi\\\"\\t\\\\\"") != NULL, "%s",
              ja);
    cr_assert(strstr(ja, "\"rate\":0.1,") != NULL, "shortest round trip");
    cr_assert(strstr(ja, "\"secret_key\":true") != NULL);
    cr_assert(strstr(ja, "\"timeout_us\":20000000") != NULL,
              "engine defaults resolved");
    g_free(ja);
    g_free(jb);
    scn_scenario_free(a);
    scn_scenario_free(b);
}

/* ------------------------------------------------------------------ */
/* Hostile input.                                                       */

Test(scenario, hostile_values_are_refused_with_a_message)
{
    static const char *const cases[][2] = {
        {BASE "[engine]\namount = 99999999999999999999999\n",
         "[engine] amount: expected an integer"},
        {"[cluster]\nnodes = 16777215\nduration = 1s\n",
         "[cluster] nodes: expected an integer from 1 to 16777214"},
        {"[cluster]\nnodes = -5\nduration = 1s\n", "[cluster] nodes"},
        {"[cluster]\nnodes = 5\nduration = -5s\n",
         "[cluster] duration: expected a duration of at least 0"},
        {"[cluster]\nnodes = 5\nduration = 0\n",
         "[cluster] duration: expected a duration above 0"},
        {BASE "[network]\nloss = nan\n", "[network] loss: expected a rate"},
        {BASE "[network]\nloss = inf\n", "[network] loss: expected a rate"},
        {BASE "[network]\nlatency =\n", "[network] latency: expected"},
        {BASE "[network]\nlatency = 1e308ms\n", "[network] latency"},
        {BASE "[network]\nlatency = 1e308\n", "[network] latency"},
        {BASE "[network]\nlatency = 99999999999999h\n",
         "at most 365 days"},
        {BASE "[network]\nlatency = normal(mean=20ms, sd=5ms\n",
         "[network] latency: expected"},
        {BASE "[network]\nlatency = normal((((mean=1ms\n",
         "[network] latency"},
        {BASE "[network]\nlatency = normal(mean=nan, sd=1ms)\n",
         "normal: mean: expected a duration"},
        {BASE "[network]\nlatency = pareto(scale=1ms, shape=1e308)\n",
         "pareto: shape: expected a number"},
        {BASE "[network]\nlatency = lognormal(median=1ms, sigma=99999)\n",
         "sigma must be from 0 to 10"},
        {BASE "[network]\nsend_queue = 0\n", "[network] send_queue"},
        {BASE "[network]\nbandwidth = -1Mbit\n", "[network] bandwidth"},
        {BASE "[network]\nprocessing = 2s\n",
         "[network] processing: expected at most 1s a packet"},
        {BASE "[network]\nprocessing = -1us\n", "[network] processing"},
        {BASE "[network]\nhost_cores = 2\n",
         "[network] host_cores: needs network.processing"},
        {BASE "[network]\nprocessing = 80us\nhost_cores = 0\n",
         "[network] host_cores: expected an integer from 1 to 4096"},
        {BASE "[timeline]\ne = 10s\n", "[timeline] e: expected TIME ACTION"},
        {BASE "[timeline]\ne =\n", "[timeline] e: expected TIME ACTION"},
        {BASE "[timeline]\ne = -1s crash node=1\n",
         "[timeline] e: time: expected a duration of at least 0"},
        {BASE "[timeline]\ne = 1s crash node=99999999999999999999\n",
         "crash: node="},
        {BASE "[timeline]\ne = 1s crash node=1-99999999999\n",
         "out of range"},
        {BASE "[timeline]\ne = 1s crash node=,\n", "empty item"},
        {BASE "[timeline]\ne = 1s crash node=-1\n", "expected a node"},
        {BASE "[timeline]\ne = 1s crash node=1e308%\n", "percentage"},
        {BASE "[timeline]\ne = 1s crash node=nan%\n", "percentage"},
        {BASE "[timeline]\ne = 1s crash node=10%:\n", "tag"},
        {BASE "[timeline]\ne = 1s detonate node=1\n", "unknown action"},
        {BASE "[timeline]\ne = 1s publish node=1 data=\"a\\qb\"\n",
         "unknown escape"},
        {BASE "[timeline]\ne = 1s publish node=1 data=\"a\"b\n",
         "text after the closing quote"},
        {BASE "[timeline]\ne = 1s network\n", "give latency=, loss="},
        {BASE "[timeline]\ne = 1s partition groups=0|(\n", "unbalanced"},
        {BASE "[sweep]\nengine.amount = \"1\n", "unbalanced quotes"},
        {BASE "seed = 18446744073709551615\n", "[cluster] seed"},
        {BASE "[engine]\nsecret_key = k\n"
              "accepted_keys = a, b, c, d, e, f, g, h\n",
         "at most 7 keys"},
        {BASE "[engine]\nsize = 0.5B\n", "whole bytes"},
        {BASE "[clock]\nskew = lognormal(median=-1s, sigma=1)\n",
         "[clock] skew"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        expect_error(cases[i][0], cases[i][1], NULL);
}

Test(scenario, hostile_files_are_refused_with_a_message)
{
    /* An overlong line. */
    GString *s = g_string_new(BASE "[timeline]\ne = 1s publish node=1 data=");
    for (int i = 0; i < 70000; i++)
        g_string_append_c(s, 'x');
    g_string_append_c(s, '\n');
    expect_error(s->str, "t.ini: line 5: longer than 65536 bytes", NULL);
    g_string_free(s, TRUE);

    /* Too many events. */
    s = g_string_new(BASE "[timeline]\n");
    for (int i = 0; i <= SCN_MAX_EVENTS; i++)
        g_string_append_printf(s, "e%d = 1s stop node=1\n", i);
    expect_error(s->str, "[timeline]: 10001 events; at most 10000", NULL);
    g_string_free(s, TRUE);

    /* Control characters, invalid UTF-8, NUL bytes. */
    expect_error(BASE "[engine]\namount = 3\x01\n", "line 5: control "
                 "character 0x01", NULL);
    expect_error(BASE "[engine]\namount = \xff\xfe\n", "line 5: not valid "
                 "UTF-8", NULL);
    char *dir = g_dir_make_tmp("scn-XXXXXX", NULL);
    char *path = g_build_filename(dir, "nul.ini", NULL);
    static const char nul[] = "[cluster]\nnodes = 3\0\nduration = 1s\n";
    cr_assert(g_file_set_contents(path, nul, sizeof nul - 1, NULL));
    GError *error = NULL;
    cr_assert_null(scn_scenario_load_file(path, &error));
    cr_assert(strstr(error->message, "NUL byte") != NULL);
    g_clear_error(&error);

    /* Larger than the file limit. */
    char *big = g_malloc(SCN_MAX_FILE_BYTES + 10);
    memset(big, '#', SCN_MAX_FILE_BYTES + 9);
    big[SCN_MAX_FILE_BYTES + 9] = '\0';
    expect_error(big, "larger than", NULL);
    g_free(big);
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);

    /* A text that is not a scenario at all. */
    expect_error("\x7f" "ELF", "control character", NULL);
    expect_error("", "[cluster] nodes: missing", NULL);
}

Test(scenario, huge_clusters_stay_within_bounds)
{
    /* 16 million nodes with fractions and region selectors: bounded work
     * and memory, and a clean refusal past the limits. */
    scn_scenario *sc = load("[cluster]\nnodes = 16777214\nduration = 10s\n"
                            "heartbeat_sample = 0.001%\n"
                            "[regions]\nnames = a, b\nassign = blocks\n"
                            "[timeline]\nx = 1s crash nodes=a\n"
                            "y = 2s crash nodes=all\n");
    cr_assert_eq(sc->events[0].nodes.count, 8388607);
    cr_assert_eq(sc->cluster.heartbeat_sample.count, 168);
    scn_scenario_free(sc);
    /* Round-robin regions of 16M nodes are 8M ranges: over the budget. */
    expect_error("[cluster]\nnodes = 16777214\nduration = 10s\n"
                 "[regions]\nnames = a, b\n"
                 "[timeline]\nx = 1s crash nodes=a\n",
                 "ranges in all", NULL);
}

Test(scenario, mutated_files_never_crash)
{
    /* Random byte edits of a shipped scenario: every result loads or is
     * refused with a message; nothing crashes or leaks (run under ASan). */
    char *text = NULL;
    gsize n = 0;
    cr_assert(g_file_get_contents(PEKO_SOURCE_ROOT
                                  "/scenarios/partition-heal.ini", &text, &n,
                                  NULL));
    static const char alphabet[] = "0123456789%,.-=|()[]\"\\ #:;\nxyz";
    uint64_t state = 77;
    for (int round = 0; round < 1500; round++) {
        char *m = g_strndup(text, n);
        int edits = 1 + (int)(uniform01(&state) * 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(uniform01(&state) * (double)n);
            m[at] = alphabet[(size_t)(uniform01(&state) *
                                      (sizeof alphabet - 1))];
        }
        GError *error = NULL;
        scn_scenario *sc = scn_scenario_load_data(m, "m.ini", &error);
        if (sc != NULL) {
            cr_assert_null(error);
            g_free(scn_scenario_to_json(sc));
            scn_scenario_free(sc);
        } else {
            cr_assert_not_null(error);
            cr_assert(g_str_has_prefix(error->message, "m.ini: "), "%s",
                      error->message);
            g_error_free(error);
        }
        g_free(m);
    }
    g_free(text);
}
