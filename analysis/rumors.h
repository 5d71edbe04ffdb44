/* rumors.h: the recorder's in-memory table of recorded rumors.
 *
 * Internal to the analysis library. Rumors are numbered 1, 2, ... in the
 * order they are added (their rumor_id), and stored in that order, so the
 * rows written follow it; the hash index only answers "which rumor_id is
 * (kind, origin, engine id)?" and is never iterated.
 *
 * Each rumor carries a bitmap of the nodes that hold it, so a node is
 * infected at most once per rumor whatever the engine reports (a
 * heartbeat seen again after its seen-cache entry was evicted, metadata
 * that arrived by swap before its rumor).
 */
#ifndef ANA_RUMORS_H
#define ANA_RUMORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"

typedef struct ana__rumor {
    peko_addr origin;      /* as the engine names it */
    uint64_t engine_id;    /* peko_rumor.id */
    int64_t created_us;    /* run time of its creation */
    uint64_t copies;       /* copies received, first or duplicate */
    uint64_t duplicates;   /* copies received by a node that held it */
    uint64_t messages;     /* packets sent carrying it */
    uint64_t *held;        /* bitmap of nodes holding it */
    uint32_t origin_node;  /* node id of its creator */
    uint32_t infected;     /* bits set in held */
    uint8_t kind;          /* PEKO_MSG_HEARTBEAT or PEKO_MSG_METADATA */
    bool written;          /* its row exists in the file */
    bool dirty;            /* counters changed since it was last written */
} ana__rumor;

typedef struct ana__rumors {
    ana__rumor *items;     /* rumor_id - 1 indexes it */
    size_t n;
    size_t cap;
    uint32_t *slots;       /* rumor_id, or 0 for an empty slot */
    size_t mask;           /* slots - 1 */
    size_t held_words;     /* 64-bit words per bitmap */
} ana__rumors;

void ana__rumors_init(ana__rumors *rumors, size_t n_nodes);
void ana__rumors_clear(ana__rumors *rumors);

/* The rumor_id of (kind, origin, engine_id), or 0 if not recorded. */
uint32_t ana__rumors_find(const ana__rumors *rumors, uint8_t kind,
                          const peko_addr *origin, uint64_t engine_id);

/* Records a new rumor and returns its rumor_id; returns 0, changing
 * nothing, if it is recorded already (or the table holds UINT32_MAX - 1
 * rumors, a bound no run reaches). */
uint32_t ana__rumors_add(ana__rumors *rumors, uint8_t kind,
                         const peko_addr *origin, uint64_t engine_id,
                         uint32_t origin_node, int64_t created_us);

static inline ana__rumor *ana__rumors_get(ana__rumors *rumors, uint32_t id)
{
    return &rumors->items[id - 1];
}

/* Marks `node` as holding the rumor. Returns true if it did not before. */
static inline bool ana__rumor_hold(ana__rumor *rumor, uint32_t node)
{
    uint64_t bit = 1ULL << (node & 63);
    uint64_t *word = &rumor->held[node >> 6];
    if (*word & bit)
        return false;
    *word |= bit;
    rumor->infected++;
    rumor->dirty = true;
    return true;
}

#endif /* ANA_RUMORS_H */
