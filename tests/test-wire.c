/* test-wire.c: the packet codec (engine/wire.c, docs/wire.md): round trips
 * of every message type and every reason a packet is rejected. */
#include <string.h>

#include <criterion/criterion.h>

#include "wire.h"

#define MAX_BYTES 16384

/* ------------------------------------------------------------------ */
/* Fixtures.                                                            */

static peko_addr addr(const char *host, uint16_t port)
{
    peko_addr a;
    cr_assert_eq(peko_addr_parse(host, port, &a), 0);
    return a;
}

/* Sender and origin: IPv4 or IPv6 nodes. */
static peko_addr node_a(bool v6)
{
    return v6 ? addr("2001:db8::1", 8000) : addr("10.0.0.1", 8000);
}

static peko_addr node_b(bool v6)
{
    return v6 ? addr("::1", 8001) : addr("10.0.0.2", 8001);
}

/* A three-entry ascending set, big-endian. */
static const uint8_t set3[12] = {0x00, 0x00, 0x00, 0x07, 0x12, 0x34,
                                 0x56, 0x78, 0xff, 0xff, 0xff, 0xfe};
static const uint8_t meta[] = "cluster metadata blob";

/* A swap's digest: a full entry and a short one. */
static uint8_t entries_buf[2][256];

static size_t make_entries(bool v6, uint8_t *out)
{
    peko__entry full = {
        .addr = node_b(v6), .incarnation = 7, .seq = 99, .rev = 2,
        .full = true, .name = (const uint8_t *)"node-b", .name_len = 6,
        .data = (const uint8_t *)"role=db", .data_len = 7,
    };
    peko__entry brief = {
        .addr = node_a(v6), .incarnation = 0xfffffffe, .seq = 1, .rev = 0,
    };
    uint8_t *p = peko__entry_write(out, &full);
    p = peko__entry_write(p, &brief);
    cr_assert_eq((size_t)(p - out),
                 peko__entry_bytes(&full) + peko__entry_bytes(&brief));
    return (size_t)(p - out);
}

static peko__msg make_msg(peko_msg_type type, bool v6)
{
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.hops = 3;
    m.sender = node_a(v6);
    m.auth_incarnation = 0x0badcafe;
    m.auth_receiver = 0x5eedf00d;
    m.auth_number = 0x0000000100000002ULL;
    switch (type) {
    case PEKO_MSG_HEARTBEAT:
        m.origin = node_b(v6);
        m.incarnation = 0xdeadbeef;
        m.seq = 0x01020304;
        m.rev = 0x0a0b;
        m.name = (const uint8_t *)"node-b";
        m.name_len = 6;
        m.data = (const uint8_t *)"role=db";
        m.data_len = 7;
        break;
    case PEKO_MSG_METADATA:
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        m.version.counter = 0x0102030405060708ULL;
        m.version.origin = node_b(v6);
        m.has_meta = true;
        m.meta = meta;
        m.meta_len = sizeof meta - 1;
        if (type != PEKO_MSG_METADATA) {
            m.sent_us = 1733325000123456ULL;
            m.echo_us = 1733325000120001ULL;
        }
        break;
    case PEKO_MSG_CHALLENGE:
    case PEKO_MSG_ECHO:
        m.nonce = 0x1122334455667788ULL;
        break;
    }
    if (type == PEKO_MSG_HEARTBEAT || type == PEKO_MSG_METADATA) {
        m.infected = set3;
        m.n_infected = 3;
    }
    if (type == PEKO_MSG_SWAP_REQUEST || type == PEKO_MSG_SWAP_RESPONSE) {
        m.has_range = true;
        m.range_first = 0xf0000000u;
        m.range_last = 0x0fffffffu; /* wraps around the ring */
        m.entries = entries_buf[v6];
        m.entries_len = (uint32_t)make_entries(v6, entries_buf[v6]);
        m.n_entries = 2;
    }
    return m;
}

static peko__keyring *keys_none(void)
{
    return peko__keyring_new();
}

static peko__keyring *keys_with(const char *send, const char *accepted)
{
    peko__keyring *k = peko__keyring_new();
    const char *list[1] = {accepted};
    cr_assert_eq(peko__keyring_set(k, send, list, accepted ? 1 : 0), 0);
    return k;
}

static bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static void assert_msg_eq(const peko__msg *got, const peko__msg *want)
{
    cr_assert_eq(got->type, want->type);
    cr_assert_eq(got->hops, want->hops);
    cr_assert(peko_addr_equal(&got->sender, &want->sender));
    cr_assert_eq(memcmp(&got->sender, &want->sender, sizeof got->sender), 0);
    if (want->type == PEKO_MSG_HEARTBEAT) {
        cr_assert_eq(memcmp(&got->origin, &want->origin, sizeof got->origin),
                     0);
        cr_assert_eq(got->incarnation, want->incarnation);
        cr_assert_eq(got->seq, want->seq);
        cr_assert_eq(got->rev, want->rev);
        cr_assert_eq(got->name_len, want->name_len);
        cr_assert(same_bytes(got->name, want->name, want->name_len));
        cr_assert_eq(got->data_len, want->data_len);
        cr_assert(same_bytes(got->data, want->data, want->data_len));
    } else if (want->type == PEKO_MSG_CHALLENGE ||
               want->type == PEKO_MSG_ECHO) {
        cr_assert_eq(got->nonce, want->nonce);
    } else {
        cr_assert_eq(got->version.counter, want->version.counter);
        cr_assert_eq(memcmp(&got->version.origin, &want->version.origin,
                            sizeof got->version.origin), 0);
        cr_assert_eq(got->has_meta, want->has_meta);
        cr_assert_eq(got->sent_us, want->sent_us);
        cr_assert_eq(got->echo_us, want->echo_us);
        cr_assert_eq(got->meta_len, want->meta_len);
        cr_assert(same_bytes(got->meta, want->meta, want->meta_len));
    }
    if (want->type == PEKO_MSG_SWAP_REQUEST ||
        want->type == PEKO_MSG_SWAP_RESPONSE) {
        cr_assert_eq(got->has_range, want->has_range);
        cr_assert_eq(got->range_first, want->range_first);
        cr_assert_eq(got->range_last, want->range_last);
        cr_assert_eq(got->n_entries, want->n_entries);
        cr_assert_eq(got->entries_len, want->entries_len);
        cr_assert(same_bytes(got->entries, want->entries, want->entries_len));
    }
    if (want->type == PEKO_MSG_HEARTBEAT || want->type == PEKO_MSG_METADATA) {
        cr_assert_eq(got->n_infected, want->n_infected);
        cr_assert(same_bytes(got->infected, want->infected,
                             4 * (size_t)want->n_infected));
    } else {
        cr_assert_eq(got->n_infected, 0);
    }
}

static uint8_t buf[MAX_BYTES];

static size_t encode(const peko__msg *m, const peko__keyring *k)
{
    size_t n = peko__wire_encode(m, k, buf, sizeof buf);
    cr_assert_gt(n, 0);
    return n;
}

static peko_reject decode(const uint8_t *bytes, size_t n,
                          const peko__keyring *k)
{
    peko__msg out;
    return peko__wire_decode(bytes, n, MAX_BYTES, k, &out);
}

static void round_trip(peko_msg_type type, bool v6, const char *key)
{
    peko__keyring *k = key ? keys_with(key, NULL) : keys_none();
    peko__msg m = make_msg(type, v6);
    size_t n = encode(&m, k);
    cr_assert_eq(n, peko__wire_size_without_set(&m, k) +
                        4 * (size_t)(type <= PEKO_MSG_METADATA ? 3 : 0));
    cr_assert_eq(buf[4], key ? PEKO__WIRE_FLAG_MAC : 0);
    peko__msg out;
    memset(&out, 0xa5, sizeof out);
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                 PEKO_REJECT_NONE);
    assert_msg_eq(&out, &m);
    if (key) {
        cr_assert_eq(out.auth_incarnation, m.auth_incarnation);
        cr_assert_eq(out.auth_receiver, m.auth_receiver);
        cr_assert_eq(out.auth_number, m.auth_number);
    }
    /* Decoded strings are borrowed from the packet, not copied. */
    if (type == PEKO_MSG_HEARTBEAT)
        cr_assert(out.name > buf && out.name < buf + n);
    peko__keyring_free(k);
}

/* Rewrites the header's body length of the packet in buf. */
static void set_body_len(uint32_t body_len)
{
    peko__put_u32(buf + 8, body_len);
}

/* ------------------------------------------------------------------ */
/* Round trips.                                                         */

Test(wire, round_trips_heartbeat_ipv4)
{
    round_trip(PEKO_MSG_HEARTBEAT, false, NULL);
    round_trip(PEKO_MSG_HEARTBEAT, false, "k");
}

Test(wire, round_trips_heartbeat_ipv6)
{
    round_trip(PEKO_MSG_HEARTBEAT, true, NULL);
    round_trip(PEKO_MSG_HEARTBEAT, true, "k");
}

Test(wire, round_trips_metadata_ipv4_and_ipv6)
{
    round_trip(PEKO_MSG_METADATA, false, NULL);
    round_trip(PEKO_MSG_METADATA, true, NULL);
    round_trip(PEKO_MSG_METADATA, true, "k");
}

Test(wire, round_trips_swap_request_and_response)
{
    for (int v6 = 0; v6 < 2; v6++) {
        round_trip(PEKO_MSG_SWAP_REQUEST, v6, NULL);
        round_trip(PEKO_MSG_SWAP_REQUEST, v6, "k");
        round_trip(PEKO_MSG_SWAP_RESPONSE, v6, NULL);
        round_trip(PEKO_MSG_SWAP_RESPONSE, v6, "k");
    }
}

Test(wire, round_trips_challenge_and_echo)
{
    for (int v6 = 0; v6 < 2; v6++) {
        round_trip(PEKO_MSG_CHALLENGE, v6, NULL);
        round_trip(PEKO_MSG_CHALLENGE, v6, "k");
        round_trip(PEKO_MSG_ECHO, v6, NULL);
        round_trip(PEKO_MSG_ECHO, v6, "k");
    }
}

Test(wire, swap_without_metadata_range_or_entries_round_trips)
{
    peko__msg m = make_msg(PEKO_MSG_SWAP_REQUEST, false);
    m.has_meta = false;
    m.meta = NULL;
    m.meta_len = 0;
    m.has_range = false;
    m.range_first = m.range_last = 0;
    m.entries = NULL;
    m.entries_len = 0;
    m.n_entries = 0;
    peko__keyring *k = keys_none();
    size_t n = encode(&m, k);
    cr_assert_eq(n, 12 + 7 + 8 + 7 + 16 + 1 + 2);
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                 PEKO_REJECT_NONE);
    assert_msg_eq(&out, &m);
    peko__keyring_free(k);
}

Test(wire, digest_entries_read_back_as_written)
{
    for (int v6 = 0; v6 < 2; v6++) {
        peko__msg m = make_msg(PEKO_MSG_SWAP_RESPONSE, v6);
        size_t n = encode(&m, NULL);
        peko__msg out;
        cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, NULL, &out),
                     PEKO_REJECT_NONE);
        peko__entry_reader r;
        peko__entry_reader_init(&r, &out);
        peko__entry e;
        cr_assert(peko__entry_next(&r, &e));
        cr_assert(e.full);
        peko_addr b = node_b(v6), a = node_a(v6);
        cr_assert_eq(memcmp(&e.addr, &b, sizeof b), 0);
        cr_assert_eq(e.incarnation, 7);
        cr_assert_eq(e.seq, 99);
        cr_assert_eq(e.rev, 2);
        cr_assert_eq(e.name_len, 6);
        cr_assert_arr_eq(e.name, "node-b", 6);
        cr_assert_eq(e.data_len, 7);
        cr_assert_arr_eq(e.data, "role=db", 7);
        cr_assert(e.name > buf && e.name < buf + n);
        cr_assert(peko__entry_next(&r, &e));
        cr_assert_not(e.full);
        cr_assert_eq(memcmp(&e.addr, &a, sizeof a), 0);
        cr_assert_eq(e.incarnation, 0xfffffffeu);
        cr_assert_eq(e.seq, 1);
        cr_assert_eq(e.name_len, 0);
        cr_assert_not(peko__entry_next(&r, &e));
    }
}

Test(wire, range_contains_wraps_around_the_ring)
{
    cr_assert(peko__range_contains(10, 20, 10));
    cr_assert(peko__range_contains(10, 20, 20));
    cr_assert_not(peko__range_contains(10, 20, 21));
    cr_assert_not(peko__range_contains(10, 20, 9));
    /* [0xf0000000, 0x0fffffff] crosses zero. */
    cr_assert(peko__range_contains(0xf0000000u, 0x0fffffffu, 0xffffffffu));
    cr_assert(peko__range_contains(0xf0000000u, 0x0fffffffu, 0));
    cr_assert(peko__range_contains(0xf0000000u, 0x0fffffffu, 0x0fffffffu));
    cr_assert_not(peko__range_contains(0xf0000000u, 0x0fffffffu,
                                       0x10000000u));
    /* last = first - 1 is the whole ring. */
    for (uint32_t v = 0; v < 1000; v += 7)
        cr_assert(peko__range_contains(500, 499, v * 4294967u));
    /* first == last is one fingerprint. */
    cr_assert(peko__range_contains(42, 42, 42));
    cr_assert_not(peko__range_contains(42, 42, 43));
}

Test(wire, round_trips_mixed_families_and_empty_fields)
{
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    m.origin = node_b(true);
    m.name = NULL;
    m.name_len = 0;
    m.data = NULL;
    m.data_len = 0;
    m.infected = NULL;
    m.n_infected = 0;
    m.hops = 255;
    peko__keyring *k = keys_none();
    size_t n = encode(&m, k);
    cr_assert_eq(n, 12 + 7 + 19 + 4 + 4 + 2 + 2 + 2 + 4);
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                 PEKO_REJECT_NONE);
    assert_msg_eq(&out, &m);
    peko__keyring_free(k);
}

Test(wire, no_version_swap_request_round_trips_as_zeroed_version)
{
    /* A node without metadata asks with counter 0 and a zeroed origin. */
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_SWAP_REQUEST;
    m.sender = node_a(true);
    peko__keyring *k = keys_none();
    size_t n = encode(&m, k);
    cr_assert_eq(n, 12 + 19 + 8 + 7 + 16 + 1 + 2);
    /* On the wire the origin is IPv4 0.0.0.0 port 0. */
    static const uint8_t none4[7] = {4, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(buf + 12 + 19 + 8, none4, 7);
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                 PEKO_REJECT_NONE);
    static const peko_version zero = {0};
    cr_assert_eq(memcmp(&out.version, &zero, sizeof zero), 0);
    peko__keyring_free(k);
}

Test(wire, encodes_documented_example)
{
    /* The worked example of docs/wire.md, byte for byte. */
    peko_addr a = addr("10.0.0.1", 8000);
    peko_addr b = addr("10.0.0.2", 8000);
    uint32_t fa = peko_addr_fingerprint(&a), fb = peko_addr_fingerprint(&b);
    cr_assert_eq(fa, 0xc3804337u);
    cr_assert_eq(fb, 0x97f50f19u);
    uint8_t set[8];
    peko__put_u32(set, fb);
    peko__put_u32(set + 4, fa);
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_HEARTBEAT;
    m.sender = a;
    m.origin = a;
    m.incarnation = 42;
    m.seq = 5;
    m.name = (const uint8_t *)"n1";
    m.name_len = 2;
    m.infected = set;
    m.n_infected = 2;

    static const uint8_t plain[54] = {
        0x50, 0x4b, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
        0x04, 0x0a, 0x00, 0x00, 0x01, 0x1f, 0x40, 0x04, 0x0a, 0x00, 0x00, 0x01,
        0x1f, 0x40, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
        0x00, 0x02, 0x6e, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x97, 0xf5,
        0x0f, 0x19, 0xc3, 0x80, 0x43, 0x37};
    peko__keyring *k = keys_none();
    cr_assert_eq(encode(&m, k), sizeof plain);
    cr_assert_arr_eq(buf, plain, sizeof plain);
    peko__keyring_free(k);

    /* Signed with the key "example": id 0x99; the trailer holds the
     * sender's incarnation 42, the tag of the receiver 10.0.0.2:8000 in
     * its incarnation 7 and packet number 1, then the MAC over bytes
     * 0..69. */
    static const uint8_t freshness[16] = {
        0x00, 0x00, 0x00, 0x2a, 0xe9, 0x08, 0xf7, 0xea,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t mac[32] = {
        0x5b, 0x91, 0x88, 0x27, 0xb6, 0xd5, 0x0b, 0x77, 0x09, 0x18, 0x42,
        0x85, 0x71, 0xb8, 0x83, 0x44, 0x0f, 0xce, 0xdb, 0x61, 0x77, 0x92,
        0xff, 0x42, 0x0a, 0x8c, 0xab, 0x34, 0xdf, 0x70, 0xdb, 0xa9};
    peko_addr receiver;
    cr_assert_eq(peko_addr_parse("10.0.0.2", 8000, &receiver), 0);
    cr_assert_eq(peko__receiver_tag(&receiver, 7), 0xe908f7eau);
    m.auth_incarnation = 42;
    m.auth_receiver = peko__receiver_tag(&receiver, 7);
    m.auth_number = 1;
    k = keys_with("example", NULL);
    cr_assert_eq(encode(&m, k), sizeof plain + 48);
    cr_assert_eq(buf[4], 0x01);
    cr_assert_eq(buf[5], 0x99);
    cr_assert_arr_eq(buf + 6, plain + 6, sizeof plain - 6);
    cr_assert_arr_eq(buf + sizeof plain, freshness, 16);
    cr_assert_arr_eq(buf + sizeof plain + 16, mac, 32);
    peko__keyring_free(k);
}

Test(wire, receiver_tags_match_the_documented_values)
{
    /* docs/wire.md, "Freshness": the fingerprint's hash over the address
     * as encoded and the incarnation, big-endian. */
    static const struct {
        const char *host;
        uint16_t port;
        uint32_t incarnation;
        uint32_t tag;
    } v[] = {
        {"10.0.0.2", 8000, 7, 0xe908f7eau},
        {"10.0.0.1", 8000, 42, 0x77730565u},
        {"127.0.0.1", 9000, 1, 0x54667406u},
        {"::1", 8000, 1700000000u, 0x00323f97u},
        {"2001:db8::1", 8000, 4294967295u, 0xc88e6a46u},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        peko_addr a;
        cr_assert_eq(peko_addr_parse(v[i].host, v[i].port, &a), 0);
        cr_assert_eq(peko__receiver_tag(&a, v[i].incarnation), v[i].tag,
                     "%s", v[i].host);
    }
}

Test(wire, sealing_later_writes_what_the_encoder_writes)
{
    /* The engine encodes once and seals per receiver: the same bytes as
     * encoding with those freshness fields, and a new seal replaces the
     * old one entirely. */
    peko__keyring *k = keys_with("k", NULL);
    for (peko_msg_type t = PEKO_MSG_HEARTBEAT; t <= PEKO_MSG_ECHO; t++) {
        peko__msg m = make_msg(t, t % 2 == 0);
        static uint8_t once[MAX_BYTES];
        size_t n = encode(&m, k);
        memcpy(once, buf, n);
        memset(buf, 0xee, n);
        cr_assert_eq(peko__wire_encode_unsealed(&m, k, buf, MAX_BYTES), n);
        peko__wire_seal(buf, n, k, 1, 2, 3);
        peko__wire_seal(buf, n, k, m.auth_incarnation, m.auth_receiver,
                        m.auth_number);
        cr_assert_arr_eq(buf, once, n, "%s", peko_msg_type_name(t));
        peko__msg out;
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_NONE);
        cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                     PEKO_REJECT_NONE);
        cr_assert_eq(out.auth_receiver, m.auth_receiver);
    }
    peko__keyring_free(k);
}

/* ------------------------------------------------------------------ */
/* Sizes and encoding limits.                                           */

Test(wire, size_without_set_counts_header_body_and_mac)
{
    peko__keyring *none = keys_none();
    peko__keyring *keyed = keys_with("k", NULL);
    static const char *const accepted[] = {"k"};
    peko__keyring *accept_only = peko__keyring_new();
    cr_assert_eq(peko__keyring_set(accept_only, NULL, accepted, 1), 0);

    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, true);
    size_t plain = peko__wire_size_without_set(&m, none);
    cr_assert_eq(plain, 12 + 19 + 19 + 4 + 4 + 2 + 2 + 6 + 2 + 7 + 4);
    cr_assert_eq(peko__wire_size_without_set(&m, keyed), plain + 48);
    /* Without a sending key the packet goes out unsigned. */
    cr_assert_eq(peko__wire_size_without_set(&m, accept_only), plain);
    cr_assert_eq(peko__wire_size_without_set(&m, NULL), plain);

    m.n_infected = 0;
    cr_assert_eq(encode(&m, keyed), plain + 48);

    m = make_msg(PEKO_MSG_METADATA, false);
    cr_assert_eq(peko__wire_size_without_set(&m, none),
                 12 + 7 + 8 + 7 + 4 + (sizeof meta - 1) + 4);
    m = make_msg(PEKO_MSG_SWAP_RESPONSE, false);
    cr_assert_eq(peko__wire_size_without_set(&m, none),
                 12 + 7 + 8 + 7 + 16 + 1 + 4 + (sizeof meta - 1) + 8 + 2 +
                     m.entries_len);
    cr_assert_eq(m.entries_len, (1 + 7 + 4 + 4 + 2 + 2 + 6 + 2 + 7) +
                                    (1 + 7 + 4 + 4 + 2));
    m = make_msg(PEKO_MSG_CHALLENGE, true);
    cr_assert_eq(peko__wire_size_without_set(&m, keyed), 12 + 19 + 8 + 48);

    /* The smallest Size carries a signed IPv6 heartbeat with nothing in
     * it and a full default fan-out in its set. */
    m = make_msg(PEKO_MSG_HEARTBEAT, true);
    m.name_len = m.data_len = 0;
    cr_assert_leq(peko__wire_size_without_set(&m, keyed) +
                      4 * (PEKO_DEFAULT_AMOUNT + 1),
                  PEKO__WIRE_MIN_SIZE);

    peko__keyring_free(none);
    peko__keyring_free(keyed);
    peko__keyring_free(accept_only);
}

Test(wire, encode_returns_zero_when_cap_is_too_small)
{
    for (int type = PEKO_MSG_HEARTBEAT; type <= PEKO_MSG_ECHO;
         type++) {
        for (int signed_ = 0; signed_ < 2; signed_++) {
            peko__keyring *k = signed_ ? keys_with("k", NULL) : keys_none();
            peko__msg m = make_msg((peko_msg_type)type, true);
            size_t n = encode(&m, k);
            uint8_t small[MAX_BYTES];
            memset(small, 0x5a, sizeof small);
            for (size_t cap = 0; cap < n; cap++)
                cr_assert_eq(peko__wire_encode(&m, k, small, cap), 0,
                             "type %d cap %zu", type, cap);
            cr_assert_eq(peko__wire_encode(&m, k, small, n), n);
            cr_assert_arr_eq(small, buf, n);
            peko__keyring_free(k);
        }
    }
}

Test(wire, encode_refuses_unencodable_messages)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    m.sender.family = 0;
    cr_assert_eq(peko__wire_encode(&m, k, buf, sizeof buf), 0);
    m = make_msg(PEKO_MSG_HEARTBEAT, false);
    m.origin.family = 5;
    cr_assert_eq(peko__wire_encode(&m, k, buf, sizeof buf), 0);
    /* A real version (counter > 0) needs a real origin. */
    m = make_msg(PEKO_MSG_METADATA, false);
    memset(&m.version.origin, 0, sizeof m.version.origin);
    cr_assert_eq(peko__wire_encode(&m, k, buf, sizeof buf), 0);
    m = make_msg(PEKO_MSG_METADATA, false);
    m.type = (peko_msg_type)9;
    cr_assert_eq(peko__wire_encode(&m, k, buf, sizeof buf), 0);
    cr_assert_eq(peko__wire_size_without_set(&m, k), SIZE_MAX);
    /* A body beyond the u32 length field can never be encoded. */
    m = make_msg(PEKO_MSG_METADATA, false);
    m.meta_len = UINT32_MAX;
    cr_assert_eq(peko__wire_encode(&m, k, buf, sizeof buf), 0);
    m.n_infected = UINT32_MAX;
    cr_assert_eq(peko__wire_size_without_set(&m, k), SIZE_MAX);
    peko__keyring_free(k);
}

/* ------------------------------------------------------------------ */
/* Header rejections.                                                   */

Test(wire, rejects_truncated_header)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    encode(&m, k);
    for (size_t n = 0; n < PEKO__WIRE_HEADER_BYTES; n++)
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED, "%zu", n);
    peko__keyring_free(k);
}

Test(wire, rejects_packet_shorter_than_its_body_length)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_METADATA, false);
    size_t n = encode(&m, k);
    for (size_t cut = PEKO__WIRE_HEADER_BYTES; cut < n; cut++)
        cr_assert_eq(decode(buf, cut, k), PEKO_REJECT_TRUNCATED, "%zu", cut);
    peko__keyring_free(k);

    /* A signed packet missing part of its MAC. */
    k = keys_with("k", NULL);
    n = encode(&m, k);
    cr_assert_eq(decode(buf, n - 1, k), PEKO_REJECT_TRUNCATED);
    cr_assert_eq(decode(buf, n - 32, k), PEKO_REJECT_TRUNCATED);
    cr_assert_eq(decode(buf, n - 48, k), PEKO_REJECT_TRUNCATED);
    peko__keyring_free(k);
}

Test(wire, rejects_every_truncated_field)
{
    /* Cut the body after every byte and fix the header's length to match,
     * so each field in turn runs past the end of the body. */
    for (int type = PEKO_MSG_HEARTBEAT; type <= PEKO_MSG_ECHO;
         type++) {
        for (int v6 = 0; v6 < 2; v6++) {
            peko__keyring *k = keys_none();
            peko__msg m = make_msg((peko_msg_type)type, v6);
            size_t n = encode(&m, k);
            size_t body = n - PEKO__WIRE_HEADER_BYTES;
            for (size_t cut = 0; cut < body; cut++) {
                set_body_len((uint32_t)cut);
                cr_assert_eq(decode(buf, PEKO__WIRE_HEADER_BYTES + cut, k),
                             PEKO_REJECT_TRUNCATED, "type %d v6 %d cut %zu",
                             type, v6, cut);
            }
            peko__keyring_free(k);
        }
    }
}

Test(wire, rejects_oversize_before_looking_at_it)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, n - 1, k, &out),
                 PEKO_REJECT_OVERSIZE);
    cr_assert_eq(peko__wire_decode(buf, n, n, k, &out), PEKO_REJECT_NONE);
    /* Even garbage too short for a header is oversize first. */
    static const uint8_t junk[4] = {1, 2, 3, 4};
    cr_assert_eq(peko__wire_decode(junk, 4, 3, k, &out), PEKO_REJECT_OVERSIZE);
    peko__keyring_free(k);
}

Test(wire, rejects_bad_magic)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    buf[0] = 'X';
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_MAGIC);
    buf[0] = PEKO__WIRE_MAGIC0;
    buf[1] ^= 0x20;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_MAGIC);
    peko__keyring_free(k);
}

Test(wire, rejects_bad_version)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    static const uint8_t versions[] = {0, 1, 3, 255};
    for (size_t i = 0; i < sizeof versions; i++) {
        buf[2] = versions[i];
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_VERSION);
    }
    peko__keyring_free(k);
}

Test(wire, rejects_bad_type)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    static const uint8_t types[] = {0, 7, 128, 255};
    for (size_t i = 0; i < sizeof types; i++) {
        buf[3] = types[i];
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_TYPE);
    }
    peko__keyring_free(k);
}

Test(wire, rejects_bad_flags)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    for (int bit = 1; bit < 8; bit++) {
        buf[4] = (uint8_t)(1u << bit);
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_FLAGS, "bit %d", bit);
    }
    buf[4] = 0;
    /* A key id on an unsigned packet. */
    buf[5] = 0x42;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_FLAGS);
    buf[5] = 0;
    /* The reserved byte. */
    buf[7] = 1;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_FLAGS);
    peko__keyring_free(k);

    /* Unknown flag bits on a signed packet too. */
    k = keys_with("k", NULL);
    n = encode(&m, k);
    buf[4] |= 0x80;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_FLAGS);
    peko__keyring_free(k);
}

Test(wire, rejects_body_length_beyond_any_acceptable_packet)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    /* 12 + 2^32 - 1 (+ 32) would wrap a 32-bit size_t. */
    set_body_len(UINT32_MAX);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_LENGTH);
    /* Anything claiming more than Size. */
    set_body_len(MAX_BYTES - PEKO__WIRE_HEADER_BYTES + 1);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_LENGTH);
    /* Exactly Size would be fine, were the bytes there. */
    set_body_len(MAX_BYTES - PEKO__WIRE_HEADER_BYTES);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED);
    peko__keyring_free(k);

    /* The trailer counts towards the limit. */
    k = keys_with("k", NULL);
    n = encode(&m, k);
    set_body_len(MAX_BYTES - PEKO__WIRE_HEADER_BYTES - 43);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_LENGTH);
    peko__keyring_free(k);
}

Test(wire, rejects_bytes_after_the_packet)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_SWAP_REQUEST, false);
    size_t n = encode(&m, k);
    buf[n] = 0;
    cr_assert_eq(decode(buf, n + 1, k), PEKO_REJECT_TRAILING);
    /* A body length smaller than the body disagrees the same way. */
    set_body_len((uint32_t)(n - PEKO__WIRE_HEADER_BYTES - 1));
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRAILING);
    peko__keyring_free(k);
}

/* ------------------------------------------------------------------ */
/* Body rejections.                                                     */

Test(wire, rejects_bytes_left_in_the_body)
{
    for (int type = PEKO_MSG_HEARTBEAT; type <= PEKO_MSG_ECHO;
         type++) {
        peko__keyring *k = keys_none();
        peko__msg m = make_msg((peko_msg_type)type, false);
        size_t n = encode(&m, k);
        buf[n] = 0;
        set_body_len((uint32_t)(n + 1 - PEKO__WIRE_HEADER_BYTES));
        cr_assert_eq(decode(buf, n + 1, k), PEKO_REJECT_TRAILING, "%d", type);
        peko__keyring_free(k);
    }
}

Test(wire, rejects_unknown_address_family)
{
    peko__keyring *k = keys_none();
    /* Sender. */
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    static const uint8_t families[] = {0, 5, 7, 255};
    for (size_t i = 0; i < sizeof families; i++) {
        buf[12] = families[i];
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_ADDRESS);
    }
    /* Heartbeat origin, after the IPv4 sender. */
    n = encode(&m, k);
    buf[12 + 7] = 0;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_ADDRESS);
    /* Version origin, after the sender and the counter. */
    m = make_msg(PEKO_MSG_SWAP_RESPONSE, false);
    n = encode(&m, k);
    buf[12 + 7 + 8] = 16;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_ADDRESS);
    peko__keyring_free(k);
}

/* Offset of the swap flags in the make_msg swap, IPv4. */
#define SWAP4_FLAGS_AT (12 + 7 + 8 + 7 + 16)

Test(wire, rejects_unknown_swap_and_entry_flags)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_SWAP_REQUEST, false);
    size_t n = encode(&m, k);
    for (int bit = 2; bit < 8; bit++) {
        buf[SWAP4_FLAGS_AT] |= (uint8_t)(1u << bit);
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_FLAGS, "bit %d", bit);
        buf[SWAP4_FLAGS_AT] &= (uint8_t)~(1u << bit);
    }
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_NONE);
    /* The first entry's flags, after meta, range and the entry count. */
    size_t entry_at = SWAP4_FLAGS_AT + 1 + 4 + (sizeof meta - 1) + 8 + 2;
    cr_assert_eq(buf[entry_at], PEKO__WIRE_ENTRY_FULL);
    for (int bit = 1; bit < 8; bit++) {
        buf[entry_at] |= (uint8_t)(1u << bit);
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_FLAGS, "bit %d", bit);
        buf[entry_at] &= (uint8_t)~(1u << bit);
    }
    /* An entry's address family. */
    buf[entry_at + 1] = 5;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_ADDRESS);
    buf[entry_at + 1] = 4;
    /* More entries than there are bytes for (the count is a u16). */
    buf[entry_at - 1] = 3;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED);
    /* Fewer leave bytes over. */
    buf[entry_at - 1] = 1;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRAILING);
    peko__keyring_free(k);
}

/* Offset of the infected set's count in the make_msg heartbeat, IPv4. */
#define HB4_SET_AT (12 + 7 + 7 + 4 + 4 + 2 + 2 + 6 + 2 + 7)

Test(wire, rejects_unsorted_infected_set)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    cr_assert_eq(peko__get_u32(buf + HB4_SET_AT), 3);
    uint8_t *fp = buf + HB4_SET_AT + 4;

    /* Descending pair. */
    peko__put_u32(fp + 4, 0x00000006);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_SET);
    /* A duplicate is not strictly ascending either. */
    peko__put_u32(fp + 4, 0x00000007);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_SET);
    /* Last pair out of order. */
    peko__put_u32(fp + 4, 0x12345678);
    peko__put_u32(fp + 8, 0x12345677);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_SET);
    peko__keyring_free(k);

    /* The same in a metadata packet. */
    k = keys_none();
    uint8_t bad[8];
    peko__put_u32(bad, 9);
    peko__put_u32(bad + 4, 8);
    m = make_msg(PEKO_MSG_METADATA, true);
    m.infected = bad;
    m.n_infected = 2;
    n = encode(&m, k);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_SET);
    peko__keyring_free(k);
}

Test(wire, rejects_set_count_larger_than_the_body)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    static const uint32_t counts[] = {4, 0x40000000, UINT32_MAX};
    for (size_t i = 0; i < 3; i++) {
        peko__put_u32(buf + HB4_SET_AT, counts[i]);
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED, "%u",
                     counts[i]);
    }
    /* A smaller count leaves bytes over. */
    peko__put_u32(buf + HB4_SET_AT, 2);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRAILING);
    peko__keyring_free(k);
}

Test(wire, rejects_string_length_larger_than_the_body)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    /* name_len */
    buf[12 + 7 + 7 + 8 + 2] = 0xff;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED);
    peko__keyring_free(k);

    k = keys_none();
    m = make_msg(PEKO_MSG_SWAP_REQUEST, false);
    n = encode(&m, k);
    /* meta_len, after the swap flags: one more than there is (the range
     * and the entries after it are then read short), or absurd. */
    m.has_range = false;
    m.n_entries = 0;
    m.entries_len = 0;
    n = encode(&m, k);
    peko__put_u32(buf + SWAP4_FLAGS_AT + 1, sizeof meta + 2);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED);
    peko__put_u32(buf + SWAP4_FLAGS_AT + 1, UINT32_MAX);
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_TRUNCATED);
    peko__keyring_free(k);
}

/* ------------------------------------------------------------------ */
/* Authentication.                                                      */

Test(wire, rejects_unsigned_packet_when_keyed)
{
    peko__keyring *plain = keys_none();
    peko__keyring *keyed = keys_with("k", NULL);
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, plain);
    cr_assert_eq(decode(buf, n, keyed), PEKO_REJECT_NO_MAC);

    /* Accepted keys alone are enough to require a MAC; such a keyring
     * sends unsigned, so it would reject its own packets. */
    static const char *const accepted[] = {"k"};
    peko__keyring *accept_only = peko__keyring_new();
    cr_assert_eq(peko__keyring_set(accept_only, NULL, accepted, 1), 0);
    n = encode(&m, accept_only);
    cr_assert_eq(buf[4], 0);
    cr_assert_eq(decode(buf, n, accept_only), PEKO_REJECT_NO_MAC);

    peko__keyring_free(plain);
    peko__keyring_free(keyed);
    peko__keyring_free(accept_only);
}

Test(wire, rejects_signed_packet_when_not_keyed)
{
    peko__keyring *keyed = keys_with("k", NULL);
    peko__msg m = make_msg(PEKO_MSG_METADATA, false);
    size_t n = encode(&m, keyed);
    peko__keyring *plain = keys_none();
    cr_assert_eq(decode(buf, n, plain), PEKO_REJECT_UNEXPECTED_MAC);
    cr_assert_eq(decode(buf, n, NULL), PEKO_REJECT_UNEXPECTED_MAC);
    peko__keyring_free(plain);
    peko__keyring_free(keyed);
}

Test(wire, rejects_mac_of_wrong_key)
{
    peko__keyring *other = keys_with("other", NULL);
    peko__keyring *mine = keys_with("mine", NULL);
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, true);
    size_t n = encode(&m, other);
    cr_assert_eq(decode(buf, n, mine), PEKO_REJECT_BAD_MAC);
    /* Even when the packet claims our key id. */
    buf[5] = peko__keyring_send_id(mine);
    cr_assert_eq(decode(buf, n, mine), PEKO_REJECT_BAD_MAC);
    peko__keyring_free(other);
    peko__keyring_free(mine);
}

Test(wire, rejects_any_flipped_byte_of_a_signed_packet)
{
    peko__keyring *k = keys_with("k", NULL);
    peko__msg m = make_msg(PEKO_MSG_SWAP_RESPONSE, false);
    size_t n = encode(&m, k);
    /* Key id (byte 5), hops (byte 6), every body byte and every MAC byte:
     * the MAC covers the header and the body, so each flip fails it. */
    for (size_t i = 5; i < n; i++) {
        if (i >= 7 && i < 12)
            continue; /* reserved and length have their own checks */
        buf[i] ^= 0x10;
        cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_MAC, "byte %zu", i);
        buf[i] ^= 0x10;
    }
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_NONE);
    peko__keyring_free(k);
}

Test(wire, authenticates_before_parsing_the_body)
{
    peko__keyring *k = keys_with("k", NULL);
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    buf[12] = 9; /* sender family, under the MAC */
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_BAD_MAC);

    peko__keyring *plain = keys_none();
    n = encode(&m, plain);
    buf[12] = 9;
    cr_assert_eq(decode(buf, n, k), PEKO_REJECT_NO_MAC);
    cr_assert_eq(decode(buf, n, plain), PEKO_REJECT_BAD_ADDRESS);
    peko__keyring_free(plain);
    peko__keyring_free(k);
}

Test(wire, key_rotation_accepts_old_key_until_dropped)
{
    peko__keyring *old = keys_with("old", NULL);
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, old);
    cr_assert_eq(buf[5], peko__keyring_send_id(old));

    /* Step 2 of a rotation: send with new, still accept old. */
    peko__keyring *rotating = keys_with("new", "old");
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, rotating, &out),
                 PEKO_REJECT_NONE);
    assert_msg_eq(&out, &m);

    /* Its own packets are signed with new, and old nodes that accept new
     * (step 1) take them. */
    peko__keyring *step1 = keys_with("old", "new");
    size_t n2 = encode(&m, rotating);
    cr_assert_neq(buf[5], peko__keyring_send_id(old));
    cr_assert_eq(decode(buf, n2, step1), PEKO_REJECT_NONE);
    cr_assert_eq(decode(buf, n2, old), PEKO_REJECT_BAD_MAC);

    /* Step 3: old dropped; packets signed with it are refused. */
    n = encode(&m, old);
    cr_assert_eq(peko__keyring_set(rotating, "new", NULL, 0), 0);
    cr_assert_eq(decode(buf, n, rotating), PEKO_REJECT_BAD_MAC);

    peko__keyring_free(old);
    peko__keyring_free(rotating);
    peko__keyring_free(step1);
}

/* ------------------------------------------------------------------ */
/* The infected set in place.                                           */

Test(wire, set_contains_finds_members_by_binary_search)
{
    cr_assert_not(peko__wire_set_contains(NULL, 0, 1));
    cr_assert(peko__wire_set_contains(set3, 3, 0x00000007));
    cr_assert(peko__wire_set_contains(set3, 3, 0x12345678));
    cr_assert(peko__wire_set_contains(set3, 3, 0xfffffffe));
    cr_assert_not(peko__wire_set_contains(set3, 3, 0x00000006));
    cr_assert_not(peko__wire_set_contains(set3, 3, 0x00000008));
    cr_assert_not(peko__wire_set_contains(set3, 3, 0xffffffff));
    cr_assert_not(peko__wire_set_contains(set3, 3, 0x78563412));

    /* A large set: every member found, every gap not. */
    enum { N = 1000 };
    static uint8_t big[4 * N];
    for (uint32_t i = 0; i < N; i++)
        peko__put_u32(big + 4 * i, 3 * i + 1);
    for (uint32_t v = 0; v < 3 * N + 3; v++)
        cr_assert_eq(peko__wire_set_contains(big, N, v),
                     v % 3 == 1 && v < 3 * N, "%u", v);
}

/* Every sub-range [lo, hi) of sets of 0 to 40 entries, every value
 * around each entry: the lower bound is where a linear scan stops. */
Test(wire, set_lower_bound_agrees_with_a_linear_scan)
{
    enum { N = 40 };
    uint8_t set[4 * N];
    for (uint32_t i = 0; i < N; i++)
        peko__put_u32(set + 4 * i, 0x10000000u + 5 * i);
    for (uint32_t lo = 0; lo <= N; lo++)
        for (uint32_t hi = lo; hi <= N; hi++)
            for (uint32_t k = 0; k <= N; k++)
                for (int d = -1; d <= 1; d++) {
                    uint32_t v = 0x10000000u + 5 * k + (uint32_t)d;
                    uint32_t want = lo;
                    while (want < hi && peko__get_u32(set + 4 * want) < v)
                        want++;
                    cr_assert_eq(peko__wire_set_lower_bound(set, lo, hi, v),
                                 want, "[%u, %u) v=%#x", lo, hi, v);
                }
    cr_assert_eq(peko__wire_set_lower_bound(set, 0, N, 0), 0);
    cr_assert_eq(peko__wire_set_lower_bound(set, 0, N, UINT32_MAX), N);
}

Test(wire, decoded_set_is_searchable_in_the_packet)
{
    peko__keyring *k = keys_none();
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
    size_t n = encode(&m, k);
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                 PEKO_REJECT_NONE);
    cr_assert_eq(out.infected, buf + HB4_SET_AT + 4);
    cr_assert(peko__wire_set_contains(out.infected, out.n_infected,
                                      0x12345678));
    peko__keyring_free(k);
}

Test(wire, fills_a_full_size_packet_with_fingerprints)
{
    /* As many fingerprints as Size allows: the engine's bound. */
    peko__keyring *k = keys_with("k", NULL);
    peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, true);
    size_t fixed = peko__wire_size_without_set(&m, k);
    uint32_t room = (uint32_t)((MAX_BYTES - fixed) / 4);
    static uint8_t set[MAX_BYTES];
    for (uint32_t i = 0; i < room; i++)
        peko__put_u32(set + 4 * i, 2 * i + 1);
    m.infected = set;
    m.n_infected = room;
    size_t n = encode(&m, k);
    cr_assert_leq(n, MAX_BYTES);
    cr_assert_gt(n + 4, MAX_BYTES);
    peko__msg out;
    cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, k, &out),
                 PEKO_REJECT_NONE);
    cr_assert_eq(out.n_infected, room);
    m.n_infected = room + 1;
    cr_assert_eq(peko__wire_encode(&m, k, buf, MAX_BYTES), 0);
    peko__keyring_free(k);
}

/* ------------------------------------------------------------------ */
/* Peeking at a heartbeat's origin ahead of decoding.                   */

Test(wire, peek_origin_reads_what_decoding_will)
{
    /* Every mix of families for sender and origin. */
    for (int k = 0; k < 4; k++) {
        peko__msg m = make_msg(PEKO_MSG_HEARTBEAT, false);
        m.sender = node_a(k & 1);
        m.origin = node_b(k & 2);
        m.seq = 0x01020304u + (uint32_t)k;
        size_t n = encode(&m, NULL);
        peko_addr origin;
        uint32_t seq;
        cr_assert(peko__wire_peek_origin(buf, n, &origin, &seq), "mix %d",
                  k);
        cr_assert_eq(memcmp(&origin, &m.origin, sizeof origin), 0);
        peko__msg got;
        cr_assert_eq(peko__wire_decode(buf, n, MAX_BYTES, NULL, &got),
                     PEKO_REJECT_NONE);
        cr_assert_eq(memcmp(&origin, &got.origin, sizeof origin), 0);
        cr_assert_eq(seq, got.seq);
        /* Cut anywhere inside the origin: nothing to peek at; inside the
         * incarnation and sequence that follow it: an origin, and a
         * sequence of 0. */
        size_t origin_end = PEKO__WIRE_HEADER_BYTES + (k & 1 ? 19 : 7) +
                            (k & 2 ? 19 : 7);
        for (size_t cut = 0; cut < origin_end; cut++)
            cr_assert_not(peko__wire_peek_origin(buf, cut, &origin, &seq),
                          "mix %d cut %zu", k, cut);
        for (size_t cut = origin_end; cut < origin_end + 8; cut++) {
            cr_assert(peko__wire_peek_origin(buf, cut, &origin, &seq));
            cr_assert_eq(seq, 0, "mix %d cut %zu", k, cut);
        }
        cr_assert(peko__wire_peek_origin(buf, origin_end + 8, &origin,
                                         &seq));
        cr_assert_eq(seq, m.seq);
    }
    /* Other message types have no origin. */
    peko__msg m = make_msg(PEKO_MSG_METADATA, false);
    size_t n = encode(&m, NULL);
    peko_addr origin;
    cr_assert_not(peko__wire_peek_origin(buf, n, &origin, NULL));
}
