/* test-net.c: the simulator's network model and node lifecycle (sim/net.h,
 * the network and lifecycle parts of sim/world.h; the laws themselves and
 * their sampling are model/'s, tests/test-model.c). Every test fixes its
 * seed; tolerances are several standard deviations wide for the sample
 * sizes used, so they hold for these seeds and would for almost any other.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <pcap/pcap.h>
#include <string.h>

#include "world-private.h"

TestSuite(net, .timeout = 120);

#define SECOND_US 1000000LL
#define MS_US 1000LL

/* ------------------------------------------------------------------ */
/* Helpers.                                                             */

static sim_world *make_world_cfg(size_t n, uint64_t seed,
                                 const sim_world_config *config)
{
    sim_world *w = NULL;
    cr_assert_eq(sim_world_new(n, config, seed, &w), 0);
    cr_assert_not_null(w);
    return w;
}

static sim_world *make_world(size_t n, uint64_t seed)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    return make_world_cfg(n, seed, &config);
}

/* Every node seeded with node 0, then joined. */
static void join_all(sim_world *w)
{
    size_t seed0 = 0;
    for (size_t i = 0; i < sim_world_size(w); i++) {
        if (i != 0)
            cr_assert_eq(sim_world_set_seeds(w, i, &seed0, 1), 0);
        cr_assert_eq(sim_world_join(w, i), 0);
    }
}

static bool full_list(sim_world *w, size_t i)
{
    size_t n = sim_world_size(w);
    peko_nodelist *nl = sim_world_node(w, i);
    if (nl == NULL || peko_nodelist_count(nl) != n)
        return false;
    for (size_t j = 0; j < n; j++)
        if (!peko_nodelist_contains(nl, sim_world_addr(w, j)))
            return false;
    return true;
}

static bool converged(sim_world *w)
{
    for (size_t i = 0; i < sim_world_size(w); i++)
        if (!full_list(w, i))
            return false;
    return true;
}

/* What the hooks saw, in order. */
typedef struct seen_packet {
    int64_t t_us;
    size_t from, to;
    size_t n_bytes;
    int cause; /* -1: delivered */
} seen_packet;

typedef struct recorder {
    sim_world *w;
    GArray *packets; /* seen_packet */
    uint64_t delivered, dropped[SIM_DROP_COUNT];
} recorder;

static void rec_delivered(void *user, size_t from, size_t to, int type,
                          size_t n_bytes)
{
    recorder *r = user;
    seen_packet p = {sim_world_now_us(r->w), from, to, n_bytes, -1};
    g_array_append_val(r->packets, p);
    r->delivered++;
}

static void rec_dropped(void *user, size_t from, size_t to, int type,
                        size_t n_bytes, sim_drop_cause cause)
{
    recorder *r = user;
    seen_packet p = {sim_world_now_us(r->w), from, to, n_bytes, (int)cause};
    g_array_append_val(r->packets, p);
    r->dropped[cause]++;
}

static void recorder_attach(recorder *r, sim_world *w)
{
    memset(r, 0, sizeof *r);
    r->w = w;
    r->packets = g_array_new(FALSE, FALSE, sizeof(seen_packet));
    sim_world_hooks hooks = {.delivered = rec_delivered,
                             .dropped = rec_dropped};
    sim_world_set_hooks(w, &hooks, r);
}

static void recorder_clear(recorder *r)
{
    g_array_free(r->packets, TRUE);
}

static seen_packet *rec_at(recorder *r, guint k)
{
    return &g_array_index(r->packets, seen_packet, k);
}

/* A packet of n bytes the engine will reject (it is not peko's), which
 * is all the network tests need: it travels, is counted, is delivered. */
static int inject(sim_world *w, size_t from, size_t to, size_t n_bytes)
{
    static uint8_t junk[70000];
    return sim_world_inject(w, from, sim_world_addr(w, to), junk, n_bytes);
}

static uint64_t dropped_total(const sim_world_stats *st)
{
    uint64_t d = 0;
    for (int c = 0; c < SIM_DROP_COUNT; c++)
        d += st->dropped[c];
    return d;
}

static void assert_conservation(sim_world *w)
{
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.sends + st.duplicated,
                 st.deliveries + dropped_total(&st) + st.in_flight,
                 "sends %" G_GUINT64_FORMAT " + dup %" G_GUINT64_FORMAT
                 " != deliveries %" G_GUINT64_FORMAT " + dropped %"
                 G_GUINT64_FORMAT " + in flight %" G_GUINT64_FORMAT,
                 (guint64)st.sends, (guint64)st.duplicated,
                 (guint64)st.deliveries, (guint64)dropped_total(&st),
                 (guint64)st.in_flight);
}

/* Every latency below lives in [0, MAX_US] unless it says otherwise. */
#define MAX_US ((double)MODEL_DIST_MAX)

/* ------------------------------------------------------------------ */
/* The network model's setters.                                         */

Test(net, setters_refuse_bad_models_and_change_nothing)
{
    sim_world *w = make_world(2, 1);
    model_dist bad = {.kind = MODEL_DIST_UNIFORM, .min = 10, .max = 5,
                      .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &bad), -EINVAL);
    model_dist open_ended = {.kind = MODEL_DIST_CONSTANT, .value = 5,
                             .hi = INFINITY};
    cr_assert_eq(sim_world_set_latency(w, &open_ended), -EINVAL);
    model_loss l = {.kind = MODEL_LOSS_BERNOULLI, .rate = 1.5};
    cr_assert_eq(sim_world_set_loss(w, &l), -EINVAL);
    cr_assert_eq(sim_world_set_duplicate(w, -0.1), -EINVAL);
    cr_assert_eq(sim_world_set_duplicate(w, NAN), -EINVAL);
    /* The default latency (1 ms) is still in force. */
    recorder r;
    recorder_attach(&r, w);
    inject(w, 0, 1, 10);
    sim_world_run_until(w, SECOND_US);
    cr_assert_eq(r.packets->len, 1);
    cr_assert_eq(rec_at(&r, 0)->t_us, MS_US);
    recorder_clear(&r);
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Latency.                                                             */

Test(net, latency_samples_follow_the_distribution)
{
    sim_world *w = make_world(4, 11);
    recorder r;
    recorder_attach(&r, w);
    model_dist lat = {.kind = MODEL_DIST_LOGNORMAL, .median = 20000,
                      .sigma = 0.6, .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &lat), 0);
    const size_t n = 60000;
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(inject(w, k % 3, 3, 100), 0);
    sim_world_run_until(w, 100 * SECOND_US);
    cr_assert_eq(r.delivered, n);
    double sum = 0;
    bool reordered = false;
    for (guint k = 0; k < r.packets->len; k++) {
        sum += (double)rec_at(&r, k)->t_us;
        if (k && rec_at(&r, k)->t_us < rec_at(&r, k - 1)->t_us)
            reordered = true;
    }
    cr_assert_not(reordered, "deliveries come out in time order");
    double mean = sum / (double)n, expect = model_dist_mean(&lat);
    cr_assert(fabs(mean - expect) < 0.01 * expect, "mean %.1f expected %.1f",
              mean, expect);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_float_eq((double)st.latency_us_total / (double)st.latency_samples,
                       mean, 1.0);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, jitter_reorders_and_constant_latency_does_not)
{
    sim_world *w = make_world(2, 3);
    recorder r;
    recorder_attach(&r, w);
    /* Packets sent 1 ms apart with 0-10 ms of jitter overtake each other;
     * their sizes say in which order they were sent. */
    model_dist lat = {.kind = MODEL_DIST_UNIFORM, .min = 0, .max = 10000,
                      .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &lat), 0);
    for (size_t k = 0; k < 200; k++) {
        inject(w, 0, 1, 10 + k);
        sim_world_run_until(w, (int64_t)(k + 1) * MS_US);
    }
    sim_world_run_until(w, SECOND_US);
    size_t inversions = 0;
    for (guint k = 1; k < r.packets->len; k++)
        inversions += rec_at(&r, k)->n_bytes < rec_at(&r, k - 1)->n_bytes;
    cr_assert_gt(inversions, 20);

    model_dist fixed = {.kind = MODEL_DIST_CONSTANT, .value = 5000,
                        .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &fixed), 0);
    g_array_set_size(r.packets, 0);
    int64_t t0 = sim_world_now_us(w);
    for (size_t k = 0; k < 50; k++) {
        inject(w, 0, 1, 10 + k);
        sim_world_run_until(w, t0 + (int64_t)(k + 1) * MS_US);
    }
    sim_world_run_until(w, t0 + SECOND_US);
    for (guint k = 0; k < r.packets->len; k++) {
        cr_assert_eq(rec_at(&r, k)->n_bytes, 10 + k);
        cr_assert_eq(rec_at(&r, k)->t_us, t0 + (int64_t)k * MS_US + 5000);
    }
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, region_pairs_set_their_own_latency)
{
    sim_world *w = make_world(4, 5);
    recorder r;
    recorder_attach(&r, w);
    model_dist def = {.kind = MODEL_DIST_CONSTANT, .value = 7000,
                      .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &def), 0);
    uint16_t region_of[4] = {0, 0, 1, 1};
    model_dist m[4] = {
        {.kind = MODEL_DIST_CONSTANT, .value = 1000, .hi = MAX_US},  /* 0-0 */
        {.kind = MODEL_DIST_CONSTANT, .value = 80000, .hi = MAX_US}, /* 0-1 */
        {.kind = MODEL_DIST_CONSTANT, .value = 0, .hi = MAX_US}, /* 1-0 unset */
        {.kind = MODEL_DIST_CONSTANT, .value = 2000, .hi = MAX_US},  /* 1-1 */
    };
    bool set[4] = {true, true, false, true};
    uint16_t bad_region[4] = {0, 0, 2, 1};
    cr_assert_eq(sim_world_set_regions(w, bad_region, 2, m, set), -EINVAL);
    cr_assert_eq(sim_world_set_regions(w, region_of, 2, m, set), 0);
    inject(w, 0, 1, 11);
    inject(w, 0, 2, 12);
    inject(w, 2, 0, 13);
    inject(w, 3, 2, 14);
    sim_world_run_until(w, SECOND_US);
    int64_t expect[] = {1000, 80000, 7000, 2000};
    cr_assert_eq(r.packets->len, 4);
    for (guint k = 0; k < 4; k++) {
        seen_packet *p = rec_at(&r, k);
        cr_assert_eq(p->t_us, expect[p->n_bytes - 11], "packet %zu",
                     p->n_bytes);
    }
    /* An unset pair follows later changes of the default. */
    def.value = 9000;
    cr_assert_eq(sim_world_set_latency(w, &def), 0);
    g_array_set_size(r.packets, 0);
    inject(w, 2, 0, 13);
    sim_world_run_until(w, 2 * SECOND_US);
    cr_assert_eq(rec_at(&r, 0)->t_us, SECOND_US + 9000);
    recorder_clear(&r);
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Loss and duplication.                                                */

Test(net, bernoulli_loss_rate_matches)
{
    sim_world *w = make_world(5, 21);
    model_loss loss = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.1};
    cr_assert_eq(sim_world_set_loss(w, &loss), 0);
    const size_t n = 100000;
    for (size_t k = 0; k < n; k++)
        inject(w, k % 4, 4, 50);
    sim_world_run_until(w, SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    double rate = (double)st.dropped[SIM_DROP_LOSS] / (double)n;
    /* sd = sqrt(0.09 / 1e5) ~ 0.00095. */
    cr_assert(fabs(rate - 0.1) < 0.005, "rate %.4f", rate);
    cr_assert_eq(st.deliveries + st.dropped[SIM_DROP_LOSS], n);
    cr_assert_float_eq(model_loss_mean(&loss), 0.1, 1e-12);
    sim_world_free(w);
}

static void loss_on_cb(sim_world *w, void *user)
{
    cr_assert_eq(sim_world_set_loss(w, user), 0);
}

static void burst_cb(sim_world *w, void *user)
{
    for (size_t k = 0; k < 10000; k++)
        inject(w, 0, 1, 30);
}

Test(net, loss_rate_changes_mid_run)
{
    sim_world *w = make_world(2, 23);
    model_loss loss = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.5};
    model_loss none = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0};
    cr_assert_gt(sim_world_schedule(w, SECOND_US, burst_cb, NULL), 0);
    cr_assert_gt(sim_world_schedule(w, 2 * SECOND_US, loss_on_cb, &loss), 0);
    cr_assert_gt(sim_world_schedule(w, 2 * SECOND_US, burst_cb, NULL), 0);
    cr_assert_gt(sim_world_schedule(w, 3 * SECOND_US, loss_on_cb, &none), 0);
    cr_assert_gt(sim_world_schedule(w, 3 * SECOND_US, burst_cb, NULL), 0);
    sim_world_run_until(w, 1500 * MS_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.dropped[SIM_DROP_LOSS], 0);
    sim_world_run_until(w, 2500 * MS_US);
    sim_world_stats_get(w, &st);
    cr_assert(st.dropped[SIM_DROP_LOSS] > 4700 &&
                  st.dropped[SIM_DROP_LOSS] < 5300,
              "%" G_GUINT64_FORMAT, (guint64)st.dropped[SIM_DROP_LOSS]);
    uint64_t lost = st.dropped[SIM_DROP_LOSS];
    sim_world_run_until(w, 4 * SECOND_US);
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.dropped[SIM_DROP_LOSS], lost);
    cr_assert_eq(st.deliveries, 30000 - lost);
    sim_world_free(w);
}

Test(net, duplication_rate_matches)
{
    sim_world *w = make_world(3, 24);
    recorder r;
    recorder_attach(&r, w);
    cr_assert_eq(sim_world_set_duplicate(w, 0.2), 0);
    model_dist lat = {.kind = MODEL_DIST_UNIFORM, .min = 1000, .max = 9000,
                      .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &lat), 0);
    const size_t n = 50000;
    for (size_t k = 0; k < n; k++)
        inject(w, k % 2, 2, 40);
    sim_world_run_until(w, SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    double rate = (double)st.duplicated / (double)n;
    /* sd = sqrt(0.16 / 5e4) ~ 0.0018. */
    cr_assert(fabs(rate - 0.2) < 0.01, "rate %.4f", rate);
    cr_assert_eq(st.deliveries, n + st.duplicated);
    cr_assert_eq(r.delivered, st.deliveries);
    assert_conservation(w);
    recorder_clear(&r);
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Partitions.                                                          */

Test(net, one_way_partition_blocks_one_direction_until_healed)
{
    sim_world *w = make_world(6, 31);
    size_t a[] = {0, 1}, b[] = {2, 3};
    int id = sim_world_partition(w, a, 2, b, 2, true);
    cr_assert_gt(id, 0);
    cr_assert(sim_world_is_cut(w, 0, 2));
    cr_assert(sim_world_is_cut(w, 1, 3));
    cr_assert_not(sim_world_is_cut(w, 2, 0));
    cr_assert_not(sim_world_is_cut(w, 0, 1));
    cr_assert_not(sim_world_is_cut(w, 0, 4), "node 4 is in neither group");
    cr_assert_not(sim_world_is_cut(w, 4, 2));

    inject(w, 0, 2, 10); /* cut */
    inject(w, 2, 0, 10); /* flows */
    inject(w, 4, 3, 10); /* flows */
    sim_world_run_until(w, SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.dropped[SIM_DROP_PARTITION], 1);
    cr_assert_eq(st.deliveries, 2);
    sim_node_stats ns;
    sim_world_node_stats(w, 0, &ns);
    cr_assert_eq(ns.dropped_out[SIM_DROP_PARTITION], 1);
    sim_world_node_stats(w, 2, &ns);
    cr_assert_eq(ns.dropped_in[SIM_DROP_PARTITION], 1);

    cr_assert_eq(sim_world_heal(w, id), 0);
    cr_assert_eq(sim_world_heal(w, id), -ENOENT);
    cr_assert_not(sim_world_is_cut(w, 0, 2));
    inject(w, 0, 2, 10);
    sim_world_run_until(w, 2 * SECOND_US);
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.deliveries, 3);
    sim_world_free(w);
}

Test(net, symmetric_and_group_partitions)
{
    sim_world *w = make_world(9, 32);
    size_t a[] = {0, 1}, b[] = {2};
    int sym = sim_world_partition(w, a, 2, b, 1, false);
    cr_assert_gt(sym, 0);
    cr_assert(sim_world_is_cut(w, 0, 2) && sim_world_is_cut(w, 2, 1));
    size_t both[] = {1, 5};
    cr_assert_eq(sim_world_partition(w, a, 2, both, 2, false), -EINVAL);
    cr_assert_not(sim_world_is_cut(w, 0, 5), "refused call left no trace");
    size_t out_of_range[] = {9};
    cr_assert_eq(sim_world_partition(w, a, 2, out_of_range, 1, true), -EINVAL);
    cr_assert_eq(sim_world_heal(w, sym), 0);

    /* Three groups plus the implicit one (nodes 7, 8). */
    size_t g0[] = {0, 1, 2}, g1[] = {3, 4}, g2[] = {5, 6};
    const size_t *groups[] = {g0, g1, g2};
    size_t n_each[] = {3, 2, 2};
    int id = sim_world_partition_groups(w, groups, n_each, 3);
    cr_assert_gt(id, 0);
    int label[9] = {0, 0, 0, 1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < 9; i++)
        for (size_t j = 0; j < 9; j++)
            cr_assert_eq(sim_world_is_cut(w, i, j), label[i] != label[j],
                         "%zu -> %zu", i, j);
    sim_world_heal_all(w);
    for (size_t i = 0; i < 9; i++)
        for (size_t j = 0; j < 9; j++)
            cr_assert_not(sim_world_is_cut(w, i, j));

    /* 64 side bits: 64 two-group partitions, then no room. */
    int ids[64];
    for (int k = 0; k < 64; k++) {
        ids[k] = sim_world_partition(w, a, 1, b, 1, true);
        cr_assert_gt(ids[k], 0);
    }
    cr_assert_eq(sim_world_partition(w, a, 1, b, 1, true), -ENOSPC);
    cr_assert_eq(sim_world_heal(w, ids[10]), 0);
    cr_assert_gt(sim_world_partition(w, a, 1, b, 1, true), 0);
    sim_world_free(w);
}

static void publish(sim_world *w, size_t i, const char *text)
{
    cr_assert_eq(peko_nodelist_publish(sim_world_node(w, i),
                                       (const uint8_t *)text, strlen(text)),
                 0);
}

static void assert_all_hold(sim_world *w, const char *text)
{
    for (size_t i = 0; i < sim_world_size(w); i++) {
        size_t n;
        const uint8_t *m = peko_nodelist_read(sim_world_node(w, i), &n);
        cr_assert_not_null(m, "node %zu has no metadata", i);
        cr_assert(n == strlen(text) && memcmp(m, text, n) == 0,
                  "node %zu holds '%.*s', not '%s'", i, (int)n, m, text);
    }
}

Test(net, metadata_from_both_sides_converges_to_newest_after_heal)
{
    sim_world *w = make_world(8, 33);
    join_all(w);
    sim_world_run_until(w, 6 * SECOND_US);
    cr_assert(converged(w));
    size_t a[] = {0, 1, 2, 3}, b[] = {4, 5, 6, 7};
    int id = sim_world_partition(w, a, 4, b, 4, false);
    cr_assert_gt(id, 0);
    sim_world_run_until(w, 7 * SECOND_US);
    publish(w, 1, "left one");
    sim_world_run_until(w, 8 * SECOND_US);
    publish(w, 5, "right one");
    sim_world_run_until(w, 9 * SECOND_US);
    publish(w, 6, "right two");
    sim_world_run_until(w, 12 * SECOND_US);
    /* Each side holds its own newest. */
    size_t n;
    cr_assert_eq(memcmp(peko_nodelist_read(sim_world_node(w, 0), &n),
                        "left one", 8), 0);
    cr_assert_eq(memcmp(peko_nodelist_read(sim_world_node(w, 7), &n),
                        "right two", 9), 0);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_gt(st.dropped[SIM_DROP_PARTITION], 0);

    peko_version newest, v;
    peko_nodelist_metadata_version(sim_world_node(w, 1), &newest);
    peko_nodelist_metadata_version(sim_world_node(w, 6), &v);
    if (peko_version_compare(&v, &newest) > 0)
        newest = v;
    cr_assert_eq(sim_world_heal(w, id), 0);
    sim_world_run_until(w, 30 * SECOND_US);
    for (size_t i = 0; i < 8; i++) {
        peko_nodelist_metadata_version(sim_world_node(w, i), &v);
        cr_assert_eq(peko_version_compare(&v, &newest), 0, "node %zu", i);
    }
    assert_all_hold(w, "right two");
    cr_assert(converged(w));
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Lifecycle.                                                           */

typedef struct incarnations {
    uint32_t last; /* of node 3's own heartbeats */
    size_t created;
} incarnations;

static void on_rumor_created(void *user, const peko_rumor *rumor)
{
    incarnations *inc = user;
    if (rumor->kind == PEKO_MSG_HEARTBEAT) {
        inc->last = (uint32_t)(rumor->id >> 32);
        inc->created++;
    }
}

Test(net, crashed_node_loses_state_and_rejoins_through_seeds)
{
    sim_world *w = make_world(6, 41);
    incarnations inc = {0};
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .rumor_created = on_rumor_created};
    sim_world_set_observer(w, 3, &obs, &inc);
    join_all(w);
    size_t seeds3[] = {0, 1};
    cr_assert_eq(sim_world_set_seeds(w, 3, seeds3, 2), 0);
    sim_world_run_until(w, 6 * SECOND_US);
    cr_assert(converged(w));
    publish(w, 2, "before the crash");
    sim_world_run_until(w, 8 * SECOND_US);
    cr_assert_gt(inc.created, 0);
    uint32_t first_life = inc.last;

    cr_assert_eq(sim_world_crash(w, 3), 0);
    cr_assert_eq(sim_world_crash(w, 3), -EALREADY);
    cr_assert_null(sim_world_node(w, 3));
    cr_assert_eq(sim_world_node_state(w, 3), SIM_NODE_DOWN);
    cr_assert_eq(sim_world_pause(w, 3), -ENODEV);
    cr_assert_eq(sim_world_join(w, 3), -ENODEV);
    sim_world_run_until(w, 10 * SECOND_US);
    sim_node_stats ns;
    sim_world_node_stats(w, 3, &ns);
    cr_assert_gt(ns.dropped_in[SIM_DROP_NODE_DOWN], 0);
    cr_assert_eq(ns.crashes, 1);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    uint64_t events = st.timers;
    sim_world_run_until(w, 12 * SECOND_US);
    sim_world_stats_get(w, &st);
    cr_assert_leq(st.timers - events, 5 * 2 + 1, "no timers of the dead");

    cr_assert_eq(sim_world_restart(w, 3), 0);
    cr_assert_eq(sim_world_restart(w, 3), -EBUSY);
    peko_nodelist *nl = sim_world_node(w, 3);
    cr_assert_not_null(nl);
    /* Fresh: itself and its two seeds, no metadata. */
    cr_assert_eq(peko_nodelist_count(nl), 3);
    cr_assert(peko_nodelist_contains(nl, sim_world_addr(w, 0)));
    cr_assert(peko_nodelist_contains(nl, sim_world_addr(w, 1)));
    size_t n;
    cr_assert_null(peko_nodelist_read(nl, &n));
    sim_world_run_until(w, 12 * SECOND_US); /* its first cycle, at once */
    cr_assert_neq(inc.last, first_life, "a restart is a new incarnation");
    sim_world_run_until(w, 20 * SECOND_US);
    cr_assert(full_list(w, 3));
    assert_all_hold(w, "before the crash");
    cr_assert(converged(w));
    sim_world_node_stats(w, 3, &ns);
    cr_assert_eq(ns.restarts, 1);
    sim_world_free(w);
}

Test(net, queued_packets_die_with_the_crashed_life)
{
    sim_world *w = make_world(2, 42);
    cr_assert_eq(sim_world_set_rx_cost(w, 1, 10 * MS_US), 0);
    for (int k = 0; k < 5; k++)
        inject(w, 0, 1, 10);
    /* Arrive at 1 ms, processed at 11, 21, ...: crash at 15 ms, restart
     * at once: the new life must not see the old life's queue. */
    sim_world_run_until(w, 15 * MS_US);
    cr_assert_eq(sim_world_crash(w, 1), 0);
    cr_assert_eq(sim_world_restart(w, 1), 0);
    sim_world_run_until(w, SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    /* The first packet was handed over at 11 ms; the restarted node
     * knows nobody, so it sends nothing. */
    cr_assert_eq(st.deliveries, 1);
    cr_assert_eq(st.dropped[SIM_DROP_NODE_DOWN], 4);
    assert_conservation(w);
    sim_world_free(w);
}

Test(net, pause_holds_up_to_buffer_then_drops_and_timers_fire_late)
{
    sim_world *w = make_world(3, 43);
    recorder r;
    recorder_attach(&r, w);
    join_all(w);
    sim_world_run_until(w, 5 * SECOND_US + 500 * MS_US);
    cr_assert(converged(w));
    cr_assert_eq(sim_world_pause(w, 2), 0);
    cr_assert_eq(sim_world_pause(w, 2), -EALREADY);
    cr_assert_eq(sim_world_node_state(w, 2), SIM_NODE_PAUSED);
    peko_stats before;
    peko_nodelist_stats(sim_world_node(w, 2), &before);

    /* Buffer is amount * 3 = 9: 9 wait, the rest are dropped. */
    g_array_set_size(r.packets, 0);
    for (size_t k = 0; k < 15; k++)
        inject(w, 0, 2, 100 + k);
    sim_world_run_until(w, 5 * SECOND_US + 600 * MS_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.held, 9);
    cr_assert_eq(r.dropped[SIM_DROP_RECV_BUFFER], 6);
    sim_world_run_until(w, 9 * SECOND_US);
    peko_stats during;
    peko_nodelist_stats(sim_world_node(w, 2), &during);
    cr_assert_eq(during.sent[PEKO_MSG_HEARTBEAT],
                 before.sent[PEKO_MSG_HEARTBEAT], "a paused node is silent");
    cr_assert_eq(during.received[PEKO_MSG_HEARTBEAT],
                 before.received[PEKO_MSG_HEARTBEAT]);

    g_array_set_size(r.packets, 0);
    cr_assert_eq(sim_world_resume(w, 2), 0);
    cr_assert_eq(sim_world_resume(w, 2), -EALREADY);
    sim_world_run_until(w, 9 * SECOND_US);
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.held, 0);
    /* The held packets come first, in arrival order, at the resume time;
     * then the overdue cycle has node 2 send its heartbeat. */
    size_t k = 0;
    for (guint j = 0; j < r.packets->len; j++) {
        seen_packet *p = rec_at(&r, j);
        if (p->to != 2 || p->n_bytes < 100 || p->n_bytes >= 115)
            continue;
        cr_assert_eq(p->cause, -1);
        cr_assert_eq(p->n_bytes, 100 + k, "arrival order");
        cr_assert_eq(p->t_us, 9 * SECOND_US);
        k++;
    }
    cr_assert_eq(k, 9);
    peko_stats after;
    peko_nodelist_stats(sim_world_node(w, 2), &after);
    cr_assert_gt(after.sent[PEKO_MSG_HEARTBEAT],
                 during.sent[PEKO_MSG_HEARTBEAT], "the late timer fired");
    sim_node_stats ns;
    sim_world_node_stats(w, 2, &ns);
    cr_assert_eq(ns.held_max, 9);
    assert_conservation(w);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, stop_and_start_are_pekonodes)
{
    sim_world *w = make_world(3, 44);
    join_all(w);
    sim_world_run_until(w, 3 * SECOND_US);
    cr_assert_eq(sim_world_stop(w, 1), 0);
    cr_assert_not(peko_nodelist_is_running(sim_world_node(w, 1)));
    cr_assert_eq(sim_world_start(w, 1), 0);
    cr_assert(peko_nodelist_is_running(sim_world_node(w, 1)));
    cr_assert_eq(sim_world_crash(w, 1), 0);
    cr_assert_eq(sim_world_stop(w, 1), -ENODEV);
    cr_assert_eq(sim_world_join(w, 0), -EALREADY);
    sim_world_free(w);
}

static void join_cb(sim_world *w, void *user)
{
    cr_assert_eq(sim_world_join(w, (size_t)(uintptr_t)user), 0);
}

Test(net, late_joiner_is_a_later_join)
{
    sim_world *w = make_world(5, 45);
    size_t seed0 = 0;
    for (size_t i = 0; i < 5; i++) {
        if (i)
            cr_assert_eq(sim_world_set_seeds(w, i, &seed0, 1), 0);
        if (i < 4)
            cr_assert_eq(sim_world_join(w, i), 0);
    }
    cr_assert_gt(sim_world_schedule(w, 10 * SECOND_US, join_cb,
                                    (void *)(uintptr_t)4), 0);
    sim_world_run_until(w, 9 * SECOND_US);
    cr_assert_eq(peko_nodelist_count(sim_world_node(w, 0)), 4);
    sim_world_run_until(w, 18 * SECOND_US);
    cr_assert(converged(w));
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Bandwidth and queues.                                                */

Test(net, uplink_serializes_and_its_queue_overflows)
{
    sim_world *w = make_world(3, 51);
    recorder r;
    recorder_attach(&r, w);
    /* 1 Mbit/s: 1250 bytes take 10 ms. Latency 1 ms. */
    cr_assert_eq(sim_world_set_uplink(w, 0, 1000000, 3), 0);
    for (size_t k = 0; k < 6; k++)
        cr_assert_eq(inject(w, 0, 1 + k % 2, 1250), k < 4 ? 0 : -ENOBUFS,
                     "packet %zu", k);
    sim_world_run_until(w, SECOND_US);
    cr_assert_eq(r.delivered, 4);
    cr_assert_eq(r.dropped[SIM_DROP_SEND_QUEUE], 2);
    /* The two drops come first (at send time), then the deliveries. */
    cr_assert_eq(r.packets->len, 6);
    for (guint k = 0; k < 4; k++) {
        seen_packet *p = rec_at(&r, 2 + k);
        cr_assert_eq(p->cause, -1);
        cr_assert_eq(p->t_us, (int64_t)(k + 1) * 10 * MS_US + MS_US,
                     "packet %u at %" G_GINT64_FORMAT, k, p->t_us);
    }
    sim_node_stats ns;
    sim_world_node_stats(w, 0, &ns);
    cr_assert_eq(ns.uplink_queue_max, 4);
    cr_assert_eq(ns.dropped_out[SIM_DROP_SEND_QUEUE], 2);

    /* The queue drains with time: a packet sent when the uplink is idle
     * leaves at once; one sent during another's transmission waits. */
    g_array_set_size(r.packets, 0);
    inject(w, 0, 1, 1250); /* t = 1 s: done 1.010 */
    sim_world_run_until(w, SECOND_US + 5 * MS_US);
    inject(w, 0, 1, 125); /* waits until 1.010, done 1.011 */
    sim_world_run_until(w, 2 * SECOND_US);
    cr_assert_eq(rec_at(&r, 0)->t_us, SECOND_US + 11 * MS_US);
    cr_assert_eq(rec_at(&r, 1)->t_us, SECOND_US + 12 * MS_US);
    /* Another node's uplink is its own. */
    g_array_set_size(r.packets, 0);
    inject(w, 2, 1, 1250);
    sim_world_run_until(w, 3 * SECOND_US);
    cr_assert_eq(rec_at(&r, 0)->t_us, 2 * SECOND_US + MS_US);
    cr_assert_eq(sim_world_set_uplink(w, 0, -1, 0), -EINVAL);
    assert_conservation(w);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, receive_queue_costs_time_and_drops_beyond_buffer)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.buffer = 4;
    sim_world *w = make_world_cfg(2, 52, &config);
    recorder r;
    recorder_attach(&r, w);
    cr_assert_eq(sim_world_set_rx_cost(w, 1, 2 * MS_US), 0);
    for (size_t k = 0; k < 8; k++)
        inject(w, 0, 1, 10 + k);
    sim_world_run_until(w, SECOND_US);
    /* One in process and Buffer = 4 waiting: 5 handed over, 2 ms apart. */
    cr_assert_eq(r.delivered, 5);
    cr_assert_eq(r.dropped[SIM_DROP_RECV_BUFFER], 3);
    size_t k = 0;
    for (guint j = 0; j < r.packets->len; j++) {
        seen_packet *p = rec_at(&r, j);
        if (p->cause != -1)
            continue;
        cr_assert_eq(p->n_bytes, 10 + k);
        cr_assert_eq(p->t_us, MS_US + (int64_t)(k + 1) * 2 * MS_US);
        k++;
    }
    sim_node_stats ns;
    sim_world_node_stats(w, 1, &ns);
    cr_assert_eq(ns.rx_queue_max, 5);
    cr_assert_eq(ns.dropped_in[SIM_DROP_RECV_BUFFER], 3);

    /* Without a cost the queue never fills. */
    cr_assert_eq(sim_world_set_rx_cost(w, 1, 0), 0);
    for (size_t j = 0; j < 100; j++)
        inject(w, 0, 1, 10);
    sim_world_run_until(w, 2 * SECOND_US);
    cr_assert_eq(r.delivered, 105);
    cr_assert_eq(sim_world_set_rx_cost(w, 1, -1), -EINVAL);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, a_shared_host_serializes_the_processing_of_all_nodes)
{
    /* Nodes 1 and 2 each get a packet at 1 ms, costing 2 ms. With a
     * processor each, both are handed over at 3 ms; on one shared core,
     * the second waits for the first (5 ms); on two, neither waits. */
    static const struct {
        uint32_t cores;
        int64_t second_us;
    } cases[] = {{0, 3 * MS_US}, {1, 5 * MS_US}, {2, 3 * MS_US}};
    for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
        sim_world *w = make_world(3, 53);
        recorder r;
        recorder_attach(&r, w);
        for (size_t i = 1; i < 3; i++)
            cr_assert_eq(sim_world_set_rx_cost(w, i, 2 * MS_US), 0);
        cr_assert_eq(sim_world_set_host_cores(w, cases[c].cores), 0);
        inject(w, 0, 1, 10);
        inject(w, 0, 2, 11);
        sim_world_run_until(w, SECOND_US);
        cr_assert_eq(r.delivered, 2, "cores %u", cases[c].cores);
        cr_assert_eq(rec_at(&r, 0)->n_bytes, 10);
        cr_assert_eq(rec_at(&r, 0)->t_us, 3 * MS_US);
        cr_assert_eq(rec_at(&r, 1)->n_bytes, 11);
        cr_assert_eq(rec_at(&r, 1)->t_us, cases[c].second_us,
                     "cores %u: handed over at %" PRId64 " us",
                     cases[c].cores, rec_at(&r, 1)->t_us);
        recorder_clear(&r);
        sim_world_free(w);
    }
    sim_world *w = make_world(2, 54);
    cr_assert_eq(sim_world_set_host_cores(w, SIM_WORLD_MAX_HOST_CORES + 1),
                 -EINVAL);
    sim_world_free(w);
}

Test(net, oversize_and_unroutable_are_counted)
{
    /* The engine's Size (at most 65507 over UDP, which the engine itself
     * enforces) is the bound. */
    sim_world *w = make_world(2, 53);
    recorder r;
    recorder_attach(&r, w);
    cr_assert_eq(inject(w, 0, 1, PEKO_DEFAULT_SIZE), 0);
    cr_assert_eq(inject(w, 0, 1, PEKO_DEFAULT_SIZE + 1), -EMSGSIZE);
    peko_addr ghost;
    cr_assert_eq(peko_addr_parse("10.9.9.9", 8000, &ghost), 0);
    uint8_t b[8] = {0};
    cr_assert_eq(sim_world_inject(w, 0, &ghost, b, 8), 0);
    sim_world_run_until(w, SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.dropped[SIM_DROP_OVERSIZE], 1);
    cr_assert_eq(st.dropped[SIM_DROP_NODE_DOWN], 1);
    cr_assert_eq(st.unroutable, 1);
    cr_assert_eq(st.deliveries, 1);
    cr_assert_eq(rec_at(&r, 0)->cause, SIM_DROP_OVERSIZE);
    cr_assert_eq(rec_at(&r, 1)->to, SIZE_MAX);
    cr_assert_eq(rec_at(&r, 1)->cause, SIM_DROP_NODE_DOWN);
    recorder_clear(&r);
    sim_world_free(w);

    /* TCP messages may exceed a datagram: Size alone decides. */
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.protocol = PEKO_PROTOCOL_TCP;
    config.engine.size = 100000;
    w = make_world_cfg(2, 53, &config);
    cr_assert_eq(inject(w, 0, 1, 70000), 0);
    cr_assert_eq(inject(w, 0, 1, 100001), -EMSGSIZE);
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* TCP mode.                                                            */

static sim_world *make_tcp_world(size_t n, uint64_t seed)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    config.engine.protocol = PEKO_PROTOCOL_TCP;
    config.latency_us = 10 * MS_US;
    return make_world_cfg(n, seed, &config);
}

Test(net, tcp_pays_the_handshake_once_per_connection)
{
    sim_world *w = make_tcp_world(20, 61);
    recorder r;
    recorder_attach(&r, w);
    inject(w, 0, 1, 100);
    sim_world_run_until(w, 100 * MS_US);
    inject(w, 0, 1, 101);
    sim_world_run_until(w, SECOND_US);
    /* SYN, SYN-ACK, data: 30 ms; then 10 ms on the open connection. */
    cr_assert_eq(rec_at(&r, 0)->t_us, 30 * MS_US);
    cr_assert_eq(rec_at(&r, 1)->t_us, 110 * MS_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.tcp_connects, 1);

    /* 16 connections are kept: touching 17 peers evicts the least
     * recently used (peer 1, opened first). */
    for (size_t p = 2; p <= 17; p++)
        inject(w, 0, p, 10);
    inject(w, 0, 1, 10);
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.tcp_connects, 1 + 16 + 1);
    inject(w, 0, 17, 10); /* still open */
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.tcp_connects, 18);
    /* A crash of the peer kills the connection. */
    cr_assert_eq(sim_world_crash(w, 17), 0);
    cr_assert_eq(sim_world_restart(w, 17), 0);
    inject(w, 0, 17, 10);
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.tcp_connects, 19);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, tcp_has_no_loss_and_keeps_order)
{
    sim_world *w = make_tcp_world(3, 62);
    recorder r;
    recorder_attach(&r, w);
    model_loss loss = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.3};
    cr_assert_eq(sim_world_set_loss(w, &loss), 0);
    model_dist lat = {.kind = MODEL_DIST_UNIFORM, .min = 1000, .max = 50000,
                      .hi = MAX_US};
    cr_assert_eq(sim_world_set_latency(w, &lat), 0);
    cr_assert_eq(sim_world_set_duplicate(w, 0.5), 0);
    const size_t n = 2000;
    for (size_t k = 0; k < n; k++) {
        inject(w, 0, 1 + k % 2, 10 + k);
        sim_world_run_until(w, (int64_t)k * MS_US);
    }
    sim_world_run_until(w, 1000 * SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.deliveries, n, "every message arrives, exactly once");
    cr_assert_eq(dropped_total(&st), 0);
    cr_assert_eq(st.duplicated, 0);
    cr_assert_gt(st.tcp_retransmits, n / 4);
    /* Per connection, in send order. */
    size_t last[3] = {0, 0, 0};
    for (guint k = 0; k < r.packets->len; k++) {
        seen_packet *p = rec_at(&r, k);
        cr_assert_gt(p->n_bytes, last[p->to], "message overtaken");
        last[p->to] = p->n_bytes;
    }
    /* Retransmission delays are whole RTOs above the latency: the mean
     * delay is well above the mean latency. */
    double mean = (double)st.latency_us_total / (double)st.latency_samples;
    cr_assert_gt(mean, model_dist_mean(&lat) + 50 * MS_US);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, tcp_cluster_converges)
{
    sim_world *w = make_tcp_world(8, 63);
    join_all(w);
    sim_world_run_until(w, 8 * SECOND_US);
    cr_assert(converged(w));
    publish(w, 3, "over tcp");
    sim_world_run_until(w, 12 * SECOND_US);
    assert_all_hold(w, "over tcp");
    sim_world_free(w);
}

/* ------------------------------------------------------------------ */
/* Clocks.                                                              */

Test(net, clock_offset_and_drift_are_what_the_env_reads)
{
    sim_world *w = make_world(2, 71);
    cr_assert_eq(sim_world_set_clock(w, 0, 5 * SECOND_US, 100.0), 0);
    cr_assert_eq(sim_world_node_now_us(w, 0), 5 * SECOND_US);
    sim_world_run_until(w, 10 * SECOND_US);
    cr_assert_eq(sim_world_node_now_us(w, 0), 15 * SECOND_US + 1000);
    cr_assert_eq(sim_world_node_now_us(w, 1), 10 * SECOND_US);
    /* The engine's env is the same function. */
    sim_node *node = &w->nodes[0];
    cr_assert_eq(node->env.now_us(&node->env), 15 * SECOND_US + 1000);

    cr_assert_eq(sim_world_set_clock(w, 1, 0, -1e6), -EINVAL);
    cr_assert_eq(sim_world_set_clock(w, 1, 0, NAN), -EINVAL);
    cr_assert_eq(sim_world_set_clock(w, 1, 0, -999999.0), 0);
    cr_assert_eq(sim_world_set_clock(w, 1, 0, 0), 0);
    /* Node 0's engine has read its clock: turning it back is refused. */
    cr_assert_eq(sim_world_set_clock(w, 0, 0, 0), -ERANGE);
    cr_assert_eq(sim_world_set_clock(w, 0, 6 * SECOND_US, 0), 0);
    sim_world_free(w);
}

Test(net, timers_run_on_node_time)
{
    /* A clock 10 % fast runs its 1 s cycle every 1/1.1 s of virtual time;
     * one 50 % slow every 2 s. */
    sim_world *w = make_world(3, 72);
    cr_assert_eq(sim_world_set_clock(w, 1, -3600 * SECOND_US, 100000.0), 0);
    cr_assert_eq(sim_world_set_clock(w, 2, 0, -500000.0), 0);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(sim_world_join(w, i), 0);
    sim_world_run_until(w, 22 * SECOND_US);
    peko_stats s0, s1, s2;
    peko_nodelist_stats(sim_world_node(w, 0), &s0);
    peko_nodelist_stats(sim_world_node(w, 1), &s1);
    peko_nodelist_stats(sim_world_node(w, 2), &s2);
    /* Swap requests: one per cycle (nobody to send heartbeats to). */
    (void)s0;
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    /* Cycles at 0..22 s: 23 for node 0, 0..24.2 node-seconds: 25 for
     * node 1, 0..11 node-seconds: 12 for node 2. */
    cr_assert_eq(st.timers, 23 + 25 + 12, "timers %" G_GUINT64_FORMAT,
                 (guint64)st.timers);
    sim_world_free(w);
}

Test(net, timers_never_fire_before_their_node_deadline)
{
    model_stream rng;
    model_stream_init(&rng, 73, 0);
    sim_node node;
    memset(&node, 0, sizeof node);
    for (int k = 0; k < 200000; k++) {
        node.clock_offset_us = model_stream_range(
            &rng, -MODEL_DIST_MAX / 100, MODEL_DIST_MAX / 100);
        /* Drifts across the whole range, tiny ones included. */
        int64_t span = k % 2 ? 999999999 : 2000;
        node.drift_ppb = model_stream_range(&rng, -span, span);
        node.clock_on = true;
        int64_t now = model_stream_range(&rng, 0, MODEL_DIST_MAX / 10);
        int64_t deadline = sim__node_time(&node, now) +
                           model_stream_range(&rng, -1000, 100 * SECOND_US);
        int64_t at = sim__virtual_time(&node, deadline, now);
        cr_assert_geq(at, now);
        cr_assert_geq(sim__node_time(&node, at), deadline, "fires early");
        if (at > now)
            cr_assert_lt(sim__node_time(&node, at - 1), deadline,
                         "fires later than needed");
        cr_assert_geq(sim__node_time(&node, at + 1),
                      sim__node_time(&node, at), "monotonic");
    }
}

Test(net, skewed_clock_never_loses_a_newer_publish)
{
    /* Node 1 lives an hour in the past and its clock crawls; node 2 an
     * hour in the future and fast. Node 2 publishes first, node 1 later:
     * with logical versions node 1's publish wins everywhere, whatever
     * the clocks say. */
    sim_world *w = make_world(6, 74);
    cr_assert_eq(sim_world_set_clock(w, 1, -3600 * SECOND_US, -50000.0), 0);
    cr_assert_eq(sim_world_set_clock(w, 2, 3600 * SECOND_US, 50000.0), 0);
    join_all(w);
    sim_world_run_until(w, 6 * SECOND_US);
    publish(w, 2, "from the future");
    sim_world_run_until(w, 8 * SECOND_US);
    assert_all_hold(w, "from the future");
    publish(w, 1, "from the past, but newer");
    sim_world_run_until(w, 14 * SECOND_US);
    assert_all_hold(w, "from the past, but newer");
    cr_assert(converged(w));
    sim_world_free(w);
}

typedef struct lines {
    GPtrArray *text;
} lines;

static void keep_line(void *user, size_t node, const char *line)
{
    lines *l = user;
    if (node == 1)
        g_ptr_array_add(l->text, g_strdup(line));
}

Test(net, console_lines_carry_the_nodes_own_clock)
{
    lines l = {g_ptr_array_new_with_free_func(g_free)};
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.is_print = true;
    config.print = keep_line;
    config.print_user = &l;
    sim_world *w = make_world_cfg(2, 75, &config);
    cr_assert_eq(sim_world_set_clock(w, 1, 3600 * SECOND_US, 0), 0);
    cr_assert_eq(sim_world_join(w, 1), 0);
    cr_assert_gt(l.text->len, 0);
    cr_assert(g_str_has_prefix(g_ptr_array_index(l.text, 0),
                               "2022-05-19 15:51:23 "),
              "%s", (char *)g_ptr_array_index(l.text, 0));
    sim_world_free(w);
    g_ptr_array_free(l.text, TRUE);
}

/* ------------------------------------------------------------------ */
/* Callbacks.                                                           */

typedef struct call_log {
    GArray *order;     /* int tags */
    GArray *times;     /* int64 */
    int every_id;
} call_log;

static call_log *the_log;

static void tag_cb(sim_world *w, void *user)
{
    int tag = (int)(intptr_t)user;
    int64_t t = sim_world_now_us(w);
    g_array_append_val(the_log->order, tag);
    g_array_append_val(the_log->times, t);
}

static void every_cb(sim_world *w, void *user)
{
    tag_cb(w, user);
    if (sim_world_now_us(w) >= 3 * SECOND_US)
        cr_assert_eq(sim_world_cancel(w, the_log->every_id), 0);
}

Test(net, callbacks_run_in_time_then_insertion_order)
{
    call_log log = {g_array_new(FALSE, FALSE, sizeof(int)),
                    g_array_new(FALSE, FALSE, sizeof(int64_t)), 0};
    the_log = &log;
    sim_world *w = make_world(2, 81);
    cr_assert_gt(sim_world_schedule(w, 2 * SECOND_US, tag_cb, (void *)2), 0);
    cr_assert_gt(sim_world_schedule(w, SECOND_US, tag_cb, (void *)10), 0);
    cr_assert_gt(sim_world_schedule(w, SECOND_US, tag_cb, (void *)11), 0);
    int gone = sim_world_schedule(w, SECOND_US, tag_cb, (void *)99);
    cr_assert_gt(gone, 0);
    cr_assert_eq(sim_world_cancel(w, gone), 0);
    cr_assert_eq(sim_world_cancel(w, gone), -ENOENT);
    cr_assert_eq(sim_world_cancel(w, 12345), -ENOENT);
    log.every_id = sim_world_every(w, 500 * MS_US, SECOND_US, every_cb,
                                   (void *)7);
    cr_assert_gt(log.every_id, 0);
    cr_assert_eq(sim_world_every(w, 0, 0, every_cb, NULL), -EINVAL);
    sim_world_run_until(w, 10 * SECOND_US);
    int expect_tags[] = {7, 10, 11, 7, 2, 7, 7};
    int64_t expect_t[] = {500, 1000, 1000, 1500, 2000, 2500, 3500};
    cr_assert_eq(log.order->len, G_N_ELEMENTS(expect_tags));
    for (guint k = 0; k < log.order->len; k++) {
        cr_assert_eq(g_array_index(log.order, int, k), expect_tags[k]);
        cr_assert_eq(g_array_index(log.times, int64_t, k),
                     expect_t[k] * MS_US);
    }
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.pending, 0);
    sim_world_free(w);
    g_array_free(log.order, TRUE);
    g_array_free(log.times, TRUE);
}

/* ------------------------------------------------------------------ */
/* Everything at once: counters, determinism.                           */

typedef struct chaos {
    size_t n;
    int part;
} chaos;

static void chaos_cut(sim_world *w, void *user)
{
    chaos *c = user;
    size_t a[] = {0, 1, 2}, b[] = {5, 6, 7, 8};
    c->part = sim_world_partition(w, a, 3, b, 4, true);
    cr_assert_gt(c->part, 0);
    cr_assert_eq(sim_world_crash(w, 9), 0);
    cr_assert_eq(sim_world_pause(w, 4), 0);
}

static void chaos_heal(sim_world *w, void *user)
{
    chaos *c = user;
    cr_assert_eq(sim_world_heal(w, c->part), 0);
    cr_assert_eq(sim_world_restart(w, 9), 0);
    cr_assert_eq(sim_world_resume(w, 4), 0);
    publish(w, 3, "after the storm");
    inject(w, 0, 1, 70000 - 1); /* oversize */
}

/* A busy, faulty 12-node run; returns the world for inspection. */
static sim_world *chaos_run(uint64_t seed, recorder *r, chaos *c)
{
    sim_world_config config;
    sim_world_config_init(&config);
    config.engine.cycle_us = SECOND_US;
    config.engine.buffer = 3;
    sim_world *w = make_world_cfg(12, seed, &config);
    if (r)
        recorder_attach(r, w);
    model_dist lat = {.kind = MODEL_DIST_PARETO, .scale = 2000, .shape = 1.5,
                      .hi = 500000};
    cr_assert_eq(sim_world_set_latency(w, &lat), 0);
    model_loss loss = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                       .p_good_to_bad = 0.05, .p_bad_to_good = 0.3,
                       .loss_good = 0.01, .loss_bad = 0.8};
    cr_assert_eq(sim_world_set_loss(w, &loss), 0);
    cr_assert_eq(sim_world_set_duplicate(w, 0.05), 0);
    for (size_t i = 0; i < 12; i++) {
        cr_assert_eq(sim_world_set_uplink(w, i, 200000, 2), 0);
        cr_assert_eq(sim_world_set_rx_cost(w, i, 3 * MS_US), 0);
    }
    cr_assert_eq(sim_world_set_clock(w, 5, -SECOND_US, 300.0), 0);
    join_all(w);
    cr_assert_gt(sim_world_schedule(w, 4 * SECOND_US, chaos_cut, c), 0);
    cr_assert_gt(sim_world_schedule(w, 9 * SECOND_US, chaos_heal, c), 0);
    for (int64_t t = 0; t <= 15; t++)
        sim_world_run_until(w, t * SECOND_US);
    return w;
}

Test(net, drop_counters_add_up)
{
    recorder r;
    chaos c = {0};
    sim_world *w = chaos_run(91, &r, &c);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    assert_conservation(w);
    for (int cause = 0; cause < SIM_DROP_COUNT; cause++) {
        cr_assert_gt(st.dropped[cause], 0, "no %s drop happened",
                     sim_drop_cause_name((sim_drop_cause)cause));
        cr_assert_eq(r.dropped[cause], st.dropped[cause]);
        uint64_t out = 0, in = 0;
        for (size_t i = 0; i < 12; i++) {
            sim_node_stats ns;
            sim_world_node_stats(w, i, &ns);
            out += ns.dropped_out[cause];
            in += ns.dropped_in[cause];
        }
        cr_assert_eq(out, st.dropped[cause]);
        cr_assert_eq(in, st.dropped[cause]); /* nothing unroutable here */
    }
    cr_assert_eq(r.delivered, st.deliveries);
    cr_assert_gt(st.duplicated, 0);
    /* Drained: nothing held, and once the queue empties nothing is in
     * flight. */
    uint64_t sends = 0, deliveries = 0;
    for (size_t i = 0; i < 12; i++) {
        sim_node_stats ns;
        sim_world_node_stats(w, i, &ns);
        sends += ns.sends;
        deliveries += ns.deliveries;
    }
    cr_assert_eq(sends, st.sends);
    cr_assert_eq(deliveries, st.deliveries);
    cr_assert_eq(st.held, 0);
    recorder_clear(&r);
    sim_world_free(w);
}

Test(net, same_seed_same_trace_with_every_fault)
{
    chaos c1 = {0}, c2 = {0}, c3 = {0};
    sim_world *a = chaos_run(92, NULL, &c1);
    sim_world *b = chaos_run(92, NULL, &c2);
    sim_world *d = chaos_run(93, NULL, &c3);
    cr_assert_eq(sim_world_trace_hash(a), sim_world_trace_hash(b));
    cr_assert_neq(sim_world_trace_hash(a), sim_world_trace_hash(d));
    sim_world_stats sa, sb;
    sim_world_stats_get(a, &sa);
    sim_world_stats_get(b, &sb);
    cr_assert_eq(memcmp(sa.dropped, sb.dropped, sizeof sa.dropped), 0);
    cr_assert_eq(sa.events, sb.events);
    sim_world_free(a);
    sim_world_free(b);
    sim_world_free(d);
}

/* The engine's look at its coming draws (env.random_peek) leaves the
 * stream where it was, and tells exactly what random_u64 then returns. */
Test(net, random_peek_tells_the_coming_draws)
{
    sim_world *w = make_world(2, 95);
    peko_env *env = &w->nodes[1].env;
    cr_assert_geq(env->version, 4);
    cr_assert_not_null(env->random_peek);
    uint64_t peeked[8];
    for (unsigned k = 0; k < 8; k++)
        peeked[k] = env->random_peek(env, k);
    cr_assert_eq(env->random_peek(env, 0), peeked[0]);
    cr_assert_neq(peeked[0], peeked[1]);
    for (unsigned k = 0; k < 8; k++)
        cr_assert_eq(env->random_u64(env), peeked[k]);
    sim_world_free(w);
}

static uint64_t (*peek_through)(peko_env *env, unsigned k);
static uint64_t peeks;

static uint64_t counted_peek(peko_env *env, unsigned k)
{
    peeks++;
    return peek_through(env, k);
}

/* What the engines fetch by peeking changes nothing they decide: the
 * same run with the peek taken away has the same trace. The peeks come
 * from the delivery hint (peko_nodelist_prefetch_key, stage 2), called
 * while other nodes' events run. */
Test(net, peeking_at_draws_changes_no_trace)
{
    sim_world *a = make_world(64, 96);
    sim_world *b = make_world(64, 96);
    peek_through = a->nodes[0].env.random_peek;
    peeks = 0;
    for (size_t i = 0; i < 64; i++) {
        a->nodes[i].env.random_peek = counted_peek;
        b->nodes[i].env.random_peek = NULL;
    }
    join_all(a);
    join_all(b);
    sim_world_run_until(a, 20 * SECOND_US);
    sim_world_run_until(b, 20 * SECOND_US);
    cr_assert_gt(peeks, 1000, "the hint peeked at draws");
    cr_assert_eq(sim_world_trace_hash(a), sim_world_trace_hash(b));
    sim_world_stats st;
    sim_world_stats_get(a, &st);
    cr_assert_gt(st.deliveries, 10000);
    sim_world_free(a);
    sim_world_free(b);
}

Test(net, model_off_keeps_the_plain_world)
{
    /* Setting the model to what it already is changes no draw: the trace
     * equals that of a world never touched. */
    sim_world *a = make_world(10, 94);
    sim_world *b = make_world(10, 94);
    model_dist one_ms = {.kind = MODEL_DIST_CONSTANT, .value = 1000,
                         .hi = MAX_US};
    model_loss none = {.kind = MODEL_LOSS_GILBERT_ELLIOTT, .loss_bad = 1.0};
    cr_assert_eq(sim_world_set_latency(b, &one_ms), 0);
    cr_assert_eq(sim_world_set_loss(b, &none), 0);
    cr_assert_eq(sim_world_set_duplicate(b, 0), 0);
    join_all(a);
    join_all(b);
    sim_world_run_until(a, 20 * SECOND_US);
    sim_world_run_until(b, 20 * SECOND_US);
    cr_assert_eq(sim_world_trace_hash(a), sim_world_trace_hash(b));
    sim_world_free(a);
    sim_world_free(b);
}

/* ------------------------------------------------------------------ */
/* Capture.                                                             */

static char *temp_path(const char *name)
{
    char *dir = g_dir_make_tmp("peko-net-XXXXXX", NULL);
    cr_assert_not_null(dir);
    char *path = g_build_filename(dir, name, NULL);
    g_free(dir);
    return path;
}

static void remove_temp(char *path)
{
    char *dir = g_path_get_dirname(path);
    g_unlink(path);
    g_rmdir(dir);
    g_free(dir);
    g_free(path);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

Test(net, pcap_round_trip)
{
    char *path = temp_path("udp.pcap");
    sim_world *w = make_world(4, 101);
    GError *error = NULL;
    cr_assert(sim_world_pcap_open(w, path, &error));
    /* Three known datagrams at known times, then a gossiping cluster. */
    static const char *const payloads[] = {"first", "second!", "third:)"};
    for (size_t k = 0; k < 3; k++) {
        sim_world_run_until(w, (int64_t)k * 250 * MS_US);
        cr_assert_eq(sim_world_inject(w, k, sim_world_addr(w, k + 1),
                                      (const uint8_t *)payloads[k],
                                      strlen(payloads[k])),
                     0);
    }
    sim_world_run_until(w, SECOND_US);
    join_all(w);
    sim_world_run_until(w, 5 * SECOND_US);
    sim_world_stats st;
    sim_world_stats_get(w, &st);
    cr_assert_eq(st.pcap_records, st.deliveries);
    cr_assert(sim_world_pcap_close(w, &error));
    cr_assert(sim_world_pcap_close(w, &error), "closing twice is fine");

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, errbuf);
    cr_assert_not_null(p, "%s", errbuf);
    cr_assert_eq(pcap_datalink(p), DLT_EN10MB);
    struct pcap_pkthdr *h;
    const u_char *f;
    uint64_t count = 0;
    int64_t last_us = 0;
    while (pcap_next_ex(p, &h, &f) == 1) {
        int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
        cr_assert_geq(ts, last_us);
        last_us = ts;
        cr_assert_eq(h->caplen, h->len);
        cr_assert_eq(be16(f + 12), 0x0800);
        const u_char *ip = f + 14;
        cr_assert_eq(ip[9], 17);
        /* The header sums to 0xffff with its checksum in. */
        uint32_t sum = 0;
        for (int k = 0; k < 20; k += 2)
            sum += be16(ip + k);
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        cr_assert_eq(sum, 0xffff);
        const u_char *udp = ip + 20;
        cr_assert_eq(be16(udp), 8000);
        cr_assert_eq(be16(udp + 2), 8000);
        size_t n = be16(udp + 4) - 8u;
        cr_assert_eq(h->len, 14 + 20 + 8 + n);
        cr_assert_eq(f[0], 0x02, "locally administered MAC");
        cr_assert_eq(memcmp(f + 2, ip + 16, 4), 0, "MAC from the address");
        if (count < 3) {
            cr_assert_eq(ts, SIM_WORLD_DEFAULT_EPOCH_US +
                                 (int64_t)count * 250 * MS_US + 1000);
            cr_assert_eq(n, strlen(payloads[count]));
            cr_assert_eq(memcmp(udp + 8, payloads[count], n), 0);
            cr_assert_eq(ip[15], count + 1, "from node %" G_GUINT64_FORMAT,
                         (guint64)count);
            cr_assert_eq(ip[19], count + 2);
        } else {
            /* The engine's own packets: magic, this wire version, a
             * known type. */
            cr_assert_eq(memcmp(udp + 8, "PK", 2), 0);
            cr_assert_neq(peko_wire_type(udp + 8, n), 0);
        }
        count++;
    }
    cr_assert_eq(count, st.deliveries);
    pcap_close(p);
    sim_world_free(w);
    remove_temp(path);
}

Test(net, pcap_tcp_segments_carry_sequence_numbers)
{
    char *path = temp_path("tcp.pcap");
    sim_world *w = make_tcp_world(2, 102);
    GError *error = NULL;
    cr_assert(sim_world_pcap_open(w, path, &error));
    inject(w, 0, 1, 3000); /* three segments */
    inject(w, 0, 1, 100);
    sim_world_run_until(w, SECOND_US);
    sim_world_free(w); /* closes the capture */

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, errbuf);
    cr_assert_not_null(p, "%s", errbuf);
    struct pcap_pkthdr *h;
    const u_char *f;
    uint32_t seq[4], len[4];
    uint16_t sport = 0;
    int count = 0;
    while (pcap_next_ex(p, &h, &f) == 1) {
        cr_assert_lt(count, 4);
        const u_char *ip = f + 14, *tcp = ip + 20;
        cr_assert_eq(ip[9], 6);
        cr_assert_eq(be16(tcp + 2), 8000);
        if (count == 0)
            sport = be16(tcp);
        cr_assert_eq(be16(tcp), sport, "one connection");
        cr_assert_geq(sport, 32768);
        seq[count] = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 |
                     (uint32_t)tcp[6] << 8 | tcp[7];
        len[count] = be16(ip + 2) - 40u;
        cr_assert_eq(tcp[13], 0x18);
        count++;
    }
    cr_assert_eq(count, 4);
    cr_assert_eq(len[0], 1460);
    cr_assert_eq(len[1], 1460);
    cr_assert_eq(len[2], 80);
    cr_assert_eq(len[3], 100);
    for (int k = 1; k < 4; k++)
        cr_assert_eq(seq[k], seq[k - 1] + len[k - 1]);
    pcap_close(p);
    remove_temp(path);
}

Test(net, pcap_open_reports_errors)
{
    sim_world *w = make_world(1, 103);
    GError *error = NULL;
    cr_assert_not(sim_world_pcap_open(w, "/nonexistent-dir/x.pcap", &error));
    cr_assert_not_null(error);
    g_error_free(error);
    sim_world_free(w);
}
