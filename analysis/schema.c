/* schema.c: the DDL of a peko database and its identity checks
 * (schema.h). docs/schema.md documents every table, column and view; keep
 * the two in step, and bump ANA_SCHEMA_VERSION with any change here. */
#include "schema.h"

#include <glib/gstdio.h>

#include "db.h"

/* Conventions of the schema:
 * - every table but `run` leads with run_id, so one file holds many runs
 *   and every query filters on it first;
 * - times are integers in microseconds, named *_us; infection times are
 *   relative to the rumor's creation, every other time to the run's start;
 * - names (types, outcomes, kinds, status) are lower-case text, not codes,
 *   so the file reads without a legend;
 * - tables written in bulk are WITHOUT ROWID with the key queries use, so
 *   the key is the only b-tree a row costs. infection is keyed in time
 *   order within each rumor: rows arrive in that order (appends, not
 *   inserts in the middle) and tX reads them in that order (no sort);
 *   the recorder, not a key, keeps one row per node and rumor;
 * - CHECKs list allowed values with OR, not IN (...): SQLite builds an
 *   ephemeral table for IN in a CHECK on every row inserted, which made
 *   bulk inserts several times slower. */

/* The failure detector's rows (schema 3): what the world knows of each
 * node (node_state) and what each node's list did about the others
 * (membership_change). Both are rare next to packets: a row per state
 * change and per removal, re-add or snapshot, never per heartbeat. One
 * sequence numbers the rows of both, so a reader can merge them back into
 * the order they happened in. Kept as macros: the upgrade from schema 2
 * creates the same objects. */
#define NODE_STATE_DDL                                                     \
    "CREATE TABLE IF NOT EXISTS node_state (\n"                           \
    "  run_id INTEGER NOT NULL,\n"                                        \
    "  seq INTEGER NOT NULL,\n"                                           \
    "  t_us INTEGER NOT NULL,\n"                                          \
    "  node_id INTEGER NOT NULL,\n"                                       \
    "  state TEXT NOT NULL\n"                                             \
    "    CHECK (state = 'up' OR state = 'stopped' OR state = 'paused' OR\n" \
    "           state = 'crashed'),\n"                                    \
    "  PRIMARY KEY (run_id, seq)\n"                                       \
    ") WITHOUT ROWID;\n"
#define MEMBERSHIP_CHANGE_DDL                                              \
    "CREATE TABLE IF NOT EXISTS membership_change (\n"                    \
    "  run_id INTEGER NOT NULL,\n"                                        \
    "  seq INTEGER NOT NULL,\n"                                           \
    "  t_us INTEGER NOT NULL,\n"                                          \
    "  node_id INTEGER NOT NULL,\n"                                       \
    "  peer INTEGER NOT NULL,\n"                                          \
    "  change TEXT NOT NULL\n"                                            \
    "    CHECK (change = 'listed' OR change = 'expired' OR\n"             \
    "           change = 'added'),\n"                                     \
    "  PRIMARY KEY (run_id, seq)\n"                                       \
    ") WITHOUT ROWID;\n"
/* A node's down intervals: from the state row that ended a time 'up' to
 * the next 'up' (NULL: down until the run's end); cause is the state it
 * went to first. */
#define NODE_DOWN_VIEW_DDL                                                 \
    "CREATE VIEW IF NOT EXISTS node_down AS\n"                            \
    "SELECT run_id, node_id, state AS cause, t_us AS down_us,\n"          \
    "       (SELECT u.t_us FROM node_state u\n"                           \
    "         WHERE u.run_id = s.run_id AND u.node_id = s.node_id\n"      \
    "           AND u.seq > s.seq AND u.state = 'up'\n"                   \
    "         ORDER BY u.seq LIMIT 1) AS up_us\n"                         \
    "FROM (SELECT *, lag(state) OVER (PARTITION BY run_id, node_id\n"     \
    "                                 ORDER BY seq) AS before\n"          \
    "      FROM node_state) s\n"                                          \
    "WHERE state <> 'up' AND (before IS NULL OR before = 'up');\n"

/* Fleet recording (schema 4): what a node on real sockets saw, stamped
 * with its own real-time clock, for `peko merge --fleet` to put on one
 * clock (analysis/fleet.h). */
#define FLEET_RECEIPT_DDL \
    "CREATE TABLE IF NOT EXISTS fleet_receipt (\n"                       \
    "  run_id INTEGER NOT NULL,\n"                                       \
    "  node_id INTEGER NOT NULL,\n"                                      \
    "  seq INTEGER NOT NULL,\n"                                          \
    "  wall_us INTEGER NOT NULL,\n"                                      \
    "  kind TEXT NOT NULL\n"                                             \
    "    CHECK (kind = 'heartbeat' OR kind = 'metadata'),\n"             \
    "  origin_addr TEXT NOT NULL,\n"                                     \
    "  engine_id TEXT NOT NULL,\n"                                       \
    "  hops INTEGER,\n"                                                  \
    "  via TEXT NOT NULL\n"                                              \
    "    CHECK (via = 'origin' OR via = 'rumor' OR via = 'swap'),\n"     \
    "  from_addr TEXT,\n"                                                \
    "  PRIMARY KEY (run_id, node_id, seq)\n"                             \
    ") WITHOUT ROWID;\n"
#define FLEET_MEMBERS_DDL \
    "CREATE TABLE IF NOT EXISTS fleet_members (\n"                       \
    "  run_id INTEGER NOT NULL,\n"                                       \
    "  node_id INTEGER NOT NULL,\n"                                      \
    "  seq INTEGER NOT NULL,\n"                                          \
    "  wall_us INTEGER NOT NULL,\n"                                      \
    "  members INTEGER NOT NULL,\n"                                      \
    "  PRIMARY KEY (run_id, node_id, seq)\n"                             \
    ") WITHOUT ROWID;\n"
#define CLOCK_OFFSET_DDL \
    "CREATE TABLE IF NOT EXISTS clock_offset (\n"                        \
    "  run_id INTEGER NOT NULL,\n"                                       \
    "  node_id INTEGER NOT NULL,\n"                                      \
    "  seq INTEGER NOT NULL,\n"                                          \
    "  wall_us INTEGER NOT NULL,\n"                                      \
    "  source TEXT NOT NULL CHECK (source = 'swap' OR source = 'kernel'),\n" \
    "  peer_addr TEXT,\n"                                                \
    "  offset_us INTEGER NOT NULL,\n"                                    \
    "  error_us INTEGER NOT NULL,\n"                                     \
    "  PRIMARY KEY (run_id, node_id, seq)\n"                             \
    ") WITHOUT ROWID;\n"
#define CLOCK_CORRECTION_DDL \
    "CREATE TABLE IF NOT EXISTS clock_correction (\n"                    \
    "  run_id INTEGER NOT NULL,\n"                                       \
    "  node_id INTEGER NOT NULL,\n"                                      \
    "  reference INTEGER NOT NULL,\n"                                    \
    "  offset_us INTEGER NOT NULL,\n"                                    \
    "  error_us INTEGER NOT NULL,\n"                                     \
    "  path_hops INTEGER NOT NULL,\n"                                    \
    "  PRIMARY KEY (run_id, node_id)\n"                                  \
    ") WITHOUT ROWID;\n"
#define FLEET_DDL FLEET_RECEIPT_DDL FLEET_MEMBERS_DDL CLOCK_OFFSET_DDL CLOCK_CORRECTION_DDL

static const char *const schema_ddl[] = {
    "CREATE TABLE IF NOT EXISTS run (\n"
    "  run_id INTEGER PRIMARY KEY,\n"
    "  scenario TEXT NOT NULL,\n"
    "  params TEXT NOT NULL DEFAULT '{}',\n"
    "  seed INTEGER NOT NULL,\n"
    "  version TEXT NOT NULL,\n"
    "  source TEXT NOT NULL,\n"
    "  status TEXT NOT NULL\n"
    "    CHECK (status = 'running' OR status = 'complete' OR\n"
    "           status = 'incomplete'),\n"
    "  nodes INTEGER NOT NULL,\n"
    "  heartbeat_origins INTEGER NOT NULL,\n"
    "  heartbeat_every INTEGER NOT NULL,\n"
    "  started_at TEXT NOT NULL,\n"
    "  finished_at TEXT,\n"
    "  trace_hash TEXT,\n"
    "  sim_time_us INTEGER,\n"
    "  wall_s REAL,\n"
    "  events INTEGER,\n"
    "  deliveries INTEGER,\n"
    "  error TEXT,\n"
    "  sweep_id TEXT,\n"
    "  sweep_point TEXT NOT NULL DEFAULT '',\n"
    "  repetition INTEGER,\n"
    "  ground_truth INTEGER,\n"
    "  run_label TEXT,\n"
    "  wall_t0_us INTEGER\n"
    ");\n",
    "CREATE TABLE IF NOT EXISTS node (\n"
    "  run_id INTEGER NOT NULL REFERENCES run (run_id),\n"
    "  node_id INTEGER NOT NULL,\n"
    "  addr TEXT NOT NULL,\n"
    "  name TEXT,\n"
    "  heartbeat_sampled INTEGER NOT NULL,\n"
    "  peers_added INTEGER,\n"
    "  peers_refreshed INTEGER,\n"
    "  peers_expired INTEGER,\n"
    "  PRIMARY KEY (run_id, node_id)\n"
    ") WITHOUT ROWID;\n",
    "CREATE TABLE IF NOT EXISTS rumor (\n"
    "  run_id INTEGER NOT NULL REFERENCES run (run_id),\n"
    "  rumor_id INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL\n"
    "    CHECK (kind = 'heartbeat' OR kind = 'metadata'),\n"
    "  origin INTEGER NOT NULL,\n"
    "  created_us INTEGER NOT NULL,\n"
    "  engine_id TEXT NOT NULL,\n"
    "  incarnation INTEGER,\n"
    "  sequence INTEGER,\n"
    "  infected INTEGER NOT NULL DEFAULT 0,\n"
    "  copies INTEGER NOT NULL DEFAULT 0,\n"
    "  duplicates INTEGER NOT NULL DEFAULT 0,\n"
    "  messages INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY (run_id, rumor_id)\n"
    ") WITHOUT ROWID;\n",
    "CREATE TABLE IF NOT EXISTS infection (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  rumor_id INTEGER NOT NULL,\n"
    "  node_id INTEGER NOT NULL,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  hops INTEGER,\n"
    "  from_node INTEGER,\n"
    "  via TEXT NOT NULL\n"
    "    CHECK (via = 'origin' OR via = 'rumor' OR via = 'swap'),\n"
    "  PRIMARY KEY (run_id, rumor_id, t_us, node_id)\n"
    ") WITHOUT ROWID;\n",
    "CREATE TABLE IF NOT EXISTS traffic (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  node_id INTEGER NOT NULL,\n"
    "  type TEXT NOT NULL,\n"
    "  outcome TEXT NOT NULL,\n"
    "  packets INTEGER NOT NULL,\n"
    "  bytes INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, node_id, type, outcome)\n"
    ") WITHOUT ROWID;\n",
    "CREATE TABLE IF NOT EXISTS rejection (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  node_id INTEGER NOT NULL,\n"
    "  reason TEXT NOT NULL,\n"
    "  packets INTEGER NOT NULL,\n"
    "  bytes INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, node_id, reason)\n"
    ") WITHOUT ROWID;\n",
    "CREATE TABLE IF NOT EXISTS membership (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  sample INTEGER NOT NULL,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  live INTEGER NOT NULL,\n"
    "  complete INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, sample)\n"
    ") WITHOUT ROWID;\n",
    "CREATE TABLE IF NOT EXISTS metadata_version (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  node_id INTEGER NOT NULL,\n"
    "  counter INTEGER NOT NULL,\n"
    "  origin INTEGER,\n"
    "  origin_addr TEXT NOT NULL,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  via TEXT NOT NULL\n"
    "    CHECK (via = 'publish' OR via = 'metadata' OR\n"
    "           via = 'swap_request' OR via = 'swap_response'),\n"
    "  bytes INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, node_id, counter, origin_addr)\n"
    ") WITHOUT ROWID;\n",
    "CREATE INDEX IF NOT EXISTS metadata_version_by_version\n"
    "  ON metadata_version (run_id, counter, origin_addr, t_us);\n",
    "CREATE TABLE IF NOT EXISTS timeline (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  seq INTEGER NOT NULL,\n"
    "  t_us INTEGER NOT NULL,\n"
    "  event TEXT NOT NULL,\n"
    "  detail TEXT,\n"
    "  PRIMARY KEY (run_id, seq)\n"
    ") WITHOUT ROWID;\n",
    NODE_STATE_DDL,
    MEMBERSHIP_CHANGE_DDL,
    NODE_DOWN_VIEW_DDL,
    FLEET_RECEIPT_DDL,
    FLEET_MEMBERS_DDL,
    CLOCK_OFFSET_DDL,
    CLOCK_CORRECTION_DDL,
    /* tX is the time by which X% of the run's nodes first held the rumor:
     * the k-th earliest infection, k = ceil(X * nodes / 100) in integer
     * arithmetic (no math extension needed), NULL when fewer than k nodes
     * ever held it. Ties are numbered by node_id; they share their t_us.
     *
     * Shaped for SQLite's planner: only window functions, no GROUP BY
     * between the view and the infection table, so a filter on run_id or
     * rumor_id reaches the table's key (each window is partitioned by
     * both) and a query about one run never reads the others. Only the
     * rows at the ranks wanted are kept before the second window, which
     * then sorts a handful of rows per rumor instead of every row. */
    "CREATE VIEW IF NOT EXISTS rumor_summary AS\n"
    "SELECT r.run_id, r.rumor_id, r.kind, r.origin, r.created_us,\n"
    "       h.nodes, r.infected,\n"
    "       1.0 * r.infected / h.nodes AS coverage,\n"
    "       h.t50_us, h.t90_us, h.t99_us, h.t100_us,\n"
    "       r.messages,\n"
    "       1.0 * r.messages / h.nodes AS messages_per_node,\n"
    "       r.copies, r.duplicates,\n"
    "       CASE WHEN r.infected > 1\n"
    "            THEN 1.0 * r.messages / (r.infected - 1) END AS redundancy\n"
    "FROM rumor r JOIN (\n"
    "  SELECT run_id, rumor_id, nodes, nth,\n"
    "         max(CASE WHEN nth = k50 THEN t_us END) OVER p AS t50_us,\n"
    "         max(CASE WHEN nth = k90 THEN t_us END) OVER p AS t90_us,\n"
    "         max(CASE WHEN nth = k99 THEN t_us END) OVER p AS t99_us,\n"
    "         max(CASE WHEN nth = nodes THEN t_us END) OVER p AS t100_us\n"
    "  FROM (\n"
    "    SELECT * FROM (\n"
    "      SELECT i.run_id, i.rumor_id, i.t_us, u.nodes,\n"
    "             max(1, (50 * u.nodes + 99) / 100) AS k50,\n"
    "             max(1, (90 * u.nodes + 99) / 100) AS k90,\n"
    "             max(1, (99 * u.nodes + 99) / 100) AS k99,\n"
    "             row_number() OVER (PARTITION BY i.run_id, i.rumor_id\n"
    "                                ORDER BY i.t_us, i.node_id) AS nth\n"
    "      FROM infection i JOIN run u ON u.run_id = i.run_id\n"
    "    )\n"
    "    WHERE nth = 1 OR nth = k50 OR nth = k90 OR nth = k99\n"
    "       OR nth = nodes\n"
    "  )\n"
    "  WINDOW p AS (PARTITION BY run_id, rumor_id)\n"
    ") h ON h.run_id = r.run_id AND h.rumor_id = r.rumor_id AND h.nth = 1;\n",
    "CREATE VIEW IF NOT EXISTS traffic_summary AS\n"
    "SELECT t.run_id, t.type, t.outcome,\n"
    "       sum(t.packets) AS packets, sum(t.bytes) AS bytes,\n"
    "       1.0 * sum(t.packets) / r.nodes AS packets_per_node\n"
    "FROM traffic t JOIN run r ON r.run_id = t.run_id\n"
    "GROUP BY t.run_id, t.type, t.outcome;\n",
    "CREATE VIEW IF NOT EXISTS metadata_summary AS\n"
    "SELECT m.run_id, m.counter, m.origin, m.origin_addr,\n"
    "       count(*) AS nodes_reached, r.nodes,\n"
    "       min(m.t_us) AS first_us, max(m.t_us) AS last_us,\n"
    "       CASE WHEN count(*) = r.nodes\n"
    "            THEN max(m.t_us) - min(m.t_us) END AS all_us,\n"
    "       sum(m.via = 'metadata') AS by_rumor,\n"
    "       sum(m.via IN ('swap_request', 'swap_response')) AS by_swap\n"
    "FROM metadata_version m JOIN run r ON r.run_id = m.run_id\n"
    "GROUP BY m.run_id, m.counter, m.origin_addr;\n",
    /* A run still 'running' is one whose writer is at work or died: both
     * are incomplete to a reader. */
    "CREATE VIEW IF NOT EXISTS run_summary AS\n"
    "SELECT run_id, scenario, seed, version, source, nodes, status,\n"
    "       status = 'complete' AS is_complete,\n"
    "       started_at, finished_at, sim_time_us, wall_s, events,\n"
    "       deliveries, trace_hash,\n"
    "       (SELECT count(*) FROM rumor r\n"
    "         WHERE r.run_id = run.run_id) AS rumors,\n"
    "       (SELECT min(m.t_us) FROM membership m\n"
    "         WHERE m.run_id = run.run_id AND m.live > 0\n"
    "           AND m.complete = m.live) AS first_converged_us\n"
    "FROM run;\n",
    NULL,
};

const char *const *ana_schema_ddl(void)
{
    return schema_ddl;
}

gboolean ana_schema_check(sqlite3 *db, int *version_out, GError **error)
{
    sqlite3_int64 app_id, version, objects;
    /* The first read of the header: a file that is not SQLite fails here,
     * before anything could be written to it. */
    if (!ana__db_query_int(db, "PRAGMA application_id",
                           "reading the database header", &app_id, error) ||
        !ana__db_query_int(db, "PRAGMA user_version",
                           "reading the schema version", &version, error) ||
        !ana__db_query_int(db, "SELECT count(*) FROM sqlite_schema",
                           "listing the schema", &objects, error))
        return FALSE;

    if (app_id == 0 && version == 0 && objects == 0) {
        *version_out = 0;
        return TRUE;
    }
    if (app_id != ANA_APPLICATION_ID) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_NOT_PEKO,
                    "not a peko database (application_id %#llx, %lld "
                    "schema objects); refusing to touch it",
                    (unsigned long long)app_id, (long long)objects);
        return FALSE;
    }
    if (version > ANA_SCHEMA_VERSION) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_SCHEMA,
                    "schema version %lld is newer than this build's (%d)",
                    (long long)version, ANA_SCHEMA_VERSION);
        return FALSE;
    }
    if (version < 1) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_SCHEMA,
                    "a peko database without a schema version");
        return FALSE;
    }
    *version_out = (int)version;
    return TRUE;
}

/* Each step takes a database of version i + 1 to i + 2; steps only add
 * (columns, views), so older readers of the same file keep working. */
static const char *const schema_migrations[ANA_SCHEMA_VERSION - 1] = {
    /* 1 -> 2: the sweep a run belongs to. */
    "ALTER TABLE run ADD COLUMN sweep_id TEXT;\n"
    "ALTER TABLE run ADD COLUMN sweep_point TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE run ADD COLUMN repetition INTEGER;\n",
    /* 2 -> 3: the failure detector's rows. Older runs keep ground_truth
     * NULL: nothing was recorded of them, not "no removal". */
    "ALTER TABLE run ADD COLUMN ground_truth INTEGER;\n" NODE_STATE_DDL
        MEMBERSHIP_CHANGE_DDL NODE_DOWN_VIEW_DDL,
    /* 3 -> 4: fleet recording. Older runs keep run_label and wall_t0_us
     * NULL and have no fleet rows, so `merge --fleet` refuses them. */
    "ALTER TABLE run ADD COLUMN run_label TEXT;\n"
    "ALTER TABLE run ADD COLUMN wall_t0_us INTEGER;\n" FLEET_DDL,
};

/* Brings a database of schema `version` (1 .. ANA_SCHEMA_VERSION - 1) up
 * to date, inside the caller's transaction. */
static gboolean migrate(sqlite3 *db, int version, GError **error)
{
    for (int v = version; v < ANA_SCHEMA_VERSION; v++)
        if (!ana__db_exec(db, schema_migrations[v - 1],
                          "upgrading the schema", error))
            return FALSE;
    char *pragma = g_strdup_printf("PRAGMA user_version = %d;",
                                   ANA_SCHEMA_VERSION);
    gboolean ok = ana__db_exec(db, pragma, "setting the schema version",
                               error);
    g_free(pragma);
    return ok;
}

gboolean ana_schema_ensure(sqlite3 *db, GError **error)
{
    int version;
    if (!ana_schema_check(db, &version, error))
        return FALSE;
    if (version == ANA_SCHEMA_VERSION) {
        /* Nothing to do for the usual case of a sweep's second run; no
         * write lock taken. */
        return TRUE;
    }
    if (!ana__db_exec(db, "BEGIN IMMEDIATE", "locking to create the schema",
                      error))
        return FALSE;
    /* Again under the lock: another writer may have created it since. */
    if (!ana_schema_check(db, &version, error))
        goto fail;
    if (version == 0) {
        char *pragmas = g_strdup_printf("PRAGMA application_id = %d;\n"
                                        "PRAGMA user_version = %d;\n",
                                        ANA_APPLICATION_ID,
                                        ANA_SCHEMA_VERSION);
        gboolean ok = TRUE;
        for (size_t i = 0; ok && schema_ddl[i]; i++)
            ok = ana__db_exec(db, schema_ddl[i], "creating the schema",
                              error);
        ok = ok &&
             ana__db_exec(db, pragmas, "setting the schema version", error);
        g_free(pragmas);
        if (!ok)
            goto fail;
    } else if (!migrate(db, version, error)) {
        goto fail;
    }
    if (!ana__db_exec(db, "COMMIT", "committing the schema", error))
        goto fail;
    return TRUE;

fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return FALSE;
}

void ana_db_remove(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        char *p = g_strconcat(path, suffixes[i], NULL);
        g_unlink(p);
        g_free(p);
    }
}
