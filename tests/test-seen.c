/* test-seen.c: the bounded seen-cache behind duplicate suppression. */
#include <criterion/criterion.h>

#include "seen.h"

Test(seen, remembers_inserted_keys)
{
    peko__seen s;
    peko__seen_init(&s, 100);
    cr_assert(peko__seen_insert(&s, 42));
    cr_assert_not(peko__seen_insert(&s, 42));
    cr_assert(peko__seen_contains(&s, 42));
    cr_assert_not(peko__seen_contains(&s, 43));
    /* Key 0 is a key like any other. */
    cr_assert(peko__seen_insert(&s, 0));
    cr_assert(peko__seen_contains(&s, 0));
    peko__seen_clear(&s);
}

Test(seen, forgets_oldest_first_and_never_exceeds_capacity)
{
    peko__seen s;
    peko__seen_init(&s, 64);
    for (uint64_t k = 1; k <= 1000; k++) {
        cr_assert(peko__seen_insert(&s, k * 0x9e3779b97f4a7c15ULL));
        cr_assert_leq(s.count, 64);
    }
    /* The newest 64 are there, everything older is gone. */
    for (uint64_t k = 1; k <= 1000; k++)
        cr_assert_eq(peko__seen_contains(&s, k * 0x9e3779b97f4a7c15ULL),
                     k > 1000 - 64, "key %lu", k);
    peko__seen_clear(&s);
}

Test(seen, eviction_keeps_colliding_probe_runs_findable)
{
    /* Small consecutive keys land in nearby slots and form probe runs;
     * deleting from the middle of a run must not hide later keys. */
    peko__seen s;
    peko__seen_init(&s, 8);
    for (uint64_t round = 0; round < 200; round++) {
        uint64_t k = round + 1;
        peko__seen_insert(&s, k);
        for (uint64_t j = (k > 8 ? k - 7 : 1); j <= k; j++)
            cr_assert(peko__seen_contains(&s, j), "key %lu after %lu", j, k);
    }
    peko__seen_clear(&s);
}

Test(seen, memory_grows_with_use_up_to_the_bound)
{
    peko__seen s;
    peko__seen_init(&s, 100000);
    cr_assert_leq(s.ring_len, 64, "starts small whatever the bound");
    for (uint64_t k = 1; k <= 5000; k++)
        cr_assert(peko__seen_insert(&s, k));
    cr_assert_geq(s.ring_len, 5000);
    cr_assert_leq(s.ring_len, 8192);
    for (uint64_t k = 1; k <= 5000; k++)
        cr_assert(peko__seen_contains(&s, k), "key %lu lost in growth", k);
    cr_assert_not(peko__seen_contains(&s, 5001));
    peko__seen_clear(&s);
}
