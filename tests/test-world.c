/* test-world.c: the simulated world (sim/world.h). Every test fixes its
 * seed, so every run of this suite replays the same events. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <string.h>

#include "world.h"

TestSuite(world, .timeout = 120);

#define SECOND_US 1000000LL

/* A 1 s cycle keeps the virtual runs short; everything else default. */
static sim_world *make_world(size_t n, uint64_t seed)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    sim_world *w = NULL;
    cr_assert_eq(sim_world_new(n, &config, seed, &w), 0);
    cr_assert_not_null(w);
    return w;
}

static void join_all_via_node0(sim_world *w)
{
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(sim_world_addr(w, 0), host);
    peko_node seed_node = {.addr = host,
                           .port = sim_world_addr(w, 0)->port};
    for (size_t i = 0; i < sim_world_size(w); i++) {
        if (i != 0)
            cr_assert_eq(peko_nodelist_set(sim_world_node(w, i), &seed_node),
                         0);
        cr_assert_eq(peko_nodelist_join(sim_world_node(w, i)), 0);
    }
}

static bool converged(sim_world *w)
{
    size_t n = sim_world_size(w);
    for (size_t i = 0; i < n; i++) {
        peko_nodelist *nl = sim_world_node(w, i);
        if (peko_nodelist_count(nl) != n)
            return false;
        for (size_t j = 0; j < n; j++)
            if (!peko_nodelist_contains(nl, sim_world_addr(w, j)))
                return false;
    }
    return true;
}

/* Runs one scripted cluster: join, run, publish, run. */
static void script(sim_world *w)
{
    join_all_via_node0(w);
    sim_world_run_until(w, 10 * SECOND_US);
    const char *meta = "hello from peko";
    cr_assert_eq(peko_nodelist_publish(sim_world_node(w, 2),
                                       (const uint8_t *)meta, strlen(meta)),
                 0);
    sim_world_run_until(w, 20 * SECOND_US);
}

Test(world, addresses_map_back_by_arithmetic)
{
    sim_world *w = make_world(300, 1);
    size_t idx;
    char buf[PEKO_ADDR_STRLEN];
    peko_addr_format(sim_world_addr(w, 0), buf);
    cr_assert_str_eq(buf, "10.0.0.1:8000");
    peko_addr_format(sim_world_addr(w, 255), buf);
    cr_assert_str_eq(buf, "10.0.1.0:8000");
    for (size_t i = 0; i < 300; i++) {
        cr_assert(sim_world_index_of(w, sim_world_addr(w, i), &idx));
        cr_assert_eq(idx, i);
    }
    peko_addr a;
    cr_assert_eq(peko_addr_parse("10.0.0.0", 8000, &a), 0);
    cr_assert_not(sim_world_index_of(w, &a, &idx));
    cr_assert_eq(peko_addr_parse("10.0.1.45", 8000, &a), 0); /* node 300 */
    cr_assert_not(sim_world_index_of(w, &a, &idx));
    cr_assert_eq(peko_addr_parse("10.0.0.5", 8001, &a), 0);
    cr_assert_not(sim_world_index_of(w, &a, &idx));
    cr_assert_eq(peko_addr_parse("11.0.0.5", 8000, &a), 0);
    cr_assert_not(sim_world_index_of(w, &a, &idx));
    cr_assert_eq(peko_addr_parse("::1", 8000, &a), 0);
    cr_assert_not(sim_world_index_of(w, &a, &idx));
    sim_world_free(w);
}

Test(world, rejects_bad_arguments)
{
    sim_world *w = (sim_world *)&w;
    cr_assert_eq(sim_world_new(0, NULL, 1, &w), -EINVAL);
    cr_assert_null(w);
    sim_world_config config;
    sim_world_config_init(&config);
    config.latency_us = -1;
    cr_assert_eq(sim_world_new(3, &config, 1, &w), -EINVAL);
    sim_world_config_init(&config);
    config.engine.amount = -5;
    cr_assert_eq(sim_world_new(3, &config, 1, &w), -EINVAL);
    cr_assert_null(w);
    sim_world_free(NULL);
}

Test(world, clock_starts_at_zero_and_only_moves_forward)
{
    sim_world *w = make_world(3, 1);
    cr_assert_eq(sim_world_now_us(w), 0);
    cr_assert_eq(sim_world_run_until(w, 5 * SECOND_US), 0, "nobody joined");
    cr_assert_eq(sim_world_now_us(w), 5 * SECOND_US);
    sim_world_run_until(w, SECOND_US);
    cr_assert_eq(sim_world_now_us(w), 5 * SECOND_US);
    sim_world_free(w);
}

Test(world, format_time_is_pure_arithmetic)
{
    sim_world *w = make_world(1, 1);
    char buf[SIM_WORLD_TIME_STRLEN];
    sim_world_format_time(w, 0, buf);
    cr_assert_str_eq(buf, "2022-05-19 14:51:23");
    sim_world_format_time(w, 999999, buf);
    cr_assert_str_eq(buf, "2022-05-19 14:51:23");
    sim_world_format_time(w, 1000000, buf);
    cr_assert_str_eq(buf, "2022-05-19 14:51:24");
    /* 9 h 8 min 37 s later crosses midnight. */
    sim_world_format_time(w, (9 * 3600 + 8 * 60 + 37) * SECOND_US, buf);
    cr_assert_str_eq(buf, "2022-05-20 00:00:00");
    /* 226 days and change: into the next year. */
    sim_world_format_time(w, (int64_t)(226 * 86400 + 9 * 3600 + 8 * 60 + 37) *
                                 SECOND_US, buf);
    cr_assert_str_eq(buf, "2023-01-01 00:00:00");
    sim_world_free(w);

    sim_world_config config;
    sim_world_config_init(&config);
    config.epoch_us = 0;
    cr_assert_eq(sim_world_new(1, &config, 1, &w), 0);
    sim_world_format_time(w, 951782400LL * SECOND_US, buf);
    cr_assert_str_eq(buf, "2000-02-29 00:00:00");
    sim_world_format_time(w, 4107542399LL * SECOND_US, buf);
    cr_assert_str_eq(buf, "2100-02-28 23:59:59");
    sim_world_format_time(w, 4107542400LL * SECOND_US, buf);
    cr_assert_str_eq(buf, "2100-03-01 00:00:00");
    sim_world_format_time(w, -SECOND_US, buf);
    cr_assert_str_eq(buf, "1969-12-31 23:59:59");
    sim_world_free(w);
}

Test(world, small_cluster_converges_within_bound)
{
    /* 8 nodes joining through node 0, 1 s cycle, 1 ms latency. Timeout
     * is 5 s, so a list full at 6 s stays full only if heartbeats keep
     * flowing: check it at every second up to 20 s. */
    sim_world *w = make_world(8, 2022);
    join_all_via_node0(w);
    int64_t converged_at = -1;
    for (int64_t s = 1; s <= 20; s++) {
        sim_world_run_until(w, s * SECOND_US);
        if (converged(w)) {
            if (converged_at < 0)
                converged_at = s;
        } else {
            cr_assert_lt(converged_at, 0,
                         "lost convergence at %" G_GINT64_FORMAT " s", s);
        }
    }
    cr_assert_geq(converged_at, 1, "never converged");
    cr_assert_leq(converged_at, 6, "converged only at %" G_GINT64_FORMAT " s",
                  converged_at);

    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_gt(st.deliveries, 0);
    cr_assert_leq(st.deliveries, st.sends);
    cr_assert_eq(st.unroutable, 0);
    cr_assert_eq(st.queue_full, 0);
    sim_world_free(w);
}

Test(world, metadata_reaches_every_node)
{
    sim_world *w = make_world(6, 7);
    script(w);
    peko_version origin_version;
    peko_nodelist_metadata_version(sim_world_node(w, 2), &origin_version);
    cr_assert_geq(origin_version.counter, 1);
    for (size_t i = 0; i < 6; i++) {
        size_t n;
        const uint8_t *meta = peko_nodelist_read(sim_world_node(w, i), &n);
        cr_assert_eq(n, strlen("hello from peko"), "node %zu", i);
        cr_assert_eq(memcmp(meta, "hello from peko", n), 0);
        peko_version v;
        peko_nodelist_metadata_version(sim_world_node(w, i), &v);
        cr_assert_eq(peko_version_compare(&v, &origin_version), 0);
    }
    sim_world_free(w);
}

Test(world, same_seed_gives_same_trace)
{
    sim_world *a = make_world(10, 99);
    sim_world *b = make_world(10, 99);
    script(a);
    script(b);
    sim_world_stats sa, sb;
    sim_world_stats_get(a, &sa);
    sim_world_stats_get(b, &sb);
    cr_assert_gt(sa.deliveries, 100);
    cr_assert_eq(sim_world_trace_hash(a), sim_world_trace_hash(b));
    cr_assert_eq(sa.events, sb.events);
    cr_assert_eq(sa.deliveries, sb.deliveries);
    cr_assert_eq(sa.delivered_bytes, sb.delivered_bytes);
    sim_world_free(a);
    sim_world_free(b);
}

Test(world, different_seed_gives_different_trace)
{
    sim_world *a = make_world(10, 99);
    sim_world *b = make_world(10, 100);
    script(a);
    script(b);
    cr_assert_neq(sim_world_trace_hash(a), sim_world_trace_hash(b));
    sim_world_free(a);
    sim_world_free(b);
}

Test(world, trace_hash_covers_deliveries_only_so_far)
{
    sim_world *w = make_world(4, 5);
    uint64_t empty = sim_world_trace_hash(w);
    cr_assert_eq(empty, 0xcbf29ce484222325ULL, "FNV-1a offset basis");
    join_all_via_node0(w);
    sim_world_run_until(w, 0);
    uint64_t h0 = sim_world_trace_hash(w);
    sim_world_run_until(w, 3 * SECOND_US);
    cr_assert_neq(sim_world_trace_hash(w), h0);
    sim_world_free(w);
}

typedef struct captured {
    GPtrArray *lines;
    GArray *nodes;
} captured;

static void capture(void *user, size_t node, const char *line)
{
    captured *c = user;
    g_ptr_array_add(c->lines, g_strdup(line));
    g_array_append_val(c->nodes, node);
}

Test(world, console_lines_carry_the_virtual_wall_clock)
{
    captured c = {g_ptr_array_new_with_free_func(g_free),
                  g_array_new(FALSE, FALSE, sizeof(size_t))};
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    config.engine.is_print = true;
    config.print = capture;
    config.print_user = &c;
    sim_world *w;
    cr_assert_eq(sim_world_new(3, &config, 1, &w), 0);
    sim_world_run_until(w, 2 * SECOND_US);
    join_all_via_node0(w);
    sim_world_run_until(w, 5 * SECOND_US);

    cr_assert_gt(c.lines->len, 3);
    const char *first = g_ptr_array_index(c.lines, 0);
    cr_assert(g_str_has_prefix(first, "2022-05-19 14:51:25 [[Join]: "),
              "first line: %s", first);
    bool saw_listen = false;
    for (guint i = 0; i < c.lines->len; i++) {
        const char *line = g_ptr_array_index(c.lines, i);
        /* "YYYY-MM-DD HH:MM:SS " then the engine's text. */
        cr_assert_geq(strlen(line), 21);
        cr_assert_eq(line[4], '-');
        cr_assert_eq(line[10], ' ');
        cr_assert_eq(line[13], ':');
        cr_assert_eq(line[19], ' ');
        cr_assert(g_str_has_prefix(line, "2022-05-19 14:51:2"), "%s", line);
        saw_listen |= strstr(line, "[[Listen]: ") != NULL;
        cr_assert_lt(g_array_index(c.nodes, size_t, i), 3);
    }
    cr_assert(saw_listen);
    sim_world_free(w);
    g_ptr_array_free(c.lines, TRUE);
    g_array_free(c.nodes, TRUE);
}

Test(world, sends_to_unknown_addresses_are_dropped)
{
    sim_world *w = make_world(3, 1);
    /* A peer that does not exist in this world. */
    peko_node ghost = {.addr = "10.200.0.1", .port = 8000};
    cr_assert_eq(peko_nodelist_set(sim_world_node(w, 1), &ghost), 0);
    join_all_via_node0(w);
    sim_world_run_until(w, 5 * SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_gt(st.unroutable, 0);
    /* Counted as a drop too, under node_down, for the sender. */
    cr_assert_eq(st.dropped[SIM_DROP_NODE_DOWN], st.unroutable);
    sim_node_stats ns;
    sim_world_node_stats(w, 1, &ns);
    cr_assert_eq(ns.dropped_out[SIM_DROP_NODE_DOWN], st.unroutable);
    sim_world_free(w);
}

Test(world, a_senders_same_bytes_share_one_buffer)
{
    sim_world *w = make_world(6, 1);
    const uint8_t same[] = "the same bytes", other[] = "other bytes";
    for (size_t to = 2; to <= 4; to++)
        cr_assert_eq(sim_world_inject(w, 1, sim_world_addr(w, to), same,
                                      sizeof same), 0);
    cr_assert_eq(sim_world_inject(w, 1, sim_world_addr(w, 5), other,
                                  sizeof other), 0);
    /* The same bytes from another sender, and then shorter ones. */
    cr_assert_eq(sim_world_inject(w, 2, sim_world_addr(w, 0), other,
                                  sizeof other), 0);
    cr_assert_eq(sim_world_inject(w, 2, sim_world_addr(w, 3), other,
                                  sizeof other - 1), 0);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.shared, 2, "the second and third copies of `same`");
    sim_world_run_until(w, SECOND_US);
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.deliveries, 6);
    sim_world_free(w);
}

/* The trace of a world where node 1 sends node 0 one packet of these
 * bytes (the engine rejects them; the trace is taken before). */
static uint64_t trace_of_one_delivery(const uint8_t *bytes, size_t n)
{
    sim_world *w = make_world(2, 1);
    cr_assert_eq(sim_world_inject(w, 1, sim_world_addr(w, 0), bytes, n), 0);
    sim_world_run_until(w, SECOND_US / 10);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.deliveries, 1);
    uint64_t trace = sim_world_trace_hash(w);
    sim_world_free(w);
    return trace;
}

/* Every byte of a delivery enters the trace, at every length around the
 * hash's word (8 bytes) and block (32 bytes, four lanes) boundaries: one
 * bit changed anywhere gives another trace, the same bytes the same. */
Test(world, every_byte_of_a_delivery_enters_the_trace)
{
    static const size_t lengths[] = {1, 7, 8, 9, 31, 32, 33, 40, 63, 64,
                                     65, 100, 131};
    uint8_t bytes[131];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 37 + 11);
    for (size_t l = 0; l < G_N_ELEMENTS(lengths); l++) {
        size_t n = lengths[l];
        uint64_t base = trace_of_one_delivery(bytes, n);
        cr_assert_eq(trace_of_one_delivery(bytes, n), base);
        for (size_t i = 0; i < n; i++) {
            bytes[i] ^= 0x40;
            cr_assert_neq(trace_of_one_delivery(bytes, n), base,
                          "byte %zu of %zu left the trace unchanged", i, n);
            bytes[i] ^= 0x40;
        }
    }
}

Test(world, a_fan_outs_copies_share_one_buffer)
{
    /* rumor forwards each heartbeat to three peers, the same bytes. */
    sim_world *w = make_world(16, 3);
    join_all_via_node0(w);
    sim_world_run_until(w, 5 * SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_gt(st.shared, st.sends / 3, "%" G_GUINT64_FORMAT " of %"
                 G_GUINT64_FORMAT " sends shared", st.shared, st.sends);
    sim_world_free(w);
}

/* One run of `n` rumor nodes joining via node 0, for 5 s at a 100 ms
 * cycle, with copies folded or not; its figures and trace. */
static void run_fan_outs(size_t n, size_t max_events, bool unfolded,
                         sim_world_stats *st, uint64_t *trace)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US / 10;
    config.max_events = max_events;
    config.unfolded = unfolded;
    sim_world *w;
    cr_assert_eq(sim_world_new(n, &config, 5, &w), 0);
    join_all_via_node0(w);
    sim_world_run_until(w, 5 * SECOND_US);
    sim_world_stats_get(w, st);
    *trace = sim_world_trace_hash(w);
    sim_world_free(w);
}

Test(world, a_fan_out_folded_into_one_event_is_the_same_run)
{
    /* A forward's three copies, due at one time, travel in one event;
     * every delivery, its order, the figures and the trace stay those of
     * one event a copy. */
    sim_world_stats folded, apart;
    uint64_t trace_folded, trace_apart;
    run_fan_outs(32, 0, false, &folded, &trace_folded);
    run_fan_outs(32, 0, true, &apart, &trace_apart);
    cr_assert_eq(trace_folded, trace_apart);
    cr_assert_eq(folded.deliveries, apart.deliveries);
    cr_assert_eq(folded.events, apart.events);
    cr_assert_eq(folded.timers, apart.timers);
    cr_assert_eq(folded.pending, apart.pending);
    cr_assert_eq(apart.folded, 0);
    cr_assert_gt(folded.folded, folded.deliveries / 3,
                 "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                 " deliveries folded", folded.folded, folded.deliveries);
}

Test(world, folded_copies_count_against_the_queue_bound)
{
    /* With room for a few packets, sends are refused at the same moments
     * whether the copies in flight share events or not. */
    sim_world_stats folded, apart;
    uint64_t trace_folded, trace_apart;
    size_t bound = 16 * PEKO_TIMER_COUNT + 20;
    run_fan_outs(16, bound, false, &folded, &trace_folded);
    run_fan_outs(16, bound, true, &apart, &trace_apart);
    cr_assert_gt(apart.queue_full, 0, "the bound was reached");
    cr_assert_eq(folded.queue_full, apart.queue_full);
    cr_assert_eq(trace_folded, trace_apart);
    cr_assert_eq(folded.deliveries, apart.deliveries);
    cr_assert_gt(folded.folded, 0);
}

Test(world, timers_do_not_pile_up)
{
    /* Re-armed timers are cancelled, not left behind: after a long quiet
     * run the queue holds about one timer per node plus packets in
     * flight (none at a whole second, with 1 ms latency). */
    sim_world *w = make_world(5, 3);
    join_all_via_node0(w);
    sim_world_run_until(w, 300 * SECOND_US + 500000);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_leq(st.pending, 5 * PEKO_TIMER_COUNT, "pending %zu",
                  st.pending);
    cr_assert_geq(st.timers, 5 * 290);
    cr_assert(converged(w));
    sim_world_free(w);
}

Test(world, queue_bound_refuses_and_counts)
{
    /* Room for the three cycle timers and one packet: sends beyond the
     * bound fail with -ENOBUFS (the engine counts them), timers never do,
     * and the world keeps running. */
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    config.max_events = 4;
    sim_world *w;
    cr_assert_eq(sim_world_new(3, &config, 1, &w), 0);
    join_all_via_node0(w);
    sim_world_run_until(w, 5 * SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_gt(st.queue_full, 0);
    cr_assert_eq(st.dropped[SIM_DROP_SEND_QUEUE], st.queue_full);
    cr_assert_leq(st.pending, 4);
    uint64_t failed = 0;
    for (size_t i = 0; i < 3; i++) {
        peko_stats ps;
        peko_nodelist_stats(sim_world_node(w, i), &ps);
        failed += ps.send_failed;
    }
    cr_assert_gt(failed, 0);
    cr_assert_geq(st.timers, 3 * 5, "every node kept cycling");
    sim_world_free(w);

    config.max_events = 3; /* nothing left beyond the timers */
    cr_assert_eq(sim_world_new(3, &config, 1, &w), -EINVAL);
}

/* Sets the stop flag from inside the run, as a signal handler would, and
 * notes how many events had run. */
static volatile sig_atomic_t stop_flag;
static uint64_t events_at_stop;

static void request_stop(sim_world *w, void *user)
{
    (void)user;
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    events_at_stop = st.events;
    stop_flag = 1;
}

Test(world, a_stop_request_ends_run_until_within_a_few_hundred_events)
{
    /* 16 nodes, a 10 ms cycle: an hour of it is tens of millions of
     * events; the stop comes after 1 s of virtual time. */
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = 10000;
    sim_world *w = NULL;
    cr_assert_eq(sim_world_new(16, &config, 7, &w), 0);
    join_all_via_node0(w);
    stop_flag = 0;
    sim_world_set_stop(w, &stop_flag);
    cr_assert_not(sim_world_stopped(w));
    cr_assert_gt(sim_world_schedule(w, SECOND_US, request_stop, NULL), 0);

    sim_world_run_until(w, 3600 * SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert(sim_world_stopped(w));
    cr_assert_gt(events_at_stop, 0);
    cr_assert_leq(st.events - events_at_stop, 256,
                  "%" G_GUINT64_FORMAT " events ran after the stop request",
                  st.events - events_at_stop);
    /* The clock stays at the last event run, not the hour asked for, and
     * the rest stays queued. */
    cr_assert_geq(st.now_us, SECOND_US);
    cr_assert_lt(st.now_us, 2 * SECOND_US);
    cr_assert_gt(st.pending, 0);

    /* Once stopped, nothing more runs. */
    cr_assert_eq(sim_world_run_until(w, 3600 * SECOND_US), 0);
    sim_world_stats after;
    sim_world_stats_get(w, &after);
    cr_assert_eq(after.events, st.events);
    cr_assert_eq(after.now_us, st.now_us);
    sim_world_free(w);
}

Test(world, a_stop_request_gives_up_building_a_large_world)
{
    sim_world_config config;
    sim_world_config_init(&config);
    volatile sig_atomic_t stop = 1;
    config.stop = &stop;
    sim_world *w = (sim_world *)&config; /* must be cleared */
    cr_assert_eq(sim_world_new(100000, &config, 1, &w), -EINTR);
    cr_assert_null(w);
    stop = 0;
    cr_assert_eq(sim_world_new(4, &config, 1, &w), 0);
    cr_assert_not(sim_world_stopped(w));
    stop = 1;
    cr_assert(sim_world_stopped(w), "the world keeps the config's flag");
    sim_world_free(w);
}
