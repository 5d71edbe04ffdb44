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

G_END_DECLS

#endif /* ANA_DB_H */
