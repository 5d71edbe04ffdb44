/* hash.h: the engine's 32-bit hash, private to engine/: FNV-1a over
 * bytes, then murmur3's finalizer (fmix32), so that every bit of the
 * result, the low ones that pick a table slot included, depends on every
 * byte. One definition for the fingerprints (addr.c), the receiver tags
 * (wire.c) and the shared records' index (records.c). */
#ifndef PEKO_HASH_H
#define PEKO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PEKO__FNV32_BASIS 0x811c9dc5u

static inline uint32_t peko__fnv1a32_step(uint32_t h, uint8_t byte)
{
    return (h ^ byte) * 0x01000193u; /* FNV prime */
}

static inline uint32_t peko__fnv1a32(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = peko__fnv1a32_step(h, p[i]);
    return h;
}

static inline uint32_t peko__fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

#endif /* PEKO_HASH_H */
