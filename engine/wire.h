/* wire.h: the binary wire format (private to engine/; docs/wire.md).
 *
 * Every packet: a 12-byte header, a body whose layout depends on the
 * message type, and, when signed, a 48-byte trailer: the sender's
 * incarnation, the receiver tag (whom the sender wrote it for) and the
 * sender's packet number, then an HMAC-SHA256 over everything before it. All integers are big-endian. The decoder checks every
 * length against the bytes actually present before reading, and never
 * changes anything but *out.
 */
#ifndef PEKO_WIRE_H
#define PEKO_WIRE_H

#include "peko.h"

#define PEKO__WIRE_MAGIC0 0x50 /* 'P' */
#define PEKO__WIRE_MAGIC1 0x4B /* 'K' */
#define PEKO__WIRE_VERSION PEKO_WIRE_VERSION
#define PEKO__WIRE_HEADER_BYTES PEKO_WIRE_HEADER_BYTES
#define PEKO__WIRE_MAC_BYTES 32
/* A signed packet's trailer: the sender's incarnation (u32), the
 * receiver tag (u32: peko__receiver_tag) and the sender's packet number
 * (u64), then the MAC over everything before it. */
#define PEKO__WIRE_FRESHNESS_BYTES 16
#define PEKO__WIRE_AUTH_BYTES (PEKO__WIRE_FRESHNESS_BYTES + PEKO__WIRE_MAC_BYTES)
#define PEKO__WIRE_FLAG_MAC 0x01u
/* Swap body flags. */
#define PEKO__WIRE_SWAP_META 0x01u  /* the metadata blob follows */
#define PEKO__WIRE_SWAP_RANGE 0x02u /* a fingerprint range follows */
/* Digest entry flags. */
#define PEKO__WIRE_ENTRY_FULL 0x01u /* name and data follow */
/* Smallest Size that still carries a signed heartbeat with no name, no
 * data and the infected set of a full default fan-out between IPv6
 * nodes. */
#define PEKO__WIRE_MIN_SIZE 132

typedef struct peko__keyring peko__keyring;

/* A decoded (or to-be-encoded) message. Pointers point into the packet
 * buffer on decode (borrowed) and are read from on encode. */
typedef struct peko__msg {
    size_t n_bytes;       /* decoded: the whole packet's length */
    peko_msg_type type;
    uint8_t hops;         /* forwards since the origin */
    peko_addr sender;     /* listen address of the node sending this copy */

    /* HEARTBEAT: the origin's record. */
    peko_addr origin;
    uint32_t incarnation; /* drawn at node start; changes on restart */
    uint32_t seq;         /* heartbeat counter within the incarnation */
    uint16_t rev;         /* the record's version (name and data) */
    const uint8_t *name;
    uint16_t name_len;
    const uint8_t *data;  /* the node's private data */
    uint16_t data_len;

    /* METADATA, SWAP_REQUEST, SWAP_RESPONSE. A metadata rumor always
     * carries the blob; a swap only when has_meta is set (otherwise only
     * the version, and meta/meta_len are empty). */
    peko_version version;
    /* SWAP_*: the sender's wall clock when it sent this, and a response's
     * copy of its request's sent_us (microseconds since the Unix epoch; 0
     * when unknown): a clock offset estimate (Cristian's method). */
    uint64_t sent_us;
    uint64_t echo_us;
    bool has_meta;
    const uint8_t *meta;
    uint32_t meta_len;

    /* HEARTBEAT, METADATA: the infected set, n_infected strictly
     * ascending 32-bit fingerprints (peko_addr_fingerprint), big-endian,
     * 4 bytes each, borrowed from the packet. */
    const uint8_t *infected;
    uint32_t n_infected;

    /* SWAP_REQUEST, SWAP_RESPONSE: the heartbeat digest. An optional
     * cyclic range of fingerprints [range_first, range_last] (inclusive;
     * range_last == range_first - 1 is the whole ring), then n_entries
     * entries (peko__entry) in entries_len bytes, validated on decode. */
    bool has_range;
    uint32_t range_first;
    uint32_t range_last;
    const uint8_t *entries;
    uint32_t entries_len;
    uint16_t n_entries;

    /* CHALLENGE, ECHO. */
    uint64_t nonce;

    /* Signed packets only: the freshness trailer (docs/wire.md): the
     * sender's incarnation, the receiver tag (0: a receiver whose
     * incarnation the sender does not know) and the sender's packet
     * number. */
    uint32_t auth_incarnation;
    uint32_t auth_receiver;
    uint64_t auth_number;
} peko__msg;

/* One digest entry: a node's heartbeat version, and its record when
 * `full` is set. */
typedef struct peko__entry {
    peko_addr addr;
    uint32_t incarnation;
    uint32_t seq;
    uint16_t rev;
    bool full;
    const uint8_t *name;
    uint16_t name_len;
    const uint8_t *data;
    uint16_t data_len;
} peko__entry;

/* Bytes *e takes on the wire. */
size_t peko__entry_bytes(const peko__entry *e);
/* Writes *e at p (room for peko__entry_bytes(e) bytes checked by the
 * caller; the address must be IPv4 or IPv6) and returns the end. */
uint8_t *peko__entry_write(uint8_t *p, const peko__entry *e);

/* Walks the entries of a decoded swap (which the decoder validated). */
typedef struct peko__entry_reader {
    const uint8_t *p;
    size_t left;
    uint16_t n;
} peko__entry_reader;

static inline void peko__entry_reader_init(peko__entry_reader *r,
                                           const peko__msg *m)
{
    r->p = m->entries;
    r->left = m->entries_len;
    r->n = m->n_entries;
}

/* The next entry into *out (borrowing from the packet); false after the
 * last one. */
bool peko__entry_next(peko__entry_reader *r, peko__entry *out);

/* True if fingerprint fp lies in the cyclic range [first, last]. */
static inline bool peko__range_contains(uint32_t first, uint32_t last,
                                        uint32_t fp)
{
    return fp - first <= last - first;
}

/* Decodes and authenticates one packet of n_bytes (at most max_bytes, the
 * configured Size). Returns PEKO_REJECT_NONE and fills *out, or the reason
 * for rejection (then *out is unspecified). Never reads outside
 * bytes[0, n_bytes). */
peko_reject peko__wire_decode(const uint8_t *bytes, size_t n_bytes,
                              size_t max_bytes, const peko__keyring *keys,
                              peko__msg *out);

/* Bytes that *msg would take with an empty infected set (header, body and
 * trailer as the keyring dictates). */
size_t peko__wire_size_without_set(const peko__msg *msg,
                                   const peko__keyring *keys);

/* Encodes *msg into buf (capacity cap_bytes), signing it with the
 * keyring's sending key if it has one (the trailer's freshness fields
 * from msg->auth_*). msg->infected must hold msg->n_infected ascending
 * fingerprints (big-endian, as on the wire). Returns the number of bytes
 * written, or 0 if it does not fit. */
size_t peko__wire_encode(const peko__msg *msg, const peko__keyring *keys,
                         uint8_t *buf, size_t cap_bytes);
/* As peko__wire_encode, but a signed packet's trailer is left for
 * peko__wire_seal() to fill (its bytes are unspecified until then): the
 * engine encodes a packet once and seals it for each receiver. */
size_t peko__wire_encode_unsealed(const peko__msg *msg,
                                  const peko__keyring *keys, uint8_t *buf,
                                  size_t cap_bytes);
/* Writes the freshness fields into the trailer of the signed packet at
 * buf (n_bytes, as the encoder wrote it) and signs it with the keyring's
 * sending key. The packet must be signed (flags bit 0) and the keyring
 * must have a sending key. */
void peko__wire_seal(uint8_t *buf, size_t n_bytes, const peko__keyring *keys,
                     uint32_t incarnation, uint32_t receiver,
                     uint64_t number);
/* The receiver tag of a packet written for the node `addr` in its
 * incarnation `incarnation` (docs/wire.md, "Freshness"): FNV-1a over the
 * address as encoded and the incarnation (big-endian), then fmix32; never
 * 0, which stands for "its incarnation is not known". */
uint32_t peko__receiver_tag(const peko_addr *addr, uint32_t incarnation);
/* True if the packet at bytes (as the encoder wrote it) is signed. */
static inline bool peko__wire_is_signed(const uint8_t *bytes)
{
    return (bytes[4] & PEKO__WIRE_FLAG_MAC) != 0;
}

/* Reads the origin address of what looks like a heartbeat, and, when seq
 * is not NULL, its sequence number (0 when the bytes end before it),
 * checking nothing else: for work ahead of decoding only. When the
 * packet then decodes as a heartbeat, its origin is this address (the
 * same bytes, read the same way). Returns false when the bytes cannot
 * hold one. Never reads outside bytes[0, n_bytes). */
bool peko__wire_peek_origin(const uint8_t *bytes, size_t n_bytes,
                            peko_addr *origin, uint32_t *seq);

/* True if the big-endian ascending set holds fingerprint fp (binary
 * search). */
bool peko__wire_set_contains(const uint8_t *set, uint32_t n, uint32_t fp);

/* Big-endian helpers shared by the codec and the engine. */
static inline uint32_t peko__get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* The position of the first of set[lo, hi) (big-endian, ascending) that
 * is not below v; hi if none. */
static inline uint32_t peko__wire_set_lower_bound(const uint8_t *set,
                                                  uint32_t lo, uint32_t hi,
                                                  uint32_t v)
{
    /* The answer lies in [base, base + len]. Each step halves len with a
     * conditional move rather than a branch: the comparisons go either
     * way at random, and a mispredicted branch costs more than the
     * fixed ceil(log2 n) steps. */
    uint32_t base = lo;
    uint32_t len = hi - lo;
    while (len > 1) {
        uint32_t half = len / 2;
        base = peko__get_u32(set + 4 * (size_t)(base + half - 1)) < v
                   ? base + half
                   : base;
        len -= half;
    }
    return base + (len == 1 && peko__get_u32(set + 4 * (size_t)base) < v);
}

static inline void peko__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------ */
/* The keyring (auth.c): HMAC-SHA256 with a sending key and accepted keys.
 * Secrets never travel; a packet names its key by a one-byte key id
 * (first byte of SHA-256 over "peko-key-id:" and the secret), and the
 * receiver tries each accepted key with that id. */

peko__keyring *peko__keyring_new(void);
void peko__keyring_free(peko__keyring *keys);
/* Replaces the keys; returns 0 or -EINVAL (more than PEKO_MAX_KEYS, or an
 * empty accepted key), leaving the keyring unchanged on error. */
int peko__keyring_set(peko__keyring *keys, const char *send_key,
                      const char *const *accepted, size_t accepted_count);
/* True if the keyring holds any key, sending or accepted: packets are then
 * required to be signed on receipt. */
bool peko__keyring_has_keys(const peko__keyring *keys);
/* True if packets are signed on send (there is a sending key). */
bool peko__keyring_has_send_key(const peko__keyring *keys);
/* The sending key's id (only meaningful when it has a sending key). */
uint8_t peko__keyring_send_id(const peko__keyring *keys);
/* Writes HMAC-SHA256(send key, bytes) into mac. */
void peko__keyring_sign(const peko__keyring *keys, const uint8_t *bytes,
                        size_t n_bytes, uint8_t mac[PEKO__WIRE_MAC_BYTES]);
/* True if some accepted key with id key_id (the sending key included)
 * verifies mac over bytes; compares in constant time. */
bool peko__keyring_verify(const peko__keyring *keys, uint8_t key_id,
                          const uint8_t *bytes, size_t n_bytes,
                          const uint8_t mac[PEKO__WIRE_MAC_BYTES]);

#endif /* PEKO_WIRE_H */
