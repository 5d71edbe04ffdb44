/* verify.c: which peers have proved they receive at their address
 * (docs/protocol.md, "On a hostile network").
 *
 * Without a key anyone can send a packet that names any source. So a node
 * never sends a peer that has not proved its address more bytes than the
 * peer sent it (a forged swap request cannot make it an amplifier), and
 * when its list is full it keeps proven members over unproven ones (a
 * flood of forged nodes cannot push real ones out). A peer proves its
 * address
 *
 *   - by answering one of our swap requests with the request's timestamp
 *     (antientropy.c): it received the request where we sent it;
 *   - by echoing a challenge: a nonce only a receiver at that address can
 *     know, computed, not stored (a cookie, as DNS cookies and QUIC's
 *     Retry do): HMAC-SHA256 of a secret drawn at creation, the address
 *     and the current period of COOKIE_EPOCH_CYCLES cycles (the previous
 *     period's is accepted too);
 *   - with a key, by any authenticated packet.
 */
#include <string.h>

#include "strategy.h"

#define COOKIE_EPOCH_CYCLES 8

void peko__verify_init(peko_nodelist *nl)
{
    for (size_t i = 0; i < G_N_ELEMENTS(nl->cookie_secret); i++)
        nl->cookie_secret[i] = nl->env->random_u64(nl->env);
}

static uint64_t cookie(const peko_nodelist *nl, const peko_addr *addr,
                       uint64_t epoch)
{
    uint8_t key[sizeof nl->cookie_secret];
    for (size_t i = 0; i < G_N_ELEMENTS(nl->cookie_secret); i++)
        for (int b = 0; b < 8; b++)
            key[8 * i + (size_t)b] =
                (uint8_t)(nl->cookie_secret[i] >> (8 * b));
    uint8_t data[1 + 16 + 2 + 8];
    size_t n_ip = addr->family == PEKO_AF_INET4 ? 4 : 16;
    size_t n = 0;
    data[n++] = addr->family;
    memcpy(data + n, addr->ip, n_ip);
    n += n_ip;
    data[n++] = (uint8_t)(addr->port >> 8);
    data[n++] = (uint8_t)addr->port;
    for (int b = 0; b < 8; b++)
        data[n++] = (uint8_t)(epoch >> (8 * b));

    GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key, sizeof key);
    g_hmac_update(h, data, n);
    uint8_t digest[32];
    gsize len = sizeof digest;
    g_hmac_get_digest(h, digest, &len);
    g_hmac_unref(h);
    uint64_t c = 0;
    for (int b = 0; b < 8; b++)
        c = (c << 8) | digest[b];
    return c;
}

static uint64_t epoch_now(const peko_nodelist *nl)
{
    return nl->cycles / COOKIE_EPOCH_CYCLES;
}

bool peko__is_verified(const peko_nodelist *nl, const peko_addr *addr)
{
    if (nl->wire_keys != NULL)
        return true; /* every packet is authenticated */
    const peko__peer *p = peko__peer_find(nl, addr);
    return p != NULL && (p->flags & PEKO__PEER_VERIFIED);
}

void peko__verify_mark(peko_nodelist *nl, const peko_addr *addr)
{
    peko__peer *p = peko__peer_find(nl, addr);
    if (p == NULL || (p->flags & PEKO__PEER_VERIFIED))
        return;
    p->flags |= PEKO__PEER_VERIFIED;
    nl->stats.verified++;
}

bool peko__reply_address(const peko_nodelist *nl, const peko__msg *m,
                         const peko_addr *from, peko_addr *out)
{
    if (nl->config.protocol != PEKO_PROTOCOL_TCP) {
        *out = *from;
        return true;
    }
    size_t n_ip = m->sender.family == PEKO_AF_INET4 ? 4 : 16;
    if (m->sender.family != from->family ||
        memcmp(m->sender.ip, from->ip, n_ip) != 0)
        return false;
    *out = m->sender;
    return true;
}

size_t peko__challenge_bytes(const peko_nodelist *nl)
{
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_CHALLENGE;
    m.sender = (*peko__self_addr(nl));
    return peko__wire_size_without_set(&m, nl->wire_keys);
}

void peko__challenge(peko_nodelist *nl, const peko_addr *to)
{
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_CHALLENGE;
    m.sender = (*peko__self_addr(nl));
    m.nonce = cookie(nl, to, epoch_now(nl));
    nl->stats.challenges_sent++;
    peko__send_msg(nl, &m, to);
}

void peko__on_challenge(peko_nodelist *nl, const peko__msg *m,
                        const peko_addr *from)
{
    /* The echo is the challenge's size: answering it amplifies nothing. */
    peko_addr to;
    if (!peko__reply_address(nl, m, from, &to))
        return;
    peko__msg echo;
    memset(&echo, 0, sizeof echo);
    echo.type = PEKO_MSG_ECHO;
    echo.sender = (*peko__self_addr(nl));
    echo.nonce = m->nonce;
    /* With a key, tagged for the challenger as it is, known to us or
     * not (fresh.c). */
    peko__send_reply(nl, &echo, &to, m);
}

void peko__verify_owe_metadata(peko_nodelist *nl, const peko_addr *to,
                               const peko_version *version)
{
    uint32_t k = 0;
    while (k < PEKO__OWED_MAX && !peko_addr_equal(&nl->owed[k].to, to))
        k++;
    if (k == PEKO__OWED_MAX) {
        k = nl->owed_next;
        nl->owed_next = (nl->owed_next + 1) % PEKO__OWED_MAX;
    }
    nl->owed[k].to = *to;
    nl->owed[k].version = *version;
}

/* An address just proved itself: the metadata held back from it, if it
 * is still newer than what it held, goes now (it asked for it, and it
 * receives there, so this amplifies nothing). Without it, a requester
 * whose requests are small (it lists no peer it heard from) would be
 * held back by every new peer it asks, and never get the metadata by
 * swaps. */
static void pay_owed(peko_nodelist *nl, const peko_addr *at)
{
    for (uint32_t k = 0; k < PEKO__OWED_MAX; k++) {
        if (!peko_addr_equal(&nl->owed[k].to, at))
            continue;
        memset(&nl->owed[k].to, 0, sizeof nl->owed[k].to);
        if (!peko__metadata_is_newer_than(nl, &nl->owed[k].version))
            return;
        peko__msg push;
        peko__metadata_fill(nl, &push, PEKO_MSG_SWAP_RESPONSE);
        peko__send_msg(nl, &push, at);
        return;
    }
}

void peko__on_echo(peko_nodelist *nl, const peko__msg *m,
                   const peko_addr *from)
{
    peko_addr at;
    if (!peko__reply_address(nl, m, from, &at))
        return;
    uint64_t e = epoch_now(nl);
    if (m->nonce == cookie(nl, &at, e) ||
        (e > 0 && m->nonce == cookie(nl, &at, e - 1))) {
        peko__verify_mark(nl, &at);
        pay_owed(nl, &at);
    } else {
        nl->stats.cookies_refused++;
    }
}
