/* dist.h: distributions of durations (one-way latency), sampled from the
 * simulator's seeded streams.
 *
 * A sim_dist is a plain tagged struct: build one with a designated
 * initializer, check it with sim_dist_check(), sample it with
 * sim_dist_sample(). Zero fields mean what a latency wants by default: a
 * lower bound of 0 and no cap, so
 *     sim_dist d = {.kind = SIM_DIST_NORMAL, .mean_us = 20000, .sd_us = 5000};
 * is a normal latency truncated at 0.
 *
 * Every sample is one uniform draw from the caller's stream (a constant
 * draws nothing) turned into a value by the inverse of the distribution
 * function, then bounded and rounded to whole microseconds. Equal streams
 * give equal samples on every machine with an IEEE-754 libm.
 *
 * Pure functions on caller-owned values; no allocation, no global state.
 */
#ifndef SIM_DIST_H
#define SIM_DIST_H

#include <stdint.h>

#include "rng.h"

/* 365 days: no sample exceeds it, so sums of samples and virtual times
 * stay far from int64 overflow (the scenario format's duration limit). */
#define SIM_DIST_MAX_US (365LL * 86400LL * 1000000LL)

typedef enum sim_dist_kind {
    SIM_DIST_CONSTANT = 0, /* value_us */
    SIM_DIST_UNIFORM,      /* uniform on [min_us, max_us) */
    SIM_DIST_NORMAL,       /* normal(mean_us, sd_us) conditioned on
                            * x >= lo_us ("truncated", not clamped: no mass
                            * piles up at the bound) */
    SIM_DIST_LOGNORMAL,    /* log(x / 1 us) is normal(mu, sigma): the median
                            * is exp(mu) us, the mean exp(mu + sigma^2/2) */
    SIM_DIST_PARETO,       /* smallest value scale_us, tail index shape:
                            * P(X > x) = (scale_us / x)^shape */
    SIM_DIST_KIND_COUNT
} sim_dist_kind;

/* Only the fields of `kind` are read, plus the bounds. Values are
 * microseconds except mu (log of microseconds), sigma and shape. */
typedef struct sim_dist {
    sim_dist_kind kind;
    double value_us;          /* constant */
    double min_us, max_us;    /* uniform, min_us <= max_us */
    double mean_us, sd_us;    /* normal before truncation, sd_us >= 0 */
    double mu, sigma;         /* lognormal, sigma >= 0 */
    double scale_us, shape;   /* pareto, both > 0 */
    double lo_us;             /* lower bound: normal is conditioned on it,
                               * the others are clamped to it (0 by default,
                               * so latencies are never negative) */
    double cap_us;            /* upper bound; <= 0 means none, i.e.
                               * SIM_DIST_MAX_US. Every sample is clamped
                               * to it */
} sim_dist;

/* Returns 0 if every field `kind` uses is finite and in range and the
 * bounds are ordered (lo_us <= the effective cap, both within
 * +-SIM_DIST_MAX_US), else -EINVAL. */
int sim_dist_check(const sim_dist *dist);

/* One sample in microseconds, within [lo_us, cap] (rounded to nearest).
 * Draws exactly one 64-bit word from `rng`, none for a constant. The
 * distribution must pass sim_dist_check() (not checked again here: this
 * runs once per packet). */
int64_t sim_dist_sample(const sim_dist *dist, sim_rng *rng);

/* The exact mean of the bounded distribution sim_dist_sample() draws
 * from, truncation and cap included, before rounding to whole
 * microseconds (which moves it by less than 0.5 us). Finite. */
double sim_dist_mean(const sim_dist *dist);

/* The standard normal quantile: x with P(Z <= x) = p, for 0 < p < 1
 * (Wichura's AS241, relative error about 1e-16); p is clamped into
 * (0, 1) so the result is always finite. */
double sim_normal_quantile(double p);

/* "constant", "uniform", "normal", "lognormal", "pareto", or "?". */
const char *sim_dist_kind_name(sim_dist_kind kind);

#endif /* SIM_DIST_H */
