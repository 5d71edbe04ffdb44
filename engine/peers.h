/* peers.h: the peers a node list knows, stored in a hash table keyed by
 * address (private to engine/).
 *
 * Every delivered heartbeat looks its origin up here, and every forward
 * reads a few peers drawn at random, so in a large cluster these reads are
 * the engine's cache (and TLB) misses; and a simulated cluster holds N
 * tables of N peers, so their bytes per peer are most of its memory.
 * Hence the layout: what a peer *is* (address, fingerprint, name,
 * private data) is a record in a table of records that node lists may
 * share (records.h: a simulator's engines share one, so each peer's is
 * held once, not once per engine), and what this node list knows about
 * it (the heartbeat version it holds, when it last heard of it, flags) is
 * a 24-byte *entry* naming that record by a 4-byte handle. The entries
 * form a dense array of exactly the peers held (numbered 0 to n - 1,
 * with room for a quarter more), and an open-addressing table with
 * linear probing, the *index*, holds an entry number per slot (2 bytes
 * in a table of up to 65,536 slots, 4 beyond).
 * Looking a peer up reads the line of index slots from its home, then
 * the entries they name and their records (few and often read, so
 * mostly in cache).
 *
 * Drawing peers at random draws entry numbers (spread.c): the entries
 * are dense, so a draw reads nothing but the entry it picks, where a
 * slot would read its index line first. A bitmap of the slots in use,
 * after the index, tells sweeps in slot order which slots hold a peer
 * without reading the index, and the index is kept between an eighth
 * and three quarters full (the caller shrinks it after removing peers).
 * Slots are the handles of sweeps in slot order (peko__peers_at); entry
 * numbers those of draws, of the refresh list, of ranges and of the
 * calls that change one peer.
 *
 * Which slot and which entry number a peer has depends only on the
 * fingerprints and on the order of adds and removes, never on pointer
 * values or record handles, so drawing is deterministic. Adding,
 * removing and shrinking move entries or slots: pointers to entries,
 * entry numbers and slot numbers are good until the next such call. A
 * pointer to a record is good while an entry holds its handle.
 *
 * An entry sits in the slot its fingerprint's low bits name (the home),
 * or the next free one after it. An *ordered* table (the strategies with
 * anti-entropy) adds, per entry, links for two more orders: its peers in
 * a list ordered by last refresh, least recent first, so expiry
 * reads only the peers that are due and digests ask first about the peers
 * most at risk; and buckets by the fingerprint's high bits (one bucket
 * for four slots, so half a peer to three each), so the peers of a range of
 * fingerprints are read in a few buckets (peko__peers_collect). The
 * buckets are apart from the slots on purpose: the peers a node learns
 * from range after range are bunched in fingerprint order, and slots
 * chosen by that order would bunch with them into long probe runs. Peers
 * may be marked dead: a tombstone that keeps a removed node's version for
 * one more timeout, so that stale gossip cannot bring it back
 * (docs/protocol.md).
 *
 * Bytes per peer, w the width of an entry number (2 or 4): 24 of entry,
 * up to a quarter of that as room (only what has been written of it is
 * resident), w cap / n of index (1.33 to 2.7 slots a peer as the table
 * grows; up to 8 after removals, as it shrinks only below an eighth
 * full); ordered tables add 3 w of links and w cap / 4n of bucket heads;
 * the records, 48 bytes and the text each, once per distinct peer in the
 * table of records (docs/simulator.md, Performance). At 9,999 peers in
 * 16,384 slots, narrow: 24 + 6 + 3.3 + 0.8 and a bit a slot, about 34.
 *
 * Bound: PEKO__PEERS_MAX peers; adding more aborts, as running out of
 * memory does (it is 24 GiB of entries at the least).
 */
#ifndef PEKO_PEERS_H
#define PEKO_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"
#include "records.h"

#define PEKO__PEERS_MAX (1u << 30)

/* One node as a node list knows it: 24 bytes. */
typedef struct peko__peer {
    uint32_t record;         /* handle of its address, name and data in
                              * the table's records (records.h) */
    uint32_t incarnation;    /* of the newest heartbeat applied */
    int64_t last_seen_us;    /* local monotonic time of the last refresh */
    uint32_t seq;
    uint16_t rev;            /* version of the record (name and data) */
    uint8_t flags;           /* PEKO__PEER_* */
    uint8_t unused;
} peko__peer;

#define PEKO__PEER_DEAD 0x01u     /* a tombstone: not listed, not a target */
#define PEKO__PEER_VERIFIED 0x02u /* proved it receives at its address */
#define PEKO__PEER_HEARTBEAT 0x04u /* incarnation/seq are meaningful */

#define PEKO__SLOT_NONE UINT32_MAX
#define PEKO__ENTRY_NONE UINT32_MAX

/* Entry numbers as the index, the bucket heads and the links store
 * them: one more than the number (so 0 is PEKO__ENTRY_NONE, and zeroed
 * memory holds none), in 2 bytes while the index has at most
 * PEKO__PEERS_NARROW_SLOTS slots, in 4 beyond. At most three quarters of
 * the slots are in use, so a narrow table holds at most 49,152 entries,
 * numbered below 65,535; the width changes only when the index is
 * rebuilt (rehash in peers.c), which rewrites every stored number. A
 * table of the member bound's default (65,536 peers) is wide; one of
 * 10,000 peers is narrow, which halves its index and links. */
#define PEKO__PEERS_NARROW_SLOTS 65536u

/* Stored number i of an array of them, `narrow` or not, decoded. */
static inline uint32_t peko__ids_get(const void *ids, size_t i, bool narrow)
{
    return (narrow ? (uint32_t)((const uint16_t *)ids)[i]
                   : ((const uint32_t *)ids)[i]) - 1u;
}

static inline void peko__ids_put(void *ids, size_t i, uint32_t e,
                                 bool narrow)
{
    if (narrow)
        ((uint16_t *)ids)[i] = (uint16_t)(e + 1u);
    else
        ((uint32_t *)ids)[i] = e + 1u;
}

/* Links of an ordered table, three stored entry numbers per entry:
 * its neighbours in the refresh list (least recently refreshed at the
 * head) and the next entry in its bucket (the fingerprints whose high
 * bits are the bucket's number). A bucket's fingerprints are read from
 * the records, which the engines of a simulation share and so mostly
 * find in cache. */
#define PEKO__LINK_OLDER 0
#define PEKO__LINK_NEWER 1
#define PEKO__LINK_NEXT 2
#define PEKO__LINKS 3

/* An ordered table's indexes: the refresh list's ends (decoded), the
 * bucket heads (one for four slots) and the links, each of the table's
 * width. */
typedef struct peko__lru {
    uint32_t head;
    uint32_t tail;
    uint32_t n_dead;         /* tombstones (only ordered tables have any) */
    uint32_t n_buckets;      /* cap / 4 */
    void *bucket;            /* n_buckets heads */
    void *links;             /* PEKO__LINKS per entry of room */
} peko__lru;

/* 40 bytes: it shares the node list's first cache line (nodelist.c). */
typedef struct peko__peers {
    peko__peer *entries;     /* n entries; the 8 bytes before them hold
                              * their room (peers.c) */
    void *index;             /* cap slots, each a stored entry number
                              * (none when empty), then cap bits:
                              * which slots hold a peer */
    peko__lru *lru;          /* ordered tables only; NULL for plain ones */
    peko_records *records;   /* borrowed: the records entries name */
    uint32_t n;              /* peers held, dead ones included */
    uint32_t cap;            /* slots: a power of two, or 0 */
} peko__peers;

/* ------------------------------------------------------------------ */
/* A peer's record: address, name and data.                             */

static inline const peko__record *peko__peer_record(const peko__peers *ps,
                                                    const peko__peer *p)
{
    return peko__records_get(ps->records, p->record);
}

static inline const peko_addr *peko__peer_addr(const peko__peers *ps,
                                               const peko__peer *p)
{
    return &peko__peer_record(ps, p)->addr;
}

static inline uint32_t peko__peer_fp(const peko__peers *ps,
                                     const peko__peer *p)
{
    return peko__peer_record(ps, p)->fingerprint;
}

static inline uint16_t peko__peer_name_len(const peko__peers *ps,
                                           const peko__peer *p)
{
    return peko__peer_record(ps, p)->name_len;
}

static inline uint16_t peko__peer_data_len(const peko__peers *ps,
                                           const peko__peer *p)
{
    return peko__peer_record(ps, p)->data_len;
}

/* Never NULL, even when empty. */
static inline const uint8_t *peko__peer_name(const peko__peers *ps,
                                             const peko__peer *p)
{
    const peko__record *r = peko__peer_record(ps, p);
    return r->text ? r->text : (const uint8_t *)"";
}

static inline const uint8_t *peko__peer_data(const peko__peers *ps,
                                             const peko__peer *p)
{
    const peko__record *r = peko__peer_record(ps, p);
    return r->text ? r->text + r->name_len : (const uint8_t *)"";
}

static inline bool peko__peer_has_heartbeat(const peko__peer *p)
{
    return (p->flags & PEKO__PEER_HEARTBEAT) != 0;
}

/* Makes *p a peer at `addr` (fp its fingerprint) with an empty name and
 * data and everything else zero, outside any table (the node list's own
 * record); peko__peer_clear() releases it. */
void peko__peer_init(peko__peers *ps, peko__peer *p, const peko_addr *addr,
                     uint32_t fp);
/* Releases p's record (p is then unusable until init again). */
void peko__peer_clear(peko__peers *ps, peko__peer *p);

/* Sets the name and data (copied) unless they are already equal, which
 * is the common case: every heartbeat carries them. Returns true if they
 * changed. Cannot fail. */
bool peko__peer_set_text(peko__peers *ps, peko__peer *p, const uint8_t *name,
                         uint16_t name_len, const uint8_t *data,
                         uint16_t data_len);

/* ------------------------------------------------------------------ */
/* The table.                                                           */

/* An empty table, ordered or plain, whose entries name records of
 * `records` (borrowed: it outlives the table); nothing is allocated until
 * the first add. */
void peko__peers_init(peko__peers *ps, bool ordered, peko_records *records);
/* Releases every entry's record and frees the table's memory. The table
 * is then all zeros: init it again before another use. */
void peko__peers_free(peko__peers *ps);

static inline bool peko__peer_is_dead(const peko__peer *p)
{
    return (p->flags & PEKO__PEER_DEAD) != 0;
}

/* Tombstones held. */
static inline uint32_t peko__peers_dead(const peko__peers *ps)
{
    return ps->lru ? ps->lru->n_dead : 0;
}

/* Peers that are listed: held and not dead. */
static inline uint32_t peko__peers_live(const peko__peers *ps)
{
    return ps->n - peko__peers_dead(ps);
}

/* The slot a fingerprint's probe run starts at. */
static inline uint32_t peko__peers_home(const peko__peers *ps, uint32_t fp)
{
    /* Fingerprints are already well mixed (peko_addr_fingerprint ends
     * with a finalizer), so their low bits pick the home slot. */
    return fp & (ps->cap - 1);
}

/* True while the table stores entry numbers in 2 bytes. */
static inline bool peko__peers_narrow(const peko__peers *ps)
{
    return ps->cap <= PEKO__PEERS_NARROW_SLOTS;
}

/* Bytes of a stored entry number. */
static inline size_t peko__peers_width(const peko__peers *ps)
{
    return peko__peers_narrow(ps) ? 2 : 4;
}

/* The index's bits, one a slot, after its cap stored entry numbers:
 * which slots hold a peer. */
static inline uint64_t *peko__peers_used_bits(const peko__peers *ps)
{
    return (uint64_t *)((uint8_t *)ps->index +
                        (size_t)ps->cap * peko__peers_width(ps));
}

/* True if `slot` (< cap) holds a peer: a bit test, no record read. */
static inline bool peko__peers_used(const peko__peers *ps, uint32_t slot)
{
    return (peko__peers_used_bits(ps)[slot >> 6] >> (slot & 63)) & 1;
}

/* The entry in `slot`, or PEKO__ENTRY_NONE if it holds none. */
static inline uint32_t peko__peers_entry_in(const peko__peers *ps,
                                            uint32_t slot)
{
    return peko__ids_get(ps->index, slot, peko__peers_narrow(ps));
}

/* Entry e (< n). */
static inline peko__peer *peko__peers_entry(const peko__peers *ps,
                                            uint32_t e)
{
    return &ps->entries[e];
}

/* The entry in `slot` (which holds a peer). */
static inline peko__peer *peko__peers_at(const peko__peers *ps,
                                         uint32_t slot)
{
    return &ps->entries[peko__peers_entry_in(ps, slot)];
}

/* The entry number of an entry of the table. */
static inline uint32_t peko__peers_entry_of(const peko__peers *ps,
                                            const peko__peer *p)
{
    return (uint32_t)(p - ps->entries);
}

/* Starts fetching index slot `slot` (< cap). */
static inline void peko__peers_prefetch_slot(const peko__peers *ps,
                                             uint32_t slot)
{
    __builtin_prefetch((const uint8_t *)ps->index +
                       (size_t)slot * peko__peers_width(ps));
}

/* Starts fetching the index slot a lookup of fingerprint fp reads
 * first. */
static inline void peko__peers_prefetch(const peko__peers *ps, uint32_t fp)
{
    if (ps->cap)
        peko__peers_prefetch_slot(ps, peko__peers_home(ps, fp));
}

/* Starts fetching entry e's links (an ordered table's), which a refresh
 * rewrites. */
static inline void peko__peers_prefetch_links(const peko__peers *ps,
                                              uint32_t e)
{
    __builtin_prefetch((const uint8_t *)ps->lru->links +
                       (size_t)e * PEKO__LINKS * peko__peers_width(ps));
}

/* The entry of `addr` (fp is its fingerprint), or NULL. */
peko__peer *peko__peers_find(const peko__peers *ps, const peko_addr *addr,
                             uint32_t fp);
/* Adds an entry for `addr` (not in the table; fp its fingerprint) with
 * an empty name and data and everything else zeroed, and returns it: the
 * last entry. */
peko__peer *peko__peers_add(peko__peers *ps, const peko_addr *addr,
                            uint32_t fp);
/* Removes entry e, releasing its record. In the index, later slots of the
 * same probe run may move back; a slot's entry that moves lands in the
 * slot freed or in one after it (cyclically), so a caller sweeping the
 * slots upwards looks at that slot again and misses nothing. Among the
 * entries, the last one takes number e. Never resizes the index. */
void peko__peers_remove(peko__peers *ps, uint32_t e);
/* Halves the index while it is less than an eighth full (after removals),
 * and gives back the room of entries removed. */
void peko__peers_shrink(peko__peers *ps);

/* Marks entry e dead or alive again. */
void peko__peers_set_dead(peko__peers *ps, uint32_t e, bool dead);

/* ------------------------------------------------------------------ */
/* Ordered tables only.                                                 */

/* Moves entry e to the end of the refresh list (it was just refreshed,
 * or just died). */
void peko__peers_touch(peko__peers *ps, uint32_t e);
/* The least recently refreshed peer's entry, or PEKO__ENTRY_NONE. */
static inline uint32_t peko__peers_oldest(const peko__peers *ps)
{
    return ps->lru && ps->n ? ps->lru->head : PEKO__ENTRY_NONE;
}
/* The most recently refreshed peer's entry, or PEKO__ENTRY_NONE. */
static inline uint32_t peko__peers_newest(const peko__peers *ps)
{
    return ps->lru && ps->n ? ps->lru->tail : PEKO__ENTRY_NONE;
}
/* The next more (or less) recently refreshed entry, or
 * PEKO__ENTRY_NONE. */
static inline uint32_t peko__peers_link(const peko__peers *ps, uint32_t e,
                                        int k)
{
    return peko__ids_get(ps->lru->links, (size_t)e * PEKO__LINKS + k,
                         peko__peers_narrow(ps));
}
static inline uint32_t peko__peers_newer(const peko__peers *ps, uint32_t e)
{
    return peko__peers_link(ps, e, PEKO__LINK_NEWER);
}
static inline uint32_t peko__peers_older(const peko__peers *ps, uint32_t e)
{
    return peko__peers_link(ps, e, PEKO__LINK_OLDER);
}

/* Writes to out[] the entries of the peers (dead ones included) whose
 * fingerprint lies in the cyclic range [first, last], in fingerprint
 * order from `first` (ties by slot), and returns how many it wrote. It
 * stops early once it holds more than `want`: then out[0 .. want] are
 * the want + 1 first of the range in that order, and the rest of the
 * range comes after them. out[] and scratch[] must have room for every
 * peer (n). Reads about as many links, entries, records (for their
 * fingerprints) and index slots as it writes. */
size_t peko__peers_collect(const peko__peers *ps, uint32_t first,
                           uint32_t last, size_t want, uint32_t *out,
                           uint64_t *scratch);

#endif /* PEKO_PEERS_H */
