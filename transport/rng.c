/* rng.c: the transport's random streams: the generator of
 * engine/xoshiro.h, seeded from the system's entropy or a given seed. */
#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#include "transport-private.h"
#include "xoshiro.h"

uint64_t tp_splitmix64(uint64_t *state)
{
    return peko_splitmix64(state);
}

void tp_rng_init(tp_rng *rng, uint64_t seed)
{
    peko_xoshiro_seed(rng->s, seed);
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

uint64_t tp_rng_u64(tp_rng *rng)
{
    return peko_xoshiro_next(rng->s);
}

double tp_rng_double(tp_rng *rng)
{
    return (double)(tp_rng_u64(rng) >> 11) * 0x1.0p-53;
}
