/* addr.c: node addresses, their fingerprint, and the names of message
 * types and rejection reasons (peko.h).
 *
 * An address is a node's identity, so everything here is pure and
 * deterministic: the fingerprint travels in infected sets (docs/wire.md)
 * and must be the same on every machine that speaks the protocol.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "peko.h"

/* Bytes of ip[] an address actually uses: 4 for IPv4, 16 otherwise (an
 * unknown family is compared on all 16 bytes, so it still orders). */
static inline size_t addr_ip_bytes(const peko_addr *addr)
{
    return addr->family == PEKO_AF_INET4 ? 4 : 16;
}

/* Accepts NULL like "" (the other string fields of peko_node treat NULL as
 * ""), so a caller that leaves addr unset gets this machine, as pekonode's
 * empty Addr does. On failure *out is all zero (family 0 is no family), so
 * a caller that ignores the error cannot send to a half-parsed address. */
int peko_addr_parse(const char *host, uint16_t port, peko_addr *out)
{
    memset(out, 0, sizeof *out);
    if (host == NULL || host[0] == '\0')
        host = "127.0.0.1";

    /* inet_pton only converts text to bytes; it opens no socket and reads
     * no resolver, so the engine stays pure. Names are not accepted:
     * resolving them is the transport's business. */
    uint8_t ip[16];
    if (inet_pton(AF_INET, host, ip) == 1) {
        out->family = PEKO_AF_INET4;
        memcpy(out->ip, ip, 4);
    } else if (inet_pton(AF_INET6, host, ip) == 1) {
        out->family = PEKO_AF_INET6;
        memcpy(out->ip, ip, 16);
    } else {
        return -EINVAL;
    }
    out->port = port;
    return 0;
}

/* An address of unknown family (a zeroed one, say) prints as "invalid"
 * rather than as something that looks routable. */
void peko_addr_host(const peko_addr *addr, char buf[PEKO_HOST_STRLEN])
{
    const char *s = NULL;
    if (addr->family == PEKO_AF_INET4)
        s = inet_ntop(AF_INET, addr->ip, buf, PEKO_HOST_STRLEN);
    else if (addr->family == PEKO_AF_INET6)
        s = inet_ntop(AF_INET6, addr->ip, buf, PEKO_HOST_STRLEN);
    if (s == NULL)
        snprintf(buf, PEKO_HOST_STRLEN, "invalid");
}

void peko_addr_format(const peko_addr *addr, char buf[PEKO_ADDR_STRLEN])
{
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(addr, host);
    /* Brackets keep the port separable from an IPv6 host (RFC 3986). */
    if (addr->family == PEKO_AF_INET6)
        snprintf(buf, PEKO_ADDR_STRLEN, "[%s]:%u", host, (unsigned)addr->port);
    else
        snprintf(buf, PEKO_ADDR_STRLEN, "%s:%u", host, (unsigned)addr->port);
}

/* Only the bytes the family uses take part, so an IPv4 address with stray
 * bytes in ip[4..15] still equals its clean copy (the fingerprint agrees). */
int peko_addr_compare(const peko_addr *a, const peko_addr *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    int c = memcmp(a->ip, b->ip, addr_ip_bytes(a));
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    return 0;
}

bool peko_addr_equal(const peko_addr *a, const peko_addr *b)
{
    /* On the receive path of every packet: constant-size compares the
     * compiler inlines, and only the ip bytes the family uses. */
    if (a->family != b->family || a->port != b->port)
        return false;
    if (a->family == PEKO_AF_INET6)
        return memcmp(a->ip, b->ip, 16) == 0;
    return memcmp(a->ip, b->ip, 4) == 0;
}

/* FNV-1a (32-bit) over the address as it is laid out on the wire (family,
 * the 4 or 16 used ip bytes, port big-endian), then MurmurHash3's fmix32
 * finalizer: FNV-1a alone leaves consecutive ports and hosts close in the
 * high bits, and the infected set is searched and the node list hashed by
 * this value. 0 is reserved ("no fingerprint") and maps to 1. Part of the
 * wire format: docs/wire.md, pinned by tests/test-addr.c. */
uint32_t peko_addr_fingerprint(const peko_addr *addr)
{
    /* Straight from the fields, with the IPv4 case unrolled: the node
     * list computes this for the origin of every packet it receives. */
    uint32_t h = PEKO__FNV32_BASIS;
    h = peko__fnv1a32_step(h, addr->family);
    if (addr->family == PEKO_AF_INET4) {
        h = peko__fnv1a32_step(h, addr->ip[0]);
        h = peko__fnv1a32_step(h, addr->ip[1]);
        h = peko__fnv1a32_step(h, addr->ip[2]);
        h = peko__fnv1a32_step(h, addr->ip[3]);
    } else {
        for (size_t i = 0; i < 16; i++)
            h = peko__fnv1a32_step(h, addr->ip[i]);
    }
    h = peko__fnv1a32_step(h, (uint8_t)(addr->port >> 8));
    h = peko__fnv1a32_step(h, (uint8_t)addr->port);
    h = peko__fmix32(h);
    return h ? h : 1;
}

/* Names are stable identifiers (console lines, recorded rows), lower case
 * with underscores; an out-of-range value gets "unknown", never NULL. */
const char *peko_msg_type_name(peko_msg_type type)
{
    switch (type) {
    case PEKO_MSG_HEARTBEAT:
        return "heartbeat";
    case PEKO_MSG_METADATA:
        return "metadata";
    case PEKO_MSG_SWAP_REQUEST:
        return "swap_request";
    case PEKO_MSG_SWAP_RESPONSE:
        return "swap_response";
    case PEKO_MSG_CHALLENGE:
        return "challenge";
    case PEKO_MSG_ECHO:
        return "echo";
    }
    return "unknown";
}

const char *peko_reject_name(peko_reject reason)
{
    static const char *const names[PEKO_REJECT_COUNT] = {
        [PEKO_REJECT_NONE] = "none",
        [PEKO_REJECT_TRUNCATED] = "truncated",
        [PEKO_REJECT_OVERSIZE] = "oversize",
        [PEKO_REJECT_BAD_MAGIC] = "bad_magic",
        [PEKO_REJECT_BAD_VERSION] = "bad_version",
        [PEKO_REJECT_BAD_TYPE] = "bad_type",
        [PEKO_REJECT_BAD_FLAGS] = "bad_flags",
        [PEKO_REJECT_BAD_LENGTH] = "bad_length",
        [PEKO_REJECT_BAD_ADDRESS] = "bad_address",
        [PEKO_REJECT_BAD_SET] = "bad_set",
        [PEKO_REJECT_TRAILING] = "trailing",
        [PEKO_REJECT_NO_MAC] = "no_mac",
        [PEKO_REJECT_UNEXPECTED_MAC] = "unexpected_mac",
        [PEKO_REJECT_BAD_MAC] = "bad_mac",
        [PEKO_REJECT_REPLAY] = "replay",
    };
    if ((unsigned)reason >= PEKO_REJECT_COUNT)
        return "unknown";
    return names[reason];
}

/* Counter first: it is the logical clock. The origin only breaks ties
 * between two nodes that published the same counter concurrently, so that
 * every node picks the same winner. */
int peko_version_compare(const peko_version *a, const peko_version *b)
{
    if (a->counter != b->counter)
        return a->counter < b->counter ? -1 : 1;
    return peko_addr_compare(&a->origin, &b->origin);
}
