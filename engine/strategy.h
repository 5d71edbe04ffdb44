/* strategy.h: the dissemination seam (private to engine/).
 *
 * How heartbeats and metadata spread is a strategy: a table of operations
 * that the node list calls at the points where strategies differ (DESIGN.md
 * section 3). Everything else, decoding, membership, metadata versions,
 * target choice and forwarding, is shared and lives in the other files;
 * a strategy composes those pieces.
 *
 *   classic  pekonode exactly: every copy of a rumor is forwarded, the
 *            swap carries metadata only (the measurement baseline);
 *   rumor    forward-once heartbeat rumors, and heartbeat anti-entropy in
 *            the swap (the default);
 *   digest   no packet per heartbeat: versions exchanged by swaps with a
 *            few peers a cycle; joins, restarts and metadata by rumor.
 *
 * Operations are called from the node list's two inputs, on_packet and
 * on_timer, never re-entrantly.
 */
#ifndef PEKO_STRATEGY_H
#define PEKO_STRATEGY_H

#include "nodelist-private.h"

typedef struct peko__strategy {
    peko_dissemination id;
    const char *name;       /* as in config files: "rumor", "classic" */

    /* Once per cycle, after expiry, while joined: originate what this
     * strategy sends each cycle (heartbeats, swaps). */
    void (*cycle)(peko_nodelist *nl, int64_t now_us);

    /* A heartbeat or metadata rumor, after the node list applied it: its
     * first copy to reach this node, or a later one. */
    void (*rumor_first)(peko_nodelist *nl, const peko__msg *m);
    void (*rumor_copy)(peko_nodelist *nl, const peko__msg *m);

    /* A swap request or response from another node (`from` is the
     * packet's source). */
    void (*swap_request)(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from);
    void (*swap_response)(peko_nodelist *nl, const peko__msg *m,
                          const peko_addr *from);

    /* A later copy of a heartbeat whose origin is not listed (it expired,
     * or was never added) lists the origin again: pekonode adds the node
     * of every heartbeat it receives. */
    bool copies_add_nodes;
    /* Incarnations are ordered, peers kept in refresh order with
     * tombstones (membership.c), and the peer table is ordered (peers.h)
     * for the range digests of anti-entropy. */
    bool ordered;
    /* Swap responses fill the room left with the versions learned most
     * recently (antientropy.c). */
    bool pushes_news;
    /* A swap answer cut short by Size while it brought peers this node
     * lacked leaves a gap in its list: the rest of that range is asked
     * again of the same responder, in pieces (antientropy.c, gaps). */
    bool fills_gaps;
    /* The second cycle comes a random time, uniform in (0, cycle], after
     * the first, instead of a whole cycle: nodes that joined together (a
     * cluster started or restarted at once) would otherwise exchange in
     * lockstep for ever, every node's swaps landing in the same instant
     * on the same few peers while the lists grow. */
    bool random_phase;
    /* The timeout when none is configured, from the list as it is now;
     * NULL: the configured (pekonode's default) one. */
    int64_t (*scaled_timeout_us)(const peko_nodelist *nl);
} peko__strategy;

/* Indexed by peko_dissemination. */
extern const peko__strategy *const peko__strategies[PEKO_DISSEMINATION_COUNT];

static inline const peko__strategy *peko__strategy_of(const peko_nodelist *nl)
{
    return peko__strategies[nl->strategy];
}

/* digest's default timeout in cycles for a list of n_nodes (the local
 * node included), packets of `size` bytes and `exchanges` a cycle
 * (docs/theory.md). */
uint32_t peko__digest_timeout_cycles(uint64_t n_nodes, uint32_t size,
                                     uint32_t exchanges);

/* A rumor operation that does nothing (a later copy, for forward-once
 * strategies). */
void peko__ignore(peko_nodelist *nl, const peko__msg *m);

extern const peko__strategy peko__strategy_classic;
extern const peko__strategy peko__strategy_rumor;
extern const peko__strategy peko__strategy_digest;

#endif /* PEKO_STRATEGY_H */
