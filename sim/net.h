/* net.h: the causes a simulated packet can be dropped for. The network
 * model's laws themselves (latency distributions, loss chains) are
 * model/'s (model.h), shared with the testbed; the world (world.h)
 * applies them.
 */
#ifndef SIM_NET_H
#define SIM_NET_H

#include <stdint.h>

/* Why a sent packet never reached its receiving engine. Every drop is
 * counted under exactly one cause (sim_world_stats, sim_node_stats) and
 * reported to the dropped hook. */
typedef enum sim_drop_cause {
    SIM_DROP_LOSS = 0,    /* the loss model dropped it on the link (UDP),
                           * or TCP gave up after its retransmissions */
    SIM_DROP_PARTITION,   /* a partition in effect when it was sent cuts
                           * the sender off from the receiver */
    SIM_DROP_SEND_QUEUE,  /* the sender's uplink queue was full, or the
                           * simulator's event queue was at its bound */
    SIM_DROP_RECV_BUFFER, /* the receiver already had Buffer packets
                           * waiting (paused, or busy processing) */
    SIM_DROP_OVERSIZE,    /* larger than the engine's Size, or than a UDP
                           * datagram can be (65507 bytes) */
    SIM_DROP_NODE_DOWN,   /* no such node, or the receiver was crashed
                           * when the packet arrived */
    SIM_DROP_COUNT
} sim_drop_cause;

/* "loss", "partition", "send_queue", "recv_buffer", "oversize",
 * "node_down", or "?". */
const char *sim_drop_cause_name(sim_drop_cause cause);

#endif /* SIM_NET_H */
