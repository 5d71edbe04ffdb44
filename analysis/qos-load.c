/* qos-load.c: a run's failure detector rows, read back (qos.h). */
#include "qos.h"

#include <string.h>

#include "db.h"

/* Both tables in the order they were written: seq is shared. */
static const char sql_rows[] =
    "SELECT seq, t_us, node_id, 0, state, 1 FROM node_state"
    " WHERE run_id = ?1"
    " UNION ALL"
    " SELECT seq, t_us, node_id, peer, change, 0 FROM membership_change"
    " WHERE run_id = ?1"
    " ORDER BY 1";

/* A node id column; out of range (negative, huge) reads as UINT32_MAX,
 * which ana_qos_compute() refuses with the row's seq. */
static uint32_t column_node(sqlite3_stmt *st, int col)
{
    sqlite3_int64 v = sqlite3_column_int64(st, col);
    return v < 0 || v >= UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

gboolean ana_qos_load(sqlite3 *db, int64_t run_id, size_t nodes,
                      int64_t end_us, int64_t window_us, ana_qos *out,
                      GError **error)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql_rows, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, "reading membership changes");
    sqlite3_bind_int64(st, 1, run_id);
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(ana_qos_row));
    gboolean ok = TRUE;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool is_state = sqlite3_column_int(st, 5) != 0;
        const char *name = (const char *)sqlite3_column_text(st, 4);
        int what = is_state ? ana_qos_state_from_name(name)
                            : ana_qos_change_from_name(name);
        ana_qos_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .t_us = sqlite3_column_int64(st, 1),
            .node = column_node(st, 2),
            .peer = column_node(st, 3),
            .is_state = is_state,
            .what = (uint8_t)what,
        };
        if (what < 0) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "run %" G_GINT64_FORMAT ": %s seq %" G_GINT64_FORMAT
                        " names an unknown %s '%.32s'",
                        run_id, is_state ? "node_state" : "membership_change",
                        row.seq, is_state ? "state" : "change",
                        name ? name : "(null)");
            ok = FALSE;
            break;
        }
        g_array_append_val(rows, row);
    }
    if (ok && rc != SQLITE_DONE)
        ok = ana__db_error(error, db, rc, "reading membership changes");
    sqlite3_finalize(st);
    if (ok) {
        ana_qos_input in = {
            .nodes = nodes,
            .end_us = end_us,
            .window_us = window_us,
            .rows = (const ana_qos_row *)(void *)rows->data,
            .n_rows = rows->len,
        };
        ok = ana_qos_compute(&in, out, error);
        if (!ok)
            g_prefix_error(error, "run %" G_GINT64_FORMAT ": ", run_id);
    }
    g_array_free(rows, TRUE);
    return ok;
}
