/* test-seen.c: the bounded seen-cache behind duplicate suppression. */
#include <criterion/criterion.h>
#include <glib.h>

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

/* Against a reference FIFO of the newest `cap` distinct keys: random
 * keys from a small universe (so that many repeat and probe runs
 * collide), through growth, wrap-around and eviction, with every
 * insert's answer and then every key's membership compared. */
Test(seen, agrees_with_a_reference_fifo)
{
    enum { UNIVERSE = 300, STEPS = 20000 };
    const size_t caps[] = {1, 7, 37, 64, 250};
    for (size_t c = 0; c < G_N_ELEMENTS(caps); c++) {
        size_t cap = caps[c];
        peko__seen s;
        peko__seen_init(&s, cap);
        uint64_t *fifo = g_new0(uint64_t, cap);
        size_t held = 0, head = 0;
        uint64_t x = 0x243f6a8885a308d3ULL + cap;
        for (int step = 0; step < STEPS; step++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            /* Keys spread like hashes but only UNIVERSE of them. */
            uint64_t key = ((x >> 33) % UNIVERSE + 1) * 0x9e3779b97f4a7c15ULL;
            bool present = false;
            for (size_t k = 0; k < held; k++)
                present |= fifo[(head + k) % cap] == key;
            cr_assert_eq(peko__seen_insert(&s, key), !present,
                         "cap %zu step %d", cap, step);
            if (!present) {
                if (held == cap) {
                    fifo[head] = key;
                    head = (head + 1) % cap;
                } else {
                    fifo[(head + held++) % cap] = key;
                }
            }
            if (step % 997 == 0)
                for (uint64_t u = 1; u <= UNIVERSE; u++) {
                    uint64_t k2 = u * 0x9e3779b97f4a7c15ULL;
                    bool want = false;
                    for (size_t k = 0; k < held; k++)
                        want |= fifo[(head + k) % cap] == k2;
                    cr_assert_eq(peko__seen_contains(&s, k2), want,
                                 "cap %zu step %d key %lu", cap, step,
                                 (unsigned long)u);
                }
        }
        cr_assert_eq(s.count, held);
        g_free(fifo);
        peko__seen_clear(&s);
    }
}
