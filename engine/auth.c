/* auth.c: the keyring behind packet authentication (wire.h).
 *
 * A packet is signed with HMAC-SHA256 (RFC 2104) over its header and body;
 * the secret itself never travels. A keyring holds at most PEKO_MAX_KEYS
 * distinct keys: an optional sending key and further accepted keys, so a
 * cluster rotates keys without downtime (accept the new key everywhere,
 * then send with it everywhere, then drop the old one).
 *
 * Policy, as the decoder applies it (wire.c):
 * - a keyring with any key (sending or accepted) rejects unsigned packets;
 * - a keyring with no key at all rejects signed packets;
 * - a keyring with accepted keys but no sending key sends unsigned packets,
 *   which every keyed receiver (itself included) rejects. That state is
 *   only useful for a moment during a rotation; a cluster should not stay
 *   in it.
 *
 * Speed: each key's HMAC (GLib's GHmac) is created once, when the keys are
 * set, which absorbs the two padded key blocks. Signing or verifying
 * copies that GHmac (g_hmac_copy) and hashes only the packet and the inner
 * digest, instead of running the key schedule of a fresh GHmac for every
 * packet (tests/bench-auth.c measures both).
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "wire.h"

#define SHA256_DIGEST_BYTES 32

G_STATIC_ASSERT(PEKO__WIRE_MAC_BYTES == SHA256_DIGEST_BYTES);

typedef struct keyring_key {
    GHmac *hmac; /* HMAC-SHA256 keyed with the secret, no data; only copied */
    uint8_t id;  /* first byte of SHA-256("peko-key-id:" || secret) */
} keyring_key;

struct peko__keyring {
    keyring_key keys[PEKO_MAX_KEYS]; /* the sending key first, if any */
    size_t n_keys;
    bool has_send;                   /* keys[0] signs outgoing packets */
};

static uint8_t key_id_of(const char *secret, size_t n_bytes)
{
    static const char prefix[] = "peko-key-id:";
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)prefix, sizeof prefix - 1);
    g_checksum_update(sum, (const guchar *)secret, (gssize)n_bytes);
    guint8 digest[SHA256_DIGEST_BYTES];
    gsize n_digest = sizeof digest;
    g_checksum_get_digest(sum, digest, &n_digest);
    g_checksum_free(sum);
    return digest[0];
}

/* Prepares one key: its id and its keyed GHmac (RFC 2104: a key longer
 * than the block is hashed first; GLib does that). */
static void key_init(keyring_key *key, const char *secret)
{
    size_t n_bytes = strlen(secret);
    key->hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret, n_bytes);
    key->id = key_id_of(secret, n_bytes);
}

static void key_clear(keyring_key *key)
{
    g_clear_pointer(&key->hmac, g_hmac_unref);
    key->id = 0;
}

static void hmac(const keyring_key *key, const uint8_t *bytes, size_t n_bytes,
                 uint8_t mac[SHA256_DIGEST_BYTES])
{
    GHmac *h = g_hmac_copy(key->hmac);
    /* g_hmac_update takes a gssize: feed huge buffers in pieces so a
     * length above G_MAXSSIZE is never read as negative. */
    while (n_bytes > 0) {
        size_t piece = MIN(n_bytes, (size_t)G_MAXSSIZE);
        g_hmac_update(h, bytes, (gssize)piece);
        bytes += piece;
        n_bytes -= piece;
    }
    gsize n_digest = SHA256_DIGEST_BYTES;
    g_hmac_get_digest(h, mac, &n_digest);
    g_hmac_unref(h);
}

/* Never fails (GLib aborts on out-of-memory). The keyring starts empty:
 * it signs nothing and accepts only unsigned packets. */
peko__keyring *peko__keyring_new(void)
{
    return g_new0(peko__keyring, 1);
}

/* NULL is a no-op. */
void peko__keyring_free(peko__keyring *keys)
{
    if (keys == NULL)
        return;
    for (size_t i = 0; i < keys->n_keys; i++)
        key_clear(&keys->keys[i]);
    g_free(keys);
}

/* Validates everything before touching the keyring, so a failure leaves it
 * exactly as it was. A secret given twice (as the sending key and as an
 * accepted key, or twice among the accepted) is stored and counted once.
 * Secrets are not kept: only each key's GHmac and id are. */
int peko__keyring_set(peko__keyring *keys, const char *send_key,
                      const char *const *accepted, size_t accepted_count)
{
    const char *secrets[PEKO_MAX_KEYS];
    size_t n_secrets = 0;
    bool has_send = send_key != NULL && send_key[0] != '\0';

    if (accepted_count > 0 && accepted == NULL)
        return -EINVAL;
    if (has_send)
        secrets[n_secrets++] = send_key;
    for (size_t i = 0; i < accepted_count; i++) {
        const char *s = accepted[i];
        if (s == NULL || s[0] == '\0')
            return -EINVAL;
        bool seen = false;
        for (size_t j = 0; j < n_secrets && !seen; j++)
            seen = strcmp(secrets[j], s) == 0;
        if (seen)
            continue;
        if (n_secrets == PEKO_MAX_KEYS)
            return -EINVAL;
        secrets[n_secrets++] = s;
    }

    for (size_t i = 0; i < keys->n_keys; i++)
        key_clear(&keys->keys[i]);
    for (size_t i = 0; i < n_secrets; i++)
        key_init(&keys->keys[i], secrets[i]);
    keys->n_keys = n_secrets;
    keys->has_send = has_send;
    return 0;
}

bool peko__keyring_has_keys(const peko__keyring *keys)
{
    return keys != NULL && keys->n_keys > 0;
}

bool peko__keyring_has_send_key(const peko__keyring *keys)
{
    return keys != NULL && keys->has_send;
}

uint8_t peko__keyring_send_id(const peko__keyring *keys)
{
    return peko__keyring_has_send_key(keys) ? keys->keys[0].id : 0;
}

/* Without a sending key there is nothing to sign with: the MAC is all zero
 * (the encoder never asks; it sends unsigned packets then). */
void peko__keyring_sign(const peko__keyring *keys, const uint8_t *bytes,
                        size_t n_bytes, uint8_t mac[PEKO__WIRE_MAC_BYTES])
{
    if (!peko__keyring_has_send_key(keys)) {
        memset(mac, 0, PEKO__WIRE_MAC_BYTES);
        return;
    }
    hmac(&keys->keys[0], bytes, n_bytes, mac);
}

/* The key id only narrows the search: ids are one byte, so two keys may
 * share one, and each key with the id is tried. The comparison reads all
 * 32 bytes whatever they hold, so its time tells nothing about how much of
 * a forged MAC was right. */
bool peko__keyring_verify(const peko__keyring *keys, uint8_t key_id,
                          const uint8_t *bytes, size_t n_bytes,
                          const uint8_t mac[PEKO__WIRE_MAC_BYTES])
{
    if (keys == NULL)
        return false;
    for (size_t i = 0; i < keys->n_keys; i++) {
        if (keys->keys[i].id != key_id)
            continue;
        uint8_t expected[PEKO__WIRE_MAC_BYTES];
        hmac(&keys->keys[i], bytes, n_bytes, expected);
        uint8_t diff = 0;
        for (size_t j = 0; j < PEKO__WIRE_MAC_BYTES; j++)
            diff |= (uint8_t)(expected[j] ^ mac[j]);
        if (diff == 0)
            return true;
    }
    return false;
}
