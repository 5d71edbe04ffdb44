/* rumors.c: the recorder's in-memory table of recorded rumors
 * (rumors.h). */
#include "rumors.h"

#include <glib.h>

#include "addrmap.h"

static uint64_t rumor_hash(uint8_t kind, const peko_addr *origin,
                           uint64_t engine_id)
{
    uint64_t h = ana__addr_hash(origin) ^ ((uint64_t)kind << 61);
    h ^= engine_id * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

static bool rumor_is(const ana__rumor *r, uint8_t kind,
                     const peko_addr *origin, uint64_t engine_id)
{
    return r->kind == kind && r->engine_id == engine_id &&
           peko_addr_equal(&r->origin, origin);
}

void ana__rumors_init(ana__rumors *rumors, size_t n_nodes)
{
    rumors->items = NULL;
    rumors->n = 0;
    rumors->cap = 0;
    rumors->mask = 63;
    rumors->slots = g_new0(uint32_t, rumors->mask + 1);
    rumors->held_words = (n_nodes + 63) / 64;
}

void ana__rumors_clear(ana__rumors *rumors)
{
    for (size_t i = 0; i < rumors->n; i++)
        g_free(rumors->items[i].held);
    g_free(rumors->items);
    g_free(rumors->slots);
    rumors->items = NULL;
    rumors->slots = NULL;
    rumors->n = rumors->cap = 0;
}

uint32_t ana__rumors_find(const ana__rumors *rumors, uint8_t kind,
                          const peko_addr *origin, uint64_t engine_id)
{
    size_t i = (size_t)rumor_hash(kind, origin, engine_id) & rumors->mask;
    for (;; i = (i + 1) & rumors->mask) {
        uint32_t id = rumors->slots[i];
        if (id == 0)
            return 0;
        if (rumor_is(&rumors->items[id - 1], kind, origin, engine_id))
            return id;
    }
}

static void slot_place(uint32_t *slots, size_t mask, const ana__rumor *r,
                       uint32_t id)
{
    size_t i = (size_t)rumor_hash(r->kind, &r->origin, r->engine_id) & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = id;
}

/* Keeps the index at most half full; rebuilt from items in rumor_id
 * order, so it is the same table every run. */
static void grow_index(ana__rumors *rumors)
{
    size_t mask = rumors->mask * 2 + 1;
    uint32_t *slots = g_new0(uint32_t, mask + 1);
    for (size_t k = 0; k < rumors->n; k++)
        slot_place(slots, mask, &rumors->items[k], (uint32_t)(k + 1));
    g_free(rumors->slots);
    rumors->slots = slots;
    rumors->mask = mask;
}

uint32_t ana__rumors_add(ana__rumors *rumors, uint8_t kind,
                         const peko_addr *origin, uint64_t engine_id,
                         uint32_t origin_node, int64_t created_us)
{
    if (rumors->n >= UINT32_MAX - 1 ||
        ana__rumors_find(rumors, kind, origin, engine_id) != 0)
        return 0;
    if (rumors->n == rumors->cap) {
        rumors->cap = rumors->cap ? rumors->cap * 2 : 64;
        rumors->items = g_renew(ana__rumor, rumors->items, rumors->cap);
    }
    if (2 * (rumors->n + 1) > rumors->mask + 1)
        grow_index(rumors);
    uint32_t id = (uint32_t)(rumors->n + 1);
    ana__rumor *r = &rumors->items[rumors->n++];
    *r = (ana__rumor){
        .origin = *origin,
        .engine_id = engine_id,
        .created_us = created_us,
        .held = g_new0(uint64_t, rumors->held_words ? rumors->held_words : 1),
        .origin_node = origin_node,
        .kind = kind,
        .dirty = true,
    };
    slot_place(rumors->slots, rumors->mask, r, id);
    return id;
}
