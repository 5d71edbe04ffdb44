/* tcp.c: the simulator's TCP mode (engine protocol TCP).
 *
 * Each message is one reliable, ordered transfer on a connection from its
 * sender to its receiver:
 * - a node keeps at most SIM_TCP_CONN_CACHE open connections, evicting the
 *   least recently used (by a per-node use counter, so eviction is
 *   deterministic); a connection also dies when either end crashes;
 * - the first message on a fresh connection waits for the handshake: a
 *   SYN (sender -> receiver latency) and a SYN-ACK (receiver -> sender
 *   latency), one extra round trip;
 * - every attempt (SYN, SYN-ACK, data) is put to the link's loss model; a
 *   lost attempt costs a retransmission timeout, SIM_TCP_RTO_INITIAL_US
 *   doubling up to SIM_TCP_RTO_MAX_US, and after SIM_TCP_MAX_RETRIES lost
 *   retries the connection times out: the message is dropped as loss and
 *   the connection closed;
 * - a message never overtakes an earlier one on its connection: it
 *   arrives at max(its own arrival, the previous arrival);
 * - no duplication (TCP removes duplicates), partitions drop at send time
 *   as for UDP (a real connection would stall, then time out).
 * All draws of a transfer, the reverse SYN-ACK's included, come from the
 * sender's streams (latency and loss) and step the sender's loss chain, so
 * the receiver's own draws never depend on who connects to it.
 */
#include "world-private.h"

#include <string.h>

#define EPHEMERAL_FIRST 32768 /* Linux's default ephemeral port range */
#define EPHEMERAL_COUNT 28232

/* Extra delay from lost attempts of one transmission, or -1 when it
 * exhausts its retries. */
static int64_t retransmissions(sim_world *w, sim_node *from)
{
    if (!w->loss_on)
        return 0;
    int64_t delay = 0, rto = SIM_TCP_RTO_INITIAL_US;
    for (int retry = 0; sim__lose(w, from); retry++) {
        if (retry == SIM_TCP_MAX_RETRIES)
            return -1;
        w->stats.tcp_retransmits++;
        delay += rto;
        rto = MIN(rto * 2, SIM_TCP_RTO_MAX_US);
    }
    return delay;
}

static sim_tcp_conn *conn_find(sim_node *from, const sim_node *to,
                               bool *fresh)
{
    if (from->conns == NULL) {
        from->conns = g_new(sim_tcp_conn, SIM_TCP_CONN_CACHE);
        sim__tcp_reset(from);
    }
    sim_tcp_conn *empty = NULL, *lru = NULL;
    for (int k = 0; k < SIM_TCP_CONN_CACHE; k++) {
        sim_tcp_conn *c = &from->conns[k];
        if (c->peer == to->index) {
            /* A connection to an earlier life of the peer is dead. */
            *fresh = c->peer_epoch != to->epoch;
            return c;
        }
        if (c->peer == UINT32_MAX) {
            if (empty == NULL)
                empty = c;
        } else if (lru == NULL || c->last_use < lru->last_use) {
            lru = c;
        }
    }
    *fresh = true;
    return empty ? empty : lru;
}

int sim__tcp_send(sim_world *w, sim_node *from, sim_node *to,
                  int64_t depart_us, const uint8_t *bytes, size_t n_bytes)
{
    bool fresh;
    sim_tcp_conn *c = conn_find(from, to, &fresh);
    c->last_use = ++from->conn_uses;
    if (fresh) {
        uint32_t isn = sim__tcp_isn(w, from->index, to->index,
                                    from->conns_opened);
        *c = (sim_tcp_conn){
            .peer = to->index,
            .peer_epoch = to->epoch,
            .last_use = from->conn_uses,
            .last_arrival_us = INT64_MIN,
            .next_seq = isn + 1, /* the SYN takes one */
            .sport = (uint16_t)(EPHEMERAL_FIRST + isn % EPHEMERAL_COUNT),
        };
        from->conns_opened++;
        w->stats.tcp_connects++;
    }

    int64_t delay = 0;
    if (fresh) {
        int64_t syn = retransmissions(w, from);
        int64_t synack = syn < 0 ? -1 : retransmissions(w, from);
        if (synack < 0)
            goto timed_out;
        delay += syn + sim__latency(w, &from->lat_rng, from, to);
        delay += synack + sim__latency(w, &from->lat_rng, to, from);
    }
    int64_t data = retransmissions(w, from);
    if (data < 0)
        goto timed_out;
    delay += data + sim__latency(w, &from->lat_rng, from, to);

    int64_t at_us = depart_us + delay;
    if (at_us < c->last_arrival_us)
        at_us = c->last_arrival_us;
    c->last_arrival_us = at_us;
    w->stats.latency_us_total += (uint64_t)delay;
    w->stats.latency_samples++;

    sim_packet *pkt = sim__packet_new(w, bytes, n_bytes);
    uint64_t wire = SIM_WIRE_MAKE(c->next_seq, c->sport, 0);
    c->next_seq += (uint32_t)n_bytes;
    /* The caller checked the queue's bound: there is room. */
    sim__push_packet(w, at_us, SIM_EV_ARRIVE, to->index, from->index, wire,
                     pkt, SIM_DROP_SEND_QUEUE);
    return 0;

timed_out:
    c->peer = UINT32_MAX;
    sim__drop(w, from->index, to->index, bytes, n_bytes, SIM_DROP_LOSS);
    return 0;
}

void sim__tcp_reset(sim_node *node)
{
    if (node->conns == NULL)
        return;
    for (int k = 0; k < SIM_TCP_CONN_CACHE; k++)
        node->conns[k] = (sim_tcp_conn){.peer = UINT32_MAX};
}
