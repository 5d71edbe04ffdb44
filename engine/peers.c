/* peers.c: the peer table (see peers.h). */
#include "peers.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

G_STATIC_ASSERT(sizeof(peko__peer) == 64);

#define CACHE_LINE 64

/* ------------------------------------------------------------------ */
/* Name and data.                                                       */

static bool text_is_inline(size_t n_bytes)
{
    return n_bytes <= PEKO__PEER_INLINE;
}

void peko__peer_clear_text(peko__peer *p)
{
    if (!text_is_inline((size_t)p->name_len + p->data_len))
        g_free(p->text.heap);
    memset(&p->text, 0, sizeof p->text);
    p->name_len = 0;
    p->data_len = 0;
}

void peko__peer_set_text(peko__peer *p, const uint8_t *name,
                         uint16_t name_len, const uint8_t *data,
                         uint16_t data_len)
{
    if (p->name_len == name_len && p->data_len == data_len &&
        (name_len == 0 || memcmp(peko__peer_name(p), name, name_len) == 0) &&
        (data_len == 0 || memcmp(peko__peer_data(p), data, data_len) == 0))
        return;
    peko__peer_clear_text(p);
    size_t n_bytes = (size_t)name_len + data_len;
    uint8_t *dst = p->text.inline_bytes;
    if (!text_is_inline(n_bytes))
        dst = p->text.heap = g_malloc(n_bytes);
    if (name_len)
        memcpy(dst, name, name_len);
    if (data_len)
        memcpy(dst + name_len, data, data_len);
    p->name_len = name_len;
    p->data_len = data_len;
}

/* ------------------------------------------------------------------ */
/* The table.                                                           */

#define MIN_SLOTS 16

static inline uint32_t slot_home(const peko__peers *ps, uint32_t fp)
{
    /* Fingerprints are already well mixed (peko_addr_fingerprint ends
     * with a finalizer), so their low bits pick the home slot. */
    return fp & (ps->cap - 1);
}

static inline uint32_t slot_next(const peko__peers *ps, uint32_t slot)
{
    return (slot + 1) & (ps->cap - 1);
}

static inline void mark(peko__peers *ps, uint32_t slot, bool in_use)
{
    uint64_t bit = (uint64_t)1 << (slot & 63);
    if (in_use)
        ps->used[slot >> 6] |= bit;
    else
        ps->used[slot >> 6] &= ~bit;
}

/* aligned_alloc wants a size that is a multiple of the alignment, which
 * whole 64-byte records always are; failure aborts, like g_malloc. */
static peko__peer *slots_alloc(uint32_t cap)
{
    peko__peer *slots = aligned_alloc(CACHE_LINE, (size_t)cap * sizeof *slots);
    if (slots == NULL)
        g_error("peko: out of memory for %u peer slots", cap);
    memset(slots, 0, (size_t)cap * sizeof *slots);
    return slots;
}

/* Moves a record into its place in a table that does not hold it. */
static void place(peko__peers *ps, const peko__peer *rec)
{
    uint32_t i = slot_home(ps, rec->fingerprint);
    while (ps->slots[i].fingerprint != 0)
        i = slot_next(ps, i);
    ps->slots[i] = *rec;
    mark(ps, i, true);
}

/* Rebuilds the table with `cap` slots, moving the records over in slot
 * order (so where they land depends only on the old table). */
static void rehash(peko__peers *ps, uint32_t cap)
{
    peko__peer *old = ps->slots;
    uint32_t old_cap = ps->cap;
    ps->slots = slots_alloc(cap);
    g_free(ps->used);
    ps->used = g_new0(uint64_t, (cap + 63) / 64);
    ps->cap = cap;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].fingerprint != 0)
            place(ps, &old[i]);
    free(old);
}

void peko__peers_init(peko__peers *ps)
{
    memset(ps, 0, sizeof *ps);
}

void peko__peers_clear(peko__peers *ps)
{
    for (uint32_t i = 0; i < ps->cap; i++)
        if (ps->slots[i].fingerprint != 0)
            peko__peer_clear_text(&ps->slots[i]);
    free(ps->slots);
    g_free(ps->used);
    memset(ps, 0, sizeof *ps);
}

peko__peer *peko__peers_find(const peko__peers *ps, const peko_addr *addr,
                             uint32_t fp)
{
    if (ps->n == 0)
        return NULL;
    for (uint32_t i = slot_home(ps, fp); ps->slots[i].fingerprint != 0;
         i = slot_next(ps, i)) {
        peko__peer *p = &ps->slots[i];
        if (p->fingerprint == fp && peko_addr_equal(&p->addr, addr))
            return p;
    }
    return NULL;
}

/* Keeps the table at most three quarters full: linear probing then reads
 * about one and a half records per lookup, most often in one line. */
peko__peer *peko__peers_add(peko__peers *ps, const peko_addr *addr,
                            uint32_t fp)
{
    g_assert(fp != 0);
    if (ps->n >= PEKO__PEERS_MAX)
        g_error("peko: more than %u peers", PEKO__PEERS_MAX);
    if ((uint64_t)(ps->n + 1) * 4 > (uint64_t)ps->cap * 3)
        rehash(ps, ps->cap ? ps->cap * 2 : MIN_SLOTS);
    uint32_t i = slot_home(ps, fp);
    while (ps->slots[i].fingerprint != 0)
        i = slot_next(ps, i);
    peko__peer *p = &ps->slots[i];
    memset(p, 0, sizeof *p);
    p->addr = *addr;
    p->fingerprint = fp;
    mark(ps, i, true);
    ps->n++;
    return p;
}

/* Backward-shift deletion keeps linear probing correct without
 * tombstones: later records of the same probe run move back into the
 * hole (as in seen.c). */
void peko__peers_remove(peko__peers *ps, uint32_t slot)
{
    g_assert(slot < ps->cap && ps->slots[slot].fingerprint != 0);
    peko__peer_clear_text(&ps->slots[slot]);
    uint32_t hole = slot;
    for (uint32_t i = slot_next(ps, hole); ps->slots[i].fingerprint != 0;
         i = slot_next(ps, i)) {
        uint32_t home = slot_home(ps, ps->slots[i].fingerprint);
        /* Move record i into the hole unless its home lies cyclically in
         * (hole, i]: then the hole is not on its probe path. */
        bool home_in_range = hole <= i ? (home > hole && home <= i)
                                       : (home > hole || home <= i);
        if (!home_in_range) {
            ps->slots[hole] = ps->slots[i];
            hole = i;
        }
    }
    memset(&ps->slots[hole], 0, sizeof ps->slots[hole]);
    mark(ps, hole, false);
    ps->n--;
}

void peko__peers_shrink(peko__peers *ps)
{
    uint32_t cap = ps->cap;
    while (cap > MIN_SLOTS && (uint64_t)ps->n * 8 < cap)
        cap /= 2;
    if (cap != ps->cap)
        rehash(ps, cap);
}
