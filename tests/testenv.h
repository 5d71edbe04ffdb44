/* testenv.h: an in-memory network of engines for unit tests.
 *
 * A manual virtual clock and a delivery queue ordered by (time, insertion
 * order): tests drive whole clusters through scenarios deterministically,
 * block links, skew clocks, restart nodes and inject raw bytes. Nodes live
 * at 127.0.0.1:(9000 + index).
 */
#ifndef PEKO_TESTENV_H
#define PEKO_TESTENV_H

#include <glib.h>

#include "peko.h"

typedef struct testnet testnet;

/* Creates n engines with `config` (NULL: defaults); none has joined yet.
 * Node i draws from model.h's engine stream of node i of `seed`, as in the
 * simulator, is named "node-i" and has private data "data-i". */
testnet *testnet_new(size_t n, const peko_config *config, uint64_t seed);
void testnet_free(testnet *net);

size_t testnet_size(const testnet *net);
peko_nodelist *testnet_node(testnet *net, size_t i);
const peko_addr *testnet_addr(const testnet *net, size_t i);
int64_t testnet_now_us(const testnet *net);

/* One-way latency of every delivery (default 1 ms). */
void testnet_set_latency_us(testnet *net, int64_t latency_us);
/* Node i's clock reads virtual time + offset_us (may be negative). */
void testnet_set_clock_offset(testnet *net, size_t i, int64_t offset_us);
/* Loses each packet with probability `loss` (Bernoulli, drawn from the
 * network's seed; 0 turns it off). */
void testnet_set_loss(testnet *net, double loss);
/* Drops everything sent from `from` to `to` while blocked. */
void testnet_block(testnet *net, size_t from, size_t to, bool blocked);
/* Blocks both directions between every node in [0, split) and every node
 * in [split, n) (a partition into two groups), or heals it. */
void testnet_partition(testnet *net, size_t split, bool blocked);

/* Seeds node i with node `seed_node` (peko_nodelist_set) and joins it. */
void testnet_join_via(testnet *net, size_t i, size_t seed_node);
/* Joins every node through node 0. */
void testnet_join_all(testnet *net);
/* Replaces node i by a fresh engine with `config` (NULL: the net's), as a
 * crash and restart: all state is lost. It has not joined. */
void testnet_restart(testnet *net, size_t i, const peko_config *config);

/* Node i crashes: its engine is gone (testnet_node returns NULL) and
 * what is sent to it is lost, until testnet_restart(). */
void testnet_crash(testnet *net, size_t i);
/* The largest packet any node has sent. */
size_t testnet_max_sent_bytes(const testnet *net);

/* Runs deliveries and timers until virtual time now + duration_us. */
void testnet_run_for(testnet *net, int64_t duration_us);
/* Hands raw bytes to node i at once, as if sent from `from`. */
void testnet_inject(testnet *net, size_t i, const peko_addr *from,
                    const uint8_t *bytes, size_t n_bytes);

/* Called with every packet a node hands to the network (lost or not),
 * as it leaves: its sender's index, its destination and its bytes
 * (borrowed for the call). NULL turns it off. */
typedef void (*testnet_tap_fn)(void *user, size_t from, const peko_addr *to,
                               const uint8_t *bytes, size_t n_bytes);
void testnet_set_tap(testnet *net, testnet_tap_fn tap, void *user);

/* Packets delivered so far, by message type (index peko_msg_type). */
uint64_t testnet_delivered(const testnet *net, peko_msg_type type);
/* Packets sent by node i so far of the given type. */
uint64_t testnet_sent_by(const testnet *net, size_t i, peko_msg_type type);
/* Console lines node i printed (without timestamps), owned by the net. */
GPtrArray *testnet_lines(testnet *net, size_t i);

/* True if node i's list holds exactly the nodes in [0, n) except those
 * with excluded[j] set (excluded may be NULL). */
bool testnet_has_full_list(testnet *net, size_t i, const bool *excluded);
/* True if every node i lists every node (all joined, none excluded). */
bool testnet_converged(testnet *net);

#endif /* PEKO_TESTENV_H */
