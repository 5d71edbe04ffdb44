/* rng.h: the simulator's seeded random streams.
 *
 * Every random choice in a simulated run flows from the run's seed through
 * one stream per consumer (a node, the network model, ...). A stream is
 * xoshiro256** whose 256-bit state is filled by SplitMix64 from a mix of
 * (run seed, stream index), so stream i depends on nothing but those two
 * numbers: adding a node, or drawing more often on one node, never shifts
 * another node's draws (DESIGN.md section 4).
 *
 * Streams are plain values: copy one to fork it, no allocation, no global
 * state, not thread-safe (one stream is used by one thread).
 */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
} sim_rng;

/* Advances a SplitMix64 state and returns its next output. Used for
 * seeding; also a fine cheap hash of a counter. */
uint64_t sim_splitmix64(uint64_t *state);

/* Initializes *rng as stream `stream` of run `seed`. Equal (seed, stream)
 * pairs give equal streams on any machine; different streams of one seed
 * start from unrelated states. Cannot fail. */
void sim_rng_init(sim_rng *rng, uint64_t seed, uint64_t stream);

/* 64 uniformly random bits. */
uint64_t sim_rng_u64(sim_rng *rng);

/* A uniform integer in [0, n) without modulo bias (Lemire's
 * multiply-and-reject: usually one draw, never more than a few).
 * n must be > 0; n == 0 returns 0 and draws nothing. */
uint64_t sim_rng_below(sim_rng *rng, uint64_t n);

/* A uniform integer in [lo, hi], lo <= hi (the full 64-bit range is
 * allowed). */
int64_t sim_rng_range(sim_rng *rng, int64_t lo, int64_t hi);

/* A uniform double in [0, 1) with 53 random bits. */
double sim_rng_double(sim_rng *rng);

/* An exponentially distributed double with the given mean (> 0): for
 * inter-arrival times and latency tails. Never negative, never infinite. */
double sim_rng_exp(sim_rng *rng, double mean);

#endif /* SIM_RNG_H */
