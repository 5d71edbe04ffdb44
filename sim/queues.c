/* queues.c: the queues at either end of a link.
 *
 * Uplink (sender): a packet of B bytes occupies the node's uplink for
 * ceil(8 B / bandwidth) microseconds; packets are serialized one after
 * another in send order, so a packet leaves when the one before it has
 * left plus its own serialization time. The finish times of packets not
 * yet gone are kept in a ring (grown on demand, never beyond the
 * send_queue bound plus the packet in transmission), which is all it takes
 * to know how many are waiting.
 *
 * Receive queue (receiver with a processing cost): one packet is processed
 * at a time, each taking cost_us; a packet is handed to the engine when
 * its processing ends. rx_count counts packets accepted and not yet
 * handed over, so the Buffer bound is exact.
 *
 * Held packets (paused receiver): kept in arrival order in a ring of at
 * most Buffer entries, released as REPLAY events on resume.
 */
#include "world-private.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Uplink.                                                              */

/* The ring's capacity is a power of two, so positions wrap by a mask. */
static void tx_push(sim_node *node, int64_t finish_us)
{
    if (node->tx_count == node->tx_cap) {
        uint32_t cap = node->tx_cap ? node->tx_cap * 2 : 8;
        int64_t *ring = g_new(int64_t, cap);
        for (uint32_t k = 0; k < node->tx_count; k++)
            ring[k] = node->tx_finish_us[(node->tx_head + k) & (node->tx_cap - 1)];
        g_free(node->tx_finish_us);
        node->tx_finish_us = ring;
        node->tx_cap = cap;
        node->tx_head = 0;
    }
    node->tx_finish_us[(node->tx_head + node->tx_count) & (node->tx_cap - 1)] =
        finish_us;
    node->tx_count++;
}

int64_t sim__uplink(sim_world *w, sim_node *node, size_t n_bytes)
{
    int64_t now = w->now_us;
    /* Packets whose last bit has left are gone. */
    while (node->tx_count && node->tx_finish_us[node->tx_head] <= now) {
        node->tx_head = (node->tx_head + 1) & (node->tx_cap - 1);
        node->tx_count--;
    }
    /* The head is always in transmission; the rest wait. */
    if (node->tx_count > node->send_queue)
        return -1;
    int64_t start = now;
    if (node->tx_count) {
        uint32_t last =
            (node->tx_head + node->tx_count - 1) & (node->tx_cap - 1);
        start = node->tx_finish_us[last];
    }
    /* n_bytes <= 64 MiB (the engine's Size limit) keeps this in range. */
    uint64_t bits_us = (uint64_t)n_bytes * 8u * 1000000u;
    uint64_t bps = (uint64_t)node->uplink_bps;
    int64_t finish = start + (int64_t)((bits_us + bps - 1) / bps);
    tx_push(node, finish);
    if (node->tx_count > node->stats.uplink_queue_max)
        node->stats.uplink_queue_max = node->tx_count;
    return finish;
}

int sim_world_set_uplink(sim_world *w, size_t i, int64_t bandwidth_bps,
                         uint32_t send_queue)
{
    if (i >= w->n || bandwidth_bps < 0)
        return -EINVAL;
    sim_node *node = &w->nodes[i];
    node->uplink_bps = bandwidth_bps;
    node->send_queue = send_queue ? send_queue : SIM_WORLD_DEFAULT_SEND_QUEUE;
    if (bandwidth_bps == 0) {
        /* Unlimited from now on: nothing waits any more. */
        node->tx_count = 0;
        node->tx_head = 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Receive queue.                                                       */

void sim__rx_enqueue(sim_world *w, sim_node *to, uint32_t from,
                     uint64_t wire, sim_packet *pkt)
{
    /* One in process plus Buffer waiting, as pekonode's channel of
     * capacity Buffer behind its reader. */
    if (to->rx_count > w->buffer) {
        sim__drop(w, from, to->index, pkt->bytes, pkt->n_bytes,
                  SIM_DROP_RECV_BUFFER);
        sim_evq_packet_free(&w->q, pkt);
        return;
    }
    int64_t start = MAX(w->now_us, to->rx_busy_until_us);
    uint32_t core = 0;
    if (w->host_cores > 0) {
        for (uint32_t c = 1; c < w->host_cores; c++)
            if (w->core_free_us[c] < w->core_free_us[core])
                core = c;
        start = MAX(start, w->core_free_us[core]);
    }
    int64_t done = start + to->rx_cost_us;
    if (!sim__push_packet(w, done, SIM_EV_PROCESS, to->index, from,
                          SIM_WIRE_WITH_EPOCH(wire, to->epoch), pkt,
                          SIM_DROP_RECV_BUFFER))
        return;
    to->rx_busy_until_us = done;
    if (w->host_cores > 0)
        w->core_free_us[core] = done;
    to->rx_count++;
    if (to->rx_count > to->stats.rx_queue_max)
        to->stats.rx_queue_max = to->rx_count;
}

int sim_world_set_rx_cost(sim_world *w, size_t i, int64_t cost_us)
{
    if (i >= w->n || cost_us < 0 || cost_us > MODEL_DIST_MAX)
        return -EINVAL;
    w->nodes[i].rx_cost_us = cost_us;
    return 0;
}

int sim_world_set_host_cores(sim_world *w, uint32_t cores)
{
    if (cores > SIM_WORLD_MAX_HOST_CORES)
        return -EINVAL;
    g_free(w->core_free_us);
    w->core_free_us = cores ? g_new0(int64_t, cores) : NULL;
    w->host_cores = cores;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Held while paused.                                                   */

void sim__hold(sim_world *w, sim_node *to, uint32_t from, uint64_t wire,
               sim_packet *pkt)
{
    if (to->held_count >= w->buffer) {
        sim__drop(w, from, to->index, pkt->bytes, pkt->n_bytes,
                  SIM_DROP_RECV_BUFFER);
        sim_evq_packet_free(&w->q, pkt);
        return;
    }
    if (to->held_count == to->held_cap) {
        uint32_t cap = MIN(to->held_cap ? to->held_cap * 2 : 8u, w->buffer);
        sim_held *ring = g_new(sim_held, cap);
        for (uint32_t k = 0; k < to->held_count; k++)
            ring[k] = to->held[(to->held_head + k) % to->held_cap];
        g_free(to->held);
        to->held = ring;
        to->held_cap = cap;
        to->held_head = 0;
    }
    to->held[(to->held_head + to->held_count) % to->held_cap] =
        (sim_held){.packet = pkt, .from = from, .wire = wire};
    to->held_count++;
    w->stats.held++;
    if (to->held_count > to->stats.held_max)
        to->stats.held_max = to->held_count;
}

void sim__held_release(sim_world *w, sim_node *node)
{
    uint32_t n = node->held_count;
    node->held_count = 0;
    w->stats.held -= n;
    for (uint32_t k = 0; k < n; k++) {
        sim_held *h = &node->held[(node->held_head + k) % node->held_cap];
        sim__push_packet(w, w->now_us, SIM_EV_REPLAY, node->index, h->from,
                         SIM_WIRE_WITH_EPOCH(h->wire, node->epoch), h->packet,
                         SIM_DROP_RECV_BUFFER);
    }
    node->held_head = 0;
}

void sim__held_drop(sim_world *w, sim_node *node)
{
    uint32_t n = node->held_count;
    node->held_count = 0;
    w->stats.held -= n;
    for (uint32_t k = 0; k < n; k++) {
        sim_held *h = &node->held[(node->held_head + k) % node->held_cap];
        sim__drop(w, h->from, node->index, h->packet->bytes,
                  h->packet->n_bytes, SIM_DROP_NODE_DOWN);
        sim_evq_packet_free(&w->q, h->packet);
    }
    node->held_head = 0;
}

void sim__queues_free(sim_node *node)
{
    g_free(node->tx_finish_us);
    node->tx_finish_us = NULL;
    node->tx_cap = node->tx_count = node->tx_head = 0;
    g_free(node->held);
    node->held = NULL;
    node->held_cap = node->held_count = node->held_head = 0;
}
