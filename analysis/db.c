/* db.c: SQLite helpers shared by the schema and the recorder (db.h). */
#include "db.h"

G_DEFINE_QUARK(ana-error-quark, ana_error)

gboolean ana__db_error(GError **error, sqlite3 *db, int rc, const char *what)
{
    int code = db ? sqlite3_extended_errcode(db) : rc;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int primary = code & 0xff;
    int ana_code = primary == SQLITE_NOTADB ? ANA_ERROR_NOT_PEKO
                                            : ANA_ERROR_SQLITE;
    /* For failures of the file itself, the system's reason is what a
     * user can act on ("Is a directory", "Permission denied"); for other
     * errors the system errno is stale, so it is left out. */
    int sys = db ? sqlite3_system_errno(db) : 0;
    bool file_error = primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR ||
                      primary == SQLITE_READONLY || primary == SQLITE_PERM ||
                      primary == SQLITE_FULL;
    if (file_error && sys != 0)
        g_set_error(error, ANA_ERROR, ana_code, "%s: %s (%s)", what, msg,
                    g_strerror(sys));
    else
        g_set_error(error, ANA_ERROR, ana_code, "%s: %s", what, msg);
    return FALSE;
}

gboolean ana__db_exec(sqlite3 *db, const char *sql, const char *what,
                      GError **error)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, what);
    return TRUE;
}

gboolean ana__db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
                         GError **error)
{
    /* Persistent: these statements live as long as the recorder and run
     * hundreds of thousands of times; SQLite keeps them out of its
     * lookaside memory. */
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
                                NULL);
    if (rc != SQLITE_OK) {
        *out = NULL;
        return ana__db_error(error, db, rc, "preparing a statement");
    }
    return TRUE;
}

gboolean ana__db_query_int(sqlite3 *db, const char *sql, const char *what,
                           sqlite3_int64 *out, GError **error)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, what);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(stmt, 0);
    } else if (rc == SQLITE_DONE) {
        *out = 0;
    } else {
        ana__db_error(error, db, rc, what);
        sqlite3_finalize(stmt);
        return FALSE;
    }
    sqlite3_finalize(stmt);
    return TRUE;
}
