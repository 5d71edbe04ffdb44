/* timeline.c: the [timeline] group.
 *
 * One event per key: the key is a label, unique by construction (the line
 * scanner refuses a key given twice), and the value reads left to right:
 *
 *   [timeline]
 *   hello = 10s publish node=3 data="hello world"
 *   split = 20s partition groups=0-15|16-31
 *   mend  = 40s heal name=split
 *
 * Labels name events in messages and in the recorded timeline, any
 * number of events may share a time, and events are ordered by (time,
 * position in the file), so equal times keep the order they are written.
 */
#include <stdlib.h>
#include <string.h>

#include "scenario-private.h"

typedef struct action_spec {
    const char *name;
    scn_event_kind kind;
    const char *args[5];     /* accepted arguments; NULL ends */
    const char *example;
} action_spec;

static const action_spec actions[] = {
    {"publish", SCN_EVENT_PUBLISH, {"node", "nodes", "data", "size", NULL},
     "publish node=3 data=hello"},
    {"partition", SCN_EVENT_PARTITION, {"groups", "from", "to", "name", NULL},
     "partition groups=0-15|16-31"},
    {"heal", SCN_EVENT_HEAL, {"name", NULL}, "heal name=split"},
    {"crash", SCN_EVENT_CRASH, {"node", "nodes", NULL}, "crash nodes=0-3"},
    {"restart", SCN_EVENT_RESTART, {"node", "nodes", NULL},
     "restart nodes=0-3"},
    {"pause", SCN_EVENT_PAUSE, {"node", "nodes", NULL}, "pause nodes=5"},
    {"resume", SCN_EVENT_RESUME, {"node", "nodes", NULL}, "resume nodes=5"},
    {"stop", SCN_EVENT_STOP, {"node", "nodes", NULL}, "stop nodes=5"},
    {"start", SCN_EVENT_START, {"node", "nodes", NULL}, "start nodes=5"},
    {"join", SCN_EVENT_JOIN, {"node", "nodes", NULL}, "join node=31"},
    {"network", SCN_EVENT_NETWORK, {"latency", "loss", "duplicate", NULL},
     "network loss=10%"},
};

const char *scn_event_kind_name(scn_event_kind kind)
{
    for (size_t i = 0; i < G_N_ELEMENTS(actions); i++)
        if (actions[i].kind == kind)
            return actions[i].name;
    return "?";
}

void scn__event_clear(scn_event *ev)
{
    g_free(ev->label);
    scn__nodes_clear(&ev->nodes);
    g_free(ev->publish.data);
    g_free(ev->partition.name);
    for (size_t i = 0; i < ev->partition.n_groups; i++)
        scn__nodes_clear(&ev->partition.groups[i]);
    g_free(ev->partition.groups);
    scn__nodes_clear(&ev->partition.from);
    scn__nodes_clear(&ev->partition.to);
    memset(ev, 0, sizeof *ev);
}

bool scn_partition_drops(const scn_event *ev, uint32_t from, uint32_t to)
{
    if (ev->kind != SCN_EVENT_PARTITION)
        return false;
    if (ev->partition.one_way)
        return scn_nodes_contains(&ev->partition.from, from) &&
               scn_nodes_contains(&ev->partition.to, to);
    /* Group index of each end; n_groups stands for "in no group". */
    size_t gf = ev->partition.n_groups, gt = ev->partition.n_groups;
    for (size_t g = 0; g < ev->partition.n_groups; g++) {
        if (scn_nodes_contains(&ev->partition.groups[g], from))
            gf = g;
        if (scn_nodes_contains(&ev->partition.groups[g], to))
            gt = g;
    }
    return gf != gt;
}

void scn_event_payload(const scn_event *ev, uint8_t *buf)
{
    if (ev->publish.data != NULL) {
        memcpy(buf, ev->publish.data, ev->publish.n_bytes);
        return;
    }
    for (size_t i = 0; i < ev->publish.n_bytes; i++)
        buf[i] = (uint8_t)('a' + i % 26);
}

/* Splits at blanks outside double quotes and parentheses. */
static char **tokenize(const char *text, GError **error)
{
    GPtrArray *tokens = g_ptr_array_new_with_free_func(g_free);
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        int depth = 0;
        bool quoted = false;
        for (; *p; p++) {
            if (quoted) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                else if (*p == '"')
                    quoted = false;
            } else if (*p == '"') {
                quoted = true;
            } else if (*p == '(') {
                depth++;
            } else if (*p == ')') {
                depth--;
            } else if ((*p == ' ' || *p == '\t') && depth <= 0) {
                break;
            }
        }
        if (quoted || depth != 0) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "unbalanced %s", quoted ? "quotes" : "parentheses");
            g_ptr_array_free(tokens, TRUE);
            return NULL;
        }
        g_ptr_array_add(tokens, g_strndup(start, (gsize)(p - start)));
    }
    g_ptr_array_add(tokens, NULL);
    return (char **)g_ptr_array_free(tokens, FALSE);
}

static const action_spec *find_action(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(actions); i++)
        if (strcmp(actions[i].name, name) == 0)
            return &actions[i];
    return NULL;
}

static bool accepts(const action_spec *a, const char *arg)
{
    for (size_t i = 0; a->args[i]; i++)
        if (strcmp(a->args[i], arg) == 0)
            return true;
    return false;
}

/* The arguments of one event, by name ("node" and "nodes" are one). */
typedef struct args {
    char *names[8];
    char *values[8];   /* unquoted */
    size_t n;
} args;

static void args_clear(args *a)
{
    for (size_t i = 0; i < a->n; i++) {
        g_free(a->names[i]);
        g_free(a->values[i]);
    }
    a->n = 0;
}

static const char *arg(const args *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], name) == 0)
            return a->values[i];
    return NULL;
}

typedef struct event_ctx {
    scn__ctx *ctx;
    const char *label;
    const char *action;
} event_ctx;

static void event_fail(GError **error, scn_error_code code,
                       const event_ctx *ec, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void event_fail(GError **error, scn_error_code code,
                       const event_ctx *ec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (ec->action != NULL)
        scn__fail(error, code, ec->ctx, "timeline", ec->label, "%s: %s",
                  ec->action, msg);
    else
        scn__fail(error, code, ec->ctx, "timeline", ec->label, "%s", msg);
    g_free(msg);
}

/* Parses selector argument `name`; empty selections are errors. */
static gboolean get_nodes(const event_ctx *ec, const char *name,
                          const char *text, scn_nodes *out, GError **error)
{
    GError *cause = NULL;
    if (!scn__nodes_parse(ec->ctx, text, true, false, out, &cause)) {
        event_fail(error, cause->code, ec, "%s=%s: %s", name, text,
                   cause->message);
        g_error_free(cause);
        return FALSE;
    }
    if (out->count == 0) {
        event_fail(error, SCN_ERROR_RANGE, ec, "%s=%s selects no nodes", name,
                   text);
        return FALSE;
    }
    return TRUE;
}

static gboolean parse_publish(const event_ctx *ec, const args *a,
                              scn_event *ev, GError **error)
{
    const char *data = arg(a, "data"), *size = arg(a, "size");
    peko_config engine;
    peko_config_resolve(&ec->ctx->sc->engine, &engine);  /* checked */
    uint64_t n;

    if ((data == NULL) == (size == NULL)) {
        event_fail(error, SCN_ERROR_MISSING, ec,
                   "give data=TEXT or size=SIZE (one of them)");
        return FALSE;
    }
    if (data != NULL) {
        n = strlen(data);
    } else {
        GError *cause = NULL;
        if (!scn_parse_size(size, &n, &cause)) {
            event_fail(error, cause->code, ec, "size: %s", cause->message);
            g_error_free(cause);
            return FALSE;
        }
    }
    /* Metadata travels in one packet, so it must fit in Size. */
    if (n == 0 || n > (uint64_t)engine.size) {
        event_fail(error, SCN_ERROR_RANGE, ec,
                   "the payload is %" G_GUINT64_FORMAT " bytes; expected 1 "
                   "to %d (the engine's size)", n, engine.size);
        return FALSE;
    }
    ev->publish.data = g_strdup(data);
    ev->publish.n_bytes = (size_t)n;
    return TRUE;
}

static gboolean parse_partition(const event_ctx *ec, const args *a,
                                scn_event *ev, GError **error)
{
    const char *groups = arg(a, "groups");
    const char *from = arg(a, "from"), *to = arg(a, "to");
    const char *name = arg(a, "name");
    uint32_t node;

    if (name != NULL && !scn__is_label(name)) {
        event_fail(error, SCN_ERROR_VALUE, ec,
                   "name: expected letters, digits, _, - or ., got '%.80s'",
                   name);
        return FALSE;
    }
    ev->partition.name = g_strdup(name ? name : ec->label);
    if (groups != NULL && (from != NULL || to != NULL)) {
        event_fail(error, SCN_ERROR_CONFLICT, ec,
                   "give groups= (symmetric) or from= and to= (one-way), "
                   "not both");
        return FALSE;
    }
    if (groups == NULL) {
        if (from == NULL || to == NULL) {
            event_fail(error, SCN_ERROR_MISSING, ec,
                       "give groups=A|B (symmetric) or from=A to=B (one-way)");
            return FALSE;
        }
        ev->partition.one_way = true;
        if (!get_nodes(ec, "from", from, &ev->partition.from, error) ||
            !get_nodes(ec, "to", to, &ev->partition.to, error))
            return FALSE;
        if (scn__nodes_intersect(&ev->partition.from, &ev->partition.to,
                                 &node)) {
            event_fail(error, SCN_ERROR_CONFLICT, ec,
                       "node %u is in both from and to", node);
            return FALSE;
        }
        return TRUE;
    }
    GError *cause = NULL;
    char **items = scn__split_list(groups, '|', &cause);
    if (items == NULL) {
        event_fail(error, cause->code, ec, "groups: %s", cause->message);
        g_error_free(cause);
        return FALSE;
    }
    size_t n = g_strv_length(items);
    ev->partition.groups = g_new0(scn_nodes, n);
    gboolean ok = FALSE;
    for (size_t i = 0; i < n; i++) {
        if (!get_nodes(ec, "groups", items[i], &ev->partition.groups[i],
                       error))
            goto out;
        ev->partition.n_groups++;
        for (size_t j = 0; j < i; j++)
            if (scn__nodes_intersect(&ev->partition.groups[j],
                                     &ev->partition.groups[i], &node)) {
                event_fail(error, SCN_ERROR_CONFLICT, ec,
                           "node %u is in two groups (%s and %s)", node,
                           items[j], items[i]);
                goto out;
            }
    }
    if (n == 1 && ev->partition.groups[0].count == ec->ctx->sc->cluster.nodes) {
        event_fail(error, SCN_ERROR_VALUE, ec,
                   "one group of every node cuts nothing; give two groups "
                   "like groups=0-15|16-31, or one that leaves nodes out");
        goto out;
    }
    ok = TRUE;
out:
    g_strfreev(items);
    return ok;
}

static gboolean parse_network(const event_ctx *ec, const args *a,
                              scn_event *ev, GError **error)
{
    const char *latency = arg(a, "latency"), *loss = arg(a, "loss");
    const char *duplicate = arg(a, "duplicate");
    GError *cause = NULL;

    if (latency == NULL && loss == NULL && duplicate == NULL) {
        event_fail(error, SCN_ERROR_MISSING, ec,
                   "give latency=, loss= or duplicate=");
        return FALSE;
    }
    if (latency != NULL) {
        ev->network.set_latency = true;
        if (!scn__parse_dist(latency, &scn__latency_quantity,
                             &ev->network.latency_us, &cause))
            goto bad;
    }
    if (loss != NULL) {
        ev->network.set_loss = true;
        if (!scn__parse_loss(loss, &ev->network.loss, &cause))
            goto bad;
    }
    if (duplicate != NULL) {
        ev->network.set_duplicate = true;
        if (!scn_parse_rate(duplicate, &ev->network.duplicate, &cause))
            goto bad;
    }
    return TRUE;
bad:
    event_fail(error, cause->code, ec, "%s", cause->message);
    g_error_free(cause);
    return FALSE;
}

static gboolean parse_event(scn__ctx *ctx, const char *label,
                            const char *value, scn_event *ev,
                            GError **error)
{
    event_ctx ec = {ctx, label, NULL};
    GError *cause = NULL;
    args a = {{0}, {0}, 0};
    gboolean ok = FALSE;
    char **tokens = tokenize(value, &cause);

    if (tokens == NULL) {
        event_fail(error, SCN_ERROR_VALUE, &ec, "%s", cause->message);
        g_error_free(cause);
        return FALSE;
    }
    ev->label = g_strdup(label);
    if (tokens[0] == NULL || tokens[1] == NULL) {
        event_fail(error, SCN_ERROR_VALUE, &ec,
                   "expected TIME ACTION ARGS like 10s publish node=3 "
                   "data=hello, got '%.80s'", value);
        goto out;
    }
    if (!scn_parse_duration(tokens[0], FALSE, &ev->time_us, &cause)) {
        event_fail(error, cause->code, &ec, "time: %s", cause->message);
        g_error_free(cause);
        goto out;
    }
    if (ev->time_us > ctx->sc->cluster.duration_us) {
        char *t = scn__format_duration(ev->time_us);
        char *d = scn__format_duration(ctx->sc->cluster.duration_us);
        event_fail(error, SCN_ERROR_RANGE, &ec,
                   "time %s is beyond the duration (%s)", t, d);
        g_free(t);
        g_free(d);
        goto out;
    }
    const action_spec *spec = find_action(tokens[1]);
    if (spec == NULL) {
        event_fail(error, SCN_ERROR_UNKNOWN, &ec,
                   "unknown action '%.80s' (expected publish, partition, "
                   "heal, crash, restart, pause, resume, stop, start, join "
                   "or network)", tokens[1]);
        goto out;
    }
    ev->kind = spec->kind;
    ec.action = spec->name;

    for (size_t i = 2; tokens[i] != NULL; i++) {
        char *eq = strchr(tokens[i], '=');
        if (eq == NULL || eq == tokens[i]) {
            event_fail(error, SCN_ERROR_VALUE, &ec,
                       "expected NAME=VALUE, got '%.80s' (e.g. %s)",
                       tokens[i], spec->example);
            goto out;
        }
        *eq = '\0';
        const char *name = tokens[i];
        if (!accepts(spec, name)) {
            char *list = g_strjoinv(", ", (char **)spec->args);
            event_fail(error, SCN_ERROR_UNKNOWN, &ec,
                       "unknown argument '%.80s' (expected %s)", name, list);
            g_free(list);
            goto out;
        }
        /* node= and nodes= are two spellings of one argument. */
        const char *canonical = strcmp(name, "node") == 0 ? "nodes" : name;
        if (arg(&a, canonical) != NULL || a.n == G_N_ELEMENTS(a.names)) {
            event_fail(error, SCN_ERROR_VALUE, &ec, "%s is given twice",
                       name);
            goto out;
        }
        char *v = scn__unquote(eq + 1, &cause);
        if (v == NULL) {
            event_fail(error, cause->code, &ec, "%s: %s", name,
                       cause->message);
            g_error_free(cause);
            goto out;
        }
        a.names[a.n] = g_strdup(canonical);
        a.values[a.n++] = v;
    }

    switch (spec->kind) {
    case SCN_EVENT_PARTITION:
        ok = parse_partition(&ec, &a, ev, error);
        break;
    case SCN_EVENT_HEAL: {
        const char *name = arg(&a, "name");
        if (name != NULL && !scn__is_label(name)) {
            event_fail(error, SCN_ERROR_VALUE, &ec,
                       "name: expected letters, digits, _, - or ., got "
                       "'%.80s'", name);
            break;
        }
        ev->partition.name = g_strdup(name);
        ok = TRUE;
        break;
    }
    case SCN_EVENT_NETWORK:
        ok = parse_network(&ec, &a, ev, error);
        break;
    default: {
        const char *nodes = arg(&a, "nodes");
        if (nodes == NULL) {
            event_fail(error, SCN_ERROR_MISSING, &ec,
                       "node= is missing (e.g. %s)", spec->example);
            break;
        }
        if (!get_nodes(&ec, "node", nodes, &ev->nodes, error))
            break;
        ok = spec->kind == SCN_EVENT_PUBLISH
                 ? parse_publish(&ec, &a, ev, error)
                 : TRUE;
        break;
    }
    }
out:
    args_clear(&a);
    g_strfreev(tokens);
    return ok;
}

static int compare_events(const void *pa, const void *pb)
{
    const scn_event *a = pa, *b = pb;
    if (a->time_us != b->time_us)
        return a->time_us < b->time_us ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static bool needs_joined(scn_event_kind kind)
{
    return kind != SCN_EVENT_JOIN && kind != SCN_EVENT_PARTITION &&
           kind != SCN_EVENT_HEAL && kind != SCN_EVENT_NETWORK;
}

/* Checks the sorted timeline as a whole: partitions are healed only
 * while in effect; late nodes join once and nothing acts on them before. */
static gboolean check_timeline(scn__ctx *ctx, GError **error)
{
    scn_scenario *sc = ctx->sc;
    GHashTable *active = g_hash_table_new(g_str_hash, g_str_equal);
    GArray *joins = g_array_new(FALSE, FALSE, sizeof(size_t));
    GArray *ranges = g_array_new(FALSE, FALSE, sizeof(scn_range));
    gboolean ok = FALSE;

    for (size_t i = 0; i < sc->n_events; i++) {
        scn_event *ev = &sc->events[i];
        event_ctx ec = {ctx, ev->label, scn_event_kind_name(ev->kind)};
        char *t = scn__format_duration(ev->time_us);
        if (ev->kind == SCN_EVENT_PARTITION) {
            scn_event *prev = g_hash_table_lookup(active, ev->partition.name);
            if (prev != NULL) {
                event_fail(error, SCN_ERROR_CONFLICT, &ec,
                           "partition '%s' is already in effect at %s (from "
                           "%s); heal it first or give this one another "
                           "name=", ev->partition.name, t, prev->label);
                g_free(t);
                goto out;
            }
            g_hash_table_insert(active, ev->partition.name, ev);
        } else if (ev->kind == SCN_EVENT_HEAL) {
            if (ev->partition.name != NULL &&
                !g_hash_table_remove(active, ev->partition.name)) {
                event_fail(error, SCN_ERROR_CONFLICT, &ec,
                           "no partition named '%s' is in effect at %s",
                           ev->partition.name, t);
                g_free(t);
                goto out;
            }
            if (ev->partition.name == NULL) {
                if (g_hash_table_size(active) == 0) {
                    event_fail(error, SCN_ERROR_CONFLICT, &ec,
                               "no partition is in effect at %s", t);
                    g_free(t);
                    goto out;
                }
                g_hash_table_remove_all(active);
            }
        } else if (ev->kind == SCN_EVENT_JOIN) {
            g_array_append_val(joins, i);
            g_array_append_vals(ranges, ev->nodes.ranges,
                                (guint)ev->nodes.n_ranges);
        }
        g_free(t);
    }

    /* Each late node joins once: the union must count every join's nodes. */
    scn__nodes_from_ranges(&sc->cluster.late, ranges, "join events");
    size_t total = 0;
    for (guint j = 0; j < joins->len; j++)
        total += sc->events[g_array_index(joins, size_t, j)].nodes.count;
    if (total != sc->cluster.late.count) {
        for (guint j = 0; j < joins->len; j++)
            for (guint k = 0; k < j; k++) {
                scn_event *a = &sc->events[g_array_index(joins, size_t, k)];
                scn_event *b = &sc->events[g_array_index(joins, size_t, j)];
                uint32_t node;
                if (scn__nodes_intersect(&a->nodes, &b->nodes, &node)) {
                    event_ctx ec = {ctx, b->label, "join"};
                    event_fail(error, SCN_ERROR_CONFLICT, &ec,
                               "node %u already joins in %s", node,
                               a->label);
                    goto out;
                }
            }
    }

    /* Nothing acts on a late node before its join (ties: file order). */
    for (size_t i = 0; i < sc->n_events; i++) {
        scn_event *ev = &sc->events[i];
        if (!needs_joined(ev->kind))
            continue;
        for (guint j = joins->len; j-- > 0;) {
            size_t at = g_array_index(joins, size_t, j);
            if (at < i)
                break;
            uint32_t node;
            scn_event *join = &sc->events[at];
            if (scn__nodes_intersect(&ev->nodes, &join->nodes, &node)) {
                event_ctx ec = {ctx, ev->label, scn_event_kind_name(ev->kind)};
                char *t = scn__format_duration(ev->time_us);
                char *jt = scn__format_duration(join->time_us);
                event_fail(error, SCN_ERROR_CONFLICT, &ec,
                           "node %u has not joined yet at %s (it joins at %s, "
                           "in %s)", node, t, jt, join->label);
                g_free(t);
                g_free(jt);
                goto out;
            }
        }
    }
    ok = TRUE;
out:
    g_hash_table_destroy(active);
    g_array_free(joins, TRUE);
    g_array_free(ranges, TRUE);
    return ok;
}

gboolean scn__parse_timeline(scn__ctx *ctx, GError **error)
{
    scn_scenario *sc = ctx->sc;
    gsize n = 0;
    char **keys = NULL;
    gboolean ok = FALSE;

    if (g_key_file_has_group(ctx->kf, "timeline"))
        keys = g_key_file_get_keys(ctx->kf, "timeline", &n, NULL);
    if (n > SCN_MAX_EVENTS) {
        scn__fail(error, SCN_ERROR_LIMIT, ctx, "timeline", NULL,
                  "%zu events; at most %d", (size_t)n, SCN_MAX_EVENTS);
        goto out;
    }
    sc->events = g_new0(scn_event, MAX(n, 1));
    for (gsize i = 0; i < n; i++) {
        if (!scn__is_label(keys[i])) {
            scn__fail(error, SCN_ERROR_VALUE, ctx, "timeline", keys[i],
                      "a label is letters, digits, _, - or . (at most 64), "
                      "as in: split = 20s partition groups=0-15|16-31");
            goto out;
        }
        char *v = scn__get(ctx, "timeline", keys[i]);
        scn_event *ev = &sc->events[sc->n_events++];
        ev->order = i;
        gboolean good = parse_event(ctx, keys[i], v, ev, error);
        g_free(v);
        if (!good)
            goto out;
    }
    qsort(sc->events, sc->n_events, sizeof *sc->events, compare_events);
    ok = check_timeline(ctx, error);
out:
    g_strfreev(keys);
    return ok;
}
