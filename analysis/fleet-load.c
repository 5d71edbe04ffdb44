/* fleet-load.c: reading the recordings of a fleet (fleet-private.h).
 *
 * Each input is opened read-only and its one run of the label chosen;
 * the nodes of all inputs are put in address order (so the merged run's
 * node ids depend on the deployment, not on the order of the files on
 * the command line), then every input's rows are read with node ids and
 * addresses translated to the merged run's.
 */
#include "fleet-private.h"

#include <string.h>

#include "db.h"
#include "recorder-private.h"

/* The largest time or offset a recording may hold, in magnitude: 2^52 us
 * (142 years). Sums of a few thousand of them stay far from int64_t's
 * bounds, so a hostile file cannot make the arithmetic overflow. */
#define FLEET_TIME_MAX (INT64_C(1) << 52)

static bool in_range(int64_t v)
{
    return v >= -FLEET_TIME_MAX && v <= FLEET_TIME_MAX;
}

static gboolean out_of_range(GError **error, const char *what)
{
    g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                "%s out of range (more than 2^52 us): a damaged or"
                " forged recording",
                what);
    return FALSE;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? g_strdup((const char *)t) : NULL;
}

static int64_t column_int_or(sqlite3_stmt *st, int i, int64_t none)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL
               ? none
               : sqlite3_column_int64(st, i);
}

/* Parses an address as peko_addr_format() writes it: "10.0.0.1:8000"
 * or "[::1]:8000". Returns 0 or -1. */
static int parse_addr_text(const char *text, peko_addr *out)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text)
        return -1;
    guint64 port;
    if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
        return -1;
    char *host;
    if (text[0] == '[') {
        if (colon[-1] != ']' || colon - text < 3)
            return -1;
        host = g_strndup(text + 1, (gsize)(colon - text - 2));
    } else {
        host = g_strndup(text, (gsize)(colon - text));
    }
    int rc = peko_addr_parse(host, (uint16_t)port, out);
    g_free(host);
    return rc < 0 ? -1 : 0;
}

/* The fleet labels `db` holds, comma-separated, for messages. */
static char *labels_of(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    GString *s = g_string_new(NULL);
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT run_label FROM run WHERE"
                           " wall_t0_us IS NOT NULL AND run_label IS NOT"
                           " NULL ORDER BY run_label",
                           -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
            g_string_append_printf(s, "%s'%s'", s->len ? ", " : "",
                                   (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return g_string_free(s, FALSE);
}

/* Chooses the input's run of fl->label (setting the label from the first
 * input when none was given). */
static gboolean choose_run(ana__fleet *fl, sqlite3 *db, const char *path,
                           const char *first_path, ana__fl_input *in,
                           GError **error)
{
    if (fl->label == NULL) {
        char *labels = labels_of(db);
        if (*labels == '\0' || strchr(labels, ',') != NULL) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        *labels ? "%s: holds fleet runs of several labels"
                                  " (%s): say which with --run-label"
                                : "%s: no fleet recording with a run label"
                                  "%s (record with `peko node --db FILE"
                                  " --run-label LABEL`)",
                        path, labels);
            g_free(labels);
            return FALSE;
        }
        /* One label, quoted: strip the quotes. */
        fl->label = g_strndup(labels + 1, strlen(labels) - 2);
        g_free(labels);
    }
    sqlite3_stmt *st = NULL;
    if (!ana__db_prepare(
            db,
            "SELECT run_id, wall_t0_us, status, started_at, finished_at,"
            " json_extract(params, '$.engine'),"
            " json_extract(params, '$.fleet.heartbeat_every'), deliveries,"
            " coalesce(wall_t0_us + sim_time_us, (SELECT max(wall_us) FROM"
            "  fleet_receipt f WHERE f.run_id = run.run_id), wall_t0_us)"
            " FROM run WHERE wall_t0_us IS NOT NULL AND run_label = ?1"
            " ORDER BY run_id",
            &st, error))
        return FALSE;
    sqlite3_bind_text(st, 1, fl->label, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ > 0)
            continue;
        in->run_id = sqlite3_column_int64(st, 0);
        in->wall_t0_us = sqlite3_column_int64(st, 1);
        in->status = column_dup(st, 2);
        in->started_at = column_dup(st, 3);
        in->finished_at = column_dup(st, 4);
        in->engine_json = column_dup(st, 5);
        int64_t every = column_int_or(st, 6, 1);
        in->hb_every = every >= 1 && every <= UINT32_MAX ? (uint32_t)every : 1;
        in->deliveries = column_int_or(st, 7, 0);
        in->wall_end_us = sqlite3_column_int64(st, 8);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "reading the runs");
    if (n == 1 && (!in_range(in->wall_t0_us) || !in_range(in->wall_end_us))) {
        out_of_range(error, "the run's start or end");
        g_prefix_error(error, "%s: ", path);
        return FALSE;
    }
    if (n == 1) {
        in->label = g_strdup(fl->label);
        return TRUE;
    }
    char *labels = labels_of(db);
    if (n > 1)
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "%s: holds %d runs labelled '%s' (a node restarted, or"
                    " recorded twice into one file): merge one run per node",
                    path, n, fl->label);
    else if (*labels)
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "%s: its fleet runs are labelled %s, not '%s' (%s%s):"
                    " these are nodes of different deployments",
                    path, labels, fl->label,
                    first_path ? "the label of " : "--run-label",
                    first_path ? first_path : "");
    else
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "%s: no fleet recording labelled '%s' (record with"
                    " `peko node --db FILE --run-label %s`)",
                    path, fl->label, fl->label);
    g_free(labels);
    return FALSE;
}

static gboolean load_nodes(ana__fleet *fl, sqlite3 *db, size_t input,
                           GError **error)
{
    const ana__fl_input *in = g_ptr_array_index(fl->inputs, input);
    sqlite3_stmt *st = NULL;
    if (!ana__db_prepare(db,
                         "SELECT node_id, addr, name, peers_added,"
                         " peers_refreshed, peers_expired FROM node"
                         " WHERE run_id = ?1 ORDER BY node_id",
                         &st, error))
        return FALSE;
    sqlite3_bind_int64(st, 1, in->run_id);
    int rc;
    gboolean ok = TRUE;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ana__fl_node node = {
            .input = input,
            .local_id = sqlite3_column_int64(st, 0),
            .name = column_dup(st, 2),
            .peers_added = column_int_or(st, 3, -1),
            .peers_refreshed = column_int_or(st, 4, -1),
            .peers_expired = column_int_or(st, 5, -1),
        };
        const char *text = (const char *)sqlite3_column_text(st, 1);
        if (text == NULL || parse_addr_text(text, &node.addr) < 0) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "%s: node %" G_GINT64_FORMAT " has no valid address",
                        in->path, node.local_id);
            g_free(node.name);
            ok = FALSE;
            break;
        }
        peko_addr_format(&node.addr, node.addr_text);
        g_array_append_val(fl->nodes, node);
    }
    sqlite3_finalize(st);
    if (ok && rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "reading the nodes");
    return ok;
}

static int node_cmp(gconstpointer a, gconstpointer b)
{
    const ana__fl_node *x = a, *y = b;
    return peko_addr_compare(&x->addr, &y->addr);
}

/* The merged run's id of `addr` (text), or -1. */
static int32_t node_id_of(const ana__fleet *fl, const char *addr)
{
    if (addr == NULL)
        return -1;
    gpointer v = g_hash_table_lookup(fl->node_by_addr, addr);
    return v ? (int32_t)GPOINTER_TO_UINT(v) - 1 : -1;
}

/* The merged id of input `input`'s node `local_id`: a short linear scan
 * of the nodes would be quadratic for a worker with many nodes, so a
 * table built once per input maps them. */
static GHashTable *local_map(const ana__fleet *fl, size_t input)
{
    GHashTable *map = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                            g_free, NULL);
    for (guint i = 0; i < fl->nodes->len; i++) {
        const ana__fl_node *n = &g_array_index(fl->nodes, ana__fl_node, i);
        if (n->input != input)
            continue;
        int64_t *key = g_new(int64_t, 1);
        *key = n->local_id;
        g_hash_table_insert(map, key, GUINT_TO_POINTER(i + 1));
    }
    return map;
}

static int32_t map_local(GHashTable *map, int64_t local_id)
{
    gpointer v = g_hash_table_lookup(map, &local_id);
    return v ? (int32_t)GPOINTER_TO_UINT(v) - 1 : -1;
}

static size_t rumor_index(ana__fleet *fl, const char *kind,
                          uint32_t origin, const char *engine_id)
{
    char *key = g_strdup_printf("%s %u %s", kind, origin, engine_id);
    gpointer v = g_hash_table_lookup(fl->rumor_by_key, key);
    if (v) {
        g_free(key);
        return GPOINTER_TO_SIZE(v) - 1;
    }
    ana__fl_rumor r = {g_strdup(kind), g_strdup(engine_id), origin};
    g_array_append_val(fl->rumors, r);
    g_hash_table_insert(fl->rumor_by_key, key,
                        GSIZE_TO_POINTER((gsize)fl->rumors->len));
    return fl->rumors->len - 1;
}

/* ana__via of a receipt's via text; the schema allows no other than the
 * three, and anything else is counted as a swap. */
static uint8_t via_code(const char *via)
{
    for (uint8_t v = ANA__VIA_ORIGIN; v < ANA__VIA_SWAP; v++)
        if (strcmp(via, ana__via_names[v]) == 0)
            return v;
    return ANA__VIA_SWAP;
}

/* Every row of one input, translated. */
static gboolean load_rows(ana__fleet *fl, sqlite3 *db, size_t input,
                          GError **error)
{
    const ana__fl_input *in = g_ptr_array_index(fl->inputs, input);
    GHashTable *map = local_map(fl, input);
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_DONE;
    gboolean ok = ana__db_prepare(
        db,
        "SELECT node_id, wall_us, kind, origin_addr, engine_id, hops, via,"
        " from_addr FROM fleet_receipt WHERE run_id = ?1 ORDER BY seq",
        &st, error);
    if (ok) {
        sqlite3_bind_int64(st, 1, in->run_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int32_t node = map_local(map, sqlite3_column_int64(st, 0));
            int32_t origin =
                node_id_of(fl, (const char *)sqlite3_column_text(st, 3));
            const char *kind = (const char *)sqlite3_column_text(st, 2);
            const char *eid = (const char *)sqlite3_column_text(st, 4);
            const char *via = (const char *)sqlite3_column_text(st, 6);
            /* Rumors of an origin outside the fleet have no creation on
             * the common clock: left out. */
            if (!in_range(sqlite3_column_int64(st, 1))) {
                ok = out_of_range(error, "a receipt's time");
                break;
            }
            if (node < 0 || origin < 0 || !kind || !eid || !via)
                continue;
            ana__fl_receipt r = {
                .wall_us = sqlite3_column_int64(st, 1),
                .rumor = rumor_index(fl, kind, (uint32_t)origin, eid),
                .node = (uint32_t)node,
                .hops = (int32_t)column_int_or(st, 5, -1),
                .from = node_id_of(fl,
                                   (const char *)sqlite3_column_text(st, 7)),
                .via = via_code(via),
            };
            g_array_append_val(fl->receipts, r);
        }
        sqlite3_finalize(st);
        ok = ok && (rc == SQLITE_DONE ||
                    ana__db_error(error, db, rc, "reading the receipts"));
    }
    if (ok && (ok = ana__db_prepare(db,
                                    "SELECT node_id, wall_us, members FROM"
                                    " fleet_members WHERE run_id = ?1"
                                    " ORDER BY seq",
                                    &st, error))) {
        sqlite3_bind_int64(st, 1, in->run_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int32_t node = map_local(map, sqlite3_column_int64(st, 0));
            if (!in_range(sqlite3_column_int64(st, 1))) {
                ok = out_of_range(error, "a member count's time");
                break;
            }
            if (node < 0)
                continue;
            ana__fl_members m = {sqlite3_column_int64(st, 1),
                                 sqlite3_column_int64(st, 2), (uint32_t)node,
                                 fl->members->len};
            g_array_append_val(fl->members, m);
        }
        sqlite3_finalize(st);
        ok = ok && (rc == SQLITE_DONE ||
                    ana__db_error(error, db, rc, "reading the member counts"));
    }
    if (ok && (ok = ana__db_prepare(db,
                                    "SELECT node_id, peer_addr, offset_us,"
                                    " error_us FROM clock_offset WHERE"
                                    " run_id = ?1 AND source = 'swap'"
                                    " ORDER BY seq",
                                    &st, error))) {
        sqlite3_bind_int64(st, 1, in->run_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int32_t node = map_local(map, sqlite3_column_int64(st, 0));
            int32_t peer =
                node_id_of(fl, (const char *)sqlite3_column_text(st, 1));
            int64_t err = sqlite3_column_int64(st, 3);
            if (!in_range(sqlite3_column_int64(st, 2)) || !in_range(err)) {
                ok = out_of_range(error, "a clock offset");
                break;
            }
            if (node < 0 || peer < 0 || peer == node || err < 0)
                continue;
            ana__fl_offset o = {(uint32_t)node, (uint32_t)peer,
                                sqlite3_column_int64(st, 2), err};
            g_array_append_val(fl->offsets, o);
        }
        sqlite3_finalize(st);
        ok = ok && (rc == SQLITE_DONE ||
                    ana__db_error(error, db, rc, "reading the clock offsets"));
    }
    /* Metadata versions are in run time (the recorder's monotonic clock
     * from the run's start), which the run's wall_t0_us anchors. */
    if (ok && (ok = ana__db_prepare(db,
                                    "SELECT node_id, t_us, counter,"
                                    " origin_addr, via, bytes FROM"
                                    " metadata_version WHERE run_id = ?1"
                                    " ORDER BY node_id, counter,"
                                    " origin_addr",
                                    &st, error))) {
        sqlite3_bind_int64(st, 1, in->run_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int32_t node = map_local(map, sqlite3_column_int64(st, 0));
            if (!in_range(sqlite3_column_int64(st, 1))) {
                ok = out_of_range(error, "a metadata version's time");
                break;
            }
            if (node < 0)
                continue;
            ana__fl_version v = {
                .wall_us = in->wall_t0_us + sqlite3_column_int64(st, 1),
                .counter = sqlite3_column_int64(st, 2),
                .origin_addr = column_dup(st, 3),
                .via = column_dup(st, 4),
                .bytes = sqlite3_column_int64(st, 5),
                .node = (uint32_t)node,
            };
            g_array_append_val(fl->versions, v);
        }
        sqlite3_finalize(st);
        ok = ok && (rc == SQLITE_DONE ||
                    ana__db_error(error, db, rc,
                                  "reading the metadata versions"));
    }
    if (ok && (ok = ana__db_prepare(
                   db,
                   "SELECT node_id, type, outcome, packets, bytes FROM"
                   " traffic WHERE run_id = ?1 UNION ALL SELECT node_id,"
                   " reason, NULL, packets, bytes FROM rejection WHERE"
                   " run_id = ?1 ORDER BY 1, 2, 3",
                   &st, error))) {
        sqlite3_bind_int64(st, 1, in->run_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int32_t node = map_local(map, sqlite3_column_int64(st, 0));
            if (node < 0)
                continue;
            ana__fl_counter c = {(uint32_t)node, column_dup(st, 1),
                                 column_dup(st, 2),
                                 sqlite3_column_int64(st, 3),
                                 sqlite3_column_int64(st, 4)};
            g_array_append_val(fl->counters, c);
        }
        sqlite3_finalize(st);
        ok = rc == SQLITE_DONE ||
             ana__db_error(error, db, rc, "reading the counters");
    }
    g_hash_table_destroy(map);
    if (!ok)
        g_prefix_error(error, "%s: ", in->path);
    return ok;
}

gboolean ana__fleet_load(ana__fleet *fl, const char *const *inputs,
                         size_t n_inputs, GError **error)
{
    sqlite3 **dbs = g_new0(sqlite3 *, n_inputs);
    gboolean ok = TRUE;
    for (size_t i = 0; ok && i < n_inputs; i++) {
        ok = ana__db_open_reader(inputs[i], &dbs[i], error);
        if (!ok)
            break;
        ana__fl_input *in = g_new0(ana__fl_input, 1);
        in->path = g_strdup(inputs[i]);
        g_ptr_array_add(fl->inputs, in);
        ok = choose_run(fl, dbs[i], inputs[i],
                        fl->opts.run_label ? NULL : inputs[0], in,
                        error) &&
             load_nodes(fl, dbs[i], i, error);
    }
    if (ok) {
        g_array_sort(fl->nodes, node_cmp);
        for (guint i = 0; ok && i < fl->nodes->len; i++) {
            ana__fl_node *n = &g_array_index(fl->nodes, ana__fl_node, i);
            if (i > 0 && node_cmp(n, n - 1) == 0) {
                const ana__fl_input *a =
                    g_ptr_array_index(fl->inputs, (n - 1)->input);
                const ana__fl_input *b = g_ptr_array_index(fl->inputs,
                                                           n->input);
                g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                            "node %s is in %s and in %s: one recording per"
                            " node",
                            n->addr_text, a->path, b->path);
                ok = FALSE;
                break;
            }
            g_hash_table_insert(fl->node_by_addr, g_strdup(n->addr_text),
                                GUINT_TO_POINTER(i + 1));
        }
    }
    for (size_t i = 0; ok && i < n_inputs; i++)
        ok = load_rows(fl, dbs[i], i, error);
    for (size_t i = 0; i < n_inputs; i++)
        sqlite3_close(dbs[i]);
    g_free(dbs);
    if (ok && fl->nodes->len == 0) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "the recordings hold no node");
        ok = FALSE;
    }
    return ok;
}
