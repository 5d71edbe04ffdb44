/* test-hostile.c: a node on a hostile network (docs/protocol.md, "On a
 * hostile network"): no reflection, no amplification toward unproven
 * addresses, a bounded member table that a flood of forged nodes cannot
 * empty of real ones. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <malloc.h>
#include <string.h>

#include "testenv.h"
#include "wire.h"

#define SECOND_US 1000000LL

static peko_addr addr_of(const char *host, uint16_t port)
{
    peko_addr a;
    cr_assert_eq(peko_addr_parse(host, port, &a), 0);
    return a;
}

/* Bytes a node sent, by destination: the observer's count. */
typedef struct sent_to {
    peko_addr watched[2];
    uint64_t bytes[2];
    uint64_t packets[2];
} sent_to;

static void on_sent(void *user, peko_msg_type type, const peko_addr *to,
                    size_t n_bytes)
{
    (void)type;
    sent_to *s = user;
    for (int i = 0; i < 2; i++)
        if (peko_addr_equal(to, &s->watched[i])) {
            s->bytes[i] += n_bytes;
            s->packets[i]++;
        }
}

static testnet *converged(size_t n, peko_dissemination d, uint64_t seed)
{
    peko_config c = {0};
    c.cycle_us = SECOND_US;
    c.dissemination = d;
    testnet *net = testnet_new(n, &c, seed);
    testnet_join_all(net);
    testnet_run_for(net, 20 * SECOND_US);
    cr_assert(testnet_converged(net));
    return net;
}

/* A swap request as an attacker writes it: naming `sender`, listing
 * `n_entries` made-up nodes in a whole-ring range. */
static size_t forged_request(const peko_addr *sender, int n_entries,
                             uint64_t salt, uint8_t *buf, size_t cap)
{
    static uint8_t entries[16384];
    size_t len = 0;
    for (int i = 0; i < n_entries; i++) {
        char host[32];
        g_snprintf(host, sizeof host, "10.%u.%u.%u",
                   (unsigned)(salt >> 8) & 255, (unsigned)salt & 255,
                   (unsigned)i & 255);
        peko__entry e = {.addr = addr_of(host, (uint16_t)(7000 + i)),
                         .incarnation = 1, .seq = 1};
        len = (size_t)(peko__entry_write(entries + len, &e) - entries);
    }
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_SWAP_REQUEST;
    m.sender = *sender;
    m.has_range = true;
    m.range_first = (uint32_t)salt;
    m.range_last = (uint32_t)salt - 1;
    m.entries = entries;
    m.entries_len = (uint32_t)len;
    m.n_entries = (uint16_t)n_entries;
    size_t n = peko__wire_encode(&m, NULL, buf, cap);
    cr_assert_gt(n, 0);
    return n;
}

Test(hostile, replies_go_to_the_source_never_to_the_address_named_inside)
{
    for (int d = 0; d < 2; d++) {
        testnet *net = converged(8, d ? PEKO_DISSEMINATION_DIGEST
                                      : PEKO_DISSEMINATION_RUMOR, 41);
        peko_addr attacker = addr_of("127.0.0.1", 6666);
        peko_addr victim = addr_of("192.0.2.7", 53);
        sent_to s = {.watched = {attacker, victim}};
        peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                             .packet_sent = on_sent};
        peko_nodelist_set_observer(testnet_node(net, 0), &obs, &s);
        uint8_t buf[16384];
        size_t n = forged_request(&victim, 0, 1, buf, sizeof buf);
        testnet_inject(net, 0, &attacker, buf, n);
        cr_assert_eq(s.packets[1], 0, "the victim named inside got %lu",
                     (unsigned long)s.packets[1]);
        cr_assert_gt(s.packets[0], 0, "the source got no answer");
        testnet_free(net);
    }
}

Test(hostile, an_unproven_source_never_gets_more_bytes_than_it_sent)
{
    /* A node holding a 10 KB metadata blob and a full list: the answers
     * it would like to give are much larger than small requests. A mixed
     * flood: tiny requests, requests listing strangers, echoes of wrong
     * cookies, from many source addresses none of which proves itself. */
    testnet *net = converged(32, PEKO_DISSEMINATION_RUMOR, 42);
    static uint8_t blob[10000];
    memset(blob, 'x', sizeof blob);
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 0), blob,
                                       sizeof blob), 0);
    testnet_run_for(net, 2 * SECOND_US);

    uint64_t received = 0;
    sent_to total = {0};
    for (int i = 0; i < 500; i++) {
        peko_addr src = addr_of("127.0.0.2", (uint16_t)(20000 + i));
        sent_to s = {.watched = {src, src}};
        peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                             .packet_sent = on_sent};
        peko_nodelist_set_observer(testnet_node(net, 0), &obs, &s);
        uint8_t buf[16384];
        size_t n;
        if (i % 3 == 2) {
            peko__msg m;
            memset(&m, 0, sizeof m);
            m.type = PEKO_MSG_ECHO;
            m.sender = src;
            m.nonce = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
            n = peko__wire_encode(&m, NULL, buf, sizeof buf);
        } else {
            n = forged_request(&src, i % 3 ? (i % 50) : 0, (uint64_t)i, buf,
                               sizeof buf);
        }
        testnet_inject(net, 0, &src, buf, n);
        received += n;
        cr_assert_leq(s.bytes[0], n, "packet %d: %lu bytes sent for %zu", i,
                      (unsigned long)s.bytes[0], n);
        total.bytes[0] += s.bytes[0];
    }
    cr_assert_leq(total.bytes[0], received);
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, 0), &st);
    cr_assert_gt(st.challenges_sent, 0);
    cr_assert_gt(st.cookies_refused, 0);
    testnet_free(net);
}

Test(hostile, a_proven_requester_gets_the_whole_answer_after_one_challenge)
{
    /* Node 5 is new to node 0: its first request is answered within its
     * own size, with a challenge; once it echoes, the metadata comes. */
    peko_config c = {0};
    c.cycle_us = SECOND_US;
    testnet *net = testnet_new(6, &c, 43);
    static uint8_t blob[8000];
    memset(blob, 'y', sizeof blob);
    for (size_t i = 0; i < 5; i++)
        testnet_join_via(net, i, 0);
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 0), blob,
                                       sizeof blob), 0);
    /* Node 5 joins through node 0 without hearing the rumor. */
    for (size_t i = 0; i < 5; i++)
        testnet_block(net, i, 5, true);
    testnet_join_via(net, 5, 0);
    testnet_run_for(net, 3 * SECOND_US);
    for (size_t i = 0; i < 5; i++)
        testnet_block(net, i, 5, false);
    testnet_run_for(net, 10 * SECOND_US);
    size_t n;
    cr_assert_not_null(peko_nodelist_read(testnet_node(net, 5), &n));
    cr_assert_eq(n, sizeof blob);
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, 0), &st);
    cr_assert_gt(st.verified, 0);
    testnet_free(net);
}

Test(hostile, a_requester_held_back_gets_the_metadata_once_it_echoes)
{
    /* Node 7 knows every node but has heard from none (set(), heartbeats
     * stopped): its swap requests list nobody, so no answer to it from an
     * unproven address has room for the metadata, and each cycle it asks
     * another peer. The peer that held it back sends it with the echo,
     * within the first cycle (an hour long here). */
    peko_config c = {0};
    c.cycle_us = 3600 * SECOND_US;
    testnet *net = testnet_new(8, &c, 44);
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++) {
            if (i == j)
                continue;
            char host[PEKO_HOST_STRLEN];
            peko_addr_host(testnet_addr(net, j), host);
            peko_node peer = {.addr = host,
                              .port = testnet_addr(net, j)->port};
            cr_assert_eq(peko_nodelist_set(testnet_node(net, i), &peer), 0);
        }
    for (size_t i = 0; i < 7; i++)
        testnet_block(net, i, 7, true);
    const char meta[] = "held back";
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 0),
                                       (const uint8_t *)meta, sizeof meta),
                 0);
    testnet_run_for(net, SECOND_US);
    size_t n;
    cr_assert_null(peko_nodelist_read(testnet_node(net, 7), &n));
    for (size_t i = 0; i < 7; i++)
        testnet_block(net, i, 7, false);
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(peko_nodelist_join(testnet_node(net, i)), 0);
        peko_nodelist_stop(testnet_node(net, i));
    }
    testnet_run_for(net, 10 * SECOND_US);
    const uint8_t *got = peko_nodelist_read(testnet_node(net, 7), &n);
    cr_assert_not_null(got, "node 7 still lacks the metadata");
    cr_assert_eq(n, sizeof meta);
    testnet_free(net);
}

/* What the process's heap holds (0 under a sanitizer's allocator, which
 * glibc's statistics do not see: the check is then vacuous). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

Test(hostile, a_flood_of_forged_nodes_keeps_the_table_bounded_and_the_real_ones)
{
    /* 1,000,000 forged heartbeats with distinct origins at one node of a
     * converged cluster, with a member bound of 4096. Its real peers have
     * proved their addresses (swaps answered): none is evicted. */
    peko_config c = {0};
    c.cycle_us = SECOND_US;
    c.max_members = 4096;
    c.timeout_us = 3600 * SECOND_US; /* the flood outlives no timeout */
    testnet *net = testnet_new(8, &c, 44);
    testnet_join_all(net);
    testnet_run_for(net, 30 * SECOND_US);
    cr_assert(testnet_converged(net));
    /* The target's forwards go nowhere: this is about its table. */
    for (size_t j = 1; j < 8; j++)
        testnet_block(net, 0, j, true);
    peko_nodelist *nl = testnet_node(net, 0);
    peko_addr attacker = addr_of("127.0.0.3", 5555);
    uint8_t buf[256];
    size_t heap_full = 0;
    for (uint32_t i = 0; i < 1000000; i++) {
        char host[32];
        g_snprintf(host, sizeof host, "10.%u.%u.%u", (i >> 16) & 255,
                   (i >> 8) & 255, i & 255);
        peko__msg m;
        memset(&m, 0, sizeof m);
        m.type = PEKO_MSG_HEARTBEAT;
        m.sender = attacker;
        m.origin = addr_of(host, (uint16_t)(1000 + (i >> 24)));
        m.incarnation = 1;
        m.seq = 1;
        size_t n = peko__wire_encode(&m, NULL, buf, sizeof buf);
        testnet_inject(net, 0, &attacker, buf, n);
        if (i % 100000 == 0)
            cr_assert_leq(peko_nodelist_count(nl), 4096 + 1);
        if (i == 100000)
            heap_full = heap_in_use(); /* the table full long since */
    }
    cr_assert_leq(peko_nodelist_count(nl), 4096 + 1);
    /* Memory stays flat: the last 900,000 forged nodes cost nothing
     * the first 100,000 had not (a bound, every queue and table full). */
    size_t heap_end = heap_in_use();
    cr_log_info("heap after 100,000 forged heartbeats %zu B, after "
                "1,000,000 %zu B", heap_full, heap_end);
    cr_assert_leq(heap_end, heap_full + 64 * 1024,
                  "the heap grew from %zu to %zu bytes", heap_full, heap_end);
    for (size_t j = 1; j < 8; j++)
        cr_assert(peko_nodelist_contains(nl, testnet_addr(net, j)),
                  "real member %zu was evicted", j);
    peko_stats st;
    peko_nodelist_stats(nl, &st);
    cr_assert_gt(st.members_evicted, 0);
    testnet_free(net);
}

/* Packets a node sent, kept for the hint below. */
typedef struct captured {
    uint8_t bytes[64][1500];
    size_t n_bytes[64];
    size_t n;
} captured;

static void capture(void *user, size_t from, const peko_addr *to,
                    const uint8_t *bytes, size_t n_bytes)
{
    (void)from;
    (void)to;
    captured *c = user;
    if (c->n < G_N_ELEMENTS(c->n_bytes) && n_bytes <= sizeof c->bytes[0]) {
        memcpy(c->bytes[c->n], bytes, n_bytes);
        c->n_bytes[c->n++] = n_bytes;
    }
}

/* The delivery hint (peko_nodelist_prefetch and its split form) reads
 * the peer table for whatever bytes or key it is given, at every stage,
 * and changes nothing: real heartbeats (whose origins are listed, so
 * stage 2 reads their records), their cuts and flipped bytes, and keys
 * at random. Under ASan a read beyond the index, the entries or the
 * records fails here. */
Test(hostile, the_delivery_hint_reads_any_bytes_and_changes_nothing)
{
    testnet *net = converged(6, PEKO_DISSEMINATION_RUMOR, 17);
    captured *c = g_new0(captured, 1);
    testnet_set_tap(net, capture, c);
    testnet_run_for(net, 3 * SECOND_US);
    testnet_set_tap(net, NULL, NULL);
    cr_assert_gt(c->n, 0, "the converged nodes sent packets");

    peko_nodelist *nl = testnet_node(net, 0);
    peko_stats before, after;
    peko_nodelist_stats(nl, &before);
    size_t listed = peko_nodelist_count(nl);
    size_t heartbeats = 0;
    for (size_t i = 0; i < c->n; i++) {
        peko_addr origin;
        heartbeats += peko__wire_peek_origin(c->bytes[i], c->n_bytes[i],
                                             &origin, NULL) &&
                      !peko_addr_equal(&origin, testnet_addr(net, 0));
    }
    cr_assert_gt(heartbeats, 0, "some are heartbeats of listed peers");
    uint8_t garbled[1500];
    for (size_t i = 0; i < c->n; i++) {
        for (size_t cut = 0; cut <= c->n_bytes[i]; cut++)
            for (unsigned stage = 0; stage < 4; stage++)
                peko_nodelist_prefetch(nl, c->bytes[i], cut, stage);
        for (size_t k = 0; k < c->n_bytes[i]; k++) {
            memcpy(garbled, c->bytes[i], c->n_bytes[i]);
            garbled[k] ^= (uint8_t)(0x5a + k);
            for (unsigned stage = 0; stage < 4; stage++)
                peko_nodelist_prefetch(nl, garbled, c->n_bytes[i], stage);
        }
    }
    /* The split form: a heartbeat's key is its origin's fingerprint and
     * its sequence number, anything else has none; and any key at all,
     * at every stage, is only a fetch (stage 2 peeks at the draws of a
     * forward for keys that look like news: testenv.c gives
     * random_peek). */
    for (size_t i = 0; i < c->n; i++) {
        peko_addr origin;
        uint32_t seq;
        uint64_t key = peko_prefetch_key(c->bytes[i], c->n_bytes[i]);
        if (peko__wire_peek_origin(c->bytes[i], c->n_bytes[i], &origin,
                                   &seq)) {
            peko__msg m;
            cr_assert_eq(peko__wire_decode(c->bytes[i], c->n_bytes[i],
                                           1500, NULL, &m),
                         PEKO_REJECT_NONE);
            cr_assert_eq(key, (uint64_t)m.seq << 32 |
                                  peko_addr_fingerprint(&m.origin));
        } else {
            cr_assert_eq(key, 0, "packet %zu is not a heartbeat", i);
        }
        cr_assert_eq(peko_prefetch_key(c->bytes[i], 3), 0, "a cut header");
    }
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < 100000; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        for (unsigned stage = 0; stage < 5; stage++)
            peko_nodelist_prefetch_key(nl, x, stage);
    }
    peko_nodelist_stats(nl, &after);
    cr_assert_eq(memcmp(&before, &after, sizeof before), 0,
                 "no counter moved");
    cr_assert_eq(peko_nodelist_count(nl), listed, "the list is the same");
    g_free(c);
    testnet_free(net);
}
