/* fuzz-decode.c: libFuzzer target for the packet decoder (engine/wire.c).
 *
 * Each input is decoded three ways, with a limit of FUZZ_MAX_BYTES:
 *   1. by a keyring without keys (unsigned packets are accepted);
 *   2. by a keyring holding FUZZ_KEY, as is (only seeds carry a valid MAC,
 *      and mutations mostly meet the authentication checks);
 *   3. by that keyring again, after the input's key id and MAC have been
 *      replaced by valid ones, so that mutated bodies and freshness fields
 *      get past authentication and reach the body parser of a keyed
 *      receiver.
 *
 * The sanitizers catch any read outside the input. On top of that, every
 * accepted packet must re-encode to exactly the same bytes (the format is
 * canonical: every byte is determined by the decoded fields, the trailer's
 * freshness fields included, and the keyring), the re-encoded bytes must
 * decode to the same message, the infected set must answer membership
 * queries, and walking a swap's digest with peko__entry_next() must yield
 * exactly its n_entries entries over exactly its entries_len bytes. Any
 * mismatch aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static peko__keyring *no_keys;
static peko__keyring *with_key;

static void setup(void)
{
    if (no_keys)
        return;
    no_keys = peko__keyring_new();
    with_key = peko__keyring_new();
    if (peko__keyring_set(with_key, FUZZ_KEY, NULL, 0) != 0)
        abort();
}

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static bool addr_equal(const peko_addr *a, const peko_addr *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Field-by-field equality of two decoded messages, every field whatever
 * the type (the decoder zeroes those a type does not have): pointers
 * differ (they point into different buffers), the bytes they point to
 * must not. */
static bool msg_equal(const peko__msg *a, const peko__msg *b)
{
    return a->type == b->type && a->hops == b->hops &&
           addr_equal(&a->sender, &b->sender) &&
           /* heartbeat */
           addr_equal(&a->origin, &b->origin) &&
           a->incarnation == b->incarnation && a->seq == b->seq &&
           a->rev == b->rev && a->name_len == b->name_len &&
           bytes_equal(a->name, b->name, a->name_len) &&
           a->data_len == b->data_len &&
           bytes_equal(a->data, b->data, a->data_len) &&
           /* metadata and swaps */
           a->version.counter == b->version.counter &&
           addr_equal(&a->version.origin, &b->version.origin) &&
           a->sent_us == b->sent_us && a->echo_us == b->echo_us &&
           a->has_meta == b->has_meta && a->meta_len == b->meta_len &&
           bytes_equal(a->meta, b->meta, a->meta_len) &&
           /* rumors */
           a->n_infected == b->n_infected &&
           bytes_equal(a->infected, b->infected, 4 * (size_t)a->n_infected) &&
           /* swaps: the digest */
           a->has_range == b->has_range &&
           a->range_first == b->range_first &&
           a->range_last == b->range_last && a->n_entries == b->n_entries &&
           a->entries_len == b->entries_len &&
           bytes_equal(a->entries, b->entries, a->entries_len) &&
           /* challenge and echo */
           a->nonce == b->nonce &&
           /* the trailer */
           a->auth_incarnation == b->auth_incarnation &&
           a->auth_receiver == b->auth_receiver &&
           a->auth_number == b->auth_number;
}

/* The address helpers must cope with any address the decoder accepts. */
static void check_addr(const peko_addr *a)
{
    char text[PEKO_ADDR_STRLEN];
    peko_addr_format(a, text);
    if (peko_addr_fingerprint(a) == 0 || text[0] == '\0')
        abort();
}

/* Walking a decoded swap's digest yields exactly n_entries entries that
 * cover exactly its entries_len bytes, each of the size
 * peko__entry_bytes() says and re-written to the same bytes. */
static void check_entries(const peko__msg *m)
{
    static uint8_t again[FUZZ_MAX_BYTES];
    peko__entry_reader r;
    peko__entry_reader_init(&r, m);
    peko__entry e;
    uint32_t n = 0;
    size_t at = 0;
    while (peko__entry_next(&r, &e)) {
        n++;
        size_t n_bytes = peko__entry_bytes(&e);
        if (n > m->n_entries || n_bytes > m->entries_len - at)
            abort();
        if (!e.full && (e.name != NULL || e.data != NULL || e.name_len ||
                        e.data_len))
            abort();
        uint8_t *end = peko__entry_write(again, &e);
        if ((size_t)(end - again) != n_bytes ||
            memcmp(again, m->entries + at, n_bytes) != 0)
            abort();
        check_addr(&e.addr);
        at += n_bytes;
    }
    if (n != m->n_entries || at != m->entries_len || r.left != 0)
        abort();
}

static void check_set(const peko__msg *m)
{
    for (uint32_t i = 0; i < m->n_infected; i++) {
        uint32_t fp = peko__get_u32(m->infected + 4 * (size_t)i);
        if (!peko__wire_set_contains(m->infected, m->n_infected, fp))
            abort();
        /* fp + 1 is in the set only as the next entry (ascending). */
        bool next = i + 1 < m->n_infected &&
                    peko__get_u32(m->infected + 4 * (size_t)(i + 1)) == fp + 1;
        if (fp != UINT32_MAX &&
            peko__wire_set_contains(m->infected, m->n_infected, fp + 1) != next)
            abort();
    }
}

static void check_accepted(const uint8_t *data, size_t size,
                           const peko__keyring *keys, const peko__msg *m)
{
    static uint8_t again[FUZZ_MAX_BYTES];
    size_t n = peko__wire_encode(m, keys, again, sizeof again);
    if (n != size || memcmp(again, data, size) != 0)
        abort();
    peko__msg m2;
    if (peko__wire_decode(again, n, FUZZ_MAX_BYTES, keys, &m2) !=
        PEKO_REJECT_NONE)
        abort();
    if (!msg_equal(m, &m2))
        abort();
    if (peko__wire_size_without_set(m, keys) + 4 * (size_t)m->n_infected != n)
        abort();
    check_set(m);
    check_entries(m);
    check_addr(&m->sender);
}

static void decode_and_check(const uint8_t *data, size_t size,
                             const peko__keyring *keys)
{
    peko__msg m;
    peko_reject r = peko__wire_decode(data, size, FUZZ_MAX_BYTES, keys, &m);
    if (r >= PEKO_REJECT_COUNT)
        abort();
    if (r == PEKO_REJECT_NONE)
        check_accepted(data, size, keys, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    decode_and_check(data, size, no_keys);
    decode_and_check(data, size, with_key);

    /* Re-sign: valid key id and MAC over whatever header, body and
     * freshness fields the input has, when its length is consistent with
     * its body length. */
    static uint8_t copy[FUZZ_MAX_BYTES];
    if (size < PEKO__WIRE_HEADER_BYTES + PEKO__WIRE_AUTH_BYTES ||
        size > sizeof copy || (data[4] & PEKO__WIRE_FLAG_MAC) == 0)
        return 0;
    uint64_t body_len = peko__get_u32(data + 8);
    if (PEKO__WIRE_HEADER_BYTES + body_len + PEKO__WIRE_AUTH_BYTES != size)
        return 0;
    memcpy(copy, data, size);
    size_t signed_len = PEKO__WIRE_HEADER_BYTES + (size_t)body_len +
                        PEKO__WIRE_FRESHNESS_BYTES;
    copy[5] = peko__keyring_send_id(with_key);
    peko__keyring_sign(with_key, copy, signed_len, copy + signed_len);
    decode_and_check(copy, size, with_key);
    return 0;
}
