/* db.c: SQLite helpers shared by the schema and the recorder (db.h). */
#include "db.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

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

/* WAL: readers (a report on a running sweep) never block the writer, and
 * a crash can only lose uncommitted batches, never damage the file.
 * synchronous=NORMAL is durable against a crash of the process, which is
 * what an interrupted run is; only power loss may cost the last batches. */
gboolean ana__db_set_wal(sqlite3 *db, GError **error)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt,
                                NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, "setting WAL journal mode");
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        ana__db_error(error, db, rc, "setting WAL journal mode");
        sqlite3_finalize(stmt);
        return FALSE;
    }
    const char *mode = (const char *)sqlite3_column_text(stmt, 0);
    /* An in-memory database answers "memory": nothing to protect. */
    gboolean ok = mode && (g_ascii_strcasecmp(mode, "wal") == 0 ||
                           g_ascii_strcasecmp(mode, "memory") == 0);
    if (!ok)
        g_set_error(error, ANA_ERROR, ANA_ERROR_SQLITE,
                    "setting WAL journal mode: the file stays in %s mode",
                    mode ? mode : "an unknown");
    sqlite3_finalize(stmt);
    return ok && ana__db_exec(db, "PRAGMA synchronous = NORMAL",
                              "setting synchronous mode", error);
}

void ana__db_remove_if_created(const char *path, bool existed)
{
    GStatBuf st;
    if (existed || g_stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size != 0)
        return;
    char *wal = g_strconcat(path, "-wal", NULL);
    char *shm = g_strconcat(path, "-shm", NULL);
    g_unlink(wal);
    g_unlink(shm);
    g_unlink(path);
    g_free(wal);
    g_free(shm);
}

char *ana__db_uri(const char *path, const char *query)
{
    GString *uri = g_string_new("file:");
    /* A relative path stays relative; "//" would start an authority. */
    if (path[0] == '/' && path[1] == '/')
        g_string_append(uri, "/");
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (g_ascii_isalnum(c) || strchr("/-._~", c))
            g_string_append_c(uri, (char)c);
        else
            g_string_append_printf(uri, "%%%02X", c);
    }
    if (query)
        g_string_append_printf(uri, "?%s", query);
    return g_string_free(uri, FALSE);
}

int ana__db_open_ro(const char *path, sqlite3 **out)
{
    char *wal = g_strconcat(path, "-wal", NULL);
    bool has_wal = g_file_test(wal, G_FILE_TEST_EXISTS);
    g_free(wal);
    char *uri = ana__db_uri(path, has_wal ? "mode=ro" : "mode=ro&immutable=1");
    int rc = sqlite3_open_v2(uri, out,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    g_free(uri);
    return rc;
}

gboolean ana__db_check_intact(sqlite3 *db, GError **error)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, "checking the database");
    rc = sqlite3_step(stmt);
    gboolean ok = rc == SQLITE_ROW &&
                  g_strcmp0((const char *)sqlite3_column_text(stmt, 0),
                            "ok") == 0;
    if (rc == SQLITE_ROW && !ok) {
        /* quick_check's first finding, on one line. */
        char *finding = g_strdup((const char *)sqlite3_column_text(stmt, 0));
        g_strdelimit(finding, "\r\n", ' ');
        g_set_error(error, ANA_ERROR, ANA_ERROR_SQLITE,
                    "the database is damaged (SQLite's quick_check: %s);"
                    " nothing was written to it",
                    finding ? finding : "no detail");
        g_free(finding);
    }
    else if (!ok)
        ana__db_error(error, db, rc, "checking the database");
    sqlite3_finalize(stmt);
    return ok;
}

gboolean ana__db_open_writer(const char *path, sqlite3 **out, GError **error)
{
    *out = NULL;
    bool existed = g_file_test(path, G_FILE_TEST_EXISTS);
    sqlite3 *db = NULL;
    int version;
    /* As a URI, so that inputs can be ATTACHed as URIs (read-only,
     * immutable: ana__db_open_ro). */
    char *uri = ana__db_uri(path, NULL);
    int rc = sqlite3_open_v2(uri, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                             NULL);
    g_free(uri);
    if (rc != SQLITE_OK) {
        ana__db_error(error, db, rc, "opening");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, ANA__BUSY_TIMEOUT_MS);
    /* Identity first, read-only: see ana_recorder_open(). */
    if (!ana_schema_check(db, &version, error) ||
        (existed && version > 0 && !ana__db_check_intact(db, error)) ||
        !ana__db_set_wal(db, error) || !ana_schema_ensure(db, error))
        goto fail;
    *out = db;
    return TRUE;

fail:
    sqlite3_close(db);
    ana__db_remove_if_created(path, existed);
    g_prefix_error(error, "%s: ", path);
    return FALSE;
}

/* An input must be a regular file: SQLite would create a missing one,
 * and a directory or a device is no database. */
static gboolean is_regular(const char *path, GError **error)
{
    if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    g_set_error(error, ANA_ERROR, ANA_ERROR_SQLITE, "%s: %s", path,
                g_file_test(path, G_FILE_TEST_EXISTS) ? "not a regular file"
                                                      : "no such file");
    return FALSE;
}

gboolean ana__db_open_reader(const char *path, sqlite3 **out, GError **error)
{
    *out = NULL;
    sqlite3 *db = NULL;
    int version = 0;
    if (!is_regular(path, error))
        return FALSE;
    int rc = ana__db_open_ro(path, &db);
    if (rc != SQLITE_OK) {
        ana__db_error(error, db, rc, "opening");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, ANA__BUSY_TIMEOUT_MS);
    if (!ana_schema_check(db, &version, error))
        goto fail;
    if (version == 0) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_NOT_PEKO,
                    "an empty database, with no runs");
        goto fail;
    }
    if (version < ANA_SCHEMA_VERSION) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_SCHEMA,
                    "written by an older peko (schema %d, this build reads "
                    "%d); `peko merge NEW.db %s` copies it into an "
                    "up-to-date file",
                    version, ANA_SCHEMA_VERSION, path);
        goto fail;
    }
    *out = db;
    return TRUE;

fail:
    sqlite3_close(db);
    g_prefix_error(error, "%s: ", path);
    return FALSE;
}

bool ana__db_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

gboolean ana__db_check_input(const char *path, bool exact, GError **error)
{
    if (!is_regular(path, error))
        return FALSE;
    sqlite3 *db = NULL;
    int version = 0;
    int rc = ana__db_open_ro(path, &db);
    gboolean ok = rc == SQLITE_OK
                      ? ana_schema_check(db, &version, error)
                      : ana__db_error(error, db, rc, "opening");
    sqlite3_close(db);
    if (ok && version == 0) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_NOT_PEKO,
                    "an empty database, with no runs");
        ok = FALSE;
    } else if (ok && exact && version != ANA_SCHEMA_VERSION) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_SCHEMA,
                    "schema %d, not this build's %d", version,
                    ANA_SCHEMA_VERSION);
        ok = FALSE;
    }
    if (!ok)
        g_prefix_error(error, "%s: ", path);
    return ok;
}
