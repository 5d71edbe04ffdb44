/* wire.h: the binary wire format (private to engine/; docs/wire.md).
 *
 * Every packet: a 12-byte header, a body whose layout depends on the
 * message type, and, when signed, a 32-byte HMAC-SHA256 trailer over the
 * header and body. All integers are big-endian. The decoder checks every
 * length against the bytes actually present before reading, and never
 * changes anything but *out.
 */
#ifndef PEKO_WIRE_H
#define PEKO_WIRE_H

#include "peko.h"

#define PEKO__WIRE_MAGIC0 0x50 /* 'P' */
#define PEKO__WIRE_MAGIC1 0x4B /* 'K' */
#define PEKO__WIRE_VERSION 1
#define PEKO__WIRE_HEADER_BYTES 12
#define PEKO__WIRE_MAC_BYTES 32
#define PEKO__WIRE_FLAG_MAC 0x01u
/* Smallest Size that still carries a signed heartbeat with no name, no
 * data and an empty infected set between IPv6 nodes. */
#define PEKO__WIRE_MIN_SIZE 128

typedef struct peko__keyring peko__keyring;

/* A decoded (or to-be-encoded) message. Pointers point into the packet
 * buffer on decode (borrowed) and are read from on encode. */
typedef struct peko__msg {
    peko_msg_type type;
    uint8_t hops;         /* forwards since the origin */
    peko_addr sender;     /* listen address of the node sending this copy */

    /* HEARTBEAT: the origin's record. */
    peko_addr origin;
    uint32_t incarnation; /* drawn at node start; changes on restart */
    uint32_t seq;         /* heartbeat counter within the incarnation */
    const uint8_t *name;
    uint16_t name_len;
    const uint8_t *data;  /* the node's private data */
    uint16_t data_len;

    /* METADATA, SWAP_REQUEST, SWAP_RESPONSE. */
    peko_version version;
    const uint8_t *meta;
    uint32_t meta_len;

    /* HEARTBEAT, METADATA: the infected set, n_infected strictly
     * ascending 32-bit fingerprints (peko_addr_fingerprint), big-endian,
     * 4 bytes each, borrowed from the packet. */
    const uint8_t *infected;
    uint32_t n_infected;
} peko__msg;

/* Decodes and authenticates one packet of n_bytes (at most max_bytes, the
 * configured Size). Returns PEKO_REJECT_NONE and fills *out, or the reason
 * for rejection (then *out is unspecified). Never reads outside
 * bytes[0, n_bytes). */
peko_reject peko__wire_decode(const uint8_t *bytes, size_t n_bytes,
                              size_t max_bytes, const peko__keyring *keys,
                              peko__msg *out);

/* Bytes that *msg would take with an empty infected set (header, body and
 * MAC as the keyring dictates). */
size_t peko__wire_size_without_set(const peko__msg *msg,
                                   const peko__keyring *keys);

/* Encodes *msg into buf (capacity cap_bytes), signing it with the
 * keyring's sending key if it has one. msg->infected must hold
 * msg->n_infected ascending fingerprints (big-endian, as on the wire).
 * Returns the number of bytes written, or 0 if it does not fit. */
size_t peko__wire_encode(const peko__msg *msg, const peko__keyring *keys,
                         uint8_t *buf, size_t cap_bytes);

/* Reads the origin address of what looks like a heartbeat, checking
 * nothing else: for work ahead of decoding only. When the packet then
 * decodes as a heartbeat, its origin is this address (the same bytes,
 * read the same way). Returns false when the bytes cannot hold one.
 * Never reads outside bytes[0, n_bytes). */
bool peko__wire_peek_origin(const uint8_t *bytes, size_t n_bytes,
                            peko_addr *origin);

/* True if the big-endian ascending set holds fingerprint fp (binary
 * search). */
bool peko__wire_set_contains(const uint8_t *set, uint32_t n, uint32_t fp);

/* Big-endian helpers shared by the codec and the engine. */
static inline uint32_t peko__get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
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
