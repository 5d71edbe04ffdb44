/* filter.c: loss and partitions on real sockets (peko-transport.h).
 *
 * A partition is two sets of addresses and a direction; a message is cut
 * when some partition in effect has its sender on side a and its
 * receiver on side b (or, unless one-way, the reverse). Each check costs
 * two hash lookups per partition in effect, at most
 * PEKO_TRANSPORT_FILTER_MAX_PARTITIONS. Loss draws come from one stream
 * per sender, created on the sender's first message and seeded from
 * (filter seed, sender address), so interleaving between nodes never
 * changes a node's verdicts.
 */
#include <errno.h>
#include <math.h>

#include "transport-private.h"

typedef struct tp_partition {
    int id;
    bool one_way;
    GHashTable *a;  /* peko_addr* set (owned keys) */
    GHashTable *b;
} tp_partition;

struct peko_transport_filter {
    uint64_t seed;
    double loss;
    GHashTable *streams;   /* peko_addr* (owned) -> tp_rng* (owned) */
    GPtrArray *partitions; /* of tp_partition*, in creation order */
    int next_id;
    peko_transport_filter_counters counters;
};

static void partition_free(gpointer p)
{
    tp_partition *part = p;
    g_hash_table_unref(part->a);
    g_hash_table_unref(part->b);
    g_free(part);
}

peko_transport_filter *peko_transport_filter_new(uint64_t seed)
{
    peko_transport_filter *f = g_new0(peko_transport_filter, 1);
    f->seed = seed;
    f->streams = g_hash_table_new_full(tp_addr_hash, tp_addr_equal, g_free,
                                       g_free);
    f->partitions = g_ptr_array_new_with_free_func(partition_free);
    f->next_id = 1;
    return f;
}

void peko_transport_filter_free(peko_transport_filter *f)
{
    if (f == NULL)
        return;
    g_hash_table_unref(f->streams);
    g_ptr_array_free(f->partitions, TRUE);
    g_free(f);
}

int peko_transport_filter_set_loss(peko_transport_filter *f, double rate)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    if (!(rate >= 0 && rate <= 1))
        return -EINVAL;
    f->loss = rate;
    return 0;
}

static GHashTable *addr_set(const peko_addr *addrs, size_t n)
{
    GHashTable *set = g_hash_table_new_full(tp_addr_hash, tp_addr_equal,
                                            g_free, NULL);
    for (size_t i = 0; i < n; i++) {
        peko_addr *key = g_memdup2(&addrs[i], sizeof addrs[i]);
        g_hash_table_add(set, key);
    }
    return set;
}

int peko_transport_filter_partition(peko_transport_filter *f,
                                    const peko_addr *group_a, size_t n_a,
                                    const peko_addr *group_b, size_t n_b,
                                    bool one_way)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    if (n_a == 0 || n_b == 0 || group_a == NULL || group_b == NULL)
        return -EINVAL;
    if (f->partitions->len >= PEKO_TRANSPORT_FILTER_MAX_PARTITIONS)
        return -ENOSPC;
    GHashTable *a = addr_set(group_a, n_a);
    for (size_t i = 0; i < n_b; i++)
        if (g_hash_table_contains(a, &group_b[i])) {
            g_hash_table_unref(a);
            return -EINVAL;
        }
    tp_partition *part = g_new0(tp_partition, 1);
    part->id = f->next_id++;
    part->one_way = one_way;
    part->a = a;
    part->b = addr_set(group_b, n_b);
    g_ptr_array_add(f->partitions, part);
    return part->id;
}

int peko_transport_filter_heal(peko_transport_filter *f, int id)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    for (guint i = 0; i < f->partitions->len; i++) {
        tp_partition *part = g_ptr_array_index(f->partitions, i);
        if (part->id == id) {
            g_ptr_array_remove_index(f->partitions, i);
            return 0;
        }
    }
    return -ENOENT;
}

void peko_transport_filter_heal_all(peko_transport_filter *f)
{
    g_return_if_fail(f != NULL);
    g_ptr_array_set_size(f->partitions, 0);
}

static bool is_cut(const peko_transport_filter *f, const peko_addr *from,
                   const peko_addr *to)
{
    for (guint i = 0; i < f->partitions->len; i++) {
        const tp_partition *part = g_ptr_array_index(f->partitions, i);
        if (g_hash_table_contains(part->a, from) &&
            g_hash_table_contains(part->b, to))
            return true;
        if (!part->one_way && g_hash_table_contains(part->b, from) &&
            g_hash_table_contains(part->a, to))
            return true;
    }
    return false;
}

static tp_rng *sender_stream(peko_transport_filter *f, const peko_addr *from)
{
    tp_rng *rng = g_hash_table_lookup(f->streams, from);
    if (rng == NULL) {
        rng = g_new(tp_rng, 1);
        /* The address's wire fingerprint and port mixed into the seed:
         * distinct senders get unrelated streams. */
        uint64_t mix = f->seed ^ ((uint64_t)peko_addr_fingerprint(from) << 32 |
                                  (uint64_t)from->port << 8 | from->family);
        tp_rng_init(rng, tp_splitmix64(&mix));
        g_hash_table_insert(f->streams, g_memdup2(from, sizeof *from), rng);
    }
    return rng;
}

peko_transport_verdict peko_transport_filter_check(peko_transport_filter *f,
                                                   const peko_addr *from,
                                                   const peko_addr *to)
{
    g_return_val_if_fail(f != NULL, PEKO_TRANSPORT_PASS);
    if (f->partitions->len > 0 && is_cut(f, from, to)) {
        f->counters.partitioned++;
        return PEKO_TRANSPORT_PARTITIONED;
    }
    if (f->loss > 0 && tp_rng_double(sender_stream(f, from)) < f->loss) {
        f->counters.lost++;
        return PEKO_TRANSPORT_LOST;
    }
    f->counters.passed++;
    return PEKO_TRANSPORT_PASS;
}

void peko_transport_filter_stats(const peko_transport_filter *f,
                                 peko_transport_filter_counters *out)
{
    g_return_if_fail(f != NULL && out != NULL);
    *out = f->counters;
}
