/* test-fixes.c: what peko fixes in pekonode (DESIGN.md section 3). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "testenv.h"

#define SECOND_US 1000000LL

static peko_config fast_config(void)
{
    peko_config c = {0};
    c.cycle_us = 1 * SECOND_US;
    return c;
}

static void publish_str(peko_nodelist *nl, const char *s)
{
    cr_assert_eq(peko_nodelist_publish(nl, (const uint8_t *)s, strlen(s)), 0);
}

static bool reads(peko_nodelist *nl, const char *s)
{
    size_t n;
    const uint8_t *data = peko_nodelist_read(nl, &n);
    return data && n == strlen(s) && memcmp(data, s, n) == 0;
}

/* Metadata packets sent by all nodes for one publish, in a converged
 * cluster of n nodes. Heartbeats are of another type, so they don't count. */
static uint64_t metadata_messages_for_one_publish(size_t n,
                                                  peko_dissemination mode,
                                                  uint64_t *max_per_node)
{
    peko_config c = fast_config();
    c.dissemination = mode;
    /* A long cycle after convergence keeps swaps and heartbeats quiet. */
    testnet *net = testnet_new(n, &c, 21);
    testnet_join_all(net);
    testnet_run_for(net, 8 * SECOND_US);
    cr_assert(testnet_converged(net));
    uint64_t before[64] = {0};
    for (size_t i = 0; i < n; i++)
        before[i] = testnet_sent_by(net, i, PEKO_MSG_METADATA);
    publish_str(testnet_node(net, 0), "rumor");
    testnet_run_for(net, 200000);
    uint64_t total = 0, max = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t sent = testnet_sent_by(net, i, PEKO_MSG_METADATA) - before[i];
        total += sent;
        if (sent > max)
            max = sent;
    }
    /* Rumor mongering may miss a node or two; the next swaps (a message
     * type of their own, which never starts a rumor) bring it to them. */
    testnet_run_for(net, 2 * SECOND_US);
    for (size_t i = 0; i < n; i++)
        cr_assert(reads(testnet_node(net, i), "rumor"));
    if (max_per_node)
        *max_per_node = max;
    testnet_free(net);
    return total;
}

Test(fixes, duplicate_suppression_bounds_messages_per_rumor_to_fanout_per_node)
{
    uint64_t max_per_node = 0;
    uint64_t total = metadata_messages_for_one_publish(
        40, PEKO_DISSEMINATION_RUMOR, &max_per_node);
    cr_assert_leq(max_per_node, 3, "a node sent %lu copies", max_per_node);
    cr_assert_leq(total, 3 * 40);
}

Test(fixes, classic_mode_forwards_every_copy_and_traffic_grows)
{
    /* pekonode's forward-every-copy: messages per node per rumor grow with
     * the cluster, while rumor mode stays at most fan-out per node. */
    size_t sizes[] = {4, 8, 12, 16};
    double per_node_classic[4];
    for (size_t k = 0; k < 4; k++) {
        uint64_t classic = metadata_messages_for_one_publish(
            sizes[k], PEKO_DISSEMINATION_CLASSIC, NULL);
        uint64_t rumor = metadata_messages_for_one_publish(
            sizes[k], PEKO_DISSEMINATION_RUMOR, NULL);
        per_node_classic[k] = (double)classic / (double)sizes[k];
        cr_assert_leq(rumor, 3 * sizes[k]);
        cr_assert_geq(classic, rumor);
    }
    for (size_t k = 1; k < 4; k++)
        cr_assert_gt(per_node_classic[k], per_node_classic[k - 1],
                     "classic per node: %.1f at %zu nodes, %.1f at %zu",
                     per_node_classic[k - 1], sizes[k - 1],
                     per_node_classic[k], sizes[k]);
    cr_assert_gt(per_node_classic[3], 3.0 * 2,
                 "classic per node at 16 nodes only %.1f",
                 per_node_classic[3]);
}

Test(fixes, skewed_clocks_cannot_lose_a_newer_publish)
{
    /* pekonode stamps metadata with the publisher's wall clock, so a node
     * whose clock runs an hour ahead wins over every later publish. Here
     * versions are logical. */
    peko_config c = fast_config();
    testnet *net = testnet_new(6, &c, 22);
    testnet_set_clock_offset(net, 1, 3600LL * SECOND_US);
    testnet_set_clock_offset(net, 4, -3600LL * SECOND_US);
    testnet_join_all(net);
    testnet_run_for(net, 6 * SECOND_US);
    cr_assert(testnet_converged(net));
    publish_str(testnet_node(net, 1), "from the future");
    testnet_run_for(net, 2 * SECOND_US);
    publish_str(testnet_node(net, 4), "from the past, but newer");
    testnet_run_for(net, 2 * SECOND_US);
    for (size_t i = 0; i < 6; i++)
        cr_assert(reads(testnet_node(net, i), "from the past, but newer"));
    testnet_free(net);
}

Test(fixes, wrong_key_is_rejected_and_never_joins)
{
    peko_config good = fast_config();
    good.secret_key = "cluster-secret";
    peko_config bad = good;
    bad.secret_key = "wrong-secret";
    testnet *net = testnet_new(4, &good, 23);
    testnet_restart(net, 3, &bad);
    testnet_join_all(net);
    testnet_run_for(net, 6 * SECOND_US);
    bool out[4] = {false, false, false, true};
    for (size_t i = 0; i < 3; i++)
        cr_assert(testnet_has_full_list(net, i, out));
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, 0), &st);
    cr_assert_gt(st.rejected[PEKO_REJECT_BAD_MAC], 0);
    /* Nobody learns of the wrong-key node, so it hears from nobody. */
    for (size_t i = 1; i < 3; i++)
        cr_assert_not(peko_nodelist_contains(testnet_node(net, 3),
                                             testnet_addr(net, i)));
    testnet_free(net);
}

Test(fixes, unsigned_node_cannot_talk_to_a_keyed_cluster)
{
    peko_config keyed = fast_config();
    keyed.secret_key = "k";
    peko_config open = fast_config();
    testnet *net = testnet_new(3, &keyed, 24);
    testnet_restart(net, 2, &open);
    testnet_join_all(net);
    testnet_run_for(net, 4 * SECOND_US);
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, 0), &st);
    cr_assert_gt(st.rejected[PEKO_REJECT_NO_MAC], 0);
    /* And a signed packet reaching an unkeyed node is refused too. */
    peko_nodelist_stats(testnet_node(net, 2), &st);
    uint64_t before = st.rejected[PEKO_REJECT_UNEXPECTED_MAC];
    peko_nodelist_set(testnet_node(net, 0),
                      &(peko_node){.addr = "127.0.0.1", .port = 9002});
    testnet_run_for(net, 2 * SECOND_US);
    peko_nodelist_stats(testnet_node(net, 2), &st);
    cr_assert_gt(st.rejected[PEKO_REJECT_UNEXPECTED_MAC], before);
    cr_assert_not(peko_nodelist_contains(testnet_node(net, 1),
                                         testnet_addr(net, 2)));
    testnet_free(net);
}

static uint64_t total_rejected(testnet *net)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < testnet_size(net); i++) {
        peko_stats st;
        peko_nodelist_stats(testnet_node(net, i), &st);
        for (size_t r = 0; r < PEKO_REJECT_COUNT; r++)
            sum += st.rejected[r];
    }
    return sum;
}

static uint64_t total_expired(testnet *net)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < testnet_size(net); i++) {
        peko_stats st;
        peko_nodelist_stats(testnet_node(net, i), &st);
        sum += st.nodes_expired;
    }
    return sum;
}

Test(fixes, key_rotation_loses_no_heartbeat)
{
    peko_config c = fast_config();
    c.secret_key = "old";
    testnet *net = testnet_new(5, &c, 25);
    testnet_join_all(net);
    testnet_run_for(net, 6 * SECOND_US);
    cr_assert(testnet_converged(net));
    const char *old_key[] = {"old"};
    const char *new_key[] = {"new"};

    /* Rolling, one node per cycle: accept new; then send new; then drop
     * old. At every moment each packet is signed with a key its
     * receiver accepts. */
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(peko_nodelist_set_keys(testnet_node(net, i), "old",
                                            new_key, 1), 0);
        testnet_run_for(net, SECOND_US);
    }
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(peko_nodelist_set_keys(testnet_node(net, i), "new",
                                            old_key, 1), 0);
        testnet_run_for(net, SECOND_US);
    }
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(peko_nodelist_set_keys(testnet_node(net, i), "new",
                                            NULL, 0), 0);
        testnet_run_for(net, SECOND_US);
    }
    testnet_run_for(net, 6 * SECOND_US);
    cr_assert_eq(total_rejected(net), 0);
    cr_assert_eq(total_expired(net), 0);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(fixes, identity_is_address_and_port_so_renames_update_in_place)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(3, &c, 26);
    testnet_join_all(net);
    testnet_run_for(net, 4 * SECOND_US);
    cr_assert(testnet_converged(net));
    /* Same address and port, new name and data: the same node. */
    peko_node renamed = {.addr = "127.0.0.1", .port = 9002,
                         .name = "renamed", .private_data = "new-data"};
    cr_assert_eq(peko_nodelist_set(testnet_node(net, 2), &renamed), 0);
    testnet_run_for(net, 3 * SECOND_US);
    peko_node_array list;
    peko_nodelist_get(testnet_node(net, 0), &list);
    cr_assert_eq(list.count, 3);
    cr_assert_str_eq(list.nodes[2].name, "renamed");
    cr_assert_str_eq(list.nodes[2].private_data, "new-data");
    peko_node_array_clear(&list);
    testnet_free(net);
}

typedef struct {
    const peko_addr *base;
    uint64_t counts[64];
    uint64_t total;
} target_log;

static void on_sent(void *user, peko_msg_type type, const peko_addr *to,
                    size_t n)
{
    target_log *log = user;
    if (type != PEKO_MSG_HEARTBEAT)
        return;
    log->counts[to->port - log->base->port]++;
    log->total++;
}

Test(fixes, fanout_targets_are_uniform_over_peers)
{
    /* Node 0 knows 16 peers that never answer (they are not joined), so
     * every heartbeat it originates picks 3 of them afresh. */
    peko_config c = fast_config();
    c.timeout_us = 100000LL * SECOND_US; /* keep the silent peers */
    testnet *net = testnet_new(17, &c, 27);
    peko_nodelist *nl = testnet_node(net, 0);
    for (size_t i = 1; i < 17; i++) {
        peko_node n = {.addr = "127.0.0.1", .port = (uint16_t)(9000 + i)};
        cr_assert_eq(peko_nodelist_set(nl, &n), 0);
    }
    target_log log = {.base = testnet_addr(net, 0)};
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .packet_sent = on_sent};
    peko_nodelist_set_observer(nl, &obs, &log);
    testnet_join_via(net, 0, 0);
    testnet_run_for(net, 3200LL * SECOND_US); /* 3200 heartbeats */
    cr_assert_eq(log.total, 3 * 3201);
    /* Chi-square over 16 cells, 15 degrees of freedom: the 0.999 quantile
     * is 37.7. The seed is fixed, so this cannot flake. */
    double expected = (double)log.total / 16.0, chi2 = 0;
    for (size_t i = 1; i < 17; i++) {
        double d = (double)log.counts[i] - expected;
        chi2 += d * d / expected;
    }
    cr_assert_lt(chi2, 37.7, "chi-square %.1f", chi2);
    cr_assert_eq(log.counts[0], 0, "never sends to itself");
    testnet_free(net);
}

typedef struct {
    size_t max_bytes;
    uint64_t packets;
} size_log;

static void on_sent_size(void *user, peko_msg_type type, const peko_addr *to,
                         size_t n)
{
    size_log *log = user;
    if (n > log->max_bytes)
        log->max_bytes = n;
    log->packets++;
}

Test(fixes, infected_set_never_lets_a_packet_exceed_size)
{
    /* 40 nodes with the smallest Size: a carried infected set soon stops
     * fitting, and is cut rather than overflowing. */
    peko_config c = fast_config();
    c.size = PEKO_MIN_SIZE;
    testnet *net = testnet_new(40, &c, 28);
    size_log logs[40] = {0};
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .packet_sent = on_sent_size};
    for (size_t i = 0; i < 40; i++)
        peko_nodelist_set_observer(testnet_node(net, i), &obs, &logs[i]);
    testnet_join_all(net);
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(testnet_converged(net));
    uint64_t truncated = 0;
    for (size_t i = 0; i < 40; i++) {
        cr_assert_leq(logs[i].max_bytes, PEKO_MIN_SIZE);
        cr_assert_gt(logs[i].packets, 0);
        peko_stats st;
        peko_nodelist_stats(testnet_node(net, i), &st);
        truncated += st.infected_truncated;
        cr_assert_eq(st.rejected[PEKO_REJECT_OVERSIZE], 0);
    }
    cr_assert_gt(truncated, 0, "the test must exercise the cut");
    testnet_free(net);
}

Test(fixes, rejected_packets_are_counted_and_change_nothing)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(3, &c, 29);
    testnet_join_all(net);
    testnet_run_for(net, 4 * SECOND_US);
    peko_nodelist *nl = testnet_node(net, 1);
    size_t count = peko_nodelist_count(nl);
    peko_stats before, after;
    peko_nodelist_stats(nl, &before);

    peko_addr evil;
    peko_addr_parse("127.0.0.66", 6666, &evil);
    const uint8_t garbage[] = "GET / HTTP/1.1\r\n\r\n";
    const uint8_t short_magic[] = {0x50, 0x4B, 1};
    uint8_t bad_version[12] = {0x50, 0x4B, 99, 1};
    uint8_t huge[20000];
    memset(huge, 0x50, sizeof huge);
    testnet_inject(net, 1, &evil, garbage, sizeof garbage);
    testnet_inject(net, 1, &evil, short_magic, sizeof short_magic);
    testnet_inject(net, 1, &evil, bad_version, sizeof bad_version);
    testnet_inject(net, 1, &evil, huge, sizeof huge);
    testnet_inject(net, 1, &evil, NULL, 0);

    peko_nodelist_stats(nl, &after);
    cr_assert_eq(after.rejected[PEKO_REJECT_BAD_MAGIC] -
                     before.rejected[PEKO_REJECT_BAD_MAGIC], 1);
    cr_assert_eq(after.rejected[PEKO_REJECT_TRUNCATED] -
                     before.rejected[PEKO_REJECT_TRUNCATED], 2);
    cr_assert_eq(after.rejected[PEKO_REJECT_BAD_VERSION] -
                     before.rejected[PEKO_REJECT_BAD_VERSION], 1);
    cr_assert_eq(after.rejected[PEKO_REJECT_OVERSIZE] -
                     before.rejected[PEKO_REJECT_OVERSIZE], 1);
    cr_assert_eq(peko_nodelist_count(nl), count);
    cr_assert_not(peko_nodelist_contains(nl, &evil));
    for (size_t t = 1; t < PEKO_MSG_TYPE_COUNT; t++)
        cr_assert_eq(after.received[t], before.received[t]);
    testnet_free(net);
}

Test(fixes, accepted_keys_without_a_sending_key_are_refused)
{
    testnet *net = testnet_new(1, NULL, 30);
    const char *keys[] = {"a"};
    cr_assert_eq(peko_nodelist_set_keys(testnet_node(net, 0), NULL, keys, 1),
                 -EINVAL);
    cr_assert_eq(peko_nodelist_set_keys(testnet_node(net, 0), "", keys, 1),
                 -EINVAL);
    peko_config c = {0}, out;
    c.accepted_keys = keys;
    c.accepted_key_count = 1;
    cr_assert_eq(peko_config_resolve(&c, &out), -EINVAL);
    c.secret_key = "b";
    cr_assert_eq(peko_config_resolve(&c, &out), 0);
    testnet_free(net);
}
