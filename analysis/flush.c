/* flush.c: writes the recorder's buffered rows and counters, one
 * transaction per batch (recorder-private.h).
 *
 * Everything is written in a fixed order: nodes by id, rumors by
 * rumor_id, buffered rows in the order the callbacks made them, counters
 * by (node, type, outcome) and (node, reason). So the same run writes the
 * same rows in the same order, whatever the machine.
 */
#include "recorder-private.h"

#include <inttypes.h>
#include <stdio.h>

#include "db.h"

static const char sql_node[] =
    "INSERT INTO node (run_id, node_id, addr, name, heartbeat_sampled)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_node_totals[] =
    "UPDATE node SET peers_added = ?3, peers_refreshed = ?4,"
    " peers_expired = ?5 WHERE run_id = ?1 AND node_id = ?2";
/* Rumor rows are written with the batch that holds their first
 * infections, then rewritten as their counters grow. */
static const char sql_rumor[] =
    "INSERT INTO rumor (run_id, rumor_id, kind, origin, created_us,"
    " engine_id, incarnation, sequence, infected, copies, duplicates,"
    " messages) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    " ON CONFLICT (run_id, rumor_id) DO UPDATE SET"
    " infected = excluded.infected, copies = excluded.copies,"
    " duplicates = excluded.duplicates, messages = excluded.messages";
static const char sql_infection[] =
    "INSERT INTO infection (run_id, rumor_id, node_id, t_us, hops,"
    " from_node, via) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/* A node that restarts may apply a version it held before: the first
 * time it held it is the one kept. */
static const char sql_metadata[] =
    "INSERT OR IGNORE INTO metadata_version (run_id, node_id, counter,"
    " origin, origin_addr, t_us, via, bytes)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char sql_membership[] =
    "INSERT INTO membership (run_id, sample, t_us, live, complete)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_timeline[] =
    "INSERT INTO timeline (run_id, seq, t_us, event, detail)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_state[] =
    "INSERT INTO node_state (run_id, seq, t_us, node_id, state)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_change[] =
    "INSERT INTO membership_change (run_id, seq, t_us, node_id, peer,"
    " change) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* Counters are running totals: each write replaces the last. */
static const char sql_traffic[] =
    "INSERT INTO traffic (run_id, node_id, type, outcome, packets, bytes)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT (run_id, node_id, type, outcome) DO UPDATE SET"
    " packets = excluded.packets, bytes = excluded.bytes";
static const char sql_rejection[] =
    "INSERT INTO rejection (run_id, node_id, reason, packets, bytes)"
    " VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (run_id, node_id, reason) DO UPDATE SET"
    " packets = excluded.packets, bytes = excluded.bytes";
static const char sql_run_end[] =
    "UPDATE run SET status = ?2, finished_at = ?3, trace_hash = ?4,"
    " sim_time_us = ?5, wall_s = ?6, events = ?7, deliveries = ?8,"
    " error = ?9 WHERE run_id = ?1";

const char *const ana__via_names[3] = {
    [ANA__VIA_ORIGIN] = "origin",
    [ANA__VIA_RUMOR] = "rumor",
    [ANA__VIA_SWAP] = "swap",
};

static const char *const change_names[] = {
    [ANA__CHANGE_LISTED] = "listed",
    [ANA__CHANGE_EXPIRED] = "expired",
    [ANA__CHANGE_ADDED] = "added",
};

gboolean ana__flush_prepare(ana_recorder *rec, GError **error)
{
    return ana__db_prepare(rec->db, sql_node, &rec->st_node, error) &&
           ana__db_prepare(rec->db, sql_node_totals, &rec->st_node_totals,
                           error) &&
           ana__db_prepare(rec->db, sql_rumor, &rec->st_rumor, error) &&
           ana__db_prepare(rec->db, sql_infection, &rec->st_infection,
                           error) &&
           ana__db_prepare(rec->db, sql_metadata, &rec->st_metadata,
                           error) &&
           ana__db_prepare(rec->db, sql_membership, &rec->st_membership,
                           error) &&
           ana__db_prepare(rec->db, sql_timeline, &rec->st_timeline,
                           error) &&
           ana__db_prepare(rec->db, sql_state, &rec->st_state, error) &&
           ana__db_prepare(rec->db, sql_change, &rec->st_change, error) &&
           ana__db_prepare(rec->db, sql_traffic, &rec->st_traffic, error) &&
           ana__db_prepare(rec->db, sql_rejection, &rec->st_rejection,
                           error) &&
           ana__db_prepare(rec->db, sql_run_end, &rec->st_run_end, error) &&
           ana__fleet_prepare(rec, error);
}

void ana__flush_finalize(ana_recorder *rec)
{
    sqlite3_stmt **all[] = {
        &rec->st_node,       &rec->st_node_totals, &rec->st_rumor,
        &rec->st_infection,  &rec->st_metadata,    &rec->st_membership,
        &rec->st_timeline,   &rec->st_state,       &rec->st_change,
        &rec->st_traffic,    &rec->st_rejection,   &rec->st_run_end,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++) {
        sqlite3_finalize(*all[i]);
        *all[i] = NULL;
    }
    ana__fleet_finalize(rec);
}

/* ------------------------------------------------------------------ */
/* One statement execution.                                             */

/* Steps a bound statement that returns no row, and resets it for the
 * next use (bindings are all rebound each time). */
static gboolean step(ana_recorder *rec, sqlite3_stmt *stmt, const char *what,
                     GError **error)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, rec->db, rc, what);
    rec->stats.rows_written++;
    return TRUE;
}

static void bind_u64(sqlite3_stmt *stmt, int i, uint64_t v)
{
    /* SQLite integers are signed 64-bit; no counter gets near 2^63. */
    sqlite3_bind_int64(stmt, i, (sqlite3_int64)v);
}

static void bind_node_or_null(sqlite3_stmt *stmt, int i, int32_t node)
{
    if (node < 0)
        sqlite3_bind_null(stmt, i);
    else
        sqlite3_bind_int64(stmt, i, node);
}

/* ------------------------------------------------------------------ */
/* Each kind of row.                                                    */

static gboolean write_nodes(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_node;
    for (size_t i = 0; i < rec->n_nodes && rec->nodes_unwritten > 0; i++) {
        ana__node_info *node = &rec->nodes[i];
        if (!node->registered || node->written)
            continue;
        char addr[PEKO_ADDR_STRLEN];
        peko_addr_format(&node->addr, addr);
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, i);
        sqlite3_bind_text(st, 3, addr, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, node->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, node->sampled);
        if (!step(rec, st, "writing a node", error))
            return FALSE;
        node->written = true;
        rec->nodes_unwritten--;
    }
    return TRUE;
}

static gboolean write_rumors(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_rumor;
    for (size_t k = 0; k < rec->rumors.n; k++) {
        ana__rumor *r = &rec->rumors.items[k];
        if (!r->dirty)
            continue;
        char engine_id[17];
        snprintf(engine_id, sizeof engine_id, "%016" PRIx64, r->engine_id);
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, k + 1);
        sqlite3_bind_text(st, 3, peko_msg_type_name(r->kind), -1,
                          SQLITE_STATIC);
        bind_u64(st, 4, r->origin_node);
        sqlite3_bind_int64(st, 5, r->created_us);
        sqlite3_bind_text(st, 6, engine_id, -1, SQLITE_TRANSIENT);
        if (r->kind == PEKO_MSG_HEARTBEAT) {
            /* A heartbeat's id is incarnation << 32 | sequence. */
            bind_u64(st, 7, r->engine_id >> 32);
            bind_u64(st, 8, r->engine_id & 0xffffffffu);
        } else {
            sqlite3_bind_null(st, 7);
            bind_u64(st, 8, r->engine_id);
        }
        bind_u64(st, 9, r->infected);
        bind_u64(st, 10, r->copies);
        bind_u64(st, 11, r->duplicates);
        bind_u64(st, 12, r->messages);
        if (!step(rec, st, "writing a rumor", error))
            return FALSE;
        r->dirty = false;
        r->written = true;
    }
    return TRUE;
}

static gboolean write_infections(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_infection;
    for (size_t k = 0; k < rec->n_infections; k++) {
        const ana__infection_row *row = &rec->infections[k];
        sqlite3_bind_int64(st, 1, rec->run_id);
        sqlite3_bind_int64(st, 2, row->rumor_id);
        sqlite3_bind_int64(st, 3, row->node);
        sqlite3_bind_int64(st, 4, row->t_us);
        bind_node_or_null(st, 5, row->hops);
        bind_node_or_null(st, 6, row->from_node);
        sqlite3_bind_text(st, 7, ana__via_names[row->via], -1, SQLITE_STATIC);
        if (!step(rec, st, "writing an infection", error))
            return FALSE;
    }
    return TRUE;
}

static const char *metadata_via_name(uint8_t via)
{
    return via == 0 ? "publish" : peko_msg_type_name((peko_msg_type)via);
}

static gboolean write_metadata(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_metadata;
    for (guint k = 0; k < rec->metadata_rows->len; k++) {
        const ana__metadata_row *row =
            &g_array_index(rec->metadata_rows, ana__metadata_row, k);
        char origin[PEKO_ADDR_STRLEN];
        peko_addr_format(&row->origin, origin);
        sqlite3_bind_int64(st, 1, rec->run_id);
        sqlite3_bind_int64(st, 2, row->node);
        bind_u64(st, 3, row->counter);
        bind_node_or_null(st, 4, row->origin_node);
        sqlite3_bind_text(st, 5, origin, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, row->t_us);
        sqlite3_bind_text(st, 7, metadata_via_name(row->via), -1,
                          SQLITE_STATIC);
        bind_u64(st, 8, row->n_bytes);
        if (!step(rec, st, "writing a metadata version", error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_membership(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_membership;
    for (guint k = 0; k < rec->membership_rows->len; k++) {
        const ana__membership_row *row =
            &g_array_index(rec->membership_rows, ana__membership_row, k);
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, rec->membership_seq + k);
        sqlite3_bind_int64(st, 3, row->t_us);
        bind_u64(st, 4, row->live);
        bind_u64(st, 5, row->complete);
        if (!step(rec, st, "writing a membership sample", error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_timeline(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_timeline;
    for (guint k = 0; k < rec->timeline_rows->len; k++) {
        const ana__timeline_row *row =
            &g_array_index(rec->timeline_rows, ana__timeline_row, k);
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, rec->timeline_seq + k);
        sqlite3_bind_int64(st, 3, row->t_us);
        sqlite3_bind_text(st, 4, row->event, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, row->detail, -1, SQLITE_STATIC);
        if (!step(rec, st, "writing a timeline event", error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_states(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_state;
    for (guint k = 0; k < rec->state_rows->len; k++) {
        const ana__state_row *row =
            &g_array_index(rec->state_rows, ana__state_row, k);
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, row->seq);
        sqlite3_bind_int64(st, 3, row->t_us);
        sqlite3_bind_int64(st, 4, row->node);
        sqlite3_bind_text(st, 5,
                          ana_node_state_name((ana_node_state)row->state),
                          -1, SQLITE_STATIC);
        if (!step(rec, st, "writing a node state", error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_changes(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_change;
    for (guint k = 0; k < rec->change_rows->len; k++) {
        const ana__change_row *row =
            &g_array_index(rec->change_rows, ana__change_row, k);
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, row->seq);
        sqlite3_bind_int64(st, 3, row->t_us);
        sqlite3_bind_int64(st, 4, row->node);
        sqlite3_bind_int64(st, 5, row->peer);
        sqlite3_bind_text(st, 6, change_names[row->change], -1,
                          SQLITE_STATIC);
        if (!step(rec, st, "writing a membership change", error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_counters(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_traffic;
    for (size_t i = 0; i < rec->n_nodes; i++) {
        for (unsigned t = 0; t < ANA__TYPES; t++) {
            for (unsigned o = 0; o < ANA_OUTCOME_COUNT; o++) {
                const ana__counter *c =
                    ana__counter_of(&rec->ctx[i], t, (ana_outcome)o);
                if (c->packets == 0 && c->bytes == 0)
                    continue;
                sqlite3_bind_int64(st, 1, rec->run_id);
                bind_u64(st, 2, i);
                sqlite3_bind_text(st, 3, peko_msg_type_name(t), -1,
                                  SQLITE_STATIC);
                sqlite3_bind_text(st, 4, ana_outcome_name((ana_outcome)o),
                                  -1, SQLITE_STATIC);
                bind_u64(st, 5, c->packets);
                bind_u64(st, 6, c->bytes);
                if (!step(rec, st, "writing traffic counters", error))
                    return FALSE;
            }
        }
    }
    st = rec->st_rejection;
    for (size_t i = 0; i < rec->n_nodes; i++) {
        for (unsigned r = 0; r < PEKO_REJECT_COUNT; r++) {
            const ana__counter *c = &rec->ctx[i].rejects[r];
            if (c->packets == 0)
                continue;
            sqlite3_bind_int64(st, 1, rec->run_id);
            bind_u64(st, 2, i);
            sqlite3_bind_text(st, 3, peko_reject_name((peko_reject)r), -1,
                              SQLITE_STATIC);
            bind_u64(st, 4, c->packets);
            bind_u64(st, 5, c->bytes);
            if (!step(rec, st, "writing rejection counters", error))
                return FALSE;
        }
    }
    st = rec->st_node_totals;
    for (size_t i = 0; i < rec->n_nodes; i++) {
        const ana_node_ctx *ctx = &rec->ctx[i];
        if (!rec->nodes[i].registered)
            continue;
        sqlite3_bind_int64(st, 1, rec->run_id);
        bind_u64(st, 2, i);
        bind_u64(st, 3, ctx->peers_added);
        bind_u64(st, 4, ctx->peers_refreshed);
        bind_u64(st, 5, ctx->peers_expired);
        if (!step(rec, st, "writing node totals", error))
            return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Transactions.                                                        */

typedef struct run_end {
    ana_status status;
    const char *trace_hash;
    int64_t sim_time_us;
    double wall_s;
    uint64_t events;
    uint64_t deliveries;
    const char *error;        /* why rows were lost, or NULL */
} run_end;

static gboolean write_run_end(ana_recorder *rec, const run_end *end,
                              GError **error)
{
    sqlite3_stmt *st = rec->st_run_end;
    GDateTime *now = g_date_time_new_now_utc();
    char *finished = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(now);
    sqlite3_bind_int64(st, 1, rec->run_id);
    sqlite3_bind_text(st, 2, ana_status_name(end->status), -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 3, finished, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, end->trace_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, end->sim_time_us);
    sqlite3_bind_double(st, 6, end->wall_s);
    bind_u64(st, 7, end->events);
    bind_u64(st, 8, end->deliveries);
    sqlite3_bind_text(st, 9, end->error, -1, SQLITE_STATIC);
    g_free(finished);
    return step(rec, st, "ending the run", error);
}

static void drop_buffered(ana_recorder *rec)
{
    rec->membership_seq += rec->membership_rows->len;
    rec->timeline_seq += rec->timeline_rows->len;
    rec->n_infections = 0;
    g_array_set_size(rec->metadata_rows, 0);
    g_array_set_size(rec->membership_rows, 0);
    g_array_set_size(rec->state_rows, 0);
    g_array_set_size(rec->change_rows, 0);
    for (guint k = 0; k < rec->timeline_rows->len; k++) {
        ana__timeline_row *row =
            &g_array_index(rec->timeline_rows, ana__timeline_row, k);
        g_free(row->event);
        g_free(row->detail);
    }
    g_array_set_size(rec->timeline_rows, 0);
    ana__fleet_drop(rec);
    rec->buffered = 0;
}

/* One transaction: the buffered rows, then (with `counters`) the
 * counters, then (with `end`) the run row's end. */
static gboolean write_batch(ana_recorder *rec, bool rows, bool counters,
                            const run_end *end, GError **error)
{
    int64_t start_us = g_get_monotonic_time();
    uint64_t written_before = rec->stats.rows_written;
    GError *local = NULL;
    gboolean ok =
        ana__db_exec(rec->db, "BEGIN IMMEDIATE", "starting a write",
                     &local) &&
        (!rows ||
         (write_nodes(rec, &local) && write_rumors(rec, &local) &&
          write_infections(rec, &local) && write_metadata(rec, &local) &&
          write_membership(rec, &local) && write_timeline(rec, &local) &&
          write_states(rec, &local) && write_changes(rec, &local) &&
          ana__fleet_write(rec, &local))) &&
        (!counters || write_counters(rec, &local)) &&
        (!end || write_run_end(rec, end, &local)) &&
        ana__db_exec(rec->db, "COMMIT", "committing a write", &local);
    if (!ok && !sqlite3_get_autocommit(rec->db))
        sqlite3_exec(rec->db, "ROLLBACK", NULL, NULL, NULL);
    rec->stats.flushes++;
    rec->stats.flush_us += g_get_monotonic_time() - start_us;
    if (!ok) {
        rec->stats.rows_written = written_before; /* rolled back */
        if (rows) {
            /* Whatever the batch held is lost; so is what follows, until
             * the end (see ana__rows_closed). */
            rec->stats.rows_dropped += rec->buffered;
        }
        if (rec->failed == NULL)
            rec->failed = g_error_copy(local);
        g_propagate_error(error, local);
    }
    if (rows)
        drop_buffered(rec);
    return ok;
}

gboolean ana__flush_write(ana_recorder *rec, bool counters, GError **error)
{
    if (rec->failed) {
        /* Rows are no longer buffered after a failure (the batch that
         * failed and everything after it is lost). */
        g_propagate_error(error, g_error_copy(rec->failed));
        return FALSE;
    }
    return write_batch(rec, true, counters, NULL, error);
}

gboolean ana__flush_end_run(ana_recorder *rec, ana_status status,
                            const char *trace_hash, int64_t sim_time_us,
                            double wall_s, uint64_t events,
                            uint64_t deliveries, GError **error)
{
    run_end end = {
        .status = status,
        .trace_hash = trace_hash,
        .sim_time_us = sim_time_us,
        .wall_s = wall_s,
        .events = events,
        .deliveries = deliveries,
    };
    if (rec->failed == NULL &&
        write_batch(rec, true, true, &end, NULL)) {
        sqlite3_wal_checkpoint_v2(rec->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                  NULL, NULL);
        return TRUE;
    }
    /* Rows were lost, now or before: the run cannot be complete. Say so
     * in the file, with the counters and the reason, if the file still
     * takes a write; the caller learns of the loss from rec->failed. */
    end.status = ANA_STATUS_INCOMPLETE;
    end.error = rec->failed->message;
    GError *local = NULL;
    if (!write_batch(rec, false, true, &end, &local)) {
        g_propagate_error(error, local);
        return FALSE;
    }
    return TRUE;
}
