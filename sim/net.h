/* net.h: the vocabulary of the simulated network: loss models and the
 * causes a packet can be dropped for. The world (world.h) applies them;
 * the scenario parser may build these values directly.
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

typedef enum sim_loss_kind {
    SIM_LOSS_BERNOULLI = 0,   /* each packet lost with probability rate */
    SIM_LOSS_GILBERT_ELLIOTT, /* bursty: a two-state chain per sender */
    SIM_LOSS_KIND_COUNT
} sim_loss_kind;

/* Gilbert-Elliott: each sending node has a chain that starts in the good
 * state and steps once per packet it puts on the network, before that
 * packet's loss draw: good -> bad with p_good_to_bad, bad -> good with
 * p_bad_to_good. The packet is then lost with loss_good or loss_bad.
 * The long-run loss rate is (1 - b) loss_good + b loss_bad with
 * b = p_good_to_bad / (p_good_to_bad + p_bad_to_good).
 *
 * The chain belongs to the sender, not to each (sender, receiver) link: a
 * burst is then the sender's access link going bad, which hits whatever
 * it sends, and the state costs O(N) rather than O(N^2) (10^8 chains at
 * 10,000 nodes). It is also what the scenario format specifies. */
typedef struct sim_loss {
    sim_loss_kind kind;
    double rate;            /* bernoulli: 0..1 */
    double p_good_to_bad;   /* gilbert_elliott: 0..1 each */
    double p_bad_to_good;
    double loss_good;
    double loss_bad;
} sim_loss;

/* Returns 0 if every probability the kind uses is within [0, 1], else
 * -EINVAL. */
int sim_loss_check(const sim_loss *loss);

/* The long-run fraction of packets lost. */
double sim_loss_mean(const sim_loss *loss);

#endif /* SIM_NET_H */
