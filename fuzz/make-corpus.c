/* make-corpus.c: writes the decoder fuzz target's seed corpus.
 *
 * Usage: make-corpus DIR. Writes one valid packet per file, encoded by the
 * real encoder: every message type, between IPv4 and between IPv6 nodes,
 * unsigned and signed with FUZZ_KEY (fuzz-common.h). Each seed is decoded
 * back before it is written, so a broken encoder cannot seed the fuzzer
 * with garbage. Exits 1 on any failure.
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

/* Writes the infected set {fps} big-endian into out (ascending already). */
static void set_bytes(uint8_t *out, const uint32_t *fps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        peko__put_u32(out + 4 * i, fps[i]);
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
    static const char *const types[] = {NULL, "heartbeat", "metadata",
                                        "swap-request", "swap-response"};
    static const uint8_t meta[] = "cluster-config: v1";
    int failed = 0;

    for (int fam = 0; fam < 2; fam++) {
        peko_addr a, b;
        if (peko_addr_parse(hosts[fam][0], 8000, &a) != 0 ||
            peko_addr_parse(hosts[fam][1], 8001, &b) != 0)
            return 1;
        uint32_t fps[3] = {peko_addr_fingerprint(&a),
                           peko_addr_fingerprint(&b), 0x7fffffffu};
        /* Ascending order for the wire. */
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (fps[j] < fps[i]) {
                    uint32_t t = fps[i];
                    fps[i] = fps[j];
                    fps[j] = t;
                }
        uint8_t set[12];
        set_bytes(set, fps, 3);

        for (int type = PEKO_MSG_HEARTBEAT; type <= PEKO_MSG_SWAP_RESPONSE;
             type++) {
            peko__msg m;
            memset(&m, 0, sizeof m);
            m.type = (peko_msg_type)type;
            m.hops = 2;
            m.sender = a;
            if (type == PEKO_MSG_HEARTBEAT) {
                m.origin = b;
                m.incarnation = 0xdeadbeef;
                m.seq = 7;
                m.name = (const uint8_t *)"node-1";
                m.name_len = 6;
                m.data = (const uint8_t *)"role=db";
                m.data_len = 7;
            } else {
                m.version.counter = 3;
                m.version.origin = b;
                m.meta = meta;
                m.meta_len = sizeof meta - 1;
            }
            if (type == PEKO_MSG_HEARTBEAT || type == PEKO_MSG_METADATA) {
                m.infected = set;
                m.n_infected = 3;
            }
            char name[64];
            snprintf(name, sizeof name, "%s-%s", types[type], families[fam]);
            failed |= write_seed(dir, name, &m, plain);
            snprintf(name, sizeof name, "signed-%s-%s", types[type],
                     families[fam]);
            failed |= write_seed(dir, name, &m, keyed);
        }

        /* A node with no metadata yet asks for it: counter 0. */
        peko__msg ask;
        memset(&ask, 0, sizeof ask);
        ask.type = PEKO_MSG_SWAP_REQUEST;
        ask.sender = a;
        char name[64];
        snprintf(name, sizeof name, "swap-request-empty-%s", families[fam]);
        failed |= write_seed(dir, name, &ask, plain);
    }

    peko__keyring_free(plain);
    peko__keyring_free(keyed);
    return failed ? 1 : 0;
}
