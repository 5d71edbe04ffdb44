/* peers.h: the peers a node list knows, stored in a hash table keyed by
 * address (private to engine/).
 *
 * Every delivered heartbeat looks its origin up here, and every forward
 * reads a few peers drawn at random, so in a large cluster these reads are
 * the engine's cache (and TLB) misses. Hence the layout: the records
 * themselves, 64 bytes each, are the slots of an open-addressing table
 * with linear probing, aligned to cache lines. Looking a peer up reads the
 * line of its record, rarely its neighbour too; no separate index is
 * read first. A name and private data that together fit
 * PEKO__PEER_INLINE bytes live in the record; longer ones in one
 * allocation per peer.
 *
 * Drawing peers at random draws slots: an empty slot is drawn again. A
 * bitmap of the slots in use answers that without reading the record, and
 * the table is kept between an eighth and three quarters full (the caller
 * shrinks it after removing peers), so a redraw is cheap and rare.
 *
 * Where a record sits depends only on the fingerprints and on the order
 * of adds and removes, never on pointer values, so drawing by slot is
 * deterministic. Adding, removing and shrinking move records: pointers to
 * them and slot numbers are good until the next such call.
 *
 * Bound: PEKO__PEERS_MAX peers; adding more aborts, as running out of
 * memory does (it is 64 GiB of records at the least).
 */
#ifndef PEKO_PEERS_H
#define PEKO_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"

#define PEKO__PEER_INLINE 16      /* name plus data bytes kept inline */
#define PEKO__PEERS_MAX (1u << 30)

/* One node as a node list knows it. */
typedef struct peko__peer {
    peko_addr addr;          /* identity */
    uint32_t fingerprint;    /* peko_addr_fingerprint(&addr); 0: free slot */
    int64_t last_seen_us;    /* local monotonic time of the last refresh */
    uint32_t incarnation;    /* of the newest heartbeat applied */
    uint32_t seq;
    uint16_t name_len;       /* not NUL-terminated, as on the wire */
    uint16_t data_len;       /* the node's private data */
    bool has_heartbeat;      /* incarnation/seq above are meaningful */
    union {                  /* name, then data */
        uint8_t inline_bytes[PEKO__PEER_INLINE]; /* when they fit */
        uint8_t *heap;       /* owned, otherwise */
    } text;
} peko__peer;

typedef struct peko__peers {
    peko__peer *slots;       /* cap records, 64-byte aligned */
    uint64_t *used;          /* cap bits: which slots hold a peer */
    uint32_t n;              /* peers held */
    uint32_t cap;            /* slots: a power of two, or 0 */
} peko__peers;

/* ------------------------------------------------------------------ */
/* A record's name and data.                                            */

static inline const uint8_t *peko__peer_text(const peko__peer *p)
{
    return (size_t)p->name_len + p->data_len <= PEKO__PEER_INLINE
               ? p->text.inline_bytes
               : p->text.heap;
}

static inline const uint8_t *peko__peer_name(const peko__peer *p)
{
    return peko__peer_text(p);
}

static inline const uint8_t *peko__peer_data(const peko__peer *p)
{
    return peko__peer_text(p) + p->name_len;
}

/* Sets the name and data (copied) unless they are already equal, which
 * is the common case: every heartbeat carries them. Cannot fail. */
void peko__peer_set_text(peko__peer *p, const uint8_t *name,
                         uint16_t name_len, const uint8_t *data,
                         uint16_t data_len);
/* Frees the name and data; both are then empty. */
void peko__peer_clear_text(peko__peer *p);

/* ------------------------------------------------------------------ */
/* The table.                                                           */

/* An empty table; nothing is allocated until the first add. */
void peko__peers_init(peko__peers *ps);
/* Frees every record, its text and the table; the table is empty again. */
void peko__peers_clear(peko__peers *ps);

/* True if `slot` (< cap) holds a peer: a bit test, no record read. */
static inline bool peko__peers_used(const peko__peers *ps, uint32_t slot)
{
    return (ps->used[slot >> 6] >> (slot & 63)) & 1;
}

/* Starts fetching the record a lookup of fingerprint fp reads first. */
static inline void peko__peers_prefetch(const peko__peers *ps, uint32_t fp)
{
    if (ps->cap)
        __builtin_prefetch(&ps->slots[fp & (ps->cap - 1)]);
}

/* The record of `addr` (fp is its fingerprint), or NULL. */
peko__peer *peko__peers_find(const peko__peers *ps, const peko_addr *addr,
                             uint32_t fp);
/* Adds a record for `addr` (not in the table; fp its fingerprint) with
 * everything but the address zeroed, and returns it. */
peko__peer *peko__peers_add(peko__peers *ps, const peko_addr *addr,
                            uint32_t fp);
/* Removes the record in `slot` (which holds one), freeing its text. Later
 * records of the same probe run may move back; a record that moves lands
 * in `slot` or in a slot after it (cyclically), so a caller sweeping the
 * slots upwards looks at `slot` again and misses nothing. Never resizes
 * the table. */
void peko__peers_remove(peko__peers *ps, uint32_t slot);
/* Halves the table while it is less than an eighth full (after removals),
 * so random draws keep finding peers. */
void peko__peers_shrink(peko__peers *ps);

#endif /* PEKO_PEERS_H */
