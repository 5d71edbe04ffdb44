/* test-print.c: console lines in pekonode's format with is_print on. */
#include <criterion/criterion.h>
#include <string.h>

#include "testenv.h"

#define SECOND_US 1000000LL

static bool has_line(GPtrArray *lines, const char *line)
{
    for (size_t i = 0; i < lines->len; i++)
        if (strcmp(g_ptr_array_index(lines, i), line) == 0)
            return true;
    return false;
}

static bool has_prefix(GPtrArray *lines, const char *prefix)
{
    for (size_t i = 0; i < lines->len; i++)
        if (g_str_has_prefix(g_ptr_array_index(lines, i), prefix))
            return true;
    return false;
}

static testnet *printing_net(size_t n, bool is_print)
{
    peko_config c = {0};
    c.cycle_us = SECOND_US;
    c.is_print = is_print;
    return testnet_new(n, &c, 31);
}

Test(print, join_line_shows_the_local_node)
{
    testnet *net = printing_net(1, true);
    testnet_join_all(net);
    cr_assert(has_line(testnet_lines(net, 0),
                       "[[Join]: {127.0.0.1 9000 node-0 data-0}]"));
    testnet_free(net);
}

Test(print, listen_line_shows_address_and_sorted_node_list)
{
    testnet *net = printing_net(2, true);
    testnet_join_all(net);
    testnet_run_for(net, 2 * SECOND_US);
    cr_assert(has_line(testnet_lines(net, 1),
                       "[[Listen]: 0.0.0.0:9001 / [Node list]: "
                       "[{127.0.0.1 9000 node-0 data-0} "
                       "{127.0.0.1 9001 node-1 data-1}]]"));
    testnet_free(net);
}

Test(print, stop_start_publish_and_swap_lines)
{
    testnet *net = printing_net(2, true);
    testnet_join_all(net);
    testnet_run_for(net, 2 * SECOND_US);
    peko_nodelist *nl = testnet_node(net, 1);
    peko_nodelist_stop(nl);
    peko_nodelist_start(nl);
    cr_assert_eq(peko_nodelist_publish(nl, (const uint8_t *)"cfg\n", 4), 0);
    GPtrArray *lines = testnet_lines(net, 1);
    cr_assert(has_line(lines, "[[Stop]: {127.0.0.1 9001 node-1 data-1}]"));
    cr_assert(has_line(lines, "[[Start]: {127.0.0.1 9001 node-1 data-1}]"));
    /* Control characters never reach the console raw. */
    cr_assert(has_line(lines, "[[Publish]: {127.0.0.1 9001 node-1 data-1} / "
                              "[Metadata]: cfg\\x0a]"));
    cr_assert(has_line(lines,
                       "[[Swap Request]: 127.0.0.1:9001 -> 127.0.0.1:9000]"));
    cr_assert(has_line(testnet_lines(net, 0),
                       "[[Swap Response]: 127.0.0.1:9001 <- 127.0.0.1:9000]"));
    testnet_free(net);
}

Test(print, rejected_packet_prints_an_error_line)
{
    testnet *net = printing_net(1, true);
    peko_addr from;
    peko_addr_parse("127.0.0.5", 5555, &from);
    const uint8_t junk[] = "hello there, this is not peko";
    testnet_inject(net, 0, &from, junk, sizeof junk);
    cr_assert(has_prefix(testnet_lines(net, 0), "[[Error]: "));
    testnet_free(net);
}

Test(print, nothing_is_printed_when_is_print_is_off)
{
    testnet *net = printing_net(2, false);
    testnet_join_all(net);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert_eq(testnet_lines(net, 0)->len, 0);
    cr_assert_eq(testnet_lines(net, 1)->len, 0);
    testnet_free(net);
}
