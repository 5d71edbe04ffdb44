/* filter.c: loss and partitions on real sockets (peko-transport.h).
 *
 * A partition is two sets of addresses and a direction; a message is cut
 * when some partition in effect has its sender on side a and its
 * receiver on side b (or, unless one-way, the reverse). A partition into
 * groups maps each listed address to its group (1, 2, ...; unlisted
 * addresses are group 0) and cuts a message whose ends are in different
 * groups. Each check costs two hash lookups per partition in effect, at
 * most PEKO_TRANSPORT_FILTER_MAX_PARTITIONS. Loss draws come from one
 * stream per sender, created on the sender's first message (or given by
 * peko_transport_filter_set_stream()) as a stream of the filter's seed,
 * so interleaving between nodes never changes a node's verdicts; the
 * sender's Gilbert-Elliott chain lives beside its stream. The verdict is
 * model.h's step, the simulator's: the same seed, stream and model give
 * the same losses in both.
 */
#include <errno.h>

#include "transport-private.h"

typedef struct tp_partition {
    int id;
    bool one_way;
    GHashTable *a;      /* peko_addr* set (owned keys); NULL for groups */
    GHashTable *b;
    GHashTable *groups; /* groups: peko_addr* (owned) -> group (1, 2, ...) */
} tp_partition;

/* One sender's loss draws and the state of its Gilbert-Elliott chain. */
typedef struct tp_sender {
    model_stream rng;
    model_loss_chain chain;
} tp_sender;

struct peko_transport_filter {
    uint64_t seed;
    model_loss loss;
    bool can_lose;         /* false: no verdict draws anything */
    GHashTable *streams;   /* peko_addr* (owned) -> tp_sender* (owned) */
    GPtrArray *partitions; /* of tp_partition*, in creation order */
    int next_id;
    peko_transport_filter_counters counters;
};

static void partition_free(gpointer p)
{
    tp_partition *part = p;
    if (part->a)
        g_hash_table_unref(part->a);
    if (part->b)
        g_hash_table_unref(part->b);
    if (part->groups)
        g_hash_table_unref(part->groups);
    g_free(part);
}

peko_transport_filter *peko_transport_filter_new(uint64_t seed)
{
    peko_transport_filter *f = g_new0(peko_transport_filter, 1);
    f->seed = seed;
    f->loss.kind = MODEL_LOSS_BERNOULLI;
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

/* Installs a checked loss model; a new model starts every sender's chain
 * in the good state. */
static int set_model(peko_transport_filter *f, const model_loss *loss)
{
    if (model_loss_check(loss) < 0)
        return -EINVAL;
    f->loss = *loss;
    f->can_lose = model_loss_can_lose(loss);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, f->streams);
    while (g_hash_table_iter_next(&it, NULL, &value))
        ((tp_sender *)value)->chain = (model_loss_chain){0};
    return 0;
}

int peko_transport_filter_set_loss(peko_transport_filter *f, double rate)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    return set_model(f, &(model_loss){.kind = MODEL_LOSS_BERNOULLI,
                                      .rate = rate});
}

int peko_transport_filter_set_gilbert_elliott(peko_transport_filter *f,
                                              double p_good_to_bad,
                                              double p_bad_to_good,
                                              double loss_good,
                                              double loss_bad)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    return set_model(f, &(model_loss){.kind = MODEL_LOSS_GILBERT_ELLIOTT,
                                      .p_good_to_bad = p_good_to_bad,
                                      .p_bad_to_good = p_bad_to_good,
                                      .loss_good = loss_good,
                                      .loss_bad = loss_bad});
}

/* The stream index of a sender nobody named: its address, mixed so that
 * it lands far from the small per-node indices of model.h. */
static uint64_t address_stream(const peko_addr *from)
{
    return model_mix64((uint64_t)peko_addr_fingerprint(from) << 32 |
                       (uint64_t)from->port << 8 | from->family);
}

static tp_sender *sender_new(peko_transport_filter *f, const peko_addr *from,
                             uint64_t stream)
{
    tp_sender *s = g_new0(tp_sender, 1);
    model_stream_init(&s->rng, f->seed, stream);
    g_hash_table_replace(f->streams, g_memdup2(from, sizeof *from), s);
    return s;
}

int peko_transport_filter_set_stream(peko_transport_filter *f,
                                     const peko_addr *addr, uint64_t stream)
{
    g_return_val_if_fail(f != NULL && addr != NULL, -EINVAL);
    sender_new(f, addr, stream);
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

int peko_transport_filter_partition_groups(peko_transport_filter *f,
                                           const peko_addr *const *groups,
                                           const size_t *n_each,
                                           size_t n_groups)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    if (n_groups == 0 || groups == NULL || n_each == NULL ||
        n_groups >= G_MAXINT)
        return -EINVAL;
    if (f->partitions->len >= PEKO_TRANSPORT_FILTER_MAX_PARTITIONS)
        return -ENOSPC;
    GHashTable *map = g_hash_table_new_full(tp_addr_hash, tp_addr_equal,
                                            g_free, NULL);
    for (size_t g = 0; g < n_groups; g++) {
        if (n_each[g] == 0 || groups[g] == NULL) {
            g_hash_table_unref(map);
            return -EINVAL;
        }
        for (size_t i = 0; i < n_each[g]; i++) {
            gpointer seen = g_hash_table_lookup(map, &groups[g][i]);
            if (seen != NULL && GPOINTER_TO_SIZE(seen) != g + 1) {
                g_hash_table_unref(map); /* in two groups */
                return -EINVAL;
            }
            g_hash_table_insert(map,
                                g_memdup2(&groups[g][i], sizeof groups[g][i]),
                                GSIZE_TO_POINTER(g + 1));
        }
    }
    tp_partition *part = g_new0(tp_partition, 1);
    part->id = f->next_id++;
    part->groups = map;
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
        if (part->groups) {
            /* Unlisted addresses are group 0, one more group. */
            if (g_hash_table_lookup(part->groups, from) !=
                g_hash_table_lookup(part->groups, to))
                return true;
            continue;
        }
        if (g_hash_table_contains(part->a, from) &&
            g_hash_table_contains(part->b, to))
            return true;
        if (!part->one_way && g_hash_table_contains(part->b, from) &&
            g_hash_table_contains(part->a, to))
            return true;
    }
    return false;
}

/* Whether the next message of `from` is lost: model.h's step on the
 * sender's stream and chain (one draw for Bernoulli, two for
 * Gilbert-Elliott), or nothing drawn when the model cannot lose, as in
 * the simulator. */
static bool is_lost(peko_transport_filter *f, const peko_addr *from)
{
    if (!f->can_lose)
        return false;
    tp_sender *s = g_hash_table_lookup(f->streams, from);
    if (s == NULL)
        s = sender_new(f, from, address_stream(from));
    return model_loss_step(&f->loss, &s->chain, &s->rng);
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
    if (is_lost(f, from)) {
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
