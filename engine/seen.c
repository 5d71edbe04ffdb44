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

/* Keys held before the first growth. */
#define SEEN_INITIAL_KEYS 32

static void seen_alloc_slots(peko__seen *seen, size_t keys)
{
    /* Keep the load factor at or below one half, so probes stay short. */
    size_t slots = 2;
    while (slots < keys * 2)
        slots <<= 1;
    seen->slots = g_new0(uint32_t, slots);
    seen->slot_mask = slots - 1;
}

/* The key slot i names (i holds one). */
static inline uint64_t slot_key(const peko__seen *seen, size_t i)
{
    return seen->ring[seen->slots[i] - 1];
}

void peko__seen_init(peko__seen *seen, size_t capacity)
{
    if (capacity == 0)
        capacity = 1;
    seen->capacity = capacity;
    seen->ring_len = capacity < SEEN_INITIAL_KEYS ? capacity
                                                  : SEEN_INITIAL_KEYS;
    seen->ring = g_new0(uint64_t, seen->ring_len);
    seen_alloc_slots(seen, seen->ring_len);
    seen->count = 0;
    seen->ring_head = 0;
}

void peko__seen_clear(peko__seen *seen)
{
    g_clear_pointer(&seen->slots, g_free);
    g_clear_pointer(&seen->ring, g_free);
    seen->capacity = seen->count = seen->ring_head = seen->ring_len = 0;
}

/* The slot that names key, or the empty slot where it would go. */
static size_t seen_find(const peko__seen *seen, uint64_t key)
{
    size_t i = seen_home(seen, key);
    while (seen->slots[i] != 0 && slot_key(seen, i) != key)
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
        if (seen->slots[i] == 0)
            break;
        size_t home = seen_home(seen, slot_key(seen, i));
        /* Move slot i into the hole unless its key's home lies cyclically
         * in (hole, i]: then the hole is not on its probe path. */
        bool home_in_range = hole <= i ? (home > hole && home <= i)
                                       : (home > hole || home <= i);
        if (!home_in_range) {
            seen->slots[hole] = seen->slots[i];
            hole = i;
        }
    }
    seen->slots[hole] = 0;
}

bool peko__seen_contains(const peko__seen *seen, uint64_t key)
{
    key = seen_key(key);
    return seen->slots[seen_find(seen, key)] != 0;
}

/* Doubles the room (up to the capacity) and rehashes. Only called before
 * the ring first wraps, so the ring is still in order from index 0. */
static void seen_grow(peko__seen *seen)
{
    size_t keys = seen->ring_len * 2;
    if (keys > seen->capacity)
        keys = seen->capacity;
    seen->ring = g_renew(uint64_t, seen->ring, keys);
    seen->ring_len = keys;
    g_free(seen->slots);
    seen_alloc_slots(seen, keys);
    for (size_t i = 0; i < seen->count; i++)
        seen->slots[seen_find(seen, seen->ring[i])] = (uint32_t)i + 1;
}

bool peko__seen_insert(peko__seen *seen, uint64_t key)
{
    key = seen_key(key);
    size_t i = seen_find(seen, key);
    if (seen->slots[i] != 0)
        return false;
    if (seen->count == seen->ring_len && seen->ring_len < seen->capacity) {
        seen_grow(seen);
        i = seen_find(seen, key);
    }
    size_t at;
    if (seen->count == seen->capacity) {
        /* The oldest key leaves the index while its ring entry still
         * holds it (the index reads keys there), then the new key takes
         * its place. */
        at = seen->ring_head;
        seen_remove(seen, seen->ring[at]);
        seen->ring[at] = key;
        seen->ring_head = (at + 1) % seen->capacity;
        i = seen_find(seen, key); /* the removal may have moved the slot */
    } else {
        at = seen->count; /* not wrapped yet: head is 0 */
        seen->ring[at] = key;
        seen->count++;
    }
    seen->slots[i] = (uint32_t)at + 1;
    return true;
}
