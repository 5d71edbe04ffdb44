/* qos.c: the failure detector's quality of service (qos.h). */
#include "qos.h"

#include <math.h>
#include <string.h>

#include "stats.h"

#define US_PER_HOUR 3.6e9

/* A node that is silent now: the lists it must leave. */
typedef struct silence {
    bool active;
    int64_t start_us;
    int64_t gone_us;       /* since when no live node lists it; -1 */
    size_t live_holders;   /* holders that can remove it now */
    bool ever_held;
    uint64_t *held;        /* bit per node: lists it */
    /* Events at one instant happen together, in whatever order the world
     * applied them: a node restarting with this one among its seeds, at
     * the instant this one restarts too, lists it "before" it is back.
     * Such a listing must not undo the detection, nor count as a
     * listing of a silent node, so the last listing instant is kept. */
    int64_t relisted_us;   /* when live holders last went from 0 to 1 */
    int64_t gone_before_us; /* gone_us just before that; -1 */
    int64_t added_us;      /* the instant of the last silent listing */
    size_t added_then;     /* silent listings at that instant */
} silence;

typedef struct qos_pass {
    const ana_qos_input *in;
    ana_qos *out;
    size_t words;             /* uint64_t per bit set */
    uint8_t *state;           /* ana_node_state per node */
    int64_t *up_since_us;     /* when it last became up */
    int64_t *resumed_us;      /* when it last left PAUSED; INT64_MIN */
    silence *silences;        /* per node */
    GArray *active;           /* uint32_t: nodes with an active silence */
    GHashTable *pending;      /* wrong removal key -> its time (owned) */
    GArray *detections;       /* double */
    int64_t last_us;          /* exposure integrated up to here */
    size_t monitors, up;      /* nodes up or stopped; nodes up */
    double node_us, pair_us;
} qos_pass;

static bool can_remove(uint8_t state)
{
    return state == ANA_NODE_UP || state == ANA_NODE_STOPPED;
}

static uint64_t pair_key(uint32_t node, uint32_t peer)
{
    return (uint64_t)node << 32 | peer;
}

/* splitmix64's finalizer: g_int64_hash would fold node ^ peer. */
static guint pair_hash(gconstpointer key)
{
    uint64_t h = *(const uint64_t *)key;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (guint)h;
}

static bool bit_get(const uint64_t *set, uint32_t i)
{
    return (set[i / 64] >> (i % 64)) & 1;
}

static void bit_put(uint64_t *set, uint32_t i, bool on)
{
    if (on)
        set[i / 64] |= 1ULL << (i % 64);
    else
        set[i / 64] &= ~(1ULL << (i % 64));
}

/* ------------------------------------------------------------------ */
/* Holders of silent nodes.                                             */

static void holder_count(silence *s, int delta, int64_t t_us)
{
    if (delta > 0) {
        if (s->live_holders++ == 0) {
            s->relisted_us = t_us;
            s->gone_before_us = s->gone_us;
        }
        s->gone_us = -1;
    } else if (--s->live_holders == 0) {
        s->gone_us = t_us;
    }
}

/* `node` lists silent `peer` from now (a snapshot or an addition). */
static void hold(qos_pass *p, uint32_t node, uint32_t peer, int64_t t_us)
{
    silence *s = &p->silences[peer];
    if (bit_get(s->held, node))
        return;
    bit_put(s->held, node, true);
    s->ever_held = true;
    if (can_remove(p->state[node]))
        holder_count(s, +1, t_us);
}

static void release(qos_pass *p, uint32_t node, uint32_t peer, int64_t t_us)
{
    silence *s = &p->silences[peer];
    if (!bit_get(s->held, node))
        return;
    bit_put(s->held, node, false);
    if (can_remove(p->state[node]))
        holder_count(s, -1, t_us);
}

static void silence_start(qos_pass *p, uint32_t node, uint8_t state,
                          int64_t t_us)
{
    silence *s = &p->silences[node];
    *s = (silence){
        .active = true,
        .start_us = t_us,
        .gone_us = t_us, /* until a snapshot row names a holder */
        .relisted_us = -1,
        .gone_before_us = -1,
        .added_us = -1,
        .held = s->held ? s->held : g_new0(uint64_t, p->words),
    };
    memset(s->held, 0, p->words * sizeof *s->held);
    g_array_append_val(p->active, node);
    p->out->silences++;
    p->out->crashes += state == ANA_NODE_CRASHED;
    p->out->pauses += state == ANA_NODE_PAUSED;
    p->out->stops += state == ANA_NODE_STOPPED;
}

/* The silence of `node` ends: it came back up (`back`), or the run
 * ended. */
static void silence_end(qos_pass *p, uint32_t node, bool back,
                        int64_t t_us)
{
    silence *s = &p->silences[node];
    ana_qos *q = p->out;
    if (back && s->live_holders > 0 && s->relisted_us == t_us &&
        s->gone_before_us >= 0)
        s->gone_us = s->gone_before_us; /* relisted as it came back */
    if (back && s->added_us == t_us)
        q->silent_adds -= s->added_then;
    if (!s->ever_held) {
        q->unlisted++;
    } else if (s->gone_us >= 0) {
        q->detected++;
        double d = (double)(s->gone_us - s->start_us) / 1e6;
        g_array_append_val(p->detections, d);
    } else if (back) {
        q->recovered++;
    } else {
        q->undetected++;
        double never = INFINITY;
        g_array_append_val(p->detections, never);
    }
    s->active = false;
    for (guint k = 0; k < p->active->len; k++)
        if (g_array_index(p->active, uint32_t, k) == node) {
            g_array_remove_index_fast(p->active, k);
            break;
        }
}

/* ------------------------------------------------------------------ */
/* Wrong removals waiting for their re-add.                             */

typedef struct censor {
    uint32_t node;
    bool by_remover;  /* match the remover, else the removed node */
} censor;

static gboolean pending_of(gpointer key, gpointer value, gpointer data)
{
    const censor *c = data;
    uint64_t k = *(const uint64_t *)key;
    uint32_t who = c->by_remover ? (uint32_t)(k >> 32) : (uint32_t)k;
    return who == c->node;
}

/* Mistakes that can no longer be undone, or no longer are mistakes, leave
 * the count: the remover lost its list, or the removed node went silent.
 * Only counted: the hash table's order reaches nothing. */
static void pending_drop(qos_pass *p, uint32_t node, bool by_remover)
{
    censor c = {node, by_remover};
    g_hash_table_foreach_remove(p->pending, pending_of, &c);
}

/* ------------------------------------------------------------------ */
/* Rows.                                                                */

static void integrate(qos_pass *p, int64_t t_us)
{
    double dt = (double)(t_us - p->last_us);
    p->node_us += dt * (double)p->monitors;
    p->pair_us += dt * ((double)p->monitors * (double)p->up - (double)p->up);
    p->last_us = t_us;
}

static void on_state(qos_pass *p, uint32_t node, uint8_t to, int64_t t_us)
{
    uint8_t from = p->state[node];
    if (from == to)
        return;
    p->monitors += can_remove(to) - can_remove(from);
    p->up += (to == ANA_NODE_UP) - (from == ANA_NODE_UP);

    /* As a lister. A crash loses its list; a pause (or a resume) takes
     * it out of (or back into) the live lists. */
    for (guint k = 0; k < p->active->len; k++) {
        uint32_t peer = g_array_index(p->active, uint32_t, k);
        silence *s = &p->silences[peer];
        if (!bit_get(s->held, node))
            continue;
        if (to == ANA_NODE_CRASHED) {
            release(p, node, peer, t_us); /* counted as `from` says */
        } else if (can_remove(from) != can_remove(to)) {
            holder_count(s, can_remove(to) ? +1 : -1, t_us);
        }
    }
    p->state[node] = to;
    if (to == ANA_NODE_CRASHED)
        pending_drop(p, node, true);
    if (from == ANA_NODE_PAUSED)
        p->resumed_us[node] = t_us;

    /* As a node of the others' lists. */
    if (from == ANA_NODE_UP && ana_node_state_silent(to)) {
        silence_start(p, node, to, t_us);
        pending_drop(p, node, false);
    } else if (to == ANA_NODE_UP) {
        if (p->silences[node].active)
            silence_end(p, node, true, t_us);
        p->up_since_us[node] = t_us;
    }
}

/* Whether the removal of `peer` by `node` at t_us is wrong: the peer was
 * up for the whole window before it and the remover was not paused in
 * it (a paused node's clock jumps: on resume it expires whom it could not
 * hear). */
static bool removal_is_wrong(const qos_pass *p, uint32_t node, uint32_t peer,
                             int64_t t_us)
{
    int64_t w = p->in->window_us;
    return p->state[peer] == ANA_NODE_UP &&
           t_us - p->up_since_us[peer] >= w && can_remove(p->state[node]) &&
           (p->resumed_us[node] == INT64_MIN ||
            t_us - p->resumed_us[node] >= w);
}

static void on_change(qos_pass *p, uint32_t node, uint32_t peer, uint8_t what,
                      int64_t t_us)
{
    silence *s = &p->silences[peer];
    ana_qos *q = p->out;
    uint64_t key = pair_key(node, peer);
    switch ((ana_qos_change)what) {
    case ANA_QOS_LISTED:
        if (s->active)
            hold(p, node, peer, t_us);
        break;
    case ANA_QOS_EXPIRED:
        q->removals++;
        if (s->active)
            release(p, node, peer, t_us);
        if (removal_is_wrong(p, node, peer, t_us)) {
            q->wrong++;
            int64_t *value = g_new(int64_t, 2);
            value[0] = (int64_t)key; /* the key lives in the value */
            value[1] = t_us;
            g_hash_table_replace(p->pending, &value[0], value);
        }
        break;
    case ANA_QOS_ADDED: {
        if (s->active) {
            q->silent_adds++;
            if (s->added_us != t_us) {
                s->added_us = t_us;
                s->added_then = 0;
            }
            s->added_then++;
            hold(p, node, peer, t_us);
        }
        const int64_t *value = g_hash_table_lookup(p->pending, &key);
        if (value) {
            q->repaired++;
            q->repair_sum_s += (double)(t_us - value[1]) / 1e6;
            g_hash_table_remove(p->pending, &key);
        }
        break;
    }
    case ANA_QOS_CHANGE_COUNT:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Checking and the pass.                                               */

static gboolean check_row(const ana_qos_input *in, size_t i, GError **error)
{
    const ana_qos_row *r = &in->rows[i];
    const char *bad = NULL;
    if (r->node >= in->nodes)
        bad = "its node is not one of the run's";
    else if (r->is_state &&
             !(r->what > ANA_NODE_ABSENT && r->what < ANA_NODE_STATE_COUNT))
        bad = "it names no state";
    else if (!r->is_state && r->what >= ANA_QOS_CHANGE_COUNT)
        bad = "it names no change";
    else if (!r->is_state && r->peer >= in->nodes)
        bad = "its peer is not one of the run's nodes";
    else if (!r->is_state && r->peer == r->node)
        bad = "a node changes its own list about itself";
    else if (r->t_us < 0)
        bad = "its time is negative";
    else if (i > 0 && r->seq <= in->rows[i - 1].seq)
        bad = "its seq does not follow the row before";
    else if (i > 0 && r->t_us < in->rows[i - 1].t_us)
        bad = "its time is before the row before";
    if (bad == NULL)
        return TRUE;
    g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                "failure detector row seq %" G_GINT64_FORMAT
                " (node %u at %" G_GINT64_FORMAT " us): %s",
                r->seq, r->node, r->t_us, bad);
    return FALSE;
}

static void pass_clear(qos_pass *p)
{
    for (size_t i = 0; i < p->in->nodes; i++)
        g_free(p->silences[i].held);
    g_free(p->silences);
    g_free(p->state);
    g_free(p->up_since_us);
    g_free(p->resumed_us);
    g_array_free(p->active, TRUE);
    g_hash_table_destroy(p->pending);
}

static void finish(qos_pass *p, int64_t end_us)
{
    ana_qos *q = p->out;
    integrate(p, end_us);
    while (p->active->len > 0)
        silence_end(p, g_array_index(p->active, uint32_t, 0), false,
                    end_us);
    q->unrepaired = g_hash_table_size(p->pending);
    q->n_detection = p->detections->len;
    q->detection_s = (double *)(void *)g_array_free(p->detections, FALSE);
    p->detections = NULL;
    q->detection_median_s =
        q->n_detection ? ana_stats_median(q->detection_s, q->n_detection)
                       : NAN;
    q->detection_p99_s =
        q->n_detection
            ? ana_stats_percentile(q->detection_s, q->n_detection, 99.0)
            : NAN;
    q->mistake_duration_s =
        q->repaired ? q->repair_sum_s / (double)q->repaired : NAN;
    q->node_hours = p->node_us / US_PER_HOUR;
    q->pair_hours = p->pair_us / US_PER_HOUR;
    q->wrong_rate = q->node_hours > 0 ? (double)q->wrong / q->node_hours
                                      : NAN;
    q->recurrence_s = !(q->pair_hours > 0) ? NAN
                      : q->wrong == 0
                          ? INFINITY
                          : p->pair_us / 1e6 / (double)q->wrong;
}

gboolean ana_qos_compute(const ana_qos_input *in, ana_qos *out,
                         GError **error)
{
    memset(out, 0, sizeof *out);
    out->detection_median_s = out->detection_p99_s = NAN;
    out->mistake_duration_s = out->wrong_rate = out->recurrence_s = NAN;
    g_return_val_if_fail(in != NULL && in->window_us > 0, FALSE);
    if (in->nodes == 0 || in->nodes > UINT32_MAX) {
        g_set_error(error, ANA_ERROR, ANA_ERROR_INVALID,
                    "a run of %zu nodes has no failure detector figures",
                    in->nodes);
        return FALSE;
    }
    for (size_t i = 0; i < in->n_rows; i++)
        if (!check_row(in, i, error))
            return FALSE;

    qos_pass p = {
        .in = in,
        .out = out,
        .words = (in->nodes + 63) / 64,
        .state = g_new0(uint8_t, in->nodes),
        .up_since_us = g_new0(int64_t, in->nodes),
        .resumed_us = g_new(int64_t, in->nodes),
        .silences = g_new0(silence, in->nodes),
        .active = g_array_new(FALSE, FALSE, sizeof(uint32_t)),
        .pending = g_hash_table_new_full(pair_hash, g_int64_equal, NULL,
                                         g_free),
        .detections = g_array_new(FALSE, FALSE, sizeof(double)),
    };
    for (size_t i = 0; i < in->nodes; i++)
        p.resumed_us[i] = INT64_MIN;
    for (size_t i = 0; i < in->n_rows; i++) {
        const ana_qos_row *r = &in->rows[i];
        integrate(&p, r->t_us);
        if (r->is_state)
            on_state(&p, r->node, r->what, r->t_us);
        else
            on_change(&p, r->node, r->peer, r->what, r->t_us);
    }
    int64_t end = in->end_us;
    if (in->n_rows && in->rows[in->n_rows - 1].t_us > end)
        end = in->rows[in->n_rows - 1].t_us;
    finish(&p, end);
    pass_clear(&p);
    return TRUE;
}

void ana_qos_clear(ana_qos *q)
{
    if (q == NULL)
        return;
    g_free(q->detection_s);
    memset(q, 0, sizeof *q);
}

int ana_qos_state_from_name(const char *name)
{
    for (int s = ANA_NODE_UP; s < ANA_NODE_STATE_COUNT; s++)
        if (name && strcmp(name, ana_node_state_name((ana_node_state)s)) == 0)
            return s;
    return -1;
}

int ana_qos_change_from_name(const char *name)
{
    static const char *const names[ANA_QOS_CHANGE_COUNT] = {
        [ANA_QOS_LISTED] = "listed",
        [ANA_QOS_EXPIRED] = "expired",
        [ANA_QOS_ADDED] = "added",
    };
    for (int c = 0; c < ANA_QOS_CHANGE_COUNT; c++)
        if (name && strcmp(name, names[c]) == 0)
            return c;
    return -1;
}
