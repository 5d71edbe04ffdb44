/* test-fleet.c: fleet recordings (recorder.h, info.fleet) and their merge
 * into one run (analysis/fleet.h).
 *
 * Each "node" is a recorder driven by hand through the observer
 * callbacks, with a fake real-time clock that reads a known skew ahead of
 * a shared true time, so every corrected time and bound is known. */
#include <criterion/criterion.h>
#include <glib.h>
#include <sqlite3.h>
#include <string.h>

#include "fleet.h"
#include "recorder.h"
#include "testdir.h"

#define S_US 1000000LL
#define MS_US 1000LL

static char *tmpdir;
static int64_t true_now; /* the one true time all fake clocks follow */

static void setup(void)
{
    tmpdir = testdir_make("peko-fleet-XXXXXX");
    cr_assert_not_null(tmpdir);
    true_now = 1000 * S_US;
}

static void teardown(void)
{
    testdir_remove(tmpdir);
}

TestSuite(fleet, .init = setup, .fini = teardown, .timeout = 60);

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static int64_t mono_now(void *user)
{
    (void)user;
    return true_now;
}

static int64_t skewed_now(void *user)
{
    return true_now + *(const int64_t *)user;
}

typedef struct fake_node {
    ana_recorder *rec;
    ana_node_ctx *ctx;
    peko_addr addr;
    int64_t skew_us;
    char *path;
} fake_node;

static peko_addr addr_of(int i)
{
    peko_addr a;
    char host[32];
    g_snprintf(host, sizeof host, "10.77.0.%d", i);
    cr_assert_eq(peko_addr_parse(host, 8000, &a), 0);
    return a;
}

static void node_open(fake_node *n, int i, int64_t skew_us, const char *label)
{
    n->path = g_strdup_printf("%s/node-%d.db", tmpdir, i);
    n->addr = addr_of(i);
    n->skew_us = skew_us;
    ana_run_info info;
    ana_run_info_init(&info);
    info.source = "node";
    info.nodes = 1;
    info.now_us = mono_now;
    info.fleet = true;
    info.run_label = label;
    info.wall_us = skewed_now;
    info.wall_user = &n->skew_us;
    GError *error = NULL;
    n->rec = ana_recorder_open(n->path, &info, &error);
    cr_assert_not_null(n->rec, "%s", error ? error->message : "");
    cr_assert(ana_recorder_add_node(n->rec, 0, &n->addr, NULL, &error));
    n->ctx = ana_recorder_node_ctx(n->rec, 0);
}

static void node_close(fake_node *n)
{
    GError *error = NULL;
    cr_assert(ana_recorder_finish(n->rec, ANA_STATUS_COMPLETE, NULL,
                                  true_now - 1000 * S_US, 1.0, 0, 0, &error),
              "%s", error ? error->message : "");
    ana_recorder_free(n->rec);
    n->rec = NULL;
}

static const peko_observer *obs(void)
{
    return ana_recorder_observer();
}

/* `a` measured `b`'s clock: its true offset plus `noise_us`, within
 * `error_us`. */
static void measure(fake_node *a, const fake_node *b, int64_t noise_us,
                    int64_t error_us)
{
    obs()->clock_offset(a->ctx, &b->addr, b->skew_us - a->skew_us + noise_us,
                        error_us);
}

static peko_rumor metadata_rumor(const fake_node *origin, uint64_t counter)
{
    return (peko_rumor){.kind = PEKO_MSG_METADATA, .origin = origin->addr,
                        .id = counter};
}

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    return db;
}

static int64_t q_int(sqlite3 *db, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int64_t q_int(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    int64_t v = -1;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    g_free(sql);
    return v;
}

/* Three nodes: A on the true clock, B 5 s ahead, C 2 s behind. A
 * publishes at 1010 s; B gets it from A 100 ms later, C from B 250 ms
 * after the publish. Offsets are measured with known noise and bounds. */
static void record_three(fake_node n[3], const char *const labels[3])
{
    node_open(&n[0], 1, 0, labels[0]);
    node_open(&n[1], 2, 5 * S_US, labels[1]);
    node_open(&n[2], 3, -2 * S_US, labels[2]);
    true_now += S_US;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j)
                obs()->node_added(n[i].ctx, &n[j].addr);
    /* A-B: 300 us off within 1 ms; B-C: -200 within 800 us; A-C: a poor
     * 40 ms bound, which the tree must not use (1.8 ms via B is less). */
    measure(&n[0], &n[1], 300, 1000);
    measure(&n[1], &n[0], -250, 2000); /* worse than A's: not kept */
    measure(&n[1], &n[2], -200, 800);
    measure(&n[2], &n[0], 5000, 40000);
    true_now = 1010 * S_US;
    peko_rumor r = metadata_rumor(&n[0], 1);
    obs()->rumor_created(n[0].ctx, &r);
    true_now += 100 * MS_US;
    obs()->rumor_first_seen(n[1].ctx, &r, 0, &n[0].addr);
    true_now += 150 * MS_US;
    obs()->rumor_first_seen(n[2].ctx, &r, 1, &n[1].addr);
    true_now = 1020 * S_US;
    for (int i = 0; i < 3; i++)
        node_close(&n[i]);
}

static void nodes_free(fake_node *n, int count)
{
    for (int i = 0; i < count; i++) {
        ana_recorder_free(n[i].rec);
        g_free(n[i].path);
    }
}

static gboolean merge3(const fake_node n[3], const char *out,
                       const ana_fleet_options *opts, ana_fleet_result *res,
                       GError **error)
{
    const char *inputs[] = {n[2].path, n[0].path, n[1].path};
    return ana_fleet_merge(out, inputs, 3, opts, res, error);
}

Test(fleet, node_records_receipts_members_and_offsets_on_its_clock)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "L"};
    record_three(n, labels);
    sqlite3 *db = db_open(n[1].path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM run WHERE run_label = 'L'"
                           " AND wall_t0_us = %lld",
                       1000 * S_US + 5 * S_US),
                 1);
    /* B's receipt, on B's clock: true 1010.1 s + 5 s. */
    cr_assert_eq(q_int(db, "SELECT wall_us FROM fleet_receipt WHERE via ="
                           " 'rumor' AND kind = 'metadata' AND origin_addr"
                           " = '10.77.0.1:8000' AND from_addr ="
                           " '10.77.0.1:8000' AND hops = 1"),
                 1015 * S_US + 100 * MS_US);
    cr_assert_eq(q_int(db, "SELECT max(members) FROM fleet_members"), 2);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM fleet_members"), 3);
    cr_assert_eq(q_int(db, "SELECT offset_us FROM clock_offset WHERE"
                           " peer_addr = '10.77.0.3:8000' AND source ="
                           " 'swap'"),
                 -7 * S_US - 200);
    sqlite3_close(db);
    nodes_free(n, 3);
}

Test(fleet, merge_puts_every_node_on_the_reference_clock)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "L"};
    record_three(n, labels);
    char *out = tmp_path("fleet.db");
    ana_fleet_result res;
    GError *error = NULL;
    cr_assert(merge3(n, out, NULL, &res, &error), "%s",
              error ? error->message : "");
    cr_assert_eq(res.nodes, 3);
    /* B has the best links (1 ms to A, 0.8 ms to C): the reference. */
    cr_assert_eq(res.reference, 1);
    sqlite3 *db = db_open(out);
    cr_assert_eq(q_int(db, "SELECT nodes FROM run"), 3);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM run WHERE source ="
                           " 'fleet' AND run_label = 'L'"),
                 1);
    /* Offsets to B: A reads 5 s behind (measured 300 us off), C 7 s
     * behind (200 us off); bounds are the links'. */
    cr_assert_eq(q_int(db, "SELECT offset_us FROM clock_correction WHERE"
                           " node_id = 0"),
                 -(5 * S_US + 300));
    cr_assert_eq(q_int(db, "SELECT error_us FROM clock_correction WHERE"
                           " node_id = 0"),
                 1000);
    cr_assert_eq(q_int(db, "SELECT offset_us FROM clock_correction WHERE"
                           " node_id = 2"),
                 -(7 * S_US + 200));
    cr_assert_eq(q_int(db, "SELECT error_us FROM clock_correction WHERE"
                           " node_id = 2"),
                 800);
    /* The true delays are 100 and 250 ms; the corrected ones differ by
     * the measurement noise only, well within the bounds. */
    int64_t t_b = q_int(db, "SELECT t_us FROM infection i JOIN rumor r"
                            " USING (run_id, rumor_id) WHERE r.kind ="
                            " 'metadata' AND node_id = 1");
    int64_t t_c = q_int(db, "SELECT t_us FROM infection i JOIN rumor r"
                            " USING (run_id, rumor_id) WHERE r.kind ="
                            " 'metadata' AND node_id = 2");
    cr_assert_eq(t_b, 100 * MS_US - 300);
    cr_assert_eq(t_c, 250 * MS_US - 300 + 200);
    cr_assert(llabs(t_b - 100 * MS_US) <= 1000 + 1000);
    cr_assert_eq(q_int(db, "SELECT t100_us FROM rumor_summary WHERE kind ="
                           " 'metadata'"),
                 t_c);
    cr_assert_eq(q_int(db, "SELECT from_node FROM infection WHERE node_id"
                           " = 2"),
                 1);
    /* Membership: run time 0 is B's start (the earliest on B's clock);
     * the nodes list each other from 1 s (A's rows 300 us later on it),
     * so the first sample complete everywhere is at 1.1 s. */
    cr_assert_eq(q_int(db, "SELECT min(t_us) FROM membership WHERE live ="
                           " 3 AND complete = 3"),
                 1100 * MS_US);
    cr_assert_eq(q_int(db, "SELECT live FROM membership WHERE t_us = 0"), 1);
    sqlite3_close(db);
    g_free(out);
    nodes_free(n, 3);
}

Test(fleet, common_clock_applies_no_offset)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "L"};
    record_three(n, labels);
    char *out = tmp_path("common.db");
    ana_fleet_options opts;
    ana_fleet_options_init(&opts);
    opts.clocks = ANA_FLEET_CLOCKS_COMMON;
    ana_fleet_result res;
    GError *error = NULL;
    /* The clocks are not common here, and the runs still overlap: the
     * times come out uncorrected, which is what "common" promises. */
    cr_assert(merge3(n, out, &opts, &res, &error), "%s",
              error ? error->message : "");
    cr_assert_eq(res.max_error_us, 0);
    cr_assert_eq(res.max_offset_us, 0);
    sqlite3 *db = db_open(out);
    cr_assert_eq(q_int(db, "SELECT sum(abs(offset_us)) + sum(error_us)"
                           " FROM clock_correction"),
                 0);
    cr_assert_eq(q_int(db, "SELECT t_us FROM infection i JOIN rumor r"
                           " USING (run_id, rumor_id) WHERE r.kind ="
                           " 'metadata' AND node_id = 1"),
                 5 * S_US + 100 * MS_US);
    sqlite3_close(db);
    g_free(out);
    nodes_free(n, 3);
}

Test(fleet, mixed_labels_are_refused)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "other"};
    record_three(n, labels);
    char *out = tmp_path("mixed.db");
    GError *error = NULL;
    cr_assert_not(merge3(n, out, NULL, NULL, &error));
    cr_assert_not_null(error);
    cr_assert(strstr(error->message, "different deployments") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    /* With the label named, the other files are the odd ones out. */
    ana_fleet_options opts;
    ana_fleet_options_init(&opts);
    opts.run_label = "other";
    cr_assert_not(merge3(n, out, &opts, NULL, &error));
    cr_assert(strstr(error->message, "'other' (--run-label)") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    cr_assert_not(g_file_test(out, G_FILE_TEST_EXISTS));
    g_free(out);
    nodes_free(n, 3);
}

Test(fleet, runs_that_do_not_overlap_are_refused)
{
    fake_node n[2];
    node_open(&n[0], 1, 0, "L");
    true_now += S_US;
    measure(&n[0], &n[0], 0, 0); /* a self-measure is ignored */
    node_close(&n[0]);
    true_now += 3600 * S_US;
    node_open(&n[1], 2, 0, "L");
    true_now += S_US;
    node_close(&n[1]);
    char *out = tmp_path("late.db");
    const char *inputs[] = {n[0].path, n[1].path};
    ana_fleet_options opts;
    ana_fleet_options_init(&opts);
    opts.clocks = ANA_FLEET_CLOCKS_COMMON;
    GError *error = NULL;
    cr_assert_not(ana_fleet_merge(out, inputs, 2, &opts, NULL, &error));
    cr_assert(strstr(error->message, "must overlap") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    /* Measured clocks: no link between them at all. */
    cr_assert_not(ana_fleet_merge(out, inputs, 2, NULL, NULL, &error));
    cr_assert(strstr(error->message, "no clock offset links") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    g_free(out);
    nodes_free(n, 2);
}

Test(fleet, a_node_twice_and_a_second_merge_are_refused)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "L"};
    record_three(n, labels);
    char *out = tmp_path("twice.db");
    GError *error = NULL;
    const char *dup[] = {n[0].path, n[0].path};
    cr_assert_not(ana_fleet_merge(out, dup, 2, NULL, NULL, &error));
    cr_assert(strstr(error->message, "one recording per node") != NULL,
              "%s", error->message);
    g_clear_error(&error);
    cr_assert(merge3(n, out, NULL, NULL, &error), "%s",
              error ? error->message : "");
    cr_assert_not(merge3(n, out, NULL, NULL, &error));
    cr_assert(strstr(error->message, "count the deployment twice") != NULL,
              "%s", error->message);
    g_clear_error(&error);
    sqlite3 *db = db_open(out);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM run"), 1);
    sqlite3_close(db);
    g_free(out);
    nodes_free(n, 3);
}

Test(fleet, a_recording_without_fleet_rows_is_refused)
{
    /* A simulator-style run: no label, no real-time clock. */
    char *path = tmp_path("sim.db");
    ana_run_info info;
    ana_run_info_init(&info);
    info.nodes = 2;
    info.now_us = mono_now;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec);
    cr_assert(ana_recorder_finish(rec, ANA_STATUS_COMPLETE, NULL, 0, 0, 0, 0,
                                  &error));
    ana_recorder_free(rec);
    char *out = tmp_path("out.db");
    const char *inputs[] = {path};
    cr_assert_not(ana_fleet_merge(out, inputs, 1, NULL, NULL, &error));
    cr_assert(strstr(error->message, "--run-label") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    /* A fleet recording needs its real-time clock. */
    info.fleet = true;
    cr_assert_null(ana_recorder_open(path, &info, &error));
    cr_assert(strstr(error->message, "wall_us") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    g_free(out);
    g_free(path);
}

Test(fleet, older_schema_is_refused_with_the_way_out)
{
    char *path = tmp_path("v3.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "PRAGMA application_id = 1885694831;"
                              " PRAGMA user_version = 3;"
                              " CREATE TABLE run (run_id INTEGER);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    char *out = tmp_path("out.db");
    const char *inputs[] = {path};
    GError *error = NULL;
    cr_assert_not(ana_fleet_merge(out, inputs, 1, NULL, NULL, &error));
    cr_assert(strstr(error->message, "older peko") != NULL, "%s",
              error->message);
    g_clear_error(&error);
    g_free(out);
    g_free(path);
}

/* The merged rows do not depend on the order of the files. */
Test(fleet, input_order_does_not_matter)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "L"};
    record_three(n, labels);
    char *out1 = tmp_path("one.db"), *out2 = tmp_path("two.db");
    GError *error = NULL;
    cr_assert(merge3(n, out1, NULL, NULL, &error));
    const char *reversed[] = {n[1].path, n[2].path, n[0].path};
    cr_assert(ana_fleet_merge(out2, reversed, 3, NULL, NULL, &error));
    static const char *const queries[] = {
        "SELECT group_concat(node_id || addr, ',') FROM node",
        "SELECT group_concat(rumor_id || kind || origin || created_us ||"
        " engine_id, ',') FROM rumor",
        "SELECT group_concat(rumor_id || ':' || node_id || ':' || t_us ||"
        " ':' || coalesce(hops, '') || via, ',') FROM infection",
        "SELECT group_concat(node_id || ':' || offset_us || ':' || error_us,"
        " ',') FROM clock_correction",
        "SELECT group_concat(t_us || ':' || live || ':' || complete, ',')"
        " FROM membership",
    };
    sqlite3 *a = db_open(out1), *b = db_open(out2);
    for (size_t i = 0; i < G_N_ELEMENTS(queries); i++) {
        sqlite3_stmt *sa = NULL, *sb = NULL;
        cr_assert_eq(sqlite3_prepare_v2(a, queries[i], -1, &sa, NULL),
                     SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(b, queries[i], -1, &sb, NULL),
                     SQLITE_OK);
        cr_assert_eq(sqlite3_step(sa), SQLITE_ROW);
        cr_assert_eq(sqlite3_step(sb), SQLITE_ROW);
        const char *ta = (const char *)sqlite3_column_text(sa, 0);
        const char *tb = (const char *)sqlite3_column_text(sb, 0);
        cr_assert_not_null(ta);
        cr_assert_str_eq(ta, tb, "%s", queries[i]);
        sqlite3_finalize(sa);
        sqlite3_finalize(sb);
    }
    sqlite3_close(a);
    sqlite3_close(b);
    g_free(out1);
    g_free(out2);
    nodes_free(n, 3);
}

/* A forged time cannot overflow the arithmetic: it is refused. */
Test(fleet, times_out_of_range_are_refused)
{
    fake_node n[3];
    const char *labels[] = {"L", "L", "L"};
    record_three(n, labels);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(n[1].path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "UPDATE clock_offset SET offset_us ="
                              " 9000000000000000000",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    char *out = tmp_path("forged.db");
    GError *error = NULL;
    cr_assert_not(merge3(n, out, NULL, NULL, &error));
    cr_assert(strstr(error->message, "out of range") != NULL, "%s",
              error->message);
    cr_assert(strstr(error->message, n[1].path) != NULL, "%s",
              error->message);
    g_clear_error(&error);
    g_free(out);
    nodes_free(n, 3);
}
