/* test-model.c: the network model's vocabulary (model/model.h): the
 * seeded streams, the distributions, the normal quantile, the loss
 * chains; and its promise that the testbed draws what the simulator
 * draws (the last section, which runs the simulator and the transport's
 * fault filter side by side).
 *
 * Every statistical check uses a fixed seed, so it either always passes or
 * always fails: it cannot flake. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#include "model.h"
#include "peko-transport.h"
#include "world.h"

TestSuite(model, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Streams.                                                             */

Test(model, splitmix64_matches_the_reference_vector)
{
    /* SplitMix64 from 1234567, as in the reference implementation. */
    static const uint64_t expect[] = {
        6457827717110365317ULL, 3203168211198807973ULL,
        9817491932198370423ULL, 4593380528125082431ULL,
        16408922859458223821ULL};
    uint64_t state = 1234567;
    for (size_t i = 0; i < G_N_ELEMENTS(expect); i++)
        cr_assert_eq(model_splitmix64(&state), expect[i], "output %zu", i);
}

Test(model, xoshiro_matches_the_reference_vector)
{
    /* xoshiro256** from state {1, 2, 3, 4}, as in Vigna's reference. */
    model_stream r = {.s = {1, 2, 3, 4}};
    cr_assert_eq(model_stream_u64(&r), 11520ULL);
    cr_assert_eq(model_stream_u64(&r), 0ULL);
    cr_assert_eq(model_stream_u64(&r), 1509978240ULL);
    cr_assert_eq(model_stream_u64(&r), 1215971899390074240ULL);
}

Test(model, seeding_is_pinned)
{
    /* Runs must replay on any machine and any later build: these values
     * change only if seeding changes, which invalidates recorded runs. */
    static const uint64_t s1[] = {0x5ce1edda88c8aa95ULL, 0xd4fdace9e5a065d5ULL,
                                  0x31fadeb74d8d697eULL, 0xc03428ba66a07379ULL};
    static const uint64_t s2[] = {0x0c2bdf89b748e245ULL, 0xa058cf8ed2caa36cULL,
                                  0xe5b5907404242810ULL, 0x8e86d36c960cef42ULL};
    model_stream r;
    model_stream_init(&r, 1, 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(model_stream_u64(&r), s1[i], "seed 1 stream 0 draw %d",
                     i);
    model_stream_init(&r, 0xdeadbeef, 12345);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(model_stream_u64(&r), s2[i], "draw %d", i);
}

Test(model, node_streams_are_numbered_by_purpose)
{
    /* Node i's stream for purpose p is stream (p << 32 | i): the engine's
     * are 0 .. n-1, and a stream's key seeds it. */
    model_stream a, b;
    model_node_stream(&a, 9, MODEL_STREAM_ENGINE, 7);
    model_stream_init(&b, 9, 7);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    model_node_stream(&a, 9, MODEL_STREAM_LOSS, 7);
    model_stream_init(&b, 9, (2ULL << 32) | 7);
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    model_stream_seed(&b, model_stream_key(9, (2ULL << 32) | 7));
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    model_node_stream(&b, 9, MODEL_STREAM_LATENCY, 7);
    cr_assert_neq(model_stream_u64(&a), model_stream_u64(&b));
}

Test(model, same_seed_and_stream_give_the_same_stream)
{
    model_stream a, b;
    model_stream_init(&a, 42, 7);
    model_stream_init(&b, 42, 7);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(model_stream_u64(&a), model_stream_u64(&b));
}

Test(model, different_streams_and_seeds_differ)
{
    /* First draws of 1000 streams of one seed, and of stream 0 under 1000
     * seeds: all distinct (a collision among 2000 64-bit values would be
     * a 1e-13 event, i.e. a bug). */
    GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                             g_free, NULL);
    for (uint64_t i = 0; i < 1000; i++) {
        model_stream r;
        model_stream_init(&r, 99, i);
        gint64 *v = g_new(gint64, 1);
        *v = (gint64)model_stream_u64(&r);
        cr_assert(g_hash_table_add(seen, v), "stream %lu collides",
                  (unsigned long)i);
        model_stream_init(&r, 1000 + i, 0);
        v = g_new(gint64, 1);
        *v = (gint64)model_stream_u64(&r);
        cr_assert(g_hash_table_add(seen, v), "seed %lu collides",
                  (unsigned long)(1000 + i));
    }
    g_hash_table_destroy(seen);
}

Test(model, a_stream_ignores_other_streams)
{
    /* Stream 5 alone, then stream 5 interleaved with draws on other
     * streams, and with more streams existing: the same values. */
    model_stream alone;
    model_stream_init(&alone, 3, 5);
    uint64_t expect[100];
    for (int i = 0; i < 100; i++)
        expect[i] = model_stream_u64(&alone);

    model_stream many[20];
    for (uint64_t s = 0; s < 20; s++)
        model_stream_init(&many[s], 3, s);
    for (int i = 0; i < 100; i++) {
        for (int s = 0; s < 20; s++)
            if (s != 5)
                (void)model_stream_u64(&many[s]);
        cr_assert_eq(model_stream_u64(&many[5]), expect[i]);
    }
}

Test(model, below_stays_in_range)
{
    static const uint64_t bounds[] = {1, 2, 3, 7, 10, 1000, 1ULL << 32,
                                      (1ULL << 63) + 1, UINT64_MAX - 1,
                                      UINT64_MAX};
    model_stream r;
    model_stream_init(&r, 5, 0);
    for (size_t b = 0; b < G_N_ELEMENTS(bounds); b++)
        for (int i = 0; i < 20000; i++) {
            uint64_t v = model_stream_below(&r, bounds[b]);
            cr_assert_lt(v, bounds[b]);
        }
    cr_assert_eq(model_stream_below(&r, 1), 0);
    cr_assert_eq(model_stream_below(&r, 0), 0);

    /* Small ranges reach both ends. */
    bool hit[3] = {false};
    for (int i = 0; i < 1000; i++)
        hit[model_stream_below(&r, 3)] = true;
    cr_assert(hit[0] && hit[1] && hit[2]);
}

Test(model, range_includes_both_ends)
{
    model_stream r;
    model_stream_init(&r, 6, 0);
    bool lo = false, hi = false;
    for (int i = 0; i < 10000; i++) {
        int64_t v = model_stream_range(&r, -3, 3);
        cr_assert_geq(v, -3);
        cr_assert_leq(v, 3);
        lo |= v == -3;
        hi |= v == 3;
    }
    cr_assert(lo && hi);
    cr_assert_eq(model_stream_range(&r, 9, 9), 9);
    /* The full range must not overflow. */
    for (int i = 0; i < 100; i++)
        (void)model_stream_range(&r, INT64_MIN, INT64_MAX);
}

Test(model, doubles_are_in_the_unit_interval)
{
    model_stream r;
    model_stream_init(&r, 8, 0);
    double sum = 0, open_sum = 0;
    for (int i = 0; i < 100000; i++) {
        double d = model_stream_double(&r);
        cr_assert(d >= 0.0 && d < 1.0);
        sum += d;
        double o = model_stream_open(&r);
        cr_assert(o > 0.0 && o < 1.0);
        open_sum += o;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.005);
    cr_assert_float_eq(open_sum / 100000, 0.5, 0.005);
    /* The ends: all-zero and all-one words. */
    model_stream zero = {{0, 0, 0, 0}};
    cr_assert_eq(model_stream_double(&zero), 0.0);
    cr_assert_eq(model_stream_open(&zero), 0x1.0p-54);
}

/* Pearson's chi-square statistic of counts against a uniform law. */
static double chi_square(const uint64_t *counts, size_t k, uint64_t n)
{
    double expected = (double)n / (double)k, x2 = 0;
    for (size_t i = 0; i < k; i++) {
        double d = (double)counts[i] - expected;
        x2 += d * d / expected;
    }
    return x2;
}

Test(model, below_is_uniform_by_chi_square)
{
    /* 10 cells, 9 degrees of freedom: P(X2 > 27.88) = 0.001. A biased
     * reduction (say, plain modulo of a 4-bit value) fails by far. */
    enum { K = 10, N = 200000 };
    uint64_t counts[K] = {0};
    model_stream r;
    model_stream_init(&r, 2022, 0);
    for (int i = 0; i < N; i++)
        counts[model_stream_below(&r, K)]++;
    double x2 = chi_square(counts, K, N);
    cr_assert_lt(x2, 27.88, "chi-square %.2f", x2);
}

Test(model, below_is_unbiased_for_awkward_bounds)
{
    /* n = 3 * 2^62 makes plain modulo give the low third of the range
     * twice the weight of the rest; Lemire's rejection must not. */
    enum { N = 120000 };
    uint64_t n = 3ULL << 62, third = 1ULL << 62;
    uint64_t counts[3] = {0};
    model_stream r;
    model_stream_init(&r, 17, 0);
    for (int i = 0; i < N; i++)
        counts[model_stream_below(&r, n) / third]++;
    double x2 = chi_square(counts, 3, N);
    cr_assert_lt(x2, 13.82, "chi-square %.2f (2 df, p = 0.001)", x2);
}

Test(model, bits_are_balanced)
{
    /* Every bit position is set about half the time: 64 cells of
     * roughly binomial counts, each within 5 sigma. */
    enum { N = 100000 };
    uint64_t ones[64] = {0};
    model_stream r;
    model_stream_init(&r, 31337, 4);
    for (int i = 0; i < N; i++) {
        uint64_t v = model_stream_u64(&r);
        for (int b = 0; b < 64; b++)
            ones[b] += (v >> b) & 1;
    }
    double sigma = sqrt(N * 0.25);
    for (int b = 0; b < 64; b++)
        cr_assert_lt(fabs((double)ones[b] - N / 2.0), 5 * sigma, "bit %d",
                     b);
}

Test(model, exponential_has_its_mean)
{
    enum { N = 200000 };
    model_stream r;
    model_stream_init(&r, 11, 0);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double x = model_stream_exp(&r, 250.0);
        cr_assert(x >= 0 && isfinite(x));
        sum += x;
    }
    /* Standard error of the mean is 250 / sqrt(N) ~ 0.56. */
    cr_assert_float_eq(sum / N, 250.0, 3.0);
}

/* ------------------------------------------------------------------ */
/* Distributions.                                                       */

#define MAX_US ((double)MODEL_DIST_MAX)

static double normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

typedef struct dist_case {
    model_dist d;
    double rel_tol; /* on the mean */
} dist_case;

/* Samples n values, checks bounds and that the mean is within rel_tol of
 * model_dist_mean(). */
static void check_dist(const dist_case *c, uint64_t seed, size_t n)
{
    model_stream rng;
    model_stream_init(&rng, seed, 0);
    const char *kind = model_dist_kind_name(c->d.kind);
    cr_assert_eq(model_dist_check(&c->d), 0, "%s", kind);
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        double x = model_dist_sample(&c->d, &rng);
        cr_assert(x >= c->d.lo && x <= c->d.hi, "%s: %g", kind, x);
        sum += x;
    }
    double mean = sum / (double)n, expect = model_dist_mean(&c->d);
    cr_assert(fabs(mean - expect) <= c->rel_tol * expect,
              "%s: sampled mean %.2f, expected %.2f", kind, mean, expect);
}

Test(model, distribution_means_match_samples)
{
    const dist_case cases[] = {
        {{.kind = MODEL_DIST_CONSTANT, .value = 1234, .hi = MAX_US}, 0},
        {{.kind = MODEL_DIST_UNIFORM, .min = 5000, .max = 15000,
          .hi = MAX_US}, 0.005},
        /* Conditioning on x >= 0 matters here: the plain mean is 1000. */
        {{.kind = MODEL_DIST_NORMAL, .mean = 1000, .sd = 2000, .hi = MAX_US},
         0.01},
        {{.kind = MODEL_DIST_NORMAL, .mean = 20000, .sd = 5000,
          .hi = MAX_US}, 0.005},
        {{.kind = MODEL_DIST_NORMAL, .mean = 1000, .sd = 5000, .hi = MAX_US},
         0.02},
        {{.kind = MODEL_DIST_NORMAL, .mean = 0, .sd = 2000, .hi = MAX_US},
         0.02},
        {{.kind = MODEL_DIST_NORMAL, .mean = 20000, .sd = 10000,
          .hi = 25000}, 0.02},
        {{.kind = MODEL_DIST_LOGNORMAL, .median = 14764.78, .sigma = 0.5,
          .hi = MAX_US}, 0.01},
        {{.kind = MODEL_DIST_PARETO, .scale = 5000, .shape = 2.5,
          .hi = MAX_US}, 0.02},
        /* Infinite means without the caps. */
        {{.kind = MODEL_DIST_PARETO, .scale = 5000, .shape = 0.9,
          .hi = 2e6}, 0.03},
        {{.kind = MODEL_DIST_PARETO, .scale = 1000, .shape = 1.2,
          .hi = 50000}, 0.02},
        {{.kind = MODEL_DIST_PARETO, .scale = 1000, .shape = 1, .hi = 20000},
         0.02},
        {{.kind = MODEL_DIST_UNIFORM, .min = 0, .max = 10000, .lo = 2000,
          .hi = 6000}, 0.005},
        {{.kind = MODEL_DIST_LOGNORMAL, .median = 14764.78, .sigma = 1.5,
          .hi = 50000}, 0.01},
        {{.kind = MODEL_DIST_LOGNORMAL, .median = 10000, .sigma = 2,
          .hi = 40000}, 0.02},
        /* A signed quantity (a clock drift in ppm). */
        {{.kind = MODEL_DIST_NORMAL, .mean = 30, .sd = 50, .lo = -1e5,
          .hi = 1e5}, 0.05},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++)
        check_dist(&cases[k], 100 + k, 200000);
    /* Closed forms to compare with. Conditioned normal:
     * E = mean + sd phi(a) / Q(a). */
    model_dist tn = {.kind = MODEL_DIST_NORMAL, .mean = 1000, .sd = 2000,
                     .hi = MAX_US};
    double a = -0.5, phi = exp(-a * a / 2) / sqrt(2 * M_PI);
    cr_assert_float_eq(model_dist_mean(&tn),
                       1000 + 2000 * phi / (1 - normal_cdf(a)), 1e-6);
    /* Pareto without a cap: alpha xm / (alpha - 1), up to the 365-day
     * bound every sample lies under. */
    model_dist p = {.kind = MODEL_DIST_PARETO, .scale = 5000, .shape = 2.5,
                    .hi = MAX_US};
    cr_assert_float_eq(model_dist_mean(&p), 2.5 * 5000 / 1.5, 1e-3);
    /* Lognormal: median exp(sigma^2 / 2). */
    model_dist ln = {.kind = MODEL_DIST_LOGNORMAL, .median = 10000,
                     .sigma = 0.5, .hi = MAX_US};
    cr_assert_float_eq(model_dist_mean(&ln), 10000 * exp(0.125), 1e-6);
    /* Everything above an upper bound below the law: the bound. */
    model_dist below = {.kind = MODEL_DIST_LOGNORMAL, .median = 10000,
                        .sigma = 0.5, .lo = -5, .hi = -1};
    cr_assert_float_eq(model_dist_mean(&below), -1, 1e-12);
}

Test(model, distribution_check_rejects_nonsense)
{
    const model_dist bad[] = {
        {.kind = MODEL_DIST_UNIFORM, .min = 10, .max = 5, .hi = MAX_US},
        {.kind = MODEL_DIST_NORMAL, .mean = 10, .sd = -1, .hi = MAX_US},
        {.kind = MODEL_DIST_LOGNORMAL, .median = 10, .sigma = -0.1,
         .hi = MAX_US},
        {.kind = MODEL_DIST_LOGNORMAL, .median = 0, .sigma = 1, .hi = MAX_US},
        {.kind = MODEL_DIST_LOGNORMAL, .median = 1e-310, .sigma = 1,
         .hi = MAX_US},
        {.kind = MODEL_DIST_LOGNORMAL, .median = 10, .sigma = 101,
         .hi = MAX_US},
        {.kind = MODEL_DIST_PARETO, .scale = 0, .shape = 1, .hi = MAX_US},
        {.kind = MODEL_DIST_PARETO, .scale = 1, .shape = 0, .hi = MAX_US},
        {.kind = MODEL_DIST_CONSTANT, .value = NAN, .hi = MAX_US},
        {.kind = MODEL_DIST_CONSTANT, .value = 5, .lo = 10, .hi = 7},
        {.kind = MODEL_DIST_CONSTANT, .value = 5, .hi = 2 * MAX_US},
        {.kind = MODEL_DIST_CONSTANT, .value = 5, .lo = -2 * MAX_US},
        {.kind = MODEL_DIST_CONSTANT, .value = 5, .hi = INFINITY},
        {.kind = (model_dist_kind)99, .hi = MAX_US},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++)
        cr_assert_eq(model_dist_check(&bad[k]), -EINVAL, "case %zu", k);
    cr_assert_eq(model_dist_check(NULL), -EINVAL);
    cr_assert_str_eq(model_dist_kind_name((model_dist_kind)99), "?");
    cr_assert_str_eq(model_dist_kind_name(MODEL_DIST_PARETO), "pareto");
}

Test(model, a_sample_draws_one_word_and_a_constant_none)
{
    const model_dist laws[] = {
        {.kind = MODEL_DIST_UNIFORM, .min = 1, .max = 2, .hi = MAX_US},
        {.kind = MODEL_DIST_NORMAL, .mean = 10, .sd = 0, .hi = MAX_US},
        {.kind = MODEL_DIST_NORMAL, .mean = 10, .sd = 3, .hi = MAX_US},
        {.kind = MODEL_DIST_LOGNORMAL, .median = 10, .sigma = 1,
         .hi = MAX_US},
        {.kind = MODEL_DIST_PARETO, .scale = 10, .shape = 1, .hi = MAX_US},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(laws); k++) {
        model_stream a, b;
        model_stream_init(&a, 5, k);
        b = a;
        for (int i = 0; i < 100; i++) {
            (void)model_dist_sample(&laws[k], &a);
            (void)model_stream_u64(&b);
        }
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "%s",
                     model_dist_kind_name(laws[k].kind));
    }
    model_dist c = {.kind = MODEL_DIST_CONSTANT, .value = 7.6, .hi = MAX_US};
    model_stream a, b;
    model_stream_init(&a, 5, 99);
    b = a;
    cr_assert_eq(model_dist_sample(&c, &a), 7.6);
    cr_assert_eq(model_dist_sample_us(&c, &a), 8, "rounded to nearest");
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
}

Test(model, samples_are_pinned_and_bounded)
{
    /* The first samples of stream 0 of seed 1: a change here changes the
     * trace of every shipped scenario, in the simulator and the testbed
     * alike. */
    static const struct {
        model_dist d;
        int64_t expect_us[3];
    } pinned[] = {
        {{.kind = MODEL_DIST_UNIFORM, .min = 5000, .max = 15000,
          .hi = MAX_US}, {8628, 13320, 6952}},
        {{.kind = MODEL_DIST_NORMAL, .mean = 20000, .sd = 5000,
          .hi = MAX_US}, {21755, 15190, 24294}},
        {{.kind = MODEL_DIST_LOGNORMAL, .median = 15000, .sigma = 0.5,
          .hi = 2000000}, {12586, 24266, 9764}},
        {{.kind = MODEL_DIST_PARETO, .scale = 5000, .shape = 2.5,
          .hi = MAX_US}, {7501, 5382, 9611}},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(pinned); k++) {
        model_stream rng;
        model_stream_init(&rng, 1, 0);
        for (int i = 0; i < 3; i++) {
            int64_t x = model_dist_sample_us(&pinned[k].d, &rng);
            cr_assert_eq(x, pinned[k].expect_us[i], "%s draw %d: %lld",
                         model_dist_kind_name(pinned[k].d.kind), i,
                         (long long)x);
        }
    }
    /* Bounds hold however far out the law lies: a normal conditioned on
     * a lower bound 40 sd above its mean, a cap below a Pareto's scale. */
    model_dist far = {.kind = MODEL_DIST_NORMAL, .mean = 0, .sd = 1,
                      .lo = 40, .hi = MAX_US};
    model_dist capped = {.kind = MODEL_DIST_PARETO, .scale = 5000,
                         .shape = 0.5, .hi = 3000};
    model_stream rng;
    model_stream_init(&rng, 2, 0);
    for (int i = 0; i < 10000; i++) {
        double x = model_dist_sample(&far, &rng);
        cr_assert(x >= 40 && x < 41, "%g", x);
        cr_assert_eq(model_dist_sample(&capped, &rng), 3000);
    }
    cr_assert_float_eq(model_dist_mean(&capped), 3000, 1e-9);
}

/* ------------------------------------------------------------------ */
/* The standard normal quantile.                                        */

Test(model, normal_quantile_inverts_the_cdf)
{
    cr_assert_float_eq(model_normal_quantile(0.5), 0.0, 1e-15);
    cr_assert_float_eq(model_normal_quantile(0.975), 1.959963984540054,
                       1e-12);
    cr_assert_float_eq(model_normal_quantile(1e-10), -6.361340902404056,
                       1e-9);
    for (double p = 1e-300; p < 0.5; p *= 3.7) {
        double x = model_normal_quantile(p);
        cr_assert(fabs(normal_cdf(x) - p) <= 1e-12 * p, "p %g x %g", p, x);
        if (p > 1e-12) /* 1 - p still has digits of p */
            cr_assert_float_eq(model_normal_quantile(1 - p), -x, 1e-4 * -x,
                               "p %g", p);
    }
    /* Clamped, never infinite, at and beyond the ends. */
    cr_assert(isfinite(model_normal_quantile(0.0)));
    cr_assert(isfinite(model_normal_quantile(1.0)));
    cr_assert(isfinite(model_normal_quantile(-1.0)));
    cr_assert(isfinite(model_normal_quantile(NAN)));
    cr_assert_lt(model_normal_quantile(0.0), -37);
}

/* ------------------------------------------------------------------ */
/* Loss.                                                                */

Test(model, loss_models_are_checked_and_have_their_means)
{
    const model_loss bad[] = {
        {.kind = MODEL_LOSS_BERNOULLI, .rate = 1.5},
        {.kind = MODEL_LOSS_BERNOULLI, .rate = NAN},
        {.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_good_to_bad = 0.1,
         .p_bad_to_good = -0.1},
        {.kind = MODEL_LOSS_GILBERT_ELLIOTT, .loss_bad = 2},
        {.kind = (model_loss_kind)7},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(bad); k++)
        cr_assert_eq(model_loss_check(&bad[k]), -EINVAL, "case %zu", k);
    cr_assert_eq(model_loss_check(NULL), -EINVAL);

    model_loss b = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.1};
    cr_assert_eq(model_loss_check(&b), 0);
    cr_assert_float_eq(model_loss_mean(&b), 0.1, 1e-12);
    model_loss ge = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                     .p_good_to_bad = 0.02, .p_bad_to_good = 0.25,
                     .loss_bad = 1};
    cr_assert_float_eq(model_loss_mean(&ge), 0.02 / 0.27, 1e-12);
    model_loss mixed = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                        .p_good_to_bad = 0.05, .p_bad_to_good = 0.15,
                        .loss_good = 0.01, .loss_bad = 0.5};
    cr_assert_float_eq(model_loss_mean(&mixed), 0.75 * 0.01 + 0.25 * 0.5,
                       1e-12);
    /* A chain that never moves stays good. */
    model_loss still = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                        .loss_good = 0.03, .loss_bad = 1};
    cr_assert_float_eq(model_loss_mean(&still), 0.03, 1e-12);
}

Test(model, only_a_model_that_can_lose_is_stepped)
{
    const struct {
        model_loss l;
        bool can;
    } cases[] = {
        {{.kind = MODEL_LOSS_BERNOULLI, .rate = 0}, false},
        {{.kind = MODEL_LOSS_BERNOULLI, .rate = 1e-9}, true},
        /* Good loses nothing and the chain never turns bad. */
        {{.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_bad_to_good = 0.5,
          .loss_bad = 1}, false},
        /* It turns bad, but bad loses nothing either. */
        {{.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_good_to_bad = 0.5,
          .p_bad_to_good = 0.5}, false},
        {{.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_good_to_bad = 0.01,
          .loss_bad = 0.5}, true},
        {{.kind = MODEL_LOSS_GILBERT_ELLIOTT, .loss_good = 0.01}, true},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++)
        cr_assert_eq(model_loss_can_lose(&cases[k].l), cases[k].can,
                     "case %zu", k);
}

Test(model, a_step_draws_one_word_for_bernoulli_and_two_for_a_chain)
{
    model_loss b = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.5};
    model_loss ge = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                     .p_good_to_bad = 0.5, .p_bad_to_good = 0.5,
                     .loss_good = 0.1, .loss_bad = 0.9};
    model_stream s, t;
    model_stream_init(&s, 3, 0);
    t = s;
    model_loss_chain chain = {0};
    for (int i = 0; i < 100; i++) {
        (void)model_loss_step(&b, &chain, &s);
        (void)model_stream_u64(&t);
        (void)model_loss_step(&ge, &chain, &s);
        (void)model_stream_u64(&t);
        (void)model_stream_u64(&t);
    }
    cr_assert_eq(memcmp(&s, &t, sizeof s), 0);
}

/* Steps one chain n times; returns the loss rate and the mean length of
 * a run of losses. */
static void run_chain(const model_loss *l, uint64_t seed, size_t n,
                      double *rate, double *burst)
{
    model_stream s;
    model_stream_init(&s, seed, 0);
    model_loss_chain chain = {0};
    size_t lost = 0, bursts = 0;
    bool prev = false;
    for (size_t k = 0; k < n; k++) {
        bool is_lost = model_loss_step(l, &chain, &s);
        lost += is_lost;
        bursts += is_lost && !prev;
        prev = is_lost;
    }
    *rate = (double)lost / (double)n;
    *burst = bursts ? (double)lost / (double)bursts : 0;
}

Test(model, gilbert_elliott_has_its_stationary_loss_rate_and_bursts)
{
    const size_t n = 300000;
    double rate, burst;
    model_loss ge = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                     .p_good_to_bad = 0.02, .p_bad_to_good = 0.25,
                     .loss_bad = 1};
    run_chain(&ge, 22, n, &rate, &burst);
    /* Correlated draws: the effective sample is ~(1 - rho)/(1 + rho)
     * smaller, rho = 1 - 0.27; the sd is then about 0.0013. */
    cr_assert(fabs(rate - model_loss_mean(&ge)) < 0.007, "rate %.4f", rate);
    /* Bad spells last 1 / p_bad_to_good = 4 packets on average. */
    cr_assert(fabs(burst - 4.0) < 0.25, "mean burst %.3f", burst);

    /* The good state can lose too, the bad one need not lose all. */
    model_loss mixed = {.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                        .p_good_to_bad = 0.05, .p_bad_to_good = 0.15,
                        .loss_good = 0.01, .loss_bad = 0.5};
    run_chain(&mixed, 23, n, &rate, &burst);
    cr_assert(fabs(rate - model_loss_mean(&mixed)) < 0.008, "rate %.4f",
              rate);

    model_loss b = {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.1};
    run_chain(&b, 24, n, &rate, &burst);
    /* sd = sqrt(0.09 / 3e5) ~ 0.00055. */
    cr_assert(fabs(rate - 0.1) < 0.003, "rate %.4f", rate);
}

/* ------------------------------------------------------------------ */
/* The testbed draws what the simulator draws.                          */

/* What the simulator's hooks saw of packets injected from node 0. */
typedef struct seen {
    sim_world *w;
    int64_t *arrival_us; /* by packet size - 1 */
    uint64_t dropped;
} seen;

static void on_delivered(void *user, size_t from, size_t to, int type,
                         size_t n_bytes)
{
    seen *s = user;
    s->arrival_us[n_bytes - 1] = sim_world_now_us(s->w);
}

static void on_dropped(void *user, size_t from, size_t to, int type,
                       size_t n_bytes, sim_drop_cause cause)
{
    seen *s = user;
    s->dropped += cause == SIM_DROP_LOSS;
}

static sim_world *world_with_hooks(size_t n, uint64_t seed, seen *s,
                                   size_t packets)
{
    sim_world *w = NULL;
    cr_assert_eq(sim_world_new(n, NULL, seed, &w), 0);
    *s = (seen){.w = w, .arrival_us = g_new0(int64_t, packets)};
    static const sim_world_hooks hooks = {.delivered = on_delivered,
                                          .dropped = on_dropped};
    sim_world_set_hooks(w, &hooks, s);
    return w;
}

static int inject(sim_world *w, size_t from, size_t to, size_t n_bytes)
{
    static uint8_t junk[4096];
    return sim_world_inject(w, from, sim_world_addr(w, to), junk, n_bytes);
}

Test(model, testbed_latency_draws_are_the_simulators)
{
    /* Node 1 of a simulated run sends N packets at time 0: each arrives
     * after its latency sample. The testbed (cli/testbed.c) draws node
     * 1's latencies with model_dist_sample_us() from node 1's
     * MODEL_STREAM_LATENCY stream of the run seed: the same numbers, in
     * the same order. */
    enum { N = 2000 };
    const uint64_t run_seed = 77;
    const model_dist laws[] = {
        {.kind = MODEL_DIST_NORMAL, .mean = 20000, .sd = 5000, .hi = MAX_US},
        {.kind = MODEL_DIST_LOGNORMAL, .median = 15000, .sigma = 0.5,
         .hi = 2000000},
        {.kind = MODEL_DIST_UNIFORM, .min = 5000, .max = 15000,
         .hi = MAX_US},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(laws); k++) {
        seen s;
        sim_world *w = world_with_hooks(3, run_seed + k, &s, N);
        cr_assert_eq(sim_world_set_latency(w, &laws[k]), 0);
        for (size_t i = 0; i < N; i++)
            cr_assert_eq(inject(w, 1, 2, i + 1), 0);
        sim_world_run_until(w, 10LL * 1000000);

        model_stream testbed;
        model_node_stream(&testbed, run_seed + k, MODEL_STREAM_LATENCY, 1);
        for (size_t i = 0; i < N; i++)
            cr_assert_eq(s.arrival_us[i],
                         model_dist_sample_us(&laws[k], &testbed),
                         "%s: packet %zu",
                         model_dist_kind_name(laws[k].kind), i);
        g_free(s.arrival_us);
        sim_world_free(w);
    }
}

/* One verdict of the filter, as a loss or not. */
static bool filter_loses(peko_transport_filter *f, const peko_addr *from,
                         const peko_addr *to)
{
    peko_transport_verdict v = peko_transport_filter_check(f, from, to);
    cr_assert_neq(v, PEKO_TRANSPORT_PARTITIONED);
    return v == PEKO_TRANSPORT_LOST;
}

Test(model, testbed_losses_are_the_simulators)
{
    /* The simulator's node 0 and the transport's filter, seeded with the
     * run seed and given node 0's MODEL_STREAM_LOSS stream for node 0's
     * address (as cli/testbed.c does), lose the same packets through a
     * sequence of models: bursty, one that cannot lose (nothing drawn
     * in either), Bernoulli, bursty again (chains restart good). */
    enum { N = 5000 };
    const uint64_t run_seed = 78;
    const model_loss models[] = {
        {.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_good_to_bad = 0.05,
         .p_bad_to_good = 0.2, .loss_good = 0.01, .loss_bad = 0.8},
        {.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_good_to_bad = 0,
         .p_bad_to_good = 0.2, .loss_good = 0, .loss_bad = 0.8},
        {.kind = MODEL_LOSS_BERNOULLI, .rate = 0.3},
        {.kind = MODEL_LOSS_GILBERT_ELLIOTT, .p_good_to_bad = 0.1,
         .p_bad_to_good = 0.3, .loss_good = 0, .loss_bad = 1},
    };
    seen s;
    sim_world *w = world_with_hooks(2, run_seed, &s, N);
    peko_transport_filter *f = peko_transport_filter_new(run_seed);
    const peko_addr *from = sim_world_addr(w, 0), *to = sim_world_addr(w, 1);
    cr_assert_eq(peko_transport_filter_set_stream(
                     f, from, model_stream_index(MODEL_STREAM_LOSS, 0)),
                 0);
    uint64_t lost_total = 0;
    for (size_t m = 0; m < G_N_ELEMENTS(models); m++) {
        const model_loss *l = &models[m];
        cr_assert_eq(sim_world_set_loss(w, l), 0);
        cr_assert_eq(l->kind == MODEL_LOSS_BERNOULLI
                         ? peko_transport_filter_set_loss(f, l->rate)
                         : peko_transport_filter_set_gilbert_elliott(
                               f, l->p_good_to_bad, l->p_bad_to_good,
                               l->loss_good, l->loss_bad),
                     0);
        for (size_t i = 0; i < N; i++) {
            uint64_t before = s.dropped;
            cr_assert_eq(inject(w, 0, 1, 1), 0);
            bool sim_lost = s.dropped > before;
            cr_assert_eq(filter_loses(f, from, to), sim_lost,
                         "model %zu, packet %zu", m, i);
            lost_total += sim_lost;
        }
        sim_world_run_until(w, (int64_t)(m + 1) * 1000000);
    }
    cr_assert_gt(lost_total, N / 2, "the models did lose packets");
    g_free(s.arrival_us);
    peko_transport_filter_free(f);
    sim_world_free(w);
}
