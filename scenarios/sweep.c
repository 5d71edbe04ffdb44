/* sweep.c: the [sweep] group, and overrides (which sweeps are made of).
 *
 *   [sweep]
 *   engine.amount = 1..6
 *   cluster.nodes = 100, 1000, 10000
 *   network.latency = 5ms, normal(mean=20ms, sd=5ms)
 *   repetitions = 10
 *
 * An override sets one key of the key file and reparses everything, so a
 * swept or overridden value is checked exactly as if it had been written
 * in the file, in the context of every other setting.
 */
#include <string.h>

#include "scenario-private.h"

/* Up to this many combinations are each checked at load time; beyond it,
 * each value is checked alone (against the rest of the file). */
#define CHECK_ALL_COMBINATIONS_MAX 1024

void scn__sweep_clear(scn_sweep *sweep)
{
    for (size_t i = 0; i < sweep->n_axes; i++) {
        g_free(sweep->axes[i].key);
        g_strfreev(sweep->axes[i].values);
    }
    g_free(sweep->axes);
    memset(sweep, 0, sizeof *sweep);
}

const char *scn_sweep_value(const scn_sweep *sweep, size_t combination,
                            size_t axis)
{
    if (axis >= sweep->n_axes || combination >= sweep->combinations)
        return NULL;
    /* Mixed radix, last axis fastest. */
    for (size_t a = sweep->n_axes; a-- > axis + 1;)
        combination /= sweep->axes[a].n_values;
    return sweep->axes[axis].values[combination % sweep->axes[axis].n_values];
}

/* "A..B" or "A..B step S" (integers): appends the values to `out`. */
static int expand_range(const char *item, GPtrArray *out, GError **error)
{
    const char *dots = strstr(item, "..");
    if (dots == NULL)
        return 0;  /* not a range */
    char *a = g_strndup(item, (gsize)(dots - item));
    char *rest = g_strdup(dots + 2);
    char *step_at = strstr(rest, "step");
    int64_t lo, hi, step = 1;
    int result = -1;
    if (step_at != NULL)
        *step_at = '\0';
    if (!scn__parse_int(a, INT64_MIN / 4, INT64_MAX / 4, &lo, NULL)) {
        result = 0;  /* "a..b" that is no integer range is a plain value */
        goto out;
    }
    if (!scn__parse_int(rest, INT64_MIN / 4, INT64_MAX / 4, &hi, NULL) ||
        (step_at != NULL &&
         !scn__parse_int(step_at + 4, 1, INT64_MAX / 4, &step, NULL))) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected an integer range like 1..6 or 0..100 step 10, "
                    "got '%.80s'", item);
        goto out;
    }
    if (hi < lo) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "range %.80s is reversed", item);
        goto out;
    }
    if ((hi - lo) / step + 1 + (int64_t)out->len > SCN_MAX_SWEEP_VALUES) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                    "more than %d values", SCN_MAX_SWEEP_VALUES);
        goto out;
    }
    for (int64_t v = lo; v <= hi; v += step)
        g_ptr_array_add(out, g_strdup_printf("%" G_GINT64_FORMAT, v));
    result = 1;
out:
    g_free(a);
    g_free(rest);
    return result;
}

static char **parse_values(const char *text, GError **error)
{
    char **items = scn__split_list(text, ',', error);
    if (items == NULL)
        return NULL;
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; items[i] != NULL; i++) {
        if (*items[i] == '\0') {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "value %zu is empty (values are separated by "
                        "commas; quote a value that holds one)", i + 1);
            goto fail;
        }
        int r = items[i][0] == '"' ? 0 : expand_range(items[i], out, error);
        if (r < 0)
            goto fail;
        if (r == 0) {
            char *v = scn__unquote(items[i], error);
            if (v == NULL)
                goto fail;
            g_ptr_array_add(out, v);
        }
        if (out->len > SCN_MAX_SWEEP_VALUES) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                        "more than %d values", SCN_MAX_SWEEP_VALUES);
            goto fail;
        }
    }
    g_strfreev(items);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
fail:
    g_strfreev(items);
    g_ptr_array_free(out, TRUE);
    return NULL;
}

/* Applies (key, value) pairs to a copy of `kf`. Returns the copy, or NULL
 * with a bare message (no file name). */
static GKeyFile *apply_pairs(GKeyFile *kf, const char *const *pairs,
                             size_t n_pairs, GError **error)
{
    GKeyFile *copy = scn__keyfile_copy(kf);
    for (size_t i = 0; i < n_pairs; i++) {
        const char *dotted = pairs[2 * i], *value = pairs[2 * i + 1];
        char *group, *key;
        const char *const *aliases;
        if (!scn__canonical_key(dotted, &group, &key, &aliases, error)) {
            g_key_file_free(copy);
            return NULL;
        }
        bool clean = g_utf8_validate(value, -1, NULL) &&
                     strlen(value) <= SCN_MAX_LINE_BYTES;
        for (const char *p = value; clean && *p; p++)
            if ((unsigned char)*p < 0x20 && *p != '\t')
                clean = false;
        if (!clean) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "%s: the value must be one line of UTF-8 text",
                        dotted);
            g_free(group);
            g_free(key);
            g_key_file_free(copy);
            return NULL;
        }
        /* Remove the other spellings, or the reparse would see the
         * setting twice. */
        for (size_t a = 0; aliases != NULL && a < 3 && aliases[a]; a++)
            g_key_file_remove_key(copy, group, aliases[a], NULL);
        /* GKeyFile would strip leading blanks when reading the file back;
         * set the stripped value so a copy parses the same. */
        char *v = scn__strip(g_strdup(value));
        g_key_file_set_value(copy, group, key, v);
        g_free(v);
        g_free(group);
        g_free(key);
    }
    return copy;
}

/* Parses the key file with the pairs applied, for checking only. */
static gboolean check_pairs(scn__ctx *ctx, const char *const *pairs,
                            size_t n_pairs, GError **error)
{
    GKeyFile *copy = apply_pairs(ctx->kf, pairs, n_pairs, error);
    if (copy == NULL)
        return FALSE;
    /* An empty display keeps the file name out of the inner message; the
     * caller names the file and the sweep key. */
    scn_scenario *sc = scn__parse(copy, "", false, error);
    g_key_file_free(copy);
    scn_scenario_free(sc);
    return sc != NULL;
}

static gboolean check_values(scn__ctx *ctx, GError **error)
{
    scn_sweep *sw = &ctx->sc->sweep;
    const char **pairs = g_new0(const char *, 2 * MAX(sw->n_axes, 1));
    gboolean ok = TRUE;
    GError *cause = NULL;

    if (sw->combinations <= CHECK_ALL_COMBINATIONS_MAX) {
        for (size_t c = 0; c < sw->combinations && ok; c++) {
            for (size_t a = 0; a < sw->n_axes; a++) {
                pairs[2 * a] = sw->axes[a].key;
                pairs[2 * a + 1] = scn_sweep_value(sw, c, a);
            }
            if (!check_pairs(ctx, pairs, sw->n_axes, &cause)) {
                GString *combo = g_string_new(NULL);
                for (size_t a = 0; a < sw->n_axes; a++)
                    g_string_append_printf(combo, "%s%s=%s", a ? ", " : "",
                                           pairs[2 * a], pairs[2 * a + 1]);
                scn__fail(error, cause->code, ctx, "sweep", NULL,
                          "with %s: %s", combo->str, cause->message);
                g_string_free(combo, TRUE);
                g_error_free(cause);
                ok = FALSE;
            }
        }
    } else {
        for (size_t a = 0; a < sw->n_axes && ok; a++)
            for (size_t v = 0; v < sw->axes[a].n_values && ok; v++) {
                pairs[0] = sw->axes[a].key;
                pairs[1] = sw->axes[a].values[v];
                if (!check_pairs(ctx, pairs, 1, &cause)) {
                    scn__fail(error, cause->code, ctx, "sweep",
                              sw->axes[a].key, "value '%.80s': %s", pairs[1],
                              cause->message);
                    g_error_free(cause);
                    ok = FALSE;
                }
            }
    }
    g_free(pairs);
    return ok;
}

gboolean scn__parse_sweep(scn__ctx *ctx, bool check, GError **error)
{
    scn_sweep *sw = &ctx->sc->sweep;
    sw->repetitions = 1;
    sw->combinations = 1;
    if (!g_key_file_has_group(ctx->kf, "sweep"))
        return TRUE;

    gsize n;
    char **keys = g_key_file_get_keys(ctx->kf, "sweep", &n, NULL);
    gboolean ok = FALSE;
    sw->axes = g_new0(scn_sweep_axis, MAX(n, 1));
    for (gsize i = 0; i < n; i++) {
        char *v = scn__get(ctx, "sweep", keys[i]);
        GError *cause = NULL;
        if (strcmp(keys[i], "repetitions") == 0) {
            int64_t r;
            if (!scn__parse_int(v, 1, SCN_MAX_REPETITIONS, &r, &cause)) {
                scn__fail_value(error, cause, ctx, "sweep", keys[i], v);
                g_free(v);
                goto out;
            }
            sw->repetitions = (uint32_t)r;
            g_free(v);
            continue;
        }
        char *group, *key;
        const char *const *aliases;
        if (!scn__canonical_key(keys[i], &group, &key, &aliases, &cause)) {
            /* The message starts with the key itself; keep the rest. */
            const char *msg = cause->message;
            if (g_str_has_prefix(msg, keys[i]) &&
                g_str_has_prefix(msg + strlen(keys[i]), ": "))
                msg += strlen(keys[i]) + 2;
            scn__fail(error, cause->code, ctx, "sweep", keys[i], "%s", msg);
            g_error_free(cause);
            g_free(v);
            goto out;
        }
        char *canonical = g_strconcat(group, ".", key, NULL);
        g_free(group);
        g_free(key);
        for (size_t a = 0; a < sw->n_axes; a++)
            if (strcmp(sw->axes[a].key, canonical) == 0) {
                scn__fail(error, SCN_ERROR_CONFLICT, ctx, "sweep", keys[i],
                          "%s is swept twice", canonical);
                g_free(canonical);
                g_free(v);
                goto out;
            }
        if (sw->n_axes == SCN_MAX_SWEEP_AXES) {
            scn__fail(error, SCN_ERROR_LIMIT, ctx, "sweep", keys[i],
                      "at most %d swept keys", SCN_MAX_SWEEP_AXES);
            g_free(canonical);
            g_free(v);
            goto out;
        }
        char **values = parse_values(v, &cause);
        if (values == NULL) {
            scn__fail_value(error, cause, ctx, "sweep", keys[i], v);
            g_free(canonical);
            g_free(v);
            goto out;
        }
        g_free(v);
        scn_sweep_axis *axis = &sw->axes[sw->n_axes++];
        axis->key = canonical;
        axis->values = values;
        axis->n_values = g_strv_length(values);
        if (axis->n_values == 0) {
            scn__fail(error, SCN_ERROR_VALUE, ctx, "sweep", keys[i],
                      "no values");
            goto out;
        }
        if (sw->combinations > SCN_MAX_SWEEP_COMBINATIONS / axis->n_values) {
            scn__fail(error, SCN_ERROR_LIMIT, ctx, "sweep", keys[i],
                      "more than %d combinations in all",
                      SCN_MAX_SWEEP_COMBINATIONS);
            goto out;
        }
        sw->combinations *= axis->n_values;
    }
    ok = !check || check_values(ctx, error);
out:
    g_strfreev(keys);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Overrides.                                                           */

gboolean scn__override_pairs(scn_scenario *sc, const char *const *pairs,
                             size_t n_pairs, bool check_sweep,
                             GError **error)
{
    const char *display = sc->source->display;
    GError *cause = NULL;
    GKeyFile *kf = apply_pairs(sc->source->kf, pairs, n_pairs, &cause);
    if (kf == NULL) {
        g_set_error(error, SCN_ERROR, cause->code, "%s: cannot set %s",
                    display, cause->message);
        g_error_free(cause);
        return FALSE;
    }
    scn_scenario *next = scn__parse(kf, display, check_sweep, error);
    if (next == NULL) {
        g_key_file_free(kf);
        return FALSE;
    }
    next->source = g_new0(scn__source, 1);
    next->source->kf = kf;
    next->source->display = g_strdup(display);

    /* Carry the overrides over, then add these. */
    size_t old = g_strv_length(sc->overrides);
    g_strfreev(next->overrides);
    next->overrides = g_new0(char *, old + n_pairs + 1);
    for (size_t i = 0; i < old; i++)
        next->overrides[i] = g_strdup(sc->overrides[i]);
    for (size_t i = 0; i < n_pairs; i++)
        next->overrides[old + i] =
            g_strconcat(pairs[2 * i], "=", pairs[2 * i + 1], NULL);

    /* Swap contents, so the caller's pointer stays valid. */
    scn_scenario tmp = *sc;
    *sc = *next;
    *next = tmp;
    scn_scenario_free(next);
    return TRUE;
}

gboolean scn_scenario_override(scn_scenario *sc, const char *key,
                               const char *value, GError **error)
{
    g_return_val_if_fail(sc != NULL && key != NULL && value != NULL, FALSE);
    const char *pairs[2] = {key, value};
    return scn__override_pairs(sc, pairs, 1, true, error);
}

gboolean scn_scenario_override_arg(scn_scenario *sc, const char *assignment,
                                   GError **error)
{
    g_return_val_if_fail(sc != NULL && assignment != NULL, FALSE);
    const char *eq = strchr(assignment, '=');
    if (eq == NULL) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected GROUP.KEY=VALUE like engine.amount=4, got "
                    "'%.80s'", assignment);
        return FALSE;
    }
    char *key = scn__strip(g_strndup(assignment, (gsize)(eq - assignment)));
    gboolean ok = scn_scenario_override(sc, key, eq + 1, error);
    g_free(key);
    return ok;
}

gboolean scn_scenario_apply_sweep(scn_scenario *sc, size_t combination,
                                  GError **error)
{
    g_return_val_if_fail(sc != NULL, FALSE);
    const scn_sweep *sw = &sc->sweep;
    if (combination >= sw->combinations) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "%s: combination %zu does not exist (the sweep has %zu)",
                    sc->source->display, combination, sw->combinations);
        return FALSE;
    }
    if (sw->n_axes == 0)
        return TRUE;
    const char **pairs = g_new0(const char *, 2 * sw->n_axes);
    char **keep = g_new0(char *, 2 * sw->n_axes + 1);
    /* Copy the strings: the reparse frees the sweep they live in. */
    for (size_t a = 0; a < sw->n_axes; a++) {
        keep[2 * a] = g_strdup(sw->axes[a].key);
        keep[2 * a + 1] = g_strdup(scn_sweep_value(sw, combination, a));
        pairs[2 * a] = keep[2 * a];
        pairs[2 * a + 1] = keep[2 * a + 1];
    }
    gboolean ok = scn__override_pairs(sc, pairs, sw->n_axes, false, error);
    g_free(pairs);
    g_strfreev(keep);
    return ok;
}

scn_scenario *scn_scenario_sweep_point(const scn_scenario *base,
                                       size_t combination,
                                       uint32_t repetition, GError **error)
{
    g_return_val_if_fail(base != NULL, NULL);
    scn_scenario *sc = scn_scenario_copy(base);
    if (!scn_scenario_apply_sweep(sc, combination, error)) {
        scn_scenario_free(sc);
        return NULL;
    }
    if (repetition > 0) {
        uint64_t seed = (sc->cluster.seed + repetition) & (uint64_t)INT64_MAX;
        char *v = g_strdup_printf("%" G_GUINT64_FORMAT, seed);
        const char *pairs[2] = {"cluster.seed", v};
        gboolean ok = scn__override_pairs(sc, pairs, 1, false, error);
        g_free(v);
        if (!ok) {
            scn_scenario_free(sc);
            return NULL;
        }
    }
    return sc;
}
