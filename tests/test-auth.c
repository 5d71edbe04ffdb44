/* test-auth.c: the keyring (HMAC-SHA256 with a sending key and accepted
 * keys) behind packet authentication. Wire-level rejections are in
 * test-wire.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <glib.h>

#include "wire.h"

static const uint8_t packet[] = "a packet's header and body";

static uint8_t expected_id(const char *secret)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)"peko-key-id:", 12);
    g_checksum_update(sum, (const guchar *)secret, (gssize)strlen(secret));
    guint8 digest[32];
    gsize n = sizeof digest;
    g_checksum_get_digest(sum, digest, &n);
    g_checksum_free(sum);
    return digest[0];
}

/* HMAC-SHA256 as GLib computes it, the reference for ours. */
static void reference_hmac(const char *secret, const uint8_t *bytes,
                           size_t n_bytes, uint8_t mac[32])
{
    GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret,
                          strlen(secret));
    g_hmac_update(h, bytes, (gssize)n_bytes);
    gsize n = 32;
    g_hmac_get_digest(h, mac, &n);
    g_hmac_unref(h);
}

static peko__keyring *keyring(const char *send, const char *const *accepted,
                              size_t n)
{
    peko__keyring *k = peko__keyring_new();
    cr_assert_eq(peko__keyring_set(k, send, accepted, n), 0);
    return k;
}

static void sign_with(const char *secret, const uint8_t *bytes,
                      size_t n_bytes, uint8_t mac[32], uint8_t *id)
{
    peko__keyring *k = keyring(secret, NULL, 0);
    peko__keyring_sign(k, bytes, n_bytes, mac);
    *id = peko__keyring_send_id(k);
    peko__keyring_free(k);
}

Test(auth, empty_keyring_has_no_keys_and_verifies_nothing)
{
    peko__keyring *k = peko__keyring_new();
    cr_assert_not(peko__keyring_has_keys(k));
    cr_assert_not(peko__keyring_has_send_key(k));
    uint8_t mac[32] = {0};
    for (int id = 0; id < 256; id++)
        cr_assert_not(peko__keyring_verify(k, (uint8_t)id, packet,
                                           sizeof packet, mac));
    peko__keyring_free(k);
    peko__keyring_free(NULL);
}

Test(auth, null_or_empty_send_key_means_unsigned)
{
    peko__keyring *k = keyring(NULL, NULL, 0);
    cr_assert_not(peko__keyring_has_keys(k));
    cr_assert_eq(peko__keyring_set(k, "", NULL, 0), 0);
    cr_assert_not(peko__keyring_has_keys(k));
    peko__keyring_free(k);
}

Test(auth, key_id_is_first_byte_of_prefixed_sha256)
{
    static const char *const secrets[] = {"s3cret", "another key", "x"};
    for (size_t i = 0; i < 3; i++) {
        peko__keyring *k = keyring(secrets[i], NULL, 0);
        cr_assert(peko__keyring_has_keys(k));
        cr_assert(peko__keyring_has_send_key(k));
        cr_assert_eq(peko__keyring_send_id(k), expected_id(secrets[i]));
        peko__keyring_free(k);
    }
}

Test(auth, sign_matches_glib_hmac_sha256_for_all_key_lengths)
{
    /* Shorter than, exactly, and longer than the 64-byte SHA-256 block:
     * a long key is hashed first (RFC 2104). */
    char secret[200];
    for (size_t len = 1; len < sizeof secret; len += 7) {
        for (size_t i = 0; i < len; i++)
            secret[i] = (char)('a' + (i * 7 + len) % 26);
        secret[len] = '\0';
        for (size_t n = 0; n <= sizeof packet; n += 9) {
            uint8_t mac[32], ref[32], id;
            sign_with(secret, packet, n, mac, &id);
            reference_hmac(secret, packet, n, ref);
            cr_assert_arr_eq(mac, ref, 32, "key %zu bytes, data %zu", len, n);
        }
    }
    /* RFC 4231 test case 2. */
    static const uint8_t rfc4231[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    static const char what[] = "what do ya want for nothing?";
    uint8_t mac[32], id;
    sign_with("Jefe", (const uint8_t *)what, sizeof what - 1, mac, &id);
    cr_assert_arr_eq(mac, rfc4231, 32);
}

Test(auth, verifies_own_signature_and_rejects_tampering)
{
    peko__keyring *k = keyring("s3cret", NULL, 0);
    uint8_t id = peko__keyring_send_id(k);
    uint8_t mac[32];
    peko__keyring_sign(k, packet, sizeof packet, mac);
    cr_assert(peko__keyring_verify(k, id, packet, sizeof packet, mac));

    for (size_t i = 0; i < 32; i++) {
        uint8_t bad[32];
        memcpy(bad, mac, 32);
        bad[i] ^= 0x01;
        cr_assert_not(peko__keyring_verify(k, id, packet, sizeof packet, bad),
                      "flipped MAC byte %zu", i);
    }
    uint8_t data[sizeof packet];
    memcpy(data, packet, sizeof data);
    data[3] ^= 0x80;
    cr_assert_not(peko__keyring_verify(k, id, data, sizeof data, mac));
    cr_assert_not(peko__keyring_verify(k, id, packet, sizeof packet - 1, mac));
    cr_assert_not(peko__keyring_verify(k, (uint8_t)(id + 1), packet,
                                       sizeof packet, mac));
    peko__keyring_free(k);
}

Test(auth, rejects_mac_of_a_different_key)
{
    uint8_t mac[32], id;
    sign_with("old", packet, sizeof packet, mac, &id);
    peko__keyring *k = keyring("new", NULL, 0);
    cr_assert_not(peko__keyring_verify(k, id, packet, sizeof packet, mac));
    peko__keyring_free(k);
}

Test(auth, accepted_keys_verify_but_do_not_sign)
{
    static const char *const accepted[] = {"old"};
    peko__keyring *k = keyring(NULL, accepted, 1);
    cr_assert(peko__keyring_has_keys(k));
    cr_assert_not(peko__keyring_has_send_key(k));

    uint8_t mac[32], id;
    sign_with("old", packet, sizeof packet, mac, &id);
    cr_assert(peko__keyring_verify(k, id, packet, sizeof packet, mac));

    /* Nothing to sign with: an all-zero MAC, never a stale one. */
    uint8_t none[32];
    memset(none, 0xee, sizeof none);
    peko__keyring_sign(k, packet, sizeof packet, none);
    static const uint8_t zero[32] = {0};
    cr_assert_arr_eq(none, zero, 32);
    peko__keyring_free(k);
}

Test(auth, rotation_accepts_old_key_until_it_is_dropped)
{
    uint8_t mac[32], id;
    sign_with("old", packet, sizeof packet, mac, &id);

    static const char *const accepted[] = {"old"};
    peko__keyring *k = keyring("new", accepted, 1);
    cr_assert(peko__keyring_verify(k, id, packet, sizeof packet, mac));
    cr_assert_eq(peko__keyring_send_id(k), expected_id("new"));

    cr_assert_eq(peko__keyring_set(k, "new", NULL, 0), 0);
    cr_assert_not(peko__keyring_verify(k, id, packet, sizeof packet, mac));
    peko__keyring_free(k);
}

Test(auth, tries_every_key_that_shares_an_id)
{
    /* Ids are one byte: among 257 secrets two must share one. */
    char names[257][16];
    int first = -1, second = -1;
    int by_id[256];
    for (int i = 0; i < 256; i++)
        by_id[i] = -1;
    for (int i = 0; i < 257 && second < 0; i++) {
        snprintf(names[i], sizeof names[i], "key-%d", i);
        uint8_t id = expected_id(names[i]);
        if (by_id[id] >= 0) {
            first = by_id[id];
            second = i;
        }
        by_id[id] = i;
    }
    cr_assert_geq(second, 0);

    uint8_t mac[32], id;
    sign_with(names[second], packet, sizeof packet, mac, &id);
    /* The colliding key comes first in the ring, the right one second. */
    const char *const accepted[] = {names[second]};
    peko__keyring *k = keyring(names[first], accepted, 1);
    cr_assert_eq(peko__keyring_send_id(k), id);
    cr_assert(peko__keyring_verify(k, id, packet, sizeof packet, mac));
    peko__keyring_free(k);
}

Test(auth, holds_at_most_max_keys_counting_duplicates_once)
{
    char names[PEKO_MAX_KEYS + 1][16];
    const char *list[PEKO_MAX_KEYS + 2];
    for (int i = 0; i <= PEKO_MAX_KEYS; i++) {
        snprintf(names[i], sizeof names[i], "key-%d", i);
        list[i] = names[i];
    }
    peko__keyring *k = peko__keyring_new();
    /* The sending key plus PEKO_MAX_KEYS - 1 accepted keys: full. */
    cr_assert_eq(peko__keyring_set(k, list[0], list + 1, PEKO_MAX_KEYS - 1), 0);
    /* The sending key repeated among the accepted ones counts once, and so
     * does an accepted key given twice. */
    list[PEKO_MAX_KEYS] = list[0];
    list[PEKO_MAX_KEYS + 1] = list[3];
    cr_assert_eq(peko__keyring_set(k, list[0], list, PEKO_MAX_KEYS + 2), 0);
    /* One more distinct key is too many. */
    list[PEKO_MAX_KEYS] = names[PEKO_MAX_KEYS];
    cr_assert_eq(peko__keyring_set(k, list[0], list + 1, PEKO_MAX_KEYS),
                 -EINVAL);
    cr_assert_eq(peko__keyring_set(k, NULL, list, PEKO_MAX_KEYS + 1), -EINVAL);
    cr_assert_eq(peko__keyring_set(k, NULL, list, PEKO_MAX_KEYS), 0);
    peko__keyring_free(k);
}

Test(auth, failed_set_leaves_keyring_unchanged)
{
    static const char *const accepted[] = {"old"};
    peko__keyring *k = keyring("new", accepted, 1);
    uint8_t mac[32], id;
    sign_with("old", packet, sizeof packet, mac, &id);

    static const char *const empty[] = {"fine", ""};
    static const char *const null[] = {"fine", NULL};
    cr_assert_eq(peko__keyring_set(k, NULL, empty, 2), -EINVAL);
    cr_assert_eq(peko__keyring_set(k, "x", null, 2), -EINVAL);
    cr_assert_eq(peko__keyring_set(k, "x", NULL, 1), -EINVAL);

    cr_assert(peko__keyring_has_send_key(k));
    cr_assert_eq(peko__keyring_send_id(k), expected_id("new"));
    cr_assert(peko__keyring_verify(k, id, packet, sizeof packet, mac));
    peko__keyring_free(k);
}
