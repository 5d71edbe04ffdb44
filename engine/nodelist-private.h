/* nodelist-private.h: the node list's state (private to engine/). */
#ifndef PEKO_NODELIST_PRIVATE_H
#define PEKO_NODELIST_PRIVATE_H

#include <glib.h>

#include "peko.h"
#include "seen.h"
#include "wire.h"

/* One node as this node knows it. The local node is one too (nl->self),
 * but it is never in the peers array, so sampling peers never picks it. */
typedef struct peko__peer {
    peko_addr addr;          /* identity */
    uint32_t fingerprint;    /* peko_addr_fingerprint(&addr) */
    size_t index;            /* position in nl->peers */
    int64_t last_seen_us;    /* local monotonic time of the last refresh */
    bool has_heartbeat;      /* incarnation/seq below are meaningful */
    uint32_t incarnation;    /* of the newest heartbeat applied */
    uint32_t seq;
    uint8_t *name;           /* owned; not NUL-terminated on the wire */
    uint16_t name_len;
    uint8_t *data;           /* owned: the node's private data */
    uint16_t data_len;
} peko__peer;

struct peko_nodelist {
    peko_config config;      /* resolved; key pointers cleared */
    peko_env *env;           /* borrowed */
    peko_observer observer;  /* zeroed when nobody observes */
    void *observer_user;
    peko__keyring *keys;

    peko__peer self;         /* the local node */
    uint32_t incarnation;    /* drawn at creation: restarts change it */
    char listen[PEKO_ADDR_STRLEN]; /* for [Listen] lines */

    peko__peer **peers;      /* every other node, in no meaningful order */
    size_t n_peers;
    size_t peers_cap;
    GHashTable *by_addr;     /* peko_addr* (inside a peer) -> peko__peer* */

    peko__seen seen;         /* heartbeat rumor keys already seen */

    bool joined;
    bool running;            /* sending heartbeats (stop/start) */
    int64_t next_cycle_us;   /* deadline of the armed cycle timer */

    uint8_t *meta;           /* owned local metadata, or NULL */
    uint32_t meta_len;
    peko_version meta_version;

    uint8_t *tx;             /* encode buffer, config.size bytes */
    uint8_t *set_scratch;    /* infected set under construction */
    size_t set_scratch_cap;  /* in fingerprints */
    size_t *pick_scratch;    /* candidate peer indices for fan-out */
    size_t pick_scratch_cap;

    peko_stats stats;
};

/* The local node and every peer, ordered by address (as get() returns
 * them). The caller g_free()s the array, not the peers. */
const peko__peer **peko__nodelist_sorted(const peko_nodelist *nl,
                                         size_t *n_out);

/* Console lines in pekonode's format (print.c). Each does nothing unless
 * the node list was configured with is_print and the env can print. */
void peko__print_join(peko_nodelist *nl);
void peko__print_listen(peko_nodelist *nl);
void peko__print_stop_start(peko_nodelist *nl, bool stopped);
void peko__print_publish(peko_nodelist *nl);
void peko__print_swap(peko_nodelist *nl, bool request,
                      const peko_addr *requester, const peko_addr *responder);
void peko__print_error(peko_nodelist *nl, const char *what,
                       const peko_addr *peer);

#endif /* PEKO_NODELIST_PRIVATE_H */
