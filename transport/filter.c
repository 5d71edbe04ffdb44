/* filter.c: loss and partitions on real sockets (peko-transport.h).
 *
 * A partition is two sets of addresses and a direction; a message is cut
 * when some partition in effect has its sender on side a and its
 * receiver on side b (or, unless one-way, the reverse). A partition into
 * groups maps each listed address to its group (1, 2, ...; unlisted
 * addresses are group 0) and cuts a message whose ends are in different
 * groups. Each check costs two hash lookups per partition in effect, at
 * most PEKO_TRANSPORT_FILTER_MAX_PARTITIONS. Loss draws come from one
 * stream per sender, created on the sender's first message and seeded
 * from (filter seed, sender address), so interleaving between nodes never
 * changes a node's verdicts; the sender's Gilbert-Elliott chain lives
 * beside its stream.
 */
#include <errno.h>
#include <math.h>

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
    tp_rng rng;
    bool bad;
} tp_sender;

typedef enum tp_loss_model {
    TP_LOSS_BERNOULLI = 0,
    TP_LOSS_GILBERT_ELLIOTT,
} tp_loss_model;

struct peko_transport_filter {
    uint64_t seed;
    tp_loss_model model;
    double loss;           /* Bernoulli */
    double p_good_to_bad;  /* Gilbert-Elliott */
    double p_bad_to_good;
    double loss_good;
    double loss_bad;
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

/* A new loss model starts every sender's chain in the good state. */
static void restart_chains(peko_transport_filter *f)
{
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, f->streams);
    while (g_hash_table_iter_next(&it, NULL, &value))
        ((tp_sender *)value)->bad = false;
}

static bool is_probability(double p)
{
    return p >= 0 && p <= 1; /* false for NaN */
}

int peko_transport_filter_set_loss(peko_transport_filter *f, double rate)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    if (!is_probability(rate))
        return -EINVAL;
    f->model = TP_LOSS_BERNOULLI;
    f->loss = rate;
    restart_chains(f);
    return 0;
}

int peko_transport_filter_set_gilbert_elliott(peko_transport_filter *f,
                                              double p_good_to_bad,
                                              double p_bad_to_good,
                                              double loss_good,
                                              double loss_bad)
{
    g_return_val_if_fail(f != NULL, -EINVAL);
    if (!is_probability(p_good_to_bad) || !is_probability(p_bad_to_good) ||
        !is_probability(loss_good) || !is_probability(loss_bad))
        return -EINVAL;
    f->model = TP_LOSS_GILBERT_ELLIOTT;
    f->loss = 0;
    f->p_good_to_bad = p_good_to_bad;
    f->p_bad_to_good = p_bad_to_good;
    f->loss_good = loss_good;
    f->loss_bad = loss_bad;
    restart_chains(f);
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

static tp_sender *sender_of(peko_transport_filter *f, const peko_addr *from)
{
    tp_sender *s = g_hash_table_lookup(f->streams, from);
    if (s == NULL) {
        s = g_new0(tp_sender, 1);
        /* The address's wire fingerprint and port mixed into the seed:
         * distinct senders get unrelated streams. */
        uint64_t mix = f->seed ^ ((uint64_t)peko_addr_fingerprint(from) << 32 |
                                  (uint64_t)from->port << 8 | from->family);
        tp_rng_init(&s->rng, tp_splitmix64(&mix));
        g_hash_table_insert(f->streams, g_memdup2(from, sizeof *from), s);
    }
    return s;
}

/* Whether the next message of `from` is lost. Bernoulli: one draw.
 * Gilbert-Elliott: the sender's chain steps (one draw), then the loss of
 * its state (a second draw), as the simulator's model does. */
static bool is_lost(peko_transport_filter *f, const peko_addr *from)
{
    if (f->model == TP_LOSS_BERNOULLI)
        return f->loss > 0 &&
               tp_rng_double(&sender_of(f, from)->rng) < f->loss;
    tp_sender *s = sender_of(f, from);
    double step = tp_rng_double(&s->rng);
    if (s->bad ? step < f->p_bad_to_good : step < f->p_good_to_bad)
        s->bad = !s->bad;
    double rate = s->bad ? f->loss_bad : f->loss_good;
    return tp_rng_double(&s->rng) < rate;
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
