/* fleet-rows.c: the rows a recording keeps for the fleet merge
 * (recorder.h, info.fleet; docs/fleet.md).
 *
 * A node on real sockets does not know the other nodes of its
 * deployment by index, so these rows name rumors and peers by address and
 * engine id, and carry the node's own real-time clock. ana_fleet_merge()
 * (fleet.h) joins them across nodes and puts them on one clock. Every
 * call here does O(1) work in memory; rows are written with the batch.
 */
#include "recorder-private.h"

#include <inttypes.h>
#include <stdio.h>

#include "db.h"

static const char sql_receipt[] =
    "INSERT INTO fleet_receipt (run_id, node_id, seq, wall_us, kind,"
    " origin_addr, engine_id, hops, via, from_addr)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char sql_members[] =
    "INSERT INTO fleet_members (run_id, node_id, seq, wall_us, members)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char sql_offset[] =
    "INSERT INTO clock_offset (run_id, node_id, seq, wall_us, source,"
    " peer_addr, offset_us, error_us)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

static int64_t wall_now(const ana_recorder *rec)
{
    return rec->wall_us(rec->wall_user);
}

/* Whether rows of this run are kept at all. */
static bool fleet_open(ana_recorder *rec)
{
    return rec->fleet && !ana__rows_closed(rec);
}

static bool heartbeat_kept(const ana_recorder *rec, uint64_t engine_id)
{
    uint32_t seq = (uint32_t)engine_id;
    return seq >= 1 && (seq - 1) % rec->fleet_hb_every == 0;
}

static void push_receipt(ana_node_ctx *ctx, uint8_t kind,
                         const peko_addr *origin, uint64_t engine_id,
                         int32_t hops, const peko_addr *from, ana__via via)
{
    ana_recorder *rec = ctx->rec;
    if (!fleet_open(rec))
        return;
    if (kind == PEKO_MSG_HEARTBEAT) {
        if (!heartbeat_kept(rec, engine_id))
            return;
    } else if (kind != PEKO_MSG_METADATA) {
        return;
    }
    ana__receipt_row row = {
        .wall_us = wall_now(rec),
        .engine_id = engine_id,
        .origin = *origin,
        .node = ctx->index,
        .hops = hops,
        .kind = kind,
        .via = (uint8_t)via,
    };
    if (from)
        row.from = *from;
    g_array_append_val(rec->receipt_rows, row);
    ana__row_buffered(rec);
}

void ana__fleet_receipt(ana_node_ctx *ctx, const peko_rumor *rumor,
                        int32_t hops, const peko_addr *from, ana__via via)
{
    push_receipt(ctx, (uint8_t)rumor->kind, &rumor->origin, rumor->id, hops,
                 from, via);
}

void ana__fleet_metadata_swap(ana_node_ctx *ctx, const peko_version *version,
                              const peko_addr *from)
{
    push_receipt(ctx, PEKO_MSG_METADATA, &version->origin, version->counter,
                 -1, from, ANA__VIA_SWAP);
}

void ana__fleet_members(ana_node_ctx *ctx)
{
    ana_recorder *rec = ctx->rec;
    if (!fleet_open(rec))
        return;
    ana__members_row row = {
        .wall_us = wall_now(rec),
        .members = ctx->peers_added - ctx->peers_expired,
        .node = ctx->index,
    };
    g_array_append_val(rec->members_rows, row);
    ana__row_buffered(rec);
}

static void push_offset(ana_recorder *rec, uint32_t node, bool kernel,
                        const peko_addr *peer, int64_t offset_us,
                        int64_t error_us)
{
    if (!fleet_open(rec))
        return;
    ana__offset_row row = {
        .wall_us = wall_now(rec),
        .offset_us = offset_us,
        .error_us = error_us,
        .node = node,
        .kernel = kernel,
    };
    if (peer)
        row.peer = *peer;
    g_array_append_val(rec->offset_rows, row);
    ana__row_buffered(rec);
}

void ana__fleet_on_clock_offset(void *user, const peko_addr *peer,
                                int64_t offset_us, int64_t error_us)
{
    ana_node_ctx *ctx = user;
    push_offset(ctx->rec, ctx->index, false, peer, offset_us, error_us);
}

void ana_recorder_clock_estimate(ana_recorder *rec, size_t node,
                                 const char *source, const peko_addr *peer,
                                 int64_t offset_us, int64_t error_us)
{
    g_return_if_fail(rec != NULL && node < rec->n_nodes && source != NULL);
    g_return_if_fail(g_strcmp0(source, "kernel") == 0 ||
                     g_strcmp0(source, "swap") == 0);
    push_offset(rec, (uint32_t)node, g_strcmp0(source, "kernel") == 0, peer,
                offset_us, error_us);
}

void ana__fleet_init(ana_recorder *rec, const ana_run_info *info)
{
    rec->fleet = info->fleet;
    rec->fleet_hb_every =
        info->fleet_heartbeat_every > 1 ? info->fleet_heartbeat_every : 1;
    rec->wall_us = info->wall_us;
    rec->wall_user = info->wall_user;
    rec->receipt_rows = g_array_new(FALSE, FALSE, sizeof(ana__receipt_row));
    rec->members_rows = g_array_new(FALSE, FALSE, sizeof(ana__members_row));
    rec->offset_rows = g_array_new(FALSE, FALSE, sizeof(ana__offset_row));
}

void ana__fleet_clear(ana_recorder *rec)
{
    g_array_free(rec->receipt_rows, TRUE);
    g_array_free(rec->members_rows, TRUE);
    g_array_free(rec->offset_rows, TRUE);
}

gboolean ana__fleet_prepare(ana_recorder *rec, GError **error)
{
    return ana__db_prepare(rec->db, sql_receipt, &rec->st_receipt, error) &&
           ana__db_prepare(rec->db, sql_members, &rec->st_members, error) &&
           ana__db_prepare(rec->db, sql_offset, &rec->st_offset, error);
}

void ana__fleet_finalize(ana_recorder *rec)
{
    sqlite3_finalize(rec->st_receipt);
    sqlite3_finalize(rec->st_members);
    sqlite3_finalize(rec->st_offset);
    rec->st_receipt = rec->st_members = rec->st_offset = NULL;
}

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

static void bind_addr_or_null(sqlite3_stmt *st, int i, const peko_addr *a)
{
    if (a->family == 0) {
        sqlite3_bind_null(st, i);
        return;
    }
    char text[PEKO_ADDR_STRLEN];
    peko_addr_format(a, text);
    sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT);
}

gboolean ana__fleet_write(ana_recorder *rec, GError **error)
{
    sqlite3_stmt *st = rec->st_receipt;
    for (guint k = 0; k < rec->receipt_rows->len; k++) {
        const ana__receipt_row *row =
            &g_array_index(rec->receipt_rows, ana__receipt_row, k);
        char engine_id[17];
        snprintf(engine_id, sizeof engine_id, "%016" PRIx64, row->engine_id);
        sqlite3_bind_int64(st, 1, rec->run_id);
        sqlite3_bind_int64(st, 2, row->node);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(rec->receipt_seq + k));
        sqlite3_bind_int64(st, 4, row->wall_us);
        sqlite3_bind_text(st, 5, peko_msg_type_name(row->kind), -1,
                          SQLITE_STATIC);
        bind_addr_or_null(st, 6, &row->origin);
        sqlite3_bind_text(st, 7, engine_id, -1, SQLITE_TRANSIENT);
        if (row->hops < 0)
            sqlite3_bind_null(st, 8);
        else
            sqlite3_bind_int64(st, 8, row->hops);
        sqlite3_bind_text(st, 9, ana__via_names[row->via], -1, SQLITE_STATIC);
        bind_addr_or_null(st, 10, &row->from);
        if (!step(rec, st, "writing a fleet receipt", error))
            return FALSE;
    }
    st = rec->st_members;
    for (guint k = 0; k < rec->members_rows->len; k++) {
        const ana__members_row *row =
            &g_array_index(rec->members_rows, ana__members_row, k);
        sqlite3_bind_int64(st, 1, rec->run_id);
        sqlite3_bind_int64(st, 2, row->node);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(rec->members_seq + k));
        sqlite3_bind_int64(st, 4, row->wall_us);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)row->members);
        if (!step(rec, st, "writing a member count", error))
            return FALSE;
    }
    st = rec->st_offset;
    for (guint k = 0; k < rec->offset_rows->len; k++) {
        const ana__offset_row *row =
            &g_array_index(rec->offset_rows, ana__offset_row, k);
        sqlite3_bind_int64(st, 1, rec->run_id);
        sqlite3_bind_int64(st, 2, row->node);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(rec->offset_seq + k));
        sqlite3_bind_int64(st, 4, row->wall_us);
        sqlite3_bind_text(st, 5, row->kernel ? "kernel" : "swap", -1,
                          SQLITE_STATIC);
        bind_addr_or_null(st, 6, &row->peer);
        sqlite3_bind_int64(st, 7, row->offset_us);
        sqlite3_bind_int64(st, 8, row->error_us);
        if (!step(rec, st, "writing a clock offset", error))
            return FALSE;
    }
    return TRUE;
}

void ana__fleet_drop(ana_recorder *rec)
{
    rec->receipt_seq += rec->receipt_rows->len;
    rec->members_seq += rec->members_rows->len;
    rec->offset_seq += rec->offset_rows->len;
    g_array_set_size(rec->receipt_rows, 0);
    g_array_set_size(rec->members_rows, 0);
    g_array_set_size(rec->offset_rows, 0);
}
