/* test-budget.c: a simulated run's memory estimate (run/budget.h).
 *
 * The calibration table below is what /usr/bin/time -v measured as the
 * peak resident memory of `peko sim` on each scenario (docs/simulator.md,
 * "Memory", gives it with the machine): the estimate must be at least
 * the peak and at most 1.5 times it. When the engine's or the
 * simulator's memory changes, the runs are measured again and the table
 * with them. */
#include <criterion/criterion.h>
#include <glib.h>
#include <string.h>

#include "budget.h"
#include "scenario.h"

TestSuite(budget, .timeout = 60);

static scn_scenario *load(const char *text)
{
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_data(text, "budget.ini", &error);
    cr_assert_not_null(sc, "%s", error ? error->message : "");
    return sc;
}

static scn_scenario *load_shipped(const char *name, const char *set)
{
    char *path = g_build_filename(PEKO_SOURCE_ROOT, "scenarios", name, NULL);
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_file(path, &error);
    cr_assert_not_null(sc, "%s", error ? error->message : "");
    g_free(path);
    if (set) {
        char **sets = g_strsplit(set, " ", -1);
        for (char **s = sets; *s; s++)
            cr_assert(scn_scenario_override_arg(sc, *s, &error), "%s",
                      error ? error->message : "");
        g_strfreev(sets);
    }
    return sc;
}

static uint64_t estimate(const scn_scenario *sc)
{
    run_mem_estimate e;
    run_sim_estimate_memory(sc, &e);
    cr_assert_geq(e.total, e.base + e.nodes + e.in_flight + e.recorder,
                  "the total holds every part");
    return e.total;
}

/* A scenario of the calibration runs: N nodes, 1 ms latency, seed 1. */
static char *calibration(unsigned nodes, const char *duration,
                         const char *stagger, const char *engine)
{
    return g_strdup_printf("[cluster]\nnodes = %u\nduration = %s\nseed = 1\n"
                           "stagger = %s\n[engine]\n%s\n[network]\n"
                           "latency = 1ms\n",
                           nodes, duration, stagger, engine);
}

typedef struct calibrated {
    const char *what;
    unsigned nodes;
    const char *duration, *stagger, *engine;
    const char *shipped, *set; /* instead: a shipped scenario, --set */
    uint64_t peak_kib;         /* measured */
} calibrated;

static const calibrated table[] = {
    {"one node", 1, "10s", "0", "dissemination = rumor\ncycle = 1s", NULL,
     NULL, 10040},
    {"rumor 250 at once", 250, "3s", "0", "dissemination = rumor\ncycle = 1s",
     NULL, NULL, 20440},
    {"rumor 500 at once", 500, "3s", "0", "dissemination = rumor\ncycle = 1s",
     NULL, NULL, 50164},
    {"rumor 1000 at once", 1000, "3s", "0",
     "dissemination = rumor\ncycle = 1s", NULL, NULL, 134768},
    {"rumor 500 over 1 s", 500, "3s", "1s",
     "dissemination = rumor\ncycle = 1s", NULL, NULL, 26872},
    {"rumor 1000 over 3 s", 1000, "30s", "3s",
     "dissemination = rumor\ncycle = 3s", NULL, NULL, 64340},
    {"rumor 300 over TCP", 300, "5s", "0",
     "dissemination = rumor\ncycle = 1s\nprotocol = tcp", NULL, NULL, 40284},
    {"rumor 300, size 60000", 300, "4s", "0",
     "dissemination = rumor\ncycle = 1s\nsize = 60000", NULL, NULL, 23556},
    {"digest 2000 at once", 2000, "20s", "0",
     "dissemination = digest\ncycle = 1s", NULL, NULL, 172744},
    {"digest 4000 over 2 s", 4000, "20s", "2s",
     "dissemination = digest\ncycle = 1s", NULL, NULL, 778952},
    {"classic 8", 8, "90s", "2s", "dissemination = classic\ncycle = 2s", NULL,
     NULL, 10176},
    {"classic 16", 16, "90s", "2s", "dissemination = classic\ncycle = 2s",
     NULL, NULL, 10224},
    {"classic 24", 24, "90s", "2s", "dissemination = classic\ncycle = 2s",
     NULL, NULL, 10680},
    {"quickstart.ini", 0, NULL, NULL, NULL, "quickstart.ini", NULL, 12324},
    {"churn.ini", 0, NULL, NULL, NULL, "churn.ini", NULL, 12568},
    {"lossy.ini", 0, NULL, NULL, NULL, "lossy.ini", NULL, 15112},
    {"strategies-scale.ini", 0, NULL, NULL, NULL, "strategies-scale.ini",
     NULL, 19084},
    {"strategies-scale.ini, digest 500", 0, NULL, NULL, NULL,
     "strategies-scale.ini",
     "cluster.nodes=500 engine.dissemination=digest", 29636},
    {"bench-1000.ini", 0, NULL, NULL, NULL, "bench-1000.ini", NULL, 137804},
    {"bench-1000.ini, 2000 nodes with 1024 seeds", 0, NULL, NULL, NULL,
     "bench-1000.ini",
     "cluster.nodes=2000 cluster.seeds=1024 engine.cycle=10s "
     "cluster.duration=45s",
     540080},
};

Test(budget, estimates_err_high_by_less_than_half_on_the_calibration_runs)
{
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        const calibrated *c = &table[i];
        scn_scenario *sc;
        if (c->shipped) {
            sc = load_shipped(c->shipped, c->set);
        } else {
            char *text = calibration(c->nodes, c->duration, c->stagger,
                                     c->engine);
            sc = load(text);
            g_free(text);
        }
        double peak = (double)c->peak_kib * 1024;
        double ratio = (double)estimate(sc) / peak;
        cr_expect(ratio >= 1.0 && ratio <= 1.5,
                  "%s: estimate / measured peak = %.2f", c->what, ratio);
        scn_scenario_free(sc);
    }
}

Test(budget, grows_with_the_cluster_and_with_joins_at_one_instant)
{
    char *small = calibration(100, "10s", "0", "cycle = 1s");
    char *large = calibration(1000, "10s", "0", "cycle = 1s");
    char *spread = calibration(1000, "10s", "5s", "cycle = 1s");
    scn_scenario *a = load(small), *b = load(large), *c = load(spread);
    run_mem_estimate ea, eb, ec;
    run_sim_estimate_memory(a, &ea);
    run_sim_estimate_memory(b, &eb);
    run_sim_estimate_memory(c, &ec);
    cr_assert_gt(eb.per_node, ea.per_node, "larger lists per node");
    cr_assert_gt(eb.total, 10 * ea.total / 2);
    cr_assert_eq(eb.nodes, ec.nodes, "the same nodes");
    cr_assert_gt(eb.in_flight, 50 * ec.in_flight,
                 "a burst of joins at one instant, not when spread");
    scn_scenario_free(a);
    scn_scenario_free(b);
    scn_scenario_free(c);
    g_free(small);
    g_free(large);
    g_free(spread);
}

Test(budget, the_largest_cluster_is_estimated_without_overflow)
{
    /* The documented maximum: 16,777,214 nodes, the estimate in
     * hundreds of terabytes, not wrapped around. */
    scn_scenario *sc =
        load("[cluster]\nnodes = 16777214\nduration = 8760h\n"
             "[engine]\nsize = 64MiB\nprotocol = tcp\n");
    run_mem_estimate e;
    run_sim_estimate_memory(sc, &e);
    cr_assert_gt(e.total, (uint64_t)1 << 47);
    cr_assert_geq(e.total, e.nodes);
    scn_scenario_free(sc);
}

Test(budget, a_run_beyond_the_limit_is_refused_with_its_estimate)
{
    char *text = calibration(200, "10s", "0", "cycle = 1s");
    scn_scenario *sc = load(text);
    g_free(text);
    run_mem_estimate e;
    run_sim_estimate_memory(sc, &e);

    GError *error = NULL;
    cr_assert(run_sim_check_memory(sc, 0, FALSE, &error), "0: no check");
    cr_assert(run_sim_check_memory(sc, e.total, TRUE, &error));
    cr_assert_not(run_sim_check_memory(sc, e.total - 1, TRUE, &error));
    cr_assert(g_error_matches(error, RUN_BUDGET_ERROR,
                              RUN_BUDGET_ERROR_TOO_BIG));
    char total[32];
    run_format_bytes(total, sizeof total, e.total);
    cr_assert_not_null(strstr(error->message, total), "%s", error->message);
    cr_assert_not_null(strstr(error->message, "--max-memory allows"), "%s",
                       error->message);
    g_clear_error(&error);
    cr_assert_not(run_sim_check_memory(sc, 1 << 20, FALSE, &error));
    cr_assert_not_null(strstr(error->message, "this machine has 1.0 MiB"
                                              " available"),
                       "%s", error->message);
    g_clear_error(&error);
    scn_scenario_free(sc);
}

Test(budget, bytes_are_formatted_for_people)
{
    char buf[32];
    run_format_bytes(buf, sizeof buf, 100);
    cr_assert_str_eq(buf, "100 B");
    run_format_bytes(buf, sizeof buf, 12 << 10);
    cr_assert_str_eq(buf, "12 KiB");
    run_format_bytes(buf, sizeof buf, (uint64_t)5 << 29);
    cr_assert_str_eq(buf, "2.5 GiB");
}
