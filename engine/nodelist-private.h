/* nodelist-private.h: the node list's state and the functions the engine's
 * files share (private to engine/).
 *
 * The node list is split by job: nodelist.c holds the public API, the
 * life cycle and the dispatch of inputs; membership.c the peers, their
 * heartbeat versions and expiry; metadata.c the cluster metadata;
 * spread.c target choice and forwarding; strategy-*.c what each
 * dissemination strategy does with those (strategy.h, the seam).
 */
#ifndef PEKO_NODELIST_PRIVATE_H
#define PEKO_NODELIST_PRIVATE_H

#include <glib.h>

#include "peers.h"
#include "peko.h"
#include "seen.h"
#include "wire.h"

/* An address tried again now and then (reconnect.c). */
typedef struct peko__reconnect {
    peko_addr addr;
    int64_t next_us;         /* the next attempt, no earlier */
    int64_t noted_us;        /* when it was set or removed */
    uint32_t backoff;        /* cycles until the attempt after next */
    bool seed;               /* set(): never given up */
    bool removed;            /* removed at the version below */
    uint32_t incarnation;    /* its last heartbeat version when removed */
    uint32_t seq;
} peko__reconnect;

/* Freshness of signed packets (fresh.c): a side structure that exists
 * only once a signed packet is sent or received. */
typedef struct peko__fresh peko__fresh;

/* At most this many swaps a cycle are matched with their answers; also
 * the most peers a digest node exchanges with in one cycle. */
#define PEKO__AE_OUTSTANDING 16
/* Gaps in the list remembered for the next cycle's requests, and the
 * pieces one cut-short answer's remainder is asked in at most. */
#define PEKO__AE_GAPS 8
#define PEKO__AE_GAP_PIECES 4
/* Requesters that metadata was held back from (an unproven address gets
 * no more bytes than it sent) and that get it once they echo the
 * challenge: the oldest is forgotten beyond this; a forgotten one asks
 * again at its next swap. */
#define PEKO__OWED_MAX 8

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
 * 0 the environment and the peer table, line 1 the observer's per-packet
 * members, line 2 the config fields, the codec's keys and the local
 * node's entry, line 3 the rest of that entry and a heartbeat's
 * counters. */
struct peko_nodelist {
    peko_env *env;           /* borrowed */
    peko__peers peers;       /* every other node (peers.h) */
    peko_observer observer;  /* zeroed when nobody observes; starts 16
                              * bytes before line 1, so that its members
                              * from node_refreshed to packet_received
                              * fill that line */
    void *observer_user;
    uint32_t size;           /* config.size, and */
    uint16_t amount;         /* config.amount (at most 1024), and */
    uint8_t strategy;        /* config.dissemination: index into
                              * peko__strategies (strategy.h) */
    peko__keyring *wire_keys; /* keys, or NULL while the keyring is empty:
                               * the codec then never reads it */
    peko__peer self;         /* the local node; never among the peers, so
                              * sampling peers never picks it. Every
                              * heartbeat received is checked against its
                              * address (its handle ends line 2) */
    peko__traffic traffic;

    /* Colder: per cycle, per forward, or per call. */
    uint32_t *pick_scratch;  /* fan-out picks, then candidates: amount
                              * entries, grown to amount + peers only
                              * when the exact phase needs them */
    size_t pick_scratch_cap;

    peko_config config;      /* resolved; key pointers cleared */
    peko__keyring *keys;
    uint32_t incarnation;    /* drawn at creation: restarts change it */
    char listen[PEKO_ADDR_STRLEN]; /* for [Listen] lines */

    peko__seen seen;         /* heartbeat rumor keys already seen */
    int64_t timeout_us;      /* effective expiry: config.timeout_us, or
                              * digest's scaled one (membership.c) */

    /* Anti-entropy (antientropy.c). */
    uint32_t ae_cursor;      /* where the next request's range starts */
    struct {                 /* ranges where this node lacks peers that
                              * `from` holds: an answer of `from` cut
                              * short by Size left them out, or `from`
                              * named one without its record */
        peko_addr from;
        uint32_t first;
        uint32_t last;
    } ae_gaps[PEKO__AE_GAPS];
    uint32_t ae_n_gaps;
    struct {                 /* swaps sent this cycle, to match answers */
        peko_addr to;
        uint32_t range_first;
        uint32_t range_last;
        bool has_range;
        uint64_t sent_us;    /* the request's wall clock, which an answer
                              * returns: an answer that does comes from
                              * `to` (it received our request there) */
    } ae_out[PEKO__AE_OUTSTANDING + 1]; /* + a reconnection attempt */
    uint32_t digest_live_before; /* live peers at the last cycle */
    uint8_t digest_sweeps_left;  /* sweeps a cycle still to make: set
                                  * while the list grows fast */
    uint32_t digest_forwards_left; /* announcements this node may still
                                  * forward this cycle */
    uint32_t ae_n_out;
    peko__reconnect *rc;     /* seeds and removed members (reconnect.c) */
    uint32_t rc_n;
    uint32_t rc_cap;         /* grown by doubling to RECONNECT_MAX */
    uint64_t cookie_secret[2]; /* address validation (verify.c) */
    peko__fresh *fresh;      /* with a key: windows, parked packets */
    uint64_t fresh_number;   /* the last packet number signed */
    uint32_t fresh_tag;      /* our receiver tag (wire.h) */
    uint64_t cycles;         /* cycles run since join */
    bool announce;           /* digest: spread a heartbeat rumor at the
                              * next cycle (joined, started, record) */

    bool joined;
    bool running;            /* sending heartbeats (stop/start) */
    int64_t next_cycle_us;   /* deadline of the armed cycle timer */

    peko_records *own_records; /* the records of peers.records when the
                              * env gives none (owned), or NULL */

    uint8_t *meta;           /* owned local metadata, or NULL */
    uint32_t meta_len;
    peko_version meta_version;
    /* Metadata held back from unproven requesters (verify.c), sent when
     * they echo; cold, so near the end. */
    struct {
        peko_addr to;         /* family 0: a free slot */
        peko_version version; /* what the requester held */
    } owed[PEKO__OWED_MAX];
    uint32_t owed_next;       /* the slot the next one takes (a ring) */

    peko_stats stats;        /* all but what `traffic` counts */
};

/* The local node's address. */
static inline const peko_addr *peko__self_addr(const peko_nodelist *nl)
{
    return peko__peer_addr(&nl->peers, &nl->self);
}

#define PEKO__OBSERVE(nl, member, ...)                                       \
    do {                                                                     \
        if ((nl)->observer.member)                                           \
            (nl)->observer.member((nl)->observer_user, __VA_ARGS__);         \
    } while (0)

/* Hops saturate rather than wrap: a 255 is "far", never "near". */
#define PEKO__HOPS_MAX 255

static inline int64_t peko__now_us(peko_nodelist *nl)
{
    return nl->env->now_us(nl->env);
}

/* The wall clock, for swap timestamps; 0 when the environment has none. */
static inline uint64_t peko__wall_us(peko_nodelist *nl)
{
    if (nl->env->version < 2 || nl->env->wall_us == NULL)
        return 0;
    int64_t t = nl->env->wall_us(nl->env);
    return t > 0 ? (uint64_t)t : 0;
}

/* ------------------------------------------------------------------ */
/* nodelist.c                                                           */

/* Hands one finished packet to env->send() and counts it; a failed send
 * is counted in send_failed and printed, nothing else. */
void peko__send_raw(peko_nodelist *nl, peko_msg_type type,
                    const peko_addr *to, const uint8_t *bytes,
                    size_t n_bytes);
/* Sends one packet as peko__wire_encode_unsealed() wrote it: a signed
 * one is sealed for `to` first (fresh.c), or parked until the receiver's
 * incarnation is known. `request`: the packet this one answers (NULL for
 * none): a reply is sealed for the requester it names, in the
 * incarnation it came from. The bytes are rewritten in place (the
 * trailer), so one encoding serves several receivers. */
void peko__send_packet(peko_nodelist *nl, peko_msg_type type,
                       const peko_addr *to, uint8_t *bytes, size_t n_bytes,
                       const peko__msg *request);
/* Work space of n_bytes for the length of one call: encodings, infected
 * sets, a swap's entries. Lent by the table of records, which node lists
 * that share it (a simulator's engines) share too (records.h); handed
 * back with peko__work_return() before the call returns. */
static inline void *peko__work_borrow(peko_nodelist *nl, size_t n_bytes)
{
    return peko__records_scratch_borrow(nl->peers.records, n_bytes);
}

static inline void peko__work_return(peko_nodelist *nl, void *work)
{
    peko__records_scratch_return(nl->peers.records, work);
}

/* Encodes *msg into a borrowed buffer, which the caller hands back with
 * peko__work_return(), and stores its length in *n_bytes. A message that
 * does not fit Size is counted in send_failed and printed (about `to`,
 * which may be NULL): then NULL. */
uint8_t *peko__encode(peko_nodelist *nl, const peko__msg *msg,
                      const peko_addr *to, size_t *n_bytes);
/* Encodes *msg and sends it to `to`; a message that does not fit Size is
 * never sent (peko__encode). */
void peko__send_msg(peko_nodelist *nl, const peko__msg *msg,
                    const peko_addr *to);
/* The same for an answer to `request` (sent to `to`, its reply
 * address). */
void peko__send_reply(peko_nodelist *nl, const peko__msg *msg,
                      const peko_addr *to, const peko__msg *request);

/* The local node and every peer, ordered by address (as get() returns
 * them). The caller g_free()s the array, not the peers. */
const peko__peer **peko__nodelist_sorted(const peko_nodelist *nl,
                                         size_t *n_out);

/* ------------------------------------------------------------------ */
/* membership.c                                                         */

/* The record of `addr`, or NULL. */
peko__peer *peko__peer_find(const peko_nodelist *nl, const peko_addr *addr);
/* Adds `addr` (not listed) as refreshed at now_us; tells the observer. */
peko__peer *peko__peer_add(peko_nodelist *nl, const peko_addr *addr,
                           int64_t now_us);
/* Removes every peer not refreshed within the timeout. */
void peko__expire_peers(peko_nodelist *nl, int64_t now_us);

/* What a received heartbeat rumor meant to the membership. */
typedef struct peko__heartbeat_seen {
    bool first;   /* the first copy of this rumor to reach this node */
    bool ours;    /* about the local node (never listed as a peer) */
} peko__heartbeat_seen;

/* Applies a heartbeat rumor to the list: adds its origin, refreshes it
 * when the heartbeat is newer than what is known, and tells the observer
 * whether the copy was the first. origin_fp is the origin's
 * fingerprint. */
peko__heartbeat_seen peko__heartbeat_receive(peko_nodelist *nl,
                                             const peko__msg *m,
                                             uint32_t origin_fp);
/* True if heartbeat version (incarnation, seq) comes after (than_*), by
 * the strategy's rule. */
bool peko__version_after(const peko_nodelist *nl, uint32_t incarnation,
                         uint32_t seq, uint32_t than_incarnation,
                         uint32_t than_seq);
/* True if heartbeat version (incarnation, seq) is newer than the peer's
 * (always, for a peer without one), by the strategy's rule. */
bool peko__version_newer(const peko_nodelist *nl, const peko__peer *peer,
                         uint32_t incarnation, uint32_t seq);
/* A digest entry describing `peer` (its record too when `full`), borrowing
 * the peer's text. */
void peko__entry_of_peer(const peko_nodelist *nl, const peko__peer *peer,
                         bool full, peko__entry *e);
/* True if record version (incarnation, rev) comes after (than_*). */
bool peko__record_after(uint32_t incarnation, uint16_t rev,
                        uint32_t than_incarnation, uint16_t than_rev);
/* True if the entry's record version is newer than the peer's. */
bool peko__entry_record_newer(const peko__entry *e, const peko__peer *peer);
/* What peko__entry_apply() did with an entry. */
typedef enum peko__applied {
    PEKO__APPLIED_NOTHING = 0, /* not newer, or not to be listed */
    PEKO__APPLIED_TAKEN,       /* listed or refreshed the node */
    PEKO__APPLIED_UNKNOWN,     /* the version of a node this one does
                                * not list (removed or not): its record
                                * is missing here */
} peko__applied;
/* Applies a digest entry (fp: its address's fingerprint) learned from
 * `from` by a message of type `via`: lists the node if unknown and the
 * entry carries its record, refreshes it if the entry's heartbeat is
 * newer. */
peko__applied peko__entry_apply(peko_nodelist *nl, const peko__entry *e,
                                uint32_t fp, peko_msg_type via,
                                const peko_addr *from, int64_t now_us);

/* The local node's heartbeat message (its current sequence number). */
void peko__heartbeat_fill(peko_nodelist *nl, peko__msg *msg);
/* Advances the local heartbeat sequence and returns the new heartbeat as
 * a rumor this node originates (seen-cache and observer told). */
void peko__heartbeat_next(peko_nodelist *nl, int64_t now_us, peko__msg *msg);

/* ------------------------------------------------------------------ */
/* metadata.c                                                           */

/* True if `version` is real (counter > 0) and newer than ours. */
bool peko__metadata_is_newer(const peko_nodelist *nl,
                             const peko_version *version);
/* True if ours is real and newer than `version`. */
bool peko__metadata_is_newer_than(const peko_nodelist *nl,
                                  const peko_version *version);
/* Replaces the local metadata (data copied) and tells the observer; via
 * is the message type that carried it, 0 for a local publish. */
void peko__metadata_apply(peko_nodelist *nl, const uint8_t *data,
                          uint32_t n_bytes, const peko_version *version,
                          peko_msg_type via);
/* Adopts the metadata a message carries if it is newer; via as above.
 * Returns true if it was adopted. */
bool peko__metadata_adopt(peko_nodelist *nl, const peko__msg *m,
                          peko_msg_type via);
/* A message of `type` carrying the local metadata (and its version). */
void peko__metadata_fill(peko_nodelist *nl, peko__msg *msg,
                         peko_msg_type type);
/* A metadata rumor arrived: applies it if newer and tells the observer.
 * Returns true if it was new. */
bool peko__metadata_receive(peko_nodelist *nl, const peko__msg *m);

/* ------------------------------------------------------------------ */
/* antientropy.c: heartbeat digests in swaps (docs/protocol.md).        */


/* Sends a swap request with this node's metadata version and digest to
 * the live peer of entry e, or to an address (known or not). */
void peko__ae_request(peko_nodelist *nl, uint32_t e);
void peko__ae_request_to(peko_nodelist *nl, const peko_addr *addr);
/* Sends up to `max` requests for the gaps in the list that cut-short
 * answers left or packets named (digest), each to the peer that holds
 * what is missing.
 * Returns how many it sent. */
uint32_t peko__ae_request_gaps(peko_nodelist *nl, uint32_t max);
/* How many entries from the oldest a staleness check looks at, passing
 * over the tombstones among them. */
#define PEKO__STALE_LOOK 64
/* Whether a live peer was last refreshed (or, never heard from, listed)
 * before before_us. */
bool peko__ae_has_stale(const peko_nodelist *nl, int64_t before_us);
/* The entries of the peers listed before before_us and never heard from
 * since, among the PEKO__STALE_LOOK oldest, into out, oldest first;
 * returns how many. */
uint32_t peko__ae_unheard(const peko_nodelist *nl, int64_t before_us,
                          uint32_t out[PEKO__STALE_LOOK]);
/* Sends the live peer of entry to_e a swap request that lists only the
 * peers last refreshed before before_us (oldest first, within Size) and,
 * unless `unheard` is PEKO__ENTRY_NONE, the range of that entry's
 * fingerprint alone (it has no version to list); otherwise no range: a
 * targeted ask for the heartbeats this node missed. */
void peko__ae_ask_stale(peko_nodelist *nl, uint32_t to_e, int64_t before_us,
                        uint32_t unheard);
/* Answers a swap request from `from`: applies its entries, replies with
 * what the requester lacks or holds older, and settles the metadata. */
void peko__ae_on_request(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from);
/* Applies a swap response (or a metadata push). */
void peko__ae_on_response(peko_nodelist *nl, const peko__msg *m,
                          const peko_addr *from);
/* Forgets the swaps sent in the previous cycle. */
void peko__ae_new_cycle(peko_nodelist *nl);

/* ------------------------------------------------------------------ */
/* verify.c: address validation                                         */

/* Draws the cookie secret (ordered strategies, at creation). */
void peko__verify_init(peko_nodelist *nl);
/* True if `addr` proved it receives there (always, with a key). */
bool peko__is_verified(const peko_nodelist *nl, const peko_addr *addr);
/* Marks the listed peer at `addr` as proven. */
void peko__verify_mark(peko_nodelist *nl, const peko_addr *addr);
/* Where replies to a packet from `from` go: its source (UDP), or over TCP,
 * where the source is a connection's ephemeral port, the listen address
 * the packet names, but only on the source's own host. False when there
 * is no such address: then nothing is sent. */
bool peko__reply_address(const peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from, peko_addr *out);
/* Bytes of a challenge from this node. */
size_t peko__challenge_bytes(const peko_nodelist *nl);
/* Sends `to` a challenge to echo. */
void peko__challenge(peko_nodelist *nl, const peko_addr *to);
/* Remembers that metadata newer than `version` was held back from the
 * unproven `to`, so that its echo to the challenge brings it. */
void peko__verify_owe_metadata(peko_nodelist *nl, const peko_addr *to,
                               const peko_version *version);
void peko__on_challenge(peko_nodelist *nl, const peko__msg *m,
                        const peko_addr *from);
void peko__on_echo(peko_nodelist *nl, const peko__msg *m,
                   const peko_addr *from);

/* ------------------------------------------------------------------ */
/* fresh.c: freshness of signed packets (docs/wire.md, "Freshness")     */

/* Sets the first packet number (at creation). */
void peko__fresh_init(peko_nodelist *nl);
/* Frees the side structure, parked packets included. */
void peko__fresh_free(peko_nodelist *nl);
/* Seals the signed packet at bytes for `to` (or, answering `request`,
 * for its sender): its trailer gets our incarnation, the receiver's tag
 * and the next packet number. Returns false when the receiver's
 * incarnation is unknown: the packet is then parked (copied) and a hello
 * sent instead, and the caller sends nothing. Challenges are never
 * parked. */
bool peko__fresh_seal(peko_nodelist *nl, peko_msg_type type,
                      const peko_addr *to, uint8_t *bytes, size_t n_bytes,
                      const peko__msg *request);
/* Judges a signed packet whose MAC verified and whose body decoded:
 * PEKO_REJECT_NONE (its sender's window now holds it) or
 * PEKO_REJECT_REPLAY; *ask is then set when its sender should be
 * challenged (peko__fresh_refused). */
peko_reject peko__fresh_check(peko_nodelist *nl, const peko__msg *m,
                              bool *ask);
/* After a refusal that asks: challenges the sender (at most once a cycle
 * each), so that it learns our incarnation or proves its own. */
void peko__fresh_refused(peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from);
/* Once a cycle: parked packets too old are given up. */
void peko__fresh_cycle(peko_nodelist *nl);

/* ------------------------------------------------------------------ */
/* reconnect.c                                                          */

/* Remembers `addr` to try again while it is not listed: a seed (for
 * ever) or a member just removed. */
void peko__reconnect_note(peko_nodelist *nl, const peko_addr *addr,
                          bool seed, int64_t now_us);
/* The same for a member just removed, with its last heartbeat version. */
void peko__reconnect_note_removed(peko_nodelist *nl, const peko_addr *addr,
                                  uint32_t incarnation, uint32_t seq,
                                  int64_t now_us);
/* Whether a record of `addr` at this heartbeat version is one this node
 * removed (or older), remembered beyond its tombstone: it must not list
 * the node again (docs/protocol.md, "Tombstones"). */
bool peko__reconnect_was_removed(const peko_nodelist *nl,
                                 const peko_addr *addr, uint32_t incarnation,
                                 uint32_t seq);
/* Sends one swap request to a remembered address that is due. */
void peko__reconnect_cycle(peko_nodelist *nl, int64_t now_us);

/* ------------------------------------------------------------------ */
/* spread.c                                                             */

/* Uniform integer in [0, n), n > 0, from the node's stream. */
uint64_t peko__random_below(peko_nodelist *nl, uint64_t n);
/* An entry number of the peer table drawn uniformly among the live
 * peers (there must be one). */
uint32_t peko__draw_peer_entry(peko_nodelist *nl);
/* Starts fetching the entries the next draws would pick (up to `amount`
 * of them), when the environment can tell its coming random values
 * (env->random_peek); draws nothing. */
void peko__prefetch_draws(const peko_nodelist *nl);
/* Distinct live peers' entry numbers in out, `want` in all at most: the
 * first `given` are chosen already, the rest drawn with
 * peko__draw_peer_entry(), repeats skipped, a bounded number of times.
 * Returns how many out holds. */
uint32_t peko__draw_distinct_peers(peko_nodelist *nl, uint32_t want,
                                   uint32_t *out, uint32_t given);
/* Grows the pick scratch to hold `need` entries (grow only). */
void peko__ensure_pick_scratch(peko_nodelist *nl, size_t need);
/* Sends *msg to up to `amount` peers not in the carried infected set,
 * after adding the local node and the chosen targets to the set (kept
 * within Size, docs/wire.md). Returns the number of packets sent. */
size_t peko__spread(peko_nodelist *nl, peko__msg *msg, const uint8_t *carried,
                    uint32_t n_carried);
/* Forwards a received rumor: one more hop, sent by this node, to up to
 * `amount` peers not in its infected set. */
void peko__forward(peko_nodelist *nl, const peko__msg *in);

/* ------------------------------------------------------------------ */
/* print.c: console lines in pekonode's format. Each does nothing unless */
/* the node list was configured with is_print and the env can print.     */

void peko__print_join(peko_nodelist *nl);
void peko__print_listen(peko_nodelist *nl);
void peko__print_stop_start(peko_nodelist *nl, bool stopped);
void peko__print_publish(peko_nodelist *nl);
void peko__print_swap(peko_nodelist *nl, bool request,
                      const peko_addr *requester, const peko_addr *responder);
void peko__print_error(peko_nodelist *nl, const char *what,
                       const peko_addr *peer);

#endif /* PEKO_NODELIST_PRIVATE_H */
