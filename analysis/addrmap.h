/* addrmap.h: node addresses back to node ids, and the address hash the
 * recorder's tables share.
 *
 * Internal to the analysis library. A fixed-size open-addressing table,
 * sized once for the run's node count: lookups only, never iterated, so
 * nothing written depends on its layout.
 */
#ifndef ANA_ADDRMAP_H
#define ANA_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "peko.h"

/* A 64-bit hash of an address that agrees with peko_addr_equal(): only
 * the family, port and the ip bytes the family uses take part (the engine
 * leaves the others 0, but equality ignores them, so must we). Cheap
 * enough for the heartbeat filter on every rumor callback: an IPv4
 * address is packed into one word, then mixed (MurmurHash3's fmix64). */
static inline uint64_t ana__addr_hash(const peko_addr *addr)
{
    uint64_t h;
    if (addr->family == PEKO_AF_INET6) {
        uint64_t w0, w1;
        memcpy(&w0, addr->ip, 8);
        memcpy(&w1, addr->ip + 8, 8);
        h = w0 ^ ((w1 ^ (w1 >> 29)) * 0x9e3779b97f4a7c15ULL);
    } else {
        uint32_t v;
        memcpy(&v, addr->ip, 4);
        h = v;
    }
    h ^= ((uint64_t)addr->family << 56) ^ ((uint64_t)addr->port << 32);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

typedef struct ana__addrmap_slot {
    peko_addr addr;
    uint32_t node_plus_one; /* 0: empty */
} ana__addrmap_slot;

typedef struct ana__addrmap {
    ana__addrmap_slot *slots;
    size_t mask; /* slots - 1, a power of two minus one */
} ana__addrmap;

/* Sizes the table for up to `max_nodes` entries (at most half full, so a
 * probe ends within a few slots). */
void ana__addrmap_init(ana__addrmap *map, size_t max_nodes);
void ana__addrmap_clear(ana__addrmap *map);

/* Adds addr -> node. Returns false, changing nothing, if addr is there. */
bool ana__addrmap_insert(ana__addrmap *map, const peko_addr *addr,
                         uint32_t node);

/* Returns true and sets *node if addr is known. */
bool ana__addrmap_find(const ana__addrmap *map, const peko_addr *addr,
                       uint32_t *node);

#endif /* ANA_ADDRMAP_H */
