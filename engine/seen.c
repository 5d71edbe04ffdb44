/* seen.c: bounded FIFO set of 64-bit rumor keys (see seen.h). */
#include "seen.h"

#include <glib.h>

/* Key 0 marks an empty slot, so a real key of 0 is stored as 1. The
 * collision this adds is one more in 2^64. */
static inline uint64_t seen_key(uint64_t key)
{
    return key ? key : 1;
}

static inline size_t seen_home(const peko__seen *seen, uint64_t key)
{
    /* Keys are already hashes, but fold the high bits in so a key built
     * from small counters still spreads. */
    uint64_t h = key ^ (key >> 29);
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h & seen->slot_mask;
}

void peko__seen_init(peko__seen *seen, size_t capacity)
{
    if (capacity == 0)
        capacity = 1;
    /* Keep the load factor at or below one half, so probes stay short. */
    size_t slots = 2;
    while (slots < capacity * 2)
        slots <<= 1;
    seen->slots = g_new0(uint64_t, slots);
    seen->slot_mask = slots - 1;
    seen->ring = g_new0(uint64_t, capacity);
    seen->capacity = capacity;
    seen->count = 0;
    seen->ring_head = 0;
}

void peko__seen_clear(peko__seen *seen)
{
    g_clear_pointer(&seen->slots, g_free);
    g_clear_pointer(&seen->ring, g_free);
    seen->capacity = seen->count = seen->ring_head = 0;
}

static size_t seen_find(const peko__seen *seen, uint64_t key)
{
    size_t i = seen_home(seen, key);
    while (seen->slots[i] != 0 && seen->slots[i] != key)
        i = (i + 1) & seen->slot_mask;
    return i;
}

/* Backward-shift deletion keeps linear probing correct without
 * tombstones: later keys of the same probe run move up into the hole. */
static void seen_remove(peko__seen *seen, uint64_t key)
{
    size_t hole = seen_find(seen, key);
    if (seen->slots[hole] == 0)
        return;
    size_t i = hole;
    for (;;) {
        i = (i + 1) & seen->slot_mask;
        uint64_t k = seen->slots[i];
        if (k == 0)
            break;
        size_t home = seen_home(seen, k);
        /* Move k into the hole unless its home lies cyclically in
         * (hole, i]: then the hole is not on its probe path. */
        bool home_in_range = hole <= i ? (home > hole && home <= i)
                                       : (home > hole || home <= i);
        if (!home_in_range) {
            seen->slots[hole] = k;
            hole = i;
        }
    }
    seen->slots[hole] = 0;
}

bool peko__seen_contains(const peko__seen *seen, uint64_t key)
{
    key = seen_key(key);
    return seen->slots[seen_find(seen, key)] == key;
}

bool peko__seen_insert(peko__seen *seen, uint64_t key)
{
    key = seen_key(key);
    size_t i = seen_find(seen, key);
    if (seen->slots[i] == key)
        return false;
    if (seen->count == seen->capacity) {
        uint64_t oldest = seen->ring[seen->ring_head];
        seen_remove(seen, oldest);
        seen->ring[seen->ring_head] = key;
        seen->ring_head = (seen->ring_head + 1) % seen->capacity;
        i = seen_find(seen, key); /* the removal may have moved the slot */
    } else {
        seen->ring[(seen->ring_head + seen->count) % seen->capacity] = key;
        seen->count++;
    }
    seen->slots[i] = key;
    return true;
}
