/* peko.h: the public interface of the peko gossip engine (libpeko).
 *
 * peko keeps pekonode's model and API: a node list that synchronizes itself
 * by heartbeat rumors with a fan-out and an infected set, expires silent
 * nodes, and spreads one cluster-wide metadata blob by rumor plus an
 * anti-entropy swap with one random peer per cycle.
 *
 * The engine is sans-I/O. It never reads a clock, draws a random number or
 * touches a socket: it sees the world only through a peko_env (time, timers,
 * sending, randomness, console) and reports what happens through a
 * peko_observer. Inputs are peko_nodelist_on_packet() and
 * peko_nodelist_on_timer(). The same object runs on real sockets
 * (transport/), in the simulator (sim/) or in a unit test.
 *
 * Conventions: functions returning int return 0 or a negative errno value.
 * Buffers passed in are borrowed for the call. Nothing here is thread-safe:
 * one node list is driven from one thread (its environment's).
 */
#ifndef PEKO_H
#define PEKO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PEKO_BUILDING_LIBRARY) && defined(__GNUC__)
#define PEKO_API __attribute__((visibility("default")))
#else
#define PEKO_API
#endif

#define PEKO_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ */
/* Defaults: exactly pekonode's.                                        */

#define PEKO_DEFAULT_AMOUNT 3                  /* fan-out */
#define PEKO_DEFAULT_CYCLE_US (6 * 1000000LL)  /* heartbeat and swap period */
#define PEKO_DEFAULT_SIZE 16384                /* max packet, bytes */
#define PEKO_DEFAULT_LISTEN_ADDR "0.0.0.0"
#define PEKO_TIMEOUT_EXTRA_US (2 * 1000000LL)  /* timeout = cycle*3 + 2 s */
#define PEKO_DEFAULT_SEEN_CACHE 16384          /* rumor keys remembered */

/* ------------------------------------------------------------------ */
/* Addresses. A node's identity is its address and port.                */

enum { PEKO_AF_INET4 = 4, PEKO_AF_INET6 = 6 };

/* Large enough for "[ffff:...:ffff]:65535" and a NUL. */
#define PEKO_ADDR_STRLEN 56
/* Large enough for a numeric IPv6 host and a NUL. */
#define PEKO_HOST_STRLEN 48

/* peko_addr_parse() and the decoder leave the zero byte and the ip bytes
 * a family does not use at 0; comparisons ignore them anyway. */
typedef struct peko_addr {
    uint8_t family;   /* PEKO_AF_INET4 or PEKO_AF_INET6 */
    uint8_t zero;     /* 0 */
    uint16_t port;    /* host byte order */
    uint8_t ip[16];   /* network order; IPv4 uses ip[0..3], rest is 0 */
} peko_addr;

/* Parses a numeric IPv4 or IPv6 host ("10.0.0.1", "::1"; "" means
 * 127.0.0.1, as pekonode's empty Addr means this machine) and a port.
 * Returns 0, or -EINVAL and leaves *out zeroed. */
PEKO_API int peko_addr_parse(const char *host, uint16_t port, peko_addr *out);
/* Writes "host" (no port) into buf; always NUL-terminates. */
PEKO_API void peko_addr_host(const peko_addr *addr, char buf[PEKO_HOST_STRLEN]);
/* Writes "10.0.0.1:8000" or "[::1]:8000" into buf. */
PEKO_API void peko_addr_format(const peko_addr *addr, char buf[PEKO_ADDR_STRLEN]);
/* Total order: family, then ip bytes, then port. */
PEKO_API int peko_addr_compare(const peko_addr *a, const peko_addr *b);
PEKO_API bool peko_addr_equal(const peko_addr *a, const peko_addr *b);
/* 32-bit fingerprint used in infected sets (docs/wire.md). Never 0. */
PEKO_API uint32_t peko_addr_fingerprint(const peko_addr *addr);

/* ------------------------------------------------------------------ */
/* Nodes, as pekonode's Node {Addr, Port, Name, PrivateData}.           */

typedef struct peko_node {
    const char *addr;         /* numeric IP; "" means 127.0.0.1 */
    uint16_t port;
    const char *name;         /* NULL means "" */
    const char *private_data; /* NULL means "" */
} peko_node;

/* An array of nodes returned by peko_nodelist_get(): it owns its strings. */
typedef struct peko_node_array {
    peko_node *nodes;
    size_t count;
} peko_node_array;

PEKO_API void peko_node_array_clear(peko_node_array *array);

/* ------------------------------------------------------------------ */
/* Configuration: pekonode's NodeList fields. Zero values mean default,  */
/* so `peko_config c = {0};` is pekonode's default configuration.        */

typedef enum peko_protocol {
    PEKO_PROTOCOL_UDP = 0,
    PEKO_PROTOCOL_TCP = 1,
} peko_protocol;

/* How heartbeats and metadata spread (DESIGN.md section 3: one seam,
 * several strategies; docs/protocol.md compares them). */
typedef enum peko_dissemination {
    PEKO_DISSEMINATION_RUMOR = 0,   /* heartbeat rumors forwarded once, and
                                     * heartbeat anti-entropy in the swap
                                     * (the default) */
    PEKO_DISSEMINATION_CLASSIC = 1, /* pekonode exactly: every copy of a
                                     * rumor forwarded, no repair */
    PEKO_DISSEMINATION_DIGEST = 2,  /* no packet per heartbeat: versions
                                     * exchanged with a few peers a cycle
                                     * (Scuttlebutt-style digests); joins
                                     * and metadata by rumor */
    PEKO_DISSEMINATION_COUNT
} peko_dissemination;

/* "rumor", "classic", "digest"; NULL for an unknown value. */
PEKO_API const char *peko_dissemination_name(peko_dissemination d);
/* Parses a name above (case-insensitive). Returns 0 or -EINVAL. */
PEKO_API int peko_dissemination_parse(const char *name,
                                      peko_dissemination *out);

/* The limits of every setting, whatever sets it (a scenario file, `peko
 * node`'s flags or file, a program); peko_config_check() enforces them. */
#define PEKO_MAX_KEYS 8                 /* sending key plus accepted keys */
#define PEKO_MAX_AMOUNT 1024            /* fan-out */
#define PEKO_MIN_CYCLE_US 1000          /* 1 ms */
#define PEKO_MAX_CYCLE_US (86400LL * 1000000LL) /* a day */
#define PEKO_MAX_TIMEOUT_US (365LL * 86400LL * 1000000LL) /* a year */
#define PEKO_MAX_BUFFER 1000000         /* receive queue, packets */
#define PEKO_MIN_SIZE 132               /* smallest packet that carries a
                                         * signed IPv6 heartbeat */
#define PEKO_MAX_SIZE_UDP 65507         /* largest UDP payload */
#define PEKO_MAX_SIZE (64 * 1024 * 1024) /* TCP messages */
#define PEKO_MAX_SEEN_CACHE (1 << 24)   /* rumor keys */
#define PEKO_MAX_EXCHANGES 16           /* digest: peers a cycle */
/* digest: announcements (join and restart rumors) a node forwards a
 * cycle, in fan-outs; it lists the rest without forwarding them, so a
 * wave of N joins costs 2 f^2 packets a node a cycle, not f N^2 in all
 * (docs/protocol.md). */
#define PEKO_DIGEST_ANNOUNCE_FANOUTS 2
#define PEKO_DEFAULT_MAX_MEMBERS 65536
#define PEKO_MAX_MEMBERS (1 << 30)

typedef struct peko_config {
    int amount;          /* fan-out; 0 means 3 */
    int64_t cycle_us;    /* 0 means 6 s */
    int buffer;          /* receive queue bound in packets; 0 means amount*3
                          * (enforced by the environment) */
    int size;            /* max packet in bytes; 0 means 16384 */
    int64_t timeout_us;  /* node expiry; if <= cycle, cycle*3 + 2 s, except
                          * with `digest`, where 0 means "scaled with the
                          * list's size" (docs/protocol.md) */
    const char *secret_key;  /* sending key; NULL or "" means none */
    const char *const *accepted_keys; /* further keys accepted on receipt;
                                       * only with a secret_key */
    size_t accepted_key_count;
    peko_protocol protocol;
    const char *listen_addr; /* NULL means "0.0.0.0" (used by transports) */
    bool is_print;           /* console lines in pekonode's format */
    peko_dissemination dissemination;
    int seen_cache;          /* rumor keys kept for duplicate suppression;
                              * 0 means 16384 */
    int exchanges;           /* digest: peers a node exchanges versions
                              * with each cycle; 0 means 1 */
    int max_members;         /* peers listed at most (tombstones
                              * included); 0 means 65536. When full, a
                              * newcomer may only take the place of a
                              * member never verified (docs/protocol.md) */
    uint32_t incarnation;    /* this run's incarnation, which must grow
                              * from one start of a node to the next; 0
                              * means the environment's wall clock in
                              * milliseconds (or a random draw without
                              * one); a result of 0 becomes 1 */
} peko_config;

/* The digest strategy's default timeout for a list of n_nodes nodes (the
 * local one included) under *config (its size, exchanges and cycle), as
 * docs/theory.md derives it; a digest node recomputes it every cycle
 * from its list when config->timeout_us is 0. */
PEKO_API int64_t peko_digest_timeout_us(size_t n_nodes,
                                        const peko_config *config);

/* Fills *config with every default written out (not zeros). */
PEKO_API void peko_config_init(peko_config *config);
/* Returns the effective configuration: zero fields replaced by defaults.
 * Strings are borrowed from *in. Returns -EINVAL when a field is out of
 * range (negative values, size below the smallest useful packet);
 * peko_config_check() says which. */
PEKO_API int peko_config_resolve(const peko_config *in, peko_config *out);
/* Returns 0 if peko_config_resolve() accepts *in; otherwise -EINVAL, and
 * writes into why (n_why bytes, always NUL-terminated; may be NULL) a
 * sentence that starts with the offending field's name, e.g. "size: 100
 * bytes is below the smallest packet, 132 bytes". */
PEKO_API int peko_config_check(const peko_config *in, char *why,
                               size_t n_why);

/* ------------------------------------------------------------------ */
/* Messages, rumors and metadata versions.                              */

typedef enum peko_msg_type {
    PEKO_MSG_HEARTBEAT = 1,
    PEKO_MSG_METADATA = 2,
    PEKO_MSG_SWAP_REQUEST = 3,
    PEKO_MSG_SWAP_RESPONSE = 4,
    PEKO_MSG_CHALLENGE = 5, /* "prove you receive at this address" */
    PEKO_MSG_ECHO = 6,      /* the answer to a challenge */
} peko_msg_type;
#define PEKO_MSG_TYPE_COUNT 7 /* index 0 unused */

PEKO_API const char *peko_msg_type_name(peko_msg_type type);

/* The wire format (docs/wire.md), for tools that find packets in
 * captured traffic. */
#define PEKO_WIRE_VERSION 2
#define PEKO_WIRE_HEADER_BYTES 12

/* The message type of a packet of this wire version, from its first
 * n_bytes bytes (at most 4 are read), or 0 when they do not begin one of
 * a known type. */
PEKO_API peko_msg_type peko_wire_type(const uint8_t *bytes, size_t n_bytes);
/* If the PEKO_WIRE_HEADER_BYTES bytes at `header` are the header of a
 * packet of this wire version, returns the packet's whole length (header,
 * body and trailer) and sets *type; otherwise returns 0. Checks the
 * magic, version, type, flags and reserved byte, nothing else: the
 * packet itself may still be malformed. */
PEKO_API size_t peko_wire_packet_bytes(const uint8_t *header,
                                       peko_msg_type *type);

/* Why a packet was rejected. Every rejection is counted and reported. */
typedef enum peko_reject {
    PEKO_REJECT_NONE = 0,
    PEKO_REJECT_TRUNCATED,      /* shorter than its header or a length says */
    PEKO_REJECT_OVERSIZE,       /* longer than the configured Size */
    PEKO_REJECT_BAD_MAGIC,      /* not a peko packet */
    PEKO_REJECT_BAD_VERSION,    /* wire version this build does not speak */
    PEKO_REJECT_BAD_TYPE,       /* unknown message type */
    PEKO_REJECT_BAD_FLAGS,      /* reserved bits set */
    PEKO_REJECT_BAD_LENGTH,     /* a length field overflows or disagrees */
    PEKO_REJECT_BAD_ADDRESS,    /* unknown address family */
    PEKO_REJECT_BAD_SET,        /* infected set not strictly ascending */
    PEKO_REJECT_TRAILING,       /* bytes left over after the last field */
    PEKO_REJECT_NO_MAC,         /* we require a key, the packet has none */
    PEKO_REJECT_UNEXPECTED_MAC, /* we have no key, the packet is signed */
    PEKO_REJECT_BAD_MAC,        /* no accepted key verifies the HMAC */
    PEKO_REJECT_REPLAY,         /* signed, but not fresh: already accepted,
                                 * older than the anti-replay window, or
                                 * addressed to an earlier incarnation of
                                 * this node (docs/wire.md, "Freshness") */
    PEKO_REJECT_COUNT
} peko_reject;

PEKO_API const char *peko_reject_name(peko_reject reason);

/* A metadata version: a logical counter, ties broken by the publisher's
 * address. Newer means larger (counter, origin). Never a wall clock. */
typedef struct peko_version {
    uint64_t counter; /* 0 means "no metadata yet" */
    peko_addr origin;
} peko_version;

/* Returns <0, 0, >0 as a is older than, equal to, newer than b. */
PEKO_API int peko_version_compare(const peko_version *a, const peko_version *b);

/* A rumor: a heartbeat of `origin` (id = incarnation << 32 | sequence) or
 * a metadata version published by `origin` (id = version counter). */
typedef struct peko_rumor {
    peko_msg_type kind; /* PEKO_MSG_HEARTBEAT or PEKO_MSG_METADATA */
    peko_addr origin;
    uint64_t id;
} peko_rumor;

/* ------------------------------------------------------------------ */
/* The environment: the engine's only window on the world.              */

#define PEKO_ENV_VERSION 4

/* Timer identifiers the engine arms. */
typedef enum peko_timer {
    PEKO_TIMER_CYCLE = 0, /* heartbeat, swap and expiry sweep */
    PEKO_TIMER_COUNT
} peko_timer;

/* Peer records shared between node lists (env version 3): an address,
 * a name and private data, held once however many node lists know them.
 * Which number a record gets never decides anything a node list does,
 * so sharing a table or not gives the same behaviour bit for bit. */
typedef struct peko_records peko_records;

/* An empty table. Cannot fail (aborts when memory runs out). */
PEKO_API peko_records *peko_records_new(void);
/* Frees the table; every node list using it must be freed first.
 * NULL is a no-op. */
PEKO_API void peko_records_free(peko_records *records);

typedef struct peko_env peko_env;
struct peko_env {
    int version;  /* PEKO_ENV_VERSION; methods are only ever appended */
    void *user;   /* the environment's own state */

    /* Monotonic time in microseconds. Never goes backwards. */
    int64_t (*now_us)(peko_env *env);
    /* Arms timer `timer` to fire at `deadline_us` (now_us time base),
     * replacing any earlier deadline for the same id. When it fires the
     * environment calls peko_nodelist_on_timer(). Returns 0 or -errno. */
    int (*timer_arm)(peko_env *env, peko_timer timer, int64_t deadline_us);
    /* Cancels a timer; cancelling an unarmed timer is a no-op. */
    void (*timer_cancel)(peko_env *env, peko_timer timer);
    /* Hands one message to the network. `bytes` is borrowed for the call.
     * Must not call back into the same node list before returning (queue
     * the delivery instead). Returns 0 when accepted (not necessarily
     * delivered) or -errno. */
    int (*send)(peko_env *env, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes);
    /* 64 uniformly random bits from this node's own seeded stream. */
    uint64_t (*random_u64)(peko_env *env);
    /* Writes one console line (no trailing newline); the environment adds
     * the wall-clock timestamp. May be NULL: lines are then dropped. */
    void (*print)(peko_env *env, const char *line);

    /* Version 2. */

    /* Wall-clock time in microseconds since the Unix epoch, read at
     * creation to number this run's incarnation and, with a key, the
     * first of its packet numbers (docs/wire.md, "Freshness"), so that
     * both grow from one run of a node to the next. May be NULL. */
    int64_t (*wall_us)(peko_env *env);

    /* Version 3. */

    /* The table of peer records (address, name, private data) this node
     * list shares with others, so that N node lists that know the same
     * N peers hold each record once instead of N times (a simulator's
     * engines). Borrowed: it must outlive every node list given it, and
     * they must all run on one thread. May be NULL: the node list then
     * keeps a table of its own. */
    peko_records *records;

    /* Version 4. */

    /* The value random_u64() will return k calls from now (k = 0: the
     * next one), without taking it or any other. The engine reads its
     * coming draws this way to fetch the peers a forward will pick
     * before it picks them (a simulator's thousands of peer tables do
     * not stay in cache); nothing it decides depends on what it peeks.
     * May be NULL. */
    uint64_t (*random_peek)(peko_env *env, unsigned k);
};

/* ------------------------------------------------------------------ */
/* The observer: what happens, as it happens. Every member may be NULL.  */

#define PEKO_OBSERVER_VERSION 2

typedef struct peko_observer {
    int version; /* PEKO_OBSERVER_VERSION */

    /* A peer entered the list (by heartbeat, set() or a swap sender). */
    void (*node_added)(void *user, const peko_addr *node);
    /* A heartbeat of a known peer refreshed its entry. */
    void (*node_refreshed)(void *user, const peko_addr *node);
    /* A peer was removed after Timeout without a heartbeat. */
    void (*node_expired)(void *user, const peko_addr *node);
    /* This node originated a rumor (its own heartbeat, or a publish). */
    void (*rumor_created)(void *user, const peko_rumor *rumor);
    /* First receipt of a rumor; hops counts forwards since the origin. */
    void (*rumor_first_seen)(void *user, const peko_rumor *rumor,
                             unsigned hops, const peko_addr *from);
    /* A further copy of a rumor already seen (or older than known). */
    void (*rumor_duplicate)(void *user, const peko_rumor *rumor,
                            unsigned hops, const peko_addr *from);
    /* The local metadata changed to `version`; via is the message type
     * that carried it (METADATA, SWAP_REQUEST, SWAP_RESPONSE), or 0 for
     * a local publish. */
    void (*metadata_applied)(void *user, const peko_version *version,
                             peko_msg_type via, size_t n_bytes);
    void (*packet_sent)(void *user, peko_msg_type type, const peko_addr *to,
                        size_t n_bytes);
    void (*packet_received)(void *user, peko_msg_type type,
                            const peko_addr *from, size_t n_bytes);
    void (*packet_rejected)(void *user, peko_reject reason,
                            const peko_addr *from, size_t n_bytes);

    /* Version 2. */

    /* A newer heartbeat of rumor->origin learned from an anti-entropy
     * exchange rather than from its rumor: via is SWAP_REQUEST or
     * SWAP_RESPONSE, from the packet's sender. */
    void (*heartbeat_learned)(void *user, const peko_rumor *rumor,
                              peko_msg_type via, const peko_addr *from);
    /* An answer to one of this node's swaps carried the peer's wall
     * clock: the peer's clock reads offset_us ahead of this node's (behind
     * when negative), within +- error_us (Cristian's method: half the
     * round trip). Needs env->wall_us on both sides. */
    void (*clock_offset)(void *user, const peko_addr *peer,
                         int64_t offset_us, int64_t error_us);
} peko_observer;

/* ------------------------------------------------------------------ */
/* Counters, for stats and tests.                                       */

typedef struct peko_stats {
    uint64_t sent[PEKO_MSG_TYPE_COUNT];          /* packets by type */
    uint64_t sent_bytes[PEKO_MSG_TYPE_COUNT];
    uint64_t send_failed;                        /* env->send() < 0 */
    uint64_t received[PEKO_MSG_TYPE_COUNT];      /* accepted packets */
    uint64_t received_bytes[PEKO_MSG_TYPE_COUNT];
    uint64_t rejected[PEKO_REJECT_COUNT];        /* by reason */
    uint64_t rejected_bytes;
    uint64_t duplicates;                         /* rumor copies not new */
    uint64_t forwarded;                          /* rumor forwards sent */
    uint64_t infected_truncated;                 /* sets cut to fit Size */
    uint64_t nodes_added;
    uint64_t nodes_expired;
    uint64_t repaired;            /* peers refreshed by anti-entropy */
    uint64_t reconnect_attempts;  /* swaps to seeds or removed members */
    uint64_t members_refused;     /* newcomers refused: the list was full */
    uint64_t members_evicted;     /* unverified members replaced by one */
    uint64_t challenges_sent;     /* address validations asked */
    uint64_t verified;            /* peers that proved their address */
    uint64_t cookies_refused;     /* echoes that proved nothing */
    uint64_t digest_entries_sent; /* entries in swaps sent */
    uint64_t digest_truncated;    /* swaps cut to fit Size */
    /* With a key (docs/wire.md, "Freshness"). */
    uint64_t parked;              /* packets held until the receiver's
                                   * incarnation is known */
    uint64_t parked_dropped;      /* held packets given up (room, age) */
    uint64_t fresh_evicted;       /* senders whose window was forgotten
                                   * to bound memory */
    uint64_t announcements_held;  /* digest: join announcements taken but
                                   * not forwarded, the cycle's forwards
                                   * spent (docs/protocol.md) */
} peko_stats;

/* ------------------------------------------------------------------ */
/* The node list (pekonode's NodeList).                                 */

typedef struct peko_nodelist peko_nodelist;

/* Creates a node list for `local`, driven by `env` (borrowed: it must
 * outlive the node list). Copies everything else it needs. The node list
 * does nothing until join(). Returns 0 and sets *out, or -EINVAL for a bad
 * config, local address or env version (*out is then NULL). */
PEKO_API int peko_nodelist_new(const peko_config *config,
                               const peko_node *local, peko_env *env,
                               peko_nodelist **out);
/* Cancels its timers and frees it. NULL is a no-op. */
PEKO_API void peko_nodelist_free(peko_nodelist *nl);

/* Routes observer events to `observer` (copied) with `user`. NULL turns
 * observation off. */
PEKO_API void peko_nodelist_set_observer(peko_nodelist *nl,
                                         const peko_observer *observer,
                                         void *user);

/* Seeds the list with a known node (pekonode's Set). Setting the local
 * node or a node already listed only updates its name and data.
 * Returns 0 or -EINVAL for a bad address. */
PEKO_API int peko_nodelist_set(peko_nodelist *nl, const peko_node *node);
/* Starts heartbeats, swaps and expiry (pekonode's Join): the first cycle
 * runs at once. Returns 0, -EALREADY if already joined, or the env's
 * timer error. */
PEKO_API int peko_nodelist_join(peko_nodelist *nl);
/* Copies the current list, local node included, ordered by address.
 * The caller clears the array with peko_node_array_clear(). */
PEKO_API void peko_nodelist_get(const peko_nodelist *nl,
                                peko_node_array *out);
/* Number of nodes in the list, local node included. */
PEKO_API size_t peko_nodelist_count(const peko_nodelist *nl);
/* True if the list holds `addr`. */
PEKO_API bool peko_nodelist_contains(const peko_nodelist *nl,
                                     const peko_addr *addr);
/* Stops sending heartbeats (pekonode's Stop). The node still receives,
 * forwards and swaps, so it stays useful while others expire it. */
PEKO_API void peko_nodelist_stop(peko_nodelist *nl);
/* Resumes heartbeats (pekonode's Start). */
PEKO_API void peko_nodelist_start(peko_nodelist *nl);
/* True while heartbeats are being sent. */
PEKO_API bool peko_nodelist_is_running(const peko_nodelist *nl);
/* Publishes new cluster metadata (copied). Returns 0, or -EMSGSIZE when a
 * metadata packet carrying it could not fit in Size. */
PEKO_API int peko_nodelist_publish(peko_nodelist *nl, const uint8_t *data,
                                   size_t n_bytes);
/* Returns the local metadata (borrowed; valid until the next call into the
 * node list) and its length; NULL and 0 before any metadata. */
PEKO_API const uint8_t *peko_nodelist_read(const peko_nodelist *nl,
                                           size_t *n_bytes_out);
/* The version of the local metadata (counter 0 before any). */
PEKO_API void peko_nodelist_metadata_version(const peko_nodelist *nl,
                                             peko_version *out);
/* Replaces the keyring: `send_key` signs outgoing packets (NULL or ""
 * means unsigned), `accepted` are further keys accepted on receipt. At
 * most PEKO_MAX_KEYS keys in all. Accepted keys without a sending key are
 * refused: such a node would send unsigned packets that every keyed node,
 * itself included, rejects. Returns 0 or -EINVAL (keyring unchanged). */
PEKO_API int peko_nodelist_set_keys(peko_nodelist *nl, const char *send_key,
                                    const char *const *accepted,
                                    size_t accepted_count);
PEKO_API void peko_nodelist_stats(const peko_nodelist *nl, peko_stats *out);
PEKO_API const peko_addr *peko_nodelist_local_addr(const peko_nodelist *nl);
/* The effective configuration (defaults resolved; key strings omitted). */
PEKO_API void peko_nodelist_config(const peko_nodelist *nl, peko_config *out);

/* Inputs, called by the environment. */

/* One datagram (UDP) or framed message (TCP) from `from` (for TCP, the
 * peer's connection address; the packet names its sender's listen
 * address). `bytes` is borrowed. Malformed input is rejected and counted,
 * never trusted. */
PEKO_API void peko_nodelist_on_packet(peko_nodelist *nl, const peko_addr *from,
                                      const uint8_t *bytes, size_t n_bytes);
/* A hint, for an environment that knows which packets it will hand over
 * next (the simulator's event queue): starts fetching what
 * peko_nodelist_on_packet() will read for `bytes` (borrowed, unchecked),
 * so that the fetch overlaps the events before it. `stage` 0 fetches the
 * lookup's first lines (and the first two lines of the observer's user
 * data), stage 1 (called later, once those have had time to arrive) the
 * entries they lead to, stage 2 (later again) the records those entries
 * name and, when the packet looks like news to the node, the peers its
 * forward will draw (env->random_peek, if given); other stages do
 * nothing. Reads, never
 * writes: no state and no result changes, whatever the bytes; a packet
 * never delivered costs only the fetch. */
PEKO_API void peko_nodelist_prefetch(const peko_nodelist *nl,
                                     const uint8_t *bytes, size_t n_bytes,
                                     unsigned stage);
/* The same in two halves, for an environment that fetches one packet
 * ahead for several receivers or stages: what the hint needs from the
 * bytes, computed once per packet (0 when there is nothing to fetch;
 * reads bytes[0, n_bytes) only, never trusts them), and the hint given
 * that key. peko_nodelist_prefetch(nl, b, n, s) is
 * peko_nodelist_prefetch_key(nl, peko_prefetch_key(b, n), s). */
PEKO_API uint64_t peko_prefetch_key(const uint8_t *bytes, size_t n_bytes);
PEKO_API void peko_nodelist_prefetch_key(const peko_nodelist *nl,
                                         uint64_t key, unsigned stage);
/* A timer armed with env->timer_arm() fired. */
PEKO_API void peko_nodelist_on_timer(peko_nodelist *nl, peko_timer timer);

#ifdef __cplusplus
}
#endif

#endif /* PEKO_H */
