/* recorder.c: a run's recorder, its life cycle and its hooks
 * (recorder.h). The engine callbacks are in observer.c, the writing in
 * flush.c. */
#include "recorder-private.h"

#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdio.h>

#include "db.h"

const char *ana_status_name(ana_status status)
{
    switch (status) {
    case ANA_STATUS_RUNNING:
        return "running";
    case ANA_STATUS_COMPLETE:
        return "complete";
    case ANA_STATUS_INCOMPLETE:
        return "incomplete";
    case ANA_STATUS_COUNT:
        break;
    }
    return "unknown";
}

const char *ana_outcome_name(ana_outcome outcome)
{
    static const char *const names[ANA_OUTCOME_COUNT] = {
        [ANA_OUTCOME_SENT] = "sent",
        [ANA_OUTCOME_DELIVERED] = "delivered",
        [ANA_OUTCOME_RECEIVED] = "received",
        [ANA_OUTCOME_DUPLICATE] = "duplicate",
        [ANA_OUTCOME_REJECTED] = "rejected",
        [ANA_OUTCOME_LOST] = "lost",
        [ANA_OUTCOME_PARTITIONED] = "partitioned",
        [ANA_OUTCOME_QUEUE_OVERFLOW] = "queue_overflow",
        [ANA_OUTCOME_OVERSIZE] = "oversize",
        [ANA_OUTCOME_NODE_DOWN] = "node_down",
        [ANA_OUTCOME_UNROUTABLE] = "unroutable",
        [ANA_OUTCOME_NET_DUPLICATE] = "net_duplicate",
        [ANA_OUTCOME_CAPTURED] = "captured",
    };
    if ((unsigned)outcome >= ANA_OUTCOME_COUNT)
        return "unknown";
    return names[outcome];
}

const char *ana_node_state_name(ana_node_state state)
{
    static const char *const names[ANA_NODE_STATE_COUNT] = {
        [ANA_NODE_ABSENT] = "absent",   [ANA_NODE_UP] = "up",
        [ANA_NODE_STOPPED] = "stopped", [ANA_NODE_PAUSED] = "paused",
        [ANA_NODE_CRASHED] = "crashed",
    };
    if ((unsigned)state >= ANA_NODE_STATE_COUNT)
        return "unknown";
    return names[state];
}

void ana_run_info_init(ana_run_info *info)
{
    *info = (ana_run_info){
        .heartbeat_origins = ANA_DEFAULT_HEARTBEAT_ORIGINS,
        .heartbeat_every = 1,
        .batch_rows = ANA_DEFAULT_BATCH_ROWS,
        .source = "sim",
        .repetition = -1,
    };
}

void ana_trace_hash_format(uint64_t hash, char buf[ANA_TRACE_HASH_STRLEN])
{
    snprintf(buf, ANA_TRACE_HASH_STRLEN, "%016" PRIx64, hash);
}

/* ------------------------------------------------------------------ */
/* Opening.                                                             */

static gboolean check_info(const ana_run_info *info, GError **error)
{
    if (info == NULL || info->now_us == NULL) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "a run needs a time source (info.now_us)");
        return FALSE;
    }
    /* Node ids are signed 32-bit in buffered rows (-1 is NULL); the
     * simulator's own bound is 2^24. */
    if (info->nodes == 0 || info->nodes > INT32_MAX) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "a run needs 1 to %d nodes, not %zu", INT32_MAX,
                    info->nodes);
        return FALSE;
    }
    if (info->fleet && info->wall_us == NULL) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "a fleet recording needs a real-time clock"
                    " (info.wall_us)");
        return FALSE;
    }
    return TRUE;
}

static gboolean check_params_json(sqlite3 *db, const char *json,
                                  GError **error)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, db, rc, "checking the run's parameters");
    sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    gboolean ok = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 1;
    if (rc != SQLITE_ROW)
        ana__db_error(error, db, rc, "checking the run's parameters");
    else if (!ok)
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "the run's parameters are not JSON: %.60s", json);
    sqlite3_finalize(stmt);
    return ok;
}


static char *now_utc_text(void)
{
    GDateTime *now = g_date_time_new_now_utc();
    char *text = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    g_date_time_unref(now);
    return text;
}

static gboolean insert_run(ana_recorder *rec, const ana_run_info *info,
                           GError **error)
{
    static const char sql[] =
        "INSERT INTO run (scenario, params, seed, version, source, status,"
        " nodes, heartbeat_origins, heartbeat_every, started_at,"
        " sweep_id, sweep_point, repetition, ground_truth, run_label,"
        " wall_t0_us)"
        " VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, ?10, ?11,"
        " ?12, ?13, ?14, ?15)";
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(rec->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return ana__db_error(error, rec->db, rc, "starting the run");
    char *started = info->started_at ? g_strdup(info->started_at)
                                     : now_utc_text();
    sqlite3_bind_text(stmt, 1, info->scenario ? info->scenario : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, info->params_json ? info->params_json : "{}",
                      -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)info->seed);
    sqlite3_bind_text(stmt, 4,
                      info->version ? info->version : PEKO_VERSION_STRING,
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, info->source ? info->source : "sim", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)rec->n_nodes);
    sqlite3_bind_int64(stmt, 7, (sqlite3_int64)rec->hb_origins);
    sqlite3_bind_int64(stmt, 8, rec->hb_every);
    sqlite3_bind_text(stmt, 9, started, -1, SQLITE_STATIC);
    if (info->sweep_id)
        sqlite3_bind_text(stmt, 10, info->sweep_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, info->sweep_point ? info->sweep_point : "",
                      -1, SQLITE_STATIC);
    if (info->repetition >= 0)
        sqlite3_bind_int64(stmt, 12, info->repetition);
    sqlite3_bind_int(stmt, 13, info->ground_truth ? 1 : 0);
    if (info->run_label)
        sqlite3_bind_text(stmt, 14, info->run_label, -1, SQLITE_STATIC);
    if (info->wall_us)
        sqlite3_bind_int64(stmt, 15, info->wall_us(info->wall_user));
    rc = sqlite3_step(stmt);
    gboolean ok = rc == SQLITE_DONE;
    if (ok)
        rec->run_id = sqlite3_last_insert_rowid(rec->db);
    else
        ana__db_error(error, rec->db, rc, "starting the run");
    sqlite3_finalize(stmt);
    g_free(started);
    return ok;
}

/* The caller's set, or K origins evenly spaced by index: node
 * floor(j * n / K) for j < K, so the sample covers the index range (and
 * with it, in the simulator, the address range and the join order) and
 * depends on nothing but n and K. */
static void choose_origins(ana_recorder *rec, const ana_run_info *info)
{
    size_t n = rec->n_nodes, k = info->heartbeat_origins;
    if (info->heartbeat_sampled) {
        rec->hb_origins = 0;
        for (size_t i = 0; i < n; i++) {
            rec->nodes[i].sampled = info->heartbeat_sampled[i];
            rec->hb_origins += info->heartbeat_sampled[i];
        }
        return;
    }
    if (k > n)
        k = n;
    rec->hb_origins = k;
    for (size_t j = 0; j < k; j++)
        rec->nodes[(uint64_t)j * n / k].sampled = true;
}

static ana_recorder *recorder_new(const char *path, const ana_run_info *info)
{
    ana_recorder *rec = g_new0(ana_recorder, 1);
    rec->path = g_strdup(path);
    rec->now_us = info->now_us;
    rec->now_user = info->now_user;
    rec->n_nodes = info->nodes;
    /* Aligned as its type asks (two lines per node's hot part). */
    rec->ctx = g_aligned_alloc0(rec->n_nodes ? rec->n_nodes : 1,
                                sizeof(ana_node_ctx),
                                _Alignof(ana_node_ctx));
    rec->nodes = g_new0(ana__node_info, rec->n_nodes);
    rec->traffic = g_new0(ana__counter,
                          rec->n_nodes * ANA__TYPES * ANA_OUTCOME_COUNT);
    rec->rejects = g_new0(ana__counter, rec->n_nodes * PEKO_REJECT_COUNT);
    for (size_t i = 0; i < rec->n_nodes; i++) {
        ana_node_ctx *ctx = &rec->ctx[i];
        ctx->rec = rec;
        ctx->index = (uint32_t)i;
        ctx->traffic = rec->traffic + i * ANA__TYPES * ANA_OUTCOME_COUNT;
        ctx->rejects = rec->rejects + i * PEKO_REJECT_COUNT;
    }
    ana__addrmap_init(&rec->addrs, rec->n_nodes);
    rec->hb_every = info->heartbeat_every > 1 ? info->heartbeat_every : 1;
    choose_origins(rec, info);
    ana__rumors_init(&rec->rumors, rec->n_nodes);
    rec->batch_rows = info->batch_rows ? info->batch_rows
                                       : ANA_DEFAULT_BATCH_ROWS;
    rec->infections = g_new(ana__infection_row, rec->batch_rows);
    rec->metadata_rows = g_array_new(FALSE, FALSE, sizeof(ana__metadata_row));
    rec->membership_rows =
        g_array_new(FALSE, FALSE, sizeof(ana__membership_row));
    rec->timeline_rows = g_array_new(FALSE, FALSE, sizeof(ana__timeline_row));
    rec->ground_truth = info->ground_truth;
    rec->node_state = g_new0(uint8_t, rec->n_nodes);
    rec->open_removals = g_hash_table_new_full(ana__pair_hash, g_int64_equal,
                                               g_free, NULL);
    rec->state_rows = g_array_new(FALSE, FALSE, sizeof(ana__state_row));
    rec->change_rows = g_array_new(FALSE, FALSE, sizeof(ana__change_row));
    ana__fleet_init(rec, info);
    return rec;
}

static void timeline_rows_clear(GArray *rows)
{
    for (guint i = 0; i < rows->len; i++) {
        ana__timeline_row *row = &g_array_index(rows, ana__timeline_row, i);
        g_free(row->event);
        g_free(row->detail);
    }
    g_array_set_size(rows, 0);
}

void ana_recorder_free(ana_recorder *rec)
{
    if (rec == NULL)
        return;
    ana__flush_finalize(rec);
    if (rec->db)
        sqlite3_close(rec->db);
    for (size_t i = 0; i < rec->n_nodes; i++)
        g_free(rec->nodes[i].name);
    g_free(rec->nodes);
    g_aligned_free(rec->ctx);
    g_free(rec->traffic);
    g_free(rec->rejects);
    ana__addrmap_clear(&rec->addrs);
    ana__rumors_clear(&rec->rumors);
    g_free(rec->infections);
    g_array_free(rec->metadata_rows, TRUE);
    g_array_free(rec->membership_rows, TRUE);
    timeline_rows_clear(rec->timeline_rows);
    g_array_free(rec->timeline_rows, TRUE);
    g_free(rec->node_state);
    g_free(rec->foreign);
    g_hash_table_destroy(rec->open_removals);
    g_array_free(rec->state_rows, TRUE);
    g_array_free(rec->change_rows, TRUE);
    ana__fleet_clear(rec);
    g_clear_error(&rec->failed);
    g_free(rec->path);
    g_free(rec);
}

/* Removes a file this open created and left empty, with its WAL and
 * shared-memory companions: a failed open leaves no trace. A file that
 * existed, or that somebody filled meanwhile, is never removed. */

static void prefix_error(GError **error, const char *path)
{
    if (error && *error)
        g_prefix_error(error, "recording to %s: ", path);
}

ana_recorder *ana_recorder_open(const char *path, const ana_run_info *info,
                                GError **error)
{
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    if (path == NULL || *path == '\0') {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "recording needs a database path");
        return NULL;
    }
    if (!check_info(info, error)) {
        prefix_error(error, path);
        return NULL;
    }

    bool in_memory = strcmp(path, ":memory:") == 0;
    bool existed = in_memory || g_file_test(path, G_FILE_TEST_EXISTS);
    ana_recorder *rec = recorder_new(path, info);
    /* No URI names, no shared cache: the path is a plain file name. One
     * thread drives the recorder, so SQLite's mutexes are not needed. */
    int rc = sqlite3_open_v2(path, &rec->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        ana__db_error(error, rec->db, rc, "opening");
        goto fail;
    }
    sqlite3_extended_result_codes(rec->db, 1);
    sqlite3_busy_timeout(rec->db, ANA__BUSY_TIMEOUT_MS);

    /* Identity first, read-only: another program's file is refused before
     * the journal mode (a header write) or anything else touches it; so
     * is a damaged one, before its run row is written. */
    int version;
    if (!ana_schema_check(rec->db, &version, error) ||
        (existed && !in_memory && version > 0 &&
         !ana__db_check_intact(rec->db, error)) ||
        !check_params_json(rec->db,
                           info->params_json ? info->params_json : "{}",
                           error) ||
        !ana__db_set_wal(rec->db, error) || !ana_schema_ensure(rec->db, error) ||
        !insert_run(rec, info, error) || !ana__flush_prepare(rec, error))
        goto fail;
    rec->t0_us = rec->now_us(rec->now_user);
    return rec;

fail:
    prefix_error(error, path);
    ana_recorder_free(rec);
    ana__db_remove_if_created(path, existed);
    return NULL;
}

int64_t ana_recorder_run_id(const ana_recorder *rec)
{
    return rec->run_id;
}

/* ------------------------------------------------------------------ */
/* Nodes.                                                               */

static void filter_add(ana_recorder *rec, const peko_addr *addr)
{
    uint64_t bit = ana__addr_hash(addr) >> (64 - ANA__FILTER_BITS);
    rec->origin_filter[bit >> 6] |= 1ULL << (bit & 63);
}

gboolean ana_recorder_add_node(ana_recorder *rec, size_t index,
                               const peko_addr *addr, const char *name,
                               GError **error)
{
    g_return_val_if_fail(rec != NULL && addr != NULL, FALSE);
    if (index >= rec->n_nodes) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "node %zu is out of range: the run has %zu nodes", index,
                    rec->n_nodes);
        return FALSE;
    }
    ana__node_info *node = &rec->nodes[index];
    if (node->registered) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "node %zu is registered already", index);
        return FALSE;
    }
    if (!ana__addrmap_insert(&rec->addrs, addr, (uint32_t)index)) {
        char text[PEKO_ADDR_STRLEN];
        peko_addr_format(addr, text);
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "node %zu: address %s belongs to another node", index,
                    text);
        return FALSE;
    }
    node->addr = *addr;
    node->name = g_strdup(name);
    node->registered = true;
    rec->nodes_unwritten++;
    if (node->sampled)
        filter_add(rec, addr);
    /* A fleet node's member count starts from none. */
    ana__fleet_members(&rec->ctx[index]);
    return TRUE;
}

ana_node_ctx *ana_recorder_node_ctx(ana_recorder *rec, size_t index)
{
    g_return_val_if_fail(rec != NULL && index < rec->n_nodes, NULL);
    return &rec->ctx[index];
}

uint64_t ana_recorder_list_changes(const ana_recorder *rec, size_t index)
{
    g_return_val_if_fail(rec != NULL && index < rec->n_nodes, 0);
    return rec->ctx[index].peers_added + rec->ctx[index].peers_expired;
}

/* ------------------------------------------------------------------ */
/* Hooks.                                                               */

void ana_recorder_traffic(ana_recorder *rec, size_t node, peko_msg_type type,
                          ana_outcome outcome, uint64_t packets,
                          uint64_t bytes)
{
    g_return_if_fail(rec != NULL && node < rec->n_nodes);
    g_return_if_fail((unsigned)outcome < ANA_OUTCOME_COUNT);
    /* The network reads the type byte of whatever was sent, valid or not:
     * anything that is not a message type is "unknown", not an error. */
    unsigned t = (unsigned)type < ANA__TYPES ? (unsigned)type : 0;
    ana__counter *c = ana__counter_of(&rec->ctx[node], t, outcome);
    c->packets += packets;
    c->bytes += bytes;
}

void ana_recorder_membership(ana_recorder *rec, int64_t t_us, size_t live,
                             size_t complete)
{
    g_return_if_fail(rec != NULL);
    if (ana__rows_closed(rec))
        return;
    ana__membership_row row = {
        .t_us = t_us - rec->t0_us,
        .live = live,
        .complete = complete,
    };
    g_array_append_val(rec->membership_rows, row);
    ana__row_buffered(rec);
}

void ana_recorder_timeline(ana_recorder *rec, int64_t t_us,
                           const char *event, const char *detail)
{
    g_return_if_fail(rec != NULL && event != NULL);
    if (ana__rows_closed(rec))
        return;
    ana__timeline_row row = {
        .t_us = t_us - rec->t0_us,
        .event = g_strdup(event),
        .detail = g_strdup(detail),
    };
    g_array_append_val(rec->timeline_rows, row);
    ana__row_buffered(rec);
}

/* ------------------------------------------------------------------ */
/* Ground truth.                                                        */

void ana__push_change(ana_recorder *rec, int64_t t_us, uint32_t node,
                      uint32_t peer, ana__change change)
{
    if (ana__rows_closed(rec))
        return;
    ana__change_row row = {
        .t_us = t_us,
        .seq = rec->change_seq++,
        .node = node,
        .peer = peer,
        .change = (uint8_t)change,
    };
    g_array_append_val(rec->change_rows, row);
    ana__row_buffered(rec);
}

guint ana__pair_hash(gconstpointer key)
{
    uint64_t h = *(const uint64_t *)key;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (guint)h;
}

static gboolean removal_of(gpointer key, gpointer value, gpointer node)
{
    return (uint32_t)(*(const uint64_t *)key >> 32) ==
           GPOINTER_TO_UINT(node);
}

void ana_recorder_node_state(ana_recorder *rec, size_t node, int64_t t_us,
                             ana_node_state state)
{
    g_return_if_fail(rec != NULL && node < rec->n_nodes);
    g_return_if_fail(state > ANA_NODE_ABSENT && state < ANA_NODE_STATE_COUNT);
    if (rec->finished || rec->node_state[node] == state)
        return;
    bool was = ana_node_state_silent(rec->node_state[node]);
    bool is = ana_node_state_silent(state);
    rec->n_silent += is && !was;
    rec->n_silent -= was && !is;
    rec->node_state[node] = (uint8_t)state;
    if (state == ANA_NODE_CRASHED && rec->ctx[node].open_removals > 0) {
        /* Its list is gone: what it removed before can no longer be
         * listed again by it. Only removed from the set, so the order
         * the table is walked in reaches nothing. */
        g_hash_table_foreach_remove(rec->open_removals, removal_of,
                                    GUINT_TO_POINTER((guint)node));
        rec->ctx[node].open_removals = 0;
    }
    if (ana__rows_closed(rec))
        return;
    ana__state_row row = {
        .t_us = t_us - rec->t0_us,
        .seq = rec->change_seq++,
        .node = (uint32_t)node,
        .state = (uint8_t)state,
    };
    g_array_append_val(rec->state_rows, row);
    ana__row_buffered(rec);
}

void ana_recorder_listed(ana_recorder *rec, size_t node, size_t peer,
                         int64_t t_us)
{
    g_return_if_fail(rec != NULL && node < rec->n_nodes &&
                     peer < rec->n_nodes);
    ana__push_change(rec, t_us - rec->t0_us, (uint32_t)node, (uint32_t)peer,
                     ANA__CHANGE_LISTED);
}

/* ------------------------------------------------------------------ */
/* Writing and ending.                                                  */

static gboolean report_failed(const ana_recorder *rec, GError **error)
{
    g_set_error(error, ANA_ERROR, rec->failed->code,
                "recording to %s: %s (%" G_GUINT64_FORMAT " rows lost)",
                rec->path, rec->failed->message, rec->stats.rows_dropped);
    return FALSE;
}

gboolean ana_recorder_flush(ana_recorder *rec, GError **error)
{
    g_return_val_if_fail(rec != NULL, FALSE);
    if (rec->finished) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "recording to %s: the run is finished", rec->path);
        return FALSE;
    }
    if (rec->failed)
        return report_failed(rec, error);
    if (!ana__flush_write(rec, true, error)) {
        prefix_error(error, rec->path);
        return FALSE;
    }
    return TRUE;
}

gboolean ana_recorder_finish(ana_recorder *rec, ana_status status,
                             const char *trace_hash, int64_t sim_time_us,
                             double wall_s, uint64_t events,
                             uint64_t deliveries, GError **error)
{
    g_return_val_if_fail(rec != NULL, FALSE);
    if (rec->finished) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "recording to %s: the run is finished already",
                    rec->path);
        return FALSE;
    }
    if (status != ANA_STATUS_COMPLETE && status != ANA_STATUS_INCOMPLETE) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "recording to %s: a run ends complete or incomplete, "
                    "not %s",
                    rec->path, ana_status_name(status));
        return FALSE;
    }
    gboolean ok = ana__flush_end_run(rec, status, trace_hash, sim_time_us,
                                     wall_s, events, deliveries, error);
    rec->finished = true;
    if (!ok) {
        prefix_error(error, rec->path);
        return FALSE;
    }
    if (rec->failed)
        return report_failed(rec, error);
    return TRUE;
}

void ana_recorder_stats_get(const ana_recorder *rec, ana_recorder_stats *out)
{
    *out = rec->stats;
    out->buffered = rec->buffered;
}

void ana_recorder_set_foreign(ana_recorder *rec, size_t node)
{
    g_return_if_fail(rec != NULL && node < rec->n_nodes);
    if (rec->foreign == NULL)
        rec->foreign = g_new0(bool, rec->n_nodes);
    rec->foreign[node] = true;
}
