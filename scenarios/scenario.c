/* scenario.c: loading a scenario file, and the questions asked of one.
 *
 * Loading is two passes. A line scanner first checks what GKeyFile would
 * silently accept or drop: a key given twice (GKeyFile keeps the last), a
 * group given twice (merged), localized keys "key[de]" (hidden from key
 * lists), overlong lines, control characters, invalid UTF-8. Then
 * GKeyFile parses, and each group's parser reads its keys.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scenario-private.h"

G_DEFINE_QUARK(scn-error-quark, scn_error)

/* ------------------------------------------------------------------ */
/* Errors.                                                              */

static char *location(const scn__ctx *ctx, const char *group,
                      const char *key)
{
    GString *s = g_string_new(NULL);
    if (ctx != NULL && ctx->display != NULL && *ctx->display != '\0')
        g_string_append_printf(s, "%s: ", ctx->display);
    if (group != NULL && key != NULL)
        g_string_append_printf(s, "[%s] %s: ", group, key);
    else if (group != NULL)
        g_string_append_printf(s, "[%s]: ", group);
    return g_string_free(s, FALSE);
}

void scn__fail(GError **error, scn_error_code code, const scn__ctx *ctx,
               const char *group, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *where = location(ctx, group, key);
    g_set_error(error, SCN_ERROR, code, "%s%s", where, msg);
    g_free(where);
    g_free(msg);
}

void scn__fail_value(GError **error, GError *cause, const scn__ctx *ctx,
                     const char *group, const char *key, const char *raw)
{
    char *where = location(ctx, group, key);
    /* GKeyFile keeps "3 # fanout" as the value: say why it failed. */
    const char *hint = raw != NULL && (strstr(raw, " #") || strstr(raw, "\t#"))
        ? " (comments go on a line of their own)" : "";
    g_set_error(error, SCN_ERROR, cause->code, "%s%s%s", where,
                cause->message, hint);
    g_free(where);
    g_error_free(cause);
}

char *scn__get(const scn__ctx *ctx, const char *group, const char *key)
{
    char *v = g_key_file_get_value(ctx->kf, group, key, NULL);
    return v ? scn__strip(v) : NULL;
}

/* ------------------------------------------------------------------ */
/* The line scanner.                                                    */

static gboolean scan_fail(GError **error, scn_error_code code,
                          const char *display, size_t line,
                          const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static gboolean scan_fail(GError **error, scn_error_code code,
                          const char *display, size_t line,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, SCN_ERROR, code, "%s: line %zu: %s", display, line,
                msg);
    g_free(msg);
    return FALSE;
}

static gboolean scan(const char *text, size_t n, const char *display,
                     GError **error)
{
    /* "group" -> first line; "group\nkey" -> first line. */
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);
    char *group = NULL;
    gboolean ok = FALSE;
    size_t line_no = 0;
    const char *end = text + n;

    const char *bad_utf8;
    if (!g_utf8_validate(text, (gssize)n, &bad_utf8)) {
        size_t line = 1;
        for (const char *p = text; p < bad_utf8; p++)
            line += *p == '\n';
        scan_fail(error, SCN_ERROR_SYNTAX, display, line,
                  "not valid UTF-8");
        goto out;
    }
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line_no++;
        if ((size_t)(stop - p) > SCN_MAX_LINE_BYTES) {
            scan_fail(error, SCN_ERROR_LIMIT, display, line_no,
                      "longer than %u bytes", SCN_MAX_LINE_BYTES);
            goto out;
        }
        char *line = g_strndup(p, (gsize)(stop - p));
        p = nl ? nl + 1 : end;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                g_free(line);
                scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                          "control character 0x%02x", c);
                goto out;
            }
        }
        char *s = g_strstrip(line);
        if (*s == '\0' || *s == '#') {
            g_free(line);
            continue;
        }
        if (*s == '[') {
            size_t sl = strlen(s);
            char *name = g_strndup(s + 1, sl >= 2 ? sl - 2 : 0);
            if (s[sl - 1] != ']' || *name == '\0' || strchr(name, '[') ||
                strchr(name, ']')) {
                scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                          "expected a group header like [cluster], got '%s'",
                          s);
                g_free(name);
                g_free(line);
                goto out;
            }
            gpointer first = g_hash_table_lookup(seen, name);
            if (first != NULL) {
                scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                          "[%s] appears twice (first on line %zu); give each "
                          "group once", name, GPOINTER_TO_SIZE(first));
                g_free(name);
                g_free(line);
                goto out;
            }
            g_hash_table_insert(seen, g_strdup(name),
                                GSIZE_TO_POINTER(line_no));
            g_free(group);
            group = name;
            g_free(line);
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                      "expected 'key = value', '[group]' or a comment "
                      "starting with #, got '%.80s'", s);
            g_free(line);
            goto out;
        }
        *eq = '\0';
        char *key = g_strstrip(s);
        if (group == NULL) {
            scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                      "'%.80s' comes before any [group]", key);
            g_free(line);
            goto out;
        }
        if (*key == '\0') {
            scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                      "[%s]: a value without a key", group);
            g_free(line);
            goto out;
        }
        if (strchr(key, '[') || strchr(key, ']')) {
            scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                      "[%s] %.80s: '[' and ']' are not allowed in keys "
                      "(localized keys are not supported)", group, key);
            g_free(line);
            goto out;
        }
        char *id = g_strconcat(group, "\n", key, NULL);
        gpointer first = g_hash_table_lookup(seen, id);
        if (first != NULL) {
            scan_fail(error, SCN_ERROR_SYNTAX, display, line_no,
                      "[%s] %.80s is given twice (first on line %zu)", group,
                      key, GPOINTER_TO_SIZE(first));
            g_free(id);
            g_free(line);
            goto out;
        }
        g_hash_table_insert(seen, id, GSIZE_TO_POINTER(line_no));
        g_free(line);
    }
    ok = TRUE;
out:
    g_free(group);
    g_hash_table_destroy(seen);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Parsing.                                                             */

scn_scenario *scn__parse(GKeyFile *kf, const char *display, bool check_sweep,
                         GError **error)
{
    scn_scenario *sc = g_new0(scn_scenario, 1);
    scn__ctx ctx = {
        .display = display,
        .kf = kf,
        .sc = sc,
        .ranges_left = SCN_MAX_RANGES,
    };
    char *base = g_path_get_basename(*display ? display : "scenario");
    sc->name = base;
    sc->overrides = g_new0(char *, 1);

    if (!scn__check_groups(&ctx, error) ||
        !scn__parse_cluster(&ctx, error) ||
        !scn__parse_engine(&ctx, error) ||
        !scn__parse_regions(&ctx, error) ||
        !scn__parse_network(&ctx, error) ||
        !scn__parse_clock(&ctx, error) ||
        !scn__parse_cluster_late(&ctx, error) ||
        !scn__parse_timeline(&ctx, error) ||
        !scn__parse_sweep(&ctx, check_sweep, error)) {
        scn_scenario_free(sc);
        return NULL;
    }
    return sc;
}

/* The checks and the parse every .ini file of ours gets: a new key file,
 * or NULL with *error set. */
static GKeyFile *load_ini(const char *text, size_t n, const char *display,
                          GError **error)
{
    if (n > SCN_MAX_FILE_BYTES) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_LIMIT,
                    "%s: larger than %u bytes", display, SCN_MAX_FILE_BYTES);
        return NULL;
    }
    if (memchr(text, '\0', n) != NULL) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_SYNTAX,
                    "%s: contains a NUL byte (not a text file?)", display);
        return NULL;
    }
    if (!scan(text, n, display, error))
        return NULL;

    GKeyFile *kf = g_key_file_new();
    GError *cause = NULL;
    if (!g_key_file_load_from_data(kf, text, n, G_KEY_FILE_NONE, &cause)) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_SYNTAX, "%s: %s", display,
                    cause->message);
        g_error_free(cause);
        g_key_file_free(kf);
        return NULL;
    }
    return kf;
}

static scn_scenario *load(const char *text, size_t n, const char *display,
                          GError **error)
{
    GKeyFile *kf = load_ini(text, n, display, error);
    if (kf == NULL)
        return NULL;
    scn_scenario *sc = scn__parse(kf, display, true, error);
    if (sc == NULL) {
        g_key_file_free(kf);
        return NULL;
    }
    sc->source = g_new0(scn__source, 1);
    sc->source->kf = kf;
    sc->source->display = g_strdup(display);
    return sc;
}

scn_scenario *scn_scenario_load_data(const char *text, const char *name,
                                     GError **error)
{
    g_return_val_if_fail(text != NULL, NULL);
    return load(text, strlen(text), name ? name : "<scenario>", error);
}

/* Reads at most one byte more than a file may hold: a FIFO or /dev/zero
 * must not make us read forever. A NUL-terminated buffer (g_free), its
 * length in *n, or NULL with *error set. */
static char *read_capped(const char *path, size_t *n, GError **error)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        g_set_error(error, SCN_ERROR, SCN_ERROR_IO, "%s: %s", path,
                    g_strerror(e));
        return NULL;
    }
    char *buf = g_malloc(SCN_MAX_FILE_BYTES + 2);
    *n = fread(buf, 1, SCN_MAX_FILE_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_IO, "%s: read error", path);
        g_free(buf);
        return NULL;
    }
    buf[*n] = '\0';
    return buf;
}

scn_scenario *scn_scenario_load_file(const char *path, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    size_t n;
    char *buf = read_capped(path, &n, error);
    if (buf == NULL)
        return NULL;
    scn_scenario *sc = load(buf, n, path, error);
    g_free(buf);
    return sc;
}

GKeyFile *scn_ini_load_file(const char *path, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    size_t n;
    char *buf = read_capped(path, &n, error);
    if (buf == NULL)
        return NULL;
    GKeyFile *kf = load_ini(buf, n, path, error);
    g_free(buf);
    return kf;
}

/* ------------------------------------------------------------------ */
/* Lifecycle.                                                           */

void scn_scenario_free(scn_scenario *sc)
{
    if (sc == NULL)
        return;
    g_free(sc->name);
    scn__nodes_clear(&sc->cluster.heartbeat_sample);
    scn__nodes_clear(&sc->cluster.late);
    g_free(sc->secret_key);
    g_strfreev(sc->accepted_keys);
    g_free(sc->listen_addr);
    for (size_t r = 0; r < sc->regions.n_regions; r++) {
        g_free(sc->regions.regions[r].name);
        scn__nodes_clear(&sc->regions.regions[r].members);
    }
    g_free(sc->regions.regions);
    g_free(sc->regions.latency_us);
    g_free(sc->regions.latency_set);
    for (size_t i = 0; i < sc->clock.n_entries; i++)
        scn__nodes_clear(&sc->clock.entries[i].nodes);
    g_free(sc->clock.entries);
    for (size_t i = 0; i < sc->n_events; i++)
        scn__event_clear(&sc->events[i]);
    g_free(sc->events);
    scn__sweep_clear(&sc->sweep);
    g_strfreev(sc->overrides);
    if (sc->source != NULL) {
        g_key_file_free(sc->source->kf);
        g_free(sc->source->display);
        g_free(sc->source);
    }
    g_free(sc);
}

GKeyFile *scn__keyfile_copy(GKeyFile *kf)
{
    gsize n;
    char *data = g_key_file_to_data(kf, &n, NULL);
    GKeyFile *copy = g_key_file_new();
    gboolean ok = g_key_file_load_from_data(copy, data, n, G_KEY_FILE_NONE,
                                            NULL);
    g_assert(ok);  /* GKeyFile reads what it writes */
    g_free(data);
    return copy;
}

scn_scenario *scn_scenario_copy(const scn_scenario *sc)
{
    g_return_val_if_fail(sc != NULL && sc->source != NULL, NULL);
    GKeyFile *kf = scn__keyfile_copy(sc->source->kf);
    GError *error = NULL;
    scn_scenario *copy = scn__parse(kf, sc->source->display, false, &error);
    /* The same text parsed before; parsing is deterministic. */
    g_assert_no_error(error);
    copy->source = g_new0(scn__source, 1);
    copy->source->kf = kf;
    copy->source->display = g_strdup(sc->source->display);
    g_strfreev(copy->overrides);
    copy->overrides = g_strdupv(sc->overrides);
    return copy;
}

/* ------------------------------------------------------------------ */
/* Questions.                                                           */

int64_t scn_scenario_start_us(const scn_scenario *sc, uint32_t node)
{
    uint32_t n = sc->cluster.nodes;
    if (node >= n || scn_nodes_contains(&sc->cluster.late, node))
        return -1;
    /* floor(node * stagger / n) without overflowing 64 bits. */
    int64_t q = sc->cluster.stagger_us / n, r = sc->cluster.stagger_us % n;
    return (int64_t)node * q + ((int64_t)node * r) / n;
}

int scn_scenario_region_of(const scn_scenario *sc, uint32_t node)
{
    const scn_regions *rg = &sc->regions;
    if (rg->n_regions == 0 || node >= sc->cluster.nodes)
        return -1;
    switch (rg->assign) {
    case SCN_ASSIGN_ROUND_ROBIN:
        return (int)(node % rg->n_regions);
    case SCN_ASSIGN_BLOCKS:
        return (int)((uint64_t)node * rg->n_regions / sc->cluster.nodes);
    case SCN_ASSIGN_EXPLICIT:
        for (size_t r = 0; r < rg->n_regions; r++)
            if (scn_nodes_contains(&rg->regions[r].members, node))
                return (int)r;
        break;
    }
    return -1;
}

const model_dist *scn_scenario_latency(const scn_scenario *sc,
                                       uint32_t from, uint32_t to)
{
    const scn_regions *rg = &sc->regions;
    int a = scn_scenario_region_of(sc, from);
    int b = scn_scenario_region_of(sc, to);
    if (a >= 0 && b >= 0) {
        size_t i = (size_t)a * rg->n_regions + (size_t)b;
        if (rg->latency_set[i])
            return &rg->latency_us[i];
    }
    return &sc->network.latency_us;
}

void scn_scenario_clock(const scn_scenario *sc, uint32_t node,
                        model_stream *stream, int64_t *offset_us,
                        double *drift_ppm)
{
    double offset = model_dist_sample(&sc->clock.skew_us, stream);
    double drift = model_dist_sample(&sc->clock.drift_ppm, stream);
    for (size_t i = 0; i < sc->clock.n_entries; i++) {
        const scn_clock_entry *e = &sc->clock.entries[i];
        if (!scn_nodes_contains(&e->nodes, node))
            continue;
        if (e->is_drift)
            drift = e->value;
        else
            offset = e->value;
    }
    *offset_us = (int64_t)llround(offset);
    *drift_ppm = drift;
}
