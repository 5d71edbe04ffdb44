/* rng.c: the transport's random streams, xoshiro256** seeded by
 * SplitMix64 (Blackman and Vigna). The transport's own copy: sim/ has its
 * streams, and sim and transport never include each other (DESIGN.md 2).
 */
#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#include "transport-private.h"

uint64_t tp_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void tp_rng_init(tp_rng *rng, uint64_t seed)
{
    uint64_t state = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = tp_splitmix64(&state);
    /* SplitMix64 is a bijection of distinct states, so four outputs are
     * never all zero; keep the invariant explicit anyway. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = 1;
}

void tp_rng_init_entropy(tp_rng *rng)
{
    uint64_t seed;
    ssize_t n;
    do
        n = getrandom(&seed, sizeof seed, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof seed)
        seed = (uint64_t)g_get_real_time() ^
               ((uint64_t)getpid() << 32) ^ (uint64_t)g_get_monotonic_time();
    tp_rng_init(rng, seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t tp_rng_u64(tp_rng *rng)
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

double tp_rng_double(tp_rng *rng)
{
    return (double)(tp_rng_u64(rng) >> 11) * 0x1.0p-53;
}
