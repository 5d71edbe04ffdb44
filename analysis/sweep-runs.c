/* sweep-runs.c: the complete runs of a sweep (sweep-runs.h). */
#include "sweep-runs.h"

#include "db.h"
#include "recorder.h"

struct ana_sweep_runs {
    GHashTable *complete; /* "point\x1frepetition", owned; looked up,
                           * never iterated */
};

/* Unit separator: a sweep point is "key=value,..." text and never holds
 * a control character. */
static char *key_of(const char *sweep_point, int64_t repetition)
{
    return g_strdup_printf("%s\x1f%" G_GINT64_FORMAT, sweep_point,
                           (gint64)repetition);
}

static ana_sweep_runs *runs_new(void)
{
    ana_sweep_runs *runs = g_new0(ana_sweep_runs, 1);
    runs->complete = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
    return runs;
}

/* Reads the complete runs of `sweep_id` from `db` into runs. */
static gboolean read_complete(sqlite3 *db, const char *sweep_id,
                              ana_sweep_runs *runs, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT sweep_point, repetition FROM run"
                                " WHERE sweep_id = ?1 AND status = ?2"
                                " AND repetition IS NOT NULL",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, "reading the runs done");
    sqlite3_bind_text(st, 1, sweep_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ana_status_name(ANA_STATUS_COMPLETE), -1,
                      SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *point = (const char *)sqlite3_column_text(st, 0);
        g_hash_table_add(runs->complete,
                         key_of(point ? point : "",
                                sqlite3_column_int64(st, 1)));
    }
    if (rc != SQLITE_DONE)
        ana__db_error(error, db, rc, "reading the runs done");
    sqlite3_finalize(st);
    return rc == SQLITE_DONE;
}

ana_sweep_runs *ana_sweep_runs_load(const char *path, const char *sweep_id,
                                    GError **error)
{
    g_return_val_if_fail(path != NULL && sweep_id != NULL, NULL);
    ana_sweep_runs *runs = runs_new();
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return runs;
    sqlite3 *db = NULL;
    int version = 0;
    int rc = ana__db_open_ro(path, &db);
    gboolean ok = rc == SQLITE_OK;
    if (!ok) {
        ana__db_error(error, db, rc, "opening");
    } else {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, ANA__BUSY_TIMEOUT_MS);
        /* Identity first: somebody else's file is refused, not read. */
        ok = ana_schema_check(db, &version, error);
    }
    /* Sweeps came with schema 2: an older file has none of them. */
    if (ok && version >= 2)
        ok = read_complete(db, sweep_id, runs, error);
    sqlite3_close(db);
    if (!ok) {
        g_prefix_error(error, "%s: ", path);
        ana_sweep_runs_free(runs);
        return NULL;
    }
    return runs;
}

bool ana_sweep_runs_is_complete(const ana_sweep_runs *runs,
                                const char *sweep_point, uint32_t repetition)
{
    char *key = key_of(sweep_point, repetition);
    bool found = g_hash_table_contains(runs->complete, key);
    g_free(key);
    return found;
}

size_t ana_sweep_runs_n_complete(const ana_sweep_runs *runs)
{
    return g_hash_table_size(runs->complete);
}

void ana_sweep_runs_free(ana_sweep_runs *runs)
{
    if (runs == NULL)
        return;
    g_hash_table_destroy(runs->complete);
    g_free(runs);
}
