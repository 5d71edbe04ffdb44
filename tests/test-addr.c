/* test-addr.c: addresses, their fingerprint, and the name tables. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "peko.h"

static peko_addr addr(const char *host, uint16_t port)
{
    peko_addr a;
    cr_assert_eq(peko_addr_parse(host, port, &a), 0, "parse %s", host);
    return a;
}

Test(addr, parses_and_formats_ipv4)
{
    peko_addr a = addr("10.0.0.1", 8000);
    cr_assert_eq(a.family, PEKO_AF_INET4);
    cr_assert_eq(a.zero, 0);
    cr_assert_eq(a.port, 8000);
    static const uint8_t ip[16] = {10, 0, 0, 1};
    cr_assert_arr_eq(a.ip, ip, 16);

    char buf[PEKO_ADDR_STRLEN];
    peko_addr_format(&a, buf);
    cr_assert_str_eq(buf, "10.0.0.1:8000");
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(&a, host);
    cr_assert_str_eq(host, "10.0.0.1");
}

Test(addr, parses_and_formats_ipv6_in_brackets)
{
    peko_addr a = addr("::1", 8000);
    cr_assert_eq(a.family, PEKO_AF_INET6);
    cr_assert_eq(a.ip[15], 1);
    char buf[PEKO_ADDR_STRLEN];
    peko_addr_format(&a, buf);
    cr_assert_str_eq(buf, "[::1]:8000");

    peko_addr b = addr("2001:DB8:0:0:0:0:0:1", 65535);
    peko_addr_format(&b, buf);
    cr_assert_str_eq(buf, "[2001:db8::1]:65535");
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(&b, host);
    cr_assert_str_eq(host, "2001:db8::1");
}

Test(addr, longest_ipv6_fits_the_buffers)
{
    peko_addr a = addr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535);
    char buf[PEKO_ADDR_STRLEN];
    peko_addr_format(&a, buf);
    cr_assert_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

Test(addr, empty_host_means_loopback)
{
    peko_addr a = addr("", 7946);
    peko_addr b = addr("127.0.0.1", 7946);
    cr_assert(peko_addr_equal(&a, &b));
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
    peko_addr c = addr(NULL, 7946);
    cr_assert(peko_addr_equal(&c, &b));
}

Test(addr, rejects_garbage_and_zeroes_output)
{
    static const char *const bad[] = {
        "localhost", "10.0.0", "10.0.0.256", "10.0.0.1:80", "[::1]",
        "::1::2",    " 10.0.0.1", "1.2.3.4 ", "fe80::1%eth0", "0x0a000001",
    };
    static const peko_addr zero = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        peko_addr a;
        memset(&a, 0xab, sizeof a);
        cr_assert_eq(peko_addr_parse(bad[i], 80, &a), -EINVAL, "%s", bad[i]);
        cr_assert_eq(memcmp(&a, &zero, sizeof a), 0, "%s not zeroed", bad[i]);
    }
}

Test(addr, compares_by_family_then_ip_then_port)
{
    peko_addr v4a = addr("10.0.0.1", 9000);
    peko_addr v4b = addr("10.0.0.2", 1);
    peko_addr v4a_hi = addr("10.0.0.1", 9001);
    peko_addr v6 = addr("::1", 1);

    cr_assert_lt(peko_addr_compare(&v4a, &v4b), 0);     /* ip before port */
    cr_assert_gt(peko_addr_compare(&v4b, &v4a), 0);
    cr_assert_lt(peko_addr_compare(&v4a, &v4a_hi), 0);  /* then port */
    cr_assert_lt(peko_addr_compare(&v4b, &v6), 0);      /* family first */
    cr_assert_gt(peko_addr_compare(&v6, &v4a), 0);
    cr_assert_eq(peko_addr_compare(&v4a, &v4a), 0);
    cr_assert(peko_addr_equal(&v4a, &v4a));
    cr_assert_not(peko_addr_equal(&v4a, &v4a_hi));

    /* 10.0.0.1 < 10.1.0.0: bytes in network order, not host integers. */
    peko_addr hi = addr("10.1.0.0", 0);
    peko_addr lo = addr("10.0.0.255", 0);
    cr_assert_lt(peko_addr_compare(&lo, &hi), 0);
}

Test(addr, ipv4_compare_ignores_unused_ip_bytes)
{
    peko_addr a = addr("10.0.0.1", 80);
    peko_addr b = a;
    b.ip[10] = 0xff;
    cr_assert(peko_addr_equal(&a, &b));
    cr_assert_eq(peko_addr_fingerprint(&a), peko_addr_fingerprint(&b));
}

/* The fingerprint is part of the wire format (docs/wire.md): these values
 * were computed once, and independently from the documented algorithm. A
 * change here breaks compatibility with every deployed node. */
Test(addr, fingerprint_is_stable_across_builds)
{
    static const struct {
        const char *host;
        uint16_t port;
        uint32_t fp;
    } known[] = {
        {"10.0.0.1", 8000, 0xc3804337u},
        {"10.0.0.2", 8000, 0x97f50f19u},
        {"127.0.0.1", 9000, 0xd12e563du},
        {"::1", 8000, 0x729d02edu},
        {"2001:db8::1", 8000, 0xfac2f836u},
        {"0.0.0.0", 0, 0x58d6b38cu},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        peko_addr a = addr(known[i].host, known[i].port);
        cr_assert_eq(peko_addr_fingerprint(&a), known[i].fp, "%s:%u",
                     known[i].host, (unsigned)known[i].port);
    }
}

Test(addr, fingerprint_is_nonzero_and_spreads_neighbours)
{
    /* 65536 consecutive ports of one host: never 0, and no two alike,
     * which a poorly mixed hash of nearly equal inputs would not give. */
    static uint32_t fps[65536];
    peko_addr a = addr("192.168.1.10", 0);
    for (uint32_t port = 0; port < 65536; port++) {
        a.port = (uint16_t)port;
        fps[port] = peko_addr_fingerprint(&a);
        cr_assert_neq(fps[port], 0);
    }
    size_t high_bits_set = 0;
    for (uint32_t port = 0; port < 65536; port++)
        high_bits_set += fps[port] >> 31;
    /* About half have the top bit set: the high bits move too. */
    cr_assert_gt(high_bits_set, 30000);
    cr_assert_lt(high_bits_set, 35536);
}

Test(addr, fingerprint_distinguishes_family_and_port)
{
    peko_addr v4 = addr("0.0.0.1", 80);
    peko_addr v6 = addr("::1", 80);
    peko_addr v4p = addr("0.0.0.1", 81);
    cr_assert_neq(peko_addr_fingerprint(&v4), peko_addr_fingerprint(&v6));
    cr_assert_neq(peko_addr_fingerprint(&v4), peko_addr_fingerprint(&v4p));
}

Test(addr, names_message_types_and_rejections)
{
    cr_assert_str_eq(peko_msg_type_name(PEKO_MSG_HEARTBEAT), "heartbeat");
    cr_assert_str_eq(peko_msg_type_name(PEKO_MSG_METADATA), "metadata");
    cr_assert_str_eq(peko_msg_type_name(PEKO_MSG_SWAP_REQUEST), "swap_request");
    cr_assert_str_eq(peko_msg_type_name(PEKO_MSG_SWAP_RESPONSE),
                     "swap_response");
    cr_assert_str_eq(peko_msg_type_name((peko_msg_type)0), "unknown");
    cr_assert_str_eq(peko_msg_type_name((peko_msg_type)99), "unknown");

    for (int r = 0; r < PEKO_REJECT_COUNT; r++) {
        const char *name = peko_reject_name((peko_reject)r);
        cr_assert_not_null(name, "reason %d", r);
        cr_assert_str_neq(name, "unknown", "reason %d", r);
        for (int s = 0; s < r; s++)
            cr_assert_str_neq(name, peko_reject_name((peko_reject)s));
    }
    cr_assert_str_eq(peko_reject_name(PEKO_REJECT_BAD_MAC), "bad_mac");
    cr_assert_str_eq(peko_reject_name(PEKO_REJECT_COUNT), "unknown");
}

Test(addr, version_compares_counter_then_origin)
{
    peko_version a = {.counter = 2, .origin = addr("10.0.0.9", 1)};
    peko_version b = {.counter = 3, .origin = addr("10.0.0.1", 1)};
    cr_assert_lt(peko_version_compare(&a, &b), 0);
    cr_assert_gt(peko_version_compare(&b, &a), 0);

    /* Same counter: the origin breaks the tie, the same way everywhere. */
    peko_version c = {.counter = 3, .origin = addr("10.0.0.2", 1)};
    cr_assert_lt(peko_version_compare(&b, &c), 0);
    cr_assert_gt(peko_version_compare(&c, &b), 0);
    cr_assert_eq(peko_version_compare(&c, &c), 0);

    peko_version none = {0};
    cr_assert_lt(peko_version_compare(&none, &a), 0);
}
