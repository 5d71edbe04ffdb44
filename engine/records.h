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

struct peko_records {
    peko__record **pages;    /* n_pages pages of PEKO__RECORDS_PAGE */
    uint32_t n_pages;
    uint32_t n_made;         /* handles handed out so far, 0 included */
    uint32_t free_head;      /* a freed handle, or PEKO__RECORD_NONE */
    uint32_t n;              /* records in use */
    uint32_t *index;         /* cap slots of handles (0: empty), by hash */
    uint32_t cap;            /* a power of two, or 0 */
    /* Work space lent to one node list's call, never two at once (below). */
    void *scratch;
    size_t scratch_bytes;
    bool scratch_lent;
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

/* Work space of at least n_bytes for one call of a node list sharing the
 * table, handed back with peko__records_scratch_return(). The node lists
 * sharing a table run on one thread (peko.h), so one buffer, grown to the
 * largest asked for, serves them all: a swap's entries (up to about 80 KB
 * at the default Size) then cost no allocation. An allocation of that
 * size for every swap is what a simulator's heap, fragmented by thousands
 * of growing peer tables, serves slowest (docs/simulator.md). A call made
 * while the buffer is lent (an observer calling a second node list) gets
 * an allocation of its own. Cannot fail (aborts when memory runs out). */
void *peko__records_scratch_borrow(peko_records *rs, size_t n_bytes);
void peko__records_scratch_return(peko_records *rs, void *scratch);

#endif /* PEKO_RECORDS_H */
