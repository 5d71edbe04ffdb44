/* schedule.c: callbacks at virtual times, for timelines and samplers.
 *
 * A callback is an event like any other, so it is ordered with timers and
 * deliveries by (time, insertion sequence): two callbacks at one time run
 * in the order they were scheduled, and a callback scheduled for a time
 * at which packets are due runs after those pushed before it.
 *
 * Records are kept by id (index + 1) in w->calls until they are done, so
 * an id stays unambiguous for the life of the world: ids are never
 * reused.
 */
#include "world-private.h"

#include <errno.h>
#include <limits.h>

static sim_evq_handle push_call(sim_world *w, sim_call *c, int64_t t_us)
{
    sim_payload p = {.kind = SIM_EV_CALL, .ptr = c};
    return sim_evq_push(&w->q, t_us < w->now_us ? w->now_us : t_us, &p);
}

static int call_new(sim_world *w, int64_t t_us, int64_t period_us,
                    sim_world_fn fn, void *user)
{
    if (fn == NULL || w->calls->len >= (guint)INT_MAX)
        return -EINVAL;
    /* The queue's room beyond packet_limit is the timers'. */
    if (sim__queued(w) >= w->packet_limit)
        return -ENOBUFS;
    sim_call *c = g_new0(sim_call, 1);
    c->fn = fn;
    c->user = user;
    c->period_us = period_us;
    c->next_us = t_us < w->now_us ? w->now_us : t_us;
    c->handle = push_call(w, c, c->next_us);
    if (c->handle == SIM_EVQ_NONE) {
        g_free(c);
        return -ENOBUFS;
    }
    g_ptr_array_add(w->calls, c);
    c->id = (int)w->calls->len;
    return c->id;
}

int sim_world_schedule(sim_world *w, int64_t t_us, sim_world_fn fn,
                       void *user)
{
    return call_new(w, t_us, 0, fn, user);
}

int sim_world_every(sim_world *w, int64_t first_us, int64_t period_us,
                    sim_world_fn fn, void *user)
{
    if (period_us <= 0)
        return -EINVAL;
    return call_new(w, first_us, period_us, fn, user);
}

int sim_world_cancel(sim_world *w, int id)
{
    if (id <= 0 || (guint)id > w->calls->len)
        return -ENOENT;
    sim_call *c = g_ptr_array_index(w->calls, id - 1);
    if (c == NULL)
        return -ENOENT;
    g_ptr_array_index(w->calls, id - 1) = NULL;
    if (c->firing) {
        /* Cancelled from inside its own call: freed when it returns. */
        c->cancelled = true;
        return 0;
    }
    sim_evq_cancel(&w->q, c->handle);
    g_free(c);
    return 0;
}

void sim__call_fire(sim_world *w, sim_call *c)
{
    c->handle = SIM_EVQ_NONE;
    if (c->period_us == 0) {
        /* Done before the call, so cancelling itself is a no-op. */
        g_ptr_array_index(w->calls, c->id - 1) = NULL;
        c->fn(w, c->user);
        g_free(c);
        return;
    }
    c->firing = true;
    c->fn(w, c->user);
    c->firing = false;
    if (c->cancelled) {
        g_free(c);
        return;
    }
    /* Periods count from the schedule, not from when the call ran, so
     * samples never drift. */
    c->next_us += c->period_us;
    c->handle = push_call(w, c, c->next_us);
    if (c->handle == SIM_EVQ_NONE) {
        /* Only at the queue's hard bound: the sampler stops, loudly. */
        g_warning("sim: event queue full, periodic callback %d stopped",
                  c->id);
        g_ptr_array_index(w->calls, c->id - 1) = NULL;
        g_free(c);
    }
}

void sim__calls_free(sim_world *w)
{
    /* Their events went with the queue. */
    for (guint k = 0; k < w->calls->len; k++)
        g_free(g_ptr_array_index(w->calls, k));
    g_ptr_array_free(w->calls, TRUE);
    w->calls = NULL;
}
