/* compare.h: did a metric get worse from one set of runs to another?
 *
 * The statistics behind `peko compare BASE.db NEW.db`, the regression
 * gate. For one metric of one configuration it takes the per-run values
 * of each side (repetitions, so distributions) and decides:
 *
 *   change    = (median(new) - median(base)) / |median(base)|
 *   test      = two-sided Mann-Whitney U on the two samples (exact for
 *               small samples without ties), at level alpha
 *   interval  = 95% percentile-bootstrap interval of median(new) -
 *               median(base), relative to |median(base)| (seeded: the
 *               same inputs give the same interval)
 *
 * Every metric is better lower. The verdict is a regression when the
 * change exceeds +tolerance and the test rejects equality; an improvement
 * symmetrically; otherwise "same" (within tolerance) or "inconclusive"
 * (beyond it, but not significant). When the samples are too small for
 * any outcome to be significant at alpha (2 / C(nb + nn, nb) > alpha, e.g.
 * one run per side), the tolerance alone decides, and the result says so.
 * Values that are INFINITY (a time that never came) rank above every
 * finite value; NAN values are left out.
 */
#ifndef ANA_COMPARE_H
#define ANA_COMPARE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

#define ANA_COMPARE_DEFAULT_TOLERANCE 0.05
#define ANA_COMPARE_DEFAULT_ALPHA 0.05
#define ANA_COMPARE_BOOTSTRAP_ITERATIONS 2000

typedef enum ana_verdict {
    ANA_VERDICT_NO_DATA = 0,   /* a side has no value */
    ANA_VERDICT_SAME,          /* within tolerance */
    ANA_VERDICT_INCONCLUSIVE,  /* beyond tolerance, not significant */
    ANA_VERDICT_BETTER,        /* significantly lower beyond tolerance */
    ANA_VERDICT_REGRESSION,    /* significantly higher beyond tolerance */
} ana_verdict;

/* "no data", "same", "inconclusive", "better", "REGRESSION". */
const char *ana_verdict_name(ana_verdict verdict);

typedef struct ana_comparison {
    size_t n_base, n_new;       /* values used (NAN left out) */
    /* Counts (ana_compare_counts) only: events and exposure pooled over
     * each side's runs; base and new_ are then the pooled rates. */
    double base_events, new_events;
    double base_exposure, new_exposure;
    bool zero_rule;             /* the base had no event and NEW has: a
                                 * regression whatever the test says */
    double base, new_;          /* medians */
    double change;              /* relative; +-INFINITY from/to never */
    double change_lo, change_hi;/* bootstrap 95% interval; NAN if none */
    double p;                   /* Mann-Whitney two-sided p-value */
    bool testable;              /* the samples can reach alpha at all */
    ana_verdict verdict;
} ana_comparison;

/* Compares one metric's values. `seed` drives the bootstrap. */
ana_comparison ana_compare_values(const double *base, size_t n_base,
                                  const double *new_values, size_t n_new,
                                  double tolerance, double alpha,
                                  uint64_t seed);

/* Compares counts of rare events over an exposure: wrong removals over
 * node-hours, one (count, exposure) per run. A median over runs is the
 * wrong statistic for those: most runs of a sound protocol count 0, so a
 * change that wrongly removes in one run of five leaves the median at 0.
 * Instead each side's counts and exposures are pooled, K events over E,
 * and
 *
 *   change  = relative change of the rate K / E (+INFINITY from 0);
 *   p       = the exact two-sided test of equal rates: conditional on
 *             K_base + K_new, K_new is Binomial(K_base + K_new,
 *             E_new / (E_base + E_new)) (stats.h);
 *   verdict = as ana_compare_values() decides from change and p, with
 *             testable meaning that the most extreme split of K_base +
 *             K_new events could reach alpha; except that a base without
 *             a single event against a NEW with any is a REGRESSION
 *             whatever the test says (zero_rule): for a count that a
 *             sound build keeps at zero, one event is a defect, not
 *             noise. Both zero: the same.
 *
 * Runs whose exposure is NAN or not positive are left out; a side with
 * none is NO_DATA. change_lo and change_hi are NAN (no interval). */
ana_comparison ana_compare_counts(const double *base_counts,
                                  const double *base_exposure, size_t n_base,
                                  const double *new_counts,
                                  const double *new_exposure, size_t n_new,
                                  double tolerance, double alpha);

/* The smallest two-sided p-value the exact Mann-Whitney test can give
 * for samples of sizes a and b: 2 / C(a + b, a) (1 when either is 0). */
double ana_compare_min_p(size_t a, size_t b);

G_END_DECLS

#endif /* ANA_COMPARE_H */
