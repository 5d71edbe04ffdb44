/* fleet-clock.c: one clock for a fleet (fleet.h, "The common clock").
 *
 * Each measured link gives the difference of two clocks within a bound,
 * and bounds add along a chain of links. So the best estimate of node
 * k's clock against a reference is along the path whose bounds sum least:
 * a shortest-path tree (Dijkstra) weighted by the bounds. The reference
 * is the node whose tree has the smallest worst bound, which keeps every
 * node's error low, not only the average. A median of the offsets to a
 * node would need every pair measured; a tree needs only a connected
 * graph, which a few cycles of random swaps give.
 */
#include "fleet-private.h"

/* Above this many nodes, only the best-linked ones are tried as the
 * reference (each try is O(N^2)). */
#define FLEET_ALL_REFERENCES_MAX 256
#define FLEET_REFERENCE_TRIES 16

typedef struct link {
    uint32_t a, b;            /* a < b */
    int64_t b_minus_a_us;     /* clock b - clock a */
    int64_t error_us;
} link;

typedef struct tree {
    int64_t *offset;          /* clock k - clock ref */
    int64_t *error;
    int *hops;
    bool *done;
} tree;

static guint pair_hash(gconstpointer key)
{
    uint64_t x = *(const uint64_t *)key;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (guint)x;
}

static gboolean pair_equal(gconstpointer a, gconstpointer b)
{
    return *(const uint64_t *)a == *(const uint64_t *)b;
}

/* The best measurement of each linked pair, in (a, b) order. */
static GArray *best_links(const ana__fleet *fl)
{
    GArray *links = g_array_new(FALSE, FALSE, sizeof(link));
    GHashTable *index = g_hash_table_new_full(pair_hash, pair_equal, g_free,
                                              NULL);
    for (guint k = 0; k < fl->offsets->len; k++) {
        const ana__fl_offset *o =
            &g_array_index(fl->offsets, ana__fl_offset, k);
        link l = {.a = MIN(o->node, o->peer), .b = MAX(o->node, o->peer),
                  .error_us = o->error_us};
        /* o: clock peer - clock node. */
        l.b_minus_a_us = o->node == l.a ? o->offset_us : -o->offset_us;
        uint64_t key = (uint64_t)l.a << 32 | l.b;
        gpointer v = g_hash_table_lookup(index, &key);
        if (v == NULL) {
            g_array_append_val(links, l);
            uint64_t *kp = g_new(uint64_t, 1);
            *kp = key;
            g_hash_table_insert(index, kp, GUINT_TO_POINTER(links->len));
        } else {
            link *best = &g_array_index(links, link,
                                        GPOINTER_TO_UINT(v) - 1);
            /* Strictly better only: the first of equal bounds stays, so
             * the choice follows the recording's order. */
            if (l.error_us < best->error_us)
                *best = l;
        }
    }
    g_hash_table_destroy(index);
    return links;
}

/* Adjacency in CSR form: the links of node i are adj[start[i] ..
 * start[i + 1]), as indices into links. */
static void adjacency(const GArray *links, size_t n, size_t **start_out,
                      uint32_t **adj_out)
{
    size_t *start = g_new0(size_t, n + 1);
    for (guint k = 0; k < links->len; k++) {
        const link *l = &g_array_index(links, link, k);
        start[l->a + 1]++;
        start[l->b + 1]++;
    }
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    uint32_t *adj = g_new(uint32_t, start[n] ? start[n] : 1);
    size_t *fill = g_memdup2(start, (n + 1) * sizeof *start);
    for (guint k = 0; k < links->len; k++) {
        const link *l = &g_array_index(links, link, k);
        adj[fill[l->a]++] = k;
        adj[fill[l->b]++] = k;
    }
    g_free(fill);
    *start_out = start;
    *adj_out = adj;
}

/* Dijkstra from `ref` by summed bounds; returns the worst bound of the
 * nodes reached and their count in *reached. O(N^2 + E). */
static int64_t grow_tree(const GArray *links, const size_t *start,
                         const uint32_t *adj, size_t n, size_t ref, tree *t,
                         size_t *reached)
{
    for (size_t i = 0; i < n; i++) {
        t->error[i] = INT64_MAX;
        t->offset[i] = 0;
        t->hops[i] = 0;
        t->done[i] = false;
    }
    t->error[ref] = 0;
    int64_t worst = 0;
    *reached = 0;
    for (;;) {
        size_t u = n;
        for (size_t i = 0; i < n; i++)
            if (!t->done[i] && t->error[i] != INT64_MAX &&
                (u == n || t->error[i] < t->error[u]))
                u = i;
        if (u == n)
            break;
        t->done[u] = true;
        (*reached)++;
        worst = MAX(worst, t->error[u]);
        for (size_t k = start[u]; k < start[u + 1]; k++) {
            const link *l = &g_array_index(links, link, adj[k]);
            size_t v = l->a == u ? l->b : l->a;
            /* clock v - clock u */
            int64_t d = l->a == u ? l->b_minus_a_us : -l->b_minus_a_us;
            int64_t e = t->error[u] > INT64_MAX - l->error_us
                            ? INT64_MAX - 1
                            : t->error[u] + l->error_us;
            if (!t->done[v] && e < t->error[v]) {
                t->error[v] = e;
                /* Links are within +-2^52 (fleet-load.c): saturate
                 * rather than overflow on a path of millions. */
                if (__builtin_add_overflow(t->offset[u], d, &t->offset[v]))
                    t->offset[v] = d > 0 ? INT64_MAX / 2 : INT64_MIN / 2;
                t->hops[v] = t->hops[u] + 1;
            }
        }
    }
    return worst;
}

static void tree_init(tree *t, size_t n)
{
    t->offset = g_new(int64_t, n);
    t->error = g_new(int64_t, n);
    t->hops = g_new(int, n);
    t->done = g_new(bool, n);
}

static void tree_clear(tree *t)
{
    g_free(t->offset);
    g_free(t->error);
    g_free(t->hops);
    g_free(t->done);
}

/* Candidates for the reference: every node, or in a large fleet the
 * best-linked ones (most links, then lowest id). */
static GArray *candidates(const size_t *start, size_t n)
{
    GArray *c = g_array_new(FALSE, FALSE, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        g_array_append_val(c, i);
    if (n <= FLEET_ALL_REFERENCES_MAX)
        return c;
    size_t *ids = (size_t *)(void *)c->data;
    /* Partial selection sort: few tries, so O(N * tries). */
    for (size_t k = 0; k < FLEET_REFERENCE_TRIES; k++) {
        size_t best = k;
        for (size_t i = k + 1; i < n; i++) {
            size_t di = start[ids[i] + 1] - start[ids[i]];
            size_t db = start[ids[best] + 1] - start[ids[best]];
            if (di > db || (di == db && ids[i] < ids[best]))
                best = i;
        }
        size_t tmp = ids[k];
        ids[k] = ids[best];
        ids[best] = tmp;
    }
    g_array_set_size(c, FLEET_REFERENCE_TRIES);
    return c;
}

gboolean ana__fleet_clock(ana__fleet *fl, GError **error)
{
    size_t n = fl->nodes->len;
    if (fl->opts.clocks == ANA_FLEET_CLOCKS_COMMON) {
        for (size_t i = 0; i < n; i++) {
            ana__fl_node *node = &g_array_index(fl->nodes, ana__fl_node, i);
            node->offset_us = node->error_us = 0;
            node->path_hops = 0;
            node->reached = true;
        }
        fl->reference = 0;
        return TRUE;
    }
    GArray *links = best_links(fl);
    size_t *start;
    uint32_t *adj;
    adjacency(links, n, &start, &adj);
    GArray *cands = candidates(start, n);
    tree t;
    tree_init(&t, n);
    size_t best = n, best_reached = 0;
    int64_t best_worst = INT64_MAX;
    for (guint k = 0; k < cands->len; k++) {
        size_t ref = g_array_index(cands, size_t, k), reached;
        int64_t worst = grow_tree(links, start, adj, n, ref, &t, &reached);
        if (reached > best_reached ||
            (reached == best_reached && worst < best_worst)) {
            best = ref;
            best_reached = reached;
            best_worst = worst;
        }
    }
    gboolean ok = TRUE;
    size_t reached;
    grow_tree(links, start, adj, n, best, &t, &reached);
    fl->reference = best;
    for (size_t i = 0; i < n; i++) {
        ana__fl_node *node = &g_array_index(fl->nodes, ana__fl_node, i);
        node->reached = t.done[i];
        node->offset_us = t.offset[i];
        node->error_us = t.done[i] ? t.error[i] : 0;
        node->path_hops = t.hops[i];
        if (!node->reached && ok) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "node %s: no clock offset links it to the other"
                        " %zu nodes' clocks (%zu of %zu nodes are linked;"
                        " it answered or made no swap with them), so its"
                        " times cannot be put on the common clock; if"
                        " every recording shares one clock, merge with"
                        " --common-clock",
                        node->addr_text, n - 1, reached, n);
            ok = FALSE;
        }
    }
    tree_clear(&t);
    g_array_free(cands, TRUE);
    g_free(start);
    g_free(adj);
    g_array_free(links, TRUE);
    return ok;
}
