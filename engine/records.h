/* records.h: peer records shared between node lists (private to engine/;
 * the type is peko.h's peko_records).
 *
 * A record is what a peer *is*, apart from what a node list knows about
 * its liveness: its address (and the address's fingerprint), its name and
 * its private data. Records are interned: equal ones are one record with
 * a count of references, named by a handle (a small number, never 0), so
 * a simulator whose N engines each list the same N peers holds N records,
 * not N^2 (docs/simulator.md, "Where the bytes of a peer table go"). A
 * handle's record stays where it is while the handle is held: records
 * live in pages of PEKO__RECORDS_PAGE that never move.
 *
 * Handles are handed out in the order records are first made (a freed one
 * is reused first), so they depend on what every node list sharing the
 * table did; nothing a node list decides may depend on them (peers.h
 * orders by fingerprint and slot only).
 */
#ifndef PEKO_RECORDS_H
#define PEKO_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "peko.h"

#define PEKO__RECORDS_PAGE_BITS 10
#define PEKO__RECORDS_PAGE (1u << PEKO__RECORDS_PAGE_BITS)
#define PEKO__RECORD_NONE 0u

/* 48 bytes. */
typedef struct peko__record {
    peko_addr addr;          /* the node's identity */
    uint32_t fingerprint;    /* peko_addr_fingerprint(&addr) */
    uint32_t refs;           /* references held; 0: free */
    uint32_t hash;           /* of address, name and data (records.c) */
    uint16_t name_len;       /* not NUL-terminated, as on the wire */
    uint16_t data_len;
    uint32_t next_free;      /* a free record: the next free handle */
    uint8_t *text;           /* name then data, owned; NULL if both empty */
} peko__record;

/* Buffers lent at once: one call holds at most three (a swap answer: the
 * request's entries, the answer's, a range), and an observer may call a
 * second node list in the middle of it. A borrow beyond them gets an
 * allocation of its own. */
#define PEKO__RECORDS_LOANS 6

typedef struct peko__loan {
    void *mem;
    size_t bytes;
    bool lent;
} peko__loan;

struct peko_records {
    peko__record **pages;    /* n_pages pages of PEKO__RECORDS_PAGE */
    uint32_t n_pages;
    uint32_t n_made;         /* handles handed out so far, 0 included */
    uint32_t free_head;      /* a freed handle, or PEKO__RECORD_NONE */
    uint32_t n;              /* records in use */
    uint32_t *index;         /* cap slots of handles (0: empty), by hash */
    uint32_t cap;            /* a power of two, or 0 */
    /* Work space lent for the length of one call (below). */
    peko__loan loans[PEKO__RECORDS_LOANS];
};

/* The record of handle h (held). */
static inline const peko__record *peko__records_get(const peko_records *rs,
                                                    uint32_t h)
{
    return &rs->pages[h >> PEKO__RECORDS_PAGE_BITS]
                     [h & (PEKO__RECORDS_PAGE - 1)];
}

/* A reference to the record (addr, name, data), made if there is none;
 * fp is addr's fingerprint. Name and data are copied. Cannot fail (aborts
 * when memory runs out, or past 2^32 references). */
uint32_t peko__records_intern(peko_records *rs, const peko_addr *addr,
                              uint32_t fp, const uint8_t *name,
                              uint16_t name_len, const uint8_t *data,
                              uint16_t data_len);
/* Drops a reference; the record is freed with its last. */
void peko__records_release(peko_records *rs, uint32_t h);

/* True if record h holds this name and data. */
bool peko__records_text_equal(const peko_records *rs, uint32_t h,
                              const uint8_t *name, uint16_t name_len,
                              const uint8_t *data, uint16_t data_len);

/* Work space of at least n_bytes for one call of a node list using the
 * table, handed back with peko__records_scratch_return() before the call
 * returns: encodings, infected sets, a swap's entries, a range's peers.
 * Nothing in it survives a call, so the node lists sharing a table, which
 * run on one thread (peko.h), share a few buffers, each grown to the
 * largest asked of it, where each used to keep its own: at 2,000 nodes
 * that was 90 KB a node list, most of a megabyte per thousand membership
 * entries (docs/simulator.md). No allocation per call either: a swap's
 * entries (up to about 80 KB at the default Size) allocated per call are
 * what a simulator's heap, fragmented by thousands of growing peer
 * tables, serves slowest. Borrows nest; past PEKO__RECORDS_LOANS lent at
 * once, a borrow gets an allocation of its own. Cannot fail (aborts when memory runs out). */
void *peko__records_scratch_borrow(peko_records *rs, size_t n_bytes);
void peko__records_scratch_return(peko_records *rs, void *scratch);

#endif /* PEKO_RECORDS_H */
