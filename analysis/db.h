/* db.h: the few SQLite helpers every file of analysis/ shares.
 *
 * Internal to the analysis library (ana__ prefix). Each helper turns a
 * SQLite failure into a GError in ANA_ERROR that names what was being done
 * and carries SQLite's own message, so a user reading "recording to
 * runs.db: opening: unable to open database file" knows which step failed.
 */
#ifndef ANA_DB_H
#define ANA_DB_H

#include <glib.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "schema.h"

G_BEGIN_DECLS

/* Sets *error (if error is non-NULL and unset) from the last failure on
 * `db` (NULL: from `rc` alone): "<what>: <sqlite message>". The code is
 * ANA_ERROR_SQLITE, or ANA_ERROR_NOT_PEKO for a file that is not a
 * database at all. Always returns FALSE, so callers can `return` it. */
gboolean ana__db_error(GError **error, sqlite3 *db, int rc, const char *what);

/* Runs one or more statements that return no rows we need. Returns TRUE,
 * or FALSE with *error set. */
gboolean ana__db_exec(sqlite3 *db, const char *sql, const char *what,
                      GError **error);

/* Prepares one statement meant to be reused for the connection's life.
 * Returns TRUE and sets *out, or FALSE with *error set (*out is NULL). */
gboolean ana__db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
                         GError **error);

/* Runs a query whose first row's first column is an integer (a PRAGMA, a
 * COUNT). Returns TRUE and sets *out (0 when there is no row), or FALSE
 * with *error set. */
gboolean ana__db_query_int(sqlite3 *db, const char *sql, const char *what,
                           sqlite3_int64 *out, GError **error);

/* How long a writer waits for another (a sweep's writer and a merge may
 * share a file; WAL allows one writer at a time). */
#define ANA__BUSY_TIMEOUT_MS 10000

/* Sets WAL journal mode and synchronous=NORMAL. Returns TRUE, or FALSE
 * with *error set (also when the file cannot be put in WAL mode). */
gboolean ana__db_set_wal(sqlite3 *db, GError **error);

/* Removes `path` (and its -wal and -shm) if it did not exist before an
 * open (`existed` false) and is an empty regular file: what a failed
 * open of a new database leaves. */
void ana__db_remove_if_created(const char *path, bool existed);

/* Opens the peko database at `path` for writing, creating it (with the
 * schema, in WAL mode) if it does not exist, and upgrading an older
 * schema. Refuses another program's file before writing anything to it.
 * Returns TRUE with *out set (close with sqlite3_close()), or FALSE with
 * *error set, prefixed with the path, and no file left behind. */
gboolean ana__db_open_writer(const char *path, sqlite3 **out,
                             GError **error);

/* Opens an existing peko database at `path` read-only and checks it is
 * one of this build's schema. Returns TRUE with *out set, or FALSE with
 * *error set, prefixed with the path. */
gboolean ana__db_open_reader(const char *path, sqlite3 **out,
                             GError **error);

G_END_DECLS

#endif /* ANA_DB_H */
