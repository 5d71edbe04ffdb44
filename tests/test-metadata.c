/* test-metadata.c: cluster metadata spreads by rumor, newer overwrites
 * older, and the anti-entropy swap repairs and brings late joiners up. */
#include <criterion/criterion.h>
#include <errno.h>
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

static testnet *converged_net(size_t n, uint64_t seed)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(n, &c, seed);
    testnet_join_all(net);
    testnet_run_for(net, 6 * SECOND_US);
    cr_assert(testnet_converged(net));
    return net;
}

Test(metadata, nothing_to_read_before_a_publish)
{
    testnet *net = testnet_new(1, NULL, 1);
    size_t n = 99;
    cr_assert_null(peko_nodelist_read(testnet_node(net, 0), &n));
    cr_assert_eq(n, 0);
    peko_version v;
    peko_nodelist_metadata_version(testnet_node(net, 0), &v);
    cr_assert_eq(v.counter, 0);
    testnet_free(net);
}

Test(metadata, publish_reaches_all_nodes_by_rumor)
{
    testnet *net = converged_net(16, 11);
    publish_str(testnet_node(net, 3), "test metadata");
    /* Well within one cycle: only the rumor can have carried it. */
    testnet_run_for(net, 100000);
    for (size_t i = 0; i < 16; i++) {
        cr_assert(reads(testnet_node(net, i), "test metadata"), "node %zu", i);
        peko_version v;
        peko_nodelist_metadata_version(testnet_node(net, i), &v);
        cr_assert_eq(v.counter, 1);
        cr_assert(peko_addr_equal(&v.origin, testnet_addr(net, 3)));
    }
    testnet_free(net);
}

Test(metadata, newer_publish_overwrites_older_everywhere)
{
    testnet *net = converged_net(8, 12);
    publish_str(testnet_node(net, 1), "first");
    testnet_run_for(net, 200000);
    publish_str(testnet_node(net, 6), "second");
    testnet_run_for(net, 200000);
    for (size_t i = 0; i < 8; i++) {
        cr_assert(reads(testnet_node(net, i), "second"));
        peko_version v;
        peko_nodelist_metadata_version(testnet_node(net, i), &v);
        cr_assert_eq(v.counter, 2);
    }
    /* An older copy arriving late changes nothing. */
    testnet_run_for(net, 5 * SECOND_US);
    for (size_t i = 0; i < 8; i++)
        cr_assert(reads(testnet_node(net, i), "second"));
    testnet_free(net);
}

typedef struct {
    int applied;
    peko_msg_type via;
} apply_log;

static void on_applied(void *user, const peko_version *v, peko_msg_type via,
                       size_t n)
{
    apply_log *log = user;
    log->applied++;
    log->via = via;
}

static const peko_observer apply_observer = {
    .version = PEKO_OBSERVER_VERSION,
    .metadata_applied = on_applied,
};

Test(metadata, late_joiner_gets_current_metadata_by_swap)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(6, &c, 13);
    for (size_t i = 0; i < 5; i++)
        testnet_join_via(net, i, 0);
    testnet_run_for(net, 6 * SECOND_US);
    publish_str(testnet_node(net, 2), "cluster config v1");
    testnet_run_for(net, 3 * SECOND_US);

    apply_log log = {0};
    peko_nodelist_set_observer(testnet_node(net, 5), &apply_observer, &log);
    testnet_join_via(net, 5, 0);
    testnet_run_for(net, 8 * SECOND_US);
    cr_assert(reads(testnet_node(net, 5), "cluster config v1"));
    cr_assert_eq(log.applied, 1);
    cr_assert(log.via == PEKO_MSG_SWAP_RESPONSE ||
              log.via == PEKO_MSG_SWAP_REQUEST);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(metadata, swap_repairs_a_node_that_missed_the_rumor)
{
    testnet *net = converged_net(6, 14);
    /* Node 4 hears nothing while the rumor runs. */
    for (size_t i = 0; i < 6; i++)
        testnet_block(net, i, 4, true);
    publish_str(testnet_node(net, 0), "repair me");
    testnet_run_for(net, 300000);
    cr_assert_not(reads(testnet_node(net, 4), "repair me"));
    for (size_t i = 0; i < 6; i++)
        testnet_block(net, i, 4, false);
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(reads(testnet_node(net, 4), "repair me"));
    testnet_free(net);
}

Test(metadata, classic_responder_adopts_newer_version_from_request)
{
    /* pekonode's swap: the request carries the requester's metadata. */
    peko_config c = fast_config();
    c.dissemination = PEKO_DISSEMINATION_CLASSIC;
    testnet *net = testnet_new(2, &c, 15);
    testnet_join_all(net);
    testnet_run_for(net, 3 * SECOND_US);
    /* Node 0 publishes while cut off; then only 0 -> 1 heals, so node 1
     * can learn it only from node 0's swap requests. */
    testnet_partition(net, 1, true);
    publish_str(testnet_node(net, 0), "from the requester");
    testnet_run_for(net, 100000);
    apply_log log = {0};
    peko_nodelist_set_observer(testnet_node(net, 1), &apply_observer, &log);
    testnet_block(net, 0, 1, false);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(reads(testnet_node(net, 1), "from the requester"));
    cr_assert_eq(log.via, PEKO_MSG_SWAP_REQUEST);
    testnet_free(net);
}

static void responder_gets_a_push_from_a_newer_requester(
    peko_dissemination mode)
{
    /* Anti-entropy swaps carry only the version: a responder that turns
     * out to be older gets the metadata pushed by the requester. */
    peko_config c = fast_config();
    c.dissemination = mode;
    testnet *net = testnet_new(2, &c, 15);
    /* Node 1 never joins, so it never requests; it only answers. */
    testnet_join_via(net, 0, 0);
    peko_node n1 = {.addr = "127.0.0.1", .port = 9001};
    cr_assert_eq(peko_nodelist_set(testnet_node(net, 0), &n1), 0);
    /* The rumor is lost on the way. */
    testnet_block(net, 0, 1, true);
    publish_str(testnet_node(net, 0), "from the requester");
    testnet_run_for(net, 100000);
    testnet_block(net, 0, 1, false);
    cr_assert_not(reads(testnet_node(net, 1), "from the requester"));
    apply_log log = {0};
    peko_nodelist_set_observer(testnet_node(net, 1), &apply_observer, &log);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(reads(testnet_node(net, 1), "from the requester"));
    cr_assert_eq(log.via, PEKO_MSG_SWAP_RESPONSE);
    testnet_free(net);
}

Test(metadata, rumor_responder_gets_a_push_from_a_newer_requester)
{
    responder_gets_a_push_from_a_newer_requester(PEKO_DISSEMINATION_RUMOR);
}

Test(metadata, digest_responder_gets_a_push_from_a_newer_requester)
{
    responder_gets_a_push_from_a_newer_requester(PEKO_DISSEMINATION_DIGEST);
}

Test(metadata, requester_adopts_newer_version_from_response)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(2, &c, 16);
    /* Node 1 never joins, so it never requests; it only answers. */
    testnet_join_via(net, 0, 0);
    peko_node n1 = {.addr = "127.0.0.1", .port = 9001};
    cr_assert_eq(peko_nodelist_set(testnet_node(net, 0), &n1), 0);
    testnet_block(net, 1, 0, true);
    publish_str(testnet_node(net, 1), "from the responder");
    testnet_block(net, 1, 0, false);
    apply_log log = {0};
    peko_nodelist_set_observer(testnet_node(net, 0), &apply_observer, &log);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(reads(testnet_node(net, 0), "from the responder"));
    cr_assert_eq(log.via, PEKO_MSG_SWAP_RESPONSE);
    testnet_free(net);
}

Test(metadata, publish_that_cannot_fit_size_is_refused)
{
    peko_config c = {0};
    c.size = 1024;
    testnet *net = testnet_new(1, &c, 17);
    uint8_t big[2000] = {0};
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 0), big, sizeof big),
                 -EMSGSIZE);
    peko_version v;
    peko_nodelist_metadata_version(testnet_node(net, 0), &v);
    cr_assert_eq(v.counter, 0);
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 0), big, 500), 0);
    testnet_free(net);
}

Test(metadata, concurrent_publishes_across_a_partition_converge_after_heal)
{
    testnet *net = converged_net(8, 18);
    testnet_partition(net, 4, true);
    publish_str(testnet_node(net, 1), "left");
    publish_str(testnet_node(net, 6), "right");
    /* A few cycles: a side of four hears its rumor at once or by swap. */
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert(reads(testnet_node(net, 0), "left"));
    cr_assert(reads(testnet_node(net, 7), "right"));
    testnet_partition(net, 4, false);
    testnet_run_for(net, 20 * SECOND_US);
    /* Same counter on both sides: the tie goes to the larger origin
     * address, node 6 (port 9006), deterministically. */
    for (size_t i = 0; i < 8; i++)
        cr_assert(reads(testnet_node(net, i), "right"), "node %zu", i);
    testnet_free(net);
}
