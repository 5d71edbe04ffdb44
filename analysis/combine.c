/* combine.c: recordings of one run combined into one run (combine.h).
 *
 * Each source is ATTACHed in turn and its rows staged, with their times
 * corrected, into TEMP tables of the output's connection (ATTACH cannot
 * run inside a transaction); the combined run is then written from the
 * staged rows with INSERT ... SELECT in one transaction. Rows never pass
 * through C, and every order that reaches the file is an ORDER BY. */
#include "combine.h"

#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "schema.h"

/* The staging tables: src is the source's index. Times are on the common
 * clock (offset added); infections carry their absolute time. */
static const char sql_stage_create[] =
    "CREATE TEMP TABLE c_run AS SELECT 0 AS src, * FROM main.run WHERE 0;"
    "CREATE TEMP TABLE c_node AS SELECT 0 AS src, * FROM main.node WHERE 0;"
    "CREATE TEMP TABLE c_rumor (src, rumor_id, kind, origin, created_us,"
    "  engine_id, incarnation, sequence, copies, duplicates, messages);"
    "CREATE TEMP TABLE c_inf (src, rumor_id, node_id, abs_us, hops,"
    "  from_node, via);"
    "CREATE TEMP TABLE c_traffic (node_id, type, outcome, packets, bytes);"
    "CREATE TEMP TABLE c_rej (node_id, reason, packets, bytes);"
    "CREATE TEMP TABLE c_memb (src, sample, t_us, live, complete);"
    "CREATE TEMP TABLE c_meta (src, node_id, counter, origin, origin_addr,"
    "  t_us, via, bytes);"
    "CREATE TEMP TABLE c_timeline (src, seq, t_us, event, detail);"
    "CREATE TEMP TABLE c_state (src, seq, t_us, node_id, state);"
    "CREATE TEMP TABLE c_change (src, seq, t_us, node_id, peer, change);";

static const char sql_stage_drop[] =
    "DROP TABLE IF EXISTS temp.c_run; DROP TABLE IF EXISTS temp.c_node;"
    "DROP TABLE IF EXISTS temp.c_rumor; DROP TABLE IF EXISTS temp.c_inf;"
    "DROP TABLE IF EXISTS temp.c_traffic; DROP TABLE IF EXISTS temp.c_rej;"
    "DROP TABLE IF EXISTS temp.c_memb; DROP TABLE IF EXISTS temp.c_meta;"
    "DROP TABLE IF EXISTS temp.c_timeline; DROP TABLE IF EXISTS temp.c_state;"
    "DROP TABLE IF EXISTS temp.c_change; DROP TABLE IF EXISTS temp.c_key;"
    "DROP TABLE IF EXISTS temp.c_map; DROP TABLE IF EXISTS temp.c_seq;";

/* One source's rows into the staging tables: @K stands for the source's
 * index, @O for its offset (both integers, written in by stage()). */
static const char sql_stage_source[] =
    "INSERT INTO c_run SELECT @K, * FROM src.run;"
    "INSERT INTO c_node SELECT @K, * FROM src.node;"
    "INSERT INTO c_rumor SELECT @K, rumor_id, kind, origin,"
    "  created_us + @O, engine_id, incarnation, sequence, copies,"
    "  duplicates, messages FROM src.rumor;"
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

/* Rumors: the creation is the one of the source holding the origin's own
 * infection (the earliest such, should two claim it); new rumor_ids in
 * order of creation. c_map takes every staged rumor to its new id. */
static const char sql_rumor_keys[] =
    "CREATE INDEX temp.c_inf_by_rumor ON c_inf (src, rumor_id);"
    "CREATE TEMP TABLE c_key AS"
    " SELECT row_number() OVER (ORDER BY created_us, src, rumor_id) AS new_id,"
    "        kind, origin, engine_id, incarnation, sequence, created_us"
    " FROM (SELECT r.*, row_number() OVER (PARTITION BY r.kind, r.origin,"
    "         r.engine_id ORDER BY r.created_us, r.src) AS nth"
    "       FROM c_rumor r"
    "       WHERE EXISTS (SELECT 1 FROM c_inf i WHERE i.src = r.src"
    "         AND i.rumor_id = r.rumor_id AND i.via = 'origin'"
    "         AND i.node_id = r.origin))"
    " WHERE nth = 1;"
    "CREATE INDEX temp.c_key_by_rumor ON c_key (kind, origin, engine_id);"
    "CREATE TEMP TABLE c_map AS"
    " SELECT r.src, r.rumor_id, k.new_id, k.created_us AS created_true"
    " FROM c_rumor r JOIN c_key k ON k.kind = r.kind"
    "  AND k.origin = r.origin AND k.engine_id = r.engine_id;"
    "CREATE INDEX temp.c_map_by_rumor ON c_map (src, rumor_id);";

/* The combined run's rows; ?1 is its run_id. */
static const char *const sql_write[] = {
    "INSERT INTO node (run_id, node_id, addr, name, heartbeat_sampled,"
    " peers_added, peers_refreshed, peers_expired)"
    " SELECT ?1, n.node_id, n.addr, n.name, n.heartbeat_sampled,"
    "  (SELECT sum(m.peers_added) FROM c_node m WHERE m.node_id = n.node_id),"
    "  (SELECT sum(m.peers_refreshed) FROM c_node m"
    "    WHERE m.node_id = n.node_id),"
    "  (SELECT sum(m.peers_expired) FROM c_node m"
    "    WHERE m.node_id = n.node_id)"
    " FROM c_node n WHERE n.src = 0 ORDER BY n.node_id",
    "INSERT INTO infection (run_id, rumor_id, node_id, t_us, hops,"
    " from_node, via)"
    " SELECT ?1, new_id, node_id, t_us, hops, from_node, via FROM ("
    "  SELECT m.new_id, i.node_id, i.abs_us - m.created_true AS t_us,"
    "   i.hops, i.from_node, i.via,"
    "   row_number() OVER (PARTITION BY m.new_id, i.node_id"
    "                      ORDER BY i.abs_us, i.src) AS nth"
    "  FROM c_inf i JOIN c_map m ON m.src = i.src AND m.rumor_id = i.rumor_id)"
    " WHERE nth = 1 ORDER BY new_id, t_us, node_id",
    "INSERT INTO rumor (run_id, rumor_id, kind, origin, created_us,"
    " engine_id, incarnation, sequence, infected, copies, duplicates,"
    " messages)"
    " SELECT ?1, k.new_id, k.kind, k.origin, k.created_us, k.engine_id,"
    "  k.incarnation, k.sequence,"
    "  (SELECT count(*) FROM infection f WHERE f.run_id = ?1"
    "    AND f.rumor_id = k.new_id),"
    "  s.copies, s.duplicates, s.messages"
    " FROM c_key k JOIN (SELECT m.new_id, sum(r.copies) AS copies,"
    "   sum(r.duplicates) AS duplicates, sum(r.messages) AS messages"
    "   FROM c_rumor r JOIN c_map m ON m.src = r.src"
    "    AND m.rumor_id = r.rumor_id GROUP BY m.new_id) s"
    "  ON s.new_id = k.new_id ORDER BY k.new_id",
    "INSERT INTO traffic (run_id, node_id, type, outcome, packets, bytes)"
    " SELECT ?1, node_id, type, outcome, sum(packets), sum(bytes)"
    " FROM c_traffic GROUP BY node_id, type, outcome"
    " ORDER BY node_id, type, outcome",
    "INSERT INTO rejection (run_id, node_id, reason, packets, bytes)"
    " SELECT ?1, node_id, reason, sum(packets), sum(bytes)"
    " FROM c_rej GROUP BY node_id, reason ORDER BY node_id, reason",
    "INSERT INTO membership (run_id, sample, t_us, live, complete)"
    " SELECT ?1, sample, min(t_us), max(live), sum(complete) FROM c_memb"
    " GROUP BY sample HAVING count(*) = (SELECT count(*) FROM c_run)"
    " ORDER BY sample",
    /* Ordered by time, so OR IGNORE keeps each key's earliest row. */
    "INSERT OR IGNORE INTO metadata_version (run_id, node_id, counter,"
    " origin, origin_addr, t_us, via, bytes)"
    " SELECT ?1, node_id, counter, origin, origin_addr, t_us, via, bytes"
    " FROM c_meta ORDER BY t_us, src, node_id",
    "INSERT INTO timeline (run_id, seq, t_us, event, detail)"
    " SELECT ?1, seq, t_us, event, detail FROM c_timeline WHERE src = 0"
    " ORDER BY seq",
    "CREATE TEMP TABLE c_seq AS"
    " SELECT row_number() OVER (ORDER BY t_us, src, seq) - 1 AS new_seq,"
    "        tbl, src, seq"
    " FROM (SELECT 0 AS tbl, src, seq, t_us FROM c_state WHERE src = 0"
    "       UNION ALL SELECT 1, src, seq, t_us FROM c_change)",
    "INSERT INTO node_state (run_id, seq, t_us, node_id, state)"
    " SELECT ?1, q.new_seq, s.t_us, s.node_id, s.state"
    " FROM c_state s JOIN c_seq q ON q.tbl = 0 AND q.src = s.src"
    "  AND q.seq = s.seq ORDER BY q.new_seq",
    "INSERT INTO membership_change (run_id, seq, t_us, node_id, peer,"
    " change)"
    " SELECT ?1, q.new_seq, c.t_us, c.node_id, c.peer, c.change"
    " FROM c_change c JOIN c_seq q ON q.tbl = 1 AND q.src = c.src"
    "  AND q.seq = c.seq ORDER BY q.new_seq",
};

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

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Checks, read-only, that `path` is a peko database of this schema. */
static gboolean check_source(const char *path, GError **error)
{
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID, "%s: %s", path,
                    g_file_test(path, G_FILE_TEST_EXISTS)
                        ? "not a regular file"
                        : "no such file");
        return FALSE;
    }
    sqlite3 *db = NULL;
    int version = 0;
    int rc = ana__db_open_ro(path, &db);
    gboolean ok = rc == SQLITE_OK
                      ? ana_schema_check(db, &version, error)
                      : ana__db_error(error, db, rc, "opening");
    sqlite3_close(db);
    if (ok && version != ANA_SCHEMA_VERSION) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_SCHEMA,
                    version == 0 ? "an empty database, with no runs"
                                 : "schema %d, not this build's %d",
                    version, ANA_SCHEMA_VERSION);
        ok = FALSE;
    }
    if (!ok)
        g_prefix_error(error, "%s: ", path);
    return ok;
}

static gboolean exec_one(sqlite3 *db, const char *sql, const char *what,
                         GError **error)
{
    return ana__db_exec(db, sql, what, error);
}

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
    gboolean ok = exec_one(db, sql->str, "reading a source", error);
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

static gboolean write_combined(sqlite3 *db, ana_combine_stats *st,
                               GError **error)
{
    if (!exec_one(db, sql_rumor_keys, "joining the rumors", error) ||
        !exec_one(db, sql_run, "writing the run", error))
        return FALSE;
    st->run_id = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; i < G_N_ELEMENTS(sql_write); i++) {
        sqlite3_stmt *stmt = NULL;
        if (!ana__db_prepare(db, sql_write[i], &stmt, error))
            return FALSE;
        if (sqlite3_bind_parameter_count(stmt) > 0)
            sqlite3_bind_int64(stmt, 1, st->run_id);
        int rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE)
            return ana__db_error(error, db, rc, "writing the combined run");
    }
    sqlite3_int64 v = 0;
    char *sql = sqlite3_mprintf("SELECT count(*) FROM rumor WHERE run_id = %lld",
                                (long long)st->run_id);
    gboolean ok = ana__db_query_int(db, sql, "counting", &v, error);
    sqlite3_free(sql);
    st->rumors = (size_t)v;
    sql = sqlite3_mprintf("SELECT count(*) FROM infection WHERE run_id = %lld",
                          (long long)st->run_id);
    ok = ok && ana__db_query_int(db, sql, "counting", &v, error);
    sqlite3_free(sql);
    st->infections = (size_t)v;
    ok = ok && ana__db_query_int(db,
                                 "SELECT count(*) FROM (SELECT DISTINCT kind,"
                                 " origin, engine_id FROM c_rumor) r"
                                 " WHERE NOT EXISTS (SELECT 1 FROM c_key k"
                                 " WHERE k.kind = r.kind AND k.origin ="
                                 " r.origin AND k.engine_id = r.engine_id)",
                                 "counting", &v, error);
    st->rumors_dropped = (size_t)v;
    return ok;
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
    for (size_t k = 0; k < n; k++) {
        if (same_file(out_path, sources[k].path)) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "%s: the output cannot be one of the sources",
                        sources[k].path);
            return FALSE;
        }
        if (!check_source(sources[k].path, error))
            return FALSE;
    }
    bool existed = g_file_test(out_path, G_FILE_TEST_EXISTS);
    sqlite3 *db = NULL;
    if (!ana__db_open_writer(out_path, &db, error))
        return FALSE;
    ana_combine_stats st = {0};
    gboolean ok = exec_one(db, "PRAGMA temp_store = FILE", "setting up", error) &&
                  exec_one(db, sql_stage_create, "setting up", error);
    for (size_t k = 0; ok && k < n; k++) {
        ok = stage(db, &sources[k], (int)k, error);
        if (!ok)
            g_prefix_error(error, "%s: ", sources[k].path);
    }
    ok = ok && check_staged(db, sources, n, error);
    gboolean in_tx = FALSE;
    if (ok) {
        ok = exec_one(db, "BEGIN IMMEDIATE", "locking the output", error);
        in_tx = ok;
    }
    ok = ok && write_combined(db, &st, error);
    if (ok) {
        ok = exec_one(db, "COMMIT", "committing the combined run", error);
        in_tx = !ok;
    }
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(db, sql_stage_drop, NULL, NULL, NULL);
    sqlite3_close(db);
    if (!ok) {
        /* A file made for this combine goes with it. */
        if (!existed)
            ana_db_remove(out_path);
        if (error && *error)
            g_prefix_error(error, "combining into %s: ", out_path);
        return FALSE;
    }
    if (stats)
        *stats = st;
    return TRUE;
}
