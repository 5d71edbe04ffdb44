/* cluster.c: the [cluster] and [engine] groups. */
#include <string.h>

#include "scenario-private.h"

/* Reads an integer key; absent keys leave *out alone. */
static gboolean get_int(scn__ctx *ctx, const char *group, const char *key,
                        int64_t min, int64_t max, int64_t *out,
                        GError **error)
{
    char *v = scn__get(ctx, group, key);
    if (v == NULL)
        return TRUE;
    GError *cause = NULL;
    gboolean ok = scn__parse_int(v, min, max, out, &cause);
    if (!ok)
        scn__fail_value(error, cause, ctx, group, key, v);
    g_free(v);
    return ok;
}

/* Reads a duration key; `bare_unit_us` lets pekonode's spellings take a
 * plain number of seconds. */
static gboolean get_duration(scn__ctx *ctx, const char *group,
                             const char *key, int64_t bare_unit_us,
                             int64_t *out, GError **error)
{
    char *v = scn__get(ctx, group, key);
    if (v == NULL)
        return TRUE;
    GError *cause = NULL;
    gboolean ok = scn__parse_duration_bare(v, FALSE, bare_unit_us, out,
                                           &cause);
    if (!ok)
        scn__fail_value(error, cause, ctx, group, key, v);
    g_free(v);
    return ok;
}

/* Reads a key whose value is one of `words`; *out is its index. */
static gboolean get_word(scn__ctx *ctx, const char *group, const char *key,
                         const char *const *words, int *out, GError **error)
{
    char *v = scn__get(ctx, group, key);
    if (v == NULL)
        return TRUE;
    for (int i = 0; words[i]; i++)
        if (g_ascii_strcasecmp(v, words[i]) == 0) {
            *out = i;
            g_free(v);
            return TRUE;
        }
    char *list = g_strjoinv(" or ", (char **)words);
    scn__fail(error, SCN_ERROR_VALUE, ctx, group, key,
              "expected %s, got '%.80s'", list, v);
    g_free(list);
    g_free(v);
    return FALSE;
}

static void missing(GError **error, scn__ctx *ctx, const char *key,
                    const char *example)
{
    scn__fail(error, SCN_ERROR_MISSING, ctx, "cluster", key,
              "missing (required, e.g. %s)", example);
}

gboolean scn__parse_cluster(scn__ctx *ctx, GError **error)
{
    scn_cluster *c = &ctx->sc->cluster;
    static const char *const protocols[] = {"udp", "tcp", NULL};
    static const char *const modes[] = {"first", "random", NULL};
    int64_t v;

    if (!scn__check_fixed_group(ctx, "cluster", error))
        return FALSE;
    if (!g_key_file_has_key(ctx->kf, "cluster", "nodes", NULL)) {
        missing(error, ctx, "nodes", "nodes = 32");
        return FALSE;
    }
    if (!g_key_file_has_key(ctx->kf, "cluster", "duration", NULL)) {
        missing(error, ctx, "duration", "duration = 60s");
        return FALSE;
    }
    if (!get_int(ctx, "cluster", "nodes", 1, SCN_MAX_NODES, &v, error))
        return FALSE;
    c->nodes = (uint32_t)v;
    if (!get_duration(ctx, "cluster", "duration", 0, &c->duration_us, error))
        return FALSE;
    if (c->duration_us <= 0) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "cluster", "duration",
                  "expected a duration above 0");
        return FALSE;
    }
    v = SCN_DEFAULT_SEED;
    if (!get_int(ctx, "cluster", "seed", 0, INT64_MAX, &v, error))
        return FALSE;
    c->seed = (uint64_t)v;

    v = MIN(SCN_DEFAULT_SEEDS, (int64_t)c->nodes - 1);
    if (!get_int(ctx, "cluster", "seeds", 0,
                 MIN((int64_t)SCN_MAX_SEEDS, (int64_t)c->nodes - 1), &v,
                 error))
        return FALSE;
    c->seeds = (uint32_t)v;
    int mode = SCN_SEEDS_FIRST;
    if (!get_word(ctx, "cluster", "seed_mode", modes, &mode, error))
        return FALSE;
    c->seed_mode = (scn_seed_mode)mode;

    int protocol = PEKO_PROTOCOL_UDP;
    if (!get_word(ctx, "cluster", "protocol", protocols, &protocol, error))
        return FALSE;
    ctx->sc->engine.protocol = (peko_protocol)protocol;

    if (!get_duration(ctx, "cluster", "stagger", 0, &c->stagger_us, error))
        return FALSE;
    if (c->stagger_us > c->duration_us) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "cluster", "stagger",
                  "the start window is longer than the duration");
        return FALSE;
    }
    c->sample_interval_us = SCN_DEFAULT_SAMPLE_INTERVAL_US;
    if (!get_duration(ctx, "cluster", "sample_interval", 0,
                      &c->sample_interval_us, error))
        return FALSE;
    if (c->sample_interval_us <= 0) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "cluster", "sample_interval",
                  "expected a duration above 0");
        return FALSE;
    }
    v = 1;
    if (!get_int(ctx, "cluster", "heartbeat_every", 1,
                 SCN_MAX_HEARTBEAT_EVERY, &v, error))
        return FALSE;
    c->heartbeat_every = (uint32_t)v;
    return TRUE;
}

gboolean scn__parse_cluster_late(scn__ctx *ctx, GError **error)
{
    char *v = scn__get(ctx, "cluster", "heartbeat_sample");
    const char *text = v ? v : SCN_DEFAULT_HEARTBEAT_SAMPLE;
    GError *cause = NULL;
    gboolean ok = scn__nodes_parse(ctx, text, true, true,
                                   &ctx->sc->cluster.heartbeat_sample,
                                   &cause);
    if (!ok)
        scn__fail_value(error, cause, ctx, "cluster", "heartbeat_sample", v);
    g_free(v);
    return ok;
}

/* Reads a string value, unquoting "..." so keys may hold spaces at
 * either end. Absent keys give NULL and TRUE. */
static gboolean get_string(scn__ctx *ctx, const char *key, char **out,
                           GError **error)
{
    const char *k = scn__find_alias(ctx->kf, "engine", key);
    *out = NULL;
    if (k == NULL)
        return TRUE;
    char *v = scn__get(ctx, "engine", k);
    GError *cause = NULL;
    *out = scn__unquote(v, &cause);
    if (*out == NULL)
        scn__fail_value(error, cause, ctx, "engine", k, v);
    g_free(v);
    return *out != NULL;
}

static gboolean parse_keys(scn__ctx *ctx, GError **error)
{
    scn_scenario *sc = ctx->sc;
    if (!get_string(ctx, "secret_key", &sc->secret_key, error))
        return FALSE;
    if (sc->secret_key != NULL && *sc->secret_key == '\0') {
        g_free(sc->secret_key);  /* "" means none, as in pekonode */
        sc->secret_key = NULL;
    }
    sc->engine.secret_key = sc->secret_key;

    char *v = scn__get(ctx, "engine", "accepted_keys");
    if (v == NULL)
        return TRUE;
    GError *cause = NULL;
    char **items = scn__split_list(v, ',', &cause);
    if (items == NULL) {
        scn__fail_value(error, cause, ctx, "engine", "accepted_keys", v);
        g_free(v);
        return FALSE;
    }
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = TRUE;
    for (size_t i = 0; items[i] != NULL && ok; i++) {
        char *key = scn__unquote(items[i], &cause);
        if (key == NULL || *key == '\0') {
            if (key == NULL)
                scn__fail_value(error, cause, ctx, "engine", "accepted_keys",
                                v);
            else
                scn__fail(error, SCN_ERROR_VALUE, ctx, "engine",
                          "accepted_keys", "key %zu is empty", i + 1);
            g_free(key);
            ok = FALSE;
        } else {
            g_ptr_array_add(keys, key);
        }
    }
    if (ok && sc->secret_key == NULL) {
        /* Such a node would sign nothing, yet with keys it rejects
         * unsigned packets: its own cluster's included. */
        scn__fail(error, SCN_ERROR_CONFLICT, ctx, "engine", "accepted_keys",
                  "needs a secret_key to send with (accepted keys only add "
                  "keys to accept)");
        ok = FALSE;
    }
    if (ok && keys->len + 1 > PEKO_MAX_KEYS) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "engine", "accepted_keys",
                  "at most %d keys besides secret_key", PEKO_MAX_KEYS - 1);
        ok = FALSE;
    }
    g_strfreev(items);
    g_free(v);
    if (!ok) {
        g_ptr_array_free(keys, TRUE);
        return FALSE;
    }
    sc->engine.accepted_key_count = keys->len;
    g_ptr_array_add(keys, NULL);
    sc->accepted_keys = (char **)g_ptr_array_free(keys, FALSE);
    sc->engine.accepted_keys = (const char *const *)sc->accepted_keys;
    return TRUE;
}

gboolean scn__parse_engine(scn__ctx *ctx, GError **error)
{
    peko_config *e = &ctx->sc->engine;

    if (!scn__check_fixed_group(ctx, "engine", error))
        return FALSE;

    /* Every setting with a value, through the one parser every source
     * shares (engine.c); the strings are kept below. */
    for (const char *const *name = scn_engine_settings(); *name; name++) {
        if (scn_engine_setting_is_text(*name))
            continue;
        const char *k = scn__find_alias(ctx->kf, "engine", *name);
        if (k == NULL)
            continue;
        char *v = scn__get(ctx, "engine", k);
        GError *cause = NULL;
        peko_protocol before = e->protocol;
        gboolean ok = scn_engine_set(e, k, v, &cause);
        if (!ok)
            scn__fail_value(error, cause, ctx, "engine", k, v);
        g_free(v);
        if (!ok)
            return FALSE;
        if (strcmp(*name, "protocol") == 0 &&
            g_key_file_has_key(ctx->kf, "cluster", "protocol", NULL) &&
            e->protocol != before) {
            scn__fail(error, SCN_ERROR_CONFLICT, ctx, "engine", k,
                      "disagrees with [cluster] protocol; give it once");
            return FALSE;
        }
    }
    if (!get_string(ctx, "listen_addr", &ctx->sc->listen_addr, error))
        return FALSE;
    if (ctx->sc->listen_addr != NULL) {
        peko_addr addr;
        if (peko_addr_parse(ctx->sc->listen_addr, 0, &addr) < 0) {
            scn__fail(error, SCN_ERROR_VALUE, ctx, "engine",
                      scn__find_alias(ctx->kf, "engine", "listen_addr"),
                      "expected a numeric IPv4 or IPv6 address like 0.0.0.0, "
                      "got '%.80s'", ctx->sc->listen_addr);
            return FALSE;
        }
        e->listen_addr = ctx->sc->listen_addr;
    }
    if (!parse_keys(ctx, error))
        return FALSE;

    GError *cause = NULL;
    if (!scn_engine_check(e, &cause)) {
        scn__fail(error, SCN_ERROR_RANGE, ctx, "engine", NULL, "%s",
                  cause->message);
        g_error_free(cause);
        return FALSE;
    }
    return TRUE;
}
