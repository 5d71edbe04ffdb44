/* test-stats.c: the statistics behind comparisons (analysis/stats.h).
 *
 * Expected values are worked out by hand in the comments (or are the
 * tabulated quantiles of Student's t), never produced by the code under
 * test. */
#include <criterion/criterion.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#include "stats.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Criticals from g_return_val_if_fail, counted instead of printed. */
static void count_critical(const char *domain, GLogLevelFlags level,
                           const char *message, void *data)
{
    (*(int *)data)++;
}

static int criticals;

static void catch_criticals(void)
{
    criticals = 0;
    g_log_set_handler(NULL, G_LOG_LEVEL_CRITICAL, count_critical, &criticals);
}

/* ------------------------------------------------------------------ */
/* Mean and standard deviation.                                         */

Test(stats, mean_of_small_set)
{
    /* (1 + 2 + 3 + 4) / 4 = 10 / 4 = 2.5 */
    const double x[] = { 1, 2, 3, 4 };
    cr_assert_float_eq(ana_stats_mean(x, LEN(x)), 2.5, 1e-15);
}

Test(stats, mean_of_nothing_is_nan)
{
    cr_assert(isnan(ana_stats_mean(NULL, 0)));
}

Test(stats, sd_is_the_sample_deviation)
{
    /* Mean 40 / 8 = 5; squared deviations 9 1 1 1 0 0 4 16, sum 32;
     * divided by n - 1 = 7: 4.571428..., sqrt = 2.1380899353. */
    const double x[] = { 2, 4, 4, 4, 5, 5, 7, 9 };
    cr_assert_float_eq(ana_stats_sd(x, LEN(x)), 2.138089935299395, 1e-12);
}

Test(stats, sd_of_one_value_is_zero_and_of_none_nan)
{
    const double x[] = { 42 };
    cr_assert_eq(ana_stats_sd(x, 1), 0.0);
    cr_assert(isnan(ana_stats_sd(NULL, 0)));
}

Test(stats, sd_of_equal_values_is_exactly_zero)
{
    const double x[] = { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 };
    cr_assert_eq(ana_stats_sd(x, LEN(x)), 0.0);
}

/* ------------------------------------------------------------------ */
/* Percentiles.                                                         */

Test(stats, percentile_interpolates_between_closest_ranks)
{
    /* Type 7: h = (n - 1) p / 100 over the sorted values.
     * p = 25: h = 3 * 0.25 = 0.75 -> 1 + 0.75 * (2 - 1) = 1.75
     * p = 50: h = 1.5 -> 2 + 0.5 * (3 - 2) = 2.5
     * p = 90: h = 2.7 -> 3 + 0.7 * (4 - 3) = 3.7 */
    const double x[] = { 1, 2, 3, 4 };
    cr_assert_float_eq(ana_stats_percentile(x, 4, 25), 1.75, 1e-15);
    cr_assert_float_eq(ana_stats_percentile(x, 4, 50), 2.5, 1e-15);
    cr_assert_float_eq(ana_stats_percentile(x, 4, 90), 3.7, 1e-15);
    cr_assert_eq(ana_stats_percentile(x, 4, 0), 1.0);
    cr_assert_eq(ana_stats_percentile(x, 4, 100), 4.0);
}

Test(stats, percentile_sorts_a_copy_of_its_input)
{
    double x[] = { 4, 1, 3, 2 };
    cr_assert_float_eq(ana_stats_percentile(x, 4, 25), 1.75, 1e-15);
    cr_assert(x[0] == 4 && x[1] == 1 && x[2] == 3 && x[3] == 2);
}

Test(stats, median_of_odd_and_even_counts)
{
    const double odd[] = { 9, 1, 5 };       /* sorted 1 5 9 -> 5 */
    const double even[] = { 9, 1, 5, 6 };   /* sorted 1 5 6 9 -> 5.5 */
    cr_assert_eq(ana_stats_median(odd, 3), 5.0);
    cr_assert_eq(ana_stats_median(even, 4), 5.5);
}

Test(stats, percentile_of_one_value_is_that_value)
{
    const double x[] = { -3.5 };
    cr_assert_eq(ana_stats_percentile(x, 1, 0), -3.5);
    cr_assert_eq(ana_stats_percentile(x, 1, 37), -3.5);
    cr_assert_eq(ana_stats_median(x, 1), -3.5);
}

Test(stats, percentile_of_nothing_is_nan)
{
    cr_assert(isnan(ana_stats_percentile(NULL, 0, 50)));
    cr_assert(isnan(ana_stats_median(NULL, 0)));
}

Test(stats, percentile_rejects_p_outside_0_to_100, .init = catch_criticals)
{
    const double x[] = { 1, 2 };
    cr_assert(isnan(ana_stats_percentile(x, 2, -1)));
    cr_assert(isnan(ana_stats_percentile(x, 2, 100.5)));
    cr_assert(isnan(ana_stats_percentile(x, 2, NAN)));
    cr_assert_eq(criticals, 3);
}

Test(stats, nan_inputs_are_rejected, .init = catch_criticals)
{
    const double x[] = { 1, NAN, 3 };
    cr_assert(isnan(ana_stats_mean(x, 3)));
    cr_assert(isnan(ana_stats_sd(x, 3)));
    cr_assert(isnan(ana_stats_median(x, 3)));
    ana_stats_ci ci = ana_stats_mean_ci95(x, 3);
    cr_assert(isnan(ci.mean) && isnan(ci.lo) && isnan(ci.hi));
    ana_stats_mwu m = ana_stats_mann_whitney(x, 3, x, 1);
    cr_assert(isnan(m.p) && isnan(m.u));
    ana_stats_interval iv = ana_stats_bootstrap_median_diff(x, 3, x, 1, 10, 1);
    cr_assert(isnan(iv.lo) && isnan(iv.hi));
    cr_assert_eq(criticals, 6);
}

/* ------------------------------------------------------------------ */
/* Distributions.                                                       */

Test(stats, t_quantile_matches_tables)
{
    /* df = 1 is the Cauchy distribution: tan(pi (0.975 - 0.5)) =
     * tan(0.475 pi) = 12.7062047362. The others are the tabulated
     * t_{0.975, df}. */
    cr_assert_float_eq(ana_stats_t_quantile(0.975, 1), 12.706204736174705,
                       1e-9);
    cr_assert_float_eq(ana_stats_t_quantile(0.975, 4), 2.7764451051977944,
                       1e-10);
    cr_assert_float_eq(ana_stats_t_quantile(0.975, 9), 2.2621571627982055,
                       1e-10);
    cr_assert_float_eq(ana_stats_t_quantile(0.975, 30), 2.0422724563012383,
                       1e-10);
}

Test(stats, t_quantile_at_df_2_is_closed_form)
{
    /* df = 2: t = (2p - 1) / sqrt(2 p (1 - p)); p = 0.9:
     * 0.8 / sqrt(2 * 0.9 * 0.1) = 0.8 / sqrt(0.18) = 1.8856180832. */
    cr_assert_float_eq(ana_stats_t_quantile(0.9, 2), 1.885618083164127,
                       1e-12);
}

Test(stats, t_quantile_tends_to_the_normal_for_large_df)
{
    /* z_{0.975} = 1.9599639845; t_{0.975, df} - z is about
     * (z^3 + z) / (4 df), 2.4e-9 at df = 1e9. */
    cr_assert_float_eq(ana_stats_t_quantile(0.975, 1e9), 1.959963984540054,
                       1e-8);
    cr_assert_float_eq(ana_stats_t_quantile(0.975, INFINITY),
                       1.959963984540054, 1e-12);
    /* Both sides of the switch to the series agree. */
    cr_assert_float_eq(ana_stats_t_quantile(0.975, 99999.0),
                       ana_stats_t_quantile(0.975, 100001.0), 1e-9);
}

Test(stats, t_quantile_is_odd_and_inverts_the_cdf)
{
    const double dfs[] = { 1, 1.5, 3, 7, 25, 300 };
    /* Dyadic p, so that 1 - p is exact. */
    const double ps[] = { 0x1p-40, 0x1p-10, 0.125, 0.375, 0.625, 0.9375 };
    for (size_t i = 0; i < LEN(dfs); i++)
        for (size_t j = 0; j < LEN(ps); j++) {
            double t = ana_stats_t_quantile(ps[j], dfs[i]);
            cr_assert_float_eq(ana_stats_t_quantile(1 - ps[j], dfs[i]), -t,
                               1e-9 * fabs(t), "df %g p %g", dfs[i], ps[j]);
            cr_assert_float_eq(ana_stats_t_cdf(t, dfs[i]), ps[j],
                               1e-12 + 1e-9 * ps[j], "df %g p %g", dfs[i],
                               ps[j]);
        }
    cr_assert_eq(ana_stats_t_quantile(0.5, 5), 0.0);
}

Test(stats, t_quantile_limits_and_bad_arguments, .init = catch_criticals)
{
    cr_assert(isinf(ana_stats_t_quantile(1, 3)));
    cr_assert_lt(ana_stats_t_quantile(0, 3), 0);
    cr_assert(isinf(ana_stats_t_quantile(0, 3)));
    cr_assert_eq(criticals, 0);
    cr_assert(isnan(ana_stats_t_quantile(0.9, 0.5)));
    cr_assert(isnan(ana_stats_t_quantile(1.5, 3)));
    cr_assert(isnan(ana_stats_t_quantile(NAN, 3)));
    cr_assert_eq(criticals, 3);
}

Test(stats, normal_cdf_and_two_sided_p)
{
    /* Phi(0) = 1/2; Phi(1.959964) = 0.975; 2 (1 - Phi(1.96)) =
     * 0.0499957903 (tables). */
    cr_assert_float_eq(ana_stats_normal_cdf(0), 0.5, 1e-16);
    cr_assert_float_eq(ana_stats_normal_cdf(1.959963984540054), 0.975, 1e-15);
    cr_assert_float_eq(ana_stats_normal_cdf(-1.959963984540054), 0.025,
                       1e-15);
    cr_assert_float_eq(ana_stats_normal_p_two_sided(1.96),
                       0.04999579029644087, 1e-15);
    cr_assert_float_eq(ana_stats_normal_p_two_sided(-1.96),
                       0.04999579029644087, 1e-15);
    cr_assert_eq(ana_stats_normal_p_two_sided(0), 1.0);
}

Test(stats, normal_quantile_inverts_the_cdf)
{
    cr_assert_float_eq(ana_stats_normal_quantile(0.975), 1.959963984540054,
                       1e-13);
    cr_assert_eq(ana_stats_normal_quantile(0.5), 0.0);
    for (double p = 1e-15; p < 0.5; p *= 7)
        cr_assert_float_eq(ana_stats_normal_cdf(ana_stats_normal_quantile(p)),
                           p, 1e-12 * p, "p %g", p);
}

/* ------------------------------------------------------------------ */
/* Confidence interval of a mean.                                       */

Test(stats, mean_ci95_by_hand)
{
    /* x = 10 12 14 16 18: mean 14; squared deviations 16 4 0 4 16, sum
     * 40, variance 40 / 4 = 10, standard error sqrt(10 / 5) = sqrt 2 =
     * 1.4142135624; t_{0.975, 4} = 2.7764451052; half-width
     * 2.7764451052 * 1.4142135624 = 3.9264863230. */
    const double x[] = { 10, 12, 14, 16, 18 };
    ana_stats_ci ci = ana_stats_mean_ci95(x, LEN(x));
    cr_assert_eq(ci.n, 5);
    cr_assert_float_eq(ci.mean, 14.0, 1e-14);
    cr_assert_float_eq(ci.lo, 14.0 - 3.926486322955115, 1e-9);
    cr_assert_float_eq(ci.hi, 14.0 + 3.926486322955115, 1e-9);
}

Test(stats, mean_ci95_of_one_value_is_a_point)
{
    const double x[] = { 7.25 };
    ana_stats_ci ci = ana_stats_mean_ci95(x, 1);
    cr_assert_eq(ci.n, 1);
    cr_assert(ci.mean == 7.25 && ci.lo == 7.25 && ci.hi == 7.25);
}

Test(stats, mean_ci95_of_nothing_is_nan)
{
    ana_stats_ci ci = ana_stats_mean_ci95(NULL, 0);
    cr_assert_eq(ci.n, 0);
    cr_assert(isnan(ci.mean) && isnan(ci.lo) && isnan(ci.hi));
}

/* ------------------------------------------------------------------ */
/* Confidence interval of a median.                                     */

Test(stats, median_ci_by_hand)
{
    /* n = 10: P(B <= 0) = 1/1024, P(B <= 1) = 11/1024 = 0.0107 <= 0.025,
     * P(B <= 2) = 56/1024 = 0.0547 > 0.025, so k = 2: [x_(2), x_(9)],
     * coverage 1 - 22/1024 = 0.978515625. */
    const double x[] = { 9, 1, 8, 2, 7, 3, 6, 4, 5, 10 };
    ana_stats_median_interval ci = ana_stats_median_ci(x, LEN(x), 0.95);
    cr_assert_eq(ci.n, 10);
    cr_assert(ci.lo == 2 && ci.hi == 9, "[%g, %g]", ci.lo, ci.hi);
    cr_assert_float_eq(ci.level, 0.978515625, 1e-12);

    /* n = 20: P(B <= 5) = (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20 =
     * 21700 / 1048576 <= 0.025 < P(B <= 6) = 60460 / 1048576, so k = 6:
     * [x_(6), x_(15)], coverage 1 - 43400 / 1048576. */
    double y[20];
    for (int i = 0; i < 20; i++)
        y[i] = 100 - 5 * i; /* 100, 95, ..., 5: x_(6) = 30, x_(15) = 75 */
    ci = ana_stats_median_ci(y, 20, 0.95);
    cr_assert(ci.lo == 30 && ci.hi == 75, "[%g, %g]", ci.lo, ci.hi);
    cr_assert_float_eq(ci.level, 1 - 43400.0 / 1048576, 1e-12);
}

Test(stats, median_ci_of_few_values_is_min_max_with_its_level)
{
    /* Below 6 values even [min, max] misses 95%: 1 - 2^(1 - n). */
    const double x[] = { 0.3, 0.25, 3.5, 0.2, 0.35 };
    ana_stats_median_interval ci = ana_stats_median_ci(x, 5, 0.95);
    cr_assert(ci.lo == 0.2 && ci.hi == 3.5);
    cr_assert_float_eq(ci.level, 0.9375, 1e-15);
    ci = ana_stats_median_ci(x, 2, 0.95);
    cr_assert(ci.lo == 0.25 && ci.hi == 0.3);
    cr_assert_float_eq(ci.level, 0.5, 1e-15);
    /* Six values reach it: 1 - 2/64. */
    const double six[] = { 6, 5, 4, 3, 2, 1 };
    ci = ana_stats_median_ci(six, 6, 0.95);
    cr_assert(ci.lo == 1 && ci.hi == 6);
    cr_assert_float_eq(ci.level, 0.96875, 1e-15);
    /* One value: a point that covers nothing. */
    ci = ana_stats_median_ci(x, 1, 0.95);
    cr_assert(ci.lo == 0.3 && ci.hi == 0.3 && ci.level == 0);
}

Test(stats, median_ci_of_nothing_or_bad_input_is_nan)
{
    ana_stats_median_interval ci = ana_stats_median_ci(NULL, 0, 0.95);
    cr_assert(isnan(ci.lo) && isnan(ci.hi) && isnan(ci.level));
    catch_criticals();
    const double x[] = { 1, NAN, 3 };
    ci = ana_stats_median_ci(x, 3, 0.95);
    cr_assert(isnan(ci.lo) && isnan(ci.hi) && isnan(ci.level));
    const double y[] = { 1, 2, 3 };
    ci = ana_stats_median_ci(y, 3, 1.0);
    cr_assert(isnan(ci.lo) && isnan(ci.level));
    ci = ana_stats_median_ci(y, 3, 0.0);
    cr_assert(isnan(ci.lo) && isnan(ci.level));
    cr_assert_eq(criticals, 3);
}

/* splitmix64, the tests' own seeded source: uniform in (0, 1). */
static double test_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

Test(stats, median_ci_never_leaves_the_data)
{
    /* Skewed positive samples of every size from 1 to 40, an outlier
     * among them: the bounds are values of the sample, so never below
     * its minimum (nor below 0) nor above its maximum, and they hold the
     * sample median. */
    uint64_t state = 7;
    double x[40];
    for (int trial = 0; trial < 400; trial++) {
        size_t n = 1 + (size_t)trial % 40;
        double min = INFINITY, max = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double u = test_uniform(&state);
            x[i] = i == 0 ? 50.0 / u : -log(u); /* a Pareto outlier */
            min = fmin(min, x[i]);
            max = fmax(max, x[i]);
        }
        ana_stats_median_interval ci = ana_stats_median_ci(x, n, 0.95);
        double median = ana_stats_median(x, n);
        cr_assert(ci.lo >= min && ci.hi <= max && ci.lo > 0,
                  "n %zu: [%g, %g] outside [%g, %g]", n, ci.lo, ci.hi, min,
                  max);
        cr_assert(ci.lo <= median && median <= ci.hi);
    }
}

/* Coverage over `trials` samples of n draws of `draw`, whose median is
 * `median`. */
static double median_ci_coverage(double (*draw)(uint64_t *), double median,
                                 size_t n, int trials, double *level)
{
    uint64_t state = 42;
    double x[64];
    int covered = 0;
    for (int t = 0; t < trials; t++) {
        for (size_t i = 0; i < n; i++)
            x[i] = draw(&state);
        ana_stats_median_interval ci = ana_stats_median_ci(x, n, 0.95);
        covered += ci.lo <= median && median <= ci.hi;
        *level = ci.level;
    }
    return (double)covered / trials;
}

static double draw_exponential(uint64_t *state)
{
    return -log(test_uniform(state)); /* median ln 2 */
}

static double draw_lognormal_heavy(uint64_t *state)
{
    /* exp(2 Z) by Box-Muller: median exp(0) = 1, a heavy right tail. */
    double u = test_uniform(state), v = test_uniform(state);
    return exp(2 * sqrt(-2 * log(u)) * cos(2 * G_PI * v));
}

Test(stats, median_ci_covers_as_often_as_it_says)
{
    /* Exponential, n = 10: coverage 0.9785 exactly; lognormal with a
     * heavy tail, n = 30: 0.9572. Within 4 binomial standard errors of
     * 4000 trials (about 0.009 and 0.013). */
    const int trials = 4000;
    double level;
    double c = median_ci_coverage(draw_exponential, G_LN2, 10, trials, &level);
    double se = sqrt(level * (1 - level) / trials);
    cr_assert_float_eq(level, 0.978515625, 1e-12);
    cr_assert(fabs(c - level) < 4 * se, "exponential: %.4f vs %.4f", c, level);
    c = median_ci_coverage(draw_lognormal_heavy, 1.0, 30, trials, &level);
    se = sqrt(level * (1 - level) / trials);
    cr_assert(level >= 0.95 && fabs(c - level) < 4 * se,
              "lognormal: %.4f vs %.4f", c, level);
}

/* ------------------------------------------------------------------ */
/* Mann-Whitney U.                                                      */

Test(stats, mann_whitney_complete_separation_is_exact)
{
    /* Every a beats every b: U = 5 * 5 = 25. Of the C(10, 5) = 252 ways
     * to split the ranks, only one puts all of a on top, so
     * P(U >= 25) = 1/252 and the two-sided p is 2/252. */
    const double a[] = { 6, 7, 8, 9, 10 };
    const double b[] = { 1, 2, 3, 4, 5 };
    ana_stats_mwu m = ana_stats_mann_whitney(a, 5, b, 5);
    cr_assert(m.exact);
    cr_assert_eq(m.u, 25.0);
    cr_assert_float_eq(m.p, 2.0 / 252.0, 1e-15);
    cr_assert_eq(m.effect, 1.0);

    /* The other way round: U = 0, the same p. */
    m = ana_stats_mann_whitney(b, 5, a, 5);
    cr_assert_eq(m.u, 0.0);
    cr_assert_float_eq(m.p, 2.0 / 252.0, 1e-15);
    cr_assert_eq(m.effect, 0.0);
}

Test(stats, mann_whitney_exact_p_of_a_small_overlap)
{
    /* a = 3 4, b = 1 2 5: 3 beats 1 and 2, 4 beats 1 and 2, U = 4.
     * Under the null U counts partitions of u into at most 2 parts of at
     * most 3: u = 0..6 -> 1 1 2 2 2 1 1 (total C(5, 2) = 10). U = 4 is
     * above the mean 3, so p = 2 P(U >= 4) = 2 (2 + 1 + 1) / 10 = 0.8. */
    const double a[] = { 3, 4 };
    const double b[] = { 1, 2, 5 };
    ana_stats_mwu m = ana_stats_mann_whitney(a, 2, b, 3);
    cr_assert(m.exact);
    cr_assert_eq(m.u, 4.0);
    cr_assert_float_eq(m.p, 0.8, 1e-15);
    cr_assert_float_eq(m.effect, 4.0 / 6.0, 1e-15);
}

Test(stats, mann_whitney_with_ties_uses_the_corrected_normal)
{
    /* a = 1 2 2 3, b = 2 3 4. Pairs a > b, ties 1/2: 1 -> 0; each 2 ->
     * 1/2 (ties the b 2); 3 -> 1 (beats 2) + 1/2 (ties 3) = 1.5; U = 2.5.
     * By ranks: sorted 1a 2a 2a 2b 3a 3b 4b, midranks 1, 3 3 3, 5.5 5.5,
     * 7; R_a = 1 + 3 + 3 + 5.5 = 12.5, U = 12.5 - 4 * 5 / 2 = 2.5.
     * Mean na nb / 2 = 6. Tie groups of 3 and 2: sum (t^3 - t) = 24 + 6
     * = 30; sigma^2 = 12 / 12 * ((7 + 1) - 30 / (7 * 6)) = 8 - 0.7142857
     * = 7.2857143, sigma = 2.6992062. U - 6 = -3.5, continuity -0.5:
     * z = (-3.5 + 0.5) / 2.6992062 = -1.1114379; p = 2 Phi(-1.1114379)
     * = 0.2663799. Effect 2.5 / 12 = 0.2083333. */
    const double a[] = { 1, 2, 2, 3 };
    const double b[] = { 2, 3, 4 };
    ana_stats_mwu m = ana_stats_mann_whitney(a, 4, b, 3);
    cr_assert_not(m.exact);
    cr_assert_eq(m.u, 2.5);
    cr_assert_float_eq(m.z, -1.1114378604524227, 1e-12);
    cr_assert_float_eq(m.p, 0.2663799233424826, 1e-12);
    cr_assert_float_eq(m.effect, 2.5 / 12.0, 1e-15);
}

Test(stats, mann_whitney_above_forty_values_uses_the_normal)
{
    /* 21 + 20 = 41 values, no ties, a all below b: U = 0, mean 210,
     * sigma^2 = 420 / 12 * 42 = 1470; z = (0 - 210 + 0.5) / sqrt(1470)
     * = -5.4696. */
    double a[21], b[20];
    for (int i = 0; i < 21; i++)
        a[i] = i;
    for (int i = 0; i < 20; i++)
        b[i] = 100 + i;
    ana_stats_mwu m = ana_stats_mann_whitney(a, 21, b, 20);
    cr_assert_not(m.exact);
    cr_assert_eq(m.u, 0.0);
    cr_assert_float_eq(m.z, -209.5 / sqrt(1470.0), 1e-12);
    cr_assert_float_eq(m.p, ana_stats_normal_p_two_sided(m.z), 1e-20);
    cr_assert_lt(m.p, 1e-6);
}

Test(stats, mann_whitney_of_equal_values_has_p_one)
{
    const double a[] = { 3, 3, 3 };
    const double b[] = { 3, 3 };
    ana_stats_mwu m = ana_stats_mann_whitney(a, 3, b, 2);
    cr_assert_eq(m.u, 3.0);         /* 6 ties, 1/2 each */
    cr_assert_eq(m.z, 0.0);
    cr_assert_eq(m.p, 1.0);
    cr_assert_eq(m.effect, 0.5);
}

Test(stats, mann_whitney_of_an_empty_side)
{
    const double a[] = { 1, 2 };
    ana_stats_mwu m = ana_stats_mann_whitney(a, 2, NULL, 0);
    cr_assert_eq(m.p, 1.0);
    cr_assert(isnan(m.effect));
    m = ana_stats_mann_whitney(NULL, 0, a, 2);
    cr_assert_eq(m.p, 1.0);
    cr_assert(isnan(m.effect));
}

/* ------------------------------------------------------------------ */
/* Bootstrap.                                                           */

static const double base[] = { 12, 15, 9, 11, 14, 10, 13, 16, 8, 12,
                               11, 13, 15, 10, 12, 14, 9, 13, 11, 12 };

Test(stats, bootstrap_is_reproducible_for_a_seed)
{
    double shifted[LEN(base)];
    for (size_t i = 0; i < LEN(base); i++)
        shifted[i] = base[i] * 1.1 + 0.37;
    ana_stats_interval one = ana_stats_bootstrap_median_diff(
        base, LEN(base), shifted, LEN(shifted), 2000, 42);
    ana_stats_interval two = ana_stats_bootstrap_median_diff(
        base, LEN(base), shifted, LEN(shifted), 2000, 42);
    cr_assert_eq(memcmp(&one, &two, sizeof one), 0);
    cr_assert_leq(one.lo, one.hi);
}

Test(stats, bootstrap_contains_the_true_shift)
{
    /* b = a + 100: the medians differ by exactly 100, the spread of each
     * sample is about 8, so the interval holds 100 and not 0. */
    double b[LEN(base)];
    for (size_t i = 0; i < LEN(base); i++)
        b[i] = base[i] + 100;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        ana_stats_interval iv = ana_stats_bootstrap_median_diff(
            base, LEN(base), b, LEN(b), 2000, seed);
        cr_assert_leq(iv.lo, 100.0, "seed %lu", (unsigned long)seed);
        cr_assert_geq(iv.hi, 100.0, "seed %lu", (unsigned long)seed);
        cr_assert_gt(iv.lo, 90.0, "seed %lu", (unsigned long)seed);
        cr_assert_lt(iv.hi, 110.0, "seed %lu", (unsigned long)seed);
    }
}

Test(stats, bootstrap_of_constant_samples_is_zero)
{
    const double a[] = { 5, 5, 5 };
    const double b[] = { 5, 5, 5, 5 };
    ana_stats_interval iv = ana_stats_bootstrap_median_diff(a, 3, b, 4, 500, 7);
    cr_assert_eq(iv.lo, 0.0);
    cr_assert_eq(iv.hi, 0.0);
}

Test(stats, relative_change_interval_never_goes_below_minus_one)
{
    /* Times from five runs each, one base run 300 times slower than the
     * others (a run that waited for a timeout): a resample of the base
     * made of it has a median far above the observed one. The relative
     * change of each resample is still above -100 %, and the interval
     * holds the observed change, +247 %. (The difference over the
     * observed base median went down to about -27,600 %.) */
    const double a[] = { 1.5, 1.6, 1.4, 1.5, 420 };
    const double b[] = { 5.0, 5.2, 5.4, 4.3, 14.2 };
    for (uint64_t seed = 1; seed <= 5; seed++) {
        ana_stats_interval iv = ana_stats_bootstrap_median_change(
            a, LEN(a), b, LEN(b), 2000, seed);
        cr_assert_geq(iv.lo, -1.0, "seed %lu: %g", (unsigned long)seed,
                      iv.lo);
        cr_assert_leq(iv.lo, 5.2 / 1.5 - 1, "seed %lu", (unsigned long)seed);
        cr_assert_geq(iv.hi, 5.2 / 1.5 - 1, "seed %lu", (unsigned long)seed);
        ana_stats_interval diff = ana_stats_bootstrap_median_diff(
            a, LEN(a), b, LEN(b), 2000, seed);
        cr_assert_lt(diff.lo / 1.5, -1.0, "the case shows the old defect");
    }
    /* A base median of 0 in every resample: no relative change. */
    const double zero[] = { 0, 0, 0 };
    ana_stats_interval iv = ana_stats_bootstrap_median_change(
        zero, 3, b, LEN(b), 100, 1);
    cr_assert(isnan(iv.lo) && isnan(iv.hi));
}

Test(stats, bootstrap_of_nothing_is_nan)
{
    const double a[] = { 1, 2 };
    ana_stats_interval iv = ana_stats_bootstrap_median_diff(a, 2, NULL, 0,
                                                            100, 1);
    cr_assert(isnan(iv.lo) && isnan(iv.hi));
    iv = ana_stats_bootstrap_median_diff(a, 2, a, 2, 0, 1);
    cr_assert(isnan(iv.lo) && isnan(iv.hi));
}

/* ------------------------------------------------------------------ */
/* Counts.                                                              */

Test(stats, binomial_p_by_hand)
{
    /* Bin(10, 1/2): P(X = 0) = 1/1024, both tails doubled;
     * P(X >= 8) = (45 + 10 + 1) / 1024. */
    cr_assert_float_eq(ana_stats_binomial_p(0, 10, 0.5), 2.0 / 1024, 1e-14);
    cr_assert_float_eq(ana_stats_binomial_p(8, 10, 0.5), 112.0 / 1024,
                       1e-13);
    cr_assert_float_eq(ana_stats_binomial_p(5, 10, 0.5), 1.0, 1e-15);
    /* Bin(4, 0.1): P(X >= 2) = 1 - 0.9^4 - 4 (0.1) 0.9^3 = 0.0523. */
    cr_assert_float_eq(ana_stats_binomial_p(2, 4, 0.1), 2 * 0.0523, 1e-12);
    /* Certain outcomes. */
    cr_assert_float_eq(ana_stats_binomial_p(0, 5, 0.0), 1.0, 1e-15);
    cr_assert_float_eq(ana_stats_binomial_p(1, 5, 0.0), 0.0, 1e-15);
    cr_assert_float_eq(ana_stats_binomial_p(0, 0, 0.3), 1.0, 1e-15);
}

Test(stats, binomial_p_rejects_bad_arguments, .init = catch_criticals)
{
    cr_assert(isnan(ana_stats_binomial_p(6, 5, 0.5)));
    cr_assert(isnan(ana_stats_binomial_p(1, 5, 1.5)));
    cr_assert(isnan(ana_stats_binomial_p(1, 5, NAN)));
}

/* Garwood's one-sided 95% upper bounds: chi2_{0.95}(2k + 2) / 2 from
 * tables (k = 0: -ln 0.05, the "rule of three"). */
Test(stats, poisson_upper_bound_matches_tables)
{
    cr_assert_float_eq(ana_stats_poisson_upper(0, 0.95), -log(0.05), 1e-12);
    cr_assert_float_eq(ana_stats_poisson_upper(1, 0.95), 9.487729 / 2, 1e-5);
    cr_assert_float_eq(ana_stats_poisson_upper(5, 0.95), 21.026070 / 2, 1e-5);
    cr_assert_float_eq(ana_stats_poisson_upper(10, 0.95), 33.924439 / 2,
                       1e-5);
    /* Far past the exact range: k + z sqrt(k) and a bit. */
    double k = 400000, up = ana_stats_poisson_upper(400000, 0.95);
    cr_assert(up > k + 1.64 * sqrt(k) && up < k + 1.66 * sqrt(k) + 2,
              "%f", up);
}

/* A tail far below double precision next to 1 keeps its digits. */
Test(stats, binomial_p_keeps_tiny_tails)
{
    cr_assert_float_eq(ana_stats_binomial_p(60, 60, 0.5) / exp2(-59), 1.0,
                       1e-9);
    cr_assert_float_eq(ana_stats_binomial_p(0, 60, 0.5) / exp2(-59), 1.0,
                       1e-9);
}
