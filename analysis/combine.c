/* combine.c: recordings of one run combined into one run (combine.h).
 *
 * Each source is ATTACHed in turn and its rows staged, with their times
 * corrected by its offset, into the join's staging tables (ATTACH cannot
 * run inside a transaction); join.c, the core this shares with the fleet
 * merge, writes the run from them. What is this module's own: reading
 * ordinary recordings (rows never pass through C), the checks that they
 * are of one run, and the run row, the first source's. */
#include "combine.h"

#include <inttypes.h>
#include <string.h>

#include "db.h"
#include "join-private.h"
#include "schema.h"

/* One source's rows into the staging tables: @K stands for the source's
 * index, @O for its offset (both integers, written in by stage()). */
static const char sql_stage_source[] =
    "INSERT INTO c_run SELECT @K, * FROM src.run;"
    "INSERT INTO c_node SELECT @K, * FROM src.node;"
    "INSERT INTO c_rumor SELECT @K, rumor_id, kind, origin,"
    "  created_us + @O, EXISTS (SELECT 1 FROM src.infection i"
    "   WHERE i.run_id = r.run_id AND i.rumor_id = r.rumor_id"
    "   AND i.via = 'origin' AND i.node_id = r.origin),"
    "  engine_id, incarnation, sequence, copies, duplicates, messages"
    "  FROM src.rumor r;"
    "INSERT INTO c_inf SELECT @K, i.rumor_id, i.node_id,"
    "  r.created_us + i.t_us + @O, i.hops, i.from_node, i.via"
    "  FROM src.infection i JOIN src.rumor r"
    "  ON r.run_id = i.run_id AND r.rumor_id = i.rumor_id;"
    "INSERT INTO c_traffic SELECT node_id, type, outcome, packets, bytes"
    "  FROM src.traffic;"
    "INSERT INTO c_rej SELECT node_id, reason, packets, bytes"
    "  FROM src.rejection;"
    "INSERT INTO c_memb SELECT @K, sample, t_us + @O, live, complete"
    "  FROM src.membership;"
    "INSERT INTO c_meta SELECT @K, node_id, counter, origin, origin_addr,"
    "  t_us + @O, via, bytes FROM src.metadata_version;"
    "INSERT INTO c_timeline SELECT @K, seq, t_us + @O, event, detail"
    "  FROM src.timeline;"
    "INSERT INTO c_state SELECT @K, seq, t_us + @O, node_id, state"
    "  FROM src.node_state;"
    "INSERT INTO c_change SELECT @K, seq, t_us + @O, node_id, peer,"
    "  change FROM src.membership_change;";

/* The run row: the first source's, with what the others add. */
static const char sql_run[] =
    "INSERT INTO run (scenario, params, seed, version, source, status,"
    " nodes, heartbeat_origins, heartbeat_every, started_at, finished_at,"
    " trace_hash, sim_time_us, wall_s, events, deliveries, error, sweep_id,"
    " sweep_point, repetition, ground_truth)"
    " SELECT scenario, params, seed, version, source,"
    "  CASE WHEN (SELECT count(*) FROM c_run WHERE status <> 'complete') = 0"
    "   THEN 'complete' ELSE 'incomplete' END,"
    "  nodes, heartbeat_origins, heartbeat_every,"
    "  (SELECT min(started_at) FROM c_run),"
    "  CASE WHEN (SELECT count(*) FROM c_run WHERE finished_at IS NULL) = 0"
    "   THEN (SELECT max(finished_at) FROM c_run) END,"
    "  NULL, (SELECT max(sim_time_us) FROM c_run),"
    "  (SELECT max(wall_s) FROM c_run), (SELECT sum(events) FROM c_run),"
    "  (SELECT sum(deliveries) FROM c_run),"
    "  (SELECT error FROM c_run WHERE error IS NOT NULL ORDER BY src"
    "   LIMIT 1),"
    "  sweep_id, sweep_point, repetition, ground_truth"
    " FROM c_run WHERE src = 0";

/* Stages source k: attach, copy its rows, detach. */
static gboolean stage(sqlite3 *db, const ana_combine_source *s, int k,
                      GError **error)
{
    char *wal = g_strconcat(s->path, "-wal", NULL);
    char *uri = ana__db_uri(s->path, g_file_test(wal, G_FILE_TEST_EXISTS)
                                         ? "mode=ro"
                                         : "mode=ro&immutable=1");
    g_free(wal);
    sqlite3_stmt *attach = NULL;
    int rc = sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS src", -1, &attach,
                                NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(attach, 1, uri, -1, SQLITE_STATIC);
        rc = sqlite3_step(attach);
    }
    sqlite3_finalize(attach);
    g_free(uri);
    if (rc != SQLITE_DONE && rc != SQLITE_OK)
        return ana__db_error(error, db, rc, "attaching a source");
    GString *sql = g_string_new(sql_stage_source);
    char num[32];
    g_snprintf(num, sizeof num, "%d", k);
    g_string_replace(sql, "@K", num, 0);
    g_snprintf(num, sizeof num, "(%" G_GINT64_FORMAT ")", s->offset_us);
    g_string_replace(sql, "@O", num, 0);
    gboolean ok = ana__db_exec(db, sql->str, "reading a source", error);
    g_string_free(sql, TRUE);
    sqlite3_exec(db, "DETACH DATABASE src", NULL, NULL, NULL);
    return ok;
}

/* The sources agree: one run each, of one scenario. */
static gboolean check_staged(sqlite3 *db, const ana_combine_source *sources,
                             size_t n, GError **error)
{
    for (size_t k = 0; k < n; k++) {
        char *sql = sqlite3_mprintf("SELECT count(*) FROM c_run WHERE src = %d",
                                    (int)k);
        sqlite3_int64 runs = 0;
        gboolean ok = ana__db_query_int(db, sql, "counting runs", &runs,
                                        error);
        sqlite3_free(sql);
        if (!ok)
            return FALSE;
        if (runs != 1) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "%s: holds %lld runs; a source must hold exactly one",
                        sources[k].path, (long long)runs);
            return FALSE;
        }
    }
    sqlite3_int64 kinds = 0;
    if (!ana__db_query_int(db,
                           "SELECT count(*) FROM (SELECT DISTINCT scenario,"
                           " params, seed, nodes FROM c_run)",
                           "comparing the runs", &kinds, error))
        return FALSE;
    if (kinds != 1) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "the sources are not recordings of one run: their"
                    " scenario, parameters, seed or node count differ");
        return FALSE;
    }
    return TRUE;
}

typedef struct combine {
    const ana_combine_source *sources;
    size_t n;
} combine;

static gboolean stage_all(sqlite3 *db, void *user, GError **error)
{
    const combine *c = user;
    for (size_t k = 0; k < c->n; k++)
        if (!stage(db, &c->sources[k], (int)k, error)) {
            g_prefix_error(error, "%s: ", c->sources[k].path);
            return FALSE;
        }
    return check_staged(db, c->sources, c->n, error);
}

static gboolean write_run(sqlite3 *db, void *user, const ana__join_stats *st,
                          int64_t *run_id, GError **error)
{
    (void)user;
    (void)st;
    if (!ana__db_exec(db, sql_run, "writing the run", error))
        return FALSE;
    *run_id = sqlite3_last_insert_rowid(db);
    return TRUE;
}

gboolean ana_combine(const char *out_path, const ana_combine_source *sources,
                     size_t n, ana_combine_stats *stats, GError **error)
{
    g_return_val_if_fail(out_path != NULL && sources != NULL, FALSE);
    if (n == 0 || n > INT32_MAX) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "combining needs at least one source");
        return FALSE;
    }
    const char **paths = g_new(const char *, n);
    gboolean ok = TRUE;
    for (size_t k = 0; k < n; k++) {
        paths[k] = sources[k].path;
        ok = ok && ana__db_check_input(sources[k].path, true, error);
    }
    combine c = {sources, n};
    const ana__join_spec spec = {
        .clamp_early = false,
        .membership_sources = n,
        .stage = stage_all,
        .write_run = write_run,
    };
    ana__join_stats st;
    ok = ok && ana__join(out_path, paths, n, &spec, &c, &st, error);
    g_free(paths);
    if (!ok) {
        if (error && *error)
            g_prefix_error(error, "combining into %s: ", out_path);
        return FALSE;
    }
    if (stats)
        *stats = (ana_combine_stats){.run_id = st.run_id,
                                     .rumors = st.rumors,
                                     .rumors_dropped = st.rumors_dropped,
                                     .infections = st.infections};
    return TRUE;
}
