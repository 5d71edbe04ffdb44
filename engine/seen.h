/* seen.h: a bounded set of recently seen rumor keys (private to engine/).
 *
 * Duplicate suppression needs to remember which rumors a node has already
 * forwarded. Remembering forever would grow without bound, so the cache
 * keeps the newest `capacity` keys and forgets the oldest first (FIFO).
 * Forgetting a key can only make the node forward a very late copy once
 * more (bounded extra traffic); it never makes it drop a rumor it has not
 * seen.
 */
#ifndef PEKO_SEEN_H
#define PEKO_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 16 bytes a key: the key in the ring, and two 4-byte slots of the
 * index, which name ring positions rather than hold a second copy. */
typedef struct peko__seen {
    uint32_t *slots;      /* open addressing, linear probing: a key's ring
                           * position + 1; 0 = empty */
    size_t slot_mask;     /* slot count - 1 (a power of two) */
    uint64_t *ring;       /* keys in insertion order, for eviction */
    size_t ring_len;      /* allocated ring entries (grows to capacity) */
    size_t capacity;      /* keys kept at most */
    size_t count;         /* keys held now */
    size_t ring_head;     /* index of the oldest key in ring */
} peko__seen;

/* Sets up a cache of at most `capacity` keys (at least 1). Memory starts
 * small and doubles as keys arrive, up to the bound, so a node that rarely
 * needs the cache pays little for a large bound. Cannot fail: GLib aborts
 * on out-of-memory. */
void peko__seen_init(peko__seen *seen, size_t capacity);
void peko__seen_clear(peko__seen *seen);
/* Inserts key; returns true if it was new, false if already present.
 * When full, the oldest key is forgotten first. */
bool peko__seen_insert(peko__seen *seen, uint64_t key);
bool peko__seen_contains(const peko__seen *seen, uint64_t key);

#endif /* PEKO_SEEN_H */
