/* stream.c: seeding and bounded draws of the random streams (model.h);
 * the generator itself is inline in model.h. */
#include "model.h"

#include <math.h>

void model_stream_seed(model_stream *st, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        st->s[i] = model_splitmix64(&seed);
    /* All-zero is xoshiro's one fixed point; four SplitMix64 outputs in a
     * row are never all zero, but say so rather than trust it silently. */
    if ((st->s[0] | st->s[1] | st->s[2] | st->s[3]) == 0)
        st->s[0] = 1;
}

uint64_t model_stream_key(uint64_t run_seed, uint64_t index)
{
    /* model_mix64 is a bijection, so for one seed distinct indices get
     * distinct SplitMix64 starting points, and the mixing keeps
     * neighbouring indices from starting on neighbouring states. */
    return model_mix64(run_seed ^
                       model_mix64(index + 0x6a09e667f3bcc909ULL));
}

void model_stream_init(model_stream *st, uint64_t run_seed, uint64_t index)
{
    model_stream_seed(st, model_stream_key(run_seed, index));
}

void model_node_stream(model_stream *st, uint64_t run_seed,
                       model_purpose purpose, uint32_t node)
{
    model_stream_init(st, run_seed, model_stream_index(purpose, node));
}

uint64_t model_stream_below(model_stream *st, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Lemire, "Fast Random Integer Generation in an Interval" (2019):
     * the high word of x*n is uniform once the low words that would
     * over-represent some results (fewer than 2^64 mod n of them) are
     * rejected. */
    uint64_t x = model_stream_u64(st);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            x = model_stream_u64(st);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int64_t model_stream_range(model_stream *st, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    /* Unsigned arithmetic: hi - lo may not fit an int64_t. */
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    uint64_t off = span == UINT64_MAX ? model_stream_u64(st)
                                      : model_stream_below(st, span + 1);
    return (int64_t)((uint64_t)lo + off);
}

double model_stream_exp(model_stream *st, double mean)
{
    /* 1 - u is in (0, 1], so the logarithm is finite. */
    return -mean * log1p(-model_stream_double(st));
}
