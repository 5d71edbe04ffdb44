/* strategy.h: the dissemination seam (private to engine/).
 *
 * How heartbeats and metadata spread is a strategy: a table of operations
 * that the node list calls at the points where strategies differ (DESIGN.md
 * section 3). Everything else, decoding, membership, metadata versions,
 * target choice and forwarding, is shared and lives in the other files;
 * a strategy composes those pieces.
 *
 *   classic  pekonode exactly: every copy of a rumor is forwarded (the
 *            measurement baseline);
 *   rumor    forward-once rumors (the default).
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
} peko__strategy;

/* Indexed by peko_dissemination. */
extern const peko__strategy *const peko__strategies[PEKO_DISSEMINATION_COUNT];

static inline const peko__strategy *peko__strategy_of(const peko_nodelist *nl)
{
    return peko__strategies[nl->strategy];
}

extern const peko__strategy peko__strategy_classic;
extern const peko__strategy peko__strategy_rumor;

#endif /* PEKO_STRATEGY_H */
