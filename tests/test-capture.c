/* test-capture.c: live capture on the loopback (transport/capture.h).
 *
 * Real packets between loopback sockets, encoded by the engine's own
 * encoder: the capture's per-type counts and bytes must equal what was
 * sent, and its pcap file must read back. Sends are bounded in count and
 * every wait in time. Tests that need to capture are skipped when the
 * process may not (no CAP_NET_RAW). The last ones run a small cluster on
 * the socket transport and hold the capture against the engines' own
 * counters.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture.h"
#include "peko-transport.h"
#include "wire.h"

#define WAIT_US (10 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* Fixtures.                                                            */

typedef struct sent_counts {
    uint64_t packets[PEKO_MSG_TYPE_COUNT];
    uint64_t bytes[PEKO_MSG_TYPE_COUNT];
    uint64_t total;
} sent_counts;

static char *tmp_dir;

static void make_tmp(void)
{
    GError *error = NULL;
    tmp_dir = g_dir_make_tmp("peko-capture-XXXXXX", &error);
    cr_assert_not_null(tmp_dir, "%s", error ? error->message : "");
}

static void remove_tmp(void)
{
    if (tmp_dir == NULL)
        return;
    GDir *d = g_dir_open(tmp_dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)) != NULL) {
        char *p = g_build_filename(tmp_dir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(tmp_dir);
    g_clear_pointer(&tmp_dir, g_free);
}

TestSuite(capture, .init = make_tmp, .fini = remove_tmp);

/* Opens a capture on lo, or skips the test when capturing is not
 * permitted. */
static const char *interface = "lo";

static tp_capture *open_or_skip(peko_protocol protocol,
                                  const uint16_t *ports, size_t n_ports,
                                  const char *path, bool immediate)
{
    tp_capture_options o;
    tp_capture_options_init(&o);
    o.interface = interface;
    o.immediate = immediate;
    o.protocol = protocol;
    o.ports = ports;
    o.port_count = n_ports;
    o.pcap_path = path;
    GError *error = NULL;
    tp_capture *c = tp_capture_open(&o, &error);
    if (c == NULL && g_error_matches(error, TP_CAPTURE_ERROR,
                                     TP_CAPTURE_ERROR_PERMISSION))
        cr_skip_test("%s", error->message);
    cr_assert_not_null(c, "%s", error ? error->message : "");
    return c;
}

/* A socket bound to host:0 (family AF_INET or AF_INET6); its port in
 * *port. Returns -1 when the family's loopback is unavailable. */
static int bound_socket(int family, int type, uint16_t *port)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    len = sizeof ss;
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static struct sockaddr_storage loopback(int family, uint16_t port,
                                        socklen_t *len)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        *len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        *len = sizeof *a;
    }
    return ss;
}

/* Encodes message number i: the types in turn, sizes varying with i
 * (metadata blobs up to 5,000 bytes, infected sets up to 40 entries, swap
 * digests up to 40 entries, some full), a swap's metadata, range and
 * entries each present in some and absent in others, every fifth packet
 * signed (so every type is, in turn). Returns the packet's length. */
static size_t encode(unsigned i, bool v6, uint8_t *buf, size_t cap)
{
    static uint8_t blob[5000];
    static uint8_t set[4 * 40];
    static uint8_t entries[40 * 64];
    for (size_t k = 0; k < sizeof blob; k++)
        blob[k] = (uint8_t)('a' + k % 26);
    for (uint32_t k = 0; k < 40; k++)
        peko__put_u32(set + 4 * k, 0x01000000u * (k + 1) + 7);

    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = (peko_msg_type)(1 + i % (PEKO_MSG_TYPE_COUNT - 1));
    m.hops = (uint8_t)(i % 3);
    cr_assert_eq(peko_addr_parse(v6 ? "::1" : "127.0.0.1", 8000, &m.sender),
                 0);
    m.auth_incarnation = 42;
    m.auth_number = i;
    switch (m.type) {
    case PEKO_MSG_HEARTBEAT:
        m.origin = m.sender;
        m.incarnation = 42;
        m.seq = i;
        m.rev = (uint16_t)(i % 5);
        m.name = (const uint8_t *)"node";
        m.name_len = 4;
        m.infected = set;
        m.n_infected = i % 41;
        break;
    case PEKO_MSG_METADATA:
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        m.version.counter = i;
        m.version.origin = m.sender;
        m.has_meta = m.type == PEKO_MSG_METADATA || i % 2 == 0;
        if (m.has_meta) {
            m.meta = blob;
            m.meta_len = (uint32_t)((i * 997u) % sizeof blob);
        }
        if (m.type == PEKO_MSG_METADATA) {
            m.infected = set;
            m.n_infected = i % 41;
            break;
        }
        m.has_range = i % 3 == 0;
        m.range_first = i * 0x01000193u;
        m.range_last = m.range_first + 0x10000000u;
        m.entries = entries;
        m.n_entries = (uint16_t)(i % 41);
        uint8_t *p = entries;
        for (unsigned k = 0; k < m.n_entries; k++) {
            peko__entry e = {.addr = m.sender, .incarnation = k,
                             .seq = i, .rev = (uint16_t)k,
                             .full = k % 4 == 0,
                             .name = (const uint8_t *)"node",
                             .name_len = k % 4 == 0 ? 4 : 0,
                             .data = blob,
                             .data_len = k % 4 == 0 ? (uint16_t)k : 0};
            e.addr.port = (uint16_t)(9000 + k);
            p = peko__entry_write(p, &e);
        }
        m.entries_len = (uint32_t)(p - entries);
        break;
    case PEKO_MSG_CHALLENGE:
    case PEKO_MSG_ECHO:
        m.nonce = 0x0123456789abcdefULL ^ i;
        break;
    }
    peko__keyring *keys = peko__keyring_new();
    if (i % 5 == 4)
        cr_assert_eq(peko__keyring_set(keys, "capture-key", NULL, 0), 0);
    size_t n = peko__wire_encode(&m, keys, buf, cap);
    peko__keyring_free(keys);
    cr_assert_gt(n, 0);
    return n;
}

static void note_sent(sent_counts *s, const uint8_t *packet, size_t n)
{
    s->packets[packet[3]]++;
    s->bytes[packet[3]] += n;
    s->total++;
}

static uint64_t counted(const tp_capture_stats *st)
{
    uint64_t n = 0;
    for (int t = 0; t < PEKO_MSG_TYPE_COUNT; t++)
        n += st->packets[t];
    return n;
}

/* Runs the context (the capture's GSource attached to it) until the
 * capture has counted `want` packets or WAIT_US passed; `fd`, if not -1,
 * is a socket to keep reading meanwhile. Returns the stats. */
static tp_capture_stats wait_for(tp_capture *c, GMainContext *ctx,
                                   uint64_t want, int fd)
{
    tp_capture_stats st;
    int64_t deadline = g_get_monotonic_time() + WAIT_US;
    for (;;) {
        while (g_main_context_iteration(ctx, FALSE))
            ;
        if (fd >= 0) {
            uint8_t sink[65536];
            while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
                ;
        }
        tp_capture_get_stats(c, &st);
        if (counted(&st) >= want || g_get_monotonic_time() > deadline)
            return st;
        g_usleep(1000);
    }
}

static void assert_counts(const tp_capture_stats *st, const sent_counts *s)
{
    for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++) {
        cr_assert_eq(st->packets[t], s->packets[t],
                     "type %d: captured %" G_GUINT64_FORMAT ", sent %"
                     G_GUINT64_FORMAT, t, st->packets[t], s->packets[t]);
        cr_assert_eq(st->bytes[t], s->bytes[t],
                     "type %d: captured %" G_GUINT64_FORMAT " bytes, sent %"
                     G_GUINT64_FORMAT, t, st->bytes[t], s->bytes[t]);
    }
}

static uint64_t records_in(const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    cr_assert_not_null(p, "%s", err);
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t n = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1)
        n++;
    cr_assert_eq(rc, PCAP_ERROR_BREAK, "%s", pcap_geterr(p));
    pcap_close(p);
    return n;
}

/* ------------------------------------------------------------------ */
/* The filter.                                                          */

Test(capture, filter_writes_runs_of_ports_as_ranges)
{
    const uint16_t ports[] = {7005, 7001, 7000, 7002, 7000, 9000, 7006};
    char *f = tp_capture_filter_new(PEKO_PROTOCOL_UDP, ports,
                                      G_N_ELEMENTS(ports));
    cr_assert_str_eq(f, "udp and (portrange 7000-7002 or portrange "
                        "7005-7006 or port 9000)");
    g_free(f);
    const uint16_t one = 8000;
    f = tp_capture_filter_new(PEKO_PROTOCOL_TCP, &one, 1);
    cr_assert_str_eq(f, "tcp and (port 8000)");
    g_free(f);
    cr_assert_null(tp_capture_filter_new(PEKO_PROTOCOL_UDP, ports, 0));
    const uint16_t zero = 0;
    cr_assert_null(tp_capture_filter_new(PEKO_PROTOCOL_UDP, &zero, 1));
}

Test(capture, bad_options_are_refused)
{
    tp_capture_options o;
    tp_capture_options_init(&o);
    GError *error = NULL;
    cr_assert_null(tp_capture_open(&o, &error)); /* no ports */
    cr_assert(g_error_matches(error, TP_CAPTURE_ERROR,
                              TP_CAPTURE_ERROR_INVALID));
    g_clear_error(&error);
}

/* ------------------------------------------------------------------ */
/* UDP.                                                                 */

#define UDP_MESSAGES 400
#define UDP_JUNK 5
#define UDP_STRAY 10

static void udp_round(int family)
{
    uint16_t rx_port, tx_port, stray_port, other_port;
    int rx = bound_socket(family, SOCK_DGRAM, &rx_port);
    if (rx < 0 && family == AF_INET6)
        cr_skip_test("no IPv6 loopback");
    cr_assert_geq(rx, 0);
    int tx = bound_socket(family, SOCK_DGRAM, &tx_port);
    int stray = bound_socket(family, SOCK_DGRAM, &stray_port);
    int other = bound_socket(family, SOCK_DGRAM, &other_port);
    cr_assert(tx >= 0 && stray >= 0 && other >= 0);

    char *path = g_build_filename(tmp_dir, "udp.pcap", NULL);
    const uint16_t ports[] = {rx_port, tx_port};
    /* Immediate mode over IPv4, packed delivery over IPv6. */
    tp_capture *c = open_or_skip(PEKO_PROTOCOL_UDP, ports, 2, path,
                                   family == AF_INET);
    GMainContext *ctx = g_main_context_new();
    GSource *src = tp_capture_source_new(c);
    g_source_attach(src, ctx);

    socklen_t to_len;
    struct sockaddr_storage to = loopback(family, rx_port, &to_len);
    struct sockaddr_storage to_other = loopback(family, other_port, &to_len);
    sent_counts sent = {0};
    uint8_t buf[PEKO_DEFAULT_SIZE];
    for (unsigned i = 0; i < UDP_MESSAGES; i++) {
        size_t n = encode(i, family == AF_INET6, buf, sizeof buf);
        cr_assert_eq(sendto(tx, buf, n, 0, (struct sockaddr *)&to, to_len),
                     (ssize_t)n);
        note_sent(&sent, buf, n);
        if (i % 50 == 0) /* keep the receiver's buffer from filling */
            wait_for(c, ctx, 0, rx);
    }
    /* Not peko packets of this wire version: counted under 0. Text, and
     * packets whose header says wire version 1. */
    static const char junk[] = "GET / HTTP/1.0\r\n";
    uint64_t junk_bytes = 0;
    for (unsigned i = 0; i < UDP_JUNK; i++) {
        size_t n = sizeof junk - 1;
        memcpy(buf, junk, n);
        if (i % 2 == 1) {
            n = encode(i, family == AF_INET6, buf, sizeof buf);
            buf[2] = 1;
        }
        cr_assert_eq(sendto(tx, buf, n, 0, (struct sockaddr *)&to, to_len),
                     (ssize_t)n);
        junk_bytes += n;
    }
    /* Between ports outside the filter: not captured at all. */
    for (unsigned i = 0; i < UDP_STRAY; i++) {
        size_t n = encode(i, family == AF_INET6, buf, sizeof buf);
        cr_assert_eq(sendto(stray, buf, n, 0, (struct sockaddr *)&to_other,
                            to_len),
                     (ssize_t)n);
    }

    tp_capture_stats st = wait_for(c, ctx, sent.total + UDP_JUNK, rx);
    assert_counts(&st, &sent);
    cr_assert_eq(st.packets[0], UDP_JUNK);
    cr_assert_eq(st.bytes[0], junk_bytes);
    cr_assert_eq(st.undecoded, 0);
    cr_assert_eq(st.cut, 0);

    g_source_destroy(src);
    g_source_unref(src);
    GError *error = NULL;
    cr_assert(tp_capture_close(c, &st, &error), "%s",
              error ? error->message : "");
    /* Nothing more arrived late, nothing was dropped. */
    assert_counts(&st, &sent);
    cr_assert_eq(st.packets[0], UDP_JUNK);
    cr_assert(st.kernel_stats);
    cr_assert_eq(st.kernel_dropped, 0);
    cr_assert_eq(st.frames, sent.total + UDP_JUNK);
    cr_assert_eq(st.written, st.frames);
    cr_assert_eq(records_in(path), sent.total + UDP_JUNK);

    g_main_context_unref(ctx);
    g_free(path);
    close(rx);
    close(tx);
    close(stray);
    close(other);
}

Test(capture, udp_counts_by_type_equal_what_was_sent, .timeout = 30)
{
    udp_round(AF_INET);
}

Test(capture, udp_over_ipv6_counts_equal_what_was_sent, .timeout = 30)
{
    udp_round(AF_INET6);
}

/* On "any", libpcap hands over Linux cooked frames, and each loopback
 * packet once. */
Test(capture, udp_on_any_interface_counts_equal_what_was_sent,
     .timeout = 30)
{
    interface = "any";
    udp_round(AF_INET);
}

/* ------------------------------------------------------------------ */
/* TCP.                                                                 */

#define TCP_MESSAGES 240

/* Writes the framed messages from `from` in pieces whose sizes cycle
 * through `pieces`, so that frames are split across segments and
 * several share one; reads the other end as it goes. */
static void send_framed(int from, int to, tp_capture *c, GMainContext *ctx,
                        sent_counts *sent)
{
    static const size_t pieces[] = {1, 3, 7, 1000, 2, 64, 5000, 13, 300};
    size_t cap = (size_t)TCP_MESSAGES * (PEKO_DEFAULT_SIZE + 4);
    uint8_t *stream = g_malloc(cap);
    size_t len = 0;
    for (unsigned i = 0; i < TCP_MESSAGES; i++) {
        size_t n = encode(i, false, stream + len + 4, PEKO_DEFAULT_SIZE);
        peko__put_u32(stream + len, (uint32_t)n);
        note_sent(sent, stream + len + 4, n);
        len += 4 + n;
    }
    size_t off = 0;
    for (unsigned k = 0; off < len; k++) {
        size_t n = MIN(pieces[k % G_N_ELEMENTS(pieces)], len - off);
        ssize_t w = send(from, stream + off, n, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "send: %s", g_strerror(errno));
        off += (size_t)w;
        if (k % 16 == 0)
            wait_for(c, ctx, 0, to);
    }
    g_free(stream);
}

static void tcp_round(bool connect_before_capture)
{
    uint16_t port, client_port;
    int listener = bound_socket(AF_INET, SOCK_STREAM, &port);
    cr_assert_geq(listener, 0);
    cr_assert_eq(listen(listener, 4), 0);
    int client = bound_socket(AF_INET, SOCK_STREAM, &client_port);
    cr_assert_geq(client, 0);
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    socklen_t to_len;
    struct sockaddr_storage to = loopback(AF_INET, port, &to_len);

    int server = -1;
    if (connect_before_capture) {
        cr_assert_eq(connect(client, (struct sockaddr *)&to, to_len), 0);
        server = accept(listener, NULL, NULL);
        cr_assert_geq(server, 0);
    }
    char *path = g_build_filename(tmp_dir, "tcp.pcap", NULL);
    tp_capture *c = open_or_skip(PEKO_PROTOCOL_TCP, &port, 1, path, false);
    GMainContext *ctx = g_main_context_new();
    GSource *src = tp_capture_source_new(c);
    g_source_attach(src, ctx);
    if (!connect_before_capture) {
        cr_assert_eq(connect(client, (struct sockaddr *)&to, to_len), 0);
        server = accept(listener, NULL, NULL);
        cr_assert_geq(server, 0);
    }

    sent_counts sent = {0};
    send_framed(client, server, c, ctx, &sent);
    tp_capture_stats st = wait_for(c, ctx, sent.total, server);
    assert_counts(&st, &sent);
    cr_assert_eq(st.packets[0], 0);
    cr_assert_eq(st.tcp_gaps, 0);
    cr_assert_eq(st.tcp_bad_frames, 0);
    cr_assert_eq(st.cut, 0);

    close(client);
    g_source_destroy(src);
    g_source_unref(src);
    GError *error = NULL;
    cr_assert(tp_capture_close(c, &st, &error), "%s",
              error ? error->message : "");
    assert_counts(&st, &sent);
    cr_assert_eq(st.kernel_dropped, 0);
    cr_assert_gt(st.frames, 0);
    cr_assert_eq(st.written, st.frames);
    cr_assert_eq(records_in(path), st.frames);

    g_main_context_unref(ctx);
    g_free(path);
    close(server);
    close(listener);
}

Test(capture, tcp_counts_equal_what_was_sent_with_frames_split, .timeout = 60)
{
    tcp_round(false);
}

Test(capture, tcp_connection_opened_before_the_capture_is_followed,
     .timeout = 60)
{
    tcp_round(true);
}

/* ------------------------------------------------------------------ */
/* A cluster on the socket transport: the capture against the engines.  */

#define CLUSTER_NODES 16

static void engines_sent(peko_transport **tp, size_t n, sent_counts *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        peko_stats st;
        peko_nodelist_stats(peko_transport_nodelist(tp[i]), &st);
        for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++) {
            out->packets[t] += st.sent[t];
            out->bytes[t] += st.sent_bytes[t];
            out->total += st.sent[t];
        }
    }
}

/* Runs ctx until the engines have sent nothing for 300 ms and 150 passes
 * of the loop (at most 10 s); their counts in *sent. Counting passes as
 * well as time keeps a machine too busy to run the loop for 300 ms from
 * passing for a quiet cluster. */
static void run_until_quiet(GMainContext *ctx, peko_transport **tp,
                            sent_counts *sent)
{
    uint64_t before = UINT64_MAX;
    int64_t quiet_since = g_get_monotonic_time();
    int64_t deadline = quiet_since + 10 * G_USEC_PER_SEC;
    unsigned quiet_passes = 0;
    for (;;) {
        while (g_main_context_iteration(ctx, FALSE))
            ;
        engines_sent(tp, CLUSTER_NODES, sent);
        int64_t now = g_get_monotonic_time();
        if (sent->total != before) {
            before = sent->total;
            quiet_since = now;
            quiet_passes = 0;
        } else {
            quiet_passes++;
        }
        if ((now - quiet_since > 300 * 1000 && quiet_passes >= 150) ||
            now > deadline)
            return;
        g_usleep(2000);
    }
}

static void cluster_round(peko_protocol protocol)
{
    /* A cycle far longer than the test: after the joins' first cycle and
     * the rumors they start, and a publish, the cluster falls silent, so
     * every message the engines counted has left the transports. */
    peko_config config = {0};
    config.protocol = protocol;
    config.cycle_us = 3600 * (int64_t)G_USEC_PER_SEC;
    GMainContext *ctx = g_main_context_new();
    peko_transport *tp[CLUSTER_NODES];
    uint16_t ports[CLUSTER_NODES];
    for (size_t i = 0; i < CLUSTER_NODES; i++) {
        peko_transport_options opts;
        peko_transport_options_init(&opts);
        char name[16];
        g_snprintf(name, sizeof name, "node-%zu", i);
        opts.config = &config;
        opts.local = (peko_node){.addr = "127.0.0.1", .port = 0,
                                 .name = name, .private_data = "data"};
        opts.context = ctx;
        opts.seeded = true;
        opts.seed = 77 + i;
        opts.print_rate = -1;
        GError *error = NULL;
        tp[i] = peko_transport_new(&opts, &error);
        cr_assert_not_null(tp[i], "%s", error ? error->message : "");
        ports[i] = peko_transport_local_addr(tp[i])->port;
    }
    char *path = g_build_filename(tmp_dir, "cluster.pcap", NULL);
    tp_capture *c = open_or_skip(protocol, ports, CLUSTER_NODES, path,
                                   false);
    GSource *src = tp_capture_source_new(c);
    g_source_attach(src, ctx);

    for (size_t i = 0; i < CLUSTER_NODES; i++) {
        peko_nodelist *nl = peko_transport_nodelist(tp[i]);
        if (i > 0)
            cr_assert_eq(peko_nodelist_set(nl, &(peko_node){
                             .addr = "127.0.0.1", .port = ports[0],
                             .name = "node-0"}), 0);
        cr_assert_eq(peko_nodelist_join(nl), 0);
    }
    sent_counts sent;
    run_until_quiet(ctx, tp, &sent);
    /* Now that the nodes know each other, a publish spreads by rumor. */
    static const char meta[] = "captured metadata";
    cr_assert_eq(peko_nodelist_publish(peko_transport_nodelist(tp[3]),
                                       (const uint8_t *)meta,
                                       sizeof meta - 1), 0);
    run_until_quiet(ctx, tp, &sent);
    cr_assert_gt(sent.packets[PEKO_MSG_HEARTBEAT], 0);
    cr_assert_gt(sent.packets[PEKO_MSG_METADATA], 0);
    cr_assert_gt(sent.packets[PEKO_MSG_SWAP_REQUEST], 0);

    for (size_t i = 0; i < CLUSTER_NODES; i++) {
        peko_transport_counters tc;
        peko_transport_stats(tp[i], &tc);
        cr_assert_eq(tc.send_errors + tc.tcp_send_dropped, 0,
                     "node %zu dropped messages on send", i);
    }
    g_source_destroy(src);
    g_source_unref(src);
    tp_capture_stats st;
    GError *error = NULL;
    cr_assert(tp_capture_close(c, &st, &error), "%s",
              error ? error->message : "");
    cr_assert_eq(st.kernel_dropped, 0);
    cr_assert_eq(st.tcp_gaps, 0);
    cr_assert_eq(st.packets[0], 0);
    assert_counts(&st, &sent);
    cr_assert_eq(records_in(path), st.written);

    for (size_t i = 0; i < CLUSTER_NODES; i++)
        peko_transport_free(tp[i]);
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
    g_main_context_unref(ctx);
    g_free(path);
}

Test(capture, udp_cluster_counts_equal_the_engines_sent_counters,
     .timeout = 30)
{
    cluster_round(PEKO_PROTOCOL_UDP);
}

Test(capture, tcp_cluster_counts_equal_the_engines_sent_counters,
     .timeout = 30)
{
    cluster_round(PEKO_PROTOCOL_TCP);
}

/* ------------------------------------------------------------------ */
/* Permission.                                                          */

Test(capture, without_cap_net_raw_the_error_says_so)
{
    /* Criterion runs each test in its own process: drop every
     * capability from this one. */
    struct __user_cap_header_struct hdr = {
        .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0)
        cr_skip_test("capset: %s", g_strerror(errno));
    const uint16_t port = 9;
    tp_capture_options o;
    tp_capture_options_init(&o);
    o.ports = &port;
    o.port_count = 1;
    GError *error = NULL;
    tp_capture *c = tp_capture_open(&o, &error);
    cr_assert_null(c);
    cr_assert(g_error_matches(error, TP_CAPTURE_ERROR,
                              TP_CAPTURE_ERROR_PERMISSION),
              "%s", error->message);
    cr_assert(strstr(error->message, "CAP_NET_RAW") != NULL, "%s",
              error->message);
    g_clear_error(&error);
}
