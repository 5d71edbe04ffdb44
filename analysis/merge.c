/* merge.c: copying runs between peko databases (merge.h).
 *
 * The input is ATTACHed to the output's connection, so rows move with
 * INSERT ... SELECT inside SQLite and never pass through C. Which tables
 * to copy is read from the output's schema (every table with a run_id
 * column), so a table added to the schema is merged without a change
 * here. */
#include "merge.h"

#include <string.h>

#include "db.h"
#include "schema.h"

/* The columns of `schema`.`table`, in table order. */
static GPtrArray *table_columns(sqlite3 *db, const char *schema,
                                const char *table, GError **error)
{
    char *sql = sqlite3_mprintf("PRAGMA \"%w\".table_info(\"%w\")", schema,
                                table);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        ana__db_error(error, db, rc, "reading the schema");
        return NULL;
    }
    GPtrArray *cols = g_ptr_array_new_with_free_func(g_free);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        g_ptr_array_add(cols,
                        g_strdup((const char *)sqlite3_column_text(stmt, 1)));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        ana__db_error(error, db, rc, "reading the schema");
        g_ptr_array_free(cols, TRUE);
        return NULL;
    }
    return cols;
}

static bool has_column(const GPtrArray *cols, const char *name)
{
    for (guint i = 0; i < cols->len; i++)
        if (strcmp(g_ptr_array_index(cols, i), name) == 0)
            return true;
    return false;
}

/* One table's copy statement: "INSERT INTO main.t (c...) SELECT ..." over
 * the columns both files have. For `run`, run_id is left out (the output
 * numbers it); for the others it becomes ?1, the new id, and the source
 * rows are those of run ?2. */
static char *copy_sql(sqlite3 *db, const char *table, GError **error)
{
    GPtrArray *out_cols = table_columns(db, "main", table, error);
    if (!out_cols)
        return NULL;
    GPtrArray *in_cols = table_columns(db, "src", table, error);
    if (!in_cols) {
        g_ptr_array_free(out_cols, TRUE);
        return NULL;
    }
    bool is_run = strcmp(table, "run") == 0;
    GString *names = g_string_new(NULL), *values = g_string_new(NULL);
    for (guint i = 0; i < out_cols->len; i++) {
        const char *col = g_ptr_array_index(out_cols, i);
        bool is_id = strcmp(col, "run_id") == 0;
        if ((is_run && is_id) || (!is_id && !has_column(in_cols, col)))
            continue;
        char *quoted = sqlite3_mprintf("\"%w\"", col);
        g_string_append_printf(names, "%s%s", names->len ? ", " : "",
                               quoted);
        g_string_append_printf(values, "%s%s", values->len ? ", " : "",
                               is_id ? "?1" : quoted);
        sqlite3_free(quoted);
    }
    char *sql = sqlite3_mprintf(
        "INSERT INTO main.\"%w\" (%s) SELECT %s FROM src.\"%w\" WHERE "
        "run_id = ?2",
        table, names->str, values->str, table);
    char *result = g_strdup(sql);
    sqlite3_free(sql);
    g_string_free(names, TRUE);
    g_string_free(values, TRUE);
    g_ptr_array_free(out_cols, TRUE);
    g_ptr_array_free(in_cols, TRUE);
    return result;
}

typedef struct merger {
    sqlite3 *db;
    sqlite3_stmt *runs;       /* the input's runs and their identity */
    sqlite3_stmt *present;    /* is that run in the output already? */
    sqlite3_stmt *copy_run;
    GPtrArray *copy_rows;     /* sqlite3_stmt *, one per other table */
} merger;

static void merger_clear(merger *m)
{
    sqlite3_finalize(m->runs);
    sqlite3_finalize(m->present);
    sqlite3_finalize(m->copy_run);
    if (m->copy_rows) {
        for (guint i = 0; i < m->copy_rows->len; i++)
            sqlite3_finalize(g_ptr_array_index(m->copy_rows, i));
        g_ptr_array_free(m->copy_rows, TRUE);
    }
}

static gboolean prepare(merger *m, const char *sql, sqlite3_stmt **out,
                        GError **error)
{
    int rc = sqlite3_prepare_v2(m->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, m->db, rc, "preparing the merge");
    return TRUE;
}

static gboolean merger_prepare(merger *m, GError **error)
{
    GPtrArray *in_run = table_columns(m->db, "src", "run", error);
    if (!in_run)
        return FALSE;
    /* An input of schema 1 has no sweep columns: its runs are plain. */
    bool sweeps = has_column(in_run, "sweep_id");
    g_ptr_array_free(in_run, TRUE);
    char *runs_sql = g_strdup_printf(
        "SELECT run_id, scenario, params, seed, source, started_at,"
        " trace_hash, status, %s FROM src.run ORDER BY run_id",
        sweeps ? "sweep_id, sweep_point, repetition" : "NULL, '', NULL");
    gboolean ok = prepare(m, runs_sql, &m->runs, error);
    g_free(runs_sql);
    if (!ok ||
        !prepare(m,
                 "SELECT 1 FROM main.run WHERE"
                 " (scenario = ?1 AND params = ?2 AND seed = ?3 AND"
                 "  source = ?4 AND started_at = ?5 AND trace_hash IS ?6)"
                 " OR (?7 IS NOT NULL AND sweep_id = ?7 AND"
                 "  sweep_point = ?8 AND repetition IS ?9 AND"
                 "  status = 'complete')"
                 " LIMIT 1",
                 &m->present, error))
        return FALSE;

    char *sql = copy_sql(m->db, "run", error);
    ok = sql && prepare(m, sql, &m->copy_run, error);
    g_free(sql);
    if (!ok)
        return FALSE;

    /* Every other table that has a run_id, in name order (the order only
     * matters for reading this code's effect: each is independent). */
    sqlite3_stmt *tables = NULL;
    if (!prepare(m,
                 "SELECT m.name FROM main.sqlite_schema m"
                 " WHERE m.type = 'table' AND m.name <> 'run'"
                 " AND EXISTS (SELECT 1 FROM pragma_table_info(m.name,"
                 " 'main') c WHERE c.name = 'run_id')"
                 " AND EXISTS (SELECT 1 FROM src.sqlite_schema s"
                 " WHERE s.type = 'table' AND s.name = m.name)"
                 " ORDER BY m.name",
                 &tables, error))
        return FALSE;
    m->copy_rows = g_ptr_array_new();
    int rc;
    while ((rc = sqlite3_step(tables)) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(tables, 0);
        sqlite3_stmt *stmt = NULL;
        sql = copy_sql(m->db, table, error);
        ok = sql && prepare(m, sql, &stmt, error);
        g_free(sql);
        if (!ok) {
            sqlite3_finalize(tables);
            return FALSE;
        }
        g_ptr_array_add(m->copy_rows, stmt);
    }
    sqlite3_finalize(tables);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, m->db, rc, "listing the tables");
    return TRUE;
}

static gboolean step_done(merger *m, sqlite3_stmt *stmt, const char *what,
                          GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, m->db, rc, what);
    return TRUE;
}

/* Copies the current row of m->runs unless the output has that run. */
static gboolean merge_run(merger *m, ana_merge_stats *stats, GError **error)
{
    sqlite3_stmt *r = m->runs, *p = m->present;
    sqlite3_int64 old_id = sqlite3_column_int64(r, 0);
    for (int i = 1; i <= 9; i++)
        sqlite3_bind_value(p, i, sqlite3_column_value(r, i));
    int rc = sqlite3_step(p);
    sqlite3_reset(p);
    sqlite3_clear_bindings(p);
    if (rc == SQLITE_ROW) {
        stats->duplicates++;
        return TRUE;
    }
    if (rc != SQLITE_DONE)
        return ana__db_error(error, m->db, rc, "looking for the run");

    sqlite3_bind_int64(m->copy_run, 2, old_id);
    if (!step_done(m, m->copy_run, "copying a run", error))
        return FALSE;
    sqlite3_int64 new_id = sqlite3_last_insert_rowid(m->db);
    for (guint t = 0; t < m->copy_rows->len; t++) {
        sqlite3_stmt *copy = g_ptr_array_index(m->copy_rows, t);
        sqlite3_bind_int64(copy, 1, new_id);
        sqlite3_bind_int64(copy, 2, old_id);
        if (!step_done(m, copy, "copying a run's rows", error))
            return FALSE;
    }
    const char *status = (const char *)sqlite3_column_text(r, 7);
    stats->copied++;
    if (!status || strcmp(status, "complete") != 0)
        stats->incomplete++;
    return TRUE;
}

gboolean ana_merge(const char *out_path, const char *in_path,
                   ana_merge_stats *stats, GError **error)
{
    ana_merge_stats local = {0};
    if (ana__db_same_file(out_path, in_path)) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "%s: cannot merge a database into itself", in_path);
        return FALSE;
    }
    if (!ana__db_check_input(in_path, false, error))
        return FALSE;
    merger m = {0};
    if (!ana__db_open_writer(out_path, &m.db, error))
        return FALSE;

    gboolean ok = FALSE, attached = FALSE, in_tx = FALSE;
    sqlite3_stmt *attach = NULL;
    int rc = sqlite3_prepare_v2(m.db, "ATTACH DATABASE ?1 AS src", -1,
                                &attach, NULL);
    /* Read-only, and immutable when nothing writes it: an input in a
     * directory we cannot write is read, and nothing is left beside it
     * (ana__db_open_ro). */
    char *wal = g_strconcat(in_path, "-wal", NULL);
    char *uri = ana__db_uri(in_path, g_file_test(wal, G_FILE_TEST_EXISTS)
                                         ? "mode=ro"
                                         : "mode=ro&immutable=1");
    g_free(wal);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(attach, 1, uri, -1, SQLITE_STATIC);
        rc = sqlite3_step(attach);
    }
    sqlite3_finalize(attach);
    g_free(uri);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        ana__db_error(error, m.db, rc, "attaching the input");
        goto done;
    }
    attached = TRUE;
    if (!merger_prepare(&m, error) ||
        !ana__db_exec(m.db, "BEGIN IMMEDIATE", "locking the output", error))
        goto done;
    in_tx = TRUE;
    while ((rc = sqlite3_step(m.runs)) == SQLITE_ROW)
        if (!merge_run(&m, &local, error))
            goto done;
    if (rc != SQLITE_DONE) {
        ana__db_error(error, m.db, rc, "reading the input's runs");
        goto done;
    }
    sqlite3_reset(m.runs);
    if (!ana__db_exec(m.db, "COMMIT", "committing the merge", error))
        goto done;
    in_tx = FALSE;
    ok = TRUE;

done:
    merger_clear(&m);
    if (in_tx)
        sqlite3_exec(m.db, "ROLLBACK", NULL, NULL, NULL);
    if (attached)
        sqlite3_exec(m.db, "DETACH DATABASE src", NULL, NULL, NULL);
    sqlite3_close(m.db);
    if (!ok) {
        if (error && *error && !g_str_has_prefix((*error)->message, in_path))
            g_prefix_error(error, "merging %s into %s: ", in_path, out_path);
        return FALSE;
    }
    if (stats) {
        stats->copied += local.copied;
        stats->duplicates += local.duplicates;
        stats->incomplete += local.incomplete;
    }
    return TRUE;
}
