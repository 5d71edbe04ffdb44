/* lifecycle.c: joining, crashing, restarting, pausing and resuming nodes,
 * and pekonode's stop/start.
 *
 * A crash ends a life of the node: its epoch is bumped, so work queued for
 * the old life (packets waiting in its receive queue) is recognised and
 * dropped when it comes due instead of reaching the new engine. Packets
 * still on the wire are not the node's: they reach whatever runs at its
 * address when they arrive, as on a real network.
 */
#include "world-private.h"

#include <errno.h>
#include <string.h>

int sim_world_set_seeds(sim_world *w, size_t i, const size_t *seeds,
                        size_t n_seeds)
{
    if (i >= w->n || (n_seeds && seeds == NULL))
        return -EINVAL;
    for (size_t k = 0; k < n_seeds; k++)
        if (seeds[k] >= w->n)
            return -EINVAL;
    sim_node *node = &w->nodes[i];
    g_free(node->seeds);
    node->seeds = g_new(uint32_t, n_seeds ? n_seeds : 1);
    for (size_t k = 0; k < n_seeds; k++)
        node->seeds[k] = (uint32_t)seeds[k];
    node->n_seeds = n_seeds;
    return 0;
}

/* Gives the engine its seed nodes (pekonode's Set), in the order given. */
static int give_seeds(sim_world *w, sim_node *node)
{
    for (size_t k = 0; k < node->n_seeds; k++) {
        const sim_node *seed = &w->nodes[node->seeds[k]];
        char host[PEKO_HOST_STRLEN];
        peko_addr_host(&seed->addr, host);
        peko_node peer = {.addr = host, .port = w->port, .name = seed->name};
        int rc = peko_nodelist_set(node->nl, &peer);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sim_world_join(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    if (node->state == SIM_NODE_DOWN)
        return -ENODEV;
    int rc = give_seeds(w, node);
    return rc < 0 ? rc : peko_nodelist_join(node->nl);
}

int sim_world_crash(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    if (node->state == SIM_NODE_DOWN)
        return -EALREADY;
    sim__held_drop(w, node);
    for (unsigned k = 0; k < PEKO_TIMER_COUNT; k++) {
        sim_evq_cancel(&w->q, node->timers[k]);
        node->timers[k] = SIM_EVQ_NONE;
    }
    node->overdue = 0;
    peko_nodelist_free(node->nl);
    node->nl = NULL;
    node->state = SIM_NODE_DOWN;
    /* Packets in its receive queue die with this life. */
    node->epoch++;
    node->rx_count = 0;
    node->rx_busy_until_us = w->now_us;
    sim__tcp_reset(node);
    node->stats.crashes++;
    return 0;
}

int sim_world_restart(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    if (node->state != SIM_NODE_DOWN)
        return -EBUSY;
    int rc = sim__engine_new(w, node);
    if (rc < 0)
        return rc;
    node->state = SIM_NODE_UP;
    node->stats.restarts++;
    rc = give_seeds(w, node);
    if (rc == 0)
        rc = peko_nodelist_join(node->nl);
    return rc;
}

int sim_world_pause(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    if (node->state == SIM_NODE_DOWN)
        return -ENODEV;
    if (node->state == SIM_NODE_PAUSED)
        return -EALREADY;
    node->state = SIM_NODE_PAUSED;
    return 0;
}

int sim_world_resume(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    if (node->state != SIM_NODE_PAUSED)
        return -EALREADY;
    node->state = SIM_NODE_UP;
    /* Packets first, in arrival order, then the timers that came due:
     * all as events at the current time, behind what is already due. */
    sim__held_release(w, node);
    for (unsigned k = 0; k < PEKO_TIMER_COUNT; k++) {
        if (!(node->overdue & (1u << k)))
            continue;
        node->overdue &= ~(1u << k);
        if (node->timers[k] == SIM_EVQ_NONE)
            sim__timer_push(w, node, (peko_timer)k);
    }
    return 0;
}

int sim_world_stop(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    if (w->nodes[i].nl == NULL)
        return -ENODEV;
    peko_nodelist_stop(w->nodes[i].nl);
    return 0;
}

int sim_world_start(sim_world *w, size_t i)
{
    if (i >= w->n)
        return -EINVAL;
    if (w->nodes[i].nl == NULL)
        return -ENODEV;
    peko_nodelist_start(w->nodes[i].nl);
    return 0;
}

sim_node_state sim_world_node_state(const sim_world *w, size_t i)
{
    g_return_val_if_fail(i < w->n, SIM_NODE_DOWN);
    return (sim_node_state)w->nodes[i].state;
}

void sim_world_set_observer(sim_world *w, size_t i,
                            const peko_observer *observer, void *user)
{
    g_return_if_fail(i < w->n);
    sim_node *node = &w->nodes[i];
    node->has_observer = observer != NULL;
    memset(&node->observer, 0, sizeof node->observer);
    node->observer_user = NULL;
    if (observer) {
        node->observer = *observer;
        node->observer_user = user;
    }
    if (node->nl)
        peko_nodelist_set_observer(node->nl, observer ? &node->observer : NULL,
                                   user);
}
