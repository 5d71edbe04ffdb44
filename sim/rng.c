/* rng.c: xoshiro256** streams seeded by SplitMix64 (see rng.h); the
 * generator itself is engine/xoshiro.h. */
#include "rng.h"

#include <math.h>

#include "xoshiro.h"

uint64_t sim_splitmix64(uint64_t *state)
{
    return peko_splitmix64(state);
}

void sim_rng_init(sim_rng *rng, uint64_t seed, uint64_t stream)
{
    /* peko_mix64 is a bijection, so for one seed distinct streams get
     * distinct SplitMix64 starting points, and the mixing keeps
     * neighbouring indices (0, 1, 2...) from starting on neighbouring
     * states. */
    peko_xoshiro_seed(rng->s, peko_mix64(seed ^ peko_mix64(
                                             stream + 0x6a09e667f3bcc909ULL)));
}

uint64_t sim_rng_u64(sim_rng *rng)
{
    return peko_xoshiro_next(rng->s);
}

uint64_t sim_rng_below(sim_rng *rng, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Lemire, "Fast Random Integer Generation in an Interval" (2019):
     * the high word of x*n is uniform once the low words that would
     * over-represent some results (fewer than 2^64 mod n of them) are
     * rejected. */
    uint64_t x = sim_rng_u64(rng);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            x = sim_rng_u64(rng);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t sim_rng_range(sim_rng *rng, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    /* Unsigned arithmetic: hi - lo may not fit an int64_t. */
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    uint64_t off = span == UINT64_MAX ? sim_rng_u64(rng)
                                      : sim_rng_below(rng, span + 1);
    return (int64_t)((uint64_t)lo + off);
}

double sim_rng_double(sim_rng *rng)
{
    /* The top 53 bits, scaled by 2^-53: every representable multiple of
     * 2^-53 in [0, 1) is equally likely and 1.0 is never returned. */
    return (double)(sim_rng_u64(rng) >> 11) * 0x1.0p-53;
}

double sim_rng_exp(sim_rng *rng, double mean)
{
    /* 1 - u is in (0, 1], so the logarithm is finite. */
    return -mean * log1p(-sim_rng_double(rng));
}
