/* test-rng.c: the simulator's seeded random streams (sim/rng.h).
 *
 * Every statistical check uses a fixed seed, so it either always passes or
 * always fails: it cannot flake. */
#include <criterion/criterion.h>
#include <glib.h>
#include <math.h>

#include "rng.h"

TestSuite(rng, .timeout = 60);

Test(rng, xoshiro_matches_the_reference_vector)
{
    /* xoshiro256** from state {1, 2, 3, 4}, as in Vigna's reference. */
    sim_rng r = {.s = {1, 2, 3, 4}};
    cr_assert_eq(sim_rng_u64(&r), 11520ULL);
    cr_assert_eq(sim_rng_u64(&r), 0ULL);
    cr_assert_eq(sim_rng_u64(&r), 1509978240ULL);
    cr_assert_eq(sim_rng_u64(&r), 1215971899390074240ULL);
}

Test(rng, seeding_is_pinned)
{
    /* Runs must replay on any machine and any later build: these values
     * change only if seeding changes, which invalidates recorded runs. */
    static const uint64_t s1[] = {0x5ce1edda88c8aa95ULL, 0xd4fdace9e5a065d5ULL,
                                  0x31fadeb74d8d697eULL, 0xc03428ba66a07379ULL};
    static const uint64_t s2[] = {0x0c2bdf89b748e245ULL, 0xa058cf8ed2caa36cULL,
                                  0xe5b5907404242810ULL, 0x8e86d36c960cef42ULL};
    sim_rng r;
    sim_rng_init(&r, 1, 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(sim_rng_u64(&r), s1[i], "seed 1 stream 0 draw %d", i);
    sim_rng_init(&r, 0xdeadbeef, 12345);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(sim_rng_u64(&r), s2[i], "draw %d", i);
}

Test(rng, same_seed_and_stream_give_the_same_stream)
{
    sim_rng a, b;
    sim_rng_init(&a, 42, 7);
    sim_rng_init(&b, 42, 7);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(sim_rng_u64(&a), sim_rng_u64(&b));
}

Test(rng, different_streams_and_seeds_differ)
{
    /* First draws of 1000 streams of one seed, and of stream 0 under 1000
     * seeds: all distinct (a collision among 2000 64-bit values would be
     * a 1e-13 event, i.e. a bug). */
    GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                             g_free, NULL);
    for (uint64_t i = 0; i < 1000; i++) {
        sim_rng r;
        sim_rng_init(&r, 99, i);
        gint64 *v = g_new(gint64, 1);
        *v = (gint64)sim_rng_u64(&r);
        cr_assert(g_hash_table_add(seen, v), "stream %lu collides",
                  (unsigned long)i);
        sim_rng_init(&r, 1000 + i, 0);
        v = g_new(gint64, 1);
        *v = (gint64)sim_rng_u64(&r);
        cr_assert(g_hash_table_add(seen, v), "seed %lu collides",
                  (unsigned long)(1000 + i));
    }
    g_hash_table_destroy(seen);
}

Test(rng, a_stream_ignores_other_streams)
{
    /* Stream 5 alone, then stream 5 interleaved with draws on other
     * streams, and with more streams existing: the same values. */
    sim_rng alone;
    sim_rng_init(&alone, 3, 5);
    uint64_t expect[100];
    for (int i = 0; i < 100; i++)
        expect[i] = sim_rng_u64(&alone);

    sim_rng many[20];
    for (uint64_t s = 0; s < 20; s++)
        sim_rng_init(&many[s], 3, s);
    for (int i = 0; i < 100; i++) {
        for (int s = 0; s < 20; s++)
            if (s != 5)
                (void)sim_rng_u64(&many[s]);
        cr_assert_eq(sim_rng_u64(&many[5]), expect[i]);
    }
}

Test(rng, below_stays_in_range)
{
    static const uint64_t bounds[] = {1, 2, 3, 7, 10, 1000, 1ULL << 32,
                                      (1ULL << 63) + 1, UINT64_MAX - 1,
                                      UINT64_MAX};
    sim_rng r;
    sim_rng_init(&r, 5, 0);
    for (size_t b = 0; b < G_N_ELEMENTS(bounds); b++)
        for (int i = 0; i < 20000; i++) {
            uint64_t v = sim_rng_below(&r, bounds[b]);
            cr_assert_lt(v, bounds[b]);
        }
    cr_assert_eq(sim_rng_below(&r, 1), 0);
    cr_assert_eq(sim_rng_below(&r, 0), 0);

    /* Small ranges reach both ends. */
    bool hit[3] = {false};
    for (int i = 0; i < 1000; i++)
        hit[sim_rng_below(&r, 3)] = true;
    cr_assert(hit[0] && hit[1] && hit[2]);
}

Test(rng, range_includes_both_ends)
{
    sim_rng r;
    sim_rng_init(&r, 6, 0);
    bool lo = false, hi = false;
    for (int i = 0; i < 10000; i++) {
        int64_t v = sim_rng_range(&r, -3, 3);
        cr_assert_geq(v, -3);
        cr_assert_leq(v, 3);
        lo |= v == -3;
        hi |= v == 3;
    }
    cr_assert(lo && hi);
    cr_assert_eq(sim_rng_range(&r, 9, 9), 9);
    /* The full range must not overflow. */
    for (int i = 0; i < 100; i++)
        (void)sim_rng_range(&r, INT64_MIN, INT64_MAX);
}

Test(rng, doubles_are_in_the_unit_interval)
{
    sim_rng r;
    sim_rng_init(&r, 8, 0);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double d = sim_rng_double(&r);
        cr_assert(d >= 0.0 && d < 1.0);
        sum += d;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.005);
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

Test(rng, below_is_uniform_by_chi_square)
{
    /* 10 cells, 9 degrees of freedom: P(X2 > 27.88) = 0.001. A biased
     * reduction (say, plain modulo of a 4-bit value) fails by far. */
    enum { K = 10, N = 200000 };
    uint64_t counts[K] = {0};
    sim_rng r;
    sim_rng_init(&r, 2022, 0);
    for (int i = 0; i < N; i++)
        counts[sim_rng_below(&r, K)]++;
    double x2 = chi_square(counts, K, N);
    cr_assert_lt(x2, 27.88, "chi-square %.2f", x2);
}

Test(rng, below_is_unbiased_for_awkward_bounds)
{
    /* n = 3 * 2^62 makes plain modulo give the low third of the range
     * twice the weight of the rest; Lemire's rejection must not. */
    enum { N = 120000 };
    uint64_t n = 3ULL << 62, third = 1ULL << 62;
    uint64_t counts[3] = {0};
    sim_rng r;
    sim_rng_init(&r, 17, 0);
    for (int i = 0; i < N; i++)
        counts[sim_rng_below(&r, n) / third]++;
    double x2 = chi_square(counts, 3, N);
    cr_assert_lt(x2, 13.82, "chi-square %.2f (2 df, p = 0.001)", x2);
}

Test(rng, bits_are_balanced)
{
    /* Every bit position is set about half the time: 64 cells of
     * roughly binomial counts, each within 5 sigma. */
    enum { N = 100000 };
    uint64_t ones[64] = {0};
    sim_rng r;
    sim_rng_init(&r, 31337, 4);
    for (int i = 0; i < N; i++) {
        uint64_t v = sim_rng_u64(&r);
        for (int b = 0; b < 64; b++)
            ones[b] += (v >> b) & 1;
    }
    double sigma = sqrt(N * 0.25);
    for (int b = 0; b < 64; b++)
        cr_assert_lt(fabs((double)ones[b] - N / 2.0), 5 * sigma, "bit %d",
                     b);
}

Test(rng, exponential_has_its_mean)
{
    enum { N = 200000 };
    sim_rng r;
    sim_rng_init(&r, 11, 0);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        double x = sim_rng_exp(&r, 250.0);
        cr_assert(x >= 0 && isfinite(x));
        sum += x;
    }
    /* Standard error of the mean is 250 / sqrt(N) ~ 0.56. */
    cr_assert_float_eq(sum / N, 250.0, 3.0);
}
