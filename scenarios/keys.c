/* keys.c: which groups and keys exist, their other spellings, and the
 * checks that make typos errors instead of silently ignored settings.
 */
#include <string.h>

#include "scenario-private.h"

typedef struct key_spec {
    const char *name;               /* canonical */
    const char *aliases[3];         /* other spellings; NULL ends */
} key_spec;

static const key_spec cluster_keys[] = {
    {"nodes", {NULL}},
    {"seeds", {NULL}},
    {"seed_mode", {NULL}},
    {"protocol", {NULL}},
    {"duration", {NULL}},
    {"seed", {NULL}},
    {"heartbeat_sample", {NULL}},
    {"heartbeat_every", {NULL}},
    {"sample_interval", {NULL}},
    {"stagger", {NULL}},
    {NULL, {NULL}},
};

/* pekonode's NodeList field names are accepted as they are spelled there. */
static const key_spec engine_keys[] = {
    {"amount", {"fanout", "Amount", NULL}},
    {"cycle", {"Cycle", NULL}},
    {"buffer", {"Buffer", NULL}},
    {"size", {"Size", NULL}},
    {"timeout", {"Timeout", NULL}},
    {"secret_key", {"SecretKey", NULL}},
    {"accepted_keys", {NULL}},
    {"protocol", {"Protocol", NULL}},
    {"listen_addr", {"ListenAddr", NULL}},
    {"is_print", {"IsPrint", NULL}},
    {"dissemination", {NULL}},
    {"seen_cache", {NULL}},
    {"exchanges", {NULL}},
    {NULL, {NULL}},
};

static const key_spec network_keys[] = {
    {"latency", {NULL}},
    {"loss", {NULL}},
    {"duplicate", {NULL}},
    {"bandwidth", {NULL}},
    {"send_queue", {NULL}},
    {"processing", {NULL}},
    {"host_cores", {NULL}},
    {NULL, {NULL}},
};

static const char *const groups[] = {
    "cluster", "engine", "network", "regions", "clock", "timeline", "sweep",
};

static const key_spec *table_of(const char *group)
{
    if (strcmp(group, "cluster") == 0)
        return cluster_keys;
    if (strcmp(group, "engine") == 0)
        return engine_keys;
    if (strcmp(group, "network") == 0)
        return network_keys;
    return NULL;
}

/* Edit distance, for "did you mean". Inputs are short key names. */
static size_t distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t cost = g_ascii_tolower(a[i - 1]) ==
                          g_ascii_tolower(b[j - 1]) ? 0 : 1;
            row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
            diag = up;
        }
    }
    return row[nb];
}

/* Appends " (did you mean 'x'?)" when a candidate is close. */
static void suggest(GString *msg, const char *got,
                    const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;  /* at most two edits away */
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(got, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    if (best != NULL)
        g_string_append_printf(msg, "; did you mean '%s'?", best);
}

static void table_names(const key_spec *table, GPtrArray *out)
{
    for (const key_spec *k = table; k->name; k++) {
        g_ptr_array_add(out, (gpointer)k->name);
        for (size_t a = 0; a < 3 && k->aliases[a]; a++)
            g_ptr_array_add(out, (gpointer)k->aliases[a]);
    }
}

static const key_spec *lookup(const key_spec *table, const char *key)
{
    for (const key_spec *k = table; k->name; k++) {
        if (strcmp(k->name, key) == 0)
            return k;
        for (size_t a = 0; a < 3 && k->aliases[a]; a++)
            if (strcmp(k->aliases[a], key) == 0)
                return k;
    }
    return NULL;
}

/* "unknown key; did you mean 'x'? (known keys: a, b, c)" */
static char *unknown_key_message(const char *group, const char *key)
{
    GString *msg = g_string_new("unknown key");
    const key_spec *table = table_of(group);
    GPtrArray *names = g_ptr_array_new();
    if (table != NULL) {
        table_names(table, names);
    } else if (strcmp(group, "regions") == 0) {
        g_ptr_array_add(names, (gpointer)"names");
        g_ptr_array_add(names, (gpointer)"assign");
        g_ptr_array_add(names, (gpointer)"members.NAME");
        g_ptr_array_add(names, (gpointer)"latency.FROM.TO");
    } else if (strcmp(group, "clock") == 0) {
        g_ptr_array_add(names, (gpointer)"skew");
        g_ptr_array_add(names, (gpointer)"drift_ppm");
        g_ptr_array_add(names, (gpointer)"skew.NODES");
        g_ptr_array_add(names, (gpointer)"drift_ppm.NODES");
    }
    suggest(msg, key, (const char *const *)names->pdata, names->len);
    if (names->len > 0) {
        g_string_append(msg, " (known keys: ");
        for (guint i = 0; i < names->len; i++)
            g_string_append_printf(msg, "%s%s", i ? ", " : "",
                                   (const char *)names->pdata[i]);
        g_string_append(msg, ")");
    }
    g_ptr_array_free(names, TRUE);
    return g_string_free(msg, FALSE);
}

gboolean scn__check_groups(scn__ctx *ctx, GError **error)
{
    gsize n;
    char **names = g_key_file_get_groups(ctx->kf, &n);
    gboolean ok = TRUE;
    for (gsize i = 0; i < n && ok; i++) {
        bool known = false;
        for (size_t g = 0; g < G_N_ELEMENTS(groups); g++)
            if (strcmp(names[i], groups[g]) == 0)
                known = true;
        if (!known) {
            GString *msg = g_string_new("unknown group");
            suggest(msg, names[i], groups, G_N_ELEMENTS(groups));
            g_string_append(msg, " (groups: cluster, engine, network, "
                                 "regions, clock, timeline, sweep)");
            scn__fail(error, SCN_ERROR_UNKNOWN, ctx, names[i], NULL, "%s",
                      msg->str);
            g_string_free(msg, TRUE);
            ok = FALSE;
        }
    }
    g_strfreev(names);
    return ok;
}

gboolean scn__check_fixed_group(scn__ctx *ctx, const char *group,
                                GError **error)
{
    const key_spec *table = table_of(group);
    if (!g_key_file_has_group(ctx->kf, group))
        return TRUE;
    gsize n;
    char **keys = g_key_file_get_keys(ctx->kf, group, &n, NULL);
    gboolean ok = TRUE;
    for (gsize i = 0; i < n && ok; i++) {
        const key_spec *k = lookup(table, keys[i]);
        if (k == NULL) {
            char *msg = unknown_key_message(group, keys[i]);
            scn__fail(error, SCN_ERROR_UNKNOWN, ctx, group, keys[i], "%s",
                      msg);
            g_free(msg);
            ok = FALSE;
            break;
        }
        /* The same setting under two names: refuse rather than guess
         * which one wins. */
        for (gsize j = 0; j < i; j++)
            if (lookup(table, keys[j]) == k) {
                scn__fail(error, SCN_ERROR_CONFLICT, ctx, group, keys[i],
                          "the same setting as %s; give it once", keys[j]);
                ok = FALSE;
                break;
            }
    }
    g_strfreev(keys);
    return ok;
}

const char *scn_engine_setting_name(const char *key)
{
    const key_spec *k = key ? lookup(engine_keys, key) : NULL;
    return k ? k->name : NULL;
}

bool scn_engine_setting_is_text(const char *name)
{
    return strcmp(name, "secret_key") == 0 ||
           strcmp(name, "accepted_keys") == 0 ||
           strcmp(name, "listen_addr") == 0;
}

const char *const *scn_engine_settings(void)
{
    static const char *names[G_N_ELEMENTS(engine_keys)];
    if (names[0] == NULL)
        for (size_t i = 0; engine_keys[i].name; i++)
            names[i] = engine_keys[i].name;
    return names;
}

const char *scn__find_alias(GKeyFile *kf, const char *group,
                            const char *canonical)
{
    const key_spec *table = table_of(group);
    const key_spec *k = table ? lookup(table, canonical) : NULL;
    if (k == NULL)
        return g_key_file_has_key(kf, group, canonical, NULL) ? canonical
                                                              : NULL;
    if (g_key_file_has_key(kf, group, k->name, NULL))
        return k->name;
    for (size_t a = 0; a < 3 && k->aliases[a]; a++)
        if (g_key_file_has_key(kf, group, k->aliases[a], NULL))
            return k->aliases[a];
    return NULL;
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || (!g_ascii_isalpha(s[0]) && s[0] != '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!g_ascii_isalnum(s[i]) && s[i] != '_')
            return false;
    return true;
}

gboolean scn__is_label(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return FALSE;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '_' && *s != '-' && *s != '.')
            return FALSE;
    return TRUE;
}

gboolean scn__regions_key_kind(const char *key, int *kind)
{
    if (strcmp(key, "names") == 0 || strcmp(key, "assign") == 0) {
        *kind = 0;
        return TRUE;
    }
    if (g_str_has_prefix(key, "members.") &&
        is_ident(key + 8, strlen(key + 8))) {
        *kind = 1;
        return TRUE;
    }
    if (g_str_has_prefix(key, "latency.")) {
        const char *a = key + 8;
        const char *dot = strchr(a, '.');
        if (dot != NULL && is_ident(a, (size_t)(dot - a)) &&
            is_ident(dot + 1, strlen(dot + 1))) {
            *kind = 2;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean scn__clock_key_kind(const char *key, int *kind)
{
    if (strcmp(key, "skew") == 0 || strcmp(key, "drift_ppm") == 0) {
        *kind = 0;
        return TRUE;
    }
    if ((g_str_has_prefix(key, "skew.") && key[5] != '\0') ||
        (g_str_has_prefix(key, "drift_ppm.") && key[10] != '\0')) {
        *kind = 1;
        return TRUE;
    }
    return FALSE;
}

char *scn__unknown_key_message(const char *group, const char *key)
{
    return unknown_key_message(group, key);
}

gboolean scn__canonical_key(const char *dotted, char **group_out,
                            char **key_out, const char *const **aliases,
                            GError **error)
{
    const char *dot = strchr(dotted, '.');
    *aliases = NULL;
    if (dot == NULL || dot == dotted || dot[1] == '\0') {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected GROUP.KEY like engine.amount, got '%s'", dotted);
        return FALSE;
    }
    char *group = g_strndup(dotted, (gsize)(dot - dotted));
    const char *key = dot + 1;
    int kind;
    const key_spec *table = table_of(group);
    bool known_group = false;
    for (size_t g = 0; g < G_N_ELEMENTS(groups); g++)
        if (strcmp(group, groups[g]) == 0)
            known_group = true;

    if (!known_group || strcmp(group, "sweep") == 0) {
        GString *msg = g_string_new(NULL);
        g_string_printf(msg, "%s: unknown group '%s'", dotted, group);
        if (strcmp(group, "sweep") == 0)
            g_string_printf(msg, "%s: [sweep] keys cannot be set or swept",
                            dotted);
        else
            suggest(msg, group, groups, G_N_ELEMENTS(groups) - 1);
        g_set_error_literal(error, SCN_ERROR, SCN_ERROR_UNKNOWN, msg->str);
        g_string_free(msg, TRUE);
        g_free(group);
        return FALSE;
    }
    if (table != NULL) {
        const key_spec *k = lookup(table, key);
        if (k != NULL) {
            *group_out = group;
            *key_out = g_strdup(k->name);
            *aliases = k->aliases;
            return TRUE;
        }
    } else if ((strcmp(group, "regions") == 0 &&
                scn__regions_key_kind(key, &kind)) ||
               (strcmp(group, "clock") == 0 &&
                scn__clock_key_kind(key, &kind)) ||
               (strcmp(group, "timeline") == 0 && scn__is_label(key))) {
        *group_out = group;
        *key_out = g_strdup(key);
        return TRUE;
    }
    char *msg = strcmp(group, "timeline") == 0
        ? g_strdup("a timeline label is letters, digits, _, - or . "
                   "(at most 64)")
        : unknown_key_message(group, key);
    g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN, "%s: %s", dotted, msg);
    g_free(msg);
    g_free(group);
    return FALSE;
}
