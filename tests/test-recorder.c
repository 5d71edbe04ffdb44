/* test-recorder.c: the SQLite recorder (analysis/recorder.h) and the
 * schema it writes (analysis/schema.h, docs/schema.md).
 *
 * Runs are either driven by hand through the observer callbacks with a
 * fake clock, where every expected row is known, or by a small simulated
 * world (sim/world.h) with a fixed seed, where the rows are checked
 * against the engines' own counters. Every test works in its own temporary
 * directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recorder.h"
#include "testdir.h"
#include "world.h"

#define SECOND_US 1000000LL

static char *tmpdir;

static void setup(void)
{
    tmpdir = testdir_make("peko-rec-XXXXXX");
    cr_assert_not_null(tmpdir);
}

static void teardown(void)
{
    testdir_remove(tmpdir);
}

TestSuite(recorder, .init = setup, .fini = teardown, .timeout = 120);

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* ------------------------------------------------------------------ */
/* Reading the database back.                                           */

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                 SQLITE_OK, "open %s", path);
    return db;
}

/* The first column of the first row as an integer; NULL reads as -1. */
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
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql,
              sqlite3_errmsg(db));
    int64_t v = -1;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    g_free(sql);
    return v;
}

/* The first column of the first row as text (owned); NULL for none. */
static char *q_text(sqlite3 *db, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static char *q_text(sqlite3 *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = g_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    g_free(sql);
    return v;
}

static void assert_text(sqlite3 *db, const char *expected, const char *sql)
{
    char *got = q_text(db, "%s", sql);
    cr_assert_not_null(got, "%s: no value", sql);
    cr_assert_str_eq(got, expected, "%s", sql);
    g_free(got);
}

/* ------------------------------------------------------------------ */
/* Runs by hand, with a fake clock.                                     */

static int64_t fake_now_us;

static int64_t fake_clock(void *user)
{
    return fake_now_us;
}

static peko_addr node_addr(size_t i)
{
    peko_addr a;
    char host[32];
    g_snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
    cr_assert_eq(peko_addr_parse(host, 8000, &a), 0);
    return a;
}

static ana_recorder *open_by_hand(const char *path, size_t n, size_t k)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "by-hand";
    info.params_json = "{\"nodes\": 4}";
    info.seed = 7;
    info.nodes = n;
    info.heartbeat_origins = k;
    info.now_us = fake_clock;
    fake_now_us = 0;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec, "open: %s", error ? error->message : "?");
    for (size_t i = 0; i < n; i++) {
        peko_addr a = node_addr(i);
        char name[16];
        g_snprintf(name, sizeof name, "node-%zu", i);
        cr_assert(ana_recorder_add_node(rec, i, &a, name, &error), "%s",
                  error ? error->message : "?");
    }
    return rec;
}

static void finish_ok(ana_recorder *rec, ana_status status)
{
    GError *error = NULL;
    cr_assert(ana_recorder_finish(rec, status, "0123456789abcdef",
                                  fake_now_us, 0.5, 10, 20, &error),
              "finish: %s", error ? error->message : "?");
}

/* The engine's order for one received rumor copy: packet_received, then
 * first_seen or duplicate, then its forwards. */
static void receive(ana_recorder *rec, size_t node, const peko_rumor *rumor,
                    unsigned hops, size_t from, bool first, int forwards)
{
    const peko_observer *obs = ana_recorder_observer();
    void *ctx = ana_recorder_node_ctx(rec, node);
    peko_addr from_addr = node_addr(from);
    obs->packet_received(ctx, rumor->kind, &from_addr, 100);
    if (first)
        obs->rumor_first_seen(ctx, rumor, hops, &from_addr);
    else
        obs->rumor_duplicate(ctx, rumor, hops, &from_addr);
    for (int f = 0; f < forwards; f++) {
        peko_addr to = node_addr((node + 1 + (size_t)f) % 4);
        obs->packet_sent(ctx, rumor->kind, &to, 100);
    }
}

/* ------------------------------------------------------------------ */
/* Runs of a simulated world.                                           */

static int64_t world_clock(void *user)
{
    return sim_world_now_us(user);
}

static sim_world *make_world(size_t n, uint64_t seed)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    sim_world *w = NULL;
    cr_assert_eq(sim_world_new(n, &config, seed, &w), 0);
    return w;
}

static ana_recorder *record_world(sim_world *w, const char *path, size_t k,
                                  uint32_t every, size_t batch_rows)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "test-world";
    info.seed = 1;
    info.nodes = sim_world_size(w);
    info.heartbeat_origins = k;
    info.heartbeat_every = every;
    info.batch_rows = batch_rows;
    info.started_at = "2022-05-19T14:51:23Z";
    info.now_us = world_clock;
    info.now_user = w;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec, "open: %s", error ? error->message : "?");
    for (size_t i = 0; i < sim_world_size(w); i++) {
        char name[24];
        g_snprintf(name, sizeof name, "node-%zu", i);
        cr_assert(ana_recorder_add_node(rec, i, sim_world_addr(w, i), name,
                                        &error));
        peko_nodelist_set_observer(sim_world_node(w, i),
                                   ana_recorder_observer(),
                                   ana_recorder_node_ctx(rec, i));
    }
    return rec;
}

/* Everyone joins through node 0, runs 10 s, node 2 publishes, runs to
 * 20 s; membership is sampled every second by the test, as the
 * simulator would. */
static void run_script(sim_world *w, ana_recorder *rec)
{
    size_t n = sim_world_size(w);
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(sim_world_addr(w, 0), host);
    peko_node seed_node = {.addr = host, .port = sim_world_addr(w, 0)->port};
    for (size_t i = 0; i < n; i++) {
        if (i != 0)
            cr_assert_eq(peko_nodelist_set(sim_world_node(w, i), &seed_node),
                         0);
        cr_assert_eq(peko_nodelist_join(sim_world_node(w, i)), 0);
    }
    ana_recorder_timeline(rec, 0, "join", "all nodes via node 0");
    for (int64_t t = 1; t <= 20; t++) {
        if (t == 11) {
            const char *meta = "hello from peko";
            cr_assert_eq(peko_nodelist_publish(sim_world_node(w, 2),
                                               (const uint8_t *)meta,
                                               strlen(meta)),
                         0);
            ana_recorder_timeline(rec, sim_world_now_us(w), "publish",
                                  "node=2");
        }
        sim_world_run_until(w, t * SECOND_US);
        size_t complete = 0;
        for (size_t i = 0; i < n; i++)
            complete += peko_nodelist_count(sim_world_node(w, i)) == n;
        ana_recorder_membership(rec, sim_world_now_us(w), n, complete);
    }
}

static void finish_world(sim_world *w, ana_recorder *rec)
{
    sim_world_stats ws;
    sim_world_stats_get(w, &ws);
    char hash[ANA_TRACE_HASH_STRLEN];
    ana_trace_hash_format(sim_world_trace_hash(w), hash);
    GError *error = NULL;
    cr_assert(ana_recorder_finish(rec, ANA_STATUS_COMPLETE, hash, ws.now_us,
                                  0.25, ws.events, ws.deliveries, &error),
              "finish: %s", error ? error->message : "?");
}

/* ------------------------------------------------------------------ */
/* The schema.                                                          */

Test(recorder, schema_created_and_versioned)
{
    char *path = tmp_path("runs.db");
    ana_recorder *rec = open_by_hand(path, 3, 3);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);

    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "PRAGMA user_version"), ANA_SCHEMA_VERSION);
    cr_assert_eq(q_int(db, "PRAGMA application_id"), ANA_APPLICATION_ID);
    assert_text(db, "wal", "PRAGMA journal_mode");
    const char *tables[] = {"run",        "node",           "rumor",
                            "infection",  "traffic",        "rejection",
                            "membership", "metadata_version", "timeline",
                            "node_state", "membership_change"};
    for (size_t i = 0; i < G_N_ELEMENTS(tables); i++)
        cr_assert_eq(q_int(db,
                           "SELECT count(*) FROM sqlite_schema WHERE "
                           "type = 'table' AND name = '%s'",
                           tables[i]),
                     1, "table %s", tables[i]);
    const char *views[] = {"rumor_summary", "traffic_summary",
                           "metadata_summary", "run_summary", "node_down"};
    for (size_t i = 0; i < G_N_ELEMENTS(views); i++)
        cr_assert_eq(q_int(db,
                           "SELECT count(*) FROM sqlite_schema WHERE "
                           "type = 'view' AND name = '%s'",
                           views[i]),
                     1, "view %s", views[i]);
    assert_text(db, "ok", "PRAGMA integrity_check");
    /* The run row as finish left it. */
    assert_text(db, "complete", "SELECT status FROM run");
    assert_text(db, "by-hand", "SELECT scenario FROM run");
    assert_text(db, "0123456789abcdef", "SELECT trace_hash FROM run");
    cr_assert_eq(q_int(db, "SELECT json_extract(params, '$.nodes') FROM run"),
                 4);
    cr_assert_eq(q_int(db, "SELECT seed FROM run"), 7);
    cr_assert_eq(q_int(db, "SELECT events FROM run"), 10);
    cr_assert_eq(q_int(db, "SELECT deliveries FROM run"), 20);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM node"), 3);
    assert_text(db, "10.0.0.2:8000", "SELECT addr FROM node WHERE node_id = 1");
    sqlite3_close(db);
    g_free(path);
}

Test(recorder, runs_append_with_distinct_ids)
{
    char *path = tmp_path("sweep.db");
    int64_t ids[3];
    for (int r = 0; r < 3; r++) {
        ana_recorder *rec = open_by_hand(path, 4, 0);
        ids[r] = ana_recorder_run_id(rec);
        finish_ok(rec, ANA_STATUS_COMPLETE);
        ana_recorder_free(rec);
    }
    cr_assert_neq(ids[0], ids[1]);
    cr_assert_neq(ids[1], ids[2]);
    cr_assert_neq(ids[0], ids[2]);
    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM run"), 3);
    cr_assert_eq(q_int(db, "SELECT count(DISTINCT run_id) FROM node"), 3);
    for (int r = 0; r < 3; r++)
        cr_assert_eq(q_int(db,
                           "SELECT count(*) FROM node WHERE run_id = %lld",
                           (long long)ids[r]),
                     4);
    sqlite3_close(db);
    g_free(path);
}

/* ------------------------------------------------------------------ */
/* Rows of a hand-made run, and the summary view.                       */

Test(recorder, rumor_summary_by_hand)
{
    char *path = tmp_path("hand.db");
    ana_recorder *rec = open_by_hand(path, 4, 4);
    const peko_observer *obs = ana_recorder_observer();

    /* Rumor 1: metadata of node 0, created at 1000 us, reaches node 1 at
     * +10, node 2 at +20 (through node 1), node 3 at +50. */
    peko_rumor meta = {.kind = PEKO_MSG_METADATA,
                       .origin = node_addr(0),
                       .id = 1};
    peko_version v1 = {.counter = 1, .origin = node_addr(0)};
    fake_now_us = 1000;
    obs->metadata_applied(ana_recorder_node_ctx(rec, 0), &v1, 0, 5);
    obs->rumor_created(ana_recorder_node_ctx(rec, 0), &meta);
    for (int f = 0; f < 3; f++) {
        peko_addr to = node_addr(1 + (size_t)f);
        obs->packet_sent(ana_recorder_node_ctx(rec, 0), PEKO_MSG_METADATA,
                         &to, 100);
    }
    fake_now_us = 1010;
    obs->metadata_applied(ana_recorder_node_ctx(rec, 1), &v1,
                          PEKO_MSG_METADATA, 5);
    receive(rec, 1, &meta, 0, 0, true, 2);
    fake_now_us = 1020;
    receive(rec, 2, &meta, 1, 1, true, 0);
    /* Reported first again (a seen-cache eviction): still one row. */
    receive(rec, 1, &meta, 0, 0, true, 0);
    receive(rec, 1, &meta, 2, 2, false, 0);
    fake_now_us = 1050;
    receive(rec, 3, &meta, 1, 1, true, 0);

    /* Rumor 2: node 1's heartbeat at 2000 reaches node 0 at +100 only. */
    peko_rumor hb = {.kind = PEKO_MSG_HEARTBEAT,
                     .origin = node_addr(1),
                     .id = (77ULL << 32) | 1};
    fake_now_us = 2000;
    obs->rumor_created(ana_recorder_node_ctx(rec, 1), &hb);
    fake_now_us = 2100;
    receive(rec, 0, &hb, 0, 1, true, 1);

    /* Rumor 3: metadata version 2 of node 3 at 3000; node 0 gets it by a
     * swap response from node 3 at +500, and its rumor copy later is a
     * duplicate (no second row). */
    peko_rumor meta2 = {.kind = PEKO_MSG_METADATA,
                        .origin = node_addr(3),
                        .id = 2};
    peko_version v2 = {.counter = 2, .origin = node_addr(3)};
    fake_now_us = 3000;
    obs->metadata_applied(ana_recorder_node_ctx(rec, 3), &v2, 0, 7);
    obs->rumor_created(ana_recorder_node_ctx(rec, 3), &meta2);
    fake_now_us = 3500;
    peko_addr a3 = node_addr(3);
    obs->packet_received(ana_recorder_node_ctx(rec, 0),
                         PEKO_MSG_SWAP_RESPONSE, &a3, 60);
    obs->metadata_applied(ana_recorder_node_ctx(rec, 0), &v2,
                          PEKO_MSG_SWAP_RESPONSE, 7);
    fake_now_us = 3600;
    receive(rec, 0, &meta2, 0, 3, false, 0);

    /* A heartbeat of an origin nobody created here: not recorded. */
    peko_rumor stray = {.kind = PEKO_MSG_HEARTBEAT,
                        .origin = node_addr(2),
                        .id = 5};
    receive(rec, 3, &stray, 0, 2, true, 0);

    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);

    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor"), 3);
    assert_text(db, "metadata", "SELECT kind FROM rumor WHERE rumor_id = 1");
    assert_text(db, "heartbeat", "SELECT kind FROM rumor WHERE rumor_id = 2");
    cr_assert_eq(q_int(db, "SELECT incarnation FROM rumor WHERE rumor_id = 2"),
                 77);
    cr_assert_eq(q_int(db, "SELECT sequence FROM rumor WHERE rumor_id = 2"),
                 1);
    assert_text(db, "0000004d00000001",
                "SELECT engine_id FROM rumor WHERE rumor_id = 2");
    cr_assert_eq(q_int(db, "SELECT created_us FROM rumor WHERE rumor_id = 1"),
                 1000);
    /* Counters: 3 sent by the origin, 2 forwarded by node 1. */
    cr_assert_eq(q_int(db, "SELECT messages FROM rumor WHERE rumor_id = 1"),
                 5);
    cr_assert_eq(q_int(db, "SELECT copies FROM rumor WHERE rumor_id = 1"), 5);
    cr_assert_eq(q_int(db, "SELECT duplicates FROM rumor WHERE rumor_id = 1"),
                 1);

    /* Infections, relative to creation, one per node. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection WHERE rumor_id = 1"),
                 4);
    cr_assert_eq(q_int(db, "SELECT t_us FROM infection WHERE rumor_id = 1 "
                           "AND node_id = 2"),
                 20);
    cr_assert_eq(q_int(db, "SELECT hops FROM infection WHERE rumor_id = 1 "
                           "AND node_id = 2"),
                 2);
    cr_assert_eq(q_int(db, "SELECT from_node FROM infection WHERE "
                           "rumor_id = 1 AND node_id = 2"),
                 1);
    assert_text(db, "origin",
                "SELECT via FROM infection WHERE rumor_id = 1 AND node_id = 0");
    cr_assert_eq(q_int(db, "SELECT t_us FROM infection WHERE rumor_id = 1 "
                           "AND node_id = 0"),
                 0);
    cr_assert_eq(q_int(db, "SELECT from_node FROM infection WHERE "
                           "rumor_id = 1 AND node_id = 0"),
                 -1);
    /* By swap: no hops, the swap's sender, relative time. */
    assert_text(db, "swap",
                "SELECT via FROM infection WHERE rumor_id = 3 AND node_id = 0");
    cr_assert_eq(q_int(db, "SELECT t_us FROM infection WHERE rumor_id = 3 "
                           "AND node_id = 0"),
                 500);
    cr_assert_eq(q_int(db, "SELECT hops FROM infection WHERE rumor_id = 3 "
                           "AND node_id = 0"),
                 -1);
    cr_assert_eq(q_int(db, "SELECT from_node FROM infection WHERE "
                           "rumor_id = 3 AND node_id = 0"),
                 3);

    /* The view: 4 nodes, so t50 is the 2nd infection, t90, t99 and t100
     * the 4th. */
    cr_assert_eq(q_int(db, "SELECT infected FROM rumor_summary "
                           "WHERE rumor_id = 1"),
                 4);
    cr_assert_eq(q_int(db, "SELECT t50_us FROM rumor_summary "
                           "WHERE rumor_id = 1"),
                 10);
    cr_assert_eq(q_int(db, "SELECT t90_us FROM rumor_summary "
                           "WHERE rumor_id = 1"),
                 50);
    cr_assert_eq(q_int(db, "SELECT t99_us FROM rumor_summary "
                           "WHERE rumor_id = 1"),
                 50);
    cr_assert_eq(q_int(db, "SELECT t100_us FROM rumor_summary "
                           "WHERE rumor_id = 1"),
                 50);
    cr_assert_eq(q_int(db, "SELECT messages_per_node * 100 FROM "
                           "rumor_summary WHERE rumor_id = 1"),
                 125);
    cr_assert_eq(q_int(db, "SELECT infected FROM rumor_summary "
                           "WHERE rumor_id = 2"),
                 2);
    cr_assert_eq(q_int(db, "SELECT t50_us FROM rumor_summary "
                           "WHERE rumor_id = 2"),
                 100);
    cr_assert_eq(q_int(db, "SELECT t90_us FROM rumor_summary "
                           "WHERE rumor_id = 2"),
                 -1, "never reached 90%%: NULL");
    cr_assert_eq(q_int(db, "SELECT t100_us FROM rumor_summary "
                           "WHERE rumor_id = 2"),
                 -1, "never reached everyone: NULL");

    /* Metadata versions: when each node first held which version. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM metadata_version"), 4);
    assert_text(db, "publish",
                "SELECT via FROM metadata_version WHERE node_id = 0 "
                "AND counter = 1");
    assert_text(db, "swap_response",
                "SELECT via FROM metadata_version WHERE node_id = 0 "
                "AND counter = 2");
    cr_assert_eq(q_int(db, "SELECT t_us FROM metadata_version WHERE "
                           "node_id = 0 AND counter = 2"),
                 3500);
    cr_assert_eq(q_int(db, "SELECT origin FROM metadata_version WHERE "
                           "node_id = 0 AND counter = 2"),
                 3);
    assert_text(db, "10.0.0.4:8000",
                "SELECT origin_addr FROM metadata_version WHERE node_id = 0 "
                "AND counter = 2");

    /* Traffic: the duplicate counted with the bytes of its packet. */
    cr_assert_eq(q_int(db, "SELECT packets FROM traffic WHERE node_id = 1 "
                           "AND type = 'metadata' AND outcome = 'duplicate'"),
                 1);
    cr_assert_eq(q_int(db, "SELECT bytes FROM traffic WHERE node_id = 1 "
                           "AND type = 'metadata' AND outcome = 'duplicate'"),
                 100);
    cr_assert_eq(q_int(db, "SELECT packets FROM traffic WHERE node_id = 1 "
                           "AND type = 'metadata' AND outcome = 'received'"),
                 3);
    sqlite3_close(db);
    g_free(path);
}

/* A heartbeat version learned by anti-entropy supersedes the older ones:
 * the node holds each recorded heartbeat of that incarnation up to it
 * (via swap, no hops, from the swap's sender), and nothing newer, of
 * another incarnation or of an unrecorded origin. */
Test(recorder, learned_heartbeat_supersedes_older_ones)
{
    char *path = tmp_path("learned.db");
    ana_recorder *rec = open_by_hand(path, 3, 3);
    const peko_observer *obs = ana_recorder_observer();
    for (uint32_t seq = 1; seq <= 4; seq++) {
        peko_rumor hb = {.kind = PEKO_MSG_HEARTBEAT,
                         .origin = node_addr(1),
                         .id = (9ULL << 32) | seq};
        fake_now_us = 1000 * (int64_t)seq;
        obs->rumor_created(ana_recorder_node_ctx(rec, 1), &hb);
    }
    /* Node 0 got heartbeat 1 by rumor; at 10 ms it learns version 3
     * from node 2 by swap: it then holds 2 and 3 (1 already), not 4. */
    peko_rumor hb1 = {.kind = PEKO_MSG_HEARTBEAT,
                      .origin = node_addr(1),
                      .id = (9ULL << 32) | 1};
    fake_now_us = 1500;
    receive(rec, 0, &hb1, 0, 1, true, 0);
    fake_now_us = 10000;
    peko_addr a2 = node_addr(2);
    peko_rumor v3 = {.kind = PEKO_MSG_HEARTBEAT,
                     .origin = node_addr(1),
                     .id = (9ULL << 32) | 3};
    obs->heartbeat_learned(ana_recorder_node_ctx(rec, 0), &v3,
                           PEKO_MSG_SWAP_RESPONSE, &a2);
    /* Learning the same again, or an older one, adds nothing; another
     * incarnation's version holds none of these. */
    obs->heartbeat_learned(ana_recorder_node_ctx(rec, 0), &v3,
                           PEKO_MSG_SWAP_RESPONSE, &a2);
    peko_rumor other = {.kind = PEKO_MSG_HEARTBEAT,
                        .origin = node_addr(1),
                        .id = (8ULL << 32) | 4};
    obs->heartbeat_learned(ana_recorder_node_ctx(rec, 2), &other,
                           PEKO_MSG_SWAP_REQUEST, &a2);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);

    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection WHERE node_id = 0"),
                 3);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection i JOIN rumor r "
                           "USING (run_id, rumor_id) WHERE i.node_id = 0 "
                           "AND r.sequence = 4"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection i JOIN rumor r "
                           "USING (run_id, rumor_id) WHERE i.node_id = 0 "
                           "AND i.via = 'swap' AND i.hops IS NULL "
                           "AND i.from_node = 2 AND r.sequence IN (2, 3)"),
                 2);
    /* Heartbeat 2 was created at 2 ms: held 8 ms after its creation. */
    cr_assert_eq(q_int(db, "SELECT i.t_us FROM infection i JOIN rumor r "
                           "USING (run_id, rumor_id) WHERE i.node_id = 0 "
                           "AND r.sequence = 2"), 8000);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection WHERE node_id = 2"),
                 0);
    sqlite3_close(db);
    g_free(path);
}

Test(recorder, hooks_write_traffic_membership_timeline)
{
    char *path = tmp_path("hooks.db");
    ana_recorder *rec = open_by_hand(path, 4, 0);
    fake_now_us = 0;
    ana_recorder_traffic(rec, 1, PEKO_MSG_HEARTBEAT, ANA_OUTCOME_LOST, 2, 180);
    ana_recorder_traffic(rec, 1, PEKO_MSG_HEARTBEAT, ANA_OUTCOME_LOST, 1, 90);
    ana_recorder_traffic(rec, 2, 0, ANA_OUTCOME_PARTITIONED, 5, 500);
    ana_recorder_traffic(rec, 3, PEKO_MSG_METADATA, ANA_OUTCOME_DELIVERED, 1,
                         40);
    ana_recorder_membership(rec, 1000, 4, 1);
    ana_recorder_membership(rec, 2000, 4, 4);
    ana_recorder_membership(rec, 3000, 3, 2);
    ana_recorder_timeline(rec, 500, "partition", "{0,1} | {2,3}");
    ana_recorder_timeline(rec, 2500, "heal", NULL);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);

    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT packets FROM traffic WHERE node_id = 1 "
                           "AND type = 'heartbeat' AND outcome = 'lost'"),
                 3);
    cr_assert_eq(q_int(db, "SELECT bytes FROM traffic WHERE node_id = 1 "
                           "AND type = 'heartbeat' AND outcome = 'lost'"),
                 270);
    cr_assert_eq(q_int(db, "SELECT packets FROM traffic WHERE node_id = 2 "
                           "AND type = 'unknown' AND outcome = 'partitioned'"),
                 5);
    cr_assert_eq(q_int(db, "SELECT packets FROM traffic_summary WHERE "
                           "outcome = 'delivered'"),
                 1);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM membership"), 3);
    cr_assert_eq(q_int(db, "SELECT t_us FROM membership WHERE sample = 2"),
                 3000);
    cr_assert_eq(q_int(db, "SELECT first_converged_us FROM run_summary"),
                 2000);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM timeline"), 2);
    assert_text(db, "partition", "SELECT event FROM timeline WHERE seq = 0");
    assert_text(db, "{0,1} | {2,3}",
                "SELECT detail FROM timeline WHERE seq = 0");
    cr_assert_eq(q_int(db, "SELECT t_us FROM timeline WHERE seq = 1"), 2500);
    sqlite3_close(db);
    g_free(path);
}

/* ------------------------------------------------------------------ */
/* Membership changes and the ground truth.                             */

static ana_recorder *open_truth(const char *path, size_t n)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "truth";
    info.nodes = n;
    info.ground_truth = true;
    info.now_us = fake_clock;
    fake_now_us = 0;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec, "open: %s", error ? error->message : "?");
    for (size_t i = 0; i < n; i++) {
        peko_addr a = node_addr(i);
        cr_assert(ana_recorder_add_node(rec, i, &a, NULL, &error));
    }
    return rec;
}

static void added(ana_recorder *rec, size_t node, size_t peer)
{
    peko_addr a = node_addr(peer);
    ana_recorder_observer()->node_added(ana_recorder_node_ctx(rec, node), &a);
}

static void expired(ana_recorder *rec, size_t node, size_t peer)
{
    peko_addr a = node_addr(peer);
    ana_recorder_observer()->node_expired(ana_recorder_node_ctx(rec, node),
                                          &a);
}

/* Only what the failure detector's analysis needs is written: every
 * state change, every removal, and an addition only when it lists again
 * a node its lister removed, or a node the world knows silent. The cold
 * start's N^2 additions write nothing. Both tables share one seq. */
Test(recorder, membership_changes_and_ground_truth_by_hand)
{
    char *path = tmp_path("truth.db");
    ana_recorder *rec = open_truth(path, 4);
    for (size_t i = 0; i < 4; i++)
        ana_recorder_node_state(rec, i, 0, ANA_NODE_UP);
    ana_recorder_node_state(rec, 0, 0, ANA_NODE_UP); /* a repeat: nothing */
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            if (i != j)
                added(rec, i, j);
    /* Node 3 crashes; nodes 0 and 1 list it then, and remove it. */
    ana_recorder_node_state(rec, 3, 5 * SECOND_US, ANA_NODE_CRASHED);
    ana_recorder_listed(rec, 0, 3, 5 * SECOND_US);
    ana_recorder_listed(rec, 1, 3, 5 * SECOND_US);
    fake_now_us = 13 * SECOND_US;
    expired(rec, 0, 3);
    fake_now_us = 14 * SECOND_US;
    expired(rec, 1, 3);
    fake_now_us = 15 * SECOND_US;
    added(rec, 2, 3); /* a silent node listed */
    /* A live node removed and listed again; then listed once more, which
     * is nothing. */
    fake_now_us = 20 * SECOND_US;
    expired(rec, 0, 1);
    fake_now_us = 21 * SECOND_US;
    added(rec, 0, 1);
    fake_now_us = 22 * SECOND_US;
    added(rec, 0, 1);
    /* A removal by a node that then crashes: its fresh list's addition of
     * that peer is no re-add. */
    fake_now_us = 23 * SECOND_US;
    expired(rec, 1, 2);
    ana_recorder_node_state(rec, 1, 24 * SECOND_US, ANA_NODE_CRASHED);
    fake_now_us = 25 * SECOND_US;
    added(rec, 1, 2);
    ana_recorder_node_state(rec, 1, 25 * SECOND_US, ANA_NODE_UP);
    /* Addresses that are not nodes of the run are counted, not written. */
    peko_addr stranger;
    cr_assert_eq(peko_addr_parse("192.0.2.9", 9, &stranger), 0);
    ana_recorder_observer()->node_expired(ana_recorder_node_ctx(rec, 2),
                                          &stranger);
    fake_now_us = 30 * SECOND_US;
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);

    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT ground_truth FROM run"), 1);
    char *states = q_text(
        db, "SELECT group_concat(seq || ':' || (t_us / 1000000) || ':' ||"
            " node_id || ':' || state, ' ') FROM (SELECT * FROM node_state"
            " ORDER BY seq)");
    cr_assert_str_eq(states, "0:0:0:up 1:0:1:up 2:0:2:up 3:0:3:up "
                             "4:5:3:crashed 13:24:1:crashed 14:25:1:up");
    g_free(states);
    char *changes = q_text(
        db, "SELECT group_concat(seq || ':' || (t_us / 1000000) || ':' ||"
            " node_id || '>' || peer || ':' || change, ' ') FROM"
            " (SELECT * FROM membership_change ORDER BY seq)");
    cr_assert_str_eq(changes, "5:5:0>3:listed 6:5:1>3:listed "
                              "7:13:0>3:expired 8:14:1>3:expired "
                              "9:15:2>3:added 10:20:0>1:expired "
                              "11:21:0>1:added 12:23:1>2:expired");
    g_free(changes);
    /* The per-node counters count every callback, written or not. */
    cr_assert_eq(q_int(db, "SELECT peers_expired FROM node WHERE"
                           " node_id = 2"),
                 1);
    cr_assert_eq(q_int(db, "SELECT peers_added FROM node WHERE"
                           " node_id = 0"),
                 5);
    /* The down intervals, as the view gives them. */
    char *down = q_text(db, "SELECT group_concat(node_id || ':' || cause ||"
                            " ':' || (down_us / 1000000) || '-' ||"
                            " coalesce(up_us / 1000000, 'end'), ' ') FROM"
                            " (SELECT * FROM node_down ORDER BY down_us)");
    cr_assert_str_eq(down, "3:crashed:5-end 1:crashed:24-25");
    g_free(down);
    sqlite3_close(db);
    g_free(path);
}

/* A run recorded without ground truth says so: its removals are written,
 * but nothing can judge them. */
Test(recorder, runs_without_ground_truth_say_so)
{
    char *path = tmp_path("no-truth.db");
    ana_recorder *rec = open_by_hand(path, 2, 0);
    expired(rec, 0, 1);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT ground_truth FROM run"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM membership_change"), 1);
    sqlite3_close(db);
    g_free(path);
}

/* ------------------------------------------------------------------ */
/* A simulated run, checked against the engines' own counters.          */

static void assert_traffic(sqlite3 *db, int64_t run_id, size_t node,
                           const char *type, const char *outcome,
                           uint64_t packets, uint64_t bytes)
{
    int64_t p = q_int(db,
                      "SELECT coalesce(sum(packets), 0) FROM traffic WHERE "
                      "run_id = %lld AND node_id = %zu AND type = '%s' AND "
                      "outcome = '%s'",
                      (long long)run_id, node, type, outcome);
    int64_t b = q_int(db,
                      "SELECT coalesce(sum(bytes), 0) FROM traffic WHERE "
                      "run_id = %lld AND node_id = %zu AND type = '%s' AND "
                      "outcome = '%s'",
                      (long long)run_id, node, type, outcome);
    cr_assert_eq((uint64_t)p, packets, "node %zu %s %s packets", node, type,
                 outcome);
    cr_assert_eq((uint64_t)b, bytes, "node %zu %s %s bytes", node, type,
                 outcome);
}

Test(recorder, sim_run_matches_engine_stats)
{
    char *path = tmp_path("sim.db");
    sim_world *w = make_world(8, 42);
    ana_recorder *rec = record_world(w, path, 8, 1, 0);
    int64_t run_id = ana_recorder_run_id(rec);
    run_script(w, rec);
    finish_world(w, rec);

    sqlite3 *db = db_open(path);
    uint64_t hb_sent = 0, hb_received = 0, meta_sent = 0, meta_received = 0;
    for (size_t i = 0; i < 8; i++) {
        peko_stats st;
        peko_nodelist_stats(sim_world_node(w, i), &st);
        for (int t = PEKO_MSG_HEARTBEAT; t <= PEKO_MSG_SWAP_RESPONSE; t++) {
            const char *type = peko_msg_type_name((peko_msg_type)t);
            assert_traffic(db, run_id, i, type, "sent", st.sent[t],
                           st.sent_bytes[t]);
            assert_traffic(db, run_id, i, type, "received", st.received[t],
                           st.received_bytes[t]);
        }
        hb_sent += st.sent[PEKO_MSG_HEARTBEAT];
        hb_received += st.received[PEKO_MSG_HEARTBEAT];
        meta_sent += st.sent[PEKO_MSG_METADATA];
        meta_received += st.received[PEKO_MSG_METADATA];
        cr_assert_eq((uint64_t)q_int(db,
                                     "SELECT coalesce(sum(packets), 0) FROM "
                                     "traffic WHERE run_id = %lld AND "
                                     "node_id = %zu AND outcome = "
                                     "'duplicate'",
                                     (long long)run_id, i),
                     st.duplicates, "node %zu duplicates", i);
        cr_assert_eq(q_int(db,
                           "SELECT count(*) FROM traffic WHERE run_id = %lld "
                           "AND node_id = %zu AND outcome = 'rejected'",
                           (long long)run_id, i),
                     0);
        cr_assert_eq((uint64_t)q_int(db,
                                     "SELECT peers_added FROM node WHERE "
                                     "run_id = %lld AND node_id = %zu",
                                     (long long)run_id, i),
                     st.nodes_added);
        cr_assert_eq((uint64_t)q_int(db,
                                     "SELECT peers_expired FROM node WHERE "
                                     "run_id = %lld AND node_id = %zu",
                                     (long long)run_id, i),
                     st.nodes_expired);
    }
    cr_assert_gt(hb_sent, 0);
    cr_assert_gt(meta_sent, 0);

    /* Every heartbeat is recorded here (K = nodes): each packet sent
     * carried one recorded rumor and each received copy is counted. */
    cr_assert_eq((uint64_t)q_int(db,
                                 "SELECT sum(messages) FROM rumor WHERE "
                                 "kind = 'heartbeat'"),
                 hb_sent);
    cr_assert_eq((uint64_t)q_int(db,
                                 "SELECT sum(copies) FROM rumor WHERE "
                                 "kind = 'heartbeat'"),
                 hb_received);
    cr_assert_eq((uint64_t)q_int(db,
                                 "SELECT sum(messages) FROM rumor WHERE "
                                 "kind = 'metadata'"),
                 meta_sent);
    cr_assert_eq((uint64_t)q_int(db,
                                 "SELECT sum(copies) FROM rumor WHERE "
                                 "kind = 'metadata'"),
                 meta_received);

    /* Heartbeats: every node, one per cycle from its join at 0 s to the
     * end at 20 s, both included. */
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(q_int(db,
                           "SELECT count(*) FROM rumor WHERE kind = "
                           "'heartbeat' AND origin = %zu",
                           i),
                     21, "node %zu heartbeats", i);
    /* Infections: the origin at 0, the others later, by rumor. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection WHERE via = "
                           "'origin'"),
                 q_int(db, "SELECT count(*) FROM rumor"));
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection i JOIN rumor r "
                           "USING (run_id, rumor_id) WHERE i.via = 'origin' "
                           "AND (i.node_id != r.origin OR i.t_us != 0 OR "
                           "i.hops != 0)"),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection WHERE via = "
                           "'rumor' AND (t_us <= 0 OR hops < 1 OR "
                           "from_node IS NULL)"),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor r WHERE infected != "
                           "(SELECT count(*) FROM infection i WHERE "
                           "i.run_id = r.run_id AND i.rumor_id = r.rumor_id)"),
                 0);
    /* The metadata rumor of node 2 reached all 8 nodes. */
    cr_assert_eq(q_int(db, "SELECT origin FROM rumor WHERE kind = 'metadata'"),
                 2);
    cr_assert_eq(q_int(db, "SELECT infected FROM rumor_summary WHERE kind = "
                           "'metadata'"),
                 8);
    cr_assert_gt(q_int(db, "SELECT t100_us FROM rumor_summary WHERE kind = "
                           "'metadata'"),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM metadata_version WHERE "
                           "counter = 1 AND origin = 2"),
                 8);
    assert_text(db, "publish",
                "SELECT via FROM metadata_version WHERE node_id = 2");
    cr_assert_eq(q_int(db, "SELECT nodes_reached FROM metadata_summary"), 8);
    /* Run row and membership. */
    cr_assert_eq(q_int(db, "SELECT sim_time_us FROM run"), 20 * SECOND_US);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM membership"), 20);
    cr_assert_gt(q_int(db, "SELECT first_converged_us FROM run_summary"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM timeline"), 2);
    sqlite3_close(db);
    ana_recorder_free(rec);
    sim_world_free(w);
    g_free(path);
}

Test(recorder, same_seed_same_rows)
{
    char *path = tmp_path("twice.db");
    for (int r = 0; r < 2; r++) {
        sim_world *w = make_world(12, 5);
        ana_recorder *rec = record_world(w, path, 4, 1, 100);
        run_script(w, rec);
        finish_world(w, rec);
        ana_recorder_free(rec);
        sim_world_free(w);
    }
    sqlite3 *db = db_open(path);
    const char *tables[][2] = {
        {"infection", "rumor_id, node_id, t_us, hops, from_node, via"},
        {"rumor", "rumor_id, kind, origin, created_us, engine_id, infected, "
                  "copies, duplicates, messages"},
        {"traffic", "node_id, type, outcome, packets, bytes"},
        {"metadata_version", "node_id, counter, origin, t_us, via, bytes"},
        {"membership", "sample, t_us, live, complete"},
        {"node", "node_id, addr, name, heartbeat_sampled, peers_added, "
                 "peers_refreshed, peers_expired"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(tables); i++) {
        int64_t n1 = q_int(db, "SELECT count(*) FROM %s WHERE run_id = 1",
                           tables[i][0]);
        cr_assert_gt(n1, 0, "%s has rows", tables[i][0]);
        cr_assert_eq(q_int(db, "SELECT count(*) FROM %s WHERE run_id = 2",
                           tables[i][0]),
                     n1, "%s row count", tables[i][0]);
        cr_assert_eq(q_int(db,
                           "SELECT count(*) FROM (SELECT %s FROM %s WHERE "
                           "run_id = 1 EXCEPT SELECT %s FROM %s WHERE "
                           "run_id = 2)",
                           tables[i][1], tables[i][0], tables[i][1],
                           tables[i][0]),
                     0, "%s rows differ", tables[i][0]);
    }
    assert_text(db, "1", "SELECT count(DISTINCT trace_hash) FROM run");
    sqlite3_close(db);
    g_free(path);
}

Test(recorder, heartbeat_sampling_limits_rows)
{
    char *path = tmp_path("sampled.db");
    int64_t runs[2];
    /* K = 3 of 20 origins (nodes 0, 6, 13), every 2nd heartbeat; then all
     * of them for comparison. */
    for (int r = 0; r < 2; r++) {
        sim_world *w = make_world(20, 9);
        ana_recorder *rec = r == 0 ? record_world(w, path, 3, 2, 0)
                                   : record_world(w, path, 20, 1, 0);
        runs[r] = ana_recorder_run_id(rec);
        run_script(w, rec);
        finish_world(w, rec);
        ana_recorder_free(rec);
        sim_world_free(w);
    }
    sqlite3 *db = db_open(path);
    long long s = runs[0], all = runs[1];
    char *sampled = q_text(db, "SELECT group_concat(node_id) FROM (SELECT "
                               "node_id FROM node WHERE run_id = %lld AND "
                               "heartbeat_sampled ORDER BY node_id)",
                           s);
    cr_assert_str_eq(sampled, "0,6,13");
    g_free(sampled);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor WHERE run_id = %lld "
                           "AND kind = 'heartbeat' AND origin NOT IN "
                           "(0, 6, 13)",
                           s),
                 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor WHERE run_id = %lld "
                           "AND kind = 'heartbeat' AND sequence %% 2 != 1",
                           s),
                 0);
    /* 21 heartbeats each (at 0, 1, ..., 20 s): sequences 1, 3, ..., 21. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor WHERE run_id = %lld "
                           "AND kind = 'heartbeat'",
                           s),
                 3 * 11);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor WHERE run_id = %lld "
                           "AND kind = 'heartbeat'",
                           all),
                 20 * 21);
    /* Metadata is always recorded. */
    cr_assert_eq(q_int(db, "SELECT count(*) FROM rumor WHERE run_id = %lld "
                           "AND kind = 'metadata'",
                           s),
                 1);
    int64_t rows_s = q_int(db, "SELECT count(*) FROM infection WHERE "
                               "run_id = %lld",
                           s);
    int64_t rows_all = q_int(db, "SELECT count(*) FROM infection WHERE "
                                 "run_id = %lld",
                             all);
    cr_assert_gt(rows_s, 0);
    cr_assert_lt(rows_s * 10, rows_all, "%lld vs %lld", (long long)rows_s,
                 (long long)rows_all);
    /* Traffic is counted in full either way. */
    cr_assert_eq(q_int(db, "SELECT sum(packets) FROM traffic WHERE "
                           "run_id = %lld",
                           s),
                 q_int(db, "SELECT sum(packets) FROM traffic WHERE "
                           "run_id = %lld",
                       all));
    sqlite3_close(db);
    g_free(path);
}

Test(recorder, batches_are_written_as_they_fill)
{
    char *path = tmp_path("batches.db");
    sim_world *w = make_world(10, 3);
    ana_recorder *rec = record_world(w, path, 10, 1, 64);
    run_script(w, rec);
    ana_recorder_stats st;
    ana_recorder_stats_get(rec, &st);
    cr_assert_gt(st.flushes, 5, "written along the way");
    cr_assert_lt(st.buffered, 64);
    cr_assert_eq(st.rows_dropped, 0);
    finish_world(w, rec);
    ana_recorder_stats_get(rec, &st);
    cr_assert_eq(st.buffered, 0);
    sqlite3 *db = db_open(path);
    cr_assert_eq((uint64_t)q_int(db, "SELECT count(*) FROM infection"),
                 st.infections);
    cr_assert_eq((uint64_t)q_int(db, "SELECT count(*) FROM rumor"),
                 st.rumors);
    sqlite3_close(db);
    ana_recorder_free(rec);
    sim_world_free(w);
    g_free(path);
}

/* ------------------------------------------------------------------ */
/* Interrupted and crashed runs.                                        */

Test(recorder, incomplete_run_reads_back)
{
    char *path = tmp_path("stopped.db");
    ana_recorder *rec = open_by_hand(path, 4, 4);
    peko_rumor hb = {.kind = PEKO_MSG_HEARTBEAT,
                     .origin = node_addr(0),
                     .id = 1};
    ana_recorder_observer()->rumor_created(ana_recorder_node_ctx(rec, 0),
                                           &hb);
    finish_ok(rec, ANA_STATUS_INCOMPLETE);
    ana_recorder_free(rec);
    sqlite3 *db = db_open(path);
    assert_text(db, "incomplete", "SELECT status FROM run");
    cr_assert_eq(q_int(db, "SELECT is_complete FROM run_summary"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection"), 1);
    cr_assert_eq(q_int(db, "SELECT finished_at IS NOT NULL FROM run"), 1);
    sqlite3_close(db);
    g_free(path);
}

/* Drives a little traffic: node 0's metadata reaching nodes 1 and 2. */
static void some_rows(ana_recorder *rec)
{
    peko_rumor meta = {.kind = PEKO_MSG_METADATA,
                       .origin = node_addr(0),
                       .id = 1};
    fake_now_us = 100;
    ana_recorder_observer()->rumor_created(ana_recorder_node_ctx(rec, 0),
                                           &meta);
    fake_now_us = 150;
    receive(rec, 1, &meta, 0, 0, true, 1);
    receive(rec, 2, &meta, 0, 0, true, 1);
}

/* Child processes report a result code through a pipe, then wait to be
 * killed by the parent with SIGKILL: nothing of theirs runs at exit (no
 * atexit, no sqlite3_close, no leak checker of a sanitizer or valgrind),
 * as in a real crash. */
static G_GNUC_NORETURN void child_die(int fd, uint8_t code)
{
    if (write(fd, &code, 1) != 1)
        abort();
    for (;;)
        pause();
}

/* Reads the code a child started with fork() sent, kills it, and returns
 * the code, or -1 if the child ended without sending one. */
static int child_wait(pid_t pid, int fd)
{
    uint8_t code;
    int got = read(fd, &code, 1) == 1 ? code : -1;
    close(fd);
    kill(pid, SIGKILL);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return got;
}

Test(recorder, crash_leaves_running_row)
{
    char *path = tmp_path("crashed.db");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* The child records, writes one batch, and is killed with the
         * connection open and more rows buffered. */
        close(fds[0]);
        ana_recorder *rec = open_by_hand(path, 4, 4);
        some_rows(rec);
        GError *error = NULL;
        if (!ana_recorder_flush(rec, &error))
            child_die(fds[1], 2);
        some_rows(rec); /* buffered, lost with the process */
        child_die(fds[1], 0);
    }
    close(fds[1]);
    cr_assert_eq(child_wait(pid, fds[0]), 0);

    sqlite3 *db = db_open(path);
    assert_text(db, "ok", "PRAGMA integrity_check");
    assert_text(db, "running", "SELECT status FROM run");
    cr_assert_eq(q_int(db, "SELECT is_complete FROM run_summary"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection"), 3);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM node"), 4);
    cr_assert_eq(q_int(db, "SELECT finished_at IS NULL FROM run"), 1);
    sqlite3_close(db);

    /* The file takes further runs. */
    ana_recorder *rec = open_by_hand(path, 4, 4);
    cr_assert_eq(ana_recorder_run_id(rec), 2);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    g_free(path);
}

Test(recorder, free_without_finish_leaves_running)
{
    char *path = tmp_path("abandoned.db");
    ana_recorder *rec = open_by_hand(path, 4, 4);
    some_rows(rec);
    ana_recorder_free(rec);
    sqlite3 *db = db_open(path);
    assert_text(db, "ok", "PRAGMA integrity_check");
    assert_text(db, "running", "SELECT status FROM run");
    cr_assert_eq(q_int(db, "SELECT count(*) FROM infection"), 0,
                 "buffered rows are not written by free");
    sqlite3_close(db);
    g_free(path);
}

/* A write that fails inside a callback (here: the file may not grow past
 * 1 MiB, as on a full disk) is kept, reported by flush and finish, and
 * leaves a valid file whose run is not 'complete'. In a child process,
 * which alone gets the file size limit. */
Test(recorder, write_failure_is_reported_and_file_stays_valid)
{
    char *path = tmp_path("full.db");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG */
        ana_recorder *rec = open_by_hand(path, 4, 4);
        struct rlimit limit = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
            child_die(fds[1], 10);
        const peko_observer *obs = ana_recorder_observer();
        for (uint32_t seq = 1; seq <= 100000; seq++) {
            peko_rumor hb = {.kind = PEKO_MSG_HEARTBEAT,
                             .origin = node_addr(seq % 4),
                             .id = seq};
            fake_now_us += 10;
            obs->rumor_created(ana_recorder_node_ctx(rec, seq % 4), &hb);
            receive(rec, (seq + 1) % 4, &hb, 0, seq % 4, true, 0);
        }
        ana_recorder_stats st;
        ana_recorder_stats_get(rec, &st);
        if (st.rows_dropped == 0)
            child_die(fds[1], 11);
        GError *error = NULL;
        if (ana_recorder_flush(rec, &error) || error == NULL ||
            error->domain != ANA_ERROR || !strstr(error->message, path))
            child_die(fds[1], 12);
        g_clear_error(&error);
        if (ana_recorder_finish(rec, ANA_STATUS_COMPLETE, NULL, 0, 0, 0, 0,
                                &error) ||
            error == NULL)
            child_die(fds[1], 13);
        g_clear_error(&error);
        ana_recorder_free(rec);
        child_die(fds[1], 0);
    }
    close(fds[1]);
    int code = child_wait(pid, fds[0]);
    cr_assert_eq(code, 0, "child check %d failed", code);

    sqlite3 *db = db_open(path);
    assert_text(db, "ok", "PRAGMA integrity_check");
    char *run_status = q_text(db, "SELECT status FROM run");
    cr_assert(strcmp(run_status, "incomplete") == 0 ||
                  strcmp(run_status, "running") == 0,
              "status %s", run_status);
    if (strcmp(run_status, "incomplete") == 0)
        cr_assert_eq(q_int(db, "SELECT error IS NOT NULL FROM run"), 1);
    g_free(run_status);
    sqlite3_close(db);
    g_free(path);
}

Test(recorder, finish_is_checked)
{
    char *path = tmp_path("twice-finished.db");
    ana_recorder *rec = open_by_hand(path, 2, 0);
    GError *error = NULL;
    cr_assert_not(ana_recorder_finish(rec, ANA_STATUS_RUNNING, NULL, 0, 0, 0,
                                      0, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID));
    g_clear_error(&error);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    cr_assert_not(ana_recorder_finish(rec, ANA_STATUS_COMPLETE, NULL, 0, 0,
                                      0, 0, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID));
    g_clear_error(&error);
    cr_assert_not(ana_recorder_flush(rec, &error));
    g_clear_error(&error);
    /* Hooks after the end are ignored, not written. */
    ana_recorder_membership(rec, 10, 2, 2);
    ana_recorder_free(rec);
    sqlite3 *db = db_open(path);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM membership"), 0);
    cr_assert_eq(q_int(db, "SELECT trace_hash IS NULL FROM run"), 0);
    sqlite3_close(db);
    g_free(path);
}

Test(recorder, node_registration_is_checked)
{
    char *path = tmp_path("nodes.db");
    ana_recorder *rec = open_by_hand(path, 3, 3);
    GError *error = NULL;
    peko_addr a = node_addr(9);
    cr_assert_not(ana_recorder_add_node(rec, 3, &a, NULL, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID));
    g_clear_error(&error);
    cr_assert_not(ana_recorder_add_node(rec, 1, &a, NULL, &error),
                  "registered twice");
    g_clear_error(&error);
    ana_recorder_free(rec);

    ana_run_info info;
    ana_run_info_init(&info);
    info.nodes = 2;
    info.now_us = fake_clock;
    rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec);
    peko_addr b = node_addr(0);
    cr_assert(ana_recorder_add_node(rec, 0, &b, NULL, &error));
    cr_assert_not(ana_recorder_add_node(rec, 1, &b, NULL, &error),
                  "an address has one node");
    g_clear_error(&error);
    ana_recorder_free(rec);
    g_free(path);
}

/* ------------------------------------------------------------------ */
/* Hostile paths and files.                                             */

static ana_recorder *try_open(const char *path, GError **error)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.nodes = 2;
    info.now_us = fake_clock;
    return ana_recorder_open(path, &info, error);
}

static void assert_refused(const char *path, int code)
{
    GError *error = NULL;
    ana_recorder *rec = try_open(path, &error);
    cr_assert_null(rec, "%s opened", path);
    cr_assert_not_null(error);
    cr_assert_eq(error->domain, ANA_ERROR, "%s", error->message);
    if (code >= 0)
        cr_assert_eq(error->code, code, "%s: %s", path, error->message);
    cr_assert_not_null(strstr(error->message, path), "%s", error->message);
    g_error_free(error);
}

static void assert_untouched(const char *path, const char *before,
                             gsize n_before)
{
    char *after = NULL;
    gsize n_after = 0;
    cr_assert(g_file_get_contents(path, &after, &n_after, NULL));
    cr_assert_eq(n_after, n_before);
    cr_assert_eq(memcmp(after, before, n_before), 0, "%s changed", path);
    g_free(after);
    char *wal = g_strconcat(path, "-wal", NULL);
    cr_assert_not(g_file_test(wal, G_FILE_TEST_EXISTS));
    g_free(wal);
}

Test(recorder, directory_is_refused)
{
    assert_refused(tmpdir, ANA_ERROR_SQLITE);
}

Test(recorder, unwritable_paths_are_refused)
{
    char *missing = g_build_filename(tmpdir, "no-such-dir", "run.db", NULL);
    assert_refused(missing, ANA_ERROR_SQLITE);
    g_free(missing);
    assert_refused("/dev/null/run.db", ANA_ERROR_SQLITE);
    /* Read-only for everyone, even root: procfs. */
    assert_refused("/proc/self/peko-run.db", -1);
    GError *error = NULL;
    cr_assert_null(try_open("", &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID));
    g_clear_error(&error);
}

Test(recorder, text_file_is_refused_untouched)
{
    char *path = tmp_path("notes.db");
    GString *text = g_string_new(NULL);
    for (int i = 0; i < 200; i++)
        g_string_append(text, "this is not a database, it is a note\n");
    cr_assert(g_file_set_contents(path, text->str, (gssize)text->len, NULL));
    assert_refused(path, ANA_ERROR_NOT_PEKO);
    assert_untouched(path, text->str, text->len);
    g_string_free(text, TRUE);
    g_free(path);
}

Test(recorder, foreign_database_is_refused_untouched)
{
    char *path = tmp_path("foreign.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE accounts (id INTEGER, name TEXT);"
                              "INSERT INTO accounts VALUES (1, 'alice');",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    char *before = NULL;
    gsize n_before = 0;
    cr_assert(g_file_get_contents(path, &before, &n_before, NULL));
    assert_refused(path, ANA_ERROR_NOT_PEKO);
    assert_untouched(path, before, n_before);
    g_free(before);
    g_free(path);
}

Test(recorder, newer_schema_is_refused)
{
    char *path = tmp_path("future.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *sql = g_strdup_printf("PRAGMA application_id = %d;"
                                "PRAGMA user_version = %d;"
                                "CREATE TABLE run (run_id INTEGER);",
                                ANA_APPLICATION_ID, ANA_SCHEMA_VERSION + 1);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    g_free(sql);
    sqlite3_close(db);
    assert_refused(path, ANA_ERROR_SCHEMA);
    g_free(path);
}

Test(recorder, bad_params_leave_no_file)
{
    char *path = tmp_path("bad-params.db");
    ana_run_info info;
    ana_run_info_init(&info);
    info.nodes = 2;
    info.now_us = fake_clock;
    info.params_json = "{nodes: 4";
    GError *error = NULL;
    cr_assert_null(ana_recorder_open(path, &info, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID), "%s",
              error->message);
    g_clear_error(&error);
    cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));

    info.params_json = NULL;
    info.now_us = NULL;
    cr_assert_null(ana_recorder_open(path, &info, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID));
    g_clear_error(&error);
    info.now_us = fake_clock;
    info.nodes = 0;
    cr_assert_null(ana_recorder_open(path, &info, &error));
    cr_assert(g_error_matches(error, ANA_ERROR, ANA_ERROR_INVALID));
    g_clear_error(&error);
    cr_assert_not(g_file_test(path, G_FILE_TEST_EXISTS));
    g_free(path);
}

Test(recorder, schema_check_reads_back)
{
    char *path = tmp_path("check.db");
    ana_recorder *rec = open_by_hand(path, 2, 0);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    int version = -1;
    GError *error = NULL;
    cr_assert(ana_schema_check(db, &version, &error));
    cr_assert_eq(version, ANA_SCHEMA_VERSION);
    sqlite3_close(db);

    /* Every DDL statement is idempotent. */
    db = db_open(path);
    for (const char *const *ddl = ana_schema_ddl(); *ddl; ddl++)
        cr_assert_eq(sqlite3_exec(db, *ddl, NULL, NULL, NULL), SQLITE_OK,
                     "%s", sqlite3_errmsg(db));
    cr_assert(ana_schema_ensure(db, &error));
    sqlite3_close(db);
    g_free(path);
}

/* What schema 4 added (fleet recording), undone. */
#define SCHEMA_4_UNDO                                                      \
    "DROP TABLE fleet_receipt; DROP TABLE fleet_members;"                 \
    "DROP TABLE clock_offset; DROP TABLE clock_correction;"              \
    "ALTER TABLE run DROP COLUMN run_label;"                              \
    "ALTER TABLE run DROP COLUMN wall_t0_us;"

/* A file of schema 3 (before fleet recording) is upgraded in place by
 * the next writer: its runs keep run_label and wall_t0_us NULL, and the
 * fleet tables appear. */
Test(recorder, schema_3_is_upgraded_by_a_writer)
{
    char *path = tmp_path("v3.db");
    ana_recorder *rec = open_by_hand(path, 2, 0);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    sqlite3 *db = db_open(path);
    cr_assert_eq(sqlite3_exec(db, SCHEMA_4_UNDO "PRAGMA user_version = 3;",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);

    rec = open_by_hand(path, 2, 0);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    db = db_open(path);
    cr_assert_eq(q_int(db, "PRAGMA user_version"), ANA_SCHEMA_VERSION);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM run WHERE run_label IS"
                           " NULL AND wall_t0_us IS NULL"),
                 2);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM fleet_receipt"), 0);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM clock_correction"), 0);
    assert_text(db, "ok", "PRAGMA integrity_check");
    sqlite3_close(db);
    g_free(path);
}

/* A file of schema 2 (before the failure detector's rows) is upgraded in
 * place by the next writer: the new tables appear, its old runs keep
 * ground_truth NULL (nothing was recorded of them, which is not "no
 * removal"), and the new run records as usual. */
Test(recorder, schema_2_is_upgraded_by_a_writer)
{
    char *path = tmp_path("v2.db");
    ana_recorder *rec = open_by_hand(path, 2, 0);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    /* Back to what schema 2 had. */
    sqlite3 *db = db_open(path);
    cr_assert_eq(sqlite3_exec(db, SCHEMA_4_UNDO, NULL, NULL, NULL), SQLITE_OK,
                 "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_exec(db,
                              "DROP VIEW node_down;"
                              "DROP TABLE node_state;"
                              "DROP TABLE membership_change;"
                              "ALTER TABLE run DROP COLUMN ground_truth;"
                              "PRAGMA user_version = 2;",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);

    rec = open_truth(path, 3);
    ana_recorder_node_state(rec, 2, 0, ANA_NODE_UP);
    finish_ok(rec, ANA_STATUS_COMPLETE);
    ana_recorder_free(rec);
    db = db_open(path);
    cr_assert_eq(q_int(db, "PRAGMA user_version"), ANA_SCHEMA_VERSION);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM run"), 2);
    cr_assert_eq(q_int(db, "SELECT ground_truth FROM run WHERE run_id = 1"),
                 -1 /* NULL */);
    cr_assert_eq(q_int(db, "SELECT ground_truth FROM run WHERE run_id = 2"),
                 1);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM node_state"), 1);
    cr_assert_eq(q_int(db, "SELECT count(*) FROM node_down"), 0);
    assert_text(db, "ok", "PRAGMA integrity_check");
    sqlite3_close(db);
    g_free(path);
}
