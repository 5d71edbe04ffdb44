/* fleet.c: combining a fleet's recordings into one run (fleet.h).
 *
 * fleet-load.c reads the inputs, fleet-clock.c chooses the common clock;
 * here every time is moved onto it and staged for join.c, the core this
 * shares with the testbed's combine: receipts as rumors (made where their
 * origin created them) and infections, member counts as membership
 * samples on a grid, and the nodes' versions and counters. The core joins
 * them and writes the run in one transaction; this file adds the run row
 * and the clock corrections.
 */
#include "fleet-private.h"

#include <string.h>

#include "db.h"
#include "join-private.h"
#include "recorder-private.h"

#define FLEET_DEFAULT_STEP_US 100000
#define FLEET_MAX_SAMPLES 100000

void ana_fleet_options_init(ana_fleet_options *opts)
{
    *opts = (ana_fleet_options){.clocks = ANA_FLEET_CLOCKS_MEASURED};
}

static void input_free(gpointer p)
{
    ana__fl_input *in = p;
    g_free(in->path);
    g_free(in->label);
    g_free(in->status);
    g_free(in->started_at);
    g_free(in->finished_at);
    g_free(in->engine_json);
    g_free(in);
}

static void fleet_init(ana__fleet *fl, const ana_fleet_options *opts)
{
    *fl = (ana__fleet){0};
    if (opts)
        fl->opts = *opts;
    else
        ana_fleet_options_init(&fl->opts);
    fl->label = g_strdup(fl->opts.run_label);
    fl->inputs = g_ptr_array_new_with_free_func(input_free);
    fl->nodes = g_array_new(FALSE, FALSE, sizeof(ana__fl_node));
    fl->node_by_addr = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);
    fl->rumors = g_array_new(FALSE, FALSE, sizeof(ana__fl_rumor));
    fl->rumor_by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);
    fl->receipts = g_array_new(FALSE, FALSE, sizeof(ana__fl_receipt));
    fl->members = g_array_new(FALSE, FALSE, sizeof(ana__fl_members));
    fl->offsets = g_array_new(FALSE, FALSE, sizeof(ana__fl_offset));
    fl->versions = g_array_new(FALSE, FALSE, sizeof(ana__fl_version));
    fl->counters = g_array_new(FALSE, FALSE, sizeof(ana__fl_counter));
}

static void fleet_clear(ana__fleet *fl)
{
    g_free(fl->label);
    g_ptr_array_free(fl->inputs, TRUE);
    for (guint i = 0; i < fl->nodes->len; i++)
        g_free(g_array_index(fl->nodes, ana__fl_node, i).name);
    g_array_free(fl->nodes, TRUE);
    g_hash_table_destroy(fl->node_by_addr);
    for (guint i = 0; i < fl->rumors->len; i++) {
        ana__fl_rumor *r = &g_array_index(fl->rumors, ana__fl_rumor, i);
        g_free(r->kind);
        g_free(r->engine_id);
    }
    g_array_free(fl->rumors, TRUE);
    g_hash_table_destroy(fl->rumor_by_key);
    g_array_free(fl->receipts, TRUE);
    g_array_free(fl->members, TRUE);
    g_array_free(fl->offsets, TRUE);
    for (guint i = 0; i < fl->versions->len; i++) {
        ana__fl_version *v = &g_array_index(fl->versions, ana__fl_version, i);
        g_free(v->origin_addr);
        g_free(v->via);
    }
    g_array_free(fl->versions, TRUE);
    for (guint i = 0; i < fl->counters->len; i++) {
        ana__fl_counter *c = &g_array_index(fl->counters, ana__fl_counter, i);
        g_free(c->type);
        g_free(c->outcome);
    }
    g_array_free(fl->counters, TRUE);
}

/* ------------------------------------------------------------------ */
/* Time.                                                                */

/* An input's offset: that of its first node (an input is one process, on
 * one clock; its nodes' measured offsets differ only by their errors). */
static uint32_t input_node(const ana__fleet *fl, size_t input)
{
    for (guint i = 0; i < fl->nodes->len; i++)
        if (g_array_index(fl->nodes, ana__fl_node, i).input == input)
            return i;
    return 0;
}

typedef struct span {
    int64_t start, end;       /* on the common clock */
} span;

/* Every input's run on the common clock; refuses inputs that do not all
 * overlap (a run that ended before another started). */
static span *input_spans(const ana__fleet *fl, int64_t *t0, int64_t *t_end,
                         GError **error)
{
    size_t n = fl->inputs->len;
    span *s = g_new(span, n);
    size_t latest = 0, earliest = 0;
    for (size_t i = 0; i < n; i++) {
        const ana__fl_input *in = g_ptr_array_index(fl->inputs, i);
        uint32_t node = input_node(fl, i);
        s[i].start = ana__fleet_common(fl, node, in->wall_t0_us);
        s[i].end = ana__fleet_common(fl, node,
                                     MAX(in->wall_end_us, in->wall_t0_us));
        if (s[i].start > s[latest].start)
            latest = i;
        if (s[i].end < s[earliest].end)
            earliest = i;
    }
    if (s[latest].start > s[earliest].end) {
        const ana__fl_input *a = g_ptr_array_index(fl->inputs, earliest);
        const ana__fl_input *b = g_ptr_array_index(fl->inputs, latest);
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "%s's run ended %.1f s before %s's started: these are"
                    " not one deployment's runs (the runs of a fleet must"
                    " overlap in time)",
                    a->path, (double)(s[latest].start - s[earliest].end) / 1e6,
                    b->path);
        g_free(s);
        return NULL;
    }
    *t0 = s[0].start;
    *t_end = s[0].end;
    for (size_t i = 1; i < n; i++) {
        *t0 = MIN(*t0, s[i].start);
        *t_end = MAX(*t_end, s[i].end);
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* Staging (join-private.h's tables; one source, src 0).               */

typedef struct fleet_totals {
    int64_t span_us;
    bool complete;
    const char *started_at, *finished_at;
    int64_t deliveries;
    double latency_us;        /* mean half round trip of the swaps */
} fleet_totals;

typedef struct fleet_stage {
    ana__fleet *fl;
    int64_t t0;               /* run time 0 on the reference clock */
    const fleet_totals *tot;
    const span *spans;
    ana_fleet_result *res;
} fleet_stage;

static gboolean step_done(sqlite3 *db, sqlite3_stmt *st, const char *what,
                          GError **error)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, what);
    return TRUE;
}

static gboolean stage_nodes(sqlite3 *db, const ana__fleet *fl, GError **error)
{
    sqlite3_stmt *st = NULL;
    gboolean ok = ana__db_prepare(db,
                                  "INSERT INTO c_node (src, node_id, addr,"
                                  " name, heartbeat_sampled, peers_added,"
                                  " peers_refreshed, peers_expired) VALUES"
                                  " (0, ?1, ?2, ?3, 1, ?4, ?5, ?6)",
                                  &st, error);
    for (guint i = 0; ok && i < fl->nodes->len; i++) {
        const ana__fl_node *n = &g_array_index(fl->nodes, ana__fl_node, i);
        sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_text(st, 2, n->addr_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, n->name, -1, SQLITE_STATIC);
        const int64_t totals[] = {n->peers_added, n->peers_refreshed,
                                  n->peers_expired};
        for (int k = 0; k < 3; k++) {
            if (totals[k] < 0)
                sqlite3_bind_null(st, 4 + k);
            else
                sqlite3_bind_int64(st, 4 + k, totals[k]);
        }
        ok = step_done(db, st, "staging a node", error);
    }
    sqlite3_finalize(st);
    return ok;
}

/* The order of equal creation times: (kind, origin, engine id); each
 * rumor is staged with its rank in it as its rumor_id. */
static gint rumor_rank_cmp(gconstpointer a, gconstpointer b, gpointer user)
{
    const ana__fleet *fl = user;
    const ana__fl_rumor *x =
        &g_array_index(fl->rumors, ana__fl_rumor, *(const guint *)a);
    const ana__fl_rumor *y =
        &g_array_index(fl->rumors, ana__fl_rumor, *(const guint *)b);
    int c = strcmp(x->kind, y->kind);
    if (c == 0)
        c = x->origin < y->origin ? -1 : x->origin > y->origin;
    if (c == 0)
        c = strcmp(x->engine_id, y->engine_id);
    return c;
}

/* Rumors and receipts. A rumor is made (for the core) at its origin's
 * own receipt, or, when the origin recorded none of it, at its first
 * receipt; every receipt is an infection at its time on the common
 * clock. */
static gboolean stage_rumors(sqlite3 *db, const ana__fleet *fl, int64_t t0,
                             GError **error)
{
    guint n = fl->rumors->len;
    GArray *order = g_array_sized_new(FALSE, FALSE, sizeof(guint), n);
    guint *rank = g_new(guint, n ? n : 1);
    int64_t *made = g_new(int64_t, n ? n : 1);
    int64_t *first = g_new(int64_t, n ? n : 1);
    for (guint k = 0; k < n; k++) {
        g_array_append_val(order, k);
        made[k] = first[k] = INT64_MAX;
    }
    g_array_sort_with_data(order, rumor_rank_cmp, (gpointer)fl);
    for (guint k = 0; k < n; k++)
        rank[g_array_index(order, guint, k)] = k + 1;
    for (guint k = 0; k < fl->receipts->len; k++) {
        const ana__fl_receipt *r =
            &g_array_index(fl->receipts, ana__fl_receipt, k);
        const ana__fl_rumor *rumor =
            &g_array_index(fl->rumors, ana__fl_rumor, r->rumor);
        int64_t t = ana__fleet_common(fl, r->node, r->wall_us) - t0;
        first[r->rumor] = MIN(first[r->rumor], t);
        if (r->node == rumor->origin && r->via == 0)
            made[r->rumor] = MIN(made[r->rumor], t);
    }
    sqlite3_stmt *sr = NULL, *si = NULL;
    gboolean ok =
        ana__db_prepare(db,
                        "INSERT INTO c_rumor (src, rumor_id, kind, origin,"
                        " created_us, made, engine_id, incarnation,"
                        " sequence, copies, duplicates, messages) VALUES"
                        " (0, ?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, 0, 0, 0)",
                        &sr, error) &&
        ana__db_prepare(db,
                        "INSERT INTO c_inf (src, rumor_id, node_id, abs_us,"
                        " hops, from_node, via) VALUES (0, ?1, ?2, ?3, ?4,"
                        " ?5, ?6)",
                        &si, error);
    for (guint k = 0; ok && k < n; k++) {
        const ana__fl_rumor *r = &g_array_index(fl->rumors, ana__fl_rumor, k);
        guint64 id = g_ascii_strtoull(r->engine_id, NULL, 16);
        sqlite3_bind_int64(sr, 1, rank[k]);
        sqlite3_bind_text(sr, 2, r->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sr, 3, r->origin);
        sqlite3_bind_int64(sr, 4, made[k] != INT64_MAX ? made[k] : first[k]);
        sqlite3_bind_text(sr, 5, r->engine_id, -1, SQLITE_STATIC);
        if (strcmp(r->kind, "heartbeat") == 0) {
            sqlite3_bind_int64(sr, 6, (sqlite3_int64)(id >> 32));
            sqlite3_bind_int64(sr, 7, (sqlite3_int64)(id & 0xffffffffu));
        } else {
            sqlite3_bind_null(sr, 6);
            sqlite3_bind_int64(sr, 7, (sqlite3_int64)id);
        }
        ok = step_done(db, sr, "staging a rumor", error);
    }
    for (guint k = 0; ok && k < fl->receipts->len; k++) {
        const ana__fl_receipt *q =
            &g_array_index(fl->receipts, ana__fl_receipt, k);
        sqlite3_bind_int64(si, 1, rank[q->rumor]);
        sqlite3_bind_int64(si, 2, q->node);
        sqlite3_bind_int64(si, 3,
                           ana__fleet_common(fl, q->node, q->wall_us) - t0);
        if (q->via == 0)
            sqlite3_bind_int64(si, 4, 0);
        else if (q->hops < 0 || q->via == 2)
            sqlite3_bind_null(si, 4);
        else
            sqlite3_bind_int64(si, 4, q->hops);
        if (q->from < 0 || q->via == 0)
            sqlite3_bind_null(si, 5);
        else
            sqlite3_bind_int64(si, 5, q->from);
        sqlite3_bind_text(si, 6, ana__via_names[q->via], -1, SQLITE_STATIC);
        ok = step_done(db, si, "staging a receipt", error);
    }
    sqlite3_finalize(sr);
    sqlite3_finalize(si);
    g_array_free(order, TRUE);
    g_free(rank);
    g_free(made);
    g_free(first);
    return ok;
}

/* Metadata versions and counters, per node as recorded. */
static gboolean stage_rows(sqlite3 *db, const ana__fleet *fl, int64_t t0,
                           GError **error)
{
    sqlite3_stmt *sv = NULL, *st = NULL, *sj = NULL;
    gboolean ok =
        ana__db_prepare(db,
                        "INSERT INTO c_meta (src, node_id, counter, origin,"
                        " origin_addr, t_us, via, bytes) VALUES (?1, ?2, ?3,"
                        " ?4, ?5, ?6, ?7, ?8)",
                        &sv, error) &&
        ana__db_prepare(db,
                        "INSERT INTO c_traffic (node_id, type, outcome,"
                        " packets, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
                        &st, error) &&
        ana__db_prepare(db,
                        "INSERT INTO c_rej (node_id, reason, packets, bytes)"
                        " VALUES (?1, ?2, ?3, ?4)",
                        &sj, error);
    for (guint k = 0; ok && k < fl->versions->len; k++) {
        const ana__fl_version *v =
            &g_array_index(fl->versions, ana__fl_version, k);
        gpointer origin = v->origin_addr ? g_hash_table_lookup(
                                               fl->node_by_addr,
                                               v->origin_addr)
                                         : NULL;
        sqlite3_bind_int64(sv, 1,
                           (sqlite3_int64)g_array_index(fl->nodes,
                                                        ana__fl_node,
                                                        v->node).input);
        sqlite3_bind_int64(sv, 2, v->node);
        sqlite3_bind_int64(sv, 3, v->counter);
        if (origin)
            sqlite3_bind_int64(sv, 4, GPOINTER_TO_UINT(origin) - 1);
        else
            sqlite3_bind_null(sv, 4);
        sqlite3_bind_text(sv, 5, v->origin_addr ? v->origin_addr : "", -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(sv, 6,
                           ana__fleet_common(fl, v->node, v->wall_us) - t0);
        sqlite3_bind_text(sv, 7, v->via, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sv, 8, v->bytes);
        ok = step_done(db, sv, "staging a metadata version", error);
    }
    for (guint k = 0; ok && k < fl->counters->len; k++) {
        const ana__fl_counter *c =
            &g_array_index(fl->counters, ana__fl_counter, k);
        sqlite3_stmt *s = c->outcome ? st : sj;
        int i = 1;
        sqlite3_bind_int64(s, i++, c->node);
        sqlite3_bind_text(s, i++, c->type, -1, SQLITE_STATIC);
        if (c->outcome)
            sqlite3_bind_text(s, i++, c->outcome, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, i++, c->packets);
        sqlite3_bind_int64(s, i++, c->bytes);
        ok = step_done(db, s, "staging a counter", error);
    }
    sqlite3_finalize(sv);
    sqlite3_finalize(st);
    sqlite3_finalize(sj);
    return ok;
}

static int members_cmp(gconstpointer a, gconstpointer b)
{
    const ana__fl_members *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->wall_us != y->wall_us)
        return x->wall_us < y->wall_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Samples on a grid: a node is live while its input's run covers the
 * time, complete while its last member count before it is the live
 * nodes less itself. */
static gboolean stage_membership(sqlite3 *db, ana__fleet *fl, int64_t t0,
                                 int64_t span_us, const span *spans,
                                 GError **error)
{
    size_t n = fl->nodes->len;
    for (guint k = 0; k < fl->members->len; k++) {
        ana__fl_members *m = &g_array_index(fl->members, ana__fl_members, k);
        m->wall_us = ana__fleet_common(fl, m->node, m->wall_us) - t0;
    }
    /* Equal times keep their recorded order (the sort is not stable, so
     * the order is part of the key). */
    g_array_sort(fl->members, members_cmp);
    size_t *next = g_new0(size_t, n), *end = g_new0(size_t, n);
    int64_t *count = g_new0(int64_t, n);
    for (size_t k = 0; k < fl->members->len; k++) {
        uint32_t node = g_array_index(fl->members, ana__fl_members, k).node;
        if (end[node] == 0)
            next[node] = k;
        end[node] = k + 1;
    }
    int64_t step = fl->opts.membership_step_us > 0
                       ? fl->opts.membership_step_us
                       : FLEET_DEFAULT_STEP_US;
    if (span_us / step >= FLEET_MAX_SAMPLES)
        step = span_us / (FLEET_MAX_SAMPLES - 1) + 1;
    sqlite3_stmt *st = NULL;
    gboolean ok = ana__db_prepare(db,
                                  "INSERT INTO c_memb (src, sample, t_us,"
                                  " live, complete) VALUES (0, ?1, ?2, ?3,"
                                  " ?4)",
                                  &st, error);
    bool *is_live = g_new0(bool, n);
    int64_t sample = 0;
    for (int64_t t = 0; ok && t <= span_us; t += step) {
        size_t live = 0, complete = 0;
        for (size_t i = 0; i < n; i++) {
            while (next[i] < end[i]) {
                const ana__fl_members *m =
                    &g_array_index(fl->members, ana__fl_members, next[i]);
                if (m->node != i || m->wall_us > t)
                    break;
                count[i] = m->members;
                next[i]++;
            }
            const span *s =
                &spans[g_array_index(fl->nodes, ana__fl_node, i).input];
            is_live[i] = t + t0 >= s->start && t + t0 <= s->end;
            live += is_live[i];
        }
        /* As the simulator's "holds exactly the live nodes", by count: a
         * node's list holds only nodes it heard from, which were live. */
        for (size_t i = 0; i < n; i++)
            complete += is_live[i] && count[i] == (int64_t)live - 1;
        sqlite3_bind_int64(st, 1, sample++);
        sqlite3_bind_int64(st, 2, t);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)live);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)complete);
        ok = step_done(db, st, "staging a membership sample", error);
    }
    sqlite3_finalize(st);
    g_free(is_live);
    g_free(next);
    g_free(end);
    g_free(count);
    return ok;
}

/* The join's stage: every row of the fleet, in one savepoint (thousands
 * of temp rows would otherwise be a transaction each). */
static gboolean stage(sqlite3 *db, void *user, GError **error)
{
    fleet_stage *fs = user;
    gboolean ok =
        ana__db_exec(db, "SAVEPOINT fleet_stage", "staging", error) &&
        stage_nodes(db, fs->fl, error) &&
        stage_rumors(db, fs->fl, fs->t0, error) &&
        stage_rows(db, fs->fl, fs->t0, error) &&
        stage_membership(db, fs->fl, fs->t0, fs->tot->span_us, fs->spans,
                         error);
    if (!ok) {
        sqlite3_exec(db, "ROLLBACK TO fleet_stage", NULL, NULL, NULL);
        sqlite3_exec(db, "RELEASE fleet_stage", NULL, NULL, NULL);
        return FALSE;
    }
    return ana__db_exec(db, "RELEASE fleet_stage", "staging", error);
}

/* ------------------------------------------------------------------ */
/* The run row and the clock corrections.                              */

static gboolean check_not_merged(sqlite3 *db, const ana__fleet *fl,
                                 int64_t t0_wall, GError **error)
{
    sqlite3_stmt *st = NULL;
    if (!ana__db_prepare(db,
                         "SELECT run_id FROM run WHERE source = 'fleet' AND"
                         " run_label = ?1 AND wall_t0_us = ?2",
                         &st, error))
        return FALSE;
    sqlite3_bind_text(st, 1, fl->label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, t0_wall);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "holds this fleet's run already (run %" G_GINT64_FORMAT
                    ", label '%s'): merging it again would count the"
                    " deployment twice",
                    id, fl->label);
        return FALSE;
    }
    if (rc != SQLITE_DONE)
        return ana__db_error(error, db, rc, "looking for the fleet's run");
    return TRUE;
}

static gboolean write_run(sqlite3 *db, void *user, const ana__join_stats *js,
                          int64_t *run_id, GError **error)
{
    const fleet_stage *fs = user;
    const ana__fleet *fl = fs->fl;
    const fleet_totals *tot = fs->tot;
    const ana_fleet_result *res = fs->res;
    if (!check_not_merged(db, fl, fs->t0, error))
        return FALSE;
    const ana__fl_input *first = g_ptr_array_index(fl->inputs, 0);
    const ana__fl_node *ref =
        &g_array_index(fl->nodes, ana__fl_node, fl->reference);
    sqlite3_stmt *st = NULL;
    if (!ana__db_prepare(
            db,
            "INSERT INTO run (scenario, params, seed, version, source,"
            " status, nodes, heartbeat_origins, heartbeat_every,"
            " started_at, finished_at, sim_time_us, wall_s, events,"
            " deliveries, sweep_point, ground_truth, run_label, wall_t0_us)"
            " VALUES (?1, json_object('engine', json(coalesce(?2, '{}')),"
            " 'fleet', json_object('label', ?1, 'inputs', ?3, 'clocks', ?4,"
            " 'reference', ?5, 'max_offset_us', ?6, 'max_error_us', ?7,"
            " 'early_receipts', ?8, 'heartbeat_every', ?9),"
            " 'network', json_object('latency_us', json_object('expected',"
            " ?19), 'latency_from', 'swap half round trips')), 0, ?10,"
            " 'fleet', ?11, ?12, ?12, ?9, ?13, ?14, ?15, ?16, 0, ?17, '',"
            " 0, ?1, ?18)",
            &st, error))
        return FALSE;
    sqlite3_bind_text(st, 1, fl->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, first->engine_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, fl->inputs->len);
    sqlite3_bind_text(st, 4,
                      fl->opts.clocks == ANA_FLEET_CLOCKS_COMMON ? "common"
                                                                 : "measured",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ref->addr_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, res->max_offset_us);
    sqlite3_bind_int64(st, 7, res->max_error_us);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)js->early);
    sqlite3_bind_int64(st, 9, fl->hb_every);
    sqlite3_bind_text(st, 10, PEKO_VERSION_STRING, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, tot->complete ? "complete" : "incomplete", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, fl->nodes->len);
    sqlite3_bind_text(st, 13, tot->started_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, tot->finished_at, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 15, tot->span_us);
    sqlite3_bind_double(st, 16, (double)tot->span_us / 1e6);
    sqlite3_bind_int64(st, 17, tot->deliveries);
    sqlite3_bind_int64(st, 18, fs->t0);
    if (fl->offsets->len > 0)
        sqlite3_bind_double(st, 19, tot->latency_us);
    gboolean ok = step_done(db, st, "writing the fleet's run", error);
    sqlite3_finalize(st);
    if (ok)
        *run_id = sqlite3_last_insert_rowid(db);
    return ok;
}

/* What the fleet adds to the joined run: each node's clock correction,
 * and the publish's packet counts. */
static gboolean finish(sqlite3 *db, void *user, const ana__join_stats *js,
                       GError **error)
{
    const ana__fleet *fl = ((const fleet_stage *)user)->fl;
    sqlite3_stmt *cc = NULL;
    gboolean ok = ana__db_prepare(db,
                                  "INSERT INTO clock_correction (run_id,"
                                  " node_id, reference, offset_us,"
                                  " error_us, path_hops) VALUES (?1, ?2,"
                                  " ?3, ?4, ?5, ?6)",
                                  &cc, error);
    for (guint i = 0; ok && i < fl->nodes->len; i++) {
        const ana__fl_node *n = &g_array_index(fl->nodes, ana__fl_node, i);
        sqlite3_bind_int64(cc, 1, js->run_id);
        sqlite3_bind_int64(cc, 2, i);
        sqlite3_bind_int64(cc, 3, (sqlite3_int64)fl->reference);
        sqlite3_bind_int64(cc, 4, n->offset_us);
        sqlite3_bind_int64(cc, 5, n->error_us);
        sqlite3_bind_int64(cc, 6, n->path_hops);
        ok = step_done(db, cc, "writing a clock correction", error);
    }
    sqlite3_finalize(cc);
    /* Per-rumor packet counts are not recorded by the nodes (only their
     * traffic by type); a lone metadata rumor, the usual publish, owns
     * every metadata packet, so its counts are exact. */
    sqlite3_stmt *st = NULL;
    ok = ok &&
         ana__db_prepare(
             db,
             "UPDATE rumor SET"
             " messages = (SELECT coalesce(sum(packets), 0) FROM traffic t"
             "  WHERE t.run_id = ?1 AND type = 'metadata' AND outcome ="
             "  'sent'),"
             " copies = (SELECT coalesce(sum(packets), 0) FROM traffic t"
             "  WHERE t.run_id = ?1 AND type = 'metadata' AND outcome ="
             "  'received'),"
             " duplicates = (SELECT coalesce(sum(packets), 0) FROM traffic t"
             "  WHERE t.run_id = ?1 AND type = 'metadata' AND outcome ="
             "  'duplicate')"
             " WHERE run_id = ?1 AND kind = 'metadata' AND (SELECT count(*)"
             "  FROM rumor r WHERE r.run_id = ?1 AND r.kind = 'metadata') = 1",
             &st, error);
    if (ok) {
        sqlite3_bind_int64(st, 1, js->run_id);
        ok = step_done(db, st, "counting the publish's packets", error);
    }
    sqlite3_finalize(st);
    return ok;
}

gboolean ana_fleet_merge(const char *out_path, const char *const *inputs,
                         size_t n_inputs, const ana_fleet_options *opts,
                         ana_fleet_result *result, GError **error)
{
    g_return_val_if_fail(out_path != NULL, FALSE);
    g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
    if (n_inputs == 0) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "a fleet merge needs at least one recording");
        return FALSE;
    }

    ana__fleet fl;
    fleet_init(&fl, opts);
    ana_fleet_result res = {0};
    span *spans = NULL;
    gboolean ok = ana__fleet_load(&fl, inputs, n_inputs, error) &&
                  ana__fleet_clock(&fl, error);
    int64_t t0 = 0, t_end = 0;
    if (ok)
        ok = (spans = input_spans(&fl, &t0, &t_end, error)) != NULL;
    if (!ok)
        goto out;

    fleet_totals tot = {.span_us = t_end - t0, .complete = true};
    fl.hb_every = 1;
    for (guint i = 0; i < fl.inputs->len; i++) {
        const ana__fl_input *in = g_ptr_array_index(fl.inputs, i);
        tot.complete = tot.complete && g_strcmp0(in->status, "complete") == 0;
        if (!tot.started_at || g_strcmp0(in->started_at, tot.started_at) < 0)
            tot.started_at = in->started_at;
        if (in->finished_at &&
            (!tot.finished_at || g_strcmp0(in->finished_at,
                                           tot.finished_at) > 0))
            tot.finished_at = in->finished_at;
        tot.deliveries += in->deliveries;
        fl.hb_every = MAX(fl.hb_every, in->hb_every);
    }
    /* The network's one-way delay as the nodes measured it: the mean
     * half round trip of their swaps (rounds50 and the theory read it,
     * as a scenario's expected latency). */
    for (guint k = 0; k < fl.offsets->len; k++)
        tot.latency_us += (double)g_array_index(fl.offsets, ana__fl_offset,
                                                k).error_us;
    if (fl.offsets->len > 0)
        tot.latency_us /= fl.offsets->len;
    res.nodes = fl.nodes->len;
    res.reference = fl.reference;
    for (guint i = 0; i < fl.nodes->len; i++) {
        const ana__fl_node *n = &g_array_index(fl.nodes, ana__fl_node, i);
        res.max_offset_us = MAX(res.max_offset_us, ABS(n->offset_us));
        res.max_error_us = MAX(res.max_error_us, n->error_us);
    }
    fleet_stage fs = {.fl = &fl, .t0 = t0, .tot = &tot, .spans = spans,
                      .res = &res};
    /* One source for the core: the fleet's rows are staged as one, so
     * every grid sample is kept; a receipt the clock error puts before
     * its creation is stored at 0. */
    const ana__join_spec spec = {
        .clamp_early = true,
        .membership_sources = 1,
        .stage = stage,
        .write_run = write_run,
        .finish = finish,
    };
    ana__join_stats js;
    ok = ana__join(out_path, inputs, n_inputs, &spec, &fs, &js, error);
    if (ok) {
        res.run_id = js.run_id;
        res.rumors = js.rumors;
        res.infections = js.infections;
        res.early_receipts = js.early;
    } else if (error && *error &&
               !g_str_has_prefix((*error)->message, out_path)) {
        g_prefix_error(error, "%s: ", out_path);
    }

out:
    g_free(spans);
    fleet_clear(&fl);
    if (ok && result)
        *result = res;
    return ok;
}
