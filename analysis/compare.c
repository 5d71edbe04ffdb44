/* compare.c: one metric, two samples, one verdict (compare.h). */
#include "compare.h"

#include <math.h>

#include "stats.h"

const char *ana_verdict_name(ana_verdict verdict)
{
    switch (verdict) {
    case ANA_VERDICT_NO_DATA:
        return "no data";
    case ANA_VERDICT_SAME:
        return "same";
    case ANA_VERDICT_INCONCLUSIVE:
        return "inconclusive";
    case ANA_VERDICT_BETTER:
        return "better";
    case ANA_VERDICT_REGRESSION:
        return "REGRESSION";
    }
    return "?";
}

double ana_compare_min_p(size_t a, size_t b)
{
    if (a == 0 || b == 0)
        return 1;
    /* C(a + b, a) as a double; it only needs to be compared with 2/alpha,
     * so overflow to infinity (huge samples) is harmless. */
    double c = 1;
    for (size_t i = 1; i <= a; i++)
        c = c * (double)(b + i) / (double)i;
    return MIN(1.0, 2.0 / c);
}

/* The values that are not NAN, in order. */
static size_t pack(const double *in, size_t n, double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(in[i]))
            out[k++] = in[i];
    return k;
}

/* Relative change from a to b. Equal values (infinities included) are no
 * change; from 0 any growth is infinite. */
static double relative(double a, double b)
{
    if (a == b)
        return 0;
    if (isinf(a) || isinf(b))
        return isinf(b) && b > 0 ? INFINITY : -INFINITY;
    if (a == 0)
        return b > 0 ? INFINITY : -INFINITY;
    return (b - a) / fabs(a);
}

static bool all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

ana_comparison ana_compare_values(const double *base, size_t n_base,
                                  const double *new_values, size_t n_new,
                                  double tolerance, double alpha,
                                  uint64_t seed)
{
    ana_comparison c = {.base = NAN, .new_ = NAN, .change = NAN,
                        .change_lo = NAN, .change_hi = NAN, .p = NAN};
    double *a = g_new(double, n_base ? n_base : 1);
    double *b = g_new(double, n_new ? n_new : 1);
    c.n_base = pack(base, n_base, a);
    c.n_new = pack(new_values, n_new, b);
    if (c.n_base == 0 || c.n_new == 0) {
        c.verdict = ANA_VERDICT_NO_DATA;
        goto out;
    }
    c.base = ana_stats_median(a, c.n_base);
    c.new_ = ana_stats_median(b, c.n_new);
    c.change = relative(c.base, c.new_);
    ana_stats_mwu test = ana_stats_mann_whitney(a, c.n_base, b, c.n_new);
    c.p = test.p;
    c.testable = ana_compare_min_p(c.n_base, c.n_new) <= alpha;
    if (isfinite(c.base) && c.base != 0 && all_finite(a, c.n_base) &&
        all_finite(b, c.n_new)) {
        ana_stats_interval iv = ana_stats_bootstrap_median_change(
            a, c.n_base, b, c.n_new, ANA_COMPARE_BOOTSTRAP_ITERATIONS, seed);
        c.change_lo = iv.lo;
        c.change_hi = iv.hi;
    }
    bool significant = !c.testable || c.p < alpha;
    if (fabs(c.change) <= tolerance)
        c.verdict = ANA_VERDICT_SAME;
    else if (!significant)
        c.verdict = ANA_VERDICT_INCONCLUSIVE;
    else
        c.verdict = c.change > 0 ? ANA_VERDICT_REGRESSION : ANA_VERDICT_BETTER;
out:
    g_free(a);
    g_free(b);
    return c;
}

/* Pools the (count, exposure) pairs whose exposure is positive and whose
 * count is a whole number of events; returns how many. */
static size_t pool(const double *counts, const double *exposure, size_t n,
                   double *events, double *total)
{
    size_t used = 0;
    *events = *total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(exposure[i] > 0) || !isfinite(exposure[i]) ||
            !(counts[i] >= 0) || !isfinite(counts[i]) ||
            counts[i] != floor(counts[i]))
            continue;
        *events += counts[i];
        *total += exposure[i];
        used++;
    }
    return used;
}

ana_comparison ana_compare_counts(const double *base_counts,
                                  const double *base_exposure, size_t n_base,
                                  const double *new_counts,
                                  const double *new_exposure, size_t n_new,
                                  double tolerance, double alpha)
{
    ana_comparison c = {.base = NAN, .new_ = NAN, .change = NAN,
                        .change_lo = NAN, .change_hi = NAN, .p = NAN};
    c.n_base = pool(base_counts, base_exposure, n_base, &c.base_events,
                    &c.base_exposure);
    c.n_new = pool(new_counts, new_exposure, n_new, &c.new_events,
                   &c.new_exposure);
    if (c.n_base == 0 || c.n_new == 0) {
        c.verdict = ANA_VERDICT_NO_DATA;
        return c;
    }
    c.base = c.base_events / c.base_exposure;
    c.new_ = c.new_events / c.new_exposure;
    c.change = relative(c.base, c.new_);
    /* Counts beyond 2^53 would not be whole doubles; no run gets there. */
    uint64_t kb = (uint64_t)c.base_events, kn = (uint64_t)c.new_events;
    double share = c.new_exposure / (c.base_exposure + c.new_exposure);
    c.p = ana_stats_binomial_p(kn, kb + kn, share);
    /* The most extreme outcomes: every event on one side. */
    double min_p = kb + kn == 0
                       ? 1.0
                       : 2.0 * MIN(pow(share, (double)(kb + kn)),
                                   pow(1.0 - share, (double)(kb + kn)));
    c.testable = min_p <= alpha;
    c.zero_rule = kb == 0 && kn > 0;
    bool significant = !c.testable || c.p < alpha;
    if (c.zero_rule)
        c.verdict = ANA_VERDICT_REGRESSION;
    else if (fabs(c.change) <= tolerance)
        c.verdict = ANA_VERDICT_SAME;
    else if (!significant)
        c.verdict = ANA_VERDICT_INCONCLUSIVE;
    else
        c.verdict = c.change > 0 ? ANA_VERDICT_REGRESSION : ANA_VERDICT_BETTER;
    return c;
}
