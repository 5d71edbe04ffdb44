/* network.c: the [network], [regions] and [clock] groups. */
#include <string.h>

#include "scenario-private.h"

static gboolean get_dist(scn__ctx *ctx, const char *group, const char *key,
                         const scn__quantity *q, model_dist *out,
                         GError **error)
{
    char *v = scn__get(ctx, group, key);
    if (v == NULL)
        return TRUE;
    GError *cause = NULL;
    gboolean ok = scn__parse_dist(v, q, out, &cause);
    if (!ok)
        scn__fail_value(error, cause, ctx, group, key, v);
    g_free(v);
    return ok;
}

gboolean scn__parse_network(scn__ctx *ctx, GError **error)
{
    scn_network *n = &ctx->sc->network;
    GError *cause = NULL;
    char *v;

    scn__dist_constant(&n->latency_us, &scn__latency_quantity,
                       SCN_DEFAULT_LATENCY_US);
    n->loss.kind = MODEL_LOSS_BERNOULLI;
    n->send_queue = SCN_DEFAULT_SEND_QUEUE;

    if (!scn__check_fixed_group(ctx, "network", error))
        return FALSE;
    if (!get_dist(ctx, "network", "latency", &scn__latency_quantity,
                  &n->latency_us, error))
        return FALSE;
    if ((v = scn__get(ctx, "network", "loss")) != NULL) {
        if (!scn__parse_loss(v, &n->loss, &cause)) {
            scn__fail_value(error, cause, ctx, "network", "loss", v);
            g_free(v);
            return FALSE;
        }
        g_free(v);
    }
    if ((v = scn__get(ctx, "network", "duplicate")) != NULL) {
        if (!scn_parse_rate(v, &n->duplicate, &cause)) {
            scn__fail_value(error, cause, ctx, "network", "duplicate", v);
            g_free(v);
            return FALSE;
        }
        g_free(v);
    }
    if ((v = scn__get(ctx, "network", "bandwidth")) != NULL) {
        if (!scn_parse_bandwidth(v, &n->bandwidth_bps, &cause)) {
            scn__fail_value(error, cause, ctx, "network", "bandwidth", v);
            g_free(v);
            return FALSE;
        }
        g_free(v);
    }
    if ((v = scn__get(ctx, "network", "send_queue")) != NULL) {
        int64_t q;
        if (!scn__parse_int(v, 1, SCN_SEND_QUEUE_MAX, &q, &cause)) {
            scn__fail_value(error, cause, ctx, "network", "send_queue", v);
            g_free(v);
            return FALSE;
        }
        n->send_queue = (uint32_t)q;
        g_free(v);
    }
    if ((v = scn__get(ctx, "network", "processing")) != NULL) {
        int64_t us;
        gboolean ok = scn_parse_duration(v, FALSE, &us, &cause);
        if (ok && us > SCN_PROCESSING_MAX_US) {
            g_set_error(&cause, SCN_ERROR, SCN_ERROR_RANGE,
                        "expected at most 1s a packet, got '%s'", v);
            ok = FALSE;
        }
        if (!ok) {
            scn__fail_value(error, cause, ctx, "network", "processing", v);
            g_free(v);
            return FALSE;
        }
        n->processing_us = us;
        g_free(v);
    }
    if ((v = scn__get(ctx, "network", "host_cores")) != NULL) {
        int64_t c;
        if (!scn__parse_int(v, 1, SCN_HOST_CORES_MAX, &c, &cause)) {
            scn__fail_value(error, cause, ctx, "network", "host_cores", v);
            g_free(v);
            return FALSE;
        }
        n->host_cores = (uint32_t)c;
        g_free(v);
        /* Cores share out processing: without a cost there is nothing
         * to share, and the key would silently do nothing. */
        if (n->processing_us == 0) {
            scn__fail(error, SCN_ERROR_CONFLICT, ctx, "network",
                      "host_cores", "needs network.processing (the time "
                      "a packet occupies a core), e.g. processing = 80us");
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Regions.                                                             */

static int region_index(const scn_regions *rg, const char *name, size_t n)
{
    for (size_t r = 0; r < rg->n_regions; r++)
        if (strlen(rg->regions[r].name) == n &&
            strncmp(rg->regions[r].name, name, n) == 0)
            return (int)r;
    return -1;
}

static gboolean parse_names(scn__ctx *ctx, GError **error)
{
    scn_regions *rg = &ctx->sc->regions;
    char *v = scn__get(ctx, "regions", "names");
    if (v == NULL) {
        scn__fail(error, SCN_ERROR_MISSING, ctx, "regions", "names",
                  "missing (required with [regions], e.g. names = eu, us)");
        return FALSE;
    }
    char **names = g_strsplit(v, ",", -1);
    size_t n = g_strv_length(names);
    gboolean ok = TRUE;
    if (n == 0 || n > SCN_MAX_REGIONS) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "regions", "names",
                  "expected 1 to %d region names", SCN_MAX_REGIONS);
        ok = FALSE;
    }
    rg->regions = g_new0(scn_region, MAX(n, 1));
    for (size_t i = 0; i < n && ok; i++) {
        char *name = scn__strip(names[i]);
        bool ident = g_ascii_isalpha(*name) || *name == '_';
        for (const char *p = name; *p; p++)
            if (!g_ascii_isalnum(*p) && *p != '_')
                ident = false;
        if (!ident || strlen(name) > 64 || strcmp(name, "all") == 0 ||
            strcmp(name, "none") == 0) {
            scn__fail(error, SCN_ERROR_VALUE, ctx, "regions", "names",
                      "expected names of letters, digits and _ (not all or "
                      "none), got '%.80s'", name);
            ok = FALSE;
        } else if (region_index(rg, name, strlen(name)) >= 0) {
            scn__fail(error, SCN_ERROR_CONFLICT, ctx, "regions", "names",
                      "region '%s' is named twice", name);
            ok = FALSE;
        } else {
            rg->regions[rg->n_regions++].name = g_strdup(name);
        }
    }
    g_strfreev(names);
    g_free(v);
    return ok;
}

typedef struct tagged_range {
    scn_range r;
    size_t region;
} tagged_range;

static gint compare_tagged(gconstpointer pa, gconstpointer pb)
{
    const tagged_range *a = pa, *b = pb;
    if (a->r.first != b->r.first)
        return a->r.first < b->r.first ? -1 : 1;
    return a->region < b->region ? -1 : a->region > b->region;
}

/* Explicit assignment: every node in exactly one region. */
static gboolean check_partition_of_nodes(scn__ctx *ctx, GError **error)
{
    scn_regions *rg = &ctx->sc->regions;
    GArray *all = g_array_new(FALSE, FALSE, sizeof(tagged_range));
    for (size_t r = 0; r < rg->n_regions; r++)
        for (size_t i = 0; i < rg->regions[r].members.n_ranges; i++) {
            tagged_range t = {rg->regions[r].members.ranges[i], r};
            g_array_append_val(all, t);
        }
    g_array_sort(all, compare_tagged);
    uint64_t next = 0;
    gboolean ok = TRUE;
    for (guint i = 0; i < all->len && ok; i++) {
        tagged_range *t = &g_array_index(all, tagged_range, i);
        if (t->r.first > next) {
            scn__fail(error, SCN_ERROR_MISSING, ctx, "regions", NULL,
                      "node %" G_GUINT64_FORMAT " is in no region", next);
            ok = FALSE;
        } else if (t->r.first < next) {
            tagged_range *p = &g_array_index(all, tagged_range, i - 1);
            scn__fail(error, SCN_ERROR_CONFLICT, ctx, "regions", NULL,
                      "node %u is in both %s and %s", t->r.first,
                      rg->regions[p->region].name,
                      rg->regions[t->region].name);
            ok = FALSE;
        }
        next = (uint64_t)t->r.last + 1;
    }
    if (ok && next < ctx->sc->cluster.nodes) {
        scn__fail(error, SCN_ERROR_MISSING, ctx, "regions", NULL,
                  "node %" G_GUINT64_FORMAT " is in no region", next);
        ok = FALSE;
    }
    g_array_free(all, TRUE);
    return ok;
}

gboolean scn__parse_regions(scn__ctx *ctx, GError **error)
{
    static const char *const modes[] = {"round-robin", "blocks", "explicit"};
    scn_regions *rg = &ctx->sc->regions;
    uint32_t n_nodes = ctx->sc->cluster.nodes;
    if (!g_key_file_has_group(ctx->kf, "regions"))
        return TRUE;

    gsize n_keys;
    char **keys = g_key_file_get_keys(ctx->kf, "regions", &n_keys, NULL);
    gboolean ok = FALSE;
    bool any_members = false;
    for (gsize i = 0; i < n_keys; i++) {
        int kind;
        if (!scn__regions_key_kind(keys[i], &kind)) {
            char *msg = scn__unknown_key_message("regions", keys[i]);
            scn__fail(error, SCN_ERROR_UNKNOWN, ctx, "regions", keys[i], "%s",
                      msg);
            g_free(msg);
            goto out;
        }
        any_members |= kind == 1;
    }
    if (!parse_names(ctx, error))
        goto out;

    rg->assign = any_members ? SCN_ASSIGN_EXPLICIT : SCN_ASSIGN_ROUND_ROBIN;
    char *v = scn__get(ctx, "regions", "assign");
    if (v != NULL) {
        int m = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(v, modes[i]) == 0)
                m = i;
        if (m < 0) {
            scn__fail(error, SCN_ERROR_VALUE, ctx, "regions", "assign",
                      "expected round-robin, blocks or explicit, got '%.80s'",
                      v);
            g_free(v);
            goto out;
        }
        g_free(v);
        rg->assign = (scn_region_assign)m;
        if (any_members != (rg->assign == SCN_ASSIGN_EXPLICIT)) {
            scn__fail(error, SCN_ERROR_CONFLICT, ctx, "regions", "assign",
                      any_members
                          ? "members.NAME keys need assign = explicit"
                          : "explicit needs a members.NAME key per region");
            goto out;
        }
    }
    if (rg->n_regions > n_nodes) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "regions", "names",
                  "%zu regions for %u nodes: some would be empty",
                  rg->n_regions, n_nodes);
        goto out;
    }

    size_t R = rg->n_regions;
    if (rg->assign == SCN_ASSIGN_BLOCKS) {
        /* Region r holds nodes i with floor(i * R / n) == r. */
        for (size_t r = 0; r < R; r++) {
            uint64_t first = ((uint64_t)r * n_nodes + R - 1) / R;
            uint64_t end = ((uint64_t)(r + 1) * n_nodes + R - 1) / R;
            GArray *ranges = g_array_new(FALSE, FALSE, sizeof(scn_range));
            scn_range one = {(uint32_t)first, (uint32_t)(end - 1)};
            if (end > first)
                g_array_append_val(ranges, one);
            scn__nodes_from_ranges(&rg->regions[r].members, ranges,
                                   rg->regions[r].name);
            g_array_free(ranges, TRUE);
        }
    } else if (rg->assign == SCN_ASSIGN_EXPLICIT) {
        for (size_t r = 0; r < R; r++) {
            char *key = g_strconcat("members.", rg->regions[r].name, NULL);
            char *sel = scn__get(ctx, "regions", key);
            if (sel == NULL) {
                scn__fail(error, SCN_ERROR_MISSING, ctx, "regions", key,
                          "missing (explicit assignment needs every region's "
                          "members)");
                g_free(key);
                goto out;
            }
            GError *cause = NULL;
            if (!scn__nodes_parse(ctx, sel, false, false,
                                  &rg->regions[r].members, &cause)) {
                scn__fail_value(error, cause, ctx, "regions", key, sel);
                g_free(sel);
                g_free(key);
                goto out;
            }
            g_free(sel);
            g_free(key);
        }
        for (gsize i = 0; i < n_keys; i++)
            if (g_str_has_prefix(keys[i], "members.") &&
                region_index(rg, keys[i] + 8, strlen(keys[i] + 8)) < 0) {
                scn__fail(error, SCN_ERROR_UNKNOWN, ctx, "regions", keys[i],
                          "no region of that name in names");
                goto out;
            }
        if (!check_partition_of_nodes(ctx, error))
            goto out;
    }

    rg->latency_us = g_new0(model_dist, R * R);
    rg->latency_set = g_new0(bool, R * R);
    /* Given pairs first, then the reverse of each pair not given itself:
     * a single latency.eu.us is symmetric. */
    for (gsize i = 0; i < n_keys; i++) {
        if (!g_str_has_prefix(keys[i], "latency."))
            continue;
        const char *a = keys[i] + 8;
        const char *dot = strchr(a, '.');
        int from = region_index(rg, a, (size_t)(dot - a));
        int to = region_index(rg, dot + 1, strlen(dot + 1));
        if (from < 0 || to < 0) {
            scn__fail(error, SCN_ERROR_UNKNOWN, ctx, "regions", keys[i],
                      "unknown region '%.*s'",
                      from < 0 ? (int)(dot - a) : (int)strlen(dot + 1),
                      from < 0 ? a : dot + 1);
            goto out;
        }
        size_t fwd = (size_t)from * R + (size_t)to;
        if (!get_dist(ctx, "regions", keys[i], &scn__latency_quantity,
                      &rg->latency_us[fwd], error))
            goto out;
        rg->latency_set[fwd] = true;
    }
    for (size_t a = 0; a < R; a++)
        for (size_t b = 0; b < R; b++)
            if (rg->latency_set[a * R + b] && !rg->latency_set[b * R + a]) {
                rg->latency_us[b * R + a] = rg->latency_us[a * R + b];
                rg->latency_set[b * R + a] = true;
            }
    ok = TRUE;
out:
    g_strfreev(keys);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Clocks.                                                              */

gboolean scn__parse_clock(scn__ctx *ctx, GError **error)
{
    scn_clock *c = &ctx->sc->clock;
    scn__dist_constant(&c->skew_us, &scn__skew_quantity, 0);
    scn__dist_constant(&c->drift_ppm, &scn__drift_quantity, 0);
    if (!g_key_file_has_group(ctx->kf, "clock"))
        return TRUE;

    gsize n_keys;
    char **keys = g_key_file_get_keys(ctx->kf, "clock", &n_keys, NULL);
    gboolean ok = FALSE;
    c->entries = g_new0(scn_clock_entry, MAX(n_keys, 1));
    for (gsize i = 0; i < n_keys; i++) {
        int kind;
        const char *key = keys[i];
        if (!scn__clock_key_kind(key, &kind)) {
            char *msg = scn__unknown_key_message("clock", key);
            scn__fail(error, SCN_ERROR_UNKNOWN, ctx, "clock", key, "%s", msg);
            g_free(msg);
            goto out;
        }
        bool drift = g_str_has_prefix(key, "drift_ppm");
        if (kind == 0) {
            if (!get_dist(ctx, "clock", key,
                          drift ? &scn__drift_quantity : &scn__skew_quantity,
                          drift ? &c->drift_ppm : &c->skew_us, error))
                goto out;
            continue;
        }
        /* skew.SELECTOR = 250ms, drift_ppm.SELECTOR = 50 */
        const char *sel = strchr(key, '.') + 1;
        scn_clock_entry *e = &c->entries[c->n_entries];
        GError *cause = NULL;
        if (!scn__nodes_parse(ctx, sel, true, false, &e->nodes, &cause)) {
            scn__fail_value(error, cause, ctx, "clock", key, NULL);
            goto out;
        }
        c->n_entries++;
        e->is_drift = drift;
        char *v = scn__get(ctx, "clock", key);
        gboolean good;
        if (drift) {
            good = scn__parse_number(v, &e->value, &cause);
            if (good && (e->value < -SCN_DRIFT_MAX_PPM ||
                         e->value > SCN_DRIFT_MAX_PPM)) {
                g_set_error(&cause, SCN_ERROR, SCN_ERROR_RANGE,
                            "expected a drift from -100000 to 100000 ppm, "
                            "got '%s'", v);
                good = FALSE;
            }
        } else {
            int64_t us = 0;
            good = scn_parse_duration(v, TRUE, &us, &cause);
            e->value = (double)us;
        }
        if (!good) {
            scn__fail_value(error, cause, ctx, "clock", key, v);
            g_free(v);
            goto out;
        }
        g_free(v);
    }
    ok = TRUE;
out:
    g_strfreev(keys);
    return ok;
}
