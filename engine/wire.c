/* wire.c: encoding and decoding of peko packets (wire.h, docs/wire.md).
 *
 * The decoder faces the network, so it trusts nothing: every read is
 * preceded by a check against the bytes that remain, length arithmetic is
 * done in 64 bits where a 32-bit field is added to anything, and a packet
 * is authenticated before a single body field is looked at. It is also on
 * the simulator's hottest path (every delivered packet), so it allocates
 * nothing, copies nothing (strings and the infected set stay in the packet
 * and are borrowed) and rejects cheap faults before expensive ones.
 */
#include <string.h>

#include <glib.h>

#include "hash.h"
#include "wire.h"

#define ADDR4_BYTES (1 + 4 + 2)  /* family, ip, port */
#define ADDR6_BYTES (1 + 16 + 2)
#define FP_BYTES 4               /* one infected-set fingerprint */

/* ------------------------------------------------------------------ */
/* Reading.                                                             */

/* A cursor over the body: p advances, left counts what remains. Every
 * reader checks `left` first and returns TRUNCATED when a field would run
 * past the end of the body. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static inline peko_reject rd_u8(reader *r, uint8_t *v)
{
    if (r->left < 1)
        return PEKO_REJECT_TRUNCATED;
    *v = r->p[0];
    r->p += 1;
    r->left -= 1;
    return PEKO_REJECT_NONE;
}

static inline peko_reject rd_u16(reader *r, uint16_t *v)
{
    if (r->left < 2)
        return PEKO_REJECT_TRUNCATED;
    *v = (uint16_t)(((unsigned)r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return PEKO_REJECT_NONE;
}

static inline peko_reject rd_u32(reader *r, uint32_t *v)
{
    if (r->left < 4)
        return PEKO_REJECT_TRUNCATED;
    *v = peko__get_u32(r->p);
    r->p += 4;
    r->left -= 4;
    return PEKO_REJECT_NONE;
}

static inline peko_reject rd_u64(reader *r, uint64_t *v)
{
    if (r->left < 8)
        return PEKO_REJECT_TRUNCATED;
    *v = ((uint64_t)peko__get_u32(r->p) << 32) | peko__get_u32(r->p + 4);
    r->p += 8;
    r->left -= 8;
    return PEKO_REJECT_NONE;
}

/* Borrows n_bytes of the packet. n_bytes is at most 2^32 - 1 and compared
 * against what is left, never added to a pointer first. */
static inline peko_reject rd_bytes(reader *r, uint64_t n_bytes,
                                   const uint8_t **out)
{
    if (r->left < n_bytes)
        return PEKO_REJECT_TRUNCATED;
    *out = r->p;
    r->p += n_bytes;
    r->left -= (size_t)n_bytes;
    return PEKO_REJECT_NONE;
}

/* family u8 (4 or 6), then 4 or 16 ip bytes, then port u16. The result is
 * normalized (unused ip bytes and `zero` are 0), so memcmp and
 * peko_addr_compare agree on decoded addresses. */
static inline peko_reject rd_addr(reader *r, peko_addr *a)
{
    uint8_t family;
    peko_reject e = rd_u8(r, &family);
    if (e)
        return e;
    size_t n_ip;
    if (family == PEKO_AF_INET4)
        n_ip = 4;
    else if (family == PEKO_AF_INET6)
        n_ip = 16;
    else
        return PEKO_REJECT_BAD_ADDRESS;
    if (r->left < n_ip + 2)
        return PEKO_REJECT_TRUNCATED;
    memset(a, 0, sizeof *a);
    a->family = family;
    memcpy(a->ip, r->p, n_ip);
    a->port = (uint16_t)(((unsigned)r->p[n_ip] << 8) | r->p[n_ip + 1]);
    r->p += n_ip + 2;
    r->left -= n_ip + 2;
    return PEKO_REJECT_NONE;
}

/* count u32, then count fingerprints, strictly ascending (so the set has
 * no duplicates and can be binary-searched where it lies). */
static inline peko_reject rd_set(reader *r, const uint8_t **set, uint32_t *n)
{
    peko_reject e = rd_u32(r, n);
    if (e)
        return e;
    e = rd_bytes(r, (uint64_t)*n * FP_BYTES, set);
    if (e)
        return e;
    const uint8_t *s = *set;
    uint32_t prev = *n ? peko__get_u32(s) : 0;
    for (uint32_t i = 1; i < *n; i++) {
        uint32_t v = peko__get_u32(s + FP_BYTES * (size_t)i);
        if (v <= prev)
            return PEKO_REJECT_BAD_SET;
        prev = v;
    }
    return PEKO_REJECT_NONE;
}

/* A version with counter 0 means "no metadata yet". The encoder writes its
 * origin, which means nothing, as IPv4 0.0.0.0 port 0 when the caller left
 * it zeroed; the decoder turns that exact encoding back into the zeroed
 * address, so "no version" survives the wire unchanged. */
static bool is_no_version_origin(const peko_addr *a)
{
    static const peko_addr none4 = {.family = PEKO_AF_INET4};
    return memcmp(a, &none4, sizeof *a) == 0;
}

static inline peko_reject rd_version(reader *r, peko_version *v)
{
    peko_reject e = rd_u64(r, &v->counter);
    if (e)
        return e;
    e = rd_addr(r, &v->origin);
    if (e)
        return e;
    if (v->counter == 0 && is_no_version_origin(&v->origin))
        memset(&v->origin, 0, sizeof v->origin);
    return PEKO_REJECT_NONE;
}

#define TRY(expr)                                                            \
    do {                                                                     \
        peko_reject try_e_ = (expr);                                         \
        if (try_e_ != PEKO_REJECT_NONE)                                      \
            return try_e_;                                                   \
    } while (0)

/* One digest entry (docs/wire.md): flags, address, incarnation, seq,
 * rev, and name and data when flagged full. */
static inline peko_reject rd_entry(reader *r, peko__entry *e)
{
    uint8_t flags;
    TRY(rd_u8(r, &flags));
    if (flags & ~PEKO__WIRE_ENTRY_FULL)
        return PEKO_REJECT_BAD_FLAGS;
    TRY(rd_addr(r, &e->addr));
    TRY(rd_u32(r, &e->incarnation));
    TRY(rd_u32(r, &e->seq));
    TRY(rd_u16(r, &e->rev));
    e->full = (flags & PEKO__WIRE_ENTRY_FULL) != 0;
    e->name = e->data = NULL;
    e->name_len = e->data_len = 0;
    if (e->full) {
        TRY(rd_u16(r, &e->name_len));
        TRY(rd_bytes(r, e->name_len, &e->name));
        TRY(rd_u16(r, &e->data_len));
        TRY(rd_bytes(r, e->data_len, &e->data));
    }
    return PEKO_REJECT_NONE;
}

/* flags, then the metadata blob and the range when flagged, then the
 * entries, each checked in full so that walking them later cannot fail. */
static peko_reject rd_swap(reader *r, peko__msg *out)
{
    uint8_t flags;
    TRY(rd_u8(r, &flags));
    if (flags & ~(PEKO__WIRE_SWAP_META | PEKO__WIRE_SWAP_RANGE))
        return PEKO_REJECT_BAD_FLAGS;
    out->has_meta = (flags & PEKO__WIRE_SWAP_META) != 0;
    if (out->has_meta) {
        TRY(rd_u32(r, &out->meta_len));
        TRY(rd_bytes(r, out->meta_len, &out->meta));
    }
    out->has_range = (flags & PEKO__WIRE_SWAP_RANGE) != 0;
    if (out->has_range) {
        TRY(rd_u32(r, &out->range_first));
        TRY(rd_u32(r, &out->range_last));
    }
    TRY(rd_u16(r, &out->n_entries));
    out->entries = r->p;
    size_t before = r->left;
    for (uint16_t i = 0; i < out->n_entries; i++) {
        peko__entry e;
        TRY(rd_entry(r, &e));
    }
    out->entries_len = (uint32_t)(before - r->left);
    return PEKO_REJECT_NONE;
}

static peko_reject decode_body(reader *r, peko__msg *out)
{
    switch (out->type) {
    case PEKO_MSG_HEARTBEAT:
        TRY(rd_addr(r, &out->sender));
        TRY(rd_addr(r, &out->origin));
        TRY(rd_u32(r, &out->incarnation));
        TRY(rd_u32(r, &out->seq));
        TRY(rd_u16(r, &out->rev));
        TRY(rd_u16(r, &out->name_len));
        TRY(rd_bytes(r, out->name_len, &out->name));
        TRY(rd_u16(r, &out->data_len));
        TRY(rd_bytes(r, out->data_len, &out->data));
        TRY(rd_set(r, &out->infected, &out->n_infected));
        break;
    case PEKO_MSG_METADATA:
        TRY(rd_addr(r, &out->sender));
        TRY(rd_version(r, &out->version));
        TRY(rd_u32(r, &out->meta_len));
        TRY(rd_bytes(r, out->meta_len, &out->meta));
        out->has_meta = true;
        TRY(rd_set(r, &out->infected, &out->n_infected));
        break;
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        TRY(rd_addr(r, &out->sender));
        TRY(rd_version(r, &out->version));
        TRY(rd_u64(r, &out->sent_us));
        TRY(rd_u64(r, &out->echo_us));
        TRY(rd_swap(r, out));
        break;
    case PEKO_MSG_CHALLENGE:
    case PEKO_MSG_ECHO:
        TRY(rd_addr(r, &out->sender));
        TRY(rd_u64(r, &out->nonce));
        break;
    }
    if (r->left != 0)
        return PEKO_REJECT_TRAILING;
    return PEKO_REJECT_NONE;
}

bool peko__entry_next(peko__entry_reader *r, peko__entry *out)
{
    if (r->n == 0)
        return false;
    reader rd = {r->p, r->left};
    /* Validated by the decoder: this cannot fail. */
    if (rd_entry(&rd, out) != PEKO_REJECT_NONE)
        return false;
    r->p = rd.p;
    r->left = rd.left;
    r->n--;
    return true;
}

/* The order of checks is part of the contract (docs/wire.md): the size
 * limit first, so an oversize packet costs one comparison; then the header
 * fields in order; then the lengths; then the MAC, so no body field of an
 * unauthenticated packet is ever interpreted; then the body in order.
 * A NULL keyring is a keyring without keys. */
peko_reject peko__wire_decode(const uint8_t *bytes, size_t n_bytes,
                              size_t max_bytes, const peko__keyring *keys,
                              peko__msg *out)
{
    if (n_bytes > max_bytes)
        return PEKO_REJECT_OVERSIZE;
    if (n_bytes < PEKO__WIRE_HEADER_BYTES)
        return PEKO_REJECT_TRUNCATED;
    if (bytes[0] != PEKO__WIRE_MAGIC0 || bytes[1] != PEKO__WIRE_MAGIC1)
        return PEKO_REJECT_BAD_MAGIC;
    if (bytes[2] != PEKO__WIRE_VERSION)
        return PEKO_REJECT_BAD_VERSION;
    uint8_t type = bytes[3];
    if (type < PEKO_MSG_HEARTBEAT || type > PEKO_MSG_ECHO)
        return PEKO_REJECT_BAD_TYPE;
    uint8_t flags = bytes[4];
    uint8_t key_id = bytes[5];
    bool is_signed = (flags & PEKO__WIRE_FLAG_MAC) != 0;
    if ((flags & ~PEKO__WIRE_FLAG_MAC) != 0 || bytes[7] != 0 ||
        (!is_signed && key_id != 0))
        return PEKO_REJECT_BAD_FLAGS;

    /* 64-bit sum: a u32 body length plus 60 cannot wrap, even where size_t
     * is 32 bits. A length that claims more than Size could ever hold is a
     * bad length, not a packet that merely lost its tail. */
    uint32_t body_len = peko__get_u32(bytes + 8);
    uint64_t auth_len = is_signed ? PEKO__WIRE_AUTH_BYTES : 0;
    uint64_t need = PEKO__WIRE_HEADER_BYTES + (uint64_t)body_len + auth_len;
    if (need > (uint64_t)max_bytes)
        return PEKO_REJECT_BAD_LENGTH;
    if ((uint64_t)n_bytes < need)
        return PEKO_REJECT_TRUNCATED;
    if ((uint64_t)n_bytes > need)
        return PEKO_REJECT_TRAILING;

    size_t body_end = PEKO__WIRE_HEADER_BYTES + (size_t)body_len;
    size_t signed_len = body_end + PEKO__WIRE_FRESHNESS_BYTES;
    bool keyed = peko__keyring_has_keys(keys);
    if (keyed && !is_signed)
        return PEKO_REJECT_NO_MAC;
    if (!keyed && is_signed)
        return PEKO_REJECT_UNEXPECTED_MAC;
    if (is_signed && !peko__keyring_verify(keys, key_id, bytes, signed_len,
                                           bytes + signed_len))
        return PEKO_REJECT_BAD_MAC;

    memset(out, 0, sizeof *out);
    out->n_bytes = n_bytes;
    out->type = (peko_msg_type)type;
    out->hops = bytes[6];
    if (is_signed) {
        out->auth_incarnation = peko__get_u32(bytes + body_end);
        out->auth_receiver = peko__get_u32(bytes + body_end + 4);
        out->auth_number = ((uint64_t)peko__get_u32(bytes + body_end + 8)
                            << 32) |
                           peko__get_u32(bytes + body_end + 12);
    }
    reader r = {bytes + PEKO__WIRE_HEADER_BYTES, body_len};
    return decode_body(&r, out);
}

/* ------------------------------------------------------------------ */
/* Writing.                                                             */

static inline bool family_ok(uint8_t family)
{
    return family == PEKO_AF_INET4 || family == PEKO_AF_INET6;
}

/* Bytes an address takes on the wire. An address of unknown family is
 * sized as IPv4 (it can only be the zeroed origin of "no version", written
 * as IPv4; the encoder refuses it anywhere else). */
static inline uint64_t addr_bytes(const peko_addr *a)
{
    return a->family == PEKO_AF_INET6 ? ADDR6_BYTES : ADDR4_BYTES;
}

size_t peko__entry_bytes(const peko__entry *e)
{
    size_t n = 1 + (size_t)addr_bytes(&e->addr) + 4 + 4 + 2;
    if (e->full)
        n += 2 + (size_t)e->name_len + 2 + (size_t)e->data_len;
    return n;
}

/* Body bytes with n_infected fingerprints, or UINT64_MAX for an unknown
 * type. 64-bit: meta_len and 4 * n_infected may each approach 2^34. */
static uint64_t body_bytes(const peko__msg *msg, uint64_t n_infected)
{
    switch (msg->type) {
    case PEKO_MSG_HEARTBEAT:
        return addr_bytes(&msg->sender) + addr_bytes(&msg->origin) + 4 + 4 +
               2 + 2 + (uint64_t)msg->name_len + 2 + (uint64_t)msg->data_len +
               4 + FP_BYTES * n_infected;
    case PEKO_MSG_METADATA:
        return addr_bytes(&msg->sender) + 8 +
               addr_bytes(&msg->version.origin) + 4 +
               (uint64_t)msg->meta_len + 4 + FP_BYTES * n_infected;
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        return addr_bytes(&msg->sender) + 8 +
               addr_bytes(&msg->version.origin) + 8 + 8 + 1 +
               (msg->has_meta ? 4 + (uint64_t)msg->meta_len : 0) +
               (msg->has_range ? 8 : 0) + 2 + (uint64_t)msg->entries_len;
    case PEKO_MSG_CHALLENGE:
    case PEKO_MSG_ECHO:
        return addr_bytes(&msg->sender) + 8;
    }
    return UINT64_MAX;
}

static uint64_t packet_bytes(const peko__msg *msg, uint64_t n_infected,
                             const peko__keyring *keys)
{
    uint64_t body = body_bytes(msg, n_infected);
    if (body > UINT32_MAX)
        return UINT64_MAX;
    return PEKO__WIRE_HEADER_BYTES + body +
           (peko__keyring_has_send_key(keys) ? PEKO__WIRE_AUTH_BYTES : 0);
}

/* Saturates at SIZE_MAX for a message that could never be encoded (unknown
 * type, a body over 2^32 - 1 bytes), so "does it fit" tests say no. */
size_t peko__wire_size_without_set(const peko__msg *msg,
                                   const peko__keyring *keys)
{
    uint64_t n = packet_bytes(msg, 0, keys);
    return n > SIZE_MAX ? SIZE_MAX : (size_t)n;
}

/* The writer needs no bounds checks: the exact size is computed and
 * compared with the capacity before the first byte is written. */
static inline uint8_t *wr_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *wr_u32(uint8_t *p, uint32_t v)
{
    peko__put_u32(p, v);
    return p + 4;
}

static inline uint8_t *wr_u64(uint8_t *p, uint64_t v)
{
    peko__put_u32(p, (uint32_t)(v >> 32));
    peko__put_u32(p + 4, (uint32_t)v);
    return p + 8;
}

static inline uint8_t *wr_bytes(uint8_t *p, const uint8_t *src, size_t n)
{
    if (n > 0) /* src may be NULL when n is 0 */
        memcpy(p, src, n);
    return p + n;
}

static inline uint8_t *wr_addr(uint8_t *p, const peko_addr *a)
{
    if (!family_ok(a->family)) { /* the "no version" origin */
        *p++ = PEKO_AF_INET4;
        memset(p, 0, 4 + 2);
        return p + 4 + 2;
    }
    size_t n_ip = a->family == PEKO_AF_INET4 ? 4 : 16;
    *p++ = a->family;
    p = wr_bytes(p, a->ip, n_ip);
    return wr_u16(p, a->port);
}

static inline uint8_t *wr_version(uint8_t *p, const peko_version *v)
{
    p = wr_u64(p, v->counter);
    return wr_addr(p, &v->origin);
}

/* Refuses (returns 0) an unknown type, an address of unknown family (save
 * the origin of a version with counter 0, which stands for "no version"),
 * and anything that does not fit cap_bytes or a u32 body length. On
 * refusal buf may have been left untouched or partly written. The infected
 * set is copied as given: its order is the caller's promise. */
size_t peko__wire_encode_unsealed(const peko__msg *msg,
                                  const peko__keyring *keys, uint8_t *buf,
                                  size_t cap_bytes)
{
    if (!family_ok(msg->sender.family))
        return 0;
    if (msg->type == PEKO_MSG_HEARTBEAT && !family_ok(msg->origin.family))
        return 0;
    if (msg->type != PEKO_MSG_HEARTBEAT &&
        !family_ok(msg->version.origin.family) && msg->version.counter != 0)
        return 0;

    uint64_t n_set = msg->type == PEKO_MSG_HEARTBEAT ||
                             msg->type == PEKO_MSG_METADATA
                         ? msg->n_infected
                         : 0;
    uint64_t total = packet_bytes(msg, n_set, keys);
    if (total > (uint64_t)cap_bytes) /* also catches UINT64_MAX */
        return 0;
    bool is_signed = peko__keyring_has_send_key(keys);
    uint32_t body_len = (uint32_t)(total - PEKO__WIRE_HEADER_BYTES -
                                   (is_signed ? PEKO__WIRE_AUTH_BYTES : 0));

    uint8_t *p = buf;
    *p++ = PEKO__WIRE_MAGIC0;
    *p++ = PEKO__WIRE_MAGIC1;
    *p++ = PEKO__WIRE_VERSION;
    *p++ = (uint8_t)msg->type;
    *p++ = is_signed ? PEKO__WIRE_FLAG_MAC : 0;
    *p++ = is_signed ? peko__keyring_send_id(keys) : 0;
    *p++ = msg->hops;
    *p++ = 0; /* reserved */
    p = wr_u32(p, body_len);

    switch (msg->type) {
    case PEKO_MSG_HEARTBEAT:
        p = wr_addr(p, &msg->sender);
        p = wr_addr(p, &msg->origin);
        p = wr_u32(p, msg->incarnation);
        p = wr_u32(p, msg->seq);
        p = wr_u16(p, msg->rev);
        p = wr_u16(p, msg->name_len);
        p = wr_bytes(p, msg->name, msg->name_len);
        p = wr_u16(p, msg->data_len);
        p = wr_bytes(p, msg->data, msg->data_len);
        p = wr_u32(p, msg->n_infected);
        p = wr_bytes(p, msg->infected, (size_t)n_set * FP_BYTES);
        break;
    case PEKO_MSG_METADATA:
        p = wr_addr(p, &msg->sender);
        p = wr_version(p, &msg->version);
        p = wr_u32(p, msg->meta_len);
        p = wr_bytes(p, msg->meta, msg->meta_len);
        p = wr_u32(p, msg->n_infected);
        p = wr_bytes(p, msg->infected, (size_t)n_set * FP_BYTES);
        break;
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        p = wr_addr(p, &msg->sender);
        p = wr_version(p, &msg->version);
        p = wr_u64(p, msg->sent_us);
        p = wr_u64(p, msg->echo_us);
        *p++ = (uint8_t)((msg->has_meta ? PEKO__WIRE_SWAP_META : 0) |
                         (msg->has_range ? PEKO__WIRE_SWAP_RANGE : 0));
        if (msg->has_meta) {
            p = wr_u32(p, msg->meta_len);
            p = wr_bytes(p, msg->meta, msg->meta_len);
        }
        if (msg->has_range) {
            p = wr_u32(p, msg->range_first);
            p = wr_u32(p, msg->range_last);
        }
        p = wr_u16(p, msg->n_entries);
        p = wr_bytes(p, msg->entries, msg->entries_len);
        break;
    case PEKO_MSG_CHALLENGE:
    case PEKO_MSG_ECHO:
        p = wr_addr(p, &msg->sender);
        p = wr_u64(p, msg->nonce);
        break;
    }

    if (is_signed)
        p += PEKO__WIRE_AUTH_BYTES; /* sealed later */
    return (size_t)(p - buf);
}

void peko__wire_seal(uint8_t *buf, size_t n_bytes, const peko__keyring *keys,
                     uint32_t incarnation, uint32_t receiver,
                     uint64_t number)
{
    g_assert(n_bytes >= PEKO__WIRE_HEADER_BYTES + PEKO__WIRE_AUTH_BYTES &&
             peko__wire_is_signed(buf));
    uint8_t *p = buf + n_bytes - PEKO__WIRE_AUTH_BYTES;
    p = wr_u32(p, incarnation);
    p = wr_u32(p, receiver);
    p = wr_u64(p, number);
    size_t signed_len = (size_t)(p - buf);
    peko__keyring_sign(keys, buf, signed_len, p);
}

size_t peko__wire_encode(const peko__msg *msg, const peko__keyring *keys,
                         uint8_t *buf, size_t cap_bytes)
{
    size_t n = peko__wire_encode_unsealed(msg, keys, buf, cap_bytes);
    if (n > 0 && peko__keyring_has_send_key(keys))
        peko__wire_seal(buf, n, keys, msg->auth_incarnation,
                        msg->auth_receiver, msg->auth_number);
    return n;
}

/* The fingerprint's hash (addr.c) over the address and the incarnation:
 * a sender that knows both names its receiver in 32 bits, so that a
 * packet written for one node, or for one life of it, is not taken by
 * another. */
uint32_t peko__receiver_tag(const peko_addr *addr, uint32_t incarnation)
{
    uint8_t b[ADDR6_BYTES + 4];
    uint8_t *end = wr_addr(b, addr);
    end = wr_u32(end, incarnation);
    uint32_t h = peko__fmix32(
        peko__fnv1a32(PEKO__FNV32_BASIS, b, (size_t)(end - b)));
    return h != 0 ? h : 1;
}

uint8_t *peko__entry_write(uint8_t *p, const peko__entry *e)
{
    *p++ = e->full ? PEKO__WIRE_ENTRY_FULL : 0;
    p = wr_addr(p, &e->addr);
    p = wr_u32(p, e->incarnation);
    p = wr_u32(p, e->seq);
    p = wr_u16(p, e->rev);
    if (e->full) {
        p = wr_u16(p, e->name_len);
        p = wr_bytes(p, e->name, e->name_len);
        p = wr_u16(p, e->data_len);
        p = wr_bytes(p, e->data, e->data_len);
    }
    return p;
}

peko_msg_type peko_wire_type(const uint8_t *bytes, size_t n_bytes)
{
    if (n_bytes < 4 || bytes[0] != PEKO__WIRE_MAGIC0 ||
        bytes[1] != PEKO__WIRE_MAGIC1 || bytes[2] != PEKO__WIRE_VERSION ||
        bytes[3] < PEKO_MSG_HEARTBEAT || bytes[3] > PEKO_MSG_ECHO)
        return 0;
    return (peko_msg_type)bytes[3];
}

size_t peko_wire_packet_bytes(const uint8_t *header, peko_msg_type *type)
{
    const uint8_t *h = header;
    if (peko_wire_type(h, PEKO__WIRE_HEADER_BYTES) == 0 ||
        (h[4] & ~PEKO__WIRE_FLAG_MAC) || h[7] != 0)
        return 0;
    *type = (peko_msg_type)h[3];
    return PEKO__WIRE_HEADER_BYTES + (size_t)peko__get_u32(h + 8) +
           ((h[4] & PEKO__WIRE_FLAG_MAC) ? PEKO__WIRE_AUTH_BYTES : 0);
}

bool peko__wire_peek_origin(const uint8_t *bytes, size_t n_bytes,
                            peko_addr *origin, uint32_t *seq)
{
    /* The body starts with the sender's address, then the origin's:
     * family, 4 or 16 ip bytes, port. */
    size_t at = PEKO__WIRE_HEADER_BYTES;
    if (n_bytes < at + ADDR4_BYTES || bytes[3] != PEKO_MSG_HEARTBEAT)
        return false;
    at += bytes[at] == PEKO_AF_INET6 ? ADDR6_BYTES : ADDR4_BYTES;
    if (n_bytes < at + ADDR4_BYTES)
        return false;
    const uint8_t *p = bytes + at;
    memset(origin, 0, sizeof *origin);
    origin->family = p[0];
    if (p[0] == PEKO_AF_INET4) {
        memcpy(origin->ip, p + 1, 4);
        p += 1 + 4;
    } else if (p[0] == PEKO_AF_INET6 && n_bytes >= at + ADDR6_BYTES) {
        memcpy(origin->ip, p + 1, 16);
        p += 1 + 16;
    } else {
        return false;
    }
    origin->port = (uint16_t)(((unsigned)p[0] << 8) | p[1]);
    p += 2;
    if (seq != NULL)
        *seq = p + 8 <= bytes + n_bytes ? peko__get_u32(p + 4) : 0;
    return true;
}

/* Binary search over the big-endian entries where they lie in the packet:
 * no copy, no allocation. */
bool peko__wire_set_contains(const uint8_t *set, uint32_t n, uint32_t fp)
{
    uint32_t k = peko__wire_set_lower_bound(set, 0, n, fp);
    return k < n && peko__get_u32(set + 4 * (size_t)k) == fp;
}
