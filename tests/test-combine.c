/* test-combine.c: one run recorded by several processes, combined
 * (analysis/combine.h), against the same run recorded by one.
 *
 * The same script of engine callbacks, at the same fake times, is played
 * once into one recorder observing all four nodes, and once into two
 * recorders observing two nodes each (the others foreign), as the
 * testbed's workers do. Combining the two must give the one's rows. */
#include <criterion/criterion.h>
#include <glib.h>
#include <sqlite3.h>
#include <string.h>

#include "combine.h"
#include "recorder.h"
#include "schema.h"
#include "testdir.h"

#define N 4

static int64_t fake_now_us;

static int64_t fake_clock(void *user)
{
    (void)user;
    return fake_now_us;
}

static peko_addr addr_of(size_t i)
{
    peko_addr a;
    char host[32];
    g_snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
    cr_assert_eq(peko_addr_parse(host, 8000, &a), 0);
    return a;
}

static ana_recorder *open_rec(const char *path, const char *params,
                              const bool *foreign)
{
    ana_run_info info;
    ana_run_info_init(&info);
    info.scenario = "combine";
    info.params_json = params;
    info.seed = 9;
    info.nodes = N;
    info.source = "testbed";
    info.now_us = fake_clock;
    info.ground_truth = true;
    fake_now_us = 0;
    GError *error = NULL;
    ana_recorder *rec = ana_recorder_open(path, &info, &error);
    cr_assert_not_null(rec, "open: %s", error ? error->message : "?");
    for (size_t i = 0; i < N; i++) {
        peko_addr a = addr_of(i);
        char name[16];
        g_snprintf(name, sizeof name, "node-%zu", i);
        cr_assert(ana_recorder_add_node(rec, i, &a, name, &error), "%s",
                  error ? error->message : "?");
        if (foreign && foreign[i])
            ana_recorder_set_foreign(rec, i);
    }
    return rec;
}

/* Plays the script: rec[i] observes node i (the same recorder for all,
 * or one per worker). Steps that concern the whole run (samples, ground
 * truth, the timeline) go to every distinct recorder, as every worker
 * applies the whole timeline; a sample's `complete` counts only the
 * nodes a recorder observes. */
static void play(ana_recorder *rec[N])
{
    const peko_observer *obs = ana_recorder_observer();
    ana_recorder *all[N];
    size_t n_all = 0;
    for (size_t i = 0; i < N; i++) {
        bool seen = false;
        for (size_t k = 0; k < n_all; k++)
            seen |= all[k] == rec[i];
        if (!seen)
            all[n_all++] = rec[i];
    }
    peko_addr a[N];
    for (size_t i = 0; i < N; i++)
        a[i] = addr_of(i);
#define CTX(i) ana_recorder_node_ctx(rec[i], i)

    for (size_t k = 0; k < n_all; k++)
        for (size_t i = 0; i < N; i++)
            ana_recorder_node_state(all[k], i, 0, ANA_NODE_UP);

    /* Node 0 publishes at 1 ms; its rumor reaches 1 (same worker), then
     * 2 (the other), then 3 by swap. */
    peko_rumor meta = {.kind = PEKO_MSG_METADATA, .origin = a[0], .id = 1};
    peko_version v1 = {.counter = 1, .origin = a[0]};
    fake_now_us = 1000;
    obs->metadata_applied(CTX(0), &v1, 0, 5);
    obs->rumor_created(CTX(0), &meta);
    obs->packet_sent(CTX(0), PEKO_MSG_METADATA, &a[1], 50);
    obs->packet_sent(CTX(0), PEKO_MSG_METADATA, &a[2], 50);

    fake_now_us = 1500;
    obs->packet_received(CTX(1), PEKO_MSG_METADATA, &a[0], 50);
    obs->rumor_first_seen(CTX(1), &meta, 0, &a[0]);
    obs->metadata_applied(CTX(1), &v1, PEKO_MSG_METADATA, 5);

    fake_now_us = 2000;
    obs->packet_received(CTX(2), PEKO_MSG_METADATA, &a[0], 50);
    obs->rumor_first_seen(CTX(2), &meta, 0, &a[0]);
    obs->metadata_applied(CTX(2), &v1, PEKO_MSG_METADATA, 5);
    obs->packet_sent(CTX(2), PEKO_MSG_METADATA, &a[1], 50);

    fake_now_us = 2200;
    obs->packet_received(CTX(1), PEKO_MSG_METADATA, &a[2], 50);
    obs->rumor_duplicate(CTX(1), &meta, 1, &a[2]);

    fake_now_us = 2500;
    obs->packet_received(CTX(3), PEKO_MSG_SWAP_RESPONSE, &a[1], 40);
    obs->metadata_applied(CTX(3), &v1, PEKO_MSG_SWAP_RESPONSE, 5);

    /* Node 3's heartbeat (sequence 1) reaches node 0 in the other
     * worker. */
    peko_rumor hb = {.kind = PEKO_MSG_HEARTBEAT, .origin = a[3],
                     .id = (uint64_t)1};
    fake_now_us = 3000;
    obs->rumor_created(CTX(3), &hb);
    obs->packet_sent(CTX(3), PEKO_MSG_HEARTBEAT, &a[0], 30);
    fake_now_us = 3400;
    obs->packet_received(CTX(0), PEKO_MSG_HEARTBEAT, &a[3], 30);
    obs->rumor_first_seen(CTX(0), &hb, 0, &a[3]);

    /* A sample: all four live and complete. */
    fake_now_us = 4000;
    for (size_t k = 0; k < n_all; k++) {
        size_t mine = 0;
        for (size_t i = 0; i < N; i++)
            mine += rec[i] == all[k];
        ana_recorder_membership(all[k], 4000, N, mine);
        ana_recorder_timeline(all[k], 4000, "publish", "node=0");
    }
    /* Node 2 removes node 1 from its list. */
    fake_now_us = 4500;
    obs->node_expired(CTX(2), &a[1]);

    fake_now_us = 5000;
    for (size_t k = 0; k < n_all; k++) {
        GError *error = NULL;
        size_t mine = 0;
        for (size_t i = 0; i < N; i++)
            mine += rec[i] == all[k];
        cr_assert(ana_recorder_finish(all[k], ANA_STATUS_COMPLETE, NULL,
                                      5000, 0.005, 0, mine, &error),
                  "finish: %s", error ? error->message : "?");
    }
#undef CTX
}

static char *dir;

static void set_up(void)
{
    dir = testdir_make("peko-combine-XXXXXX");
    cr_assert_not_null(dir);
}

static void tear_down(void)
{
    testdir_remove(dir);
}

TestSuite(combine, .init = set_up, .fini = tear_down);

static char *path_in(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

/* Records the script once in one file (one.db) and split over two
 * (a.db: nodes 0-1, b.db: nodes 2-3). */
static void record_both(const char *params_b)
{
    char *one = path_in("one.db"), *pa = path_in("a.db"),
         *pb = path_in("b.db");
    ana_recorder *r = open_rec(one, "{}", NULL);
    ana_recorder *single[N] = {r, r, r, r};
    play(single);
    ana_recorder_free(r);

    bool fa[N] = {false, false, true, true}, fb[N] = {true, true, false, false};
    ana_recorder *ra = open_rec(pa, "{}", fa);
    ana_recorder *rb = open_rec(pb, params_b, fb);
    ana_recorder *split[N] = {ra, ra, rb, rb};
    play(split);
    ana_recorder_free(ra);
    ana_recorder_free(rb);
    g_free(one);
    g_free(pa);
    g_free(pb);
}

/* The rows of `sql` over the database at `path`, one line each. */
static char *rows(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK,
                 "%s: %s", sql, sqlite3_errmsg(db));
    GString *out = g_string_new(NULL);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            g_string_append_printf(out, "%s%s", c ? "|" : "",
                                   t ? (const char *)t : "NULL");
        }
        g_string_append_c(out, '\n');
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return g_string_free(out, FALSE);
}

static void assert_same(const char *a, const char *b, const char *sql)
{
    char *ra = rows(a, sql), *rb = rows(b, sql);
    cr_assert_str_eq(rb, ra, "%s", sql);
    g_free(ra);
    g_free(rb);
}

Test(combine, split_recordings_combine_to_the_single_recording)
{
    record_both("{}");
    char *one = path_in("one.db"), *out = path_in("out.db");
    char *pa = path_in("a.db"), *pb = path_in("b.db");
    ana_combine_source src[2] = {{.path = pa}, {.path = pb}};
    ana_combine_stats st;
    GError *error = NULL;
    cr_assert(ana_combine(out, src, 2, &st, &error), "%s",
              error ? error->message : "?");
    cr_assert_eq(st.run_id, 1);
    cr_assert_eq(st.rumors, 2);
    cr_assert_eq(st.infections, 6);
    cr_assert_eq(st.rumors_dropped, 0);

    static const char *const same[] = {
        "SELECT kind, origin, created_us, engine_id, infected, copies,"
        " duplicates, messages FROM rumor ORDER BY created_us",
        "SELECT r.kind, r.origin, i.node_id, i.t_us, i.hops, i.from_node,"
        " i.via FROM infection i JOIN rumor r USING (run_id, rumor_id)"
        " ORDER BY r.created_us, i.t_us, i.node_id",
        "SELECT node_id, type, outcome, packets, bytes FROM traffic"
        " ORDER BY 1, 2, 3",
        "SELECT sample, t_us, live, complete FROM membership",
        "SELECT node_id, counter, origin, origin_addr, t_us, via, bytes"
        " FROM metadata_version ORDER BY node_id",
        "SELECT seq, t_us, event, detail FROM timeline",
        "SELECT t_us, node_id, state FROM node_state ORDER BY seq",
        "SELECT t_us, node_id, peer, change FROM membership_change"
        " ORDER BY seq",
        "SELECT node_id, addr, name, peers_expired FROM node",
        "SELECT scenario, params, seed, source, status, nodes, sim_time_us,"
        " deliveries FROM run",
        "SELECT rumor_id, t50_us, t99_us, t100_us FROM rumor_summary",
    };
    for (size_t k = 0; k < G_N_ELEMENTS(same); k++)
        assert_same(one, out, same[k]);
    /* Node 2 first saw the rumor 1 ms after its creation, not at 0 as
     * its own worker's file has it. */
    char *t = rows(out, "SELECT t_us FROM infection WHERE node_id = 2"
                        " AND rumor_id = 1");
    cr_assert_str_eq(t, "1000\n");
    g_free(t);
    g_free(one);
    g_free(out);
    g_free(pa);
    g_free(pb);
}

Test(combine, offsets_shift_every_time_of_their_source)
{
    record_both("{}");
    char *out = path_in("out.db"), *pa = path_in("a.db"),
         *pb = path_in("b.db");
    /* b's clock ran 300 us ahead: corrected by -300. */
    ana_combine_source src[2] = {{.path = pa}, {.path = pb, .offset_us = -300}};
    GError *error = NULL;
    cr_assert(ana_combine(out, src, 2, NULL, &error), "%s",
              error ? error->message : "?");
    char *t = rows(out, "SELECT node_id, t_us FROM infection WHERE"
                        " rumor_id = 1 ORDER BY node_id");
    cr_assert_str_eq(t, "0|0\n1|500\n2|700\n3|1200\n");
    g_free(t);
    /* The heartbeat was created in b: its creation moves, and node 0's
     * infection (in a) is measured from there. */
    t = rows(out, "SELECT created_us, (SELECT t_us FROM infection i WHERE"
                  " i.rumor_id = r.rumor_id AND i.node_id = 0)"
                  " FROM rumor r WHERE kind = 'heartbeat'");
    cr_assert_str_eq(t, "2700|700\n");
    g_free(t);
    g_free(out);
    g_free(pa);
    g_free(pb);
}

Test(combine, refuses_sources_of_different_runs)
{
    record_both("{\"other\": 1}");
    char *out = path_in("out.db"), *pa = path_in("a.db"),
         *pb = path_in("b.db");
    ana_combine_source src[2] = {{.path = pa}, {.path = pb}};
    GError *error = NULL;
    cr_assert_not(ana_combine(out, src, 2, NULL, &error));
    cr_assert_not_null(error);
    cr_assert(strstr(error->message, "not recordings of one run"), "%s",
              error->message);
    g_error_free(error);
    /* The output did not exist: it still does not. */
    cr_assert_not(g_file_test(out, G_FILE_TEST_EXISTS));
    g_free(out);
    g_free(pa);
    g_free(pb);
}

Test(combine, refuses_a_source_with_two_runs_or_none)
{
    record_both("{}");
    char *one = path_in("one.db"), *out = path_in("out.db"),
         *pa = path_in("a.db"), *missing = path_in("missing.db");
    /* one.db gets a second run: a combined file is not a source. */
    ana_combine_source twice[1] = {{.path = pa}};
    GError *error = NULL;
    cr_assert(ana_combine(one, twice, 1, NULL, &error), "%s",
              error ? error->message : "?");
    ana_combine_source src[2] = {{.path = one}, {.path = pa}};
    cr_assert_not(ana_combine(out, src, 2, NULL, &error));
    cr_assert(strstr(error->message, "exactly one"), "%s", error->message);
    g_clear_error(&error);
    ana_combine_source gone[1] = {{.path = missing}};
    cr_assert_not(ana_combine(out, gone, 1, NULL, &error));
    cr_assert(strstr(error->message, "no such file"), "%s", error->message);
    g_clear_error(&error);
    ana_combine_source self[1] = {{.path = pa}};
    cr_assert_not(ana_combine(pa, self, 1, NULL, &error));
    cr_assert(strstr(error->message, "cannot be one of the sources"), "%s",
              error->message);
    g_clear_error(&error);
    g_free(one);
    g_free(out);
    g_free(pa);
    g_free(missing);
}
