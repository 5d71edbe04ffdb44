/* peers.c: the peer table (see peers.h). */
#include "peers.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

G_STATIC_ASSERT(sizeof(peko__peer) == 24);
G_STATIC_ASSERT(sizeof(peko__peers) == 40);

/* ------------------------------------------------------------------ */
/* A peer's record.                                                     */

void peko__peer_init(peko__peers *ps, peko__peer *p, const peko_addr *addr,
                     uint32_t fp)
{
    memset(p, 0, sizeof *p);
    p->record = peko__records_intern(ps->records, addr, fp, NULL, 0, NULL, 0);
}

void peko__peer_clear(peko__peers *ps, peko__peer *p)
{
    if (p->record != PEKO__RECORD_NONE)
        peko__records_release(ps->records, p->record);
    p->record = PEKO__RECORD_NONE;
}

bool peko__peer_set_text(peko__peers *ps, peko__peer *p, const uint8_t *name,
                         uint16_t name_len, const uint8_t *data,
                         uint16_t data_len)
{
    if (peko__records_text_equal(ps->records, p->record, name, name_len,
                                 data, data_len))
        return false;
    const peko__record *r = peko__peer_record(ps, p);
    uint32_t h = peko__records_intern(ps->records, &r->addr, r->fingerprint,
                                      name, name_len, data, data_len);
    peko__records_release(ps->records, p->record);
    p->record = h;
    return true;
}

/* ------------------------------------------------------------------ */
/* The table.                                                           */

#define MIN_SLOTS 16
#define MIN_ROOM 16
#define LARGE_ROOM 4096 /* entries from which room_for() adds a 16th */
#define SLOTS_PER_BUCKET 4

static inline uint32_t slot_home(const peko__peers *ps, uint32_t fp)
{
    return peko__peers_home(ps, fp);
}

static inline uint32_t slot_next(const peko__peers *ps, uint32_t slot)
{
    return (slot + 1) & (ps->cap - 1);
}

static inline void index_put(peko__peers *ps, uint32_t slot, uint32_t e)
{
    peko__ids_put(ps->index, slot, e, peko__peers_narrow(ps));
}

static inline void mark(peko__peers *ps, uint32_t slot, bool in_use)
{
    uint64_t *used = peko__peers_used_bits(ps);
    uint64_t bit = (uint64_t)1 << (slot & 63);
    if (in_use)
        used[slot >> 6] |= bit;
    else
        used[slot >> 6] &= ~bit;
}

/* The slot whose index names entry e (fp its fingerprint): it lies on
 * e's probe run, which reads the index only. */
static uint32_t slot_of_entry(const peko__peers *ps, uint32_t e, uint32_t fp)
{
    uint32_t i = slot_home(ps, fp);
    while (peko__peers_entry_in(ps, i) != e) {
        g_assert(peko__peers_entry_in(ps, i) != PEKO__ENTRY_NONE);
        i = slot_next(ps, i);
    }
    return i;
}

/* Puts entry e in the index, in the first free slot of its probe run,
 * and returns the slot. */
static uint32_t place(peko__peers *ps, uint32_t e)
{
    uint32_t i = slot_home(ps, peko__peer_fp(ps, &ps->entries[e]));
    while (peko__peers_entry_in(ps, i) != PEKO__ENTRY_NONE)
        i = slot_next(ps, i);
    index_put(ps, i, e);
    mark(ps, i, true);
    return i;
}

/* How many entries the entries have room for. The table itself has no
 * space left for the number (it is 40 bytes, in the node list's first
 * line), so the entries' allocation starts 8 bytes early and holds it
 * there, read only when a peer is added or the table shrinks. */
#define ROOM_HEADER 8

static uint32_t room_of(const peko__peers *ps)
{
    return ps->entries
               ? *(const uint32_t *)((const uint8_t *)ps->entries -
                                     ROOM_HEADER)
               : 0;
}

static void entries_free(peko__peers *ps)
{
    if (ps->entries)
        g_free((uint8_t *)ps->entries - ROOM_HEADER);
    ps->entries = NULL;
}

static size_t links_bytes(const peko__peers *ps, uint32_t room)
{
    return (size_t)room * PEKO__LINKS * peko__peers_width(ps);
}

/* The room to give n entries that need more: a quarter more, and in a
 * large table a sixteenth. Where memory is on huge pages (as the
 * simulator puts it) every byte of room is resident, and a quarter of a
 * table of thousands is tens of KiB a node (a 10,000-node world, 20 % of
 * its entries; docs/simulator.md, "Huge pages"); a sixteenth still costs
 * only a few copies of the table over its growth. */
static uint64_t room_for(uint32_t n)
{
    uint64_t room = (uint64_t)n + n / (n < LARGE_ROOM ? 4 : 16);
    return MAX(room, MIN_ROOM);
}

/* Gives the entries (and an ordered table's links) room for `room`.
 * g_realloc keeps what is held; a block mapped on its own is remapped
 * rather than copied, and on small pages its room is resident only once
 * written. Failure aborts. */
static void set_room(peko__peers *ps, uint32_t room)
{
    uint8_t *base = ps->entries ? (uint8_t *)ps->entries - ROOM_HEADER
                                : NULL;
    base = g_realloc(base, ROOM_HEADER + (size_t)room * sizeof(peko__peer));
    *(uint32_t *)base = room;
    ps->entries = (peko__peer *)(base + ROOM_HEADER);
    if (ps->lru)
        ps->lru->links = g_realloc(ps->lru->links, links_bytes(ps, room));
}

/* ------------------------------------------------------------------ */
/* The refresh list of an ordered table.                                */

static peko__lru *lru_alloc(void)
{
    peko__lru *l = g_new0(peko__lru, 1);
    l->head = l->tail = PEKO__ENTRY_NONE;
    return l;
}

static void lru_free(peko__lru *l)
{
    if (l == NULL)
        return;
    g_free(l->bucket);
    g_free(l->links);
    g_free(l);
}

/* ---- Links and buckets. ---- */

static inline void link_put(peko__peers *ps, uint32_t e, int k, uint32_t to)
{
    peko__ids_put(ps->lru->links, (size_t)e * PEKO__LINKS + k, to,
                  peko__peers_narrow(ps));
}

static inline uint32_t bucket_of(const peko__lru *l, uint32_t fp)
{
    return fp >> (__builtin_clz(l->n_buckets) + 1);
}

static inline uint32_t bucket_get(const peko__peers *ps, uint32_t b)
{
    return peko__ids_get(ps->lru->bucket, b, peko__peers_narrow(ps));
}

static inline void bucket_put(peko__peers *ps, uint32_t b, uint32_t e)
{
    peko__ids_put(ps->lru->bucket, b, e, peko__peers_narrow(ps));
}

static void bucket_push(peko__peers *ps, uint32_t e, uint32_t fp)
{
    uint32_t b = bucket_of(ps->lru, fp);
    link_put(ps, e, PEKO__LINK_NEXT, bucket_get(ps, b));
    bucket_put(ps, b, e);
}

/* Makes the link that points at entry `e` in its bucket (fp its
 * fingerprint) point at `to`. */
static void bucket_relink(peko__peers *ps, uint32_t e, uint32_t fp,
                          uint32_t to)
{
    uint32_t b = bucket_of(ps->lru, fp);
    uint32_t at = bucket_get(ps, b);
    if (at == e) {
        bucket_put(ps, b, to);
        return;
    }
    for (;;) {
        g_assert(at != PEKO__ENTRY_NONE);
        uint32_t next = peko__peers_link(ps, at, PEKO__LINK_NEXT);
        if (next == e) {
            link_put(ps, at, PEKO__LINK_NEXT, to);
            return;
        }
        at = next;
    }
}

static void lru_append(peko__peers *ps, uint32_t e)
{
    peko__lru *l = ps->lru;
    link_put(ps, e, PEKO__LINK_OLDER, l->tail);
    link_put(ps, e, PEKO__LINK_NEWER, PEKO__ENTRY_NONE);
    if (l->tail != PEKO__ENTRY_NONE)
        link_put(ps, l->tail, PEKO__LINK_NEWER, e);
    else
        l->head = e;
    l->tail = e;
}

static void lru_unlink(peko__peers *ps, uint32_t e)
{
    peko__lru *l = ps->lru;
    uint32_t prev = peko__peers_link(ps, e, PEKO__LINK_OLDER);
    uint32_t next = peko__peers_link(ps, e, PEKO__LINK_NEWER);
    if (prev != PEKO__ENTRY_NONE)
        link_put(ps, prev, PEKO__LINK_NEWER, next);
    else
        l->head = next;
    if (next != PEKO__ENTRY_NONE)
        link_put(ps, next, PEKO__LINK_OLDER, prev);
    else
        l->tail = prev;
}

/* Entry `from` (linked; fp its fingerprint) takes number `to`
 * (unlinked): so do its links and the links to it. */
static void lru_renumber(peko__peers *ps, uint32_t from, uint32_t to,
                         uint32_t fp)
{
    peko__lru *l = ps->lru;
    bucket_relink(ps, from, fp, to);
    for (int k = 0; k < PEKO__LINKS; k++)
        link_put(ps, to, k, peko__peers_link(ps, from, k));
    uint32_t prev = peko__peers_link(ps, to, PEKO__LINK_OLDER);
    uint32_t next = peko__peers_link(ps, to, PEKO__LINK_NEWER);
    if (prev != PEKO__ENTRY_NONE)
        link_put(ps, prev, PEKO__LINK_NEWER, to);
    else
        l->head = to;
    if (next != PEKO__ENTRY_NONE)
        link_put(ps, next, PEKO__LINK_OLDER, to);
    else
        l->tail = to;
}

void peko__peers_touch(peko__peers *ps, uint32_t e)
{
    g_assert(ps->lru && e < ps->n);
    if (ps->lru->tail == e)
        return;
    lru_unlink(ps, e);
    lru_append(ps, e);
}

/* ------------------------------------------------------------------ */

/* Rewrites an ordered table's refresh links from the width of
 * `was_narrow` to the table's (whose cap is already the new one); the
 * bucket links are rebuilt after. */
static void links_rewiden(peko__peers *ps, bool was_narrow)
{
    peko__lru *l = ps->lru;
    void *old = l->links;
    l->links = g_malloc(links_bytes(ps, room_of(ps)));
    for (uint32_t e = 0; e < ps->n; e++)
        for (int k = PEKO__LINK_OLDER; k <= PEKO__LINK_NEWER; k++)
            link_put(ps, e, k,
                     peko__ids_get(old, (size_t)e * PEKO__LINKS + k,
                                   was_narrow));
    g_free(old);
}

/* Rebuilds the index with `cap` slots. A plain table places its entries
 * in the old index's slot order, an ordered one in refresh order: either
 * way where they land depends only on the old index. The entries stay
 * where they are. Stored entry numbers take the width of the new size. */
static void rehash(peko__peers *ps, uint32_t cap)
{
    void *old = ps->index;
    uint32_t old_cap = ps->cap;
    bool was_narrow = peko__peers_narrow(ps);
    ps->cap = cap;
    /* cap >= MIN_SLOTS, so the bits start on an 8-byte boundary; zeroed
     * slots hold no entry. */
    size_t n_words = ((size_t)cap + 63) / 64;
    ps->index = g_malloc0((size_t)cap * peko__peers_width(ps) +
                          n_words * sizeof(uint64_t));
    if (ps->lru == NULL) {
        for (uint32_t i = 0; i < old_cap; i++) {
            uint32_t e = peko__ids_get(old, i, was_narrow);
            if (e != PEKO__ENTRY_NONE)
                place(ps, e);
        }
    } else {
        peko__lru *l = ps->lru;
        if (l->links != NULL && was_narrow != peko__peers_narrow(ps))
            links_rewiden(ps, was_narrow);
        l->n_buckets = cap / SLOTS_PER_BUCKET;
        g_free(l->bucket);
        l->bucket = g_malloc0((size_t)l->n_buckets * peko__peers_width(ps));
        for (uint32_t e = ps->n ? l->head : PEKO__ENTRY_NONE;
             e != PEKO__ENTRY_NONE; e = peko__peers_newer(ps, e)) {
            place(ps, e);
            bucket_push(ps, e, peko__peer_fp(ps, &ps->entries[e]));
        }
    }
    g_free(old);
}

void peko__peers_init(peko__peers *ps, bool ordered, peko_records *records)
{
    memset(ps, 0, sizeof *ps);
    ps->records = records;
    if (ordered)
        ps->lru = lru_alloc();
}

void peko__peers_free(peko__peers *ps)
{
    for (uint32_t e = 0; e < ps->n; e++)
        peko__peer_clear(ps, &ps->entries[e]);
    entries_free(ps);
    g_free(ps->index);
    lru_free(ps->lru);
    memset(ps, 0, sizeof *ps);
}

peko__peer *peko__peers_find(const peko__peers *ps, const peko_addr *addr,
                             uint32_t fp)
{
    if (ps->n == 0)
        return NULL;
    for (uint32_t i = slot_home(ps, fp);; i = slot_next(ps, i)) {
        uint32_t e = peko__peers_entry_in(ps, i);
        if (e == PEKO__ENTRY_NONE)
            return NULL;
        peko__peer *p = &ps->entries[e];
        const peko__record *r = peko__peer_record(ps, p);
        if (r->fingerprint == fp && peko_addr_equal(&r->addr, addr))
            return p;
    }
}

/* Keeps the index at most three quarters full: linear probing then reads
 * about one and a half slots per lookup. The entries grow by a quarter,
 * or a sixteenth when large (room_for), so that little room stands
 * empty. */
peko__peer *peko__peers_add(peko__peers *ps, const peko_addr *addr,
                            uint32_t fp)
{
    g_assert(fp != 0);
    if (ps->n >= PEKO__PEERS_MAX)
        g_error("peko: more than %u peers", PEKO__PEERS_MAX);
    if ((uint64_t)(ps->n + 1) * 4 > (uint64_t)ps->cap * 3)
        rehash(ps, ps->cap ? ps->cap * 2 : MIN_SLOTS);
    if (ps->n == room_of(ps))
        set_room(ps, (uint32_t)MIN(room_for(ps->n), PEKO__PEERS_MAX));
    uint32_t e = ps->n++;
    peko__peer *p = &ps->entries[e];
    peko__peer_init(ps, p, addr, fp);
    place(ps, e);
    if (ps->lru) {
        lru_append(ps, e);
        bucket_push(ps, e, fp);
    }
    return p;
}

/* Backward-shift deletion keeps linear probing correct without
 * tombstones: later slots of the same probe run move back into the hole
 * (as in seen.c). Then the last entry fills entry e's place, so the
 * entries stay dense. */
void peko__peers_remove(peko__peers *ps, uint32_t e)
{
    g_assert(e < ps->n);
    peko__peer *p = &ps->entries[e];
    uint32_t fp = peko__peer_fp(ps, p);
    if (peko__peer_is_dead(p))
        ps->lru->n_dead--;
    peko__peer_clear(ps, p);
    if (ps->lru) {
        lru_unlink(ps, e);
        bucket_relink(ps, e, fp, peko__peers_link(ps, e, PEKO__LINK_NEXT));
    }
    uint32_t hole = slot_of_entry(ps, e, fp);
    for (uint32_t i = slot_next(ps, hole);; i = slot_next(ps, i)) {
        uint32_t at = peko__peers_entry_in(ps, i);
        if (at == PEKO__ENTRY_NONE)
            break;
        uint32_t home = slot_home(ps, peko__peer_fp(ps, &ps->entries[at]));
        /* Move slot i into the hole unless its home lies cyclically in
         * (hole, i]: then the hole is not on its probe path. */
        bool home_in_range = hole <= i ? (home > hole && home <= i)
                                       : (home > hole || home <= i);
        if (!home_in_range) {
            index_put(ps, hole, at);
            hole = i;
        }
    }
    index_put(ps, hole, PEKO__ENTRY_NONE);
    mark(ps, hole, false);

    uint32_t last = ps->n - 1;
    if (e != last) {
        peko__peer *moved = &ps->entries[last];
        uint32_t moved_fp = peko__peer_fp(ps, moved);
        index_put(ps, slot_of_entry(ps, last, moved_fp), e);
        *p = *moved;
        if (ps->lru)
            lru_renumber(ps, last, e, moved_fp);
    }
    memset(&ps->entries[last], 0, sizeof ps->entries[last]);
    ps->n--;
}

void peko__peers_shrink(peko__peers *ps)
{
    uint32_t cap = ps->cap;
    while (cap > MIN_SLOTS && (uint64_t)ps->n * 8 < cap)
        cap /= 2;
    if (cap != ps->cap)
        rehash(ps, cap);
    /* The entries give back room once half of it stands empty. */
    if (room_of(ps) > MIN_ROOM && (uint64_t)ps->n * 2 < room_of(ps))
        set_room(ps, (uint32_t)room_for(ps->n));
}

void peko__peers_set_dead(peko__peers *ps, uint32_t e, bool dead)
{
    peko__peer *p = &ps->entries[e];
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
 * few that share a bucket (half a peer to three per bucket) and, in a
 * range that wraps round to its start, one bucket's worth at the front,
 * so the moves are few and this runs in about linear time, where a
 * general sort pays n log n comparisons. */
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
    uint32_t shift = (uint32_t)__builtin_clz(l->n_buckets) + 1;
    /* Buckets the range touches, counted from first's; a range that
     * reaches round to its own start touches them all. */
    uint64_t bucket_span =
        ((uint64_t)(first & ((1ULL << shift) - 1)) + span) >> shift;
    uint64_t n_buckets = bucket_span >= l->n_buckets - 1 ? l->n_buckets
                                                         : bucket_span + 1;
    uint32_t start = bucket_of(l, first);

    /* Buckets come in fingerprint order, so once a bucket is read every
     * peer whose place in the range is before the next bucket's is held,
     * and the early stop is safe. Peers read so far whose place is not
     * that early (those below `first` in first's own bucket, of a range
     * that wraps round to its start) do not count towards `want`: they
     * come last. Ties go by slot, as they did when the records were the
     * slots; a peer's slot is found on its probe run in the index. */
    size_t found = 0, in_order = 0;
    uint64_t *keys = scratch; /* place << 32 | slot: sorts by place, slot */
    for (uint64_t d = 0; d < n_buckets && in_order <= want; d++) {
        uint32_t b = (uint32_t)((start + d) & (l->n_buckets - 1));
        for (uint32_t e = bucket_get(ps, b); e != PEKO__ENTRY_NONE;
             e = peko__peers_link(ps, e, PEKO__LINK_NEXT)) {
            uint32_t fp = peko__peer_fp(ps, &ps->entries[e]);
            uint32_t key = fp - first;
            if (key > span)
                continue;
            keys[found++] = (uint64_t)key << 32 | slot_of_entry(ps, e, fp);
            if ((uint64_t)key < ((d + 1) << shift))
                in_order++;
        }
    }
    sort_nearly_sorted(keys, found);
    for (size_t k = 0; k < found; k++)
        out[k] = peko__peers_entry_in(ps, (uint32_t)keys[k]);
    return found;
}
