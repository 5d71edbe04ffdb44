/* bench.h: what every benchmark (tests/bench-*.c) prints, and the helpers
 * they share.
 *
 * Each figure is one line of its own, in one format that
 * scripts/bench-compare.py reads (docs/simulator.md, "Benchmarks"):
 *
 *   BENCH name=CASE metric=WHAT value=NUMBER unit=UNIT better=DIR reps=N
 *
 * CASE and WHAT are words of [a-z0-9_.-]; NUMBER is a decimal or
 * scientific number in the C locale; DIR is `higher`, `lower` (which way
 * is an improvement) or `none` (a count that only says the work was the
 * same, never a regression); N is how many repetitions the value is the
 * median of. Human-readable lines may come before and between; a
 * machine-readable line always starts with "BENCH ".
 */
#ifndef PEKO_BENCH_H
#define PEKO_BENCH_H

#include <stddef.h>

typedef enum bench_better {
    BENCH_HIGHER, /* rates: events/s, deliveries/s, real-time factor */
    BENCH_LOWER,  /* costs: seconds, bytes, peak RSS */
    BENCH_NONE,   /* counts that say the work was the same */
} bench_better;

/* Prints one BENCH line to stdout and flushes it. name, metric and unit
 * must be non-empty words without spaces or '=' (a programming error
 * otherwise: aborts); reps >= 1. */
void bench_figure(const char *name, const char *metric, double value,
                  const char *unit, bench_better better, int reps);

/* The median of values[0..n) (n >= 1), the mean of the middle two for an
 * even n. Sorts values in place. */
double bench_median(double *values, size_t n);

/* How many repetitions to run: the environment variable PEKO_BENCH_REPS
 * if set (1 to 100), else default_reps. A bad value prints why and exits
 * with status 2. */
int bench_reps(int default_reps);

/* Whether the large cases were asked for: PEKO_BENCH_LARGE=1 (they need
 * several GiB of memory; docs/simulator.md). Any other value than unset,
 * empty, 0 or 1 prints why and exits with status 2. */
int bench_large(void);

/* CPU time this process has used so far, user and system, in seconds. */
double bench_cpu_s(void);

/* This process's peak resident set so far, in MiB. */
double bench_peak_rss_mib(void);

#endif
