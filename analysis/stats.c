/* stats.c: the statistics behind comparisons (stats.h). */
#include "stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Exact permutation p-values of Mann-Whitney up to this many values in
 * all (the counts stay below 2^53, C(40, 20) < 1.4e11). */
#define MWU_EXACT_MAX 40

/* Above this many degrees of freedom the t quantile is the Cornish-Fisher
 * expansion, whose next term is O(df^-5): the incomplete beta's continued
 * fraction needs O(sqrt(df)) terms and loses digits there. */
#define T_SERIES_DF 1e5

static bool has_nan(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return true;
    return false;
}

/* A usable array: NULL only when empty, and no NaN. */
static bool valid_array(const double *x, size_t n)
{
    return (x != NULL || n == 0) && !has_nan(x, n);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* A sorted copy of x, owned by the caller (g_free). */
static double *sorted_copy(const double *x, size_t n)
{
    double *s = g_new(double, n);
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

/* Type 7 percentile of the n >= 1 sorted values s. */
static double percentile_sorted(const double *s, size_t n, double p)
{
    double h = (double)(n - 1) * p / 100.0;
    double fl = floor(h);
    size_t lo = (size_t)fl;
    if (lo + 1 >= n)
        return s[n - 1];
    double frac = h - fl;
    /* Equal neighbours stay exact (and infinite ones do not become NaN). */
    if (frac == 0.0 || s[lo] == s[lo + 1])
        return s[lo];
    return s[lo] + frac * (s[lo + 1] - s[lo]);
}

double ana_stats_mean(const double *x, size_t n)
{
    g_return_val_if_fail(valid_array(x, n), NAN);
    if (n == 0)
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    /* One correction pass: the mean of the residuals. */
    if (isfinite(mean)) {
        double r = 0.0;
        for (size_t i = 0; i < n; i++)
            r += x[i] - mean;
        mean += r / (double)n;
    }
    return mean;
}

double ana_stats_sd(const double *x, size_t n)
{
    g_return_val_if_fail(valid_array(x, n), NAN);
    if (n == 0)
        return NAN;
    if (n == 1)
        return 0.0;
    double mean = ana_stats_mean(x, n);
    /* Two-pass, with the rounding error of the mean taken out. */
    double ss = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mean;
        ss += d * d;
        r += d;
    }
    double var = (ss - r * r / (double)n) / (double)(n - 1);
    return var < 0.0 ? 0.0 : sqrt(var); /* NaN (from infinities) stays */
}

double ana_stats_percentile(const double *x, size_t n, double p)
{
    g_return_val_if_fail(valid_array(x, n), NAN);
    g_return_val_if_fail(p >= 0.0 && p <= 100.0, NAN);
    if (n == 0)
        return NAN;
    double *s = sorted_copy(x, n);
    double v = percentile_sorted(s, n, p);
    g_free(s);
    return v;
}

double ana_stats_median(const double *x, size_t n)
{
    return ana_stats_percentile(x, n, 50.0);
}

/* ------------------------------------------------------------------ */
/* Normal and Student's t distributions.                                */

double ana_stats_normal_cdf(double z)
{
    g_return_val_if_fail(!isnan(z), NAN);
    return 0.5 * erfc(-z / M_SQRT2);
}

double ana_stats_normal_p_two_sided(double z)
{
    g_return_val_if_fail(!isnan(z), NAN);
    double p = erfc(fabs(z) / M_SQRT2);
    return p > 1.0 ? 1.0 : p;
}

/* The z > 0 with P(Z > z) = q, for 0 < q <= 0.5: model.h's quantile,
 * which works from q itself, so a tiny q keeps its digits. */
static double normal_upper_quantile(double q)
{
    return q >= 0.5 ? 0.0 : -model_normal_quantile(q);
}

double ana_stats_normal_quantile(double p)
{
    g_return_val_if_fail(p >= 0.0 && p <= 1.0, NAN);
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    return p < 0.5 ? -normal_upper_quantile(p) : normal_upper_quantile(1.0 - p);
}

/* Continued fraction of the regularized incomplete beta function
 * (modified Lentz), valid for x < (a + 1) / (a + b + 2); y = 1 - x. */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16)
            break;
    }
    return h;
}

/* ln(Gamma(a + 1/2) / Gamma(a)). For large a the difference of two lgamma
 * values loses about log10(a ln a) digits, so it comes from the difference
 * of their Stirling series instead:
 *   a ln(1 + 1/(2a)) - 1/2 + ln(a) / 2 + S(a + 1/2) - S(a),
 *   S(x) = 1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7),
 * whose truncation error at a >= 10 is below 1e-16. */
static double lgamma_half_ratio(double a)
{
    if (a < 10.0)
        return lgamma(a + 0.5) - lgamma(a);
    double h = a + 0.5;
    double ia = 1.0 / a, ih = 1.0 / h;
    double ia2 = ia * ia, ih2 = ih * ih;
    double sa = ia * (1.0 / 12 - ia2 * (1.0 / 360 - ia2 * (1.0 / 1260 -
                                                           ia2 / 1680)));
    double sh = ih * (1.0 / 12 - ih2 * (1.0 / 360 - ih2 * (1.0 / 1260 -
                                                           ih2 / 1680)));
    return (a * log1p(0.5 * ia) - 0.5) + 0.5 * log(a) + (sh - sa);
}

/* ln(1 / B(a, b)) = ln Gamma(a + b) - ln Gamma(a) - ln Gamma(b). */
static double log_inv_beta(double a, double b)
{
    if (b == 0.5)
        return lgamma_half_ratio(a) - 0.5 * log(M_PI);
    if (a == 0.5)
        return lgamma_half_ratio(b) - 0.5 * log(M_PI);
    return lgamma(a + b) - lgamma(a) - lgamma(b);
}

/* I_x(a, b), from x and y = 1 - x and their logarithms, so that x close
 * to 1 (or too small to represent) keeps its digits. */
static double beta_inc(double a, double b, double x, double y, double log_x,
                       double log_y)
{
    if (x <= 0.0 && isinf(log_x))
        return 0.0;
    if (y <= 0.0 && isinf(log_y))
        return 1.0;
    double front = exp(log_inv_beta(a, b) + a * log_x + b * log_y);
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * beta_cf(a, b, x) / a;
    return 1.0 - front * beta_cf(b, a, y) / b;
}

/* ln(1 + s^2), also where s^2 overflows. */
static double log1p_sq(double s)
{
    return s > 1e150 ? 2.0 * log(s) : log1p(s * s);
}

/* P(T > t) for t >= 0: I_x(df/2, 1/2) / 2 with x = df / (df + t^2)
 * = 1 / (1 + s^2), s = t / sqrt(df). */
static double t_upper(double t, double df)
{
    if (isinf(t))
        return 0.0;
    double s = t / sqrt(df);
    double log_x = -log1p_sq(s);
    double x = exp(log_x);
    double y, log_y;
    if (s > 1e150) {
        y = 1.0;
        log_y = -x; /* ln(1 - x), x below 1e-300 */
    } else {
        y = s * s / (1.0 + s * s);
        log_y = log(y);
    }
    return 0.5 * beta_inc(0.5 * df, 0.5, x, y, log_x, log_y);
}

static double t_pdf(double t, double df)
{
    return exp(lgamma_half_ratio(0.5 * df) - 0.5 * log(df * M_PI) -
               0.5 * (df + 1.0) * log1p_sq(t / sqrt(df)));
}

double ana_stats_t_cdf(double t, double df)
{
    g_return_val_if_fail(!isnan(t) && df >= 1.0, NAN);
    if (isinf(df))
        return ana_stats_normal_cdf(t);
    double upper = t_upper(fabs(t), df);
    return t >= 0.0 ? 1.0 - upper : upper;
}

/* Cornish-Fisher expansion of t in z (Abramowitz and Stegun 26.7.5). */
static double t_series(double z, double df)
{
    double z2 = z * z;
    double g1 = (z2 + 1.0) * z / 4.0;
    double g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    double g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    double g4 =
        ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) *
        z / 92160.0;
    return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
}

/* The t > 0 with P(T > t) = q, for 0 < q < 0.5. */
static double t_upper_quantile(double q, double df)
{
    if (df == 1.0) /* Cauchy: P(T > t) = atan(1/t) / pi */
        return 1.0 / tan(M_PI * q);
    if (df == 2.0) /* P(T > t) = (1 - t / sqrt(2 + t^2)) / 2 */
        return sqrt(2.0) * (1.0 - 2.0 * q) / sqrt(4.0 * q * (1.0 - q));
    double z = normal_upper_quantile(q);
    if (df > T_SERIES_DF)
        return t_series(z, df);

    /* Bracket the root: P(T > t) falls from 1/2 at t = 0. */
    double lo = 0.0, hi = 1.0;
    while (t_upper(hi, df) > q) {
        lo = hi;
        hi *= 2.0;
        if (isinf(hi))
            return hi;
    }
    double t = t_series(z, df);
    if (!(t > lo && t < hi))
        t = 0.5 * (lo + hi);
    for (int i = 0; i < 400; i++) {
        double tail = t_upper(t, df);
        if (tail > q)
            lo = t;
        else if (tail < q)
            hi = t;
        else
            break;
        /* Newton on P(T > t) - q, whose derivative is -pdf(t); a step
         * leaving the bracket becomes a bisection. */
        double next = t + (tail - q) / t_pdf(t, df);
        if (!(next > lo && next < hi))
            next = 0.5 * (lo + hi);
        if (fabs(next - t) <= 4.0 * DBL_EPSILON * next ||
            hi - lo <= 4.0 * DBL_EPSILON * hi) {
            t = next;
            break;
        }
        t = next;
    }
    return t;
}

double ana_stats_t_quantile(double p, double df)
{
    g_return_val_if_fail(p >= 0.0 && p <= 1.0, NAN);
    g_return_val_if_fail(df >= 1.0, NAN);
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    if (p == 0.5)
        return 0.0;
    if (isinf(df))
        return ana_stats_normal_quantile(p);
    return p < 0.5 ? -t_upper_quantile(p, df)
                   : t_upper_quantile(1.0 - p, df);
}

ana_stats_ci ana_stats_mean_ci95(const double *x, size_t n)
{
    ana_stats_ci ci = { NAN, NAN, NAN, n };
    g_return_val_if_fail(valid_array(x, n), ci);
    if (n == 0)
        return ci;
    ci.mean = ci.lo = ci.hi = ana_stats_mean(x, n);
    if (n == 1)
        return ci;
    double half = ana_stats_t_quantile(0.975, (double)(n - 1)) *
                  ana_stats_sd(x, n) / sqrt((double)n);
    ci.lo = ci.mean - half;
    ci.hi = ci.mean + half;
    return ci;
}

/* P(B = i) for B ~ Binomial(n, 1/2), in logs so that large n neither
 * overflows the binomial coefficient nor underflows 2^-n. */
static double binomial_half_pmf(size_t n, size_t i)
{
    return exp(lgamma((double)n + 1) - lgamma((double)i + 1) -
               lgamma((double)(n - i) + 1) - (double)n * G_LN2);
}

ana_stats_median_interval ana_stats_median_ci(const double *x, size_t n,
                                        double level)
{
    ana_stats_median_interval ci = { NAN, NAN, NAN, n };
    g_return_val_if_fail(valid_array(x, n), ci);
    g_return_val_if_fail(level > 0.0 && level < 1.0, ci);
    if (n == 0)
        return ci;
    double *s = sorted_copy(x, n);
    /* k - 1 values below the interval and k - 1 above it, each tail with
     * probability P(B <= k - 1); k grows while the next tail still fits
     * in (1 - level) / 2, and never past the middle. */
    double tail_max = (1.0 - level) / 2.0;
    double tail = binomial_half_pmf(n, 0); /* P(B <= k - 1) at k = 1 */
    size_t k = 1;
    for (;;) {
        if (k + 1 > n + 1 - (k + 1))
            break;
        double next = tail + binomial_half_pmf(n, k);
        if (next > tail_max)
            break;
        tail = next;
        k++;
    }
    ci.lo = s[k - 1];
    ci.hi = s[n - k];
    ci.level = 1.0 - 2.0 * tail;
    g_free(s);
    return ci;
}

/* ------------------------------------------------------------------ */
/* Mann-Whitney U.                                                      */

typedef struct labelled {
    double v;
    bool from_a;
} labelled;

static int cmp_labelled(const void *pa, const void *pb)
{
    const labelled *a = pa, *b = pb;
    return (a->v > b->v) - (a->v < b->v);
}

/* P(U <= u) under the null for m values of a and n of b, where U counts
 * the pairs with a > b. c(i, j, k) = the number of orders of i a's and j
 * b's with U = k; the largest value is an a, which beats all j b's, or a
 * b: c(i, j, k) = c(i - 1, j, k - j) + c(i, j - 1, k). Rows over i are
 * kept two at a time. */
static double mwu_exact_cdf(size_t m, size_t n, size_t u)
{
    size_t width = m * n + 1;
    double *prev = g_new0(double, (n + 1) * width);
    double *cur = g_new0(double, (n + 1) * width);
    for (size_t j = 0; j <= n; j++)
        prev[j * width] = 1.0; /* i = 0: only U = 0 */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * width * sizeof *cur);
        cur[0] = 1.0; /* j = 0: only U = 0 */
        for (size_t j = 1; j <= n; j++) {
            double *row = cur + j * width;
            const double *left = cur + (j - 1) * width;
            const double *up = prev + j * width;
            for (size_t k = 0; k <= i * j; k++)
                row[k] = left[k] + (k >= j ? up[k - j] : 0.0);
        }
        double *swap = prev;
        prev = cur;
        cur = swap;
    }
    const double *dist = prev + n * width;
    double below = 0.0, total = 0.0;
    for (size_t k = 0; k < width; k++) {
        total += dist[k];
        if (k <= u)
            below += dist[k];
    }
    g_free(prev);
    g_free(cur);
    return below / total;
}

ana_stats_mwu ana_stats_mann_whitney(const double *a, size_t na,
                                     const double *b, size_t nb)
{
    ana_stats_mwu r = { .u = 0.0, .z = 0.0, .p = 1.0, .effect = NAN,
                        .exact = false };
    ana_stats_mwu bad = { NAN, NAN, NAN, NAN, false };
    g_return_val_if_fail(valid_array(a, na), bad);
    g_return_val_if_fail(valid_array(b, nb), bad);
    if (na == 0 || nb == 0)
        return r;

    size_t n = na + nb;
    labelled *all = g_new(labelled, n);
    for (size_t i = 0; i < na; i++)
        all[i] = (labelled){ a[i], true };
    for (size_t j = 0; j < nb; j++)
        all[na + j] = (labelled){ b[j], false };
    qsort(all, n, sizeof *all, cmp_labelled);

    /* Rank sum of a with midranks; tie groups for the variance. */
    double rank_sum_a = 0.0, tie_term = 0.0;
    bool ties = false;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && all[j].v == all[i].v)
            j++;
        double t = (double)(j - i);
        double midrank = 0.5 * ((double)(i + 1) + (double)j);
        for (size_t k = i; k < j; k++)
            if (all[k].from_a)
                rank_sum_a += midrank;
        if (j - i > 1) {
            ties = true;
            tie_term += t * t * t - t;
        }
        i = j;
    }
    g_free(all);

    double dna = (double)na, dnb = (double)nb, dn = (double)n;
    r.u = rank_sum_a - dna * (dna + 1.0) / 2.0;
    r.effect = r.u / (dna * dnb);

    double mu = dna * dnb / 2.0;
    double var = dna * dnb / 12.0 * ((dn + 1.0) - tie_term / (dn * (dn - 1.0)));
    double d = r.u - mu;
    double corr = d > 0.0 ? 0.5 : (d < 0.0 ? -0.5 : 0.0);
    r.z = var > 0.0 ? (d - corr) / sqrt(var) : 0.0;

    if (n <= MWU_EXACT_MAX && !ties) {
        /* Without ties u is an integer. */
        size_t u = (size_t)r.u;
        double p = r.u > mu ? 1.0 - mwu_exact_cdf(na, nb, u - 1)
                            : mwu_exact_cdf(na, nb, u);
        r.p = fmin(1.0, 2.0 * p);
        r.exact = true;
    } else {
        r.p = ana_stats_normal_p_two_sided(r.z);
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* Bootstrap.                                                           */

/* Median of a resample of x into scratch (n values), drawn from model.h's
 * stream. */
static double resample_median(model_stream *r, const double *x, size_t n,
                              double *scratch)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = x[model_stream_below(r, n)];
    qsort(scratch, n, sizeof *scratch, cmp_double);
    return percentile_sorted(scratch, n, 50.0);
}

/* The percentile interval of median(b*) - median(a*) over resamples,
 * or of (median(b*) - median(a*)) / |median(a*)| when `relative` (a
 * resample whose median(a*) is 0 has no relative change and is left
 * out). */
static ana_stats_interval bootstrap_medians(const double *a, size_t na,
                                            const double *b, size_t nb,
                                            unsigned iterations,
                                            uint64_t seed, bool relative)
{
    ana_stats_interval ci = { NAN, NAN };
    g_return_val_if_fail(valid_array(a, na), ci);
    g_return_val_if_fail(valid_array(b, nb), ci);
    if (na == 0 || nb == 0 || iterations == 0)
        return ci;

    model_stream rng;
    model_stream_seed(&rng, seed);
    double *scratch = g_new(double, na > nb ? na : nb);
    double *diffs = g_new(double, iterations);
    unsigned n = 0;
    for (unsigned i = 0; i < iterations; i++) {
        double ma = resample_median(&rng, a, na, scratch);
        double mb = resample_median(&rng, b, nb, scratch);
        if (!relative)
            diffs[n++] = mb - ma;
        else if (ma != 0)
            diffs[n++] = (mb - ma) / fabs(ma);
    }
    if (n > 0) {
        qsort(diffs, n, sizeof *diffs, cmp_double);
        ci.lo = percentile_sorted(diffs, n, 2.5);
        ci.hi = percentile_sorted(diffs, n, 97.5);
    }
    g_free(diffs);
    g_free(scratch);
    return ci;
}

ana_stats_interval ana_stats_bootstrap_median_diff(const double *a, size_t na,
                                                   const double *b, size_t nb,
                                                   unsigned iterations,
                                                   uint64_t seed)
{
    return bootstrap_medians(a, na, b, nb, iterations, seed, false);
}

ana_stats_interval ana_stats_bootstrap_median_change(const double *a,
                                                     size_t na,
                                                     const double *b,
                                                     size_t nb,
                                                     unsigned iterations,
                                                     uint64_t seed)
{
    return bootstrap_medians(a, na, b, nb, iterations, seed, true);
}

/* ------------------------------------------------------------------ */
/* Counts.                                                              */

/* Both tails of Bin(n, prob), each straight from the incomplete beta
 * function (never as 1 minus the other, which loses a small tail):
 * P(X <= k) = I_{1 - prob}(n - k, k + 1) for k < n,
 * P(X >= k) = I_{prob}(k, n - k + 1) for k > 0. */
static double binomial_lower(uint64_t k, uint64_t n, double prob)
{
    return beta_inc((double)(n - k), (double)k + 1.0, 1.0 - prob, prob,
                    log1p(-prob), log(prob));
}

static double binomial_upper(uint64_t k, uint64_t n, double prob)
{
    return beta_inc((double)k, (double)(n - k) + 1.0, prob, 1.0 - prob,
                    log(prob), log1p(-prob));
}

double ana_stats_binomial_p(uint64_t k, uint64_t n, double prob)
{
    g_return_val_if_fail(k <= n && prob >= 0.0 && prob <= 1.0, NAN);
    if (n == 0)
        return 1.0;
    double lower, upper; /* P(X <= k), P(X >= k) */
    if (prob == 0.0 || prob == 1.0) {
        uint64_t sure = prob == 0.0 ? 0 : n;
        lower = k >= sure ? 1.0 : 0.0;
        upper = k <= sure ? 1.0 : 0.0;
    } else {
        lower = k == n ? 1.0 : binomial_lower(k, n, prob);
        upper = k == 0 ? 1.0 : binomial_upper(k, n, prob);
    }
    double p = 2.0 * MIN(lower, upper);
    return p > 1.0 ? 1.0 : p;
}

/* P(X <= k) for X ~ Poisson(lambda), summed in logs from the mode down
 * and up so no term overflows. */
static double poisson_cdf(uint64_t k, double lambda)
{
    if (lambda <= 0.0)
        return 1.0;
    double log_l = log(lambda), sum = 0.0;
    for (uint64_t i = 0; i <= k; i++)
        sum += exp((double)i * log_l - lambda - lgamma((double)i + 1.0));
    return sum > 1.0 ? 1.0 : sum;
}

#define POISSON_EXACT_MAX 100000

double ana_stats_poisson_upper(uint64_t k, double level)
{
    g_return_val_if_fail(level > 0.0 && level < 1.0, NAN);
    double alpha = 1.0 - level;
    if (k == 0)
        return -log(alpha);
    if (k > POISSON_EXACT_MAX) {
        /* lambda = chi2_{level}(2k + 2) / 2, Wilson-Hilferty. */
        double nu = 2.0 * (double)k + 2.0;
        double z = ana_stats_normal_quantile(level);
        double c = 1.0 - 2.0 / (9.0 * nu) + z * sqrt(2.0 / (9.0 * nu));
        return nu * c * c * c / 2.0;
    }
    /* P(X <= k; lambda) falls from 1 as lambda grows: the bound lies
     * between k and k + 10 sqrt(k) + 10. */
    double lo = (double)k, hi = (double)k + 10.0 * sqrt((double)k) + 10.0;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (poisson_cdf(k, mid) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}
