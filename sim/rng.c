/* rng.c: xoshiro256** streams seeded by SplitMix64 (see rng.h).
 *
 * xoshiro256** and SplitMix64 are Blackman and Vigna's public-domain
 * generators; the constants below are theirs.
 */
#include "rng.h"

#include <math.h>

uint64_t sim_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* SplitMix64's output function alone: a bijection on 64 bits. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_init(sim_rng *rng, uint64_t seed, uint64_t stream)
{
    /* mix64 is a bijection, so for one seed distinct streams get distinct
     * SplitMix64 starting points, and the mixing keeps neighbouring
     * indices (0, 1, 2...) from starting on neighbouring states. */
    uint64_t sm = mix64(seed ^ mix64(stream + 0x6a09e667f3bcc909ULL));
    for (int i = 0; i < 4; i++)
        rng->s[i] = sim_splitmix64(&sm);
    /* All-zero is xoshiro's one fixed point; SplitMix64 cannot produce
     * four zeros in a row, but say so rather than trust it silently. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_u64(sim_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
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
