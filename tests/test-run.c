/* test-run.c: the runner (run/runner.h), driven through a fake world.
 *
 * The fake world is a table of operations (run_ops) over the in-memory
 * test network (tests/testenv.h): real engines on a virtual clock, so
 * the runner's membership samples read real node lists, while every
 * lifecycle and network operation the runner asks for is written to a
 * log with the time it came at, and may be told to fail. The test walks
 * the runner's plan as the testbed does (run_runner_peek, then
 * run_runner_step at each step's time), with the virtual clock moved to
 * each step's time first. Every run is recorded into a database in the
 * test's own temporary directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include "ctl-proto.h"
#include "recorder.h"
#include "runner.h"
#include "runs.h"
#include "scenario.h"
#include "testdir.h"
#include "testenv.h"

/* ------------------------------------------------------------------ */
/* A temporary directory per test.                                      */

static char *tmpdir;

static void setup(void)
{
    tmpdir = testdir_make("peko-run-XXXXXX");
    cr_assert_not_null(tmpdir);
}

static void teardown(void)
{
    testdir_remove(tmpdir);
}

TestSuite(run, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* The fake world.                                                      */

#define NO_NODE ((size_t)-1)

typedef struct fake {
    const scn_scenario *sc;
    testnet *net;
    size_t n;
    run_node_state *state;
    const peko_observer *observer;  /* the recorder's */
    void **observer_user;
    GPtrArray *log;                 /* "<t_us> <operation>", owned */
    int next_id;                    /* the last partition id handed out */
    /* Failures asked for: crash and join of fail_node answer fail_rc;
     * every partition answers partition_rc when it is not 0. */
    size_t fail_node;
    int fail_rc;
    int partition_rc;
} fake;

static void note(fake *f, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void note(fake *f, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *what = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_ptr_array_add(f->log, g_strdup_printf("%" G_GINT64_FORMAT " %s",
                                            testnet_now_us(f->net), what));
    g_free(what);
}

static int64_t op_now_us(void *w)
{
    fake *f = w;
    return testnet_now_us(f->net);
}

static peko_nodelist *op_node(void *w, size_t i)
{
    fake *f = w;
    return f->state[i] == RUN_NODE_DOWN ? NULL : testnet_node(f->net, i);
}

static const peko_addr *op_addr(void *w, size_t i)
{
    fake *f = w;
    return testnet_addr(f->net, i);
}

static run_node_state op_state(void *w, size_t i)
{
    fake *f = w;
    return f->state[i];
}

static void op_observe(void *w, size_t i, const peko_observer *observer,
                       void *user)
{
    fake *f = w;
    f->observer = observer;
    f->observer_user[i] = user;
    peko_nodelist_set_observer(testnet_node(f->net, i), observer, user);
}

/* Gives node i its seeds, then joins it (what the simulator and the
 * testbed do). */
static int join_node(fake *f, size_t i)
{
    peko_nodelist *nl = testnet_node(f->net, i);
    size_t seeds[SCN_MAX_SEEDS];
    size_t k = run_seeds(f->sc, (uint32_t)i, seeds);
    for (size_t s = 0; s < k; s++) {
        const peko_addr *a = testnet_addr(f->net, seeds[s]);
        char host[PEKO_HOST_STRLEN], name[32];
        peko_addr_host(a, host);
        g_snprintf(name, sizeof name, "node-%zu", seeds[s]);
        int rc = peko_nodelist_set(
            nl, &(peko_node){.addr = host, .port = a->port, .name = name});
        if (rc < 0)
            return rc;
    }
    return peko_nodelist_join(nl);
}

static int op_join(void *w, size_t i)
{
    fake *f = w;
    note(f, "join %zu", i);
    if (i == f->fail_node)
        return f->fail_rc;
    if (f->state[i] == RUN_NODE_DOWN)
        return -ENODEV;
    return join_node(f, i);
}

static int op_crash(void *w, size_t i)
{
    fake *f = w;
    note(f, "crash %zu", i);
    if (i == f->fail_node)
        return f->fail_rc;
    if (f->state[i] == RUN_NODE_DOWN)
        return -EALREADY;
    /* A fresh engine that has not joined: nothing of the old one is
     * left, and it sends nothing until it restarts. */
    testnet_restart(f->net, i, NULL);
    f->state[i] = RUN_NODE_DOWN;
    return 0;
}

static int op_restart(void *w, size_t i)
{
    fake *f = w;
    note(f, "restart %zu", i);
    if (f->state[i] != RUN_NODE_DOWN)
        return -EBUSY;
    f->state[i] = RUN_NODE_UP;
    peko_nodelist_set_observer(testnet_node(f->net, i), f->observer,
                               f->observer_user[i]);
    return join_node(f, i);
}

static int op_pause(void *w, size_t i)
{
    fake *f = w;
    note(f, "pause %zu", i);
    if (f->state[i] != RUN_NODE_UP)
        return f->state[i] == RUN_NODE_DOWN ? -ENODEV : -EALREADY;
    f->state[i] = RUN_NODE_PAUSED;
    return 0;
}

static int op_resume(void *w, size_t i)
{
    fake *f = w;
    note(f, "resume %zu", i);
    if (f->state[i] != RUN_NODE_PAUSED)
        return -EALREADY;
    f->state[i] = RUN_NODE_UP;
    return 0;
}

static int op_stop(void *w, size_t i)
{
    fake *f = w;
    note(f, "stop %zu", i);
    if (f->state[i] == RUN_NODE_DOWN)
        return -ENODEV;
    peko_nodelist_stop(testnet_node(f->net, i));
    return 0;
}

static int op_start(void *w, size_t i)
{
    fake *f = w;
    note(f, "start %zu", i);
    if (f->state[i] == RUN_NODE_DOWN)
        return -ENODEV;
    peko_nodelist_start(testnet_node(f->net, i));
    return 0;
}

static void append_indices(GString *s, const size_t *idx, size_t n)
{
    for (size_t k = 0; k < n; k++)
        g_string_append_printf(s, "%s%zu", k ? "," : "", idx[k]);
}

static int op_partition(void *w, const size_t *a, size_t n_a,
                        const size_t *b, size_t n_b, bool one_way)
{
    fake *f = w;
    GString *s = g_string_new("partition from=");
    append_indices(s, a, n_a);
    g_string_append(s, " to=");
    append_indices(s, b, n_b);
    note(f, "%s%s", s->str, one_way ? " one-way" : "");
    g_string_free(s, TRUE);
    return f->partition_rc ? f->partition_rc : ++f->next_id;
}

static int op_partition_groups(void *w, const size_t *const *groups,
                               const size_t *n_each, size_t n_groups)
{
    fake *f = w;
    GString *s = g_string_new("partition groups=");
    for (size_t g = 0; g < n_groups; g++) {
        if (g)
            g_string_append_c(s, '|');
        append_indices(s, groups[g], n_each[g]);
    }
    note(f, "%s", s->str);
    g_string_free(s, TRUE);
    return f->partition_rc ? f->partition_rc : ++f->next_id;
}

static int op_heal(void *w, int id)
{
    fake *f = w;
    note(f, "heal %d", id);
    return 0;
}

static void op_heal_all(void *w)
{
    note(w, "heal all");
}

static void op_set_network(void *w, const scn_event *ev)
{
    note(w, "network %s", ev->label);
}

static const run_ops fake_ops = {
    .now_us = op_now_us,
    .node = op_node,
    .addr = op_addr,
    .state = op_state,
    .observe = op_observe,
    .join = op_join,
    .crash = op_crash,
    .restart = op_restart,
    .pause = op_pause,
    .resume = op_resume,
    .stop = op_stop,
    .start = op_start,
    .partition = op_partition,
    .partition_groups = op_partition_groups,
    .heal = op_heal,
    .heal_all = op_heal_all,
    .set_network = op_set_network,
};

/* ------------------------------------------------------------------ */
/* A run: scenario, fake world, runner, recording.                      */

typedef struct run_fixture {
    scn_scenario *sc;
    fake world;
    run_runner runner;
    char *db_path;
} run_fixture;

static int64_t fixture_now(void *user)
{
    fake *f = user;
    return testnet_now_us(f->net);
}

/* Loads `text`, builds the fake world and the runner, and opens the
 * recording (`how`: NULL for a plain run on its own). */
static void fixture_open(run_fixture *fx, const char *text,
                         const run_recording *how)
{
    memset(fx, 0, sizeof *fx);
    GError *error = NULL;
    fx->sc = scn_scenario_load_data(text, "test-run", &error);
    cr_assert_not_null(fx->sc, "%s", error ? error->message : "");
    fake *f = &fx->world;
    f->sc = fx->sc;
    f->n = fx->sc->cluster.nodes;
    f->net = testnet_new(f->n, &fx->sc->engine, fx->sc->cluster.seed);
    f->state = g_new0(run_node_state, f->n);
    f->observer_user = g_new0(void *, f->n);
    f->log = g_ptr_array_new_with_free_func(g_free);
    f->fail_node = NO_NODE;
    run_runner_init(&fx->runner, fx->sc, &fake_ops, f);

    fx->db_path = g_build_filename(tmpdir, "run.db", NULL);
    run_recording plain = {.source = "sim"};
    run_recording r = how ? *how : plain;
    r.db_path = fx->db_path;
    r.now_us = fixture_now;
    r.now_user = f;
    cr_assert(run_runner_open_recorder(&fx->runner, &r, &error), "%s",
              error ? error->message : "");
}

/* Walks the plan up to end_us, as the testbed does, moving the virtual
 * clock to each step's time first (the engines run meanwhile). Samples
 * are logged too: they call no operation of their own. */
static void fixture_drive(run_fixture *fx, int64_t end_us)
{
    fake *f = &fx->world;
    run_step step;
    while (run_runner_peek(&fx->runner, &step) && step.t_us <= end_us) {
        testnet_run_for(f->net, step.t_us - testnet_now_us(f->net));
        if (step.kind == RUN_STEP_SAMPLE)
            note(f, "sample");
        run_runner_step(&fx->runner);
    }
}

/* Writes the recording out (the run stays 'running'), so the database
 * can be read. */
static void fixture_flush(run_fixture *fx)
{
    GError *error = NULL;
    cr_assert(ana_recorder_flush(fx->runner.rec, &error), "%s",
              error ? error->message : "");
}

static void fixture_close(run_fixture *fx)
{
    run_runner_clear(&fx->runner);
    testnet_free(fx->world.net);
    g_free(fx->world.state);
    g_free(fx->world.observer_user);
    g_ptr_array_free(fx->world.log, TRUE);
    scn_scenario_free(fx->sc);
    g_free(fx->db_path);
}

/* The log, one entry a line, for comparing against what is expected. */
static char *log_text(const fake *f)
{
    GString *s = g_string_new(NULL);
    for (guint k = 0; k < f->log->len; k++)
        g_string_append_printf(s, "%s\n",
                               (const char *)g_ptr_array_index(f->log, k));
    return g_string_free(s, FALSE);
}

static void assert_log(const fake *f, const char *expected)
{
    char *got = log_text(f);
    cr_assert_str_eq(got, expected, "the operations, in order:\n%s", got);
    g_free(got);
}

/* ------------------------------------------------------------------ */
/* Reading the recording back.                                          */

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK, "open %s", path);
    return db;
}

/* Every row of `sql`, columns separated by '|', one row a line. */
static char *rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    GString *s = g_string_new(NULL);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            g_string_append_printf(s, "%s%s", c ? "|" : "", v ? v : "NULL");
        }
        g_string_append_c(s, '\n');
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return g_string_free(s, FALSE);
}

static void assert_rows(sqlite3 *db, const char *sql, const char *expected)
{
    char *got = rows(db, sql);
    cr_assert_str_eq(got, expected, "%s:\n%s", sql, got);
    g_free(got);
}

/* ------------------------------------------------------------------ */
/* The plan.                                                            */

/* Joins, then events in file order, then the sample: at 2 s node 2
 * joins, node 1 is stopped and started again (in that order, as
 * written), and only then is membership sampled. */
Test(run, equal_times_run_joins_then_events_then_the_sample)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 4\n"
                 "duration = 5s\n"
                 "stagger = 4s\n"
                 "sample_interval = 2s\n"
                 "[timeline]\n"
                 "quiet = 2s stop node=1\n"
                 "again = 2s start node=1\n"
                 "tune = 2s network loss=1%\n",
                 NULL);
    cr_assert_eq(fx.runner.n_plan, 7, "4 joins and 3 events");
    fixture_drive(&fx, 5000000);
    assert_log(&fx.world, "0 join 0\n"
                          "1000000 join 1\n"
                          "2000000 join 2\n"
                          "2000000 stop 1\n"
                          "2000000 start 1\n"
                          "2000000 network tune\n"
                          "2000000 sample\n"
                          "3000000 join 3\n"
                          "4000000 sample\n");
    cr_assert_null(fx.runner.error, "%s", fx.runner.error);
    fixture_close(&fx);
}

/* Node i joins at floor(i * stagger / nodes), in the run's
 * microseconds. */
Test(run, nodes_join_at_their_stagger_slots)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 3\n"
                 "duration = 2s\n"
                 "stagger = 1s\n"
                 "sample_interval = 5s\n",
                 NULL);
    fixture_drive(&fx, 2000000);
    assert_log(&fx.world, "0 join 0\n"
                          "333333 join 1\n"
                          "666666 join 2\n");
    fixture_close(&fx);
}

/* A node with a join event has no stagger slot: it joins at its event
 * only, and counts as live from then on. */
Test(run, late_joiner_joins_at_its_event_only)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 4\n"
                 "seeds = 1\n"
                 "duration = 4s\n"
                 "sample_interval = 1s\n"
                 "[timeline]\n"
                 "newcomer = 2500ms join node=3\n",
                 NULL);
    for (size_t k = 0; k < fx.runner.n_plan; k++)
        cr_assert(fx.runner.plan[k].kind != RUN_STEP_JOIN ||
                      fx.runner.plan[k].index != 3,
                  "node 3 has a stagger slot");
    fixture_drive(&fx, 4000000);
    assert_log(&fx.world, "0 join 0\n"
                          "0 join 1\n"
                          "0 join 2\n"
                          "1000000 sample\n"
                          "2000000 sample\n"
                          "2500000 join 3\n"
                          "3000000 sample\n"
                          "4000000 sample\n");
    fixture_flush(&fx);
    sqlite3 *db = db_open(fx.db_path);
    assert_rows(db, "SELECT t_us, live FROM membership ORDER BY sample",
                "1000000|3\n"
                "2000000|3\n"
                "3000000|4\n"
                "4000000|4\n");
    sqlite3_close(db);
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ */
/* Membership samples.                                                  */

/* With two seeds each, three nodes list each other as soon as they have
 * joined, so every count is known without waiting for gossip: a node is
 * live when it is up, joined and sending heartbeats; a live node is
 * complete when it lists exactly the live nodes. A node that crashed,
 * stopped or is paused is not live, and the others, still listing it,
 * are not complete until it is back. */
Test(run, samples_count_live_and_complete_nodes)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 3\n"
                 "seeds = 2\n"
                 "duration = 8s\n"
                 "sample_interval = 1s\n"
                 "[timeline]\n"
                 "down = 1500ms crash node=2\n"
                 "up = 2500ms restart node=2\n"
                 "quiet = 3500ms stop node=1\n"
                 "loud = 4500ms start node=1\n"
                 "freeze = 5500ms pause node=0\n"
                 "thaw = 6500ms resume node=0\n",
                 NULL);
    fixture_drive(&fx, 7000000);
    cr_assert_null(fx.runner.error, "%s", fx.runner.error);
    fixture_flush(&fx);
    sqlite3 *db = db_open(fx.db_path);
    assert_rows(db,
                "SELECT t_us, live, complete FROM membership ORDER BY sample",
                "1000000|3|3\n"
                "2000000|2|0\n"
                "3000000|3|3\n"
                "4000000|2|0\n"
                "5000000|3|3\n"
                "6000000|2|0\n"
                "7000000|3|3\n");
    sqlite3_close(db);
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ */
/* Partitions.                                                          */

/* A heal by name ends the partition of that name, with the id the world
 * gave it; a name can be used again once healed; a heal without a name
 * ends them all. */
Test(run, partitions_are_healed_by_name)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 4\n"
                 "duration = 6s\n"
                 "sample_interval = 10s\n"
                 "[timeline]\n"
                 "split = 1s partition groups=0-1|2-3\n"
                 "cut = 1s partition from=0 to=3\n"
                 "mend = 2s heal name=split\n"
                 "again = 3s partition groups=0|1 name=split\n"
                 "mend-again = 4s heal name=split\n"
                 "all = 5s heal\n",
                 NULL);
    fixture_drive(&fx, 6000000);
    assert_log(&fx.world, "0 join 0\n"
                          "0 join 1\n"
                          "0 join 2\n"
                          "0 join 3\n"
                          "1000000 partition groups=0,1|2,3\n"
                          "1000000 partition from=0 to=3 one-way\n"
                          "2000000 heal 1\n"
                          "3000000 partition groups=0|1\n"
                          "4000000 heal 3\n"
                          "5000000 heal all\n");
    cr_assert_null(fx.runner.error, "%s", fx.runner.error);
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ */
/* Failures.                                                            */

/* Three crashes: of every node, of node 0 again, of node 1 again. */
static const char crashes_ini[] = "[cluster]\n"
                                  "nodes = 3\n"
                                  "duration = 4s\n"
                                  "sample_interval = 10s\n"
                                  "[timeline]\n"
                                  "boom = 1500ms crash nodes=0-2\n"
                                  "twice = 2s crash node=0\n"
                                  "again = 3s crash node=1\n";

/* A join at a stagger slot that fails is the runner's error. */
Test(run, failed_join_is_kept_in_the_error)
{
    run_fixture fx;
    fixture_open(&fx, crashes_ini, NULL);
    fx.world.fail_node = 1;
    fx.world.fail_rc = -EIO;
    fixture_drive(&fx, 1000000);
    /* Node 1 failed to join at its slot already. */
    cr_assert_not_null(fx.runner.error);
    cr_assert_str_eq(fx.runner.error, "node 1 could not join: Input/output "
                                      "error");
    fixture_close(&fx);
}

/* An operation that fails is recorded in the runner's error, the first
 * failure only, and the rest of the event still runs; answers that only
 * say the node was in that state already are no failures. */
Test(run, failed_event_names_the_event_the_time_and_the_node)
{
    run_fixture fx;
    fixture_open(&fx, crashes_ini, NULL);
    fixture_drive(&fx, 1000000); /* every node joined */
    cr_assert_null(fx.runner.error, "%s", fx.runner.error);
    fx.world.fail_node = 1;
    fx.world.fail_rc = -EIO;
    fixture_drive(&fx, 4000000);
    assert_log(&fx.world, "0 join 0\n"
                          "0 join 1\n"
                          "0 join 2\n"
                          "1500000 crash 0\n"
                          "1500000 crash 1\n"
                          "1500000 crash 2\n"
                          "2000000 crash 0\n"
                          "3000000 crash 1\n");
    /* Crashing node 0 twice is no failure; node 1's crash at 3 s fails
     * too, but the first failure is the one kept. */
    cr_assert_not_null(fx.runner.error);
    cr_assert_str_eq(fx.runner.error,
                     "crash 'boom' at 1.500 s, node 1: Input/output error");
    fixture_close(&fx);
}

/* A partition the world refuses is an error, and its name is not kept:
 * the heal of that name then has nothing to heal. */
Test(run, refused_partition_is_an_error_and_not_healed)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 2\n"
                 "duration = 3s\n"
                 "sample_interval = 10s\n"
                 "[timeline]\n"
                 "split = 1s partition groups=0|1\n"
                 "mend = 2s heal name=split\n",
                 NULL);
    fx.world.partition_rc = -ENOBUFS;
    fixture_drive(&fx, 3000000);
    assert_log(&fx.world, "0 join 0\n"
                          "0 join 1\n"
                          "1000000 partition groups=0|1\n");
    cr_assert_not_null(fx.runner.error);
    cr_assert_str_eq(fx.runner.error, "partition 'split' at 1.000 s: No "
                                      "buffer space available");
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ */
/* The recording.                                                       */

/* The run row, every node with its address and name, the observer on
 * every engine (the publish's rumor), the timeline with the run's time
 * and the event's label and target, and the membership samples. */
Test(run, recording_has_the_run_nodes_timeline_and_samples)
{
    run_fixture fx;
    run_recording how = {
        .source = "testbed",
        .sweep_id = "0123456789abcdef",
        .sweep_point = "engine.amount=3",
        .repetition = 2,
    };
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 3\n"
                 "seeds = 2\n"
                 "seed = 9\n"
                 "duration = 3s\n"
                 "sample_interval = 1s\n"
                 "heartbeat_sample = 1\n"
                 "[timeline]\n"
                 "news = 1500ms publish node=0 data=hello\n"
                 "split = 2s partition groups=0|1-2\n"
                 "down = 2s crash node=2\n",
                 &how);
    fixture_drive(&fx, 3000000);
    cr_assert_null(fx.runner.error, "%s", fx.runner.error);
    GError *error = NULL;
    cr_assert(ana_recorder_finish(fx.runner.rec, ANA_STATUS_COMPLETE, NULL,
                                  3000000, 0, 0, 0, &error),
              "%s", error ? error->message : "");

    sqlite3 *db = db_open(fx.db_path);
    assert_rows(db,
                "SELECT scenario, seed, source, nodes, status, sweep_id,"
                " sweep_point, repetition FROM run",
                "test-run|9|testbed|3|complete|0123456789abcdef|"
                "engine.amount=3|2\n");
    char *params = scn_scenario_to_json(fx.sc);
    char *sql = sqlite3_mprintf("SELECT count(*) FROM run WHERE params = %Q",
                                params);
    assert_rows(db, sql, "1\n");
    sqlite3_free(sql);
    g_free(params);
    assert_rows(db,
                "SELECT node_id, addr, name, heartbeat_sampled FROM node"
                " ORDER BY node_id",
                "0|127.0.0.1:9000|node-0|0\n"
                "1|127.0.0.1:9001|node-1|1\n"
                "2|127.0.0.1:9002|node-2|0\n");
    assert_rows(db,
                "SELECT count(*) FROM rumor WHERE kind = 'metadata'"
                " AND origin = 0",
                "1\n");
    assert_rows(db, "SELECT t_us, event, detail FROM timeline ORDER BY seq",
                "1500000|publish|news 0\n"
                "2000000|partition|split split\n"
                "2000000|crash|down 2\n");
    assert_rows(db,
                "SELECT t_us, live, complete FROM membership ORDER BY sample",
                "1000000|3|3\n"
                "2000000|2|0\n"
                "3000000|2|0\n");
    sqlite3_close(db);
    fixture_close(&fx);
}

/* ------------------------------------------------------------------ */
/* Ground truth for the failure detector.                               */

/* Every join and lifecycle event tells the recorder what the node is
 * now; when a node stops being up, the nodes whose lists hold it are
 * named; the engines' removals and re-adds follow. Read back, the crash
 * is detected within the timeout plus three cycles (the sweep, and a
 * swap's repair of a missed last heartbeat), no live node was wrongly
 * removed, and the node stopped 3 s before the end (timeout 5 s) is
 * still listed: never detected. */
Test(run, ground_truth_is_recorded_and_judges_removals)
{
    run_fixture fx;
    fixture_open(&fx,
                 "[cluster]\n"
                 "nodes = 4\n"
                 "seeds = 3\n"
                 "seed = 4\n"
                 "duration = 20s\n"
                 "sample_interval = 10s\n"
                 "[engine]\n"
                 "cycle = 1s\n"
                 "[timeline]\n"
                 "down = 5s crash node=2\n"
                 "back = 15s restart node=2\n"
                 "quiet = 17s stop node=1\n",
                 NULL);
    fixture_drive(&fx, 20000000);
    testnet_run_for(fx.world.net, 20000000 - testnet_now_us(fx.world.net));
    cr_assert_null(fx.runner.error, "%s", fx.runner.error);
    GError *error = NULL;
    cr_assert(ana_recorder_finish(fx.runner.rec, ANA_STATUS_COMPLETE, NULL,
                                  20000000, 0, 0, 0, &error),
              "%s", error ? error->message : "");

    sqlite3 *db = db_open(fx.db_path);
    assert_rows(db, "SELECT ground_truth FROM run", "1\n");
    assert_rows(db, "SELECT t_us, node_id, state FROM node_state ORDER BY seq",
                "0|0|up\n0|1|up\n0|2|up\n0|3|up\n"
                "5000000|2|crashed\n15000000|2|up\n17000000|1|stopped\n");
    assert_rows(db,
                "SELECT t_us, group_concat(node_id) FROM (SELECT * FROM"
                " membership_change WHERE change = 'listed' ORDER BY seq)"
                " GROUP BY t_us, peer ORDER BY t_us",
                "5000000|0,1,3\n17000000|0,2,3\n");
    /* Timeout 3 cycles + 2 s = 5 s after the last heartbeat a node
     * held (sent before 5 s, or repaired by a swap a cycle or two later),
     * swept once a cycle: from 10 s on, by 13 s. */
    assert_rows(db,
                "SELECT count(*), min(t_us) >= 10000000,"
                " max(t_us) <= 13000000"
                " FROM membership_change WHERE change = 'expired'"
                " AND peer = 2",
                "3|1|1\n");
    assert_rows(db,
                "SELECT count(DISTINCT node_id), min(t_us) >= 15000000"
                " FROM membership_change WHERE change = 'added'"
                " AND peer = 2",
                "3|1\n");
    assert_rows(db, "SELECT count(*) FROM membership_change WHERE"
                    " change = 'expired' AND peer <> 2",
                "0\n");
    sqlite3_close(db);

    ana_runset set;
    cr_assert(ana_runset_load(fx.db_path, -1, &set, &error), "%s",
              error ? error->message : "");
    cr_assert_eq(set.n_runs, 1);
    const ana_run *run = &set.runs[0];
    cr_assert(run->has_qos);
    cr_assert_float_eq(run->timeout_s, 5.0, 1e-9);
    cr_assert_eq(run->qos.silences, 2);
    cr_assert_eq(run->qos.detected, 1);
    cr_assert_eq(run->qos.undetected, 1);
    cr_assert_eq(run->qos.wrong, 0);
    cr_assert_eq(run->qos.removals, 3);
    cr_assert_eq(run->qos.n_detection, 2);
    double d = run->qos.detection_s[0];
    cr_assert(d >= 5.0 && d <= 8.0, "detection %g s", d);
    cr_assert(isinf(run->qos.detection_s[1]));
    cr_assert_float_eq(run->value[ANA_METRIC_WRONG_REMOVALS], 0.0, 1e-15);
    cr_assert(run->value[ANA_METRIC_PACKETS_PER_CYCLE] > 0);
    ana_runset_clear(&set);

    /* Node 2, back at 15 s, removed by node 0 at 20 s, the timeout
     * after: it had sent heartbeats for a whole timeout and none was
     * heard, so the removal is wrong, although within a cycle of the
     * timeout. */
    cr_assert_eq(sqlite3_open(fx.db_path, &db), SQLITE_OK);
    cr_assert_eq(
        sqlite3_exec(db,
                     "INSERT INTO membership_change (run_id, seq, t_us,"
                     " node_id, peer, change) SELECT 1, max(seq) + 1,"
                     " 20000000, 0, 2, 'expired' FROM (SELECT seq FROM"
                     " node_state UNION ALL SELECT seq FROM"
                     " membership_change)",
                     NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    cr_assert(ana_runset_load(fx.db_path, -1, &set, &error), "%s",
              error ? error->message : "");
    cr_assert_eq(set.runs[0].qos.wrong, 1);
    ana_runset_clear(&set);
    fixture_close(&fx);
}

Test(run, control_escapes_round_trip_every_byte)
{
    /* What a get shows of names and data: printable ASCII as is, every
     * other byte (and the escape's own characters) as \xNN. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    GString *out = g_string_new(NULL);
    run_ctl_escape(out, all, sizeof all);
    for (size_t i = 0; i < out->len; i++)
        cr_assert(out->str[i] > 0x20 && out->str[i] < 0x7f,
                  "byte %zu of the escaped text is 0x%02x", i,
                  (unsigned)(uint8_t)out->str[i]);
    size_t n;
    uint8_t *back = run_ctl_unescape(out->str, out->len, &n);
    cr_assert_not_null(back);
    cr_assert_eq(n, sizeof all);
    cr_assert_eq(memcmp(back, all, n), 0);
    g_free(back);

    g_string_truncate(out, 0);
    run_ctl_escape(out, (const uint8_t *)"a b\\{\x1b\xff", 7);
    cr_assert_str_eq(out->str, "a\\x20b\\x5c\\x7b\\x1b\\xff");
    g_string_free(out, TRUE);
}
