/* bench-auth.c: signing and verifying packets with the keyring (auth.c).
 *
 * The keyring keeps one keyed GHmac per key and copies it per packet
 * (g_hmac_copy). Beside it, in the same run and on the same packets, this
 * benchmark times two references:
 *   - "checksum pair": HMAC-SHA256 written by hand over two GChecksum
 *     states with the padded key blocks absorbed, copied per packet (how
 *     auth.c computed it before it used GHmac);
 *   - "fresh GHmac": g_hmac_new per packet, the key schedule every time.
 * Each figure is packets per second, the median of 5 repetitions; the
 * variants alternate within each repetition so load on the machine hits
 * them alike. The ratio keyring / checksum pair is printed per size.
 * Every MAC is checked against the others first: exit 1 if they differ.
 * BENCH lines (bench.h) named auth-52, auth-1400 and auth-16384 (packet
 * bytes): keyring_sign_per_s, keyring_verify_per_s, checksum_pair_per_s
 * and fresh_ghmac_per_s; PEKO_BENCH_REPS changes the 5 repetitions.
 *
 * Run with `meson test -C build --benchmark --suite auth` or directly:
 *     bench-auth [SCALE]
 * SCALE multiplies the number of packets (e.g. 0.1 for a quick look).
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "wire.h"

#define DEFAULT_REPS 5
#define MAX_REPS 100 /* bench_reps() allows no more */
#define SECRET "cluster-secret"
#define BLOCK_BYTES 64
#define MAC_BYTES 32

/* The hand-written HMAC: (key ^ ipad) and (key ^ opad) absorbed once into
 * two SHA-256 states, each copied per packet. */
typedef struct checksum_pair {
    GChecksum *inner;
    GChecksum *outer;
} checksum_pair;

static void pair_init(checksum_pair *p, const char *secret)
{
    size_t n = strlen(secret);
    uint8_t block[BLOCK_BYTES] = {0};
    if (n > BLOCK_BYTES) {
        gsize n_digest = MAC_BYTES;
        GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(sum, (const guchar *)secret, (gssize)n);
        g_checksum_get_digest(sum, block, &n_digest);
        g_checksum_free(sum);
    } else {
        memcpy(block, secret, n);
    }
    uint8_t pad[BLOCK_BYTES];
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = block[i] ^ 0x36;
    p->inner = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(p->inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = block[i] ^ 0x5c;
    p->outer = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(p->outer, pad, sizeof pad);
}

static void pair_clear(checksum_pair *p)
{
    g_checksum_free(p->inner);
    g_checksum_free(p->outer);
}

static void pair_hmac(const checksum_pair *p, const uint8_t *bytes,
                      size_t n_bytes, uint8_t mac[MAC_BYTES])
{
    uint8_t inner[MAC_BYTES];
    gsize n = sizeof inner;
    GChecksum *sum = g_checksum_copy(p->inner);
    g_checksum_update(sum, bytes, (gssize)n_bytes);
    g_checksum_get_digest(sum, inner, &n);
    g_checksum_free(sum);
    n = MAC_BYTES;
    sum = g_checksum_copy(p->outer);
    g_checksum_update(sum, inner, sizeof inner);
    g_checksum_get_digest(sum, mac, &n);
    g_checksum_free(sum);
}

static void fresh_hmac(const char *secret, const uint8_t *bytes,
                       size_t n_bytes, uint8_t mac[MAC_BYTES])
{
    GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)secret,
                          strlen(secret));
    g_hmac_update(h, bytes, (gssize)n_bytes);
    gsize n = MAC_BYTES;
    g_hmac_get_digest(h, mac, &n);
    g_hmac_unref(h);
}

enum variant { KEYRING_SIGN, KEYRING_VERIFY, PAIR, FRESH, N_VARIANTS };

static const char *const variant_name[N_VARIANTS] = {
    "keyring sign", "keyring verify", "checksum pair", "fresh GHmac",
};

static const char *const variant_metric[N_VARIANTS] = {
    "keyring_sign_per_s", "keyring_verify_per_s", "checksum_pair_per_s",
    "fresh_ghmac_per_s",
};

typedef struct bench {
    peko__keyring *keys;
    checksum_pair pair;
    uint8_t key_id;
} bench;

/* Runs n_packets of one variant over packet and returns packets per
 * second. Each packet differs in its first bytes, so no work repeats. */
static double run(const bench *b, enum variant v, uint8_t *packet,
                  size_t n_bytes, size_t n_packets, uint64_t *checksum)
{
    uint8_t mac[MAC_BYTES];
    peko__keyring_sign(b->keys, packet, n_bytes, mac);
    int64_t start_us = g_get_monotonic_time();
    for (size_t i = 0; i < n_packets; i++) {
        memcpy(packet, &i, MIN(sizeof i, n_bytes));
        switch (v) {
        case KEYRING_SIGN:
            peko__keyring_sign(b->keys, packet, n_bytes, mac);
            break;
        case KEYRING_VERIFY:
            /* A wrong MAC: all bytes compared, the work of a real check. */
            *checksum += peko__keyring_verify(b->keys, b->key_id, packet,
                                              n_bytes, mac);
            break;
        case PAIR:
            pair_hmac(&b->pair, packet, n_bytes, mac);
            break;
        case FRESH:
            fresh_hmac(SECRET, packet, n_bytes, mac);
            break;
        case N_VARIANTS:
            break;
        }
        *checksum += mac[0];
    }
    int64_t elapsed_us = g_get_monotonic_time() - start_us;
    return (double)n_packets * 1e6 / (double)MAX(elapsed_us, 1);
}

/* The three ways must give one MAC, or the figures compare nothing. */
static gboolean macs_agree(const bench *b, const uint8_t *packet,
                           size_t n_bytes)
{
    uint8_t a[MAC_BYTES], p[MAC_BYTES], f[MAC_BYTES];
    peko__keyring_sign(b->keys, packet, n_bytes, a);
    pair_hmac(&b->pair, packet, n_bytes, p);
    fresh_hmac(SECRET, packet, n_bytes, f);
    return memcmp(a, p, MAC_BYTES) == 0 && memcmp(a, f, MAC_BYTES) == 0 &&
           peko__keyring_verify(b->keys, b->key_id, packet, n_bytes, a);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? g_ascii_strtod(argv[1], NULL) : 1.0;
    if (!(scale > 0.0)) {
        fprintf(stderr, "usage: bench-auth [SCALE > 0]\n");
        return 2;
    }

    bench b;
    b.keys = peko__keyring_new();
    if (peko__keyring_set(b.keys, SECRET, NULL, 0) != 0) {
        fprintf(stderr, "bench-auth: cannot set the key\n");
        return 1;
    }
    b.key_id = peko__keyring_send_id(b.keys);
    pair_init(&b.pair, SECRET);

    /* A heartbeat, a mid-size packet, and the default Size. */
    static const size_t sizes[] = {52, 1400, 16384};
    uint64_t checksum = 0;
    int status = 0;
    int reps = bench_reps(DEFAULT_REPS);
    printf("HMAC-SHA256, packets/s (median of %d)\n", reps);
    printf("%8s %14s %14s %14s %14s %8s %8s\n", "bytes", variant_name[0],
           variant_name[1], variant_name[2], variant_name[3], "sign/pr",
           "verif/pr");
    for (size_t s = 0; s < G_N_ELEMENTS(sizes); s++) {
        size_t n_bytes = sizes[s];
        uint8_t *packet = g_malloc(n_bytes);
        for (size_t i = 0; i < n_bytes; i++)
            packet[i] = (uint8_t)(i * 131 + 7);
        if (!macs_agree(&b, packet, n_bytes)) {
            fprintf(stderr, "bench-auth: MACs differ at %zu bytes\n",
                    n_bytes);
            status = 1;
        }
        /* About 0.2 s per variant and repetition on a 2020s core. */
        size_t n_packets = (size_t)(scale * 4e7 / (double)(n_bytes + 200));
        n_packets = MAX(n_packets, 1);
        double rates[N_VARIANTS][MAX_REPS];
        for (int r = 0; r < reps; r++)
            for (int v = 0; v < N_VARIANTS; v++)
                rates[v][r] = run(&b, (enum variant)v, packet, n_bytes,
                                  n_packets, &checksum);
        double median[N_VARIANTS];
        for (int v = 0; v < N_VARIANTS; v++)
            median[v] = bench_median(rates[v], (size_t)reps);
        printf("%8zu %14.0f %14.0f %14.0f %14.0f %8.2f %8.2f\n", n_bytes,
               median[KEYRING_SIGN], median[KEYRING_VERIFY], median[PAIR],
               median[FRESH], median[KEYRING_SIGN] / median[PAIR],
               median[KEYRING_VERIFY] / median[PAIR]);
        char name[32];
        g_snprintf(name, sizeof name, "auth-%zu", n_bytes);
        for (int v = 0; v < N_VARIANTS; v++)
            bench_figure(name, variant_metric[v], median[v], "1/s",
                         BENCH_HIGHER, reps);
        g_free(packet);
    }
    printf("(checksum %llu)\n", (unsigned long long)checksum);

    pair_clear(&b.pair);
    peko__keyring_free(b.keys);
    return status;
}
