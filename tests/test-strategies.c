/* test-strategies.c: what each dissemination strategy does (engine/
 * strategy.h, docs/protocol.md): anti-entropy repairs what rumors miss,
 * digests stay within Size at any list size, incarnations order
 * restarts, tombstones keep removed nodes removed, and digest's traffic
 * does not grow with the cluster. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "testenv.h"
#include "wire.h"

#define SECOND_US 1000000LL

static peko_config strategy_config(peko_dissemination d)
{
    peko_config c = {0};
    c.cycle_us = 1 * SECOND_US;
    c.dissemination = d;
    return c;
}

static int64_t timeout_us(testnet *net, size_t i)
{
    peko_config c;
    peko_nodelist_config(testnet_node(net, i), &c);
    return c.timeout_us;
}

/* n nodes of strategy d joined through node 0 and run for run_us: every
 * list complete. */
static testnet *settled_net(peko_dissemination d, size_t n, uint64_t seed,
                            int64_t run_us)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(n, &c, seed);
    testnet_join_all(net);
    testnet_run_for(net, run_us);
    cr_assert(testnet_converged(net));
    return net;
}

/* An address on the nodes' host that none of them listens at. */
static peko_addr address_nobody_listens_at(testnet *net)
{
    peko_addr a = *testnet_addr(net, testnet_size(net) - 1);
    a.port = (uint16_t)(a.port + 100);
    return a;
}

/* Hands node `to` a message of `type` (a swap request or response)
 * carrying the one entry *e, as node `from` would send it. */
static void inject_entry(testnet *net, size_t to, size_t from,
                         peko_msg_type type, const peko__entry *e)
{
    uint8_t entries[128];
    size_t len = (size_t)(peko__entry_write(entries, e) - entries);
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.sender = *testnet_addr(net, from);
    m.entries = entries;
    m.entries_len = (uint32_t)len;
    m.n_entries = 1;
    uint8_t buf[512];
    size_t n = peko__wire_encode(&m, NULL, buf, sizeof buf);
    cr_assert_gt(n, 0);
    testnet_inject(net, to, testnet_addr(net, from), buf, n);
}

/* ------------------------------------------------------------------ */
/* Anti-entropy (rumor).                                                */

/* Three nodes; node 2 can never reach node 0, and node 1, the only
 * other receiver of node 2's heartbeat rumors, does not forward them to
 * node 0 (node 0 is in their infected set already). Only anti-entropy
 * can tell node 0 that node 2 is alive. Returns whether node 0 still
 * lists node 2 after several timeouts, and its repair count. */
static bool third_node_kept(peko_dissemination d, uint64_t *repaired)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(3, &c, 31);
    testnet_join_all(net);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(testnet_converged(net));
    testnet_block(net, 2, 0, true);
    testnet_run_for(net, 5 * timeout_us(net, 0));
    bool kept = peko_nodelist_contains(testnet_node(net, 0),
                                       testnet_addr(net, 2));
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, 0), &st);
    *repaired = st.repaired;
    testnet_free(net);
    return kept;
}

Test(strategies, anti_entropy_repairs_heartbeats_the_rumor_missed)
{
    uint64_t repaired;
    cr_assert(third_node_kept(PEKO_DISSEMINATION_RUMOR, &repaired));
    cr_assert_gt(repaired, 0);
    /* pekonode has no repair: node 0 wrongly removes node 2. */
    cr_assert_not(third_node_kept(PEKO_DISSEMINATION_CLASSIC, &repaired));
    cr_assert_eq(repaired, 0);
}

/* Expiries across the cluster (no node crashes here: each is wrong). */
static uint64_t expiries(testnet *net, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        peko_stats st;
        peko_nodelist_stats(testnet_node(net, i), &st);
        total += st.nodes_expired;
    }
    return total;
}

/* pekonode's timing (6 s cycle, 20 s timeout: three heartbeats) at 10 %
 * loss: a forward-once heartbeat rumor misses a node about one time in
 * eight, three misses in a row would remove it, and the cycle's swap
 * alone leaves wrong removals (13 in this run without the asks); the
 * asks about stale entries (strategy-rumor.c) repair them before the
 * timeout. */
Test(strategies, rumor_removes_no_live_node_under_loss)
{
    size_t n = 128;
    peko_config c = strategy_config(PEKO_DISSEMINATION_RUMOR);
    c.cycle_us = 6 * SECOND_US;
    testnet *net = testnet_new(n, &c, 41);
    testnet_join_all(net);
    testnet_run_for(net, 30 * SECOND_US);
    cr_assert(testnet_converged(net));
    uint64_t before = expiries(net, n);
    testnet_set_loss(net, 0.10);
    testnet_run_for(net, 1800 * SECOND_US);
    cr_assert_eq(expiries(net, n) - before, 0, "%llu wrong removals",
                 (unsigned long long)(expiries(net, n) - before));
    testnet_free(net);
}

/* A tap counting node `from`'s swap requests (to anyone) whose range is
 * exactly the fingerprint fp. */
typedef struct asks_for {
    size_t from;
    uint32_t fp;
    unsigned count;
} asks_for;

static void count_asks_for(void *user, size_t from, const peko_addr *to,
                           const uint8_t *bytes, size_t n_bytes)
{
    (void)to;
    asks_for *a = user;
    peko__msg m;
    if (from != a->from ||
        peko__wire_decode(bytes, n_bytes, n_bytes, NULL, &m) !=
            PEKO_REJECT_NONE ||
        m.type != PEKO_MSG_SWAP_REQUEST)
        return;
    if (m.has_range && m.range_first == a->fp && m.range_last == a->fp)
        a->count++;
}

/* A peer a node was given (a seed, or one the application set) and has
 * never heard from has no version to list in an ask. Once it has been
 * listed for a cycle and a half it is asked for the way a digest node
 * asks for a node it cannot list: by the range of its fingerprint. */
Test(strategies, rumor_asks_for_a_peer_it_never_heard_from_by_its_fingerprint)
{
    testnet *net = settled_net(PEKO_DISSEMINATION_RUMOR, 4, 45, 5 * SECOND_US);

    /* Node 0 is given a node at an address nobody listens at. */
    peko_addr silent = address_nobody_listens_at(net);
    peko_node node = {.addr = "127.0.0.1", .port = silent.port,
                      .name = "silent", .private_data = ""};
    cr_assert_eq(peko_nodelist_set(testnet_node(net, 0), &node), 0);
    asks_for a = {.from = 0, .fp = peko_addr_fingerprint(&silent)};
    testnet_set_tap(net, count_asks_for, &a);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert_gt(a.count, 0, "node 0 never asked for the range of %08x only",
                 a.fp);
    testnet_set_tap(net, NULL, NULL);
    testnet_free(net);
}

Test(strategies, digest_keeps_nodes_it_never_hears_from_directly)
{
    uint64_t repaired;
    cr_assert(third_node_kept(PEKO_DISSEMINATION_DIGEST, &repaired));
    cr_assert_gt(repaired, 0);
}

/* ------------------------------------------------------------------ */
/* Digests within Size.                                                 */

Test(strategies, digests_of_a_list_larger_than_size_are_windowed)
{
    /* 200 nodes whose short entries alone need 3,600 bytes, in packets
     * of 1,024: every list still completes, range after range, and no
     * packet ever exceeds Size. */
    for (int d = 0; d < 2; d++) {
        peko_config c = strategy_config(d ? PEKO_DISSEMINATION_DIGEST
                                          : PEKO_DISSEMINATION_RUMOR);
        c.size = 1024;
        c.timeout_us = 600 * SECOND_US; /* this test is about digests */
        testnet *net = testnet_new(200, &c, 32);
        /* Everyone knows only node 0, and node 0's rumors are lost, so
         * the lists can only fill by digests. */
        for (size_t i = 0; i < 200; i++)
            for (size_t j = 1; j < 200; j++)
                if (i != j)
                    testnet_block(net, i, j, true);
        testnet_join_all(net);
        testnet_run_for(net, 2 * SECOND_US);
        for (size_t i = 0; i < 200; i++)
            for (size_t j = 1; j < 200; j++)
                testnet_block(net, i, j, false);
        bool done = false;
        for (int s = 0; s < 120 && !done; s++) {
            testnet_run_for(net, SECOND_US);
            done = testnet_converged(net);
        }
        cr_assert(done, "%s: lists incomplete after 2 minutes",
                  d ? "digest" : "rumor");
        cr_assert_leq(testnet_max_sent_bytes(net), 1024);
        peko_stats st;
        peko_nodelist_stats(testnet_node(net, 0), &st);
        cr_assert_gt(st.digest_truncated, 0, "node 0 never cut an answer");
        testnet_free(net);
    }
}

/* ------------------------------------------------------------------ */
/* Incarnations and tombstones.                                          */

static bool refreshed;

static void on_refreshed(void *user, const peko_addr *node)
{
    if (peko_addr_equal(node, user))
        refreshed = true;
}

static void restart_wins(peko_dissemination d)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(8, &c, 33);
    testnet_join_all(net);
    testnet_run_for(net, 20 * SECOND_US);
    cr_assert(testnet_converged(net));
    peko_config before;
    peko_nodelist_config(testnet_node(net, 5), &before);

    /* Node 5 restarts: a new engine, a greater incarnation, sequence
     * numbers from 1 again. Stale versions of the old one keep going
     * round by anti-entropy; they must never displace the new one. */
    testnet_restart(net, 5, NULL);
    testnet_join_via(net, 5, 0);
    peko_config after;
    peko_nodelist_config(testnet_node(net, 5), &after);
    cr_assert_gt((int32_t)(after.incarnation - before.incarnation), 0);
    for (int s = 0; s < 60; s++) {
        testnet_run_for(net, SECOND_US);
        if (s >= 10)
            cr_assert(testnet_converged(net), "%s, %d s after the restart",
                      d == PEKO_DISSEMINATION_DIGEST ? "digest" : "rumor", s);
    }
    /* Nobody listed node 5 as removed meanwhile, and an old heartbeat of
     * node 5 injected now is older, whatever its sequence. */
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_HEARTBEAT;
    m.sender = *testnet_addr(net, 5);
    m.origin = *testnet_addr(net, 5);
    m.incarnation = before.incarnation;
    m.seq = 1000000;
    uint8_t buf[512];
    size_t n = peko__wire_encode(&m, NULL, buf, sizeof buf);
    cr_assert_gt(n, 0);
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .node_refreshed = on_refreshed};
    peko_nodelist_set_observer(testnet_node(net, 1), &obs,
                               (void *)testnet_addr(net, 5));
    refreshed = false;
    peko_stats st0, st1;
    peko_nodelist_stats(testnet_node(net, 1), &st0);
    testnet_inject(net, 1, testnet_addr(net, 5), buf, n);
    peko_nodelist_stats(testnet_node(net, 1), &st1);
    cr_assert_not(refreshed, "an old incarnation refreshed the new one");
    /* Old news: not forwarded either. */
    cr_assert_eq(st1.forwarded, st0.forwarded);
    cr_assert_eq(st1.duplicates, st0.duplicates + 1);
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(strategies, a_restarted_nodes_new_incarnation_wins_in_rumor)
{
    restart_wins(PEKO_DISSEMINATION_RUMOR);
}

Test(strategies, a_restarted_nodes_new_incarnation_wins_in_digest)
{
    restart_wins(PEKO_DISSEMINATION_DIGEST);
}

Test(strategies, a_removed_node_is_not_brought_back_by_stale_gossip)
{
    peko_config c = strategy_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(6, &c, 34);
    testnet_join_all(net);
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(testnet_converged(net));
    /* Node 4's last heartbeat as node 0 holds it. */
    peko_node_array list;
    peko_nodelist_get(testnet_node(net, 0), &list);
    peko_node_array_clear(&list);

    peko_config dead;
    peko_nodelist_config(testnet_node(net, 4), &dead);
    testnet_crash(net, 4);
    int64_t t = timeout_us(net, 0);
    testnet_run_for(net, t + 3 * SECOND_US);
    for (size_t i = 0; i < 6; i++)
        if (i != 4)
            cr_assert_not(peko_nodelist_contains(testnet_node(net, i),
                                                 testnet_addr(net, 4)),
                          "node %zu still lists the crashed node", i);

    /* A swap response that still carries node 4 with its record and an
     * old version, as a node that has not removed it yet would send. */
    peko__entry e = {
        .addr = *testnet_addr(net, 4), .incarnation = dead.incarnation,
        .seq = 1,
        .full = true, .name = (const uint8_t *)"node-4", .name_len = 6,
    };
    /* Within the tombstone's time the stale version is refused... */
    inject_entry(net, 0, 1, PEKO_MSG_SWAP_RESPONSE, &e);
    cr_assert_not(peko_nodelist_contains(testnet_node(net, 0),
                                         testnet_addr(net, 4)));
    testnet_free(net);
}

/* A swap response carrying node 4's record at `seq` of `incarnation`,
 * as node 1 would send it, handed to node 0. */
static void inject_record_of_4(testnet *net, uint32_t incarnation,
                               uint32_t seq)
{
    peko__entry e = {
        .addr = *testnet_addr(net, 4), .incarnation = incarnation,
        .seq = seq,
        .full = true, .name = (const uint8_t *)"node-4", .name_len = 6,
    };
    inject_entry(net, 0, 1, PEKO_MSG_SWAP_RESPONSE, &e);
}

/* Once the tombstone is gone (two timeouts), the removed node's last
 * record, still handed round by nodes that removed it later (after a
 * partition, a pause), must not list it again: otherwise groups of
 * nodes out of phase list it, remove it, forget it and take it back
 * from each other for ever (found by `peko explore`; the replay:
 * tests/data/explore/zombie-stop-partition.ini). Its removal version is
 * remembered with the reconnection list; a newer heartbeat (a restart)
 * still lists it. */
static void removed_node_stays_removed_after_its_tombstone(peko_dissemination d)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(6, &c, 35);
    testnet_join_all(net);
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(testnet_converged(net));
    peko_config dead;
    peko_nodelist_config(testnet_node(net, 4), &dead);
    testnet_crash(net, 4);
    int64_t t = timeout_us(net, 0);
    testnet_run_for(net, 2 * t + 3 * SECOND_US);
    for (size_t i = 0; i < 6; i++)
        if (i != 4)
            cr_assert_not(peko_nodelist_contains(testnet_node(net, i),
                                                 testnet_addr(net, 4)));
    /* Its record at an old version of its last incarnation: refused. */
    inject_record_of_4(net, dead.incarnation, 1);
    cr_assert_not(peko_nodelist_contains(testnet_node(net, 0),
                                         testnet_addr(net, 4)));
    /* A newer incarnation is a restart: listed. */
    inject_record_of_4(net, dead.incarnation + 1, 1);
    cr_assert(peko_nodelist_contains(testnet_node(net, 0),
                                     testnet_addr(net, 4)));
    testnet_free(net);
}

Test(strategies, a_removed_node_stays_removed_after_its_tombstone_in_rumor)
{
    removed_node_stays_removed_after_its_tombstone(PEKO_DISSEMINATION_RUMOR);
}

Test(strategies, a_removed_node_stays_removed_after_its_tombstone_in_digest)
{
    removed_node_stays_removed_after_its_tombstone(PEKO_DISSEMINATION_DIGEST);
}

/* A stopped node (peko_nodelist_stop(): "expire me") still swaps, so it
 * keeps its own list; its requests and answers must not carry its own
 * entry, or every node whose tombstone for it is gone (two timeouts
 * after its last heartbeat) lists it again from that entry, for another
 * timeout, and again, for as long as it stays stopped. Returns the
 * samples, one a cycle over eight timeouts from the second on, at which
 * some other node listed the stopped node. */
static int stopped_node_relisted(peko_dissemination d)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(5, &c, 41);
    testnet_join_all(net);
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(testnet_converged(net));
    peko_nodelist_stop(testnet_node(net, 4));
    int64_t t = timeout_us(net, 0);
    testnet_run_for(net, 2 * t + 2 * SECOND_US);
    int relisted = 0;
    for (int64_t waited = 0; waited < 8 * t; waited += SECOND_US) {
        testnet_run_for(net, SECOND_US);
        for (size_t i = 0; i < 4; i++)
            if (peko_nodelist_contains(testnet_node(net, i),
                                       testnet_addr(net, 4))) {
                relisted++;
                break;
            }
    }
    /* It still keeps everyone else, and comes back when started. */
    cr_assert(testnet_has_full_list(net, 4, NULL));
    peko_nodelist_start(testnet_node(net, 4));
    testnet_run_for(net, t);
    cr_assert(testnet_converged(net));
    testnet_free(net);
    return relisted;
}

Test(strategies, a_stopped_node_stays_removed_in_rumor)
{
    cr_assert_eq(stopped_node_relisted(PEKO_DISSEMINATION_RUMOR), 0);
}

Test(strategies, a_stopped_node_stays_removed_in_digest)
{
    cr_assert_eq(stopped_node_relisted(PEKO_DISSEMINATION_DIGEST), 0);
}

/* ------------------------------------------------------------------ */
/* digest: traffic, cold start, detection.                               */

/* Packets every node sent per cycle over `cycles` cycles. */
static double packets_per_node_cycle(testnet *net, size_t n, int cycles)
{
    uint64_t before = 0, after = 0;
    for (size_t i = 0; i < n; i++)
        for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++)
            before += testnet_sent_by(net, i, (peko_msg_type)t);
    testnet_run_for(net, cycles * SECOND_US);
    for (size_t i = 0; i < n; i++)
        for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++)
            after += testnet_sent_by(net, i, (peko_msg_type)t);
    return (double)(after - before) / (double)n / cycles;
}

Test(strategies, digest_traffic_per_node_does_not_grow_with_the_cluster)
{
    size_t sizes[] = {16, 64, 256};
    for (size_t k = 0; k < 3; k++) {
        size_t n = sizes[k];
        peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
        c.exchanges = 2;
        testnet *net = testnet_new(n, &c, 35);
        testnet_join_all(net);
        testnet_run_for(net, 40 * SECOND_US);
        cr_assert(testnet_converged(net), "%zu nodes", n);
        double per = packets_per_node_cycle(net, n, 20);
        /* A request and, on average, an answer per exchange. */
        cr_assert_leq(per, 2.0 * c.exchanges + 0.01, "%zu nodes: %.2f", n,
                      per);
        cr_assert_geq(per, 2.0 * c.exchanges - 0.5, "%zu nodes: %.2f", n,
                      per);
        /* rumor, for contrast: grows with the cluster. */
        testnet_free(net);
    }
}

/* Runs a cold start of n nodes, `cycles` cycles in already, until every
 * list is complete, and asserts that it was within log2 n + ln n cycles
 * of the start. */
static void assert_cold_start_completes(testnet *net, size_t n, int cycles)
{
    int bound = (int)ceil(log2((double)n) + log((double)n));
    while (!testnet_converged(net) && cycles <= bound) {
        testnet_run_for(net, SECOND_US);
        cycles++;
    }
    cr_assert_leq(cycles, bound, "complete after %d cycles", cycles);
}

Test(strategies, digest_cold_start_completes_within_log2_n_plus_ln_n_cycles)
{
    size_t n = 128;
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    testnet *net = testnet_new(n, &c, 36);
    testnet_join_all(net); /* every node told of node 0 only */
    assert_cold_start_completes(net, n, 0);
    testnet_free(net);
}

/* Every node started at once and told of node 0 only: N announcements
 * within a cycle, which forwarded once by every node would be f N^2
 * packets. A digest node forwards at most 2 `amount` of them a cycle (f
 * packets each) and takes the rest without forwarding; the lists still
 * complete within the cold start's bound, by the exchanges. */
Test(strategies, digest_forwards_at_most_two_fan_outs_of_announcements_a_cycle)
{
    size_t n = 128;
    int seconds = 4;
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    testnet *net = testnet_new(n, &c, 41);
    peko_config resolved;
    peko_nodelist_config(testnet_node(net, 0), &resolved);
    uint64_t f = (uint64_t)resolved.amount;
    testnet_join_all(net);
    testnet_run_for(net, seconds * SECOND_US);
    uint64_t held = 0;
    for (size_t i = 0; i < n; i++) {
        peko_stats st;
        peko_nodelist_stats(testnet_node(net, i), &st);
        held += st.announcements_held;
        /* Its own announcement, and 2 f forwards of f packets in each
         * of the cycles begun so far (at most seconds + 1 of them). */
        uint64_t bound = f + (uint64_t)(seconds + 1) * 2 * f * f;
        cr_assert_leq(testnet_sent_by(net, i, PEKO_MSG_HEARTBEAT), bound,
                      "node %zu", i);
    }
    cr_assert_gt(held, 0);
    assert_cold_start_completes(net, n, seconds);
    testnet_free(net);
}

/* One join at a time is forwarded as before: the announcement reaches
 * most of the cluster within a few hops, long before a cycle is over. */
Test(strategies, a_single_join_is_still_announced_by_rumor_in_digest)
{
    enum { N = 65 };
    size_t n = N;
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    testnet *net = testnet_new(n, &c, 42);
    testnet_set_latency_us(net, 1000);
    for (size_t i = 0; i + 1 < n; i++)
        testnet_join_via(net, i, 0);
    bool excluded[N] = {false};
    excluded[n - 1] = true;
    bool complete = false;
    for (int s = 0; s < 60 && !complete; s++) {
        testnet_run_for(net, SECOND_US);
        complete = true;
        for (size_t i = 0; i + 1 < n && complete; i++)
            complete = testnet_has_full_list(net, i, excluded);
    }
    cr_assert(complete);
    testnet_join_via(net, n - 1, 0);
    testnet_run_for(net, 50 * 1000); /* 50 hops of latency, 1/20 cycle */
    size_t listing = 0;
    for (size_t i = 0; i + 1 < n; i++)
        listing += peko_nodelist_contains(testnet_node(net, i),
                                          testnet_addr(net, n - 1));
    cr_assert_geq(listing, (n - 1) * 3 / 4, "%zu of %zu", listing, n - 1);
    testnet_free(net);
}

/* The time of a node's first swap request after its first cycle. */
typedef struct second_cycle {
    testnet *net;
    int64_t joined_us;
    int64_t at_us; /* -1 until seen */
} second_cycle;

static void on_sent_request(void *user, peko_msg_type type,
                            const peko_addr *to, size_t n_bytes)
{
    second_cycle *sc = user;
    int64_t now = testnet_now_us(sc->net);
    if (type == PEKO_MSG_SWAP_REQUEST && sc->at_us < 0 && now > sc->joined_us)
        sc->at_us = now;
}

/* How many distinct times the n nodes, all joined at one instant, ran
 * their second cycle. */
static size_t second_cycle_phases(peko_dissemination d, size_t n)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(n, &c, 39);
    second_cycle *sc = g_new(second_cycle, n);
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .packet_sent = on_sent_request};
    for (size_t i = 0; i < n; i++) {
        sc[i] = (second_cycle){.net = net, .joined_us = testnet_now_us(net),
                               .at_us = -1};
        peko_nodelist_set_observer(testnet_node(net, i), &obs, &sc[i]);
    }
    testnet_join_all(net);
    testnet_run_for(net, 2 * c.cycle_us);
    GHashTable *times = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (size_t i = 0; i < n; i++) {
        cr_assert_geq(sc[i].at_us, 0, "node %zu sent no second request", i);
        cr_assert_leq(sc[i].at_us - sc[i].joined_us, c.cycle_us + 2000,
                      "node %zu: its second cycle more than a cycle late",
                      i);
        g_hash_table_add(times, &sc[i].at_us);
    }
    size_t phases = g_hash_table_size(times);
    g_hash_table_destroy(times);
    for (size_t i = 0; i < n; i++)
        peko_nodelist_set_observer(testnet_node(net, i), NULL, NULL);
    testnet_free(net);
    g_free(sc);
    return phases;
}

Test(strategies, digest_nodes_started_together_leave_lockstep)
{
    /* 32 nodes joined at one instant: in digest each picks its own phase
     * for the second cycle on; rumor keeps pekonode's schedule, a cycle
     * after the join, the same instant for all. */
    cr_assert_geq(second_cycle_phases(PEKO_DISSEMINATION_DIGEST, 32), 28);
    cr_assert_eq(second_cycle_phases(PEKO_DISSEMINATION_RUMOR, 32), 1);
}

/* Swap requests sent so far, per node. */
static void snapshot_requests(testnet *net, size_t n, uint64_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = testnet_sent_by(net, i, PEKO_MSG_SWAP_REQUEST);
}

/* Swap requests sent since the snapshot: the total, and the most one
 * node sent (when most is not NULL). */
static uint64_t requests_since(testnet *net, size_t n, const uint64_t *then,
                               uint64_t *most)
{
    uint64_t total = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = testnet_sent_by(net, i, PEKO_MSG_SWAP_REQUEST) - then[i];
        total += d;
        top = d > top ? d : top;
    }
    if (most)
        *most = top;
    return total;
}

/* While its list grows a digest node exchanges at the fan-out, so the
 * new records spread as fast as the pulls allow; once the list is
 * complete it is back to `exchanges` a cycle. The cold start is then
 * well within the bound above: half of it, at 256 nodes. */
Test(strategies, digest_exchanges_at_the_fan_out_while_its_list_grows)
{
    size_t n = 256;
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    c.amount = 4;
    c.exchanges = 1;
    testnet *net = testnet_new(n, &c, 37);
    testnet_join_all(net);
    /* Cycle 1 lists node 0 only; cycles 2 and 3 follow growth. */
    testnet_run_for(net, SECOND_US);
    uint64_t before[256];
    snapshot_requests(net, n, before);
    testnet_run_for(net, 2 * SECOND_US);
    uint64_t growing = requests_since(net, n, before, NULL);
    /* Most nodes grew in both cycles: well above one request a cycle. */
    double per = (double)growing / (double)n;
    cr_assert_gt(per, 1.5 * c.exchanges * 2, "%.2f requests per node "
                 "in 2 growing cycles", per);
    cr_assert_leq(per, (double)c.amount * 2);

    int bound = (int)ceil((log2((double)n) + log((double)n)) / 2);
    int cycles = 3;
    while (!testnet_converged(net) && cycles <= bound) {
        testnet_run_for(net, SECOND_US);
        cycles++;
    }
    cr_assert_leq(cycles, bound, "complete after %d cycles", cycles);

    /* Settled: one request a cycle again, every node. */
    testnet_run_for(net, 2 * SECOND_US);
    snapshot_requests(net, n, before);
    testnet_run_for(net, 5 * SECOND_US);
    uint64_t most = 0;
    requests_since(net, n, before, &most);
    cr_assert_eq(most, 5 * (uint64_t)c.exchanges);
    testnet_free(net);
}

/* A digest node whose list grows by more than a fan-out's worth in a
 * cycle sweeps its whole list the next: ceil(live / w) requests, w the
 * peers a request's range lists, until a cycle brings nothing new. With
 * a Size of 1 KiB a range lists 37 peers, so the 300-odd peers of this
 * cold start take up to 9 requests a cycle, where the fan-out alone (3,
 * or 6 when the random phase puts two cycles in one second) would take
 * several cycles per sweep. A single join does not start a sweep. */
Test(strategies, digest_sweeps_its_whole_list_while_it_grows_fast)
{
    enum { N = 320 };
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    c.amount = 3;
    c.exchanges = 1;
    c.size = 1024;
    testnet *net = testnet_new(N, &c, 41);
    bool late[N] = {false};
    late[N - 1] = true;
    for (size_t i = 0; i + 1 < N; i++)
        testnet_join_via(net, i, 0);

    uint64_t before[N], most_in_a_cycle = 0;
    int bound = (int)ceil(log2((double)N) + log((double)N));
    int cycles = 0;
    bool complete = false;
    while (!complete && cycles <= bound) {
        snapshot_requests(net, N - 1, before);
        testnet_run_for(net, SECOND_US);
        cycles++;
        uint64_t most = 0;
        requests_since(net, N - 1, before, &most);
        most_in_a_cycle = MAX(most_in_a_cycle, most);
        complete = true;
        for (size_t i = 0; complete && i + 1 < N; i++)
            complete = testnet_has_full_list(net, i, late);
    }
    cr_assert(complete, "not complete after %d cycles", cycles);
    cr_assert_geq(most_in_a_cycle, 2 * (uint64_t)c.amount + 1,
                  "at most %" PRIu64 " requests by a node in a cycle",
                  most_in_a_cycle);
    cr_assert_leq(most_in_a_cycle, 16); /* PEKO__AE_OUTSTANDING */

    /* Settled; then one node joins: every list grows by one, and each
     * node exchanges at the fan-out for a cycle at most, no sweep. */
    testnet_run_for(net, 5 * SECOND_US);
    snapshot_requests(net, N - 1, before);
    testnet_join_via(net, N - 1, 0);
    testnet_run_for(net, 2 * SECOND_US);
    uint64_t most = 0;
    requests_since(net, N - 1, before, &most);
    cr_assert_leq(most, (uint64_t)c.amount + 2 * (uint64_t)c.exchanges,
                  "%" PRIu64 " requests by a node in the 2 cycles after a "
                  "join", most);
    testnet_free(net);
}

/* Swap requests seen leaving one node for another: how many, and the
 * range of the last. */
typedef struct requests_to {
    size_t from, to_node;
    testnet *net;
    unsigned count;
    bool has_range;
    uint32_t first, last;
} requests_to;

static void count_requests_to(void *user, size_t from, const peko_addr *to,
                              const uint8_t *bytes, size_t n_bytes)
{
    requests_to *r = user;
    peko__msg m;
    if (from != r->from ||
        !peko_addr_equal(to, testnet_addr(r->net, r->to_node)) ||
        peko__wire_decode(bytes, n_bytes, n_bytes, NULL, &m) !=
            PEKO_REJECT_NONE ||
        m.type != PEKO_MSG_SWAP_REQUEST)
        return;
    r->count++;
    r->has_range = m.has_range;
    r->first = m.range_first;
    r->last = m.range_last;
}

/* A node that joins a settled cluster of 200 told of node 0 only asks
 * node 0 for the whole ring, and the answer, records of every node, is
 * cut short by Size (1,024 bytes: a few dozen records). The rest is a gap
 * that node 0 can fill: at the next cycle it is asked of node 0 again, in
 * several pieces at once, not one range a cycle. */
Test(strategies, digest_asks_the_rest_of_a_cut_short_answer_in_pieces)
{
    enum { N = 201 };
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    c.size = 1024;
    testnet *net = testnet_new(N, &c, 43);
    bool late[N] = {false};
    late[N - 1] = true;
    for (size_t i = 0; i + 1 < N; i++)
        testnet_join_via(net, i, 0);
    testnet_run_for(net, 30 * SECOND_US);
    for (size_t i = 0; i + 1 < N; i++)
        cr_assert(testnet_has_full_list(net, i, late), "node %zu", i);

    requests_to r = {.from = N - 1, .to_node = 0, .net = net};
    testnet_set_tap(net, count_requests_to, &r);
    testnet_join_via(net, N - 1, 0);
    /* Until the first answer is in: a part of the list. */
    while (peko_nodelist_count(testnet_node(net, N - 1)) < 2)
        testnet_run_for(net, SECOND_US / 100);
    size_t first_answer = peko_nodelist_count(testnet_node(net, N - 1));
    cr_assert_lt(first_answer, N / 2, "an answer of %zu records was not "
                 "cut short", first_answer);
    unsigned before = r.count;
    testnet_run_for(net, 2 * SECOND_US);
    cr_assert_geq(r.count - before, 5, "%u requests to node 0 in the two "
                  "cycles after its first answer", r.count - before);

    int cycles = 2;
    while (!testnet_has_full_list(net, N - 1, NULL) && cycles < 8) {
        testnet_run_for(net, SECOND_US);
        cycles++;
    }
    cr_assert(testnet_has_full_list(net, N - 1, NULL),
              "%zu of %d listed after %d cycles",
              peko_nodelist_count(testnet_node(net, N - 1)), N, cycles);
    testnet_set_tap(net, NULL, NULL);
    testnet_free(net);
}

/* A node whose list lacks a node another one names (its version in a
 * swap, without its record) asks that one for it at its next cycle: a
 * request whose range is exactly the missing node's fingerprint. */
Test(strategies, digest_asks_for_a_node_it_was_told_of_but_cannot_list)
{
    testnet *net = settled_net(PEKO_DISSEMINATION_DIGEST, 4, 44,
                               10 * SECOND_US);

    /* Node 1 tells node 0 of a node at an address nobody lists. */
    peko_addr unknown = address_nobody_listens_at(net);
    peko__entry e = {.addr = unknown, .incarnation = 1, .seq = 5};
    requests_to r = {.from = 0, .to_node = 1, .net = net};
    testnet_set_tap(net, count_requests_to, &r);
    inject_entry(net, 0, 1, PEKO_MSG_SWAP_REQUEST, &e);
    uint32_t fp = peko_addr_fingerprint(&unknown);
    bool asked = false;
    for (int cycle = 0; cycle < 2 && !asked; cycle++) {
        r.count = 0;
        testnet_run_for(net, SECOND_US);
        asked = r.count > 0 && r.has_range && r.first == fp && r.last == fp;
    }
    cr_assert(asked, "node 0 never asked node 1 for the range of %08x only",
              fp);
    testnet_set_tap(net, NULL, NULL);
    testnet_free(net);
}

Test(strategies, digest_removes_a_crashed_node_everywhere_within_its_timeout)
{
    size_t n = 64;
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    testnet *net = testnet_new(n, &c, 37);
    testnet_join_all(net);
    testnet_run_for(net, 30 * SECOND_US);
    cr_assert(testnet_converged(net));
    int64_t t = timeout_us(net, 0);
    cr_assert_eq(t, peko_digest_timeout_us(n, &c));
    testnet_crash(net, 9);
    int64_t waited = 0;
    bool gone = false;
    while (!gone && waited <= 2 * t) {
        testnet_run_for(net, SECOND_US);
        waited += SECOND_US;
        gone = true;
        for (size_t i = 0; i < n && gone; i++)
            if (i != 9 && peko_nodelist_contains(testnet_node(net, i),
                                                 testnet_addr(net, 9)))
                gone = false;
    }
    cr_assert(gone, "still listed %lld s after the crash",
              (long long)(waited / SECOND_US));
    /* Not before its timeout, nor later than the timeout plus the time
     * its last heartbeat takes to reach everyone (push-pull with one
     * exchange a cycle, docs/theory.md) and the sweep's cycle. */
    int64_t spread = (int64_t)ceil((log2((double)n) + log((double)n)) / 2.0);
    cr_assert_geq(waited, t);
    cr_assert_leq(waited, t + (spread + 2) * SECOND_US,
                  "gone after %lld s, timeout %lld s",
                  (long long)(waited / SECOND_US), (long long)(t / SECOND_US));
    testnet_free(net);
}

/* ------------------------------------------------------------------ */
/* Clock offsets.                                                       */

typedef struct offsets {
    const peko_addr *peer;
    int n;
    int64_t offset_us, error_us;
} offsets;

static void on_offset(void *user, const peko_addr *peer, int64_t offset_us,
                      int64_t error_us)
{
    offsets *o = user;
    if (!peko_addr_equal(peer, o->peer))
        return;
    o->n++;
    o->offset_us = offset_us;
    o->error_us = error_us;
}

Test(strategies, swap_answers_estimate_the_peers_clock_offset)
{
    /* Node 1's clock runs 3 s ahead; one-way latency 7 ms. */
    peko_config c = strategy_config(PEKO_DISSEMINATION_DIGEST);
    testnet *net = testnet_new(2, &c, 38);
    testnet_set_latency_us(net, 7000);
    testnet_set_clock_offset(net, 1, 3 * SECOND_US);
    offsets o = {.peer = testnet_addr(net, 1)};
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .clock_offset = on_offset};
    peko_nodelist_set_observer(testnet_node(net, 0), &obs, &o);
    testnet_join_all(net);
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert_gt(o.n, 0);
    /* Half the 14 ms round trip, and the estimate within it. */
    cr_assert_eq(o.error_us, 7001);
    cr_assert_leq(llabs(o.offset_us - 3 * SECOND_US), o.error_us);
    testnet_free(net);
}

/* ------------------------------------------------------------------ */
/* Reconnection.                                                        */

static bool heals_after_a_long_partition(peko_dissemination d)
{
    peko_config c = strategy_config(d);
    testnet *net = testnet_new(6, &c, 39);
    testnet_join_all(net);
    testnet_run_for(net, 20 * SECOND_US);
    cr_assert(testnet_converged(net));
    /* Cut for four timeouts: each side removes the other, tombstones
     * included. */
    testnet_partition(net, 3, true);
    testnet_run_for(net, 4 * timeout_us(net, 0));
    cr_assert_not(peko_nodelist_contains(testnet_node(net, 0),
                                         testnet_addr(net, 5)));
    testnet_partition(net, 3, false);
    /* Attempts back off to 32 cycles at most. */
    testnet_run_for(net, 40 * SECOND_US);
    bool healed = testnet_converged(net);
    testnet_free(net);
    return healed;
}

Test(strategies, a_partition_longer_than_the_timeout_heals)
{
    cr_assert(heals_after_a_long_partition(PEKO_DISSEMINATION_RUMOR));
    cr_assert(heals_after_a_long_partition(PEKO_DISSEMINATION_DIGEST));
    /* pekonode never talks to a node it removed again. */
    cr_assert_not(heals_after_a_long_partition(PEKO_DISSEMINATION_CLASSIC));
}
