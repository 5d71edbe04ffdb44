/* addrmap.c: node addresses back to node ids (addrmap.h). */
#include "addrmap.h"

#include <glib.h>

void ana__addrmap_init(ana__addrmap *map, size_t max_nodes)
{
    size_t cap = 16;
    while (cap < 2 * max_nodes)
        cap *= 2;
    map->slots = g_new0(ana__addrmap_slot, cap);
    map->mask = cap - 1;
}

void ana__addrmap_clear(ana__addrmap *map)
{
    g_free(map->slots);
    map->slots = NULL;
    map->mask = 0;
}

bool ana__addrmap_insert(ana__addrmap *map, const peko_addr *addr,
                         uint32_t node)
{
    size_t i = (size_t)ana__addr_hash(addr) & map->mask;
    for (;; i = (i + 1) & map->mask) {
        ana__addrmap_slot *slot = &map->slots[i];
        if (slot->node_plus_one == 0) {
            slot->addr = *addr;
            slot->node_plus_one = node + 1;
            return true;
        }
        if (peko_addr_equal(&slot->addr, addr))
            return false;
    }
}

bool ana__addrmap_find(const ana__addrmap *map, const peko_addr *addr,
                       uint32_t *node)
{
    if (map->slots == NULL)
        return false;
    size_t i = (size_t)ana__addr_hash(addr) & map->mask;
    for (;; i = (i + 1) & map->mask) {
        const ana__addrmap_slot *slot = &map->slots[i];
        if (slot->node_plus_one == 0)
            return false;
        if (peko_addr_equal(&slot->addr, addr)) {
            *node = slot->node_plus_one - 1;
            return true;
        }
    }
}
