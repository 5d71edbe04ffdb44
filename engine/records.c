/* records.c: interned peer records (see records.h). */
#include "records.h"

#include "hash.h"

#include <glib.h>
#include <string.h>

G_STATIC_ASSERT(sizeof(peko__record) == 48);

#define MIN_SLOTS 64

peko_records *peko_records_new(void)
{
    peko_records *rs = g_new0(peko_records, 1);
    rs->n_made = 1; /* handle 0 is PEKO__RECORD_NONE */
    return rs;
}

void peko_records_free(peko_records *rs)
{
    if (rs == NULL)
        return;
    for (uint32_t h = 1; h < rs->n_made; h++)
        g_free(rs->pages[h >> PEKO__RECORDS_PAGE_BITS]
                        [h & (PEKO__RECORDS_PAGE - 1)]
                            .text);
    for (uint32_t i = 0; i < rs->n_pages; i++)
        g_free(rs->pages[i]);
    g_free(rs->pages);
    g_free(rs->index);
    for (unsigned i = 0; i < PEKO__RECORDS_LOANS; i++)
        g_free(rs->loans[i].mem);
    g_free(rs);
}

void *peko__records_scratch_borrow(peko_records *rs, size_t n_bytes)
{
    /* The smallest free buffer that is large enough, else the largest
     * free one, grown: a few buffers serve calls of many sizes. */
    peko__loan *fit = NULL;
    peko__loan *largest = NULL;
    for (unsigned i = 0; i < PEKO__RECORDS_LOANS; i++) {
        peko__loan *l = &rs->loans[i];
        if (l->lent)
            continue;
        if (l->bytes >= n_bytes && (fit == NULL || l->bytes < fit->bytes))
            fit = l;
        if (largest == NULL || l->bytes > largest->bytes)
            largest = l;
    }
    peko__loan *pick = fit ? fit : largest;
    if (pick == NULL)
        return g_malloc(MAX(n_bytes, 1));
    if (pick->bytes < n_bytes) {
        /* Grown by doubling, and never copied: nothing in it survives a
         * call. */
        size_t bytes = MAX(pick->bytes, 4096);
        while (bytes < n_bytes)
            bytes *= 2;
        g_free(pick->mem);
        pick->mem = g_malloc(bytes);
        pick->bytes = bytes;
    }
    pick->lent = true;
    return pick->mem;
}

void peko__records_scratch_return(peko_records *rs, void *scratch)
{
    for (unsigned i = 0; i < PEKO__RECORDS_LOANS; i++) {
        peko__loan *l = &rs->loans[i];
        if (l->lent && l->mem == scratch) {
            l->lent = false;
            return;
        }
    }
    g_free(scratch);
}

static peko__record *record_at(peko_records *rs, uint32_t h)
{
    return (peko__record *)peko__records_get(rs, h);
}

/* peko_addr has no padding and zeroes what it does not use (peko.h), so
 * its bytes can be hashed as they lie. */
static uint32_t record_hash(const peko_addr *addr, const uint8_t *name,
                            uint16_t name_len, const uint8_t *data,
                            uint16_t data_len)
{
    uint32_t h = peko__fnv1a32(PEKO__FNV32_BASIS, (const uint8_t *)addr,
                               sizeof *addr);
    h = peko__fnv1a32(h, name, name_len);
    h = peko__fnv1a32(h ^ 0xffu, data, data_len); /* "ab"+"" != "a"+"b" */
    return peko__fmix32(h);
}

bool peko__records_text_equal(const peko_records *rs, uint32_t h,
                              const uint8_t *name, uint16_t name_len,
                              const uint8_t *data, uint16_t data_len)
{
    const peko__record *r = peko__records_get(rs, h);
    return r->name_len == name_len && r->data_len == data_len &&
           (name_len == 0 || memcmp(r->text, name, name_len) == 0) &&
           (data_len == 0 || memcmp(r->text + name_len, data, data_len) == 0);
}

static void grow_index(peko_records *rs)
{
    uint32_t cap = rs->cap ? rs->cap * 2 : MIN_SLOTS;
    uint32_t *index = g_new0(uint32_t, cap);
    for (uint32_t i = 0; i < rs->cap; i++) {
        uint32_t h = rs->index[i];
        if (h == PEKO__RECORD_NONE)
            continue;
        uint32_t s = record_at(rs, h)->hash & (cap - 1);
        while (index[s] != PEKO__RECORD_NONE)
            s = (s + 1) & (cap - 1);
        index[s] = h;
    }
    g_free(rs->index);
    rs->index = index;
    rs->cap = cap;
}

/* A fresh handle: a freed one first, else the next never used. */
static uint32_t take_handle(peko_records *rs)
{
    if (rs->free_head != PEKO__RECORD_NONE) {
        uint32_t h = rs->free_head;
        rs->free_head = record_at(rs, h)->next_free;
        return h;
    }
    if (rs->n_made == UINT32_MAX)
        g_error("peko: more than %u peer records", UINT32_MAX - 1);
    uint32_t h = rs->n_made++;
    uint32_t page = h >> PEKO__RECORDS_PAGE_BITS;
    if (page == rs->n_pages) {
        rs->pages = g_renew(peko__record *, rs->pages, rs->n_pages + 1);
        rs->pages[rs->n_pages++] = g_new0(peko__record, PEKO__RECORDS_PAGE);
    }
    return h;
}

uint32_t peko__records_intern(peko_records *rs, const peko_addr *addr,
                              uint32_t fp, const uint8_t *name,
                              uint16_t name_len, const uint8_t *data,
                              uint16_t data_len)
{
    uint32_t hash = record_hash(addr, name, name_len, data, data_len);
    if (rs->cap) {
        for (uint32_t s = hash & (rs->cap - 1);
             rs->index[s] != PEKO__RECORD_NONE; s = (s + 1) & (rs->cap - 1)) {
            uint32_t h = rs->index[s];
            peko__record *r = record_at(rs, h);
            if (r->hash == hash && peko_addr_equal(&r->addr, addr) &&
                peko__records_text_equal(rs, h, name, name_len, data,
                                         data_len)) {
                if (r->refs == UINT32_MAX)
                    g_error("peko: too many references to a peer record");
                r->refs++;
                return h;
            }
        }
    }
    if ((uint64_t)(rs->n + 1) * 4 > (uint64_t)rs->cap * 3)
        grow_index(rs);
    uint32_t h = take_handle(rs);
    peko__record *r = record_at(rs, h);
    memset(r, 0, sizeof *r);
    r->addr = *addr;
    r->fingerprint = fp;
    r->refs = 1;
    r->hash = hash;
    r->name_len = name_len;
    r->data_len = data_len;
    if ((size_t)name_len + data_len) {
        r->text = g_malloc((size_t)name_len + data_len);
        if (name_len)
            memcpy(r->text, name, name_len);
        if (data_len)
            memcpy(r->text + name_len, data, data_len);
    }
    uint32_t s = hash & (rs->cap - 1);
    while (rs->index[s] != PEKO__RECORD_NONE)
        s = (s + 1) & (rs->cap - 1);
    rs->index[s] = h;
    rs->n++;
    return h;
}

/* Backward-shift deletion, as in peers.c. */
static void unindex(peko_records *rs, uint32_t h)
{
    uint32_t mask = rs->cap - 1;
    uint32_t hole = record_at(rs, h)->hash & mask;
    while (rs->index[hole] != h) {
        g_assert(rs->index[hole] != PEKO__RECORD_NONE);
        hole = (hole + 1) & mask;
    }
    for (uint32_t i = (hole + 1) & mask; rs->index[i] != PEKO__RECORD_NONE;
         i = (i + 1) & mask) {
        uint32_t home = record_at(rs, rs->index[i])->hash & mask;
        bool home_in_range = hole <= i ? (home > hole && home <= i)
                                       : (home > hole || home <= i);
        if (!home_in_range) {
            rs->index[hole] = rs->index[i];
            hole = i;
        }
    }
    rs->index[hole] = PEKO__RECORD_NONE;
}

void peko__records_release(peko_records *rs, uint32_t h)
{
    g_assert(h != PEKO__RECORD_NONE && h < rs->n_made);
    peko__record *r = record_at(rs, h);
    g_assert(r->refs > 0);
    if (--r->refs)
        return;
    unindex(rs, h);
    g_free(r->text);
    memset(r, 0, sizeof *r);
    r->next_free = rs->free_head;
    rs->free_head = h;
    rs->n--;
}
