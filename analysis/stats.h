/* stats.h: the statistics behind comparisons of runs and repetitions.
 *
 * Every function is pure: no global state, deterministic, and nothing
 * allocated that the caller must free (scratch copies are freed before
 * returning). Inputs are borrowed for the call and need not be sorted.
 *
 * NaN inputs are the caller's bug and are rejected: a function handed a
 * NaN (in an array or as a parameter) logs a critical through
 * g_return_val_if_fail and returns NAN in every floating-point field of
 * its result. A NULL array is accepted only together with a count of 0.
 * Infinities sort as usual in the order statistics (percentiles, ranks;
 * interpolating between -INFINITY and INFINITY gives NaN) and make means
 * and deviations infinite or NaN as IEEE arithmetic says.
 */
#ifndef ANA_STATS_H
#define ANA_STATS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Arithmetic mean. NAN if n == 0. */
double ana_stats_mean(const double *x, size_t n);

/* Sample standard deviation (divisor n - 1). 0 if n == 1; NAN if n == 0. */
double ana_stats_sd(const double *x, size_t n);

/* Percentile p in [0, 100] of x (copied and sorted internally), by linear
 * interpolation between the closest ranks (Hyndman and Fan type 7, the
 * default of R and NumPy): h = (n - 1) p / 100, then
 * x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]) over the sorted
 * values. NAN if n == 0; p outside [0, 100] is rejected (NAN). */
double ana_stats_percentile(const double *x, size_t n, double p);

/* The type 7 percentile at 50: the middle value, or the mean of the two
 * middle values. NAN if n == 0. */
double ana_stats_median(const double *x, size_t n);

/* Quantile of Student's t with df degrees of freedom (df >= 1, need not be
 * an integer; INFINITY gives the normal quantile), p in (0, 1). Exact
 * formulas at df = 1 and 2; otherwise the root of the exact CDF (through
 * the regularized incomplete beta function), found by safeguarded Newton
 * steps, or the Cornish-Fisher expansion for df > 1e5. Relative error
 * below 1e-9. p = 0 or 1 give -/+INFINITY; anything else outside [0, 1],
 * or df < 1, is rejected (NAN). */
double ana_stats_t_quantile(double p, double df);

/* Student's t CDF: P(T <= t) with df degrees of freedom (df >= 1). */
double ana_stats_t_cdf(double t, double df);

/* Standard normal CDF, P(Z <= z). */
double ana_stats_normal_cdf(double z);

/* Two-sided p-value of a standard normal statistic: 2 P(Z >= |z|). */
double ana_stats_normal_p_two_sided(double z);

/* Standard normal quantile, p in (0, 1); 0 and 1 give -/+INFINITY. */
double ana_stats_normal_quantile(double p);

/* Mean and 95% confidence interval over repetitions:
 * mean +- t_{0.975, n-1} * sd / sqrt(n). n == 1: lo = hi = mean.
 * n == 0: mean, lo, hi all NAN. */
typedef struct ana_stats_ci {
    double mean, lo, hi;
    size_t n;               /* the sample size */
} ana_stats_ci;

ana_stats_ci ana_stats_mean_ci95(const double *x, size_t n);

/* Distribution-free confidence interval for the median of the population
 * x was drawn from: the order statistics [x_(k), x_(n+1-k)] (1-based over
 * the sorted values, infinities last), k the largest with
 *     P(x_(k) <= median <= x_(n+1-k)) = 1 - 2 P(B <= k - 1) >= level,
 * B ~ Binomial(n, 1/2). That coverage holds whatever the distribution
 * (exactly for a continuous one, at least for any other), and both bounds
 * are values of x, so the interval never leaves the data's range. `level`
 * in the result is the coverage reached, at least the one asked for; when
 * even [min, max] covers less (n <= 5 at 0.95), the interval is
 * [min, max] and level says what it covers, 1 - 2^(1 - n). n == 1:
 * lo = hi = x[0], level 0. n == 0, or level outside (0, 1): all NAN.
 * Deterministic: no resampling. */
typedef struct ana_stats_median_interval {
    double lo, hi;
    double level;           /* the coverage of [lo, hi] */
    size_t n;
} ana_stats_median_interval;

ana_stats_median_interval ana_stats_median_ci(const double *x, size_t n,
                                        double level);

/* Mann-Whitney U test (Wilcoxon rank-sum), two-sided.
 *
 * u: U statistic of a, the number of pairs (a_i, b_j) with a_i > b_j,
 *    ties counting 1/2 (= rank sum of a - na (na + 1) / 2, midranks).
 * z: the normal approximation's statistic, always filled in:
 *    z = (u - na nb / 2 - c) / sigma, continuity correction
 *    c = 0.5 sign(u - na nb / 2), sigma^2 = na nb / 12 *
 *    ((N + 1) - sum over tie groups (t^3 - t) / (N (N - 1))), N = na + nb.
 *    sigma = 0 (every value equal) gives z = 0.
 * p: exact when N <= 40 and there are no ties at all (by the permutation
 *    distribution of U, counted with the recurrence
 *    c(m, n, u) = c(m - 1, n, u - n) + c(m, n - 1, u)),
 *    p = min(1, 2 min(P(U <= u), P(U >= u))); otherwise 2 P(Z >= |z|).
 * effect: common-language effect size P(a > b) + P(a == b) / 2
 *    = u / (na nb).
 * na or nb == 0: u = 0, z = 0, p = 1, effect NAN, exact false. */
typedef struct ana_stats_mwu {
    double u;
    double z;
    double p;
    double effect;
    bool exact;             /* p from the exact distribution */
} ana_stats_mwu;

ana_stats_mwu ana_stats_mann_whitney(const double *a, size_t na,
                                     const double *b, size_t nb);

/* Percentile bootstrap 95% CI of median(b) - median(a): `iterations`
 * resamples (e.g. 2000), each drawing na values from a then nb values
 * from b, with replacement; the interval is the type 7 percentiles 2.5 and
 * 97.5 of the differences. The draws come from a model.h stream
 * (xoshiro256** seeded by SplitMix64 with `seed`), so the result is the same
 * bit for bit for the same inputs and seed. Empty a or b, or
 * iterations == 0: lo = hi = NAN. */
typedef struct ana_stats_interval {
    double lo, hi;
} ana_stats_interval;

ana_stats_interval ana_stats_bootstrap_median_diff(const double *a, size_t na,
                                                   const double *b, size_t nb,
                                                   unsigned iterations,
                                                   uint64_t seed);

/* The same resamples, for the relative change (median(b) - median(a)) /
 * |median(a)| of each: the interval of a relative change itself, which
 * for values that cannot be negative never goes below -100 %, as the
 * difference over the observed |median(a)| does when a resample's
 * median(a) is far from the observed one. Resamples whose median(a) is
 * 0 are left out; none left: lo = hi = NAN. */
ana_stats_interval ana_stats_bootstrap_median_change(const double *a,
                                                     size_t na,
                                                     const double *b,
                                                     size_t nb,
                                                     unsigned iterations,
                                                     uint64_t seed);

/* Counts of rare events (wrong removals over node-hours).
 *
 * Exact two-sided binomial test of k successes in n trials of
 * probability prob: min(1, 2 min(P(X <= k), P(X >= k))), X ~ Bin(n, prob)
 * (the regularized incomplete beta function gives both tails). n == 0
 * gives 1; k > n, or prob outside [0, 1], is rejected (NAN). With two
 * Poisson counts k_a over exposure e_a and k_b over e_b, the test of
 * equal rates is this one on k_b of k_a + k_b at prob e_b / (e_a + e_b)
 * (conditional on the total: exact whatever the rate). */
double ana_stats_binomial_p(uint64_t k, uint64_t n, double prob);

/* One-sided upper confidence bound, at `level` in (0, 1), for the mean of
 * a Poisson count observed as k: the lambda with P(X <= k; lambda) =
 * 1 - level (Garwood's exact bound; -ln(1 - level), 3.0 at 95%, for
 * k = 0: "the rule of three"). Found by bisection on the Poisson CDF up to
 * k = 10^5, by the Wilson-Hilferty approximation of the chi-square
 * quantile above (relative error below 1e-4 there). */
double ana_stats_poisson_upper(uint64_t k, double level);

G_END_DECLS

#endif /* ANA_STATS_H */
