/* join.c: several recordings of one run joined into one run
 * (join-private.h), for combine.c and fleet.c alike.
 *
 * The caller stages its sources' rows, on the common clock, into TEMP
 * tables of the output's connection; the joined run is then written from
 * them with INSERT ... SELECT in one transaction. Rows never pass through
 * C here, and every order that reaches the file is an ORDER BY. */
#include "join-private.h"

#include "db.h"
#include "schema.h"

static const char sql_stage_create[] =
    "CREATE TEMP TABLE c_run AS SELECT 0 AS src, * FROM main.run WHERE 0;"
    "CREATE TEMP TABLE c_node AS SELECT 0 AS src, * FROM main.node WHERE 0;"
    "CREATE TEMP TABLE c_rumor (src, rumor_id, kind, origin, created_us,"
    "  made, engine_id, incarnation, sequence, copies, duplicates,"
    "  messages);"
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
    "DROP TABLE IF EXISTS temp.c_map; DROP TABLE IF EXISTS temp.c_first;"
    "DROP TABLE IF EXISTS temp.c_seq;";

/* Rumors: the creation is the earliest a source saw (made); new
 * rumor_ids in order of creation. c_map takes every staged rumor to its
 * new id; c_first holds each node's first infection by each rumor, its
 * time measured from the creation. */
static const char sql_rumor_keys[] =
    "CREATE INDEX temp.c_inf_by_rumor ON c_inf (src, rumor_id);"
    "CREATE TEMP TABLE c_key AS"
    " SELECT row_number() OVER (ORDER BY created_us, src, rumor_id) AS new_id,"
    "        kind, origin, engine_id, incarnation, sequence, created_us"
    " FROM (SELECT r.*, row_number() OVER (PARTITION BY r.kind, r.origin,"
    "         r.engine_id ORDER BY r.created_us, r.src) AS nth"
    "       FROM c_rumor r WHERE r.made)"
    " WHERE nth = 1;"
    "CREATE INDEX temp.c_key_by_rumor ON c_key (kind, origin, engine_id);"
    "CREATE TEMP TABLE c_map AS"
    " SELECT r.src, r.rumor_id, k.new_id, k.created_us AS created_true"
    " FROM c_rumor r JOIN c_key k ON k.kind = r.kind"
    "  AND k.origin = r.origin AND k.engine_id = r.engine_id;"
    "CREATE INDEX temp.c_map_by_rumor ON c_map (src, rumor_id);"
    "CREATE TEMP TABLE c_first AS"
    " SELECT new_id, node_id, t_us, hops, from_node, via FROM ("
    "  SELECT m.new_id, i.node_id, i.abs_us - m.created_true AS t_us,"
    "   i.hops, i.from_node, i.via,"
    "   row_number() OVER (PARTITION BY m.new_id, i.node_id"
    "    ORDER BY i.abs_us, i.src, i.via, i.hops, i.from_node) AS nth"
    "  FROM c_inf i JOIN c_map m ON m.src = i.src AND m.rumor_id = i.rumor_id)"
    " WHERE nth = 1;";

/* The joined run's rows; ?1 is its run_id, ?2 whether an early
 * infection is stored at 0, ?3 the sources every membership sample must
 * be in. */
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
    " SELECT ?1, new_id, node_id, CASE WHEN ?2 AND t_us < 0 THEN 0"
    "  ELSE t_us END, hops, from_node, via FROM c_first"
    " ORDER BY new_id, t_us, node_id",
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
    " GROUP BY sample HAVING count(*) >= ?3 ORDER BY sample",
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

static gboolean count(sqlite3 *db, const char *sql, int64_t run_id,
                      size_t *out, GError **error)
{
    sqlite3_stmt *st = NULL;
    if (!ana__db_prepare(db, sql, &st, error))
        return FALSE;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || ana__db_error(error, db, rc, "counting");
}

static gboolean write_joined(sqlite3 *db, const ana__join_spec *spec,
                             void *user, ana__join_stats *st, GError **error)
{
    if (!ana__db_exec(db, sql_rumor_keys, "joining the rumors", error) ||
        !count(db, "SELECT count(*) FROM c_first WHERE t_us < 0", 0,
               &st->early, error) ||
        !count(db,
               "SELECT count(*) FROM (SELECT DISTINCT kind, origin,"
               " engine_id FROM c_rumor) r WHERE NOT EXISTS (SELECT 1"
               " FROM c_key k WHERE k.kind = r.kind AND k.origin ="
               " r.origin AND k.engine_id = r.engine_id)",
               0, &st->rumors_dropped, error) ||
        !spec->write_run(db, user, st, &st->run_id, error))
        return FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS(sql_write); i++) {
        sqlite3_stmt *stmt = NULL;
        if (!ana__db_prepare(db, sql_write[i], &stmt, error))
            return FALSE;
        int params = sqlite3_bind_parameter_count(stmt);
        if (params >= 1)
            sqlite3_bind_int64(stmt, 1, st->run_id);
        if (params >= 2)
            sqlite3_bind_int(stmt, 2, spec->clamp_early);
        if (params >= 3)
            sqlite3_bind_int64(stmt, 3,
                               (sqlite3_int64)spec->membership_sources);
        int rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE)
            return ana__db_error(error, db, rc, "writing the joined run");
    }
    return count(db, "SELECT count(*) FROM rumor WHERE run_id = ?1",
                 st->run_id, &st->rumors, error) &&
           count(db, "SELECT count(*) FROM infection WHERE run_id = ?1",
                 st->run_id, &st->infections, error) &&
           (spec->finish == NULL || spec->finish(db, user, st, error));
}

gboolean ana__join(const char *out_path, const char *const *inputs,
                   size_t n_inputs, const ana__join_spec *spec, void *user,
                   ana__join_stats *stats, GError **error)
{
    g_return_val_if_fail(out_path != NULL && spec != NULL, FALSE);
    g_return_val_if_fail(spec->stage != NULL && spec->write_run != NULL,
                         FALSE);
    for (size_t k = 0; k < n_inputs; k++)
        if (ana__db_same_file(out_path, inputs[k])) {
            g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                        "%s: the output cannot be one of the sources",
                        inputs[k]);
            return FALSE;
        }
    bool existed = g_file_test(out_path, G_FILE_TEST_EXISTS);
    sqlite3 *db = NULL;
    if (!ana__db_open_writer(out_path, &db, error))
        return FALSE;
    ana__join_stats st = {0};
    gboolean ok =
        ana__db_exec(db, "PRAGMA temp_store = FILE", "setting up", error) &&
        ana__db_exec(db, sql_stage_create, "setting up", error) &&
        spec->stage(db, user, error);
    gboolean in_tx = FALSE;
    if (ok) {
        ok = ana__db_exec(db, "BEGIN IMMEDIATE", "locking the output", error);
        in_tx = ok;
    }
    ok = ok && write_joined(db, spec, user, &st, error);
    if (ok) {
        ok = ana__db_exec(db, "COMMIT", "committing the joined run", error);
        in_tx = !ok;
    }
    if (in_tx)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(db, sql_stage_drop, NULL, NULL, NULL);
    sqlite3_close(db);
    if (!ok) {
        /* A file made for this join goes with it. */
        if (!existed)
            ana_db_remove(out_path);
        return FALSE;
    }
    if (stats)
        *stats = st;
    return TRUE;
}
