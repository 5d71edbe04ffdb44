/* partition.c: partitions as bits of two per-node masks.
 *
 * Each active partition owns one or more of 64 "side" bits. For a bit b,
 * a node may be on side A (part_a has b), side B (part_b has b) or
 * neither. A packet from s to d is cut if, for some bit, s is on A and d
 * on B, or, for a symmetric bit, s is on B and d on A:
 *     (a[s] & b[d]) | (b[s] & a[d] & symmetric) != 0
 * which is two loads and three ANDs per send whatever the cluster size,
 * and 16 bytes per node instead of an N x N matrix.
 *
 * A k-group symmetric partition labels its groups 1..k (0 for nodes in no
 * group) and spends one bit per binary digit of the label: two nodes in
 * different groups differ in some digit, so one is on A and the other on
 * B for that bit. Healing clears the partition's bits on every node:
 * O(N), once per heal.
 */
#include "world-private.h"

#include <errno.h>

/* The lowest `count` free bits, or 0 if there are fewer. */
static uint64_t take_bits(const sim_world *w, unsigned count)
{
    uint64_t mask = 0;
    unsigned got = 0;
    for (unsigned b = 0; b < SIM_MAX_PARTITION_BITS && got < count; b++) {
        uint64_t bit = (uint64_t)1 << b;
        if (!(w->part_bits & bit)) {
            mask |= bit;
            got++;
        }
    }
    return got == count ? mask : 0;
}

static int add_partition(sim_world *w, uint64_t mask, bool symmetric)
{
    g_assert(w->n_parts < SIM_MAX_PARTITION_BITS);
    int id = ++w->next_part_id;
    w->parts[w->n_parts++] = (sim_partition){.id = id, .mask = mask};
    w->part_bits |= mask;
    if (symmetric)
        w->part_symmetric |= mask;
    return id;
}

static bool indices_ok(const sim_world *w, const size_t *idx, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (idx[k] >= w->n)
            return false;
    return true;
}

int sim_world_partition(sim_world *w, const size_t *group_a, size_t n_a,
                        const size_t *group_b, size_t n_b, bool one_way)
{
    if (n_a == 0 || n_b == 0 || group_a == NULL || group_b == NULL ||
        !indices_ok(w, group_a, n_a) || !indices_ok(w, group_b, n_b))
        return -EINVAL;
    uint64_t bit = take_bits(w, 1);
    if (bit == 0)
        return -ENOSPC;
    for (size_t k = 0; k < n_a; k++)
        w->nodes[group_a[k]].part_a |= bit;
    for (size_t k = 0; k < n_b; k++) {
        sim_node *node = &w->nodes[group_b[k]];
        if (node->part_a & bit) {
            /* In both groups: undo and refuse. */
            for (size_t j = 0; j < n_a; j++)
                w->nodes[group_a[j]].part_a &= ~bit;
            for (size_t j = 0; j < k; j++)
                w->nodes[group_b[j]].part_b &= ~bit;
            return -EINVAL;
        }
        node->part_b |= bit;
    }
    return add_partition(w, bit, !one_way);
}

int sim_world_partition_groups(sim_world *w, const size_t *const *groups,
                               const size_t *n_each, size_t n_groups)
{
    if (n_groups == 0 || groups == NULL || n_each == NULL ||
        n_groups >= ((size_t)1 << 32))
        return -EINVAL;
    for (size_t g = 0; g < n_groups; g++)
        if ((n_each[g] && groups[g] == NULL) ||
            !indices_ok(w, groups[g], n_each[g]))
            return -EINVAL;
    /* Labels 0 (no group) .. n_groups need this many binary digits. */
    unsigned digits = 0;
    while (((uint64_t)1 << digits) <= n_groups)
        digits++;
    uint64_t mask = take_bits(w, digits);
    if (mask == 0)
        return -ENOSPC;
    uint32_t *label = g_new0(uint32_t, w->n);
    for (size_t g = 0; g < n_groups; g++) {
        for (size_t k = 0; k < n_each[g]; k++) {
            uint32_t *l = &label[groups[g][k]];
            if (*l != 0 && *l != g + 1) {
                g_free(label);
                return -EINVAL;
            }
            *l = (uint32_t)(g + 1);
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        unsigned digit = 0;
        for (unsigned b = 0; b < SIM_MAX_PARTITION_BITS; b++) {
            uint64_t bit = (uint64_t)1 << b;
            if (!(mask & bit))
                continue;
            if (label[i] >> digit & 1)
                w->nodes[i].part_b |= bit;
            else
                w->nodes[i].part_a |= bit;
            digit++;
        }
    }
    g_free(label);
    return add_partition(w, mask, true);
}

static void clear_bits(sim_world *w, uint64_t mask)
{
    for (size_t i = 0; i < w->n; i++) {
        w->nodes[i].part_a &= ~mask;
        w->nodes[i].part_b &= ~mask;
    }
    w->part_bits &= ~mask;
    w->part_symmetric &= ~mask;
}

int sim_world_heal(sim_world *w, int id)
{
    for (size_t k = 0; k < w->n_parts; k++) {
        if (w->parts[k].id != id)
            continue;
        clear_bits(w, w->parts[k].mask);
        /* Keep the others in creation order. */
        for (size_t j = k + 1; j < w->n_parts; j++)
            w->parts[j - 1] = w->parts[j];
        w->n_parts--;
        return 0;
    }
    return -ENOENT;
}

void sim_world_heal_all(sim_world *w)
{
    if (w->part_bits)
        clear_bits(w, w->part_bits);
    w->n_parts = 0;
}

bool sim_world_is_cut(const sim_world *w, size_t from, size_t to)
{
    g_return_val_if_fail(from < w->n && to < w->n, false);
    return w->part_bits != 0 && sim__cut(w, &w->nodes[from], &w->nodes[to]);
}
