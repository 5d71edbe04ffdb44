/* xoshiro.h: xoshiro256** seeded by SplitMix64 (Blackman and Vigna's
 * public-domain generators; the constants are theirs), as inline
 * functions on a caller-owned state.
 *
 * The one implementation of the generator for the layers above the
 * engine: the simulator's per-node streams (sim/rng.c), the transport's
 * streams (transport/rng.c) and the bootstrap's resampling
 * (analysis/stats.c). It lives beside the engine only because every layer
 * already includes the engine's headers; the engine itself never draws a
 * random number but through its environment (DESIGN.md, the one rule).
 */
#ifndef PEKO_XOSHIRO_H
#define PEKO_XOSHIRO_H

#include <stdint.h>

/* SplitMix64's output function alone: a bijection on 64 bits. */
static inline uint64_t peko_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Advances a SplitMix64 state and returns its next output. */
static inline uint64_t peko_splitmix64(uint64_t *state)
{
    return peko_mix64(*state += 0x9e3779b97f4a7c15ULL);
}

/* Fills a xoshiro256** state with four SplitMix64 outputs from `seed`. */
static inline void peko_xoshiro_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = peko_splitmix64(&seed);
    /* All-zero is xoshiro's one fixed point; four SplitMix64 outputs in a
     * row are never all zero, but say so rather than trust it silently. */
    if ((s[0] | s[1] | s[2] | s[3]) == 0)
        s[0] = 1;
}

static inline uint64_t peko__rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 bits of the stream. */
static inline uint64_t peko_xoshiro_next(uint64_t s[4])
{
    uint64_t result = peko__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = peko__rotl64(s[3], 45);
    return result;
}

#endif /* PEKO_XOSHIRO_H */
