/* schema.h: the recorded database's schema, in one place.
 *
 * Every run, simulated or on real sockets, is written into a SQLite file
 * with these tables and views (docs/schema.md describes each column). The
 * recorder writes it; the report, compare and plot tools read it through
 * ana_schema_check(). Several runs share one file: each is a row of `run`
 * and every other row carries its run_id.
 *
 * The schema's version is the file's PRAGMA user_version and the file is
 * marked as peko's by PRAGMA application_id, so a tool can tell a peko
 * database, an older or newer one, and somebody else's file apart before
 * it reads or writes anything.
 *
 * Conventions: fallible calls return gboolean and set a GError in
 * ANA_ERROR. Connections are the caller's; nothing here keeps state.
 */
#ifndef ANA_SCHEMA_H
#define ANA_SCHEMA_H

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* PRAGMA user_version of a database this build writes. Bumped whenever a
 * table, column or view changes meaning; adding a column bumps it too. */
#define ANA_SCHEMA_VERSION 4

/* PRAGMA application_id of every peko database: "peko" in ASCII. */
#define ANA_APPLICATION_ID 0x70656b6f

#define ANA_ERROR (ana_error_quark())

typedef enum ana_error_code {
    ANA_ERROR_SQLITE,   /* SQLite failed: I/O, permissions, locking, full */
    ANA_ERROR_NOT_PEKO, /* the file is not SQLite, or somebody else's */
    ANA_ERROR_SCHEMA,   /* a peko database of a schema this build lacks */
    ANA_ERROR_INVALID,  /* a bad argument, or a call out of order */
} ana_error_code;

GQuark ana_error_quark(void);

/* The DDL of every table, index and view: one SQL statement per entry,
 * in creation order, NULL-terminated (static). Every statement is
 * CREATE ... IF NOT EXISTS, so running them on a database that has them
 * changes nothing. */
const char *const *ana_schema_ddl(void);

/* Reads, without writing anything, whether `db` may be used: sets
 * *version_out to its schema version (0 for an empty database, which a
 * writer may initialize) and returns TRUE when it is empty or a peko
 * database of version 1..ANA_SCHEMA_VERSION. Returns FALSE with
 * ANA_ERROR_NOT_PEKO for a file that is not SQLite or a SQLite database
 * that is not peko's, ANA_ERROR_SCHEMA for a newer schema, and
 * ANA_ERROR_SQLITE when the file cannot be read. */
gboolean ana_schema_check(sqlite3 *db, int *version_out, GError **error);

/* Makes `db` (open read-write, no transaction in progress) a peko database
 * of ANA_SCHEMA_VERSION: checks it as ana_schema_check() does, then in one
 * IMMEDIATE transaction creates what is missing and sets user_version and
 * application_id. Safe against another process doing the same at once
 * (the second finds the schema made). Returns TRUE, or FALSE with *error
 * set and the database unchanged. */
gboolean ana_schema_ensure(sqlite3 *db, GError **error);

/* Removes the database file at `path` and its -wal, -shm and -journal
 * companions, ignoring those that do not exist: what a temporary or a
 * worker's private database leaves behind. Cannot fail; a file that
 * cannot be removed stays. */
void ana_db_remove(const char *path);

G_END_DECLS

#endif /* ANA_SCHEMA_H */
