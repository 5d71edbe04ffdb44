/* rng.c: the seed of a transport that was given none. The stream itself
 * is model.h's xoshiro256**, which the simulator and the fault filter
 * use too. */
#include <errno.h>
#include <sys/random.h>
#include <unistd.h>

#include "transport-private.h"

uint64_t tp_entropy_seed(void)
{
    uint64_t seed;
    ssize_t n;
    do
        n = getrandom(&seed, sizeof seed, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof seed)
        seed = (uint64_t)g_get_real_time() ^
               ((uint64_t)getpid() << 32) ^ (uint64_t)g_get_monotonic_time();
    return seed;
}
