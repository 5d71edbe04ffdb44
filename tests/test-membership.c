/* test-membership.c: the node list synchronizes by heartbeat rumors and
 * expires silent nodes, as in pekonode. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "nodelist-private.h"
#include "testenv.h"

#define SECOND_US 1000000LL

static peko_config fast_config(void)
{
    /* A 1 s cycle; timeout by pekonode's rule: 3 * 1 s + 2 s = 5 s. */
    peko_config c = {0};
    c.cycle_us = 1 * SECOND_US;
    return c;
}

Test(membership, defaults_are_pekonodes)
{
    peko_config c;
    peko_config_init(&c);
    cr_assert_eq(c.amount, 3);
    cr_assert_eq(c.cycle_us, 6 * SECOND_US);
    cr_assert_eq(c.buffer, 9);
    cr_assert_eq(c.size, 16384);
    cr_assert_eq(c.timeout_us, 20 * SECOND_US);
    cr_assert_eq(c.protocol, PEKO_PROTOCOL_UDP);
    cr_assert_str_eq(c.listen_addr, "0.0.0.0");
    cr_assert_eq(c.dissemination, PEKO_DISSEMINATION_RUMOR);
}

Test(membership, timeout_rule_applies_only_when_not_larger_than_cycle)
{
    peko_config in = {0}, out;
    in.cycle_us = 6 * SECOND_US;
    in.timeout_us = 10 * SECOND_US;
    cr_assert_eq(peko_config_resolve(&in, &out), 0);
    cr_assert_eq(out.timeout_us, 10 * SECOND_US);
    in.timeout_us = 6 * SECOND_US;
    cr_assert_eq(peko_config_resolve(&in, &out), 0);
    cr_assert_eq(out.timeout_us, 20 * SECOND_US);
    in.amount = 5;
    in.timeout_us = 0;
    cr_assert_eq(peko_config_resolve(&in, &out), 0);
    cr_assert_eq(out.buffer, 15);
}

Test(membership, bad_config_is_rejected)
{
    peko_config in = {0}, out;
    in.amount = -1;
    cr_assert_eq(peko_config_resolve(&in, &out), -EINVAL);
    in.amount = 0;
    in.size = 100000; /* above the largest UDP payload */
    cr_assert_eq(peko_config_resolve(&in, &out), -EINVAL);
    in.protocol = PEKO_PROTOCOL_TCP;
    cr_assert_eq(peko_config_resolve(&in, &out), 0);
    in.size = 16;
    cr_assert_eq(peko_config_resolve(&in, &out), -EINVAL);
}

Test(membership, four_node_cluster_converges_to_full_list)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(4, &c, 1);
    testnet_join_all(net);
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert(testnet_converged(net));

    peko_node_array list;
    peko_nodelist_get(testnet_node(net, 2), &list);
    cr_assert_eq(list.count, 4);
    for (size_t i = 0; i < 4; i++) {
        char name[16], data[16];
        g_snprintf(name, sizeof name, "node-%zu", i);
        g_snprintf(data, sizeof data, "data-%zu", i);
        /* get() orders by address: ports 9000..9003. */
        cr_assert_str_eq(list.nodes[i].addr, "127.0.0.1");
        cr_assert_eq(list.nodes[i].port, 9000 + i);
        cr_assert_str_eq(list.nodes[i].name, name);
        cr_assert_str_eq(list.nodes[i].private_data, data);
    }
    peko_node_array_clear(&list);
    cr_assert_null(list.nodes);
    testnet_free(net);
}

Test(membership, thirty_two_nodes_converge_through_one_seed)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(32, &c, 7);
    testnet_join_all(net);
    testnet_run_for(net, 6 * SECOND_US);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(membership, stopped_node_expires_after_timeout_and_returns_after_start)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(4, &c, 2);
    testnet_join_all(net);
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert(testnet_converged(net));

    peko_nodelist_stop(testnet_node(net, 3));
    cr_assert_not(peko_nodelist_is_running(testnet_node(net, 3)));
    /* Still listed before Timeout (5 s) has passed since its last beat. */
    testnet_run_for(net, 4 * SECOND_US);
    for (size_t i = 0; i < 3; i++)
        cr_assert(peko_nodelist_contains(testnet_node(net, i),
                                         testnet_addr(net, 3)));
    /* Gone once Timeout has passed (swept at the next cycle). */
    testnet_run_for(net, 2500000);
    bool out[4] = {false, false, false, true};
    for (size_t i = 0; i < 3; i++)
        cr_assert(testnet_has_full_list(net, i, out), "node %zu", i);
    /* A stopped node still receives: it keeps everyone else. */
    cr_assert(testnet_has_full_list(net, 3, NULL));

    peko_nodelist_start(testnet_node(net, 3));
    testnet_run_for(net, 2 * SECOND_US);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(membership, set_seeds_the_list_and_unreachable_seeds_expire)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(2, &c, 3);
    peko_node ghost = {.addr = "127.0.0.9", .port = 1234, .name = "ghost"};
    peko_nodelist *nl = testnet_node(net, 0);
    cr_assert_eq(peko_nodelist_set(nl, &ghost), 0);
    cr_assert_eq(peko_nodelist_count(nl), 2);
    peko_addr ghost_addr;
    peko_addr_parse("127.0.0.9", 1234, &ghost_addr);
    cr_assert(peko_nodelist_contains(nl, &ghost_addr));

    peko_node bad = {.addr = "not-an-ip", .port = 1};
    cr_assert_eq(peko_nodelist_set(nl, &bad), -EINVAL);
    cr_assert_eq(peko_nodelist_count(nl), 2);

    testnet_join_all(net);
    testnet_run_for(net, 7 * SECOND_US);
    cr_assert_not(peko_nodelist_contains(nl, &ghost_addr));
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(membership, join_twice_is_refused)
{
    testnet *net = testnet_new(1, NULL, 4);
    cr_assert_eq(peko_nodelist_join(testnet_node(net, 0)), 0);
    cr_assert_eq(peko_nodelist_join(testnet_node(net, 0)), -EALREADY);
    testnet_free(net);
}

Test(membership, restarted_node_is_refreshed_despite_lower_sequence)
{
    peko_config c = fast_config();
    testnet *net = testnet_new(4, &c, 5);
    testnet_join_all(net);
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(testnet_converged(net));

    /* Crash and restart: a fresh engine starts its sequence again, with a
     * new incarnation. Others must keep refreshing it. */
    testnet_restart(net, 2, NULL);
    cr_assert_eq(peko_nodelist_count(testnet_node(net, 2)), 1);
    testnet_join_via(net, 2, 0);
    testnet_run_for(net, 12 * SECOND_US);
    cr_assert(testnet_converged(net));
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, 0), &st);
    cr_assert_eq(st.nodes_expired, 0);
    testnet_free(net);
}

/* A heartbeat whose version a node stores is told apart from its later
 * copies by that version, so it takes no room in the seen cache; nor do
 * the node's own heartbeats, whose copies coming back are told apart by
 * their origin. In a cluster of fixed members nothing is keyed at all,
 * and copies are still counted as duplicates, not news. */
static void no_key_for_stored_versions(peko_dissemination d)
{
    peko_config c = fast_config();
    c.dissemination = d;
    testnet *net = testnet_new(32, &c, 8);
    testnet_join_all(net);
    testnet_run_for(net, 12 * SECOND_US);
    cr_assert(testnet_converged(net));
    uint64_t duplicates = 0;
    for (size_t i = 0; i < testnet_size(net); i++) {
        peko_nodelist *nl = testnet_node(net, i);
        cr_assert_eq(nl->seen.count, 0, "node %zu keeps %zu keys", i,
                     nl->seen.count);
        peko_stats st;
        peko_nodelist_stats(nl, &st);
        cr_assert_eq(st.nodes_expired, 0);
        duplicates += st.duplicates;
    }
    cr_assert_gt(duplicates, 0);
    testnet_free(net);
}

Test(membership, stored_versions_and_own_heartbeats_take_no_keys)
{
    no_key_for_stored_versions(PEKO_DISSEMINATION_RUMOR);
    no_key_for_stored_versions(PEKO_DISSEMINATION_CLASSIC);
}

/* Where versions cannot answer, in classic a restart's new incarnation,
 * the seen cache still does: a late copy of either incarnation is not
 * news twice. */
Test(membership, another_incarnation_is_keyed)
{
    peko_config c = fast_config();
    c.dissemination = PEKO_DISSEMINATION_CLASSIC;
    testnet *net = testnet_new(4, &c, 5);
    testnet_join_all(net);
    testnet_run_for(net, 10 * SECOND_US);
    testnet_restart(net, 2, NULL);
    testnet_join_via(net, 2, 0);
    testnet_run_for(net, 3 * SECOND_US);
    size_t keyed = 0;
    for (size_t i = 0; i < testnet_size(net); i++)
        if (i != 2)
            keyed += testnet_node(net, i)->seen.count > 0;
    cr_assert_gt(keyed, 0);
    testnet_free(net);
}

Test(membership, sub_second_cycles_work_in_microseconds)
{
    peko_config c = {0};
    c.cycle_us = 250000;
    testnet *net = testnet_new(8, &c, 6);
    testnet_set_latency_us(net, 300);
    testnet_join_all(net);
    testnet_run_for(net, 1500000);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(membership, bad_local_node_or_env_is_rejected)
{
    peko_env env = {0};
    peko_nodelist *nl = (peko_nodelist *)&env;
    peko_node local = {.addr = "127.0.0.1", .port = 1};
    cr_assert_eq(peko_nodelist_new(NULL, &local, &env, &nl), -EINVAL);
    cr_assert_null(nl);
}
