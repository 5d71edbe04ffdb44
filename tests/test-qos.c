/* test-qos.c: the failure detector's quality of service (analysis/qos.h)
 * on hand-made rows, where every figure is known exactly: detection times,
 * wrong removals and what explains a removal, T_M, T_MR and the
 * exposure they are over; and rows a hostile file could hold. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "qos.h"

#define S 1000000LL /* a second in microseconds */
#define WINDOW (10 * S) /* the timeout */

typedef struct rows {
    ana_qos_row r[256];
    size_t n;
    int64_t seq;
} rows;

static void state(rows *rs, double t_s, uint32_t node, ana_node_state st)
{
    cr_assert_lt(rs->n, G_N_ELEMENTS(rs->r));
    rs->r[rs->n++] = (ana_qos_row){
        .seq = ++rs->seq,
        .t_us = (int64_t)llround(t_s * 1e6),
        .node = node,
        .is_state = true,
        .what = (uint8_t)st,
    };
}

static void change(rows *rs, double t_s, uint32_t node, uint32_t peer,
                   ana_qos_change what)
{
    cr_assert_lt(rs->n, G_N_ELEMENTS(rs->r));
    rs->r[rs->n++] = (ana_qos_row){
        .seq = ++rs->seq,
        .t_us = (int64_t)llround(t_s * 1e6),
        .node = node,
        .peer = peer,
        .what = (uint8_t)what,
    };
}

/* Every node up at time 0. */
static void all_up(rows *rs, uint32_t nodes)
{
    for (uint32_t i = 0; i < nodes; i++)
        state(rs, 0, i, ANA_NODE_UP);
}

static void compute(const rows *rs, size_t nodes, ana_qos *q)
{
    ana_qos_input in = {
        .nodes = nodes,
        .end_us = 100 * S,
        .window_us = WINDOW,
        .rows = rs->r,
        .n_rows = rs->n,
    };
    GError *error = NULL;
    cr_assert(ana_qos_compute(&in, q, &error), "%s",
              error ? error->message : "?");
}

static void assert_close(double got, double want, const char *what)
{
    cr_assert(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)),
              "%s: %.12g, expected %.12g", what, got, want);
}

/* A crash is detected when the last live node that listed it removes it:
 * the detection time is from the crash to that removal. */
Test(qos, detection_is_the_last_live_listers_removal)
{
    rows rs = {0};
    all_up(&rs, 4);
    state(&rs, 20, 3, ANA_NODE_CRASHED);
    for (uint32_t i = 0; i < 3; i++)
        change(&rs, 20, i, 3, ANA_QOS_LISTED);
    change(&rs, 28, 0, 3, ANA_QOS_EXPIRED);
    change(&rs, 29, 1, 3, ANA_QOS_EXPIRED);
    change(&rs, 30.5, 2, 3, ANA_QOS_EXPIRED);
    ana_qos q;
    compute(&rs, 4, &q);
    cr_assert_eq(q.silences, 1);
    cr_assert_eq(q.crashes, 1);
    cr_assert_eq(q.detected, 1);
    cr_assert_eq(q.n_detection, 1);
    assert_close(q.detection_s[0], 10.5, "detection");
    assert_close(q.detection_median_s, 10.5, "median");
    assert_close(q.detection_p99_s, 10.5, "p99");
    cr_assert_eq(q.removals, 3);
    cr_assert_eq(q.wrong, 0);
    /* Nodes 0-2 for 100 s, node 3 for 20 s; pairs 4*4-4 then 3*3-3. */
    assert_close(q.node_hours, 320.0 / 3600, "node-hours");
    assert_close(q.pair_hours, (12 * 20 + 6 * 80) / 3600.0, "pair-hours");
    assert_close(q.wrong_rate, 0, "rate");
    cr_assert(isinf(q.recurrence_s) && q.recurrence_s > 0);
    cr_assert(isnan(q.mistake_duration_s));
    ana_qos_clear(&q);
}

/* A live node removed by a live node is a mistake; it lasts until the
 * remover lists the node again (T_M), and mistakes recur, per pair, every
 * pair-time over their count (T_MR). */
Test(qos, wrong_removals_their_duration_and_recurrence)
{
    rows rs = {0};
    all_up(&rs, 4);
    change(&rs, 50, 1, 2, ANA_QOS_EXPIRED);
    change(&rs, 51.5, 1, 2, ANA_QOS_ADDED);
    change(&rs, 60, 0, 3, ANA_QOS_EXPIRED);
    change(&rs, 64, 0, 3, ANA_QOS_ADDED);
    /* A later addition of a node never removed is nothing. */
    change(&rs, 70, 2, 1, ANA_QOS_ADDED);
    ana_qos q;
    compute(&rs, 4, &q);
    cr_assert_eq(q.removals, 2);
    cr_assert_eq(q.wrong, 2);
    cr_assert_eq(q.repaired, 2);
    cr_assert_eq(q.unrepaired, 0);
    assert_close(q.mistake_duration_s, 2.75, "T_M");
    assert_close(q.node_hours, 400.0 / 3600, "node-hours");
    assert_close(q.pair_hours, 1200.0 / 3600, "pair-hours");
    assert_close(q.wrong_rate, 18.0, "rate per node-hour");
    assert_close(q.recurrence_s, 600.0, "T_MR");
    cr_assert_eq(q.silences, 0);
    cr_assert_eq(q.n_detection, 0);
    cr_assert(isnan(q.detection_median_s));
    ana_qos_clear(&q);
}

/* A removal is explained, not wrong, when the removed node was silent
 * within the window before it (here, paused until 8 s before), or when
 * the remover itself was paused within it (its clock jumped); a stopped
 * node still removes others, and its mistakes count. */
Test(qos, silences_within_the_window_explain_removals)
{
    rows rs = {0};
    all_up(&rs, 4);
    state(&rs, 10, 2, ANA_NODE_PAUSED);
    change(&rs, 10, 0, 2, ANA_QOS_LISTED);
    change(&rs, 10, 1, 2, ANA_QOS_LISTED);
    change(&rs, 10, 3, 2, ANA_QOS_LISTED);
    state(&rs, 12, 2, ANA_NODE_UP);
    change(&rs, 20, 1, 2, ANA_QOS_EXPIRED);  /* 8 s after: explained */
    state(&rs, 30, 0, ANA_NODE_PAUSED);
    state(&rs, 31, 0, ANA_NODE_UP);
    change(&rs, 35, 0, 3, ANA_QOS_EXPIRED);  /* remover paused 4 s ago */
    change(&rs, 50, 0, 1, ANA_QOS_EXPIRED);  /* wrong */
    state(&rs, 60, 3, ANA_NODE_STOPPED);
    change(&rs, 60, 0, 3, ANA_QOS_LISTED);
    change(&rs, 60, 1, 3, ANA_QOS_LISTED);
    change(&rs, 60, 2, 3, ANA_QOS_LISTED);
    change(&rs, 62, 3, 0, ANA_QOS_EXPIRED);  /* wrong, by a stopped node */
    change(&rs, 68, 0, 3, ANA_QOS_EXPIRED);
    change(&rs, 69, 1, 3, ANA_QOS_EXPIRED);
    change(&rs, 70, 2, 3, ANA_QOS_EXPIRED);
    ana_qos q;
    compute(&rs, 4, &q);
    cr_assert_eq(q.removals, 7);
    cr_assert_eq(q.wrong, 2);
    cr_assert_eq(q.unrepaired, 2);
    cr_assert_eq(q.repaired, 0);
    cr_assert(isnan(q.mistake_duration_s));
    cr_assert_eq(q.silences, 3);
    cr_assert_eq(q.pauses, 2);
    cr_assert_eq(q.stops, 1);
    cr_assert_eq(q.recovered, 1); /* node 2: back before any removal */
    cr_assert_eq(q.unlisted, 1);  /* node 0: no listing row given */
    cr_assert_eq(q.detected, 1);  /* the stop */
    cr_assert_eq(q.n_detection, 1);
    assert_close(q.detection_s[0], 10, "detection of the stop");
    /* Exposure, piece by piece: (removers, pairs) per second. */
    double node_s = 4 * 10 + 3 * 2 + 4 * 18 + 3 * 1 + 4 * 29 + 4 * 40;
    double pair_s = 12 * 10 + 6 * 2 + 12 * 18 + 6 * 1 + 12 * 29 + 9 * 40;
    assert_close(q.node_hours, node_s / 3600, "node-hours");
    assert_close(q.pair_hours, pair_s / 3600, "pair-hours");
    assert_close(q.recurrence_s, pair_s / 2, "T_MR");
    ana_qos_clear(&q);
}

/* What ends a silence and what its detection waits for: a lister that
 * crashes leaves the count, a paused one does not count while paused, a
 * node listed again by stale gossip must be removed again; a node still
 * listed by a live node at the end was never detected, one back up
 * before was not detected, one nobody listed had nothing to detect. */
Test(qos, every_way_a_silence_ends)
{
    rows rs = {0};
    all_up(&rs, 7);
    state(&rs, 10, 1, ANA_NODE_CRASHED);
    change(&rs, 10, 0, 1, ANA_QOS_LISTED);
    change(&rs, 10, 2, 1, ANA_QOS_LISTED);
    change(&rs, 10, 3, 1, ANA_QOS_LISTED);
    change(&rs, 18, 0, 1, ANA_QOS_EXPIRED);
    state(&rs, 19, 2, ANA_NODE_CRASHED); /* a lister of 1 loses its list */
    change(&rs, 19, 0, 2, ANA_QOS_LISTED);
    change(&rs, 19, 3, 2, ANA_QOS_LISTED);
    change(&rs, 19, 4, 2, ANA_QOS_LISTED);
    change(&rs, 19, 5, 2, ANA_QOS_LISTED);
    state(&rs, 20, 3, ANA_NODE_PAUSED);  /* 1 is gone from live lists */
    change(&rs, 20, 0, 3, ANA_QOS_LISTED);
    change(&rs, 20, 4, 3, ANA_QOS_LISTED);
    state(&rs, 25, 3, ANA_NODE_UP);      /* ...until 3 resumes */
    change(&rs, 26, 3, 1, ANA_QOS_EXPIRED);
    change(&rs, 27, 0, 2, ANA_QOS_EXPIRED);
    change(&rs, 28, 3, 2, ANA_QOS_EXPIRED);
    change(&rs, 29, 4, 2, ANA_QOS_EXPIRED); /* 5 keeps 2 to the end */
    change(&rs, 40, 4, 1, ANA_QOS_ADDED);   /* stale gossip lists 1 */
    change(&rs, 48, 4, 1, ANA_QOS_EXPIRED);
    state(&rs, 70, 6, ANA_NODE_CRASHED);    /* nobody listed 6 */
    ana_qos q;
    compute(&rs, 7, &q);
    cr_assert_eq(q.silences, 4);
    cr_assert_eq(q.crashes, 3);
    cr_assert_eq(q.pauses, 1);
    cr_assert_eq(q.detected, 1);
    cr_assert_eq(q.undetected, 1);
    cr_assert_eq(q.recovered, 1);
    cr_assert_eq(q.unlisted, 1);
    cr_assert_eq(q.silent_adds, 1);
    cr_assert_eq(q.removals, 6);
    cr_assert_eq(q.wrong, 0);
    cr_assert_eq(q.n_detection, 2);
    bool found_38 = false, found_never = false;
    for (size_t i = 0; i < q.n_detection; i++) {
        found_38 |= fabs(q.detection_s[i] - 38) < 1e-9;
        found_never |= isinf(q.detection_s[i]);
    }
    cr_assert(found_38, "node 1: gone for good at 48 s, crashed at 10 s");
    cr_assert(found_never, "node 2: still listed by node 5 at the end");
    /* A "never" among two is the upper half: the median is never too. */
    cr_assert(isinf(q.detection_median_s));
    ana_qos_clear(&q);
}

/* Events at one instant happen together: a node restarting with another
 * as its seed, at the instant that one restarts too, lists it "while"
 * it is down. That neither undoes its detection nor counts as a listing
 * of a silent node. */
Test(qos, listings_at_the_instant_of_return_undo_nothing)
{
    rows rs = {0};
    all_up(&rs, 4);
    state(&rs, 10, 1, ANA_NODE_CRASHED);
    change(&rs, 10, 0, 1, ANA_QOS_LISTED);
    change(&rs, 10, 2, 1, ANA_QOS_LISTED);
    change(&rs, 10, 3, 1, ANA_QOS_LISTED);
    state(&rs, 10, 2, ANA_NODE_CRASHED);
    change(&rs, 10, 0, 2, ANA_QOS_LISTED);
    change(&rs, 10, 3, 2, ANA_QOS_LISTED);
    change(&rs, 18, 0, 1, ANA_QOS_EXPIRED);
    change(&rs, 18, 0, 2, ANA_QOS_EXPIRED);
    change(&rs, 18.5, 3, 1, ANA_QOS_EXPIRED);
    change(&rs, 19, 3, 2, ANA_QOS_EXPIRED);
    change(&rs, 30, 1, 2, ANA_QOS_ADDED); /* 1's new engine, seed 2 */
    state(&rs, 30, 1, ANA_NODE_UP);
    state(&rs, 30, 2, ANA_NODE_UP);
    change(&rs, 30.5, 0, 1, ANA_QOS_ADDED);
    ana_qos q;
    compute(&rs, 4, &q);
    cr_assert_eq(q.detected, 2);
    cr_assert_eq(q.recovered, 0);
    cr_assert_eq(q.silent_adds, 0);
    cr_assert_eq(q.n_detection, 2);
    assert_close(q.detection_s[0], 8.5, "node 1");
    assert_close(q.detection_s[1], 9, "node 2");
    assert_close(q.detection_median_s, 8.75, "median");
    cr_assert_eq(q.wrong, 0);
    ana_qos_clear(&q);
}

/* A wrong removal stops counting as open when the remover crashes (its
 * list is gone) or the removed node goes silent (it is now right). */
Test(qos, open_mistakes_end_with_the_remover_or_the_removed)
{
    rows rs = {0};
    all_up(&rs, 4);
    change(&rs, 20, 0, 1, ANA_QOS_EXPIRED);
    change(&rs, 21, 2, 3, ANA_QOS_EXPIRED);
    change(&rs, 22, 1, 3, ANA_QOS_EXPIRED);
    state(&rs, 30, 0, ANA_NODE_CRASHED);
    state(&rs, 31, 3, ANA_NODE_CRASHED);
    /* Listed again by a restarted remover: no longer this mistake. */
    state(&rs, 40, 0, ANA_NODE_UP);
    change(&rs, 40, 0, 1, ANA_QOS_ADDED);
    ana_qos q;
    compute(&rs, 4, &q);
    cr_assert_eq(q.wrong, 3);
    cr_assert_eq(q.repaired, 0);
    cr_assert_eq(q.unrepaired, 0);
    ana_qos_clear(&q);
}

Test(qos, no_rows_no_figures)
{
    rows rs = {0};
    ana_qos q;
    compute(&rs, 4, &q);
    cr_assert_eq(q.silences, 0);
    cr_assert_eq(q.removals, 0);
    cr_assert_eq(q.node_hours, 0);
    cr_assert(isnan(q.wrong_rate));
    cr_assert(isnan(q.recurrence_s));
    cr_assert(isnan(q.detection_median_s));
    ana_qos_clear(&q);
}

/* A row after the run's recorded end moves the end: nothing is lost. */
Test(qos, a_late_row_moves_the_end)
{
    rows rs = {0};
    all_up(&rs, 2);
    change(&rs, 150, 0, 1, ANA_QOS_EXPIRED);
    ana_qos q;
    compute(&rs, 2, &q);
    assert_close(q.node_hours, 300.0 / 3600, "node-hours to 150 s");
    cr_assert_eq(q.wrong, 1);
    ana_qos_clear(&q);
}

/* What a hand-edited or damaged file may hold is refused, with the row's
 * seq in the message. */
Test(qos, malformed_rows_are_refused)
{
    struct {
        ana_qos_row row;
        const char *why;
    } cases[] = {
        {{.seq = 9, .t_us = 0, .node = 4, .is_state = true,
          .what = ANA_NODE_UP},
         "node is not one"},
        {{.seq = 9, .t_us = 0, .node = 0, .peer = 7, .what = ANA_QOS_ADDED},
         "peer is not one"},
        {{.seq = 9, .t_us = 0, .node = 1, .peer = 1, .what = ANA_QOS_ADDED},
         "about itself"},
        {{.seq = 9, .t_us = 0, .node = 0, .is_state = true,
          .what = ANA_NODE_ABSENT},
         "names no state"},
        {{.seq = 9, .t_us = 0, .node = 0, .is_state = true, .what = 99},
         "names no state"},
        {{.seq = 9, .t_us = 0, .node = 0, .peer = 1, .what = 7},
         "names no change"},
        {{.seq = 9, .t_us = -5, .node = 0, .is_state = true,
          .what = ANA_NODE_UP},
         "negative"},
        {{.seq = 1, .t_us = 5 * S, .node = 0, .is_state = true,
          .what = ANA_NODE_UP},
         "seq does not follow"},
        {{.seq = 9, .t_us = 1 * S, .node = 0, .is_state = true,
          .what = ANA_NODE_UP},
         "time is before"},
    };
    for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
        ana_qos_row two[2] = {
            {.seq = 2, .t_us = 2 * S, .node = 1, .is_state = true,
             .what = ANA_NODE_UP},
            cases[c].row,
        };
        ana_qos_input in = {.nodes = 4, .end_us = 10 * S,
                            .window_us = WINDOW, .rows = two, .n_rows = 2};
        ana_qos q;
        GError *error = NULL;
        cr_assert_not(ana_qos_compute(&in, &q, &error), "case %zu", c);
        cr_assert_not_null(error);
        cr_assert_eq(error->code, ANA_ERROR_INVALID);
        cr_assert(strstr(error->message, cases[c].why) != NULL,
                  "case %zu: %s", c, error->message);
        cr_assert(strstr(error->message, "seq") != NULL);
        cr_assert_null(q.detection_s);
        g_error_free(error);
    }
}

Test(qos, names_read_back)
{
    cr_assert_eq(ana_qos_state_from_name("crashed"), ANA_NODE_CRASHED);
    cr_assert_eq(ana_qos_state_from_name("up"), ANA_NODE_UP);
    cr_assert_eq(ana_qos_state_from_name("absent"), -1);
    cr_assert_eq(ana_qos_state_from_name("Up"), -1);
    cr_assert_eq(ana_qos_state_from_name(NULL), -1);
    cr_assert_eq(ana_qos_change_from_name("expired"), ANA_QOS_EXPIRED);
    cr_assert_eq(ana_qos_change_from_name("listed"), ANA_QOS_LISTED);
    cr_assert_eq(ana_qos_change_from_name("left"), -1);
}
