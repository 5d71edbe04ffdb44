/* make-corpus.c: writes the decoder fuzz target's seed corpus.
 *
 * Usage: make-corpus DIR. Writes one valid packet per file, encoded by the
 * real encoder: every message type and every optional part of a swap
 * (metadata, range, digest entries full and short, none of them), between
 * IPv4 and between IPv6 nodes, unsigned and signed with FUZZ_KEY
 * (fuzz-common.h). Each seed is decoded back before it is written, so a
 * broken encoder cannot seed the fuzzer with garbage. The output depends on
 * nothing but the encoder: fuzz/corpus/ is this program's output, and
 * fuzz/run.sh checks that it still is. Exits 1 on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "wire.h"

static int write_seed(const char *dir, const char *name, const peko__msg *msg,
                      const peko__keyring *keys)
{
    uint8_t buf[FUZZ_MAX_BYTES];
    size_t n = peko__wire_encode(msg, keys, buf, sizeof buf);
    peko__msg back;
    if (n == 0 || peko__wire_decode(buf, n, sizeof buf, keys, &back) !=
                      PEKO_REJECT_NONE) {
        fprintf(stderr, "make-corpus: %s does not round-trip\n", name);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* Writes the infected set {fps} big-endian into out, ascending. */
static void set_bytes(uint8_t *out, uint32_t *fps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (fps[j] < fps[i]) {
                uint32_t t = fps[i];
                fps[i] = fps[j];
                fps[j] = t;
            }
    for (size_t i = 0; i < n; i++)
        peko__put_u32(out + 4 * i, fps[i]);
}

/* The seeds: each a message type and, for swaps, which optional parts
 * the body carries. */
enum {
    DIGEST_NONE,  /* n_entries 0 */
    DIGEST_MIXED, /* a full entry and a short one */
    DIGEST_WIDE,  /* a full entry with empty name and data, a short one,
                   * a short one of the other address family */
    DIGEST_SHORT, /* two short entries */
};

typedef struct seed {
    const char *name;
    peko_msg_type type;
    bool has_meta;
    bool has_range;
    uint32_t range_first, range_last;
    int digest;
    bool no_version; /* counter 0: a node without metadata */
    bool unsigned_only;
} seed;

static const seed seeds[] = {
    {"heartbeat", PEKO_MSG_HEARTBEAT},
    {"metadata", PEKO_MSG_METADATA},
    /* Everything a swap can carry; the range wraps past 0xffffffff. */
    {"swap-request", PEKO_MSG_SWAP_REQUEST, true, true, 0xf0000000u,
     0x0fffffffu, DIGEST_MIXED},
    {"swap-response", PEKO_MSG_SWAP_RESPONSE, true, true, 0x40000000u,
     0x7fffffffu, DIGEST_MIXED},
    /* A digest alone: no metadata, a range and three entries. */
    {"swap-request-digest", PEKO_MSG_SWAP_REQUEST, false, true, 0x12345678u,
     0x12345678u, DIGEST_WIDE},
    /* Entries without a range. */
    {"swap-response-digest", PEKO_MSG_SWAP_RESPONSE, false, false, 0, 0,
     DIGEST_SHORT},
    /* The whole ring and no entries: "I know of nobody". */
    {"swap-request-ring", PEKO_MSG_SWAP_REQUEST, false, true, 0x80000000u,
     0x7fffffffu, DIGEST_NONE},
    /* Metadata alone: pekonode's swap. */
    {"swap-response-meta", PEKO_MSG_SWAP_RESPONSE, true, false, 0, 0,
     DIGEST_NONE},
    /* A node with no metadata yet asks for it: counter 0, nothing else. */
    {"swap-request-empty", PEKO_MSG_SWAP_REQUEST, false, false, 0, 0,
     DIGEST_NONE, true, true},
    {"challenge", PEKO_MSG_CHALLENGE},
    {"echo", PEKO_MSG_ECHO},
};

/* Writes the digest entries of `kind` into out; returns their count and
 * sets *n_bytes. a and b are the family's nodes, other a node of the
 * other family. */
static uint16_t entries_bytes(int kind, const peko_addr *a, const peko_addr *b,
                              const peko_addr *other, uint8_t *out,
                              uint32_t *n_bytes)
{
    peko__entry e[3];
    memset(e, 0, sizeof e);
    uint16_t n = 0;
    switch (kind) {
    case DIGEST_NONE:
        break;
    case DIGEST_MIXED:
        e[0] = (peko__entry){.addr = *b, .incarnation = 7, .seq = 99,
                             .rev = 2, .full = true,
                             .name = (const uint8_t *)"node-2",
                             .name_len = 6,
                             .data = (const uint8_t *)"role=db",
                             .data_len = 7};
        e[1] = (peko__entry){.addr = *a, .incarnation = 0xfffffffeu,
                             .seq = 1};
        n = 2;
        break;
    case DIGEST_WIDE:
        e[0] = (peko__entry){.addr = *a, .incarnation = 11, .seq = 12,
                             .rev = 65535, .full = true};
        e[1] = (peko__entry){.addr = *b, .incarnation = 21, .seq = 22,
                             .rev = 1};
        e[2] = (peko__entry){.addr = *other, .incarnation = 31, .seq = 32,
                             .rev = 3};
        n = 3;
        break;
    case DIGEST_SHORT:
        e[0] = (peko__entry){.addr = *b, .incarnation = 5, .seq = 500};
        e[1] = (peko__entry){.addr = *a, .incarnation = 6, .seq = 600,
                             .rev = 4};
        n = 2;
        break;
    }
    uint8_t *p = out;
    for (uint16_t i = 0; i < n; i++)
        p = peko__entry_write(p, &e[i]);
    *n_bytes = (uint32_t)(p - out);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make-corpus DIR\n");
        return 2;
    }
    const char *dir = argv[1];

    peko__keyring *plain = peko__keyring_new();
    peko__keyring *keyed = peko__keyring_new();
    if (peko__keyring_set(keyed, FUZZ_KEY, NULL, 0) != 0)
        return 1;

    static const char *const families[2] = {"v4", "v6"};
    static const char *const hosts[2][2] = {{"10.0.0.1", "10.0.0.2"},
                                            {"2001:db8::1", "::1"}};
    static const uint8_t meta[] = "cluster-config: v1";
    int failed = 0;

    for (int fam = 0; fam < 2; fam++) {
        peko_addr a, b, other;
        if (peko_addr_parse(hosts[fam][0], 8000, &a) != 0 ||
            peko_addr_parse(hosts[fam][1], 8001, &b) != 0 ||
            peko_addr_parse(hosts[!fam][1], 8002, &other) != 0)
            return 1;
        uint32_t fps[3] = {peko_addr_fingerprint(&a),
                           peko_addr_fingerprint(&b), 0x7fffffffu};
        uint8_t set[12];
        set_bytes(set, fps, 3);

        for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
            const seed *sd = &seeds[s];
            uint8_t entries[256];
            peko__msg m;
            memset(&m, 0, sizeof m);
            m.type = sd->type;
            m.hops = 2;
            m.sender = a;
            /* The freshness trailer of the signed seeds: written for b
             * in its incarnation 0xdeadbeef (a hello, tag 0, for the
             * challenge). */
            m.auth_incarnation = 0x0badcafeu;
            m.auth_receiver = sd->type == PEKO_MSG_CHALLENGE
                                  ? 0
                                  : peko__receiver_tag(&b, 0xdeadbeefu);
            m.auth_number = 0x0000000100000002ULL;
            switch (sd->type) {
            case PEKO_MSG_HEARTBEAT:
                m.origin = b;
                m.incarnation = 0xdeadbeefu;
                m.seq = 7;
                m.rev = 3;
                m.name = (const uint8_t *)"node-1";
                m.name_len = 6;
                m.data = (const uint8_t *)"role=db";
                m.data_len = 7;
                m.infected = set;
                m.n_infected = 3;
                break;
            case PEKO_MSG_METADATA:
                m.version.counter = 3;
                m.version.origin = b;
                m.has_meta = true;
                m.meta = meta;
                m.meta_len = sizeof meta - 1;
                m.infected = set;
                m.n_infected = 3;
                break;
            case PEKO_MSG_SWAP_REQUEST:
            case PEKO_MSG_SWAP_RESPONSE:
                if (!sd->no_version) {
                    m.version.counter = 3;
                    m.version.origin = b;
                }
                /* Wall clocks: a request's, and a response's with the
                 * request's returned. */
                m.sent_us = 1733325000123456ULL;
                if (sd->type == PEKO_MSG_SWAP_RESPONSE)
                    m.echo_us = 1733325000120001ULL;
                m.has_meta = sd->has_meta;
                if (sd->has_meta) {
                    m.meta = meta;
                    m.meta_len = sizeof meta - 1;
                }
                m.has_range = sd->has_range;
                m.range_first = sd->range_first;
                m.range_last = sd->range_last;
                m.entries = entries;
                m.n_entries = entries_bytes(sd->digest, &a, &b, &other,
                                            entries, &m.entries_len);
                break;
            case PEKO_MSG_CHALLENGE:
            case PEKO_MSG_ECHO:
                /* An echo repeats the challenge's nonce. */
                m.nonce = 0x0123456789abcdefULL;
                break;
            }
            char name[96];
            snprintf(name, sizeof name, "%s-%s", sd->name, families[fam]);
            failed |= write_seed(dir, name, &m, plain);
            if (sd->unsigned_only)
                continue;
            snprintf(name, sizeof name, "signed-%s-%s", sd->name,
                     families[fam]);
            failed |= write_seed(dir, name, &m, keyed);
        }
    }

    peko__keyring_free(plain);
    peko__keyring_free(keyed);
    return failed ? 1 : 0;
}
