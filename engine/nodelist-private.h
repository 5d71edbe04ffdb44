/* nodelist-private.h: the node list's state (private to engine/). */
#ifndef PEKO_NODELIST_PRIVATE_H
#define PEKO_NODELIST_PRIVATE_H

#include <glib.h>

#include "peers.h"
#include "peko.h"
#include "seen.h"
#include "wire.h"

/* The counters every rumor packet moves, by message type, side by side:
 * a heartbeat's all share one cache line with the rumor counters.
 * peko_nodelist_stats() merges them with the rest (nl->stats). */
typedef struct peko__traffic {
    uint64_t duplicates;
    uint64_t forwarded;
    struct {
        uint64_t received;
        uint64_t received_bytes;
        uint64_t sent;
        uint64_t sent_bytes;
    } by_type[PEKO_MSG_TYPE_COUNT - 1]; /* [message type - 1] */
} peko__traffic;

/* Laid out for the receive path. In a large cluster a node's state is
 * rarely still in cache when its next packet arrives, so what every
 * packet reads comes first and packs into four cache lines (the node list
 * is allocated on a line boundary; nodelist.c asserts the offsets): line
 * 0 the pointers and the peer table, line 1 the observer's per-packet
 * members, line 2 the config fields and the local address, line 3 a
 * heartbeat's counters. */
struct peko_nodelist {
    peko_env *env;           /* borrowed */
    peko__keyring *wire_keys; /* keys, or NULL while the keyring is empty:
                               * the codec then never reads it */
    void *observer_user;
    peko__peers peers;       /* every other node (peers.h) */
    peko_observer observer;  /* zeroed when nobody observes; starts 16
                              * bytes before line 1, so that its members
                              * from node_refreshed to packet_received
                              * fill that line */
    uint32_t size;           /* config.size, and */
    uint16_t amount;         /* config.amount (at most 1024), and */
    bool classic;            /* config.dissemination == CLASSIC: copies */
    peko__peer self;         /* the local node; never among the peers, so
                              * sampling peers never picks it */
    peko__traffic traffic;

    /* Colder: per cycle, per forward, or per call. */
    uint8_t *tx;             /* encode buffer, config.size bytes */
    uint8_t *set_scratch;    /* infected set under construction */
    size_t set_scratch_cap;  /* in fingerprints */
    uint32_t *pick_scratch;  /* fan-out picks, then candidates: amount
                              * entries, grown to amount + peers only
                              * when the exact phase needs them */
    size_t pick_scratch_cap;

    peko_config config;      /* resolved; key pointers cleared */
    peko__keyring *keys;
    uint32_t incarnation;    /* drawn at creation: restarts change it */
    char listen[PEKO_ADDR_STRLEN]; /* for [Listen] lines */

    peko__seen seen;         /* heartbeat rumor keys already seen */

    bool joined;
    bool running;            /* sending heartbeats (stop/start) */
    int64_t next_cycle_us;   /* deadline of the armed cycle timer */

    uint8_t *meta;           /* owned local metadata, or NULL */
    uint32_t meta_len;
    peko_version meta_version;

    peko_stats stats;        /* all but what `traffic` counts */
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
