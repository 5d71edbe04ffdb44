/* selector.c: node selectors, resolved to sorted ranges of node indices.
 *
 *   3          one node          0-9       a range, inclusive
 *   1,4,7      a union           all       every node
 *   10%        a fraction of all nodes, chosen from the run seed
 *   10%:wave2  the same fraction, a different draw (any tag)
 *   eu         the members of region eu
 *
 * A fraction is chosen by the parser, not the simulator: from the run
 * seed and the item's text, so the same text selects the same nodes
 * everywhere in one run ("crash 10%" then "restart 10%" restarts exactly
 * the crashed ones) and a tag gives an independent draw.
 */
#include <string.h>

#include "scenario-private.h"

/* Bound on nodes visited while choosing fractions in one parse: choosing
 * k of n visits n nodes, so this caps the time a hostile file can cost. */
#define FRACTION_WORK_MAX (UINT64_C(1) << 28)

#define SELECTOR_EXPECTED \
    "a node selector like 3, 0-9, 1,4,7, all, 10% or a region name"

uint64_t scn__rand_below(uint64_t *state, uint64_t bound)
{
    /* Rejection keeps the draw exactly uniform: values below the
     * threshold would make small results more likely. */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = model_splitmix64(state);
        if (r >= threshold)
            return r % bound;
    }
}

uint64_t scn__hash_text(uint64_t seed, const char *text)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);  /* FNV-1a 64 */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= UINT64_C(0x100000001b3);
    }
    uint64_t state = seed ^ h;
    return model_splitmix64(&state);
}

bool scn_nodes_contains(const scn_nodes *nodes, uint32_t node)
{
    size_t lo = 0, hi = nodes->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (node < nodes->ranges[mid].first)
            hi = mid;
        else if (node > nodes->ranges[mid].last)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

void scn__nodes_clear(scn_nodes *nodes)
{
    g_free(nodes->ranges);
    g_free(nodes->text);
    memset(nodes, 0, sizeof *nodes);
}

void scn__nodes_copy(scn_nodes *dst, const scn_nodes *src)
{
    *dst = *src;
    dst->ranges = src->n_ranges
                      ? g_memdup2(src->ranges,
                                  src->n_ranges * sizeof *src->ranges)
                      : NULL;
    dst->text = g_strdup(src->text);
}

bool scn__nodes_intersect(const scn_nodes *a, const scn_nodes *b,
                          uint32_t *witness)
{
    size_t i = 0, j = 0;
    while (i < a->n_ranges && j < b->n_ranges) {
        const scn_range *x = &a->ranges[i], *y = &b->ranges[j];
        if (x->last < y->first)
            i++;
        else if (y->last < x->first)
            j++;
        else {
            if (witness)
                *witness = MAX(x->first, y->first);
            return true;
        }
    }
    return false;
}

static gint compare_ranges(gconstpointer pa, gconstpointer pb)
{
    const scn_range *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return a->last < b->last ? -1 : a->last > b->last;
}

void scn__nodes_from_ranges(scn_nodes *out, GArray *ranges, const char *text)
{
    memset(out, 0, sizeof *out);
    out->text = g_strdup(text);
    if (ranges->len == 0)
        return;
    g_array_sort(ranges, compare_ranges);
    scn_range *r = (scn_range *)(void *)ranges->data;
    size_t n = 0;
    for (size_t i = 0; i < ranges->len; i++) {
        /* Merge overlapping and adjacent ranges (last + 1 cannot wrap:
         * node indices stay below 2^24). */
        if (n > 0 && r[i].first <= r[n - 1].last + 1) {
            r[n - 1].last = MAX(r[n - 1].last, r[i].last);
        } else {
            r[n++] = r[i];
        }
    }
    out->ranges = g_memdup2(r, n * sizeof *r);
    out->n_ranges = n;
    for (size_t i = 0; i < n; i++)
        out->count += (size_t)r[i].last - r[i].first + 1;
}

static void add_range(GArray *ranges, uint32_t first, uint32_t last)
{
    scn_range r = {first, last};
    g_array_append_val(ranges, r);
}

/* A node index: plain digits, within the cluster. */
static gboolean parse_index(const scn__ctx *ctx, const char *text,
                            uint32_t *out, GError **error)
{
    int64_t v;
    uint32_t n = ctx->sc->cluster.nodes;
    if (!scn__parse_int(text, 0, INT64_MAX, &v, NULL)) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected %s, got '%s'", SELECTOR_EXPECTED, text);
        return FALSE;
    }
    if (v >= n) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "node %s is out of range (the cluster has %u nodes, "
                    "0-%u)", text, n, n - 1);
        return FALSE;
    }
    *out = (uint32_t)v;
    return TRUE;
}

static gboolean add_fraction(scn__ctx *ctx, const char *item, GArray *ranges,
                             GError **error)
{
    char *copy = g_strdup(item);
    char *colon = strchr(copy, ':');
    gboolean ok = FALSE;
    if (colon != NULL) {
        *colon = '\0';
        const char *tag = colon + 1;
        bool good = *tag != '\0';
        for (const char *p = tag; *p; p++)
            if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
                good = false;
        if (!good) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected a tag of letters, digits, _ or - after "
                        "':' in '%s'", item);
            goto out;
        }
    }
    double rate;
    if (!scn_parse_rate(copy, &rate, NULL)) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected a percentage from 0%% to 100%% like 10%% or "
                    "10%%:tag, got '%s'", item);
        goto out;
    }
    uint32_t n = ctx->sc->cluster.nodes;
    uint64_t k = (uint64_t)((double)n * rate + 0.5);
    if (k == 0 && rate > 0)
        k = 1;  /* a non-zero fraction never selects nobody */
    if (k > n)
        k = n;
    if (k == 0) {
        ok = TRUE;
        goto out;
    }
    ctx->fraction_work += n;
    if (ctx->fraction_work > FRACTION_WORK_MAX) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                    "too many fraction selectors for %u nodes (they would "
                    "visit more than %" G_GUINT64_FORMAT " nodes)", n,
                    FRACTION_WORK_MAX);
        goto out;
    }
    /* Selection sampling (Knuth's algorithm S): node i is taken with
     * probability (still needed) / (still left), which picks a uniformly
     * random k-subset in index order, with integers only. */
    uint64_t state = scn__hash_text(ctx->sc->cluster.seed, item);
    uint64_t need = k;
    for (uint32_t i = 0; i < n && need > 0; i++) {
        if (scn__rand_below(&state, (uint64_t)(n - i)) < need) {
            scn_range *last = ranges->len
                ? &g_array_index(ranges, scn_range, ranges->len - 1)
                : NULL;
            if (last != NULL && last->last + 1 == i)
                last->last = i;
            else if (ranges->len >= ctx->ranges_left) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                            "node selectors resolve to more than %u ranges "
                            "in all", SCN_MAX_RANGES);
                goto out;
            } else
                add_range(ranges, i, i);
            need--;
        }
    }
    ok = TRUE;
out:
    g_free(copy);
    return ok;
}

static gboolean add_region(scn__ctx *ctx, const char *name, GArray *ranges,
                           GError **error)
{
    const scn_regions *rg = &ctx->sc->regions;
    uint32_t n = ctx->sc->cluster.nodes;
    for (size_t r = 0; r < rg->n_regions; r++) {
        if (strcmp(rg->regions[r].name, name) != 0)
            continue;
        if (rg->assign == SCN_ASSIGN_ROUND_ROBIN) {
            /* Every member is its own range: refuse before allocating. */
            if (n / rg->n_regions + 1 + ranges->len > ctx->ranges_left) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                            "node selectors resolve to more than %u ranges "
                            "in all (region %s of a round-robin assignment "
                            "is %zu separate nodes)", SCN_MAX_RANGES, name,
                            (size_t)(n / rg->n_regions));
                return FALSE;
            }
            if (rg->n_regions == 1)
                add_range(ranges, 0, n - 1);
            else
                for (uint64_t i = r; i < n; i += rg->n_regions)
                    add_range(ranges, (uint32_t)i, (uint32_t)i);
        } else {
            const scn_nodes *m = &rg->regions[r].members;
            g_array_append_vals(ranges, m->ranges, (guint)m->n_ranges);
        }
        return TRUE;
    }
    if (rg->n_regions == 0) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected %s, got '%s' (the scenario has no regions)",
                    SELECTOR_EXPECTED, name);
        return FALSE;
    }
    GString *names = g_string_new(NULL);
    for (size_t r = 0; r < rg->n_regions; r++)
        g_string_append_printf(names, "%s%s", r ? ", " : "",
                               rg->regions[r].name);
    g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN,
                "unknown region '%s' (regions: %s)", name, names->str);
    g_string_free(names, TRUE);
    return FALSE;
}

static bool is_name(const char *s)
{
    if (!g_ascii_isalpha(*s) && *s != '_')
        return false;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '_')
            return false;
    return true;
}

static gboolean add_item(scn__ctx *ctx, const char *item, bool allow_regions,
                         GArray *ranges, GError **error)
{
    uint32_t n = ctx->sc->cluster.nodes;
    if (*item == '\0') {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected %s, got an empty item", SELECTOR_EXPECTED);
        return FALSE;
    }
    if (strcmp(item, "all") == 0) {
        add_range(ranges, 0, n - 1);
        return TRUE;
    }
    if (strchr(item, '%') != NULL)
        return add_fraction(ctx, item, ranges, error);
    if (g_ascii_isdigit(*item)) {
        const char *dash = strchr(item, '-');
        uint32_t first, last;
        if (dash == NULL) {
            if (!parse_index(ctx, item, &first, error))
                return FALSE;
            add_range(ranges, first, first);
            return TRUE;
        }
        char *a = g_strndup(item, (gsize)(dash - item));
        gboolean ok = parse_index(ctx, a, &first, error) &&
                      parse_index(ctx, dash + 1, &last, error);
        g_free(a);
        if (!ok)
            return FALSE;
        if (last < first) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "range %s is reversed (write %u-%u)", item, last,
                        first);
            return FALSE;
        }
        add_range(ranges, first, last);
        return TRUE;
    }
    if (allow_regions && is_name(item))
        return add_region(ctx, item, ranges, error);
    g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE, "expected %s, got '%s'",
                SELECTOR_EXPECTED, item);
    return FALSE;
}

gboolean scn__nodes_parse(scn__ctx *ctx, const char *text, bool allow_regions,
                          bool allow_none, scn_nodes *out, GError **error)
{
    char *s = scn__strip(g_strdup(text));
    GArray *ranges = g_array_new(FALSE, FALSE, sizeof(scn_range));
    gboolean ok = FALSE;

    memset(out, 0, sizeof *out);
    if (strcmp(s, "none") == 0 && allow_none) {
        scn__nodes_from_ranges(out, ranges, s);
        ok = TRUE;
        goto done;
    }
    char **items = g_strsplit(s, ",", -1);
    if (items[0] == NULL) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected %s, got ''", SELECTOR_EXPECTED);
        g_strfreev(items);
        goto done;
    }
    for (size_t i = 0; items[i] != NULL; i++) {
        if (!add_item(ctx, scn__strip(items[i]), allow_regions, ranges,
                      error)) {
            g_strfreev(items);
            goto done;
        }
        /* Bound memory while collecting, not only after merging. */
        if (ranges->len > ctx->ranges_left) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                        "node selectors resolve to more than %u ranges in "
                        "all", SCN_MAX_RANGES);
            g_strfreev(items);
            goto done;
        }
    }
    g_strfreev(items);
    scn__nodes_from_ranges(out, ranges, s);
    ctx->ranges_left -= out->n_ranges;
    ok = TRUE;
done:
    g_array_free(ranges, TRUE);
    g_free(s);
    return ok;
}

size_t scn_scenario_seeds(const scn_scenario *sc, uint32_t node,
                          uint32_t *out, size_t capacity)
{
    uint32_t n = sc->cluster.nodes;
    size_t k = MIN((size_t)sc->cluster.seeds, (size_t)(n ? n - 1 : 0));
    uint32_t chosen[SCN_MAX_SEEDS];

    if (node >= n)
        return 0;
    if (sc->cluster.seed_mode == SCN_SEEDS_FIRST) {
        for (size_t i = 0, c = 0; c < k; i++)
            if (i != node)
                chosen[c++] = (uint32_t)i;
    } else {
        /* Floyd's algorithm: k distinct values from the n - 1 other nodes
         * in k draws; candidate j stands for node j, or j + 1 past self. */
        uint64_t state = scn__hash_text(sc->cluster.seed, "seeds") ^
                         ((uint64_t)node * UINT64_C(0x9E3779B97F4A7C15));
        size_t c = 0;
        for (uint64_t j = (uint64_t)(n - 1) - k; j < (uint64_t)(n - 1); j++) {
            uint32_t t = (uint32_t)scn__rand_below(&state, j + 1);
            for (size_t i = 0; i < c; i++)
                if (chosen[i] == t) {
                    t = (uint32_t)j;
                    break;
                }
            chosen[c++] = t;
        }
        for (size_t i = 0; i < c; i++)
            if (chosen[i] >= node)
                chosen[i]++;
        /* Insertion sort: k is small. */
        for (size_t i = 1; i < c; i++)
            for (size_t j = i; j > 0 && chosen[j - 1] > chosen[j]; j--) {
                uint32_t t = chosen[j];
                chosen[j] = chosen[j - 1];
                chosen[j - 1] = t;
            }
    }
    for (size_t i = 0; i < k && i < capacity; i++)
        out[i] = chosen[i];
    return k;
}
