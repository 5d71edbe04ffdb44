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

/* `path` as an SQLite URI ("file:" and the path, percent-encoded where
 * a URI needs it) with `query` appended after "?" unless it is NULL, so
 * that any file name works where URIs are enabled. g_free() it. */
char *ana__db_uri(const char *path, const char *query);

/* Opens `path` to read it, without ever writing beside it: when it has
 * no -wal file (no connection has it open, and none left changes in a
 * WAL), immutable (no locks, no -wal or -shm created, so it works in a
 * directory this user cannot write and leaves nothing behind);
 * otherwise read-only through its WAL, which a writer may be adding to.
 * Returns SQLite's code; *out is set either way (sqlite3_close() it). */
int ana__db_open_ro(const char *path, sqlite3 **out);

/* Checks a database that existed before we opened it to write, before
 * anything is written to it: PRAGMA quick_check must find it intact, so
 * that a corrupt file is refused whole instead of failing half-way with
 * a run row already written. Returns TRUE, or FALSE with *error set. */
gboolean ana__db_check_intact(sqlite3 *db, GError **error);

/* Opens the peko database at `path` for writing, creating it (with the
 * schema, in WAL mode) if it does not exist, and upgrading an older
 * schema. Refuses another program's file, and a corrupt one
 * (ana__db_check_intact), before writing anything to it. URIs are on
 * for the connection (ana__db_uri), so inputs can be ATTACHed read-only.
 * Returns TRUE with *out set (close with sqlite3_close()), or FALSE with
 * *error set, prefixed with the path, and no file left behind. */
gboolean ana__db_open_writer(const char *path, sqlite3 **out,
                             GError **error);

/* Opens an existing peko database at `path` read-only (ana__db_open_ro)
 * and checks it is one of this build's schema. Returns TRUE with *out
 * set, or FALSE with *error set, prefixed with the path. */
gboolean ana__db_open_reader(const char *path, sqlite3 **out,
                             GError **error);

/* Whether `a` and `b` are one file (both exist). An output that is one
 * of its own inputs is refused by every command that copies rows. */
bool ana__db_same_file(const char *a, const char *b);

/* Checks, read-only and before anything is attached, that `path` is a
 * regular file holding a peko database with runs: of this build's schema
 * when `exact`, of any schema up to it otherwise. Returns TRUE, or FALSE
 * with *error set, prefixed with the path (ANA_ERROR_SQLITE: missing or
 * not a regular file; ANA_ERROR_NOT_PEKO: no runs; ANA_ERROR_SCHEMA:
 * another schema when `exact`). */
gboolean ana__db_check_input(const char *path, bool exact, GError **error);

G_END_DECLS

#endif /* ANA_DB_H */
