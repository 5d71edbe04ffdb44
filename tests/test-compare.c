/* test-compare.c: the regression gate's verdicts (analysis/compare.h) and
 * the report's summaries (analysis/report.h), on samples worked by hand. */
#include <criterion/criterion.h>
#include <math.h>

#include "compare.h"
#include "report.h"
#include "stats.h"

#define ALPHA 0.05
#define TOL 0.05

Test(compare, min_p_is_two_over_the_number_of_arrangements)
{
    /* C(10, 5) = 252 -> 2/252; C(6, 3) = 20 -> 0.1; C(2, 1) = 2 -> 1. */
    cr_assert_float_eq(ana_compare_min_p(5, 5), 2.0 / 252.0, 1e-15);
    cr_assert_float_eq(ana_compare_min_p(3, 3), 0.1, 1e-15);
    cr_assert_float_eq(ana_compare_min_p(1, 1), 1.0, 1e-15);
    cr_assert_float_eq(ana_compare_min_p(0, 7), 1.0, 1e-15);
}

Test(compare, identical_samples_are_the_same)
{
    double a[] = {10, 11, 12, 13, 14};
    ana_comparison c = ana_compare_values(a, 5, a, 5, TOL, ALPHA, 1);
    cr_assert_eq(c.verdict, ANA_VERDICT_SAME);
    cr_assert_float_eq(c.change, 0.0, 1e-15);
    cr_assert_float_eq(c.base, 12.0, 1e-15);
    cr_assert_float_eq(c.p, 1.0, 1e-12);
    cr_assert(c.testable);
}

Test(compare, separated_higher_sample_is_a_regression)
{
    /* Medians 12 and 24: change +100%. Complete separation of 5 and 5:
     * exact p = 2/252 = 0.0079 < 0.05. */
    double base[] = {10, 11, 12, 13, 14};
    double worse[] = {22, 23, 24, 25, 26};
    ana_comparison c = ana_compare_values(base, 5, worse, 5, TOL, ALPHA, 1);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    cr_assert_float_eq(c.change, 1.0, 1e-15);
    cr_assert_float_eq(c.p, 2.0 / 252.0, 1e-12);
    cr_assert(c.change_lo > 0 && c.change_hi >= c.change_lo);
}

Test(compare, separated_lower_sample_is_better)
{
    double base[] = {22, 23, 24, 25, 26};
    double better[] = {10, 11, 12, 13, 14};
    ana_comparison c = ana_compare_values(base, 5, better, 5, TOL, ALPHA, 1);
    cr_assert_eq(c.verdict, ANA_VERDICT_BETTER);
    /* (12 - 24) / 24 = -0.5 */
    cr_assert_float_eq(c.change, -0.5, 1e-15);
}

Test(compare, change_within_tolerance_is_the_same_even_if_significant)
{
    /* Medians 100 and 103: +3%, under 5%, though fully separated. */
    double base[] = {99.0, 99.5, 100.0, 100.2, 100.4};
    double next[] = {102.6, 102.8, 103.0, 103.2, 103.4};
    ana_comparison c = ana_compare_values(base, 5, next, 5, TOL, ALPHA, 1);
    cr_assert(c.p < ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_SAME);
}

Test(compare, large_change_without_significance_is_inconclusive)
{
    /* Overlapping samples of 5: medians 12 and 14 (+16.7%), but the
     * ranks mix: U of base = 7 of 25, p well above 0.05. */
    double base[] = {5, 10, 12, 20, 30};
    double next[] = {4, 11, 14, 25, 35};
    ana_comparison c = ana_compare_values(base, 5, next, 5, TOL, ALPHA, 1);
    cr_assert(c.p > ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_INCONCLUSIVE);
}

Test(compare, too_few_runs_decide_by_tolerance)
{
    /* One run a side: the smallest p is 1, no test can reject, so a
     * change beyond the tolerance counts as it is. */
    double base[] = {100};
    double worse[] = {120};
    double same[] = {102};
    ana_comparison c = ana_compare_values(base, 1, worse, 1, TOL, ALPHA, 1);
    cr_assert(!c.testable);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    c = ana_compare_values(base, 1, same, 1, TOL, ALPHA, 1);
    cr_assert_eq(c.verdict, ANA_VERDICT_SAME);
}

Test(compare, never_is_worse_than_any_time)
{
    double base[] = {1, 2, 3, 4, 5};
    double never[] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
    ana_comparison c = ana_compare_values(base, 5, never, 5, TOL, ALPHA, 1);
    cr_assert(isinf(c.change) && c.change > 0);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    c = ana_compare_values(never, 5, never, 5, TOL, ALPHA, 1);
    cr_assert_eq(c.verdict, ANA_VERDICT_SAME);
}

Test(compare, nan_values_are_left_out_and_empty_is_no_data)
{
    double base[] = {NAN, 10, 11, NAN, 12};
    double none[] = {NAN, NAN};
    ana_comparison c = ana_compare_values(base, 5, base, 5, TOL, ALPHA, 1);
    cr_assert_eq(c.n_base, 3);
    cr_assert_float_eq(c.base, 11.0, 1e-15);
    c = ana_compare_values(base, 5, none, 2, TOL, ALPHA, 1);
    cr_assert_eq(c.verdict, ANA_VERDICT_NO_DATA);
}

Test(compare, bootstrap_interval_is_reproducible)
{
    double base[] = {10, 12, 11, 13, 9, 10.5};
    double next[] = {11, 14, 12, 15, 10, 13};
    ana_comparison a = ana_compare_values(base, 6, next, 6, TOL, ALPHA, 42);
    ana_comparison b = ana_compare_values(base, 6, next, 6, TOL, ALPHA, 42);
    cr_assert(a.change_lo == b.change_lo && a.change_hi == b.change_hi);
    cr_assert(a.change_lo <= a.change && a.change <= a.change_hi);
}

Test(report, summary_of_finite_values)
{
    /* 1, 2, 3, 4, 5: mean 3, median 3; five values put the median's
     * interval at [min, max], covering 1 - 2/32. */
    double v[] = {3, 1, 4, 5, 2};
    ana_metric_summary s = ana_metric_summarize(v, 5);
    cr_assert_eq(s.n, 5);
    cr_assert_eq(s.never, 0);
    cr_assert_float_eq(s.mean, 3.0, 1e-12);
    cr_assert_float_eq(s.median, 3.0, 1e-12);
    cr_assert(s.median_lo == 1.0 && s.median_hi == 5.0);
    cr_assert_float_eq(s.median_level, 0.9375, 1e-12);
    cr_assert_float_eq(s.min, 1.0, 1e-12);
    cr_assert_float_eq(s.max, 5.0, 1e-12);
}

Test(report, interval_of_skewed_times_stays_within_them)
{
    /* Five times, one far out (seconds): mean 0.92, sd 1.43; mean +- t sd
     * / sqrt(n) would run from -0.85 to 2.70, a negative time. */
    double v[] = {0.30, 0.25, 3.50, 0.20, 0.35};
    ana_metric_summary s = ana_metric_summarize(v, 5);
    cr_assert(s.median_lo >= s.min && s.median_hi <= s.max,
              "[%g, %g]", s.median_lo, s.median_hi);
    cr_assert(s.median_lo > 0);
    /* Ten such runs: a 95% interval inside the data. */
    double w[] = {0.30, 0.25, 3.50, 0.20, 0.35, 0.28, 0.31, 0.22, 2.9, 0.33};
    s = ana_metric_summarize(w, 10);
    cr_assert(s.median_lo == 0.22 && s.median_hi == 2.9,
              "[%g, %g]", s.median_lo, s.median_hi);
    cr_assert_geq(s.median_level, 0.95);
}

Test(report, interval_with_never_may_end_at_never)
{
    /* Six runs, two never: the interval of the median is [min, max],
     * and max is never. */
    double v[] = {1, INFINITY, 2, 3, INFINITY, 4};
    ana_metric_summary s = ana_metric_summarize(v, 6);
    cr_assert(s.median_lo == 1 && isinf(s.median_hi));
}

Test(report, summary_with_never_has_no_mean)
{
    /* Two of four never came: the mean is "never", the median is the mean
     * of 2 and INFINITY, i.e. never, and NAN is left out. */
    double v[] = {1, INFINITY, 2, NAN, INFINITY};
    ana_metric_summary s = ana_metric_summarize(v, 5);
    cr_assert_eq(s.n, 4);
    cr_assert_eq(s.never, 2);
    cr_assert(isinf(s.mean));
    cr_assert(isinf(s.median));
    cr_assert_float_eq(s.min, 1.0, 1e-12);
    cr_assert(isinf(s.max));
}

Test(report, summary_of_nothing)
{
    double v[] = {NAN};
    ana_metric_summary s = ana_metric_summarize(v, 1);
    cr_assert_eq(s.n, 0);
    cr_assert(isnan(s.mean) && isnan(s.median) && isnan(s.min));
}

/* ------------------------------------------------------------------ */
/* Counts of rare events: wrong removals over node-hours.               */

/* Five runs a side of one node-hour each. Not one wrong removal in the
 * base, one in a single new run: the median of the new runs is still 0,
 * yet it is a regression, by the zero rule, whatever the test says. */
Test(compare, counts_from_zero_to_any_are_a_regression)
{
    double base[] = {0, 0, 0, 0, 0}, more[] = {0, 0, 1, 0, 0};
    double hours[] = {1, 1, 1, 1, 1};
    ana_comparison c = ana_compare_counts(base, hours, 5, more, hours, 5,
                                          TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    cr_assert(c.zero_rule);
    cr_assert_float_eq(c.base, 0.0, 1e-15);
    cr_assert_float_eq(c.new_, 0.2, 1e-15);
    cr_assert_float_eq(c.base_events, 0.0, 1e-15);
    cr_assert_float_eq(c.new_events, 1.0, 1e-15);
    cr_assert_float_eq(c.new_exposure, 5.0, 1e-15);
    cr_assert(isinf(c.change) && c.change > 0);
    /* 1 of 1 event on the new side, at even odds: p = 1. */
    cr_assert_float_eq(c.p, 1.0, 1e-12);
    /* Even one run a side. */
    double one_base = 0, one_new = 3, h = 0.5;
    c = ana_compare_counts(&one_base, &h, 1, &one_new, &h, 1, TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    cr_assert(c.zero_rule);
}

Test(compare, counts_both_zero_are_the_same)
{
    double zero[] = {0, 0, 0}, hours[] = {2, 3, 4};
    ana_comparison c = ana_compare_counts(zero, hours, 3, zero, hours, 3,
                                          TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_SAME);
    cr_assert_not(c.zero_rule);
    cr_assert_float_eq(c.change, 0.0, 1e-15);
}

/* With events on both sides the exact conditional test decides: 10 in 10
 * hours against 40 in 10 hours is 40 of 50 at even odds, p = 2 P(X >= 40)
 * for X ~ Bin(50, 1/2), about 2.4e-5; 10 against 12 is within chance. */
Test(compare, counts_with_a_base_rate_are_tested)
{
    double hours[] = {5, 5};
    double base[] = {4, 6}, worse[] = {25, 15}, close[] = {5, 7};
    ana_comparison c = ana_compare_counts(base, hours, 2, worse, hours, 2,
                                          TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    cr_assert_not(c.zero_rule);
    cr_assert(c.testable);
    cr_assert_float_eq(c.change, 3.0, 1e-12);
    cr_assert_float_eq(c.p, ana_stats_binomial_p(40, 50, 0.5), 1e-15);
    cr_assert(c.p < 1e-4 && c.p > 1e-5, "p %g", c.p);
    c = ana_compare_counts(base, hours, 2, close, hours, 2, TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_INCONCLUSIVE);
    cr_assert(c.p > 0.5);
    /* The other way round: fewer is better. */
    c = ana_compare_counts(worse, hours, 2, base, hours, 2, TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_BETTER);
    cr_assert_float_eq(c.change, -0.75, 1e-12);
}

/* Unequal exposure: the same rate is the same, whatever the counts. */
Test(compare, counts_are_rates_over_their_exposure)
{
    double b[] = {3}, bh[] = {1}, n[] = {30}, nh[] = {10};
    ana_comparison c = ana_compare_counts(b, bh, 1, n, nh, 1, TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_SAME);
    cr_assert_float_eq(c.change, 0.0, 1e-12);
}

/* Runs without an exposure (no ground truth, or a zero-length run) are
 * left out; a side left with none has no data. */
Test(compare, counts_without_exposure_are_no_data)
{
    double counts[] = {1, 2}, none[] = {0, NAN}, hours[] = {1, 1};
    ana_comparison c = ana_compare_counts(counts, none, 2, counts, hours, 2,
                                          TOL, ALPHA);
    cr_assert_eq(c.verdict, ANA_VERDICT_NO_DATA);
    cr_assert_eq(c.n_base, 0);
    cr_assert_eq(c.n_new, 2);
}

/* Three events against one at even odds: the most extreme split of four
 * has p = 2/16, above alpha, so the test cannot decide and the tolerance
 * does, as for samples too small to test. */
Test(compare, few_counts_are_judged_by_tolerance)
{
    double b[] = {1}, n[] = {3}, h[] = {1};
    ana_comparison c = ana_compare_counts(b, h, 1, n, h, 1, TOL, ALPHA);
    cr_assert_not(c.testable);
    cr_assert_eq(c.verdict, ANA_VERDICT_REGRESSION);
    cr_assert_not(c.zero_rule);
}
