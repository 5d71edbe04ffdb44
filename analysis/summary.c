/* summary.c: the figures of one recorded run (summary.h). */
#include "summary.h"

#include <sqlite3.h>
#include <string.h>

#include "db.h"

static int64_t column_or(sqlite3_stmt *st, int col, int64_t fallback)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL
               ? fallback
               : (int64_t)sqlite3_column_int64(st, col);
}

static gboolean load_run(sqlite3 *db, ana_run_summary *out, GError **error)
{
    sqlite3_stmt *st;
    if (!ana__db_prepare(db,
                         "SELECT nodes, status, coalesce(first_converged_us,"
                         " -1) FROM run_summary WHERE run_id = ?",
                         &st, error))
        return FALSE;
    sqlite3_bind_int64(st, 1, out->run_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "no run %" G_GINT64_FORMAT " in the database",
                        out->run_id);
            return FALSE;
        }
        return ana__db_error(error, db, rc, "reading the run");
    }
    out->nodes = sqlite3_column_int64(st, 0);
    out->status = g_strdup((const char *)sqlite3_column_text(st, 1));
    out->first_converged_us = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    return TRUE;
}

static gboolean load_metadata(sqlite3 *db, ana_run_summary *out,
                              GError **error)
{
    sqlite3_stmt *st;
    if (!ana__db_prepare(db,
                         "SELECT r.rumor_id, r.origin, r.created_us,"
                         "       r.infected, s.t50_us, s.t90_us, s.t99_us,"
                         "       s.t100_us, 1.0 * r.copies / u.nodes"
                         "  FROM rumor r JOIN run u USING (run_id)"
                         "  LEFT JOIN rumor_summary s"
                         "    ON s.run_id = r.run_id"
                         "   AND s.rumor_id = r.rumor_id"
                         " WHERE r.run_id = ? AND r.kind = 'metadata'"
                         " ORDER BY r.created_us, r.rumor_id",
                         &st, error))
        return FALSE;
    sqlite3_bind_int64(st, 1, out->run_id);
    GArray *rows = g_array_new(FALSE, TRUE, sizeof(ana_rumor_figures));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ana_rumor_figures f = {
            .rumor_id = sqlite3_column_int64(st, 0),
            .origin = sqlite3_column_int64(st, 1),
            .created_us = sqlite3_column_int64(st, 2),
            .infected = sqlite3_column_int64(st, 3),
            .t50_us = column_or(st, 4, -1),
            .t90_us = column_or(st, 5, -1),
            .t99_us = column_or(st, 6, -1),
            .t100_us = column_or(st, 7, -1),
            .messages_per_node = sqlite3_column_double(st, 8),
        };
        g_array_append_val(rows, f);
    }
    sqlite3_finalize(st);
    out->n_metadata = rows->len;
    out->metadata = (ana_rumor_figures *)(void *)g_array_free(rows, FALSE);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "reading metadata rumors");
    return TRUE;
}

/* Medians over the sampled heartbeat rumors: the middle row of each
 * column in order (NULLs, never reached, sort last as "infinite"). */
static gboolean median_of(sqlite3 *db, int64_t run_id, const char *column,
                          int64_t *out, GError **error)
{
    char *sql = g_strdup_printf(
        "SELECT %s FROM rumor_summary WHERE run_id = ?1 AND kind ="
        " 'heartbeat' ORDER BY %s IS NULL, %s LIMIT 1 OFFSET"
        " (SELECT count(*) FROM rumor WHERE run_id = ?1 AND kind ="
        " 'heartbeat') / 2",
        column, column, column);
    sqlite3_stmt *st;
    gboolean ok = ana__db_prepare(db, sql, &st, error);
    g_free(sql);
    if (!ok)
        return FALSE;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? column_or(st, 0, -1) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "reading heartbeat rumors");
    return TRUE;
}

static gboolean load_heartbeats(sqlite3 *db, ana_run_summary *out,
                                GError **error)
{
    sqlite3_stmt *st;
    if (!ana__db_prepare(db,
                         "SELECT count(*), coalesce(sum(r.infected ="
                         " u.nodes), 0), coalesce(avg(1.0 * r.copies /"
                         " u.nodes), 0) FROM rumor r JOIN run u USING"
                         " (run_id) WHERE r.run_id = ? AND r.kind ="
                         " 'heartbeat'",
                         &st, error))
        return FALSE;
    sqlite3_bind_int64(st, 1, out->run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->heartbeats = sqlite3_column_int64(st, 0);
        out->heartbeat_full = sqlite3_column_int64(st, 1);
        out->heartbeat_messages_per_node = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return ana__db_error(error, db, rc, "counting heartbeat rumors");
    return median_of(db, out->run_id, "t50_us", &out->heartbeat_t50_us,
                     error) &&
           median_of(db, out->run_id, "t99_us", &out->heartbeat_t99_us,
                     error) &&
           median_of(db, out->run_id, "t100_us", &out->heartbeat_t100_us,
                     error);
}

static gboolean load_membership(sqlite3 *db, ana_run_summary *out,
                                GError **error)
{
    sqlite3_stmt *st;
    if (!ana__db_prepare(db,
                         "SELECT coalesce(max(t_us), -1) FROM membership"
                         " WHERE run_id = ? AND complete < live",
                         &st, error))
        return FALSE;
    sqlite3_bind_int64(st, 1, out->run_id);
    int rc = sqlite3_step(st);
    out->last_unconverged_us = rc == SQLITE_ROW ? column_or(st, 0, -1) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return ana__db_error(error, db, rc, "reading membership samples");
    return TRUE;
}

static gboolean load_outcomes(sqlite3 *db, ana_run_summary *out,
                              GError **error)
{
    sqlite3_stmt *st;
    if (!ana__db_prepare(db,
                         "SELECT outcome, sum(packets) FROM traffic"
                         " WHERE run_id = ? GROUP BY outcome"
                         " ORDER BY outcome",
                         &st, error))
        return FALSE;
    sqlite3_bind_int64(st, 1, out->run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        g_ptr_array_add(out->outcome_names,
                        g_strdup((const char *)sqlite3_column_text(st, 0)));
        int64_t n = sqlite3_column_int64(st, 1);
        g_array_append_val(out->outcome_packets, n);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "reading traffic");
    return TRUE;
}

gboolean ana_run_summary_load(const char *path, int64_t run_id,
                              ana_run_summary *out, GError **error)
{
    memset(out, 0, sizeof *out);
    out->run_id = run_id;
    out->first_converged_us = out->last_unconverged_us = -1;
    out->outcome_names = g_ptr_array_new_with_free_func(g_free);
    out->outcome_packets = g_array_new(FALSE, TRUE, sizeof(int64_t));

    sqlite3 *db = NULL;
    int rc = ana__db_open_ro(path, &db);
    if (rc != SQLITE_OK) {
        ana__db_error(error, db, rc, "opening the database");
        sqlite3_close(db);
        return FALSE;
    }
    int version;
    gboolean ok = ana_schema_check(db, &version, error) &&
                  load_run(db, out, error) && load_metadata(db, out, error) &&
                  load_heartbeats(db, out, error) &&
                  load_membership(db, out, error) &&
                  load_outcomes(db, out, error);
    sqlite3_close(db);
    return ok;
}

void ana_run_summary_clear(ana_run_summary *s)
{
    g_clear_pointer(&s->status, g_free);
    g_clear_pointer(&s->metadata, g_free);
    if (s->outcome_names)
        g_ptr_array_free(s->outcome_names, TRUE);
    if (s->outcome_packets)
        g_array_free(s->outcome_packets, TRUE);
    s->outcome_names = NULL;
    s->outcome_packets = NULL;
    s->n_metadata = 0;
}
