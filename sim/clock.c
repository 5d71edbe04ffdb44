/* clock.c: each node's clock, and its timers in virtual time.
 *
 * Node time is f(t) = t + offset + floor(t * drift_ppb / 1e9) at virtual
 * time t >= 0, all integers (the drift is kept in parts per billion), so
 * a reading is exact and the same on every machine. With drift_ppb
 * > -1e9, f never decreases: f(t+1) - f(t) = 1 + (a step of the floor
 * term, at least -1). The engine arms timers in node time; a timer fires
 * at the first virtual time whose node time reaches its deadline, never
 * earlier, so a timer never fires before its node-time deadline.
 */
#include "world-private.h"

#include <errno.h>
#include <math.h>

#define PPB 1000000000LL
/* Virtual times beyond this are "never": a deadline a very slow clock
 * would reach only after centuries stays far from int64 overflow. */
#define FAR_FUTURE_US (INT64_MAX / 4)

int64_t sim__virtual_time(const sim_node *node, int64_t deadline_us,
                          int64_t now_us)
{
    if (!node->clock_on)
        return deadline_us < now_us ? now_us : deadline_us;
    if (sim__node_time(node, now_us) >= deadline_us)
        return now_us;
    /* Solve t + floor(t k / 1e9) >= e for the smallest t: with
     * g(t) = t (1e9 + k) / 1e9 we have f(t) in (g(t) - 1, g(t)], so
     * t0 = ceil(e 1e9 / (1e9 + k)) already satisfies it and is at most a
     * step or two above the answer; walk down while the one below does. */
    __int128_t e = (__int128_t)deadline_us - node->clock_offset_us;
    __int128_t den = PPB + node->drift_ppb;
    __int128_t t = e * PPB / den;
    if (t * den < e * PPB)
        t++;
    if (t > FAR_FUTURE_US)
        return FAR_FUTURE_US;
    int64_t at = t < now_us ? now_us : (int64_t)t;
    while (sim__node_time(node, at) < deadline_us)
        at++;
    while (at > now_us && sim__node_time(node, at - 1) >= deadline_us)
        at--;
    return at;
}

void sim__timer_push(sim_world *w, sim_node *node, peko_timer timer)
{
    int64_t at_us = sim__virtual_time(node, node->timer_deadline_us[timer],
                                      w->now_us);
    sim_payload p = {.kind = SIM_EV_TIMER,
                     .node = node->index,
                     .arg = (uint32_t)timer};
    /* Cannot fail: every node's timers have room reserved (packet_limit),
     * and the old event was cancelled before. */
    node->timers[timer] = sim_evq_push(&w->q, at_us, &p);
    if (node->timers[timer] == SIM_EVQ_NONE)
        g_assert_not_reached();
}

int sim_world_set_clock(sim_world *w, size_t i, int64_t offset_us,
                        double drift_ppm)
{
    if (i >= w->n || !isfinite(drift_ppm) || drift_ppm <= -1e6 ||
        drift_ppm > 1e6 || offset_us > MODEL_DIST_MAX ||
        offset_us < -MODEL_DIST_MAX)
        return -EINVAL;
    int64_t drift_ppb = llround(drift_ppm * 1000.0);
    if (drift_ppb <= -PPB)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    sim_node next = *node;
    next.clock_offset_us = offset_us;
    next.drift_ppb = drift_ppb;
    next.clock_on = offset_us != 0 || drift_ppb != 0;
    if (node->clock_read && node->state != SIM_NODE_DOWN &&
        sim__node_time(&next, w->now_us) < sim__node_time(node, w->now_us))
        return -ERANGE;
    node->clock_offset_us = offset_us;
    node->drift_ppb = drift_ppb;
    node->clock_on = next.clock_on;
    /* Armed deadlines are in node time: where they fall in virtual time
     * has changed. */
    for (unsigned k = 0; k < PEKO_TIMER_COUNT; k++) {
        if (node->timers[k] == SIM_EVQ_NONE)
            continue;
        sim_evq_cancel(&w->q, node->timers[k]);
        node->timers[k] = SIM_EVQ_NONE;
        sim__timer_push(w, node, (peko_timer)k);
    }
    return 0;
}

int64_t sim_world_node_now_us(const sim_world *w, size_t i)
{
    g_return_val_if_fail(i < w->n, 0);
    return sim__node_time(&w->nodes[i], w->now_us);
}
