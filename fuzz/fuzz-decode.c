/* fuzz-decode.c: libFuzzer target for the packet decoder (engine/wire.c).
 *
 * Each input is decoded three ways, with a limit of FUZZ_MAX_BYTES:
 *   1. by a keyring without keys (unsigned packets are accepted);
 *   2. by a keyring holding FUZZ_KEY, as is (only seeds carry a valid MAC,
 *      and mutations mostly meet the authentication checks);
 *   3. by that keyring again, after the input's key id and MAC have been
 *      replaced by valid ones, so that mutated bodies get past
 *      authentication and reach the body parser of a keyed receiver.
 *
 * The sanitizers catch any read outside the input. On top of that, every
 * accepted packet must re-encode to exactly the same bytes (the format is
 * canonical: every byte is determined by the decoded fields and the
 * keyring), the re-encoded bytes must decode to the same message, and the
 * infected set must answer membership queries. Any mismatch aborts.
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

/* Field-by-field equality of two decoded messages: pointers differ (they
 * point into different buffers), the bytes they point to must not. */
static bool msg_equal(const peko__msg *a, const peko__msg *b)
{
    if (a->type != b->type || a->hops != b->hops ||
        memcmp(&a->sender, &b->sender, sizeof a->sender) != 0)
        return false;
    switch (a->type) {
    case PEKO_MSG_HEARTBEAT:
        return memcmp(&a->origin, &b->origin, sizeof a->origin) == 0 &&
               a->incarnation == b->incarnation && a->seq == b->seq &&
               a->name_len == b->name_len &&
               bytes_equal(a->name, b->name, a->name_len) &&
               a->data_len == b->data_len &&
               bytes_equal(a->data, b->data, a->data_len) &&
               a->n_infected == b->n_infected &&
               bytes_equal(a->infected, b->infected, 4 * (size_t)a->n_infected);
    case PEKO_MSG_METADATA:
        if (a->n_infected != b->n_infected ||
            !bytes_equal(a->infected, b->infected, 4 * (size_t)a->n_infected))
            return false;
        __attribute__((fallthrough)); /* the rest is a swap's body */
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        return a->version.counter == b->version.counter &&
               memcmp(&a->version.origin, &b->version.origin,
                      sizeof a->version.origin) == 0 &&
               a->meta_len == b->meta_len &&
               bytes_equal(a->meta, b->meta, a->meta_len);
    }
    return false;
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

    /* The address helpers must cope with anything the decoder accepts. */
    char text[PEKO_ADDR_STRLEN];
    peko_addr_format(&m->sender, text);
    if (peko_addr_fingerprint(&m->sender) == 0 || text[0] == '\0')
        abort();
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

    /* Re-sign: valid key id and MAC over whatever header and body the
     * input has, when its length is consistent with its body length. */
    static uint8_t copy[FUZZ_MAX_BYTES];
    if (size < PEKO__WIRE_HEADER_BYTES + PEKO__WIRE_MAC_BYTES ||
        size > sizeof copy || (data[4] & PEKO__WIRE_FLAG_MAC) == 0)
        return 0;
    uint64_t body_len = peko__get_u32(data + 8);
    if (PEKO__WIRE_HEADER_BYTES + body_len + PEKO__WIRE_MAC_BYTES != size)
        return 0;
    memcpy(copy, data, size);
    size_t signed_len = PEKO__WIRE_HEADER_BYTES + (size_t)body_len;
    copy[5] = peko__keyring_send_id(with_key);
    peko__keyring_sign(with_key, copy, signed_len, copy + signed_len);
    decode_and_check(copy, size, with_key);
    return 0;
}
