/* node-config.c: `peko node` settings from a file and flags
 * (node-config.h, docs/node.md). */
#include "node-config.h"

#include <errno.h>
#include <string.h>

#include "cli.h"
#include "metrics-http.h"
#include "scenario.h"

#define NODE_GROUP "node"
#define KEY_FILE_MAX_BYTES (64 * 1024)

/* The file's keys, the flags that override them, and where each lands in
 * cli_node_args. accepted_keys and is_print are handled apart. */
typedef struct field {
    const char *key;
    const char *flag;
    size_t offset; /* of a char* in cli_node_args */
} field;

#define FIELD(key, flag, member) {key, flag, offsetof(cli_node_args, member)}

static const field fields[] = {
    FIELD("addr", "--addr", addr),
    FIELD("port", "--port", port),
    FIELD("name", "--name", name),
    FIELD("data", "--data", data),
    FIELD("seeds", "--seeds", seeds),
    FIELD("listen_addr", "--listen", listen_addr),
    FIELD("protocol", "--protocol", protocol),
    FIELD("amount", "--amount", amount),
    FIELD("cycle", "--cycle", cycle),
    FIELD("buffer", "--buffer", buffer),
    FIELD("size", "--size", size),
    FIELD("timeout", "--timeout", timeout),
    FIELD("secret_key", "--secret-key", secret_key),
    FIELD("dissemination", "--dissemination", dissemination),
    FIELD("seen_cache", "--seen-cache", seen_cache),
    FIELD("exchanges", "--exchanges", exchanges),
    FIELD("control", "--control", control),
    FIELD("db", "--db", db),
    FIELD("seed", "--seed", seed),
    FIELD("metrics", "--metrics", metrics),
    FIELD("key_file", "--key-file", key_file),
    FIELD("run_label", "--run-label", run_label),
};

enum { N_FIELDS = G_N_ELEMENTS(fields) };

static char **slot(const cli_node_args *args, size_t i)
{
    return (char **)((char *)args + fields[i].offset);
}

/* The merged text of every field, and where it came from. */
typedef struct merged {
    char *value[N_FIELDS];     /* borrowed from the args or the key file */
    char *spelling[N_FIELDS];  /* owned: the file's key as written (an
                                * engine setting may use pekonode's
                                * spelling), NULL for a flag */
    char *where[N_FIELDS];     /* owned: "--cycle" or "node.ini: [node] cycle" */
    char **accepted;           /* borrowed */
    char *accepted_where;
    bool print;
    GPtrArray *file_strings;   /* the file's values (owned) */
    char **file_accepted;      /* the file's accepted_keys (owned) */
} merged;

static void merged_clear(merged *m)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        g_free(m->where[i]);
        g_free(m->spelling[i]);
    }
    g_free(m->accepted_where);
    if (m->file_strings)
        g_ptr_array_free(m->file_strings, TRUE);
    g_strfreev(m->file_accepted);
}

static void prefix_error(GError **error, const char *where)
{
    if (error && *error)
        g_prefix_error(error, "%s: ", where);
}

static gboolean parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return TRUE;
        }
        if (g_ascii_strcasecmp(text, no[i]) == 0) {
            *out = false;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean read_keys(const char *path, GKeyFile *kf, merged *m,
                          GError **error);

/* Reads the config file with the checks scenario files get
 * (scn_ini_load_file: a key given twice, control characters, invalid
 * UTF-8 refused by line, never echoed). A new key file, or NULL. */
static GKeyFile *load_file(const char *path, GError **error)
{
    GError *local = NULL;
    GKeyFile *kf = scn_ini_load_file(path, &local);
    if (kf == NULL) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s",
                    local->message);
        g_error_free(local);
    }
    return kf;
}

/* Loads the file's values into m (which owns them). */
static gboolean read_file(const char *path, merged *m, GError **error)
{
    GKeyFile *kf = load_file(path, error);
    if (kf == NULL)
        return FALSE;
    gboolean ok = read_keys(path, kf, m, error);
    g_key_file_free(kf);
    return ok;
}

static gboolean read_keys(const char *path, GKeyFile *kf, merged *m,
                          GError **error)
{
    gsize n_groups;
    char **groups = g_key_file_get_groups(kf, &n_groups);
    for (gsize g = 0; g < n_groups; g++) {
        if (strcmp(groups[g], NODE_GROUP) != 0) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: unknown group [%s] (the settings go in"
                        " [" NODE_GROUP "])",
                        path, groups[g]);
            g_strfreev(groups);
            return FALSE;
        }
    }
    g_strfreev(groups);
    if (!g_key_file_has_group(kf, NODE_GROUP))
        return TRUE;

    gsize n_keys;
    char **keys = g_key_file_get_keys(kf, NODE_GROUP, &n_keys, NULL);
    m->file_strings = g_ptr_array_new_with_free_func(g_free);
    gboolean ok = TRUE;
    for (gsize k = 0; k < n_keys && ok; k++) {
        const char *key = keys[k];
        char *where = g_strdup_printf("%s: [" NODE_GROUP "] %s", path, key);
        if (strcmp(key, "accepted_keys") == 0) {
            g_strfreev(m->file_accepted);
            m->file_accepted = g_key_file_get_string_list(kf, NODE_GROUP,
                                                          key, NULL, NULL);
            m->accepted = m->file_accepted;
            g_free(m->accepted_where);
            m->accepted_where = where;
            continue;
        }
        if (strcmp(key, "is_print") == 0) {
            char *v = g_key_file_get_string(kf, NODE_GROUP, key, NULL);
            if (v == NULL) /* not reached: the file's scan checked UTF-8 */
                v = g_strdup("");
            char *s = g_strstrip(v);
            if (!parse_bool(s, &m->print)) {
                g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "%s: expected true or false, got '%s'", where, s);
                ok = FALSE;
            }
            g_free(v);
            g_free(where);
            continue;
        }
        /* An engine setting may be spelled as pekonode does (Amount,
         * Cycle, ...), as in scenario files. */
        const char *canonical = scn_engine_setting_name(key);
        size_t i = 0;
        while (i < N_FIELDS &&
               strcmp(fields[i].key, canonical ? canonical : key) != 0)
            i++;
        if (i == N_FIELDS) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: unknown key", where);
            g_free(where);
            ok = FALSE;
            break;
        }
        if (m->spelling[i] != NULL) {
            /* Keys given twice are refused by the file's scan; the same
             * setting under two spellings (cycle, Cycle) here, as in
             * scenario files. */
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: the same setting as %s; give it once", where,
                        m->spelling[i]);
            g_free(where);
            ok = FALSE;
            break;
        }
        char *v = g_key_file_get_string(kf, NODE_GROUP, key, NULL);
        if (v == NULL) /* not reached: the file's scan checked UTF-8 */
            v = g_strdup("");
        g_strstrip(v);
        m->value[i] = v;
        g_free(m->where[i]);
        m->where[i] = where;
        g_free(m->spelling[i]);
        m->spelling[i] = g_strdup(key);
        g_ptr_array_add(m->file_strings, v);
    }
    g_strfreev(keys);
    return ok;
}

/* A DNS name as RFC 1123 allows it: labels of 1 to 63 letters, digits
 * and hyphens, not starting or ending with a hyphen, dot-separated, 253
 * bytes at most (a final dot allowed). */
static bool is_dns_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-')
                return false;
            label = 0;
        } else if (g_ascii_isalnum(c) || (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label == 0 || name[n - 1] != '-';
}

gboolean cli_node_parse_hostport(const char *text, char **host, uint16_t *port,
                                 GError **error)
{
    const char *colon;
    char *h;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        h = g_strndup(text + 1, (gsize)(close - text - 1));
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || strchr(text, ':') != colon)
            goto bad;
        h = g_strndup(text, (gsize)(colon - text));
    }
    uint64_t p;
    peko_addr addr;
    if (!cli_parse_u64("port", colon + 1, 1, 65535, &p, NULL) ||
        (peko_addr_parse(h, (uint16_t)p, &addr) < 0 &&
         (text[0] == '[' || !is_dns_name(h))) ||
        h[0] == '\0') {
        g_free(h);
        goto bad;
    }
    *host = h;
    *port = (uint16_t)p;
    return TRUE;
bad:
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "expected HOST:PORT with a numeric host or a DNS name"
                " (10.0.0.2:8000, [::1]:8000, peko-0.peko:8000) and a port"
                " from 1 to 65535, got '%s'",
                text);
    return FALSE;
}

gboolean cli_node_read_key_file(const char *path, char **secret,
                                char ***accepted, GError **error)
{
    char *text = NULL;
    gsize n = 0;
    GError *local = NULL;
    if (!g_file_get_contents(path, &text, &n, &local)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s",
                    local->message);
        g_error_free(local);
        return FALSE;
    }
    const char *problem = NULL;
    if (n > KEY_FILE_MAX_BYTES)
        problem = "larger than 64 KiB: not a key file";
    else if (memchr(text, '\0', n))
        problem = "holds a NUL byte";
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    char **lines = problem ? NULL : g_strsplit(text, "\n", -1);
    for (char **l = lines; l && *l; l++) {
        char *key = g_strstrip(*l);
        if (*key == '\0' || *key == '#')
            continue;
        g_ptr_array_add(keys, g_strdup(key));
    }
    g_strfreev(lines);
    g_free(text);
    if (problem == NULL && keys->len == 0)
        problem = "no key (the first line is the sending key, the others"
                  " are accepted on receipt)";
    if (problem == NULL && keys->len > PEKO_MAX_KEYS)
        problem = "too many keys (at most " G_STRINGIFY(PEKO_MAX_KEYS) ")";
    if (problem) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "key file %s: %s", path, problem);
        g_ptr_array_free(keys, TRUE);
        return FALSE;
    }
    *secret = g_strdup(keys->pdata[0]);
    if (keys->len > 1) {
        char **a = g_new0(char *, keys->len);
        for (guint i = 1; i < keys->len; i++)
            a[i - 1] = g_strdup(keys->pdata[i]);
        *accepted = a;
    } else {
        *accepted = NULL;
    }
    g_ptr_array_free(keys, TRUE);
    return TRUE;
}

static gboolean parse_int(const char *where, const char *text, uint64_t min,
                          uint64_t max, int *out, GError **error)
{
    uint64_t v;
    if (!cli_parse_u64(where, text, min, max, &v, error))
        return FALSE;
    *out = (int)v;
    return TRUE;
}

/* A flag's text is refused when it holds a control character or is not
 * UTF-8, as a config file's is: what is refused is named, not echoed. */
static gboolean check_text(const char *where, const char *text,
                           GError **error)
{
    if (!g_utf8_validate(text, -1, NULL)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: not valid UTF-8", where);
        return FALSE;
    }
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: contains the control character 0x%02x", where,
                        c);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean check_flags(const cli_node_args *args, GError **error)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *text = *slot(args, i);
        if (text && !check_text(fields[i].flag, text, error))
            return FALSE;
    }
    for (char **k = args->accepted_keys; k && *k; k++)
        if (!check_text("--accepted-key", *k, error))
            return FALSE;
    return TRUE;
}

/* An environment that does nothing, to ask the engine whether a node
 * would be accepted (fits()). */
static int64_t probe_now(peko_env *env)
{
    (void)env;
    return 0;
}

static int probe_arm(peko_env *env, peko_timer timer, int64_t deadline_us)
{
    (void)env, (void)timer, (void)deadline_us;
    return 0;
}

static void probe_cancel(peko_env *env, peko_timer timer)
{
    (void)env, (void)timer;
}

static int probe_send(peko_env *env, const peko_addr *to,
                      const uint8_t *bytes, size_t n_bytes)
{
    (void)env, (void)to, (void)bytes, (void)n_bytes;
    return 0;
}

static uint64_t probe_random(peko_env *env)
{
    (void)env;
    return 1;
}

/* Whether the engine accepts a node of `name_len` bytes of name and
 * `data_len` of data with config c: its own heartbeat, with a full
 * infected set, must fit in Size. The engine's own answer, so that the
 * rule is written once. */
static bool fits(const peko_config *c, const char *addr, uint16_t port,
                 size_t name_len, size_t data_len)
{
    peko_env env = {
        .version = 1,
        .now_us = probe_now,
        .timer_arm = probe_arm,
        .timer_cancel = probe_cancel,
        .send = probe_send,
        .random_u64 = probe_random,
    };
    char *name = g_malloc(name_len + 1);
    char *data = g_malloc(data_len + 1);
    memset(name, 'n', name_len);
    memset(data, 'd', data_len);
    name[name_len] = data[data_len] = '\0';
    peko_config quiet = *c;
    quiet.is_print = false;
    peko_node node = {.addr = addr, .port = port, .name = name,
                      .private_data = data};
    peko_nodelist *nl = NULL;
    int rc = peko_nodelist_new(&quiet, &node, &env, &nl);
    peko_nodelist_free(nl);
    g_free(name);
    g_free(data);
    return rc == 0;
}

/* The name and data must fit a heartbeat: else exit 2 with the most that
 * fits (found by bisection; the engine only says EINVAL). */
static gboolean check_fits(const merged *m, const cli_node_settings *out,
                           GError **error)
{
    enum { F_NAME = 2, F_DATA = 3 };
    size_t name_len = strlen(out->name), data_len = strlen(out->data);
    if (fits(&out->config, out->addr, out->port, name_len, data_len))
        return TRUE;
    size_t lo = 0, hi = name_len + data_len; /* lo fits, hi does not */
    if (!fits(&out->config, out->addr, out->port, 0, 0)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "size %d is too small for even an empty heartbeat"
                    " with amount %d",
                    out->config.size ? out->config.size : PEKO_DEFAULT_SIZE,
                    out->config.amount ? out->config.amount
                                       : PEKO_DEFAULT_AMOUNT);
        return FALSE;
    }
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        size_t n = MIN(mid, (size_t)UINT16_MAX);
        if (fits(&out->config, out->addr, out->port, mid - n, n))
            lo = mid;
        else
            hi = mid;
    }
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "%s and %s take %zu bytes, and a heartbeat of size %d with"
                " amount %d has room for %zu bytes of name and data (its"
                " addresses, versions and infected set take the rest):"
                " shorten them, or raise size",
                m->where[F_NAME], m->where[F_DATA], name_len + data_len,
                out->config.size ? out->config.size : PEKO_DEFAULT_SIZE,
                out->config.amount ? out->config.amount : PEKO_DEFAULT_AMOUNT,
                lo);
    return FALSE;
}

/* Checks the merged text into *out. */
static gboolean check(const merged *m, cli_node_settings *out, GError **error)
{
    enum {
        F_ADDR, F_PORT, F_NAME, F_DATA, F_SEEDS, F_LISTEN, F_PROTOCOL,
        F_AMOUNT, F_CYCLE, F_BUFFER, F_SIZE, F_TIMEOUT, F_SECRET,
        F_DISSEMINATION, F_SEEN_CACHE, F_EXCHANGES, F_CONTROL, F_DB, F_SEED,
        F_METRICS, F_KEY_FILE, F_RUN_LABEL
    };
    G_STATIC_ASSERT(F_RUN_LABEL + 1 == N_FIELDS);
    const char *const *v = (const char *const *)m->value;
    char *const *where = m->where;
    peko_config *c = &out->config;

    /* The node. */
    out->addr = g_strdup(v[F_ADDR] ? v[F_ADDR] : "127.0.0.1");
    if (v[F_PORT] == NULL) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "a port is required (--port, or port in the config"
                    " file's [" NODE_GROUP "] group)");
        return FALSE;
    }
    int port;
    if (!parse_int(where[F_PORT], v[F_PORT], 1, 65535, &port, error))
        return FALSE;
    out->port = (uint16_t)port;
    peko_addr addr;
    if (peko_addr_parse(out->addr, out->port, &addr) < 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: expected a numeric IPv4 or IPv6 address, got '%s'",
                    where[F_ADDR], out->addr);
        return FALSE;
    }
    out->name = g_strdup(v[F_NAME] ? v[F_NAME] : "");
    out->data = g_strdup(v[F_DATA] ? v[F_DATA] : "");
    if (strlen(out->name) > UINT16_MAX || strlen(out->data) > UINT16_MAX) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "name and data are at most 65535 bytes each");
        return FALSE;
    }

    if (v[F_SEEDS] && *v[F_SEEDS]) {
        char **items = g_strsplit_set(v[F_SEEDS], ", ", -1);
        size_t n = 0;
        for (char **p = items; *p; p++)
            n += **p != '\0';
        out->seed_hosts = g_new0(char *, n + 1);
        out->seed_ports = g_new0(uint16_t, n ? n : 1);
        for (char **p = items; *p; p++) {
            if (**p == '\0')
                continue;
            if (!cli_node_parse_hostport(*p, &out->seed_hosts[out->n_seeds],
                                         &out->seed_ports[out->n_seeds],
                                         error)) {
                prefix_error(error, where[F_SEEDS]);
                g_strfreev(items);
                return FALSE;
            }
            out->n_seeds++;
        }
        g_strfreev(items);
    }

    /* pekonode's NodeList fields. */
    if (v[F_LISTEN]) {
        peko_addr listen;
        if (peko_addr_parse(v[F_LISTEN], 0, &listen) < 0 || !*v[F_LISTEN]) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: expected a numeric IPv4 or IPv6 address such"
                        " as 0.0.0.0 or ::, got '%s'",
                        where[F_LISTEN], v[F_LISTEN]);
            return FALSE;
        }
        out->listen_addr = g_strdup(v[F_LISTEN]);
        c->listen_addr = out->listen_addr;
    }
    if (v[F_PROTOCOL] && !scn_engine_set(c, "protocol", v[F_PROTOCOL],
                                         error)) {
        prefix_error(error, where[F_PROTOCOL]);
        return FALSE;
    }
    /* The engine's settings: the parser scenario files use, so the same
     * key means the same thing with the same limits everywhere. */
    static const int engine_fields[] = {F_AMOUNT,     F_CYCLE,
                                        F_BUFFER,     F_SIZE,
                                        F_TIMEOUT,    F_DISSEMINATION,
                                        F_SEEN_CACHE, F_EXCHANGES};
    for (size_t k = 0; k < G_N_ELEMENTS(engine_fields); k++) {
        int f = engine_fields[k];
        if (v[f] == NULL)
            continue;
        const char *spelled = m->spelling[f] ? m->spelling[f] : fields[f].key;
        if (!scn_engine_set(c, spelled, v[f], error)) {
            prefix_error(error, where[f]);
            return FALSE;
        }
    }
    c->is_print = m->print;

    /* Keys: from a key file, or given as settings, not both: SIGHUP
     * rereads one source, and which is then never in doubt. */
    if (v[F_KEY_FILE]) {
        if (v[F_SECRET] || m->accepted) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: keys come from a key file or from secret_key"
                        " and accepted_keys, not both",
                        where[F_KEY_FILE]);
            return FALSE;
        }
        out->key_file = g_strdup(v[F_KEY_FILE]);
        if (!cli_node_read_key_file(out->key_file, &out->secret_key,
                                    &out->accepted_keys, error)) {
            prefix_error(error, where[F_KEY_FILE]);
            return FALSE;
        }
        c->secret_key = out->secret_key;
        c->accepted_keys = (const char *const *)out->accepted_keys;
        c->accepted_key_count =
            out->accepted_keys ? g_strv_length(out->accepted_keys) : 0;
    }
    if (v[F_SECRET] && *v[F_SECRET]) {
        out->secret_key = g_strdup(v[F_SECRET]);
        c->secret_key = out->secret_key;
    }
    if (m->accepted && m->accepted[0]) {
        out->accepted_keys = g_strdupv(m->accepted);
        c->accepted_keys = (const char *const *)out->accepted_keys;
        c->accepted_key_count = g_strv_length(out->accepted_keys);
        if (out->secret_key == NULL) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: accepted keys need a secret_key to send with",
                        m->accepted_where);
            return FALSE;
        }
        if (c->accepted_key_count + 1 > PEKO_MAX_KEYS) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: at most %d keys in all", m->accepted_where,
                        PEKO_MAX_KEYS);
            return FALSE;
        }
    }

    if (!scn_engine_check(c, error) || !check_fits(m, out, error))
        return FALSE;

    /* The daemon's own. */
    if (v[F_CONTROL]) {
        if (!*v[F_CONTROL] || strlen(v[F_CONTROL]) >= 108) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: a socket path of 1 to 107 bytes is needed",
                        where[F_CONTROL]);
            return FALSE;
        }
        out->control_path = g_strdup(v[F_CONTROL]);
    }
    if (v[F_DB])
        out->db_path = g_strdup(v[F_DB]);
    if (v[F_RUN_LABEL]) {
        size_t len = strlen(v[F_RUN_LABEL]);
        if (len == 0 || len > CLI_RUN_LABEL_MAX) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: a label of 1 to %d bytes is needed",
                        where[F_RUN_LABEL], CLI_RUN_LABEL_MAX);
            return FALSE;
        }
        if (!v[F_DB]) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "%s: labels a recording, and there is none (add"
                        " --db FILE)",
                        where[F_RUN_LABEL]);
            return FALSE;
        }
        out->run_label = g_strdup(v[F_RUN_LABEL]);
    }
    if (v[F_METRICS] &&
        !cli_metrics_parse_listen(v[F_METRICS], &out->metrics_host,
                                  &out->metrics_port, error)) {
        prefix_error(error, where[F_METRICS]);
        return FALSE;
    }
    if (v[F_SEED]) {
        if (!cli_parse_u64(where[F_SEED], v[F_SEED], 0, INT64_MAX, &out->seed,
                           error))
            return FALSE;
        out->seeded = true;
    }
    return TRUE;
}

gboolean cli_node_settings_load(const cli_node_args *args,
                                cli_node_settings *out, GError **error)
{
    memset(out, 0, sizeof *out);
    merged m = {0};
    gboolean ok = check_flags(args, error);

    if (ok && args->config_path) {
        ok = read_file(args->config_path, &m, error);
        out->config_path = g_strdup(args->config_path);
    }
    if (ok) {
        for (size_t i = 0; i < N_FIELDS; i++) {
            char *flag = *slot(args, i);
            if (flag) {
                m.value[i] = flag;
                g_free(m.where[i]);
                m.where[i] = g_strdup(fields[i].flag);
            } else if (m.where[i] == NULL) {
                m.where[i] = g_strdup(fields[i].key);
            }
        }
        if (args->accepted_keys) {
            m.accepted = args->accepted_keys;
            g_free(m.accepted_where);
            m.accepted_where = g_strdup("--accepted-key");
        }
        if (m.accepted_where == NULL)
            m.accepted_where = g_strdup("accepted_keys");
        if (args->print)
            m.print = true;
        out->keys_from_flags = args->secret_key || args->accepted_keys;
        ok = check(&m, out, error);
    }
    merged_clear(&m);
    if (!ok)
        cli_node_settings_clear(out);
    return ok;
}

void cli_node_settings_clear(cli_node_settings *s)
{
    g_free(s->addr);
    g_free(s->name);
    g_free(s->data);
    g_strfreev(s->seed_hosts);
    g_free(s->seed_ports);
    g_free(s->listen_addr);
    g_free(s->secret_key);
    g_strfreev(s->accepted_keys);
    g_free(s->control_path);
    g_free(s->db_path);
    g_free(s->run_label);
    g_free(s->config_path);
    g_free(s->key_file);
    g_free(s->metrics_host);
    memset(s, 0, sizeof *s);
}

gboolean cli_node_settings_read_keys(const char *config_path, char **secret,
                                     char ***accepted, GError **error)
{
    GKeyFile *kf = load_file(config_path, error);
    if (kf == NULL)
        return FALSE;
    char *s = g_key_file_get_string(kf, NODE_GROUP, "secret_key", NULL);
    if (s)
        g_strstrip(s);
    if (s && !*s)
        g_clear_pointer(&s, g_free);
    char **a = g_key_file_get_string_list(kf, NODE_GROUP, "accepted_keys",
                                          NULL, NULL);
    if (a && !a[0])
        g_clear_pointer(&a, g_strfreev);
    g_key_file_free(kf);
    if (a && (s == NULL || g_strv_length(a) + 1 > PEKO_MAX_KEYS)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: accepted_keys need a secret_key, and at most %d"
                    " keys in all",
                    config_path, PEKO_MAX_KEYS);
        g_free(s);
        g_strfreev(a);
        return FALSE;
    }
    *secret = s;
    *accepted = a;
    return TRUE;
}
