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

bool peko__peer_set_text(peko__peer *p, const uint8_t *name,
                         uint16_t name_len, const uint8_t *data,
                         uint16_t data_len)
{
    if (p->name_len == name_len && p->data_len == data_len &&
        (name_len == 0 || memcmp(peko__peer_name(p), name, name_len) == 0) &&
        (data_len == 0 || memcmp(peko__peer_data(p), data, data_len) == 0))
        return false;
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
    return true;
}

/* ------------------------------------------------------------------ */
/* The table.                                                           */

#define MIN_SLOTS 16

static inline uint32_t slot_home(const peko__peers *ps, uint32_t fp)
{
    return peko__peers_home(ps, fp);
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

/* Moves a record into its place in a table that does not hold it and
 * returns the slot. */
static uint32_t place(peko__peers *ps, const peko__peer *rec)
{
    uint32_t i = slot_home(ps, rec->fingerprint);
    while (ps->slots[i].fingerprint != 0)
        i = slot_next(ps, i);
    ps->slots[i] = *rec;
    mark(ps, i, true);
    return i;
}

/* ------------------------------------------------------------------ */
/* The refresh list of an ordered table.                                */

static inline uint32_t *prev_of(peko__lru *l, uint32_t slot)
{
    return &l->links[2 * (size_t)slot];
}

static inline uint32_t *next_of(peko__lru *l, uint32_t slot)
{
    return &l->links[2 * (size_t)slot + 1];
}

static peko__lru *lru_alloc(uint32_t cap)
{
    peko__lru *l = g_malloc(sizeof *l + 2 * (size_t)cap * sizeof(uint32_t));
    l->head = l->tail = PEKO__SLOT_NONE;
    l->n_dead = 0;
    l->bucket = g_new(uint32_t, cap ? cap : 1);
    for (uint32_t b = 0; b < cap; b++)
        l->bucket[b] = PEKO__SLOT_NONE;
    l->chain = g_new(uint32_t, 2 * (size_t)(cap ? cap : 1));
    return l;
}

static void lru_free(peko__lru *l)
{
    if (l == NULL)
        return;
    g_free(l->bucket);
    g_free(l->chain);
    g_free(l);
}

/* ---- The buckets by fingerprint. ---- */

static inline uint32_t bucket_of(const peko__peers *ps, uint32_t fp)
{
    return fp >> (__builtin_clz(ps->cap) + 1);
}

static void bucket_push(peko__peers *ps, uint32_t slot)
{
    peko__lru *l = ps->lru;
    uint32_t fp = ps->slots[slot].fingerprint;
    uint32_t b = bucket_of(ps, fp);
    l->chain[2 * (size_t)slot] = l->bucket[b];
    l->chain[2 * (size_t)slot + 1] = fp;
    l->bucket[b] = slot;
}

/* The link that points at `slot` in its bucket (fp is its fingerprint). */
static uint32_t *bucket_link_to(peko__peers *ps, uint32_t slot, uint32_t fp)
{
    peko__lru *l = ps->lru;
    uint32_t *at = &l->bucket[bucket_of(ps, fp)];
    while (*at != slot) {
        g_assert(*at != PEKO__SLOT_NONE);
        at = &l->chain[2 * (size_t)*at];
    }
    return at;
}

static void bucket_unlink(peko__peers *ps, uint32_t slot, uint32_t fp)
{
    *bucket_link_to(ps, slot, fp) = ps->lru->chain[2 * (size_t)slot];
}

static void bucket_move(peko__peers *ps, uint32_t from, uint32_t to,
                        uint32_t fp)
{
    peko__lru *l = ps->lru;
    *bucket_link_to(ps, from, fp) = to;
    l->chain[2 * (size_t)to] = l->chain[2 * (size_t)from];
    l->chain[2 * (size_t)to + 1] = fp;
}

static void lru_append(peko__lru *l, uint32_t slot)
{
    *prev_of(l, slot) = l->tail;
    *next_of(l, slot) = PEKO__SLOT_NONE;
    if (l->tail != PEKO__SLOT_NONE)
        *next_of(l, l->tail) = slot;
    else
        l->head = slot;
    l->tail = slot;
}

static void lru_unlink(peko__lru *l, uint32_t slot)
{
    uint32_t prev = *prev_of(l, slot), next = *next_of(l, slot);
    if (prev != PEKO__SLOT_NONE)
        *next_of(l, prev) = next;
    else
        l->head = next;
    if (next != PEKO__SLOT_NONE)
        *prev_of(l, next) = prev;
    else
        l->tail = prev;
}

/* The record in slot `from` moved to slot `to`: so does its place in the
 * list. */
static void lru_move(peko__lru *l, uint32_t from, uint32_t to)
{
    uint32_t prev = *prev_of(l, from), next = *next_of(l, from);
    *prev_of(l, to) = prev;
    *next_of(l, to) = next;
    if (prev != PEKO__SLOT_NONE)
        *next_of(l, prev) = to;
    else
        l->head = to;
    if (next != PEKO__SLOT_NONE)
        *prev_of(l, next) = to;
    else
        l->tail = to;
}

void peko__peers_touch(peko__peers *ps, uint32_t slot)
{
    g_assert(ps->lru && slot < ps->cap);
    if (ps->lru->tail == slot)
        return;
    lru_unlink(ps->lru, slot);
    lru_append(ps->lru, slot);
}

/* ------------------------------------------------------------------ */

/* Rebuilds the table with `cap` slots. A plain table moves its records
 * over in slot order, an ordered one in refresh order (which it keeps):
 * either way where they land depends only on the old table. */
static void rehash(peko__peers *ps, uint32_t cap)
{
    peko__peer *old = ps->slots;
    uint32_t old_cap = ps->cap;
    peko__lru *old_lru = ps->lru;
    ps->slots = slots_alloc(cap);
    g_free(ps->used);
    ps->used = g_new0(uint64_t, (cap + 63) / 64);
    ps->cap = cap;
    if (old_lru == NULL) {
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i].fingerprint != 0)
                place(ps, &old[i]);
    } else {
        ps->lru = lru_alloc(cap);
        ps->lru->n_dead = old_lru->n_dead;
        uint32_t i = old_cap ? old_lru->head : PEKO__SLOT_NONE;
        for (; i != PEKO__SLOT_NONE; i = *next_of(old_lru, i)) {
            uint32_t s = place(ps, &old[i]);
            lru_append(ps->lru, s);
            bucket_push(ps, s);
        }
        lru_free(old_lru);
    }
    free(old);
}

void peko__peers_init(peko__peers *ps, bool ordered)
{
    memset(ps, 0, sizeof *ps);
    if (ordered)
        ps->lru = lru_alloc(0);
}

void peko__peers_free(peko__peers *ps)
{
    for (uint32_t i = 0; i < ps->cap; i++)
        if (ps->slots[i].fingerprint != 0)
            peko__peer_clear_text(&ps->slots[i]);
    free(ps->slots);
    g_free(ps->used);
    lru_free(ps->lru);
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
    if (ps->lru) {
        lru_append(ps->lru, i);
        bucket_push(ps, i);
    }
    ps->n++;
    return p;
}

/* Backward-shift deletion keeps linear probing correct without
 * tombstones: later records of the same probe run move back into the
 * hole (as in seen.c). */
void peko__peers_remove(peko__peers *ps, uint32_t slot)
{
    g_assert(slot < ps->cap && ps->slots[slot].fingerprint != 0);
    if (peko__peer_is_dead(&ps->slots[slot]))
        ps->lru->n_dead--;
    peko__peer_clear_text(&ps->slots[slot]);
    if (ps->lru) {
        lru_unlink(ps->lru, slot);
        bucket_unlink(ps, slot, ps->slots[slot].fingerprint);
    }
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
            if (ps->lru) {
                lru_move(ps->lru, i, hole);
                bucket_move(ps, i, hole, ps->slots[hole].fingerprint);
            }
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

void peko__peers_set_dead(peko__peers *ps, uint32_t slot, bool dead)
{
    peko__peer *p = &ps->slots[slot];
    if (peko__peer_is_dead(p) == dead)
        return;
    g_assert(ps->lru != NULL); /* plain tables remove, never bury */
    if (dead) {
        p->flags |= PEKO__PEER_DEAD;
        ps->lru->n_dead++;
    } else {
        p->flags &= (uint8_t)~PEKO__PEER_DEAD;
        ps->lru->n_dead--;
    }
}

/* ------------------------------------------------------------------ */
/* Fingerprint ranges (ordered tables).                                 */

/* Insertion sort: keys read bucket by bucket are in order but for the
 * few that share a bucket (three quarters of a peer per bucket on
 * average) and, in a range that wraps round to its start, one bucket's
 * worth at the front, so the moves are few and this runs in about linear
 * time, where a general sort pays n log n comparisons. */
static void sort_nearly_sorted(uint64_t *keys, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t k = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1] > k) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = k;
    }
}

size_t peko__peers_collect(const peko__peers *ps, uint32_t first,
                           uint32_t last, size_t want, uint32_t *out,
                           uint64_t *scratch)
{
    g_assert(ps->lru != NULL);
    if (ps->n == 0)
        return 0;
    const peko__lru *l = ps->lru;
    uint32_t span = last - first; /* the range holds span + 1 values */
    uint32_t shift = (uint32_t)__builtin_clz(ps->cap) + 1;
    /* Buckets the range touches, counted from first's; a range that
     * reaches round to its own start touches them all. */
    uint64_t bucket_span =
        ((uint64_t)(first & ((1ULL << shift) - 1)) + span) >> shift;
    uint64_t n_buckets = bucket_span >= ps->cap - 1 ? ps->cap
                                                    : bucket_span + 1;
    uint32_t start = bucket_of(ps, first);

    /* Buckets come in fingerprint order, so once a bucket is read every
     * peer whose place in the range is before the next bucket's is held,
     * and the early stop is safe. Peers read so far whose place is not
     * that early (those below `first` in first's own bucket, of a range
     * that wraps round to its start) do not count towards `want`: they
     * come last. */
    size_t found = 0, in_order = 0;
    uint64_t *keys = scratch; /* place << 32 | slot: sorts by place, slot */
    for (uint64_t d = 0; d < n_buckets && in_order <= want; d++) {
        uint32_t b = (uint32_t)((start + d) & (ps->cap - 1));
        for (uint32_t s = l->bucket[b]; s != PEKO__SLOT_NONE;
             s = l->chain[2 * (size_t)s]) {
            uint32_t key = l->chain[2 * (size_t)s + 1] - first;
            if (key > span)
                continue;
            keys[found++] = (uint64_t)key << 32 | s;
            if ((uint64_t)key < ((d + 1) << shift))
                in_order++;
        }
    }
    sort_nearly_sorted(keys, found);
    for (size_t k = 0; k < found; k++)
        out[k] = (uint32_t)keys[k];
    return found;
}
