/* test-transport.c: the socket transport on real loopback sockets.
 *
 * Clusters of nodes in one process, on one GMainContext, on 127.0.0.1
 * (or ::1) with ports the kernel picks (bind port 0, read back). Cycles of
 * 100-200 ms keep every test within seconds. Every loop that sends is
 * bounded in count and time. Figures (convergence times, flood counts)
 * go to stderr, which the test log keeps.
 *
 * A busy or slow machine must not fail a test: a test waits for what it
 * checks (run_until with a predicate) rather than for a fixed time, its
 * time limits only end a test that hangs and are many times what an idle
 * machine needs, and no assertion bounds how long anything took from
 * above (lower bounds, such as a timeout not firing early, hold under
 * any load). How fast things are is for the benchmarks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "peko-transport.h"

#define MS 1000LL
#define SEC 1000000LL
/* How long a test waits for a whole cluster to do something before it
 * gives up: a dozen times what a busy 2-core machine takes. */
#define CLUSTER_PATIENCE_US (60 * SEC)

/* The clock skew test hook (options version 3, docs/fleet.md): the
 * node's real-time clock reads the skew ahead, beyond a day is refused,
 * and a version 2 caller's garbage there is ignored. */
Test(delay, wall_clock_skew_is_applied_and_bounded)
{
    peko_transport_options opts;
    peko_transport_options_init(&opts);
    opts.local = (peko_node){.addr = "127.0.0.1", .port = 0};
    peko_config config = {.listen_addr = "127.0.0.1"};
    opts.config = &config;
    opts.wall_skew_us = 5 * G_USEC_PER_SEC;
    GError *error = NULL;
    peko_transport *tp = peko_transport_new(&opts, &error);
    cr_assert_not_null(tp, "%s", error ? error->message : "");
    int64_t before = g_get_real_time();
    int64_t wall = peko_transport_wall_us(tp);
    int64_t after = g_get_real_time();
    cr_assert(wall - 5 * G_USEC_PER_SEC >= before &&
                  wall - 5 * G_USEC_PER_SEC <= after,
              "wall %" G_GINT64_FORMAT " not 5 s ahead of [%" G_GINT64_FORMAT
              ", %" G_GINT64_FORMAT "]",
              wall, before, after);
    peko_transport_free(tp);

    opts.wall_skew_us = -(G_GINT64_CONSTANT(86400) * G_USEC_PER_SEC) - 1;
    cr_assert_null(peko_transport_new(&opts, &error));
    cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_INVALID);
    cr_assert(strstr(error->message, "wall_skew_us") != NULL, "%s",
              error->message);
    g_clear_error(&error);

    opts.version = 2;
    tp = peko_transport_new(&opts, &error);
    cr_assert_not_null(tp, "%s", error ? error->message : "");
    before = g_get_real_time();
    wall = peko_transport_wall_us(tp);
    after = g_get_real_time();
    cr_assert(wall >= before && wall <= after);
    peko_transport_free(tp);
    GMainContext *ctx = g_main_context_default();
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
}

/* ------------------------------------------------------------------ */
/* Running the loop.                                                    */

typedef bool (*predicate)(void *user);

static gboolean tick(gpointer unused)
{
    return G_SOURCE_CONTINUE;
}

/* Iterates ctx until pred(user) holds or timeout_us passes. Returns the
 * time it took, or -1 on timeout. */
static int64_t run_until(GMainContext *ctx, predicate pred, void *user,
                         int64_t timeout_us)
{
    GSource *wake = g_timeout_source_new(5);
    g_source_set_callback(wake, tick, NULL, NULL);
    g_source_attach(wake, ctx);
    int64_t start = g_get_monotonic_time();
    int64_t took = -1;
    for (;;) {
        if (pred == NULL || pred(user)) {
            took = g_get_monotonic_time() - start;
            if (pred != NULL)
                break;
        }
        if (g_get_monotonic_time() - start >= timeout_us)
            break;
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(wake);
    g_source_unref(wake);
    return pred == NULL ? timeout_us : took;
}

static void run_for(GMainContext *ctx, int64_t duration_us)
{
    run_until(ctx, NULL, NULL, duration_us);
}

/* ------------------------------------------------------------------ */
/* A cluster of transports.                                             */

typedef struct cluster {
    size_t n;
    GMainContext *ctx;
    peko_transport **tp;
    peko_addr *addr;
    peko_config config;
    bool *excluded;  /* nodes the others should not list */
} cluster;

static peko_transport *make_node(GMainContext *ctx, const peko_config *config,
                                 const char *host, const char *name,
                                 uint64_t seed,
                                 peko_transport_filter *filter,
                                 const peko_transport_options *base)
{
    peko_transport_options opts;
    if (base)
        opts = *base;
    else
        peko_transport_options_init(&opts);
    opts.config = config;
    opts.local = (peko_node){.addr = host, .port = 0, .name = name,
                             .private_data = "data"};
    opts.context = ctx;
    opts.seeded = true;
    opts.seed = seed;
    opts.filter = filter;
    GError *error = NULL;
    peko_transport *tp = peko_transport_new(&opts, &error);
    cr_assert_not_null(tp, "peko_transport_new: %s",
                       error ? error->message : "?");
    return tp;
}

static cluster *cluster_new(size_t n, peko_protocol protocol,
                            int64_t cycle_us, int64_t timeout_us,
                            const char *host, const char *key,
                            peko_transport_filter *filter,
                            const peko_transport_options *base)
{
    cluster *c = g_new0(cluster, 1);
    c->n = n;
    c->ctx = g_main_context_new();
    c->tp = g_new0(peko_transport *, n);
    c->addr = g_new0(peko_addr, n);
    c->excluded = g_new0(bool, n);
    c->config.protocol = protocol;
    c->config.cycle_us = cycle_us;
    c->config.timeout_us = timeout_us;
    c->config.secret_key = key;
    c->config.listen_addr = host;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        g_snprintf(name, sizeof name, "node-%zu", i);
        c->tp[i] = make_node(c->ctx, &c->config, host, name, 1000 + i,
                             filter, base);
        c->addr[i] = *peko_transport_local_addr(c->tp[i]);
    }
    return c;
}

/* Every node learns node 0 (pekonode's Set), then joins. */
static void cluster_join(cluster *c)
{
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(&c->addr[0], host);
    for (size_t i = 0; i < c->n; i++) {
        peko_nodelist *nl = peko_transport_nodelist(c->tp[i]);
        if (i > 0)
            cr_assert_eq(peko_nodelist_set(nl, &(peko_node){
                                                   .addr = host,
                                                   .port = c->addr[0].port,
                                                   .name = "node-0"}),
                         0);
        cr_assert_eq(peko_nodelist_join(nl), 0);
    }
}

static void cluster_free(cluster *c)
{
    for (size_t i = 0; i < c->n; i++)
        peko_transport_free(c->tp[i]);
    /* Nothing of ours may be left on the context. */
    while (g_main_context_pending(c->ctx))
        g_main_context_iteration(c->ctx, FALSE);
    g_main_context_unref(c->ctx);
    g_free(c->excluded);
    g_free(c->addr);
    g_free(c->tp);
    g_free(c);
}

/* Node i lists exactly the nodes not excluded (itself included). */
static bool node_complete(cluster *c, size_t i)
{
    peko_nodelist *nl = peko_transport_nodelist(c->tp[i]);
    size_t expected = 0;
    for (size_t j = 0; j < c->n; j++) {
        bool out = c->excluded[j] && j != i;
        if (!out)
            expected++;
        if (peko_nodelist_contains(nl, &c->addr[j]) == out)
            return false;
    }
    return peko_nodelist_count(nl) == expected;
}

static bool converged(void *user)
{
    cluster *c = user;
    for (size_t i = 0; i < c->n; i++)
        if (!c->excluded[i] && !node_complete(c, i))
            return false;
    return true;
}

typedef struct meta_wait {
    cluster *c;
    const char *data;
} meta_wait;

static bool everyone_has_metadata(void *user)
{
    meta_wait *w = user;
    size_t want = strlen(w->data);
    for (size_t i = 0; i < w->c->n; i++) {
        size_t n;
        const uint8_t *m =
            peko_nodelist_read(peko_transport_nodelist(w->c->tp[i]), &n);
        if (m == NULL || n != want || memcmp(m, w->data, n) != 0)
            return false;
    }
    return true;
}

static void count_heartbeats_created(void *user, const peko_rumor *rumor)
{
    if (rumor->kind == PEKO_MSG_HEARTBEAT)
        (*(uint64_t *)user)++;
}

/* A counter that must pass a value. */
typedef struct count_wait {
    const uint64_t *count;
    uint64_t above;
} count_wait;

static bool count_above(void *user)
{
    count_wait *w = user;
    return *w->count > w->above;
}

typedef struct swap_wait {
    peko_nodelist *nl;
    uint64_t above; /* swap responses received so far */
} swap_wait;

static bool swap_response_received(void *user)
{
    swap_wait *w = user;
    peko_stats s;
    peko_nodelist_stats(w->nl, &s);
    return s.received[PEKO_MSG_SWAP_RESPONSE] > w->above;
}

/* Converges, spreads a publish, expires a stopped node: the three things
 * a real cluster must do, timed. */
static void cluster_lifecycle(peko_protocol protocol, size_t n,
                              int64_t cycle_us,
                              const peko_transport_options *base)
{
    const char *proto = protocol == PEKO_PROTOCOL_TCP ? "TCP" : "UDP";
    int64_t timeout_us = 5 * cycle_us;
    cluster *c = cluster_new(n, protocol, cycle_us, timeout_us, "127.0.0.1",
                             NULL, NULL, base);
    cluster_join(c);

    int64_t t = run_until(c->ctx, converged, c, CLUSTER_PATIENCE_US);
    cr_assert_geq(t, 0, "%s: %zu nodes did not converge", proto, n);
    fprintf(stderr, "%s %zu nodes, cycle %lld ms: every list complete after"
                    " %.0f ms\n",
            proto, n, (long long)(cycle_us / MS), (double)t / MS);

    meta_wait w = {c, "cluster config v1"};
    cr_assert_eq(peko_nodelist_publish(peko_transport_nodelist(c->tp[n / 2]),
                                       (const uint8_t *)w.data,
                                       strlen(w.data)),
                 0);
    t = run_until(c->ctx, everyone_has_metadata, &w, CLUSTER_PATIENCE_US);
    cr_assert_geq(t, 0, "%s: the publish did not reach every node", proto);
    fprintf(stderr, "%s %zu nodes: a publish reached every node in %.0f ms\n",
            proto, n, (double)t / MS);

    /* The node stops right after a heartbeat of its own that comes after
     * `start`: its last refresh anywhere is after `start`, so however
     * late the loop runs, no list may drop it before start + Timeout. */
    size_t stopped = 5;
    peko_nodelist *stopped_nl = peko_transport_nodelist(c->tp[stopped]);
    uint64_t beats = 0;
    peko_observer beat_obs = {.version = PEKO_OBSERVER_VERSION,
                              .rumor_created = count_heartbeats_created};
    peko_nodelist_set_observer(stopped_nl, &beat_obs, &beats);
    int64_t start = g_get_monotonic_time();
    cr_assert_geq(run_until(c->ctx, count_above, &(count_wait){&beats, 0},
                            10 * SEC),
                  0, "%s: node %zu sent no heartbeat", proto, stopped);
    peko_nodelist_stop(stopped_nl);
    peko_nodelist_set_observer(stopped_nl, NULL, NULL);
    peko_stats at_stop;
    peko_nodelist_stats(stopped_nl, &at_stop);
    c->excluded[stopped] = true;
    t = run_until(c->ctx, converged, c, CLUSTER_PATIENCE_US);
    cr_assert_geq(t, 0, "%s: the stopped node did not expire", proto);
    int64_t since_beat = g_get_monotonic_time() - start;
    fprintf(stderr, "%s %zu nodes: a stopped node left every list %.0f ms"
                    " after its last heartbeat (timeout %lld ms)\n",
            proto, n, (double)since_beat / MS, (long long)(timeout_us / MS));
    cr_assert_geq(since_beat, timeout_us,
                  "expired before its timeout: %lld us after its last"
                  " heartbeat", (long long)since_beat);
    /* Stopped, the node still swaps and hears the answers while the
     * others drop it (a Timeout at least: several of its cycles). */
    swap_wait sw = {stopped_nl, at_stop.received[PEKO_MSG_SWAP_RESPONSE]};
    cr_assert_geq(run_until(c->ctx, swap_response_received, &sw, 10 * SEC), 0,
                  "%s: the stopped node heard no swap response", proto);

    peko_transport_counters k;
    uint64_t sent = 0, received = 0, errors = 0, oversize = 0;
    for (size_t i = 0; i < n; i++) {
        peko_transport_stats(c->tp[i], &k);
        sent += k.sent;
        received += k.received;
        errors += k.read_errors;
        oversize += k.oversize;
        peko_stats s;
        peko_nodelist_stats(peko_transport_nodelist(c->tp[i]), &s);
        for (int r = 1; r < PEKO_REJECT_COUNT; r++)
            cr_assert_eq(s.rejected[r], 0, "node %zu rejected %s", i,
                         peko_reject_name((peko_reject)r));
    }
    cr_assert_eq(errors, 0);
    cr_assert_eq(oversize, 0);
    fprintf(stderr, "%s %zu nodes: %llu messages sent, %llu received\n",
            proto, n, (unsigned long long)sent,
            (unsigned long long)received);
    cluster_free(c);
}

/* 64 nodes on one loop: every heartbeat is a rumor that reaches all 64,
 * some 25,000 messages a second at a 500 ms cycle. A shorter cycle
 * makes the cluster compete for the CPU with whatever else the machine
 * runs, and an overloaded loop is late enough to expire live nodes. */
Test(transport, udp_cluster_of_64_converges_spreads_and_expires,
     .timeout = 300)
{
    cluster_lifecycle(PEKO_PROTOCOL_UDP, 64, 500 * MS, NULL);
}

Test(transport, tcp_cluster_of_64_converges_spreads_and_expires,
     .timeout = 300)
{
    cluster_lifecycle(PEKO_PROTOCOL_TCP, 64, 500 * MS, NULL);
}

Test(transport, tcp_cluster_with_a_small_pool_evicts_and_still_converges,
     .timeout = 300)
{
    peko_transport_options base;
    peko_transport_options_init(&base);
    base.tcp_pool = 4;
    cluster_lifecycle(PEKO_PROTOCOL_TCP, 16, 100 * MS, &base);
}

Test(transport, ipv6_cluster_converges, .timeout = 30)
{
    /* Skipped where the loopback has no IPv6. */
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
                                .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = fd >= 0 &&
                   bind(fd, (struct sockaddr *)&sin6, sizeof sin6) == 0;
    if (fd >= 0)
        close(fd);
    if (!have_v6)
        cr_skip_test("no IPv6 loopback");
    for (int p = 0; p < 2; p++) {
        cluster *c = cluster_new(6, p ? PEKO_PROTOCOL_TCP : PEKO_PROTOCOL_UDP,
                                 100 * MS, 0, "::1", "v6-key", NULL, NULL);
        cr_assert_eq(c->addr[0].family, PEKO_AF_INET6);
        cluster_join(c);
        cr_assert_geq(run_until(c->ctx, converged, c, 10 * SEC), 0);
        cluster_free(c);
    }
}

/* ------------------------------------------------------------------ */
/* Creation errors.                                                     */

Test(transport, bad_options_are_refused_with_a_message)
{
    peko_transport_options opts;
    peko_transport_options_init(&opts);
    GError *error = NULL;

    opts.local = (peko_node){.addr = "not-an-ip", .port = 0};
    cr_assert_null(peko_transport_new(&opts, &error));
    cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_INVALID);
    g_clear_error(&error);

    opts.local = (peko_node){.addr = "::1", .port = 0};
    peko_config v4 = {.listen_addr = "127.0.0.1"};
    opts.config = &v4;
    cr_assert_null(peko_transport_new(&opts, &error));
    cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_INVALID);
    g_clear_error(&error);

    peko_config bad = {.amount = -1};
    opts.config = &bad;
    opts.local = (peko_node){.addr = "127.0.0.1", .port = 0};
    cr_assert_null(peko_transport_new(&opts, &error));
    cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_INVALID);
    g_clear_error(&error);

    opts.config = NULL;
    opts.version = 99;
    cr_assert_null(peko_transport_new(&opts, &error));
    cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_INVALID);
    g_clear_error(&error);
}

Test(transport, a_port_in_use_is_a_socket_error)
{
    GMainContext *ctx = g_main_context_new();
    for (int p = 0; p < 2; p++) {
        peko_config config = {.listen_addr = "127.0.0.1",
                              .protocol = p ? PEKO_PROTOCOL_TCP
                                            : PEKO_PROTOCOL_UDP};
        peko_transport *a = make_node(ctx, &config, "127.0.0.1", "a", 1,
                                      NULL, NULL);
        peko_transport_options opts;
        peko_transport_options_init(&opts);
        opts.config = &config;
        opts.context = ctx;
        opts.local = (peko_node){.addr = "127.0.0.1",
                                 .port = peko_transport_local_addr(a)->port};
        GError *error = NULL;
        cr_assert_null(peko_transport_new(&opts, &error));
        cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_SOCKET);
        cr_assert(strstr(error->message, "bind") != NULL, "%s",
                  error->message);
        g_clear_error(&error);
        peko_transport_free(a);
    }
    g_main_context_unref(ctx);
}

/* ------------------------------------------------------------------ */
/* TCP: framing and timeouts.                                           */

static int tcp_connect_to(const peko_addr *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(addr->port)};
    memcpy(&sin.sin_addr, addr->ip, 4);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0,
                 "connect: %s", strerror(errno));
    return fd;
}

/* True once the server has closed fd (EOF or reset), without blocking. */
static bool peer_closed(int fd)
{
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

typedef struct tcp_fixture {
    GMainContext *ctx;
    peko_transport *tp;
    peko_config config;
} tcp_fixture;

static void tcp_fixture_init(tcp_fixture *f, int64_t read_timeout_us,
                             int max_accepted)
{
    f->ctx = g_main_context_new();
    f->config = (peko_config){.protocol = PEKO_PROTOCOL_TCP,
                              .listen_addr = "127.0.0.1",
                              .cycle_us = 100 * MS,
                              .size = 1024};
    peko_transport_options base;
    peko_transport_options_init(&base);
    base.tcp_read_timeout_us = read_timeout_us;
    base.tcp_max_accepted = max_accepted;
    f->tp = make_node(f->ctx, &f->config, "127.0.0.1", "server", 7, NULL,
                      &base);
}

static void tcp_fixture_clear(tcp_fixture *f)
{
    peko_transport_free(f->tp);
    g_main_context_unref(f->ctx);
}

typedef struct closed_wait {
    int *fds;
    size_t n;
} closed_wait;

static bool all_closed(void *user)
{
    closed_wait *w = user;
    for (size_t i = 0; i < w->n; i++)
        if (!peer_closed(w->fds[i]))
            return false;
    return true;
}

static bool accepted_four(void *user)
{
    peko_transport_counters k;
    peko_transport_stats(user, &k);
    return k.tcp_accepted == 4;
}

Test(transport, tcp_silent_and_stalled_peers_are_closed_after_the_timeout,
     .timeout = 60)
{
    tcp_fixture f;
    int64_t timeout_us = 200 * MS;
    tcp_fixture_init(&f, timeout_us, 0);
    const peko_addr *addr = peko_transport_local_addr(f.tp);

    /* Silent; two bytes of a length prefix; a whole prefix and part of
     * the body; one byte every 30 ms (a drip never extends the
     * deadline). */
    int fds[4];
    int64_t start = g_get_monotonic_time();
    for (int i = 0; i < 4; i++)
        fds[i] = tcp_connect_to(addr);
    cr_assert_eq(send(fds[1], "\0\0", 2, 0), 2);
    cr_assert_eq(send(fds[2], "\0\0\0\x40PK\x01", 7, 0), 7);
    cr_assert_eq(send(fds[3], "\0\0\0\x40", 4, 0), 4);
    peko_transport_counters k;
    cr_assert_geq(run_until(f.ctx, accepted_four, f.tp, 10 * SEC), 0);
    peko_transport_stats(f.tp, &k);
    cr_assert_eq(k.tcp_open_in, 4);

    int dripped = 0;
    while (!peer_closed(fds[3]) &&
           g_get_monotonic_time() - start < 10 * SEC) {
        if (send(fds[3], "x", 1, MSG_NOSIGNAL) == 1)
            dripped++;
        run_for(f.ctx, 30 * MS);
    }
    closed_wait w = {fds, 4};
    cr_assert_geq(run_until(f.ctx, all_closed, &w, 10 * SEC), 0,
                  "a connection was never closed");
    int64_t took = g_get_monotonic_time() - start;
    cr_assert_geq(took, timeout_us);
    peko_transport_stats(f.tp, &k);
    cr_assert_eq(k.tcp_timeouts, 4);
    cr_assert_eq(k.tcp_open_in, 0);
    cr_assert_eq(k.received, 0);
    fprintf(stderr, "TCP: 4 silent or stalled peers closed after %.0f ms"
                    " (timeout %lld ms; the drip sent %d bytes)\n",
            (double)took / MS, (long long)(timeout_us / MS), dripped);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    tcp_fixture_clear(&f);
}

static bool no_connection_open(void *user)
{
    peko_transport_counters k;
    peko_transport_stats(user, &k);
    return k.tcp_accepted == 2 && k.tcp_open_in == 0;
}

Test(transport, tcp_oversize_length_prefix_closes_and_counts, .timeout = 60)
{
    tcp_fixture f;
    tcp_fixture_init(&f, 5 * SEC, 0);
    const peko_addr *addr = peko_transport_local_addr(f.tp);

    /* A small garbage frame first: delivered, and rejected by the
     * engine; then a length of Size + 1: the connection is closed. */
    int first = tcp_connect_to(addr);
    int fd = first;
    const uint8_t garbage[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    cr_assert_eq(send(fd, garbage, sizeof garbage, 0), (ssize_t)sizeof garbage);
    uint32_t len = htonl((uint32_t)f.config.size + 1);
    cr_assert_eq(send(fd, &len, 4, 0), 4);
    closed_wait w = {&first, 1};
    cr_assert_geq(run_until(f.ctx, all_closed, &w, 2 * SEC), 0);

    peko_transport_counters k;
    peko_transport_stats(f.tp, &k);
    cr_assert_eq(k.oversize, 1);
    cr_assert_eq(k.received, 1);
    cr_assert_eq(k.tcp_open_in, 0);
    peko_stats s;
    peko_nodelist_stats(peko_transport_nodelist(f.tp), &s);
    cr_assert_eq(s.rejected[PEKO_REJECT_TRUNCATED], 1);

    /* The largest valid length is accepted as a frame header, and a peer
     * that closes in the middle of that frame is counted. */
    fd = tcp_connect_to(addr);
    len = htonl((uint32_t)f.config.size);
    cr_assert_eq(send(fd, &len, 4, 0), 4);
    cr_assert_eq(send(fd, "PK", 2, 0), 2);
    run_for(f.ctx, 50 * MS);
    close(fd);
    cr_assert_geq(run_until(f.ctx, no_connection_open, f.tp, 10 * SEC), 0);
    peko_transport_stats(f.tp, &k);
    cr_assert_eq(k.oversize, 1);
    cr_assert_eq(k.tcp_truncated, 1);
    cr_assert_eq(k.tcp_open_in, 0);
    close(first);
    tcp_fixture_clear(&f);
}

static bool five_handled(void *user)
{
    peko_transport_counters k;
    peko_transport_stats(user, &k);
    return k.tcp_accepted + k.tcp_accept_refused == 5;
}

Test(transport, tcp_accepted_connections_are_bounded, .timeout = 60)
{
    tcp_fixture f;
    tcp_fixture_init(&f, 5 * SEC, 2);
    const peko_addr *addr = peko_transport_local_addr(f.tp);
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = tcp_connect_to(addr);
        run_for(f.ctx, 10 * MS);
    }
    /* The kernel queues connections in order: the first two are taken. */
    cr_assert_geq(run_until(f.ctx, five_handled, f.tp, 10 * SEC), 0);
    closed_wait w = {fds + 2, 3};
    cr_assert_geq(run_until(f.ctx, all_closed, &w, 10 * SEC), 0);
    peko_transport_counters k;
    peko_transport_stats(f.tp, &k);
    cr_assert_eq(k.tcp_accepted, 2);
    cr_assert_eq(k.tcp_accept_refused, 3);
    cr_assert_eq(k.tcp_open_in, 2);
    for (int i = 2; i < 5; i++)
        cr_assert(peer_closed(fds[i]));
    cr_assert_not(peer_closed(fds[0]));
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    tcp_fixture_clear(&f);
}

/* The engine sees a TCP frame as coming from the connection's address,
 * not the sender's listen address. */
typedef struct from_log {
    GArray *ports;
} from_log;

static void on_received(void *user, peko_msg_type type,
                        const peko_addr *from, size_t n)
{
    from_log *log = user;
    g_array_append_val(log->ports, from->port);
}

typedef struct frames_wait {
    from_log *log;
    peko_transport *sender;
} frames_wait;

/* The sender sent more than two messages and the receiver heard some. */
static bool three_frames_heard(void *user)
{
    frames_wait *w = user;
    peko_transport_counters k;
    peko_transport_stats(w->sender, &k);
    return k.sent > 2 && w->log->ports->len > 0;
}

Test(transport, tcp_frames_come_from_the_connection_address, .timeout = 60)
{
    GMainContext *ctx = g_main_context_new();
    peko_config config = {.protocol = PEKO_PROTOCOL_TCP,
                          .listen_addr = "127.0.0.1",
                          .cycle_us = 50 * MS};
    from_log log = {g_array_new(FALSE, FALSE, sizeof(uint16_t))};
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .packet_received = on_received};
    peko_transport_options base;
    peko_transport_options_init(&base);
    base.observer = &obs;
    base.observer_user = &log;
    peko_transport *a = make_node(ctx, &config, "127.0.0.1", "a", 1, NULL,
                                  &base);
    peko_transport_options quiet;
    peko_transport_options_init(&quiet);
    quiet.tcp_idle_timeout_us = 10 * SEC; /* one connection, however slow
                                           * the machine */
    peko_transport *b = make_node(ctx, &config, "127.0.0.1", "b", 2, NULL,
                                  &quiet);
    uint16_t b_port = peko_transport_local_addr(b)->port;
    peko_nodelist_set(peko_transport_nodelist(b),
                      &(peko_node){.addr = "127.0.0.1",
                                   .port = peko_transport_local_addr(a)->port});
    peko_nodelist_join(peko_transport_nodelist(b));
    frames_wait fw = {&log, b};
    cr_assert_geq(run_until(ctx, three_frames_heard, &fw, 10 * SEC), 0);
    cr_assert_gt(log.ports->len, 0);
    for (guint i = 0; i < log.ports->len; i++)
        cr_assert_neq(g_array_index(log.ports, uint16_t, i), b_port);
    /* ... and over one reused connection. */
    peko_transport_counters k;
    peko_transport_stats(b, &k);
    cr_assert_eq(k.tcp_connects, 1);
    cr_assert_gt(k.sent, 2);
    peko_transport_free(a);
    peko_transport_free(b);
    g_array_free(log.ports, TRUE);
    g_main_context_unref(ctx);
}

/* ------------------------------------------------------------------ */
/* The flood.                                                           */

/* An in-memory environment that only captures what an engine sends:
 * a source of real packets signed with whatever key we like. */
typedef struct capture_env {
    peko_env env;
    int64_t now_us;
    uint64_t rng;
    GPtrArray *packets; /* of GBytes */
} capture_env;

static int64_t cap_now(peko_env *env)
{
    return ((capture_env *)env->user)->now_us;
}

static int cap_arm(peko_env *env, peko_timer t, int64_t deadline_us)
{
    return 0;
}

static void cap_cancel(peko_env *env, peko_timer t)
{
}

static int cap_send(peko_env *env, const peko_addr *to, const uint8_t *b,
                    size_t n)
{
    capture_env *c = env->user;
    g_ptr_array_add(c->packets, g_bytes_new(b, n));
    return 0;
}

static uint64_t cap_random(peko_env *env)
{
    capture_env *c = env->user;
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* At least `count` real packets (heartbeats and swap requests) of a node
 * at 127.0.0.1:port signed with `key`, addressed to `to`. */
static GPtrArray *capture_packets(const char *key, uint16_t port,
                                  const peko_addr *to, size_t count)
{
    capture_env c = {.packets = g_ptr_array_new_with_free_func(
                         (GDestroyNotify)g_bytes_unref),
                     .rng = port};
    c.env = (peko_env){.version = PEKO_ENV_VERSION,
                       .user = &c,
                       .now_us = cap_now,
                       .timer_arm = cap_arm,
                       .timer_cancel = cap_cancel,
                       .send = cap_send,
                       .random_u64 = cap_random};
    peko_config config = {.secret_key = key, .size = 2048};
    peko_nodelist *nl;
    cr_assert_eq(peko_nodelist_new(&config,
                                   &(peko_node){.addr = "127.0.0.1",
                                                .port = port,
                                                .name = "intruder"},
                                   &c.env, &nl),
                 0);
    char host[PEKO_HOST_STRLEN];
    peko_addr_host(to, host);
    peko_nodelist_set(nl, &(peko_node){.addr = host, .port = to->port});
    peko_nodelist_join(nl);
    while (c.packets->len < count) {
        c.now_us += 1000;
        peko_nodelist_on_timer(nl, PEKO_TIMER_CYCLE);
    }
    peko_nodelist_free(nl);
    return c.packets;
}

enum { FLOOD_GARBAGE, FLOOD_TRUNCATED, FLOOD_OVERSIZE, FLOOD_WRONG_KEY,
       FLOOD_KINDS };
static const char *const flood_kind_names[FLOOD_KINDS] = {
    "garbage", "truncated", "oversize", "wrong-key"};

typedef struct flood {
    peko_addr target;
    size_t total;           /* packets to send */
    int64_t deadline_us;    /* give up sending at this monotonic time */
    int size;               /* the target's Size */
    GPtrArray *wrong_key;   /* real packets, another cluster's key */
    GPtrArray *right_key;   /* real packets of this cluster, to truncate */
    /* Results (read after the thread is joined). */
    uint64_t sent[FLOOD_KINDS];
    uint64_t send_failed;
    int64_t started_us, finished_us;
} flood;

static gpointer flood_thread(gpointer user)
{
    flood *f = user;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(f->target.port)};
    memcpy(&sin.sin_addr, f->target.ip, 4);
    uint8_t *buf = g_malloc((size_t)f->size + 256);
    uint64_t rng = 42;
    f->started_us = g_get_monotonic_time();
    /* Bursts of 250 then 1 ms: a few hundred thousand packets a second
     * at most, so the flood is a flood but the loopback is not merely
     * the kernel's receive buffer overflowing. */
    for (size_t i = 0; i < f->total; i++) {
        if (i % 250 == 0 && i > 0) {
            if (g_get_monotonic_time() > f->deadline_us)
                break;
            g_usleep(1000);
        }
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int kind = (int)(i % FLOOD_KINDS);
        size_t n = 0;
        switch (kind) {
        case FLOOD_GARBAGE:
            n = 1 + (size_t)(rng >> 33) % 200;
            for (size_t j = 0; j < n; j++)
                buf[j] = (uint8_t)(rng >> (j % 56));
            buf[0] = (uint8_t)(buf[0] | 1); /* never 'P' (0x50) */
            break;
        case FLOOD_TRUNCATED: {
            GBytes *b = g_ptr_array_index(f->right_key,
                                          (rng >> 40) % f->right_key->len);
            size_t full;
            const uint8_t *p = g_bytes_get_data(b, &full);
            n = 12 + (size_t)(rng >> 20) % (full - 12);
            memcpy(buf, p, n);
            break;
        }
        case FLOOD_OVERSIZE:
            n = (size_t)f->size + 1 + (size_t)(rng >> 33) % 200;
            memset(buf, 0x50, n);
            break;
        case FLOOD_WRONG_KEY: {
            GBytes *b = g_ptr_array_index(f->wrong_key,
                                          (rng >> 40) % f->wrong_key->len);
            const uint8_t *p = g_bytes_get_data(b, &n);
            memcpy(buf, p, n);
            break;
        }
        }
        if (sendto(fd, buf, n, 0, (struct sockaddr *)&sin, sizeof sin) ==
            (ssize_t)n)
            f->sent[kind]++;
        else
            f->send_failed++;
    }
    f->finished_us = g_get_monotonic_time();
    g_free(buf);
    close(fd);
    return NULL;
}

/* Valid traffic at the target, counted by an observer on every node. */
typedef struct traffic {
    peko_addr target;
    uint64_t to_target;       /* sent to the target by the others */
    uint64_t accepted;        /* accepted by the target */
    uint64_t heartbeats_in;   /* heartbeats accepted by the target */
} traffic;

static void obs_sent(void *user, peko_msg_type type, const peko_addr *to,
                     size_t n)
{
    traffic *t = user;
    if (peko_addr_equal(to, &t->target))
        t->to_target++;
}

static void obs_target_received(void *user, peko_msg_type type,
                                const peko_addr *from, size_t n)
{
    traffic *t = user;
    t->accepted++;
    if (type == PEKO_MSG_HEARTBEAT)
        t->heartbeats_in++;
}

/* The kernel's drop counter of the UDP socket bound to `port`, from
 * /proc/net/udp (its last column), or -1. */
static int64_t proc_udp_drops(uint16_t port)
{
    FILE *f = fopen("/proc/net/udp", "r");
    if (f == NULL)
        return -1;
    char line[512];
    int64_t drops = -1;
    char want[16];
    g_snprintf(want, sizeof want, ":%04X ", port);
    while (fgets(line, sizeof line, f)) {
        char *local = strchr(line, ':');
        if (local == NULL || strncmp(local + 10, want, strlen(want)) != 0)
            continue;
        char *last = strrchr(g_strchomp(line), ' ');
        if (last)
            drops = g_ascii_strtoll(last + 1, NULL, 10);
    }
    fclose(f);
    return drops;
}

static bool flood_done(void *user)
{
    return g_atomic_int_get((gint *)user) != 0;
}

typedef struct flood_run {
    flood *f;
    gint done;
} flood_run;

static gpointer flood_runner(gpointer user)
{
    flood_run *r = user;
    flood_thread(r->f);
    g_atomic_int_set(&r->done, 1);
    return NULL;
}

typedef struct flood_drain {
    peko_transport *tp;       /* the target */
    uint64_t accepted_above;  /* valid packets accepted before the wait */
    uint64_t flood_sent;
    const uint64_t *to_target;
} flood_drain;

/* The target accepted a valid packet since the flood ended. */
static bool valid_packet_read(void *user)
{
    flood_drain *d = user;
    peko_stats s;
    peko_nodelist_stats(peko_transport_nodelist(d->tp), &s);
    uint64_t accepted = 0;
    for (int i = 1; i < PEKO_MSG_TYPE_COUNT; i++)
        accepted += s.received[i];
    return accepted > d->accepted_above;
}

/* Everything sent to the target is accounted for at the target. */
static bool all_arrivals_read(void *user)
{
    flood_drain *d = user;
    peko_transport_counters k;
    peko_transport_stats(d->tp, &k);
    return k.received + k.oversize + k.kernel_dropped >=
           d->flood_sent + *d->to_target;
}

Test(transport, udp_flood_is_counted_and_does_not_stop_the_cluster,
     .timeout = 90)
{
    const size_t n = 8;
    const size_t target = 3;
    const char *key = "cluster-key";
    peko_config config = {.cycle_us = 100 * MS, .timeout_us = 600 * MS,
                          .size = 2048, .secret_key = key,
                          .listen_addr = "127.0.0.1"};
    GMainContext *ctx = g_main_context_new();
    peko_transport *tp[8];
    peko_addr addr[8];
    traffic t = {0};
    peko_observer sent_obs = {.version = PEKO_OBSERVER_VERSION,
                              .packet_sent = obs_sent};
    peko_observer target_obs = {.version = PEKO_OBSERVER_VERSION,
                                .packet_received = obs_target_received};
    for (size_t i = 0; i < n; i++) {
        peko_transport_options base;
        peko_transport_options_init(&base);
        base.observer = i == target ? &target_obs : &sent_obs;
        base.observer_user = &t;
        char name[16];
        g_snprintf(name, sizeof name, "n%zu", i);
        tp[i] = make_node(ctx, &config, "127.0.0.1", name, 77 + i, NULL,
                          &base);
        addr[i] = *peko_transport_local_addr(tp[i]);
    }
    t.target = addr[target];
    cluster c = {.n = n, .ctx = ctx, .tp = tp, .addr = addr,
                 .excluded = (bool[8]){0}};
    cluster_join(&c);
    cr_assert_geq(run_until(ctx, converged, &c, 10 * SEC), 0);

    /* Baseline: one second of valid traffic. */
    uint64_t hb0 = t.heartbeats_in, acc0 = t.accepted, tt0 = t.to_target;
    run_for(ctx, 1 * SEC);
    double base_hb_rate = (double)(t.heartbeats_in - hb0);
    double base_acc_rate = (double)(t.accepted - acc0);
    double base_to_rate = (double)(t.to_target - tt0);

    flood f = {.target = addr[target],
               .total = 100000,
               .deadline_us = g_get_monotonic_time() + 20 * SEC,
               .size = config.size};
    f.wrong_key = capture_packets("another-cluster", 40000, &addr[target],
                                  64);
    f.right_key = capture_packets(key, 40001, &addr[target], 64);

    hb0 = t.heartbeats_in;
    acc0 = t.accepted;
    tt0 = t.to_target;
    int64_t lost_lists = 0, samples = 0;
    flood_run r = {&f, 0};
    GThread *thread = g_thread_new("flood", flood_runner, &r);
    int64_t start = g_get_monotonic_time();
    /* While the flood lasts, sample every 50 ms whether every node still
     * lists every other. */
    while (!flood_done(&r.done) &&
           g_get_monotonic_time() - start < 30 * SEC) {
        run_for(ctx, 50 * MS);
        samples++;
        lost_lists += !converged(&c);
    }
    g_thread_join(thread);
    double flood_s = (double)(f.finished_us - f.started_us) / 1e6;
    uint64_t hb_flood = t.heartbeats_in - hb0;
    uint64_t acc_flood = t.accepted - acc0;
    uint64_t to_flood = t.to_target - tt0;

    /* Afterwards membership is still (or again) complete everywhere. */
    int64_t reconverge = run_until(ctx, converged, &c, 10 * SEC);
    cr_assert_geq(reconverge, 0, "membership did not converge after the"
                                 " flood");
    /* Valid packets after the flood carry the kernel's final drop count
     * (SO_RXQ_OVFL): wait until one has been read. */
    flood_drain drain = {.tp = tp[target],
                         .accepted_above = t.accepted,
                         .flood_sent = f.sent[0] + f.sent[1] + f.sent[2] +
                                       f.sent[3],
                         .to_target = &t.to_target};
    cr_assert_geq(run_until(ctx, valid_packet_read, &drain, 10 * SEC), 0);

    /* Stop the others (nothing more arrives), drain the target: every
     * packet that arrived is read. */
    int64_t proc_drops = proc_udp_drops(addr[target].port);
    for (size_t i = 0; i < n; i++)
        if (i != target) {
            peko_transport_free(tp[i]);
            tp[i] = NULL;
        }
    run_until(ctx, all_arrivals_read, &drain, 10 * SEC);

    peko_transport_counters k;
    peko_transport_stats(tp[target], &k);
    peko_stats s;
    peko_nodelist_stats(peko_transport_nodelist(tp[target]), &s);
    uint64_t rejected = 0;
    for (int i = 1; i < PEKO_REJECT_COUNT; i++)
        rejected += s.rejected[i];
    uint64_t accepted = 0;
    for (int i = 1; i < PEKO_MSG_TYPE_COUNT; i++)
        accepted += s.received[i];
    uint64_t flood_sent = 0;
    for (int i = 0; i < FLOOD_KINDS; i++)
        flood_sent += f.sent[i];

    fprintf(stderr, "flood: %llu packets sent in %.2f s (%.0f/s), %llu"
                    " sendto failures:",
            (unsigned long long)flood_sent, flood_s,
            (double)flood_sent / flood_s, (unsigned long long)f.send_failed);
    for (int i = 0; i < FLOOD_KINDS; i++)
        fprintf(stderr, " %s %llu", flood_kind_names[i],
                (unsigned long long)f.sent[i]);
    fprintf(stderr, "\nflood: target rejected %llu (", (unsigned long long)rejected);
    for (int i = 1; i < PEKO_REJECT_COUNT; i++)
        if (s.rejected[i])
            fprintf(stderr, " %s %llu", peko_reject_name((peko_reject)i),
                    (unsigned long long)s.rejected[i]);
    fprintf(stderr, " ), transport dropped %llu oversize, %llu read"
                    " errors; kernel dropped %llu at the full receive buffer"
                    " (SO_RXQ_OVFL; /proc/net/udp says %lld); accepted %llu"
                    " valid; %llu wakeups hit the read bound\n",
            (unsigned long long)k.oversize,
            (unsigned long long)k.read_errors,
            (unsigned long long)k.kernel_dropped, (long long)proc_drops,
            (unsigned long long)accepted,
            (unsigned long long)k.busy_wakeups);
    fprintf(stderr, "flood: valid traffic at the target, per second before"
                    " -> during: sent to it %.0f -> %.0f, accepted %.0f ->"
                    " %.0f (heartbeats %.0f -> %.0f); lists incomplete in"
                    " %lld of %lld samples; complete again %.0f ms after\n",
            base_to_rate, (double)to_flood / flood_s, base_acc_rate,
            (double)acc_flood / flood_s, base_hb_rate,
            (double)hb_flood / flood_s, (long long)lost_lists,
            (long long)samples, (double)reconverge / MS);

    /* Every packet that arrived is accounted for exactly once: accepted
     * by the engine, rejected by it (by reason), dropped by the
     * transport, or dropped by the kernel at the full buffer. */
    cr_assert_eq(f.send_failed, 0);
    cr_assert_eq(accepted, t.accepted);
    cr_assert_eq(k.read_errors, 0);
    cr_assert_eq(k.received, accepted + rejected);
    cr_assert_eq(accepted + rejected + k.oversize + k.kernel_dropped,
                 flood_sent + t.to_target,
                 "accounted %llu != arrived %llu",
                 (unsigned long long)(accepted + rejected + k.oversize +
                                      k.kernel_dropped),
                 (unsigned long long)(flood_sent + t.to_target));
    if (proc_drops >= 0)
        cr_assert_eq((uint64_t)proc_drops, k.kernel_dropped);
    /* Only the flood is ever rejected: what the kernel did not drop of
     * it, the engine rejected or the transport dropped. */
    cr_assert_leq(rejected + k.oversize, flood_sent);
    cr_assert_geq(rejected + k.oversize + k.kernel_dropped, flood_sent);
    cr_assert_eq(s.rejected[PEKO_REJECT_BAD_MAC] > 0, true);
    cr_assert_eq(s.rejected[PEKO_REJECT_NO_MAC], 0);
    /* Valid traffic kept flowing during the flood. */
    cr_assert_gt(hb_flood, 0);

    peko_transport_free(tp[target]);
    g_ptr_array_unref(f.wrong_key);
    g_ptr_array_unref(f.right_key);
    g_main_context_unref(ctx);
}

/* ------------------------------------------------------------------ */
/* The filter.                                                          */

Test(filter, loss_rate_is_within_tolerance_and_seeded)
{
    const double rate = 0.2;
    const int draws = 100000;
    peko_transport_filter *a = peko_transport_filter_new(9);
    peko_transport_filter *b = peko_transport_filter_new(9);
    cr_assert_eq(peko_transport_filter_set_loss(a, rate), 0);
    cr_assert_eq(peko_transport_filter_set_loss(b, rate), 0);
    cr_assert_eq(peko_transport_filter_set_loss(a, 1.5), -EINVAL);
    cr_assert_eq(peko_transport_filter_set_loss(a, NAN), -EINVAL);
    peko_addr x, y, z;
    peko_addr_parse("127.0.0.1", 1000, &x);
    peko_addr_parse("127.0.0.1", 1001, &y);
    peko_addr_parse("127.0.0.1", 1002, &z);
    for (int i = 0; i < draws; i++) {
        /* b interleaves a third sender: x's verdicts must not change. */
        cr_assert_eq(peko_transport_filter_check(a, &x, &y),
                     peko_transport_filter_check(b, &x, &y));
        peko_transport_filter_check(b, &z, &y);
    }
    peko_transport_filter_counters k;
    peko_transport_filter_stats(a, &k);
    cr_assert_eq(k.lost + k.passed, (uint64_t)draws);
    cr_assert_eq(k.partitioned, 0);
    double measured = (double)k.lost / draws;
    /* 5 standard deviations of a binomial proportion. */
    double tolerance = 5 * sqrt(rate * (1 - rate) / draws);
    fprintf(stderr, "filter: loss %.4f measured over %d draws for %.2f"
                    " configured (tolerance %.4f)\n",
            measured, draws, rate, tolerance);
    cr_assert(fabs(measured - rate) < tolerance);
    peko_transport_filter_free(a);
    peko_transport_filter_free(b);
}

/* The cluster's filter has judged 1,000 messages. */
static bool filtered_enough(void *user)
{
    cluster *c = user;
    uint64_t judged = 0;
    for (size_t i = 0; i < c->n; i++) {
        peko_transport_counters k;
        peko_transport_stats(c->tp[i], &k);
        judged += k.filter_lost + k.sent;
    }
    return judged >= 1000;
}

Test(filter, loss_on_real_sockets_matches_the_rate, .timeout = 60)
{
    peko_transport_filter *filter = peko_transport_filter_new(5);
    cr_assert_eq(peko_transport_filter_set_loss(filter, 0.3), 0);
    cluster *c = cluster_new(6, PEKO_PROTOCOL_UDP, 50 * MS, 0, "127.0.0.1",
                             NULL, filter, NULL);
    cluster_join(c);
    /* About 2 s on an idle machine; a busy one takes longer. */
    cr_assert_geq(run_until(c->ctx, filtered_enough, c, 40 * SEC), 0);
    uint64_t lost = 0, sent = 0;
    for (size_t i = 0; i < c->n; i++) {
        peko_transport_counters k;
        peko_transport_stats(c->tp[i], &k);
        lost += k.filter_lost;
        sent += k.sent;
    }
    peko_transport_filter_counters fk;
    peko_transport_filter_stats(filter, &fk);
    cr_assert_eq(fk.lost, lost);
    cr_assert_eq(fk.passed, sent);
    double measured = (double)lost / (double)(lost + sent);
    double tolerance = 5 * sqrt(0.3 * 0.7 / (double)(lost + sent));
    fprintf(stderr, "filter on sockets: %llu of %llu messages lost (%.3f,"
                    " configured 0.300)\n",
            (unsigned long long)lost, (unsigned long long)(lost + sent),
            measured);
    cr_assert(fabs(measured - 0.3) < tolerance);
    cluster_free(c);
    peko_transport_filter_free(filter);
}

typedef struct pair_counts {
    peko_addr from;
    uint64_t received;
} pair_counts;

static void count_from(void *user, peko_msg_type type, const peko_addr *from,
                       size_t n)
{
    pair_counts *p = user;
    /* UDP: from is the sender's socket address, its listen address. */
    if (peko_addr_equal(from, &p->from))
        p->received++;
}

typedef struct partition_wait {
    peko_transport *a, *b;
    const pair_counts *at_a;
} partition_wait;

/* a tried to send through the cut, b sent, and a heard b. */
static bool both_tried(void *user)
{
    partition_wait *w = user;
    peko_transport_counters ka, kb;
    peko_transport_stats(w->a, &ka);
    peko_transport_stats(w->b, &kb);
    return ka.filter_partitioned > 0 && kb.sent > 0 && w->at_a->received > 0;
}

Test(filter, one_way_partition_drops_one_direction_only, .timeout = 60)
{
    GMainContext *ctx = g_main_context_new();
    peko_transport_filter *filter = peko_transport_filter_new(1);
    peko_config config = {.cycle_us = 50 * MS, .listen_addr = "127.0.0.1"};
    pair_counts at_a = {0}, at_b = {0};
    peko_observer obs = {.version = PEKO_OBSERVER_VERSION,
                         .packet_received = count_from};
    peko_transport_options oa, ob;
    peko_transport_options_init(&oa);
    oa.observer = &obs;
    oa.observer_user = &at_a;
    ob = oa;
    ob.observer_user = &at_b;
    peko_transport *a = make_node(ctx, &config, "127.0.0.1", "a", 1, filter,
                                  &oa);
    peko_transport *b = make_node(ctx, &config, "127.0.0.1", "b", 2, filter,
                                  &ob);
    peko_addr addr_a = *peko_transport_local_addr(a);
    peko_addr addr_b = *peko_transport_local_addr(b);
    at_a.from = addr_b;
    at_b.from = addr_a;

    /* a -> b cut; b -> a open. */
    int id = peko_transport_filter_partition(filter, &addr_a, 1, &addr_b, 1,
                                             true);
    cr_assert_gt(id, 0);
    cr_assert_eq(peko_transport_filter_partition(filter, &addr_a, 1, &addr_a,
                                                 1, false),
                 -EINVAL);
    peko_nodelist_set(peko_transport_nodelist(a),
                      &(peko_node){.addr = "127.0.0.1", .port = addr_b.port});
    peko_nodelist_set(peko_transport_nodelist(b),
                      &(peko_node){.addr = "127.0.0.1", .port = addr_a.port});
    peko_nodelist_join(peko_transport_nodelist(a));
    peko_nodelist_join(peko_transport_nodelist(b));
    /* At least 500 ms for a leak to show, and until both have talked. */
    run_for(ctx, 500 * MS);
    partition_wait pw = {a, b, &at_a};
    cr_assert_geq(run_until(ctx, both_tried, &pw, 10 * SEC), 0);

    peko_transport_counters ka, kb;
    peko_transport_stats(a, &ka);
    peko_transport_stats(b, &kb);
    cr_assert_eq(at_b.received, 0, "b heard a through the cut");
    cr_assert_gt(at_a.received, 0, "a did not hear b");
    cr_assert_gt(ka.filter_partitioned, 0);
    cr_assert_eq(ka.sent, 0);
    cr_assert_eq(kb.filter_partitioned, 0);
    cr_assert_gt(kb.sent, 0);
    peko_transport_filter_counters fk;
    peko_transport_filter_stats(filter, &fk);
    cr_assert_eq(fk.partitioned, ka.filter_partitioned);
    cr_assert_eq(fk.lost, 0);

    /* Healed, b hears a again. */
    cr_assert_eq(peko_transport_filter_heal(filter, id), 0);
    cr_assert_eq(peko_transport_filter_heal(filter, id), -ENOENT);
    cr_assert_geq(run_until(ctx, count_above,
                            &(count_wait){&at_b.received, 0}, 10 * SEC),
                  0, "b did not hear a after the heal");

    /* A symmetric partition cuts both ways. */
    id = peko_transport_filter_partition(filter, &addr_a, 1, &addr_b, 1,
                                         false);
    cr_assert_eq(peko_transport_filter_check(filter, &addr_b, &addr_a),
                 PEKO_TRANSPORT_PARTITIONED);
    cr_assert_eq(peko_transport_filter_check(filter, &addr_a, &addr_b),
                 PEKO_TRANSPORT_PARTITIONED);
    peko_transport_filter_heal_all(filter);
    cr_assert_eq(peko_transport_filter_check(filter, &addr_a, &addr_b),
                 PEKO_TRANSPORT_PASS);

    peko_transport_free(a);
    peko_transport_free(b);
    peko_transport_filter_free(filter);
    g_main_context_unref(ctx);
}

/* ------------------------------------------------------------------ */
/* The environment's console.                                           */

typedef struct lines {
    GPtrArray *all;
} lines;

static void keep_line(void *user, const char *line)
{
    lines *l = user;
    g_ptr_array_add(l->all, g_strdup(line));
}

static bool thirty_rejected(void *user)
{
    peko_stats s;
    peko_nodelist_stats(peko_transport_nodelist(user), &s);
    uint64_t rejected = 0;
    for (int i = 1; i < PEKO_REJECT_COUNT; i++)
        rejected += s.rejected[i];
    return rejected >= 30;
}

Test(transport, console_lines_carry_a_timestamp_and_are_rate_limited,
     .timeout = 30)
{
    GMainContext *ctx = g_main_context_new();
    lines l = {g_ptr_array_new_with_free_func(g_free)};
    peko_config config = {.is_print = true, .listen_addr = "127.0.0.1",
                          .cycle_us = 50 * MS};
    peko_transport_options base;
    peko_transport_options_init(&base);
    base.print = keep_line;
    base.print_user = &l;
    base.print_rate = 5;
    int64_t start = g_get_monotonic_time();
    peko_transport *tp = make_node(ctx, &config, "127.0.0.1", "p", 1, NULL,
                                   &base);
    peko_nodelist_join(peko_transport_nodelist(tp));
    cr_assert_geq(l.all->len, 1);
    GRegex *re = g_regex_new("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d "
                             "\\[\\[Join\\]: \\{127\\.0\\.0\\.1 \\d+ p data\\}\\]$",
                             0, 0, NULL);
    cr_assert(g_regex_match(re, g_ptr_array_index(l.all, 0), 0, NULL), "%s",
              (char *)g_ptr_array_index(l.all, 0));
    g_regex_unref(re);

    /* 30 bad datagrams make 30 [Error] lines: at most the burst of 5,
     * and 5 a second after it, get through. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    const peko_addr *addr = peko_transport_local_addr(tp);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(addr->port)};
    memcpy(&sin.sin_addr, addr->ip, 4);
    for (int i = 0; i < 30; i++)
        sendto(fd, "junk", 4, 0, (struct sockaddr *)&sin, sizeof sin);
    close(fd);
    cr_assert_geq(run_until(ctx, thirty_rejected, tp, 10 * SEC), 0);
    double allowed = 5 + 5 * (double)(g_get_monotonic_time() - start) / SEC;
    /* Lines the bucket let through; the summaries of suppressed lines
     * take no token. */
    size_t printed = 0;
    for (guint i = 0; i < l.all->len; i++)
        printed += strstr(g_ptr_array_index(l.all, i), "suppressed") == NULL;
    peko_transport_counters k;
    peko_transport_stats(tp, &k);
    cr_assert_leq((double)printed, allowed, "%zu lines printed", printed);
    /* The join and 30 errors at least were asked for. */
    cr_assert_geq((double)k.print_suppressed, 31 - allowed);
    cr_assert_gt(k.print_suppressed, 0);
    peko_transport_free(tp);
    g_ptr_array_free(l.all, TRUE);
    g_main_context_unref(ctx);
}

/* ------------------------------------------------------------------ */
/* The delay hook.                                                      */

#define DELAY_LOG 512

typedef struct delay_log {
    peko_addr to;          /* log only messages to this address */
    int64_t delay_us;      /* what the hook returns (odd calls: alt_us) */
    int64_t alt_us;        /* 0: always delay_us */
    size_t calls;          /* messages to `to` */
    int64_t sent_at[DELAY_LOG];
    uint32_t digest[DELAY_LOG]; /* of each message's bytes */
} delay_log;

static uint32_t digest_of(const uint8_t *b, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static int64_t log_delay(void *user, const peko_addr *from,
                         const peko_addr *to, const uint8_t *bytes,
                         size_t n_bytes)
{
    delay_log *l = user;
    if (!peko_addr_equal(to, &l->to))
        return l->delay_us;
    size_t k = l->calls++;
    if (k < DELAY_LOG) {
        l->sent_at[k] = g_get_monotonic_time();
        l->digest[k] = digest_of(bytes, n_bytes);
    }
    return l->alt_us && k % 2 == 1 ? l->alt_us : l->delay_us;
}

/* A bare UDP socket on the loopback that records what arrives: each
 * datagram's digest and the time the loop read it, which is no earlier
 * than its arrival. It never answers. */
typedef struct datagram_reader {
    int fd;
    size_t expected; /* received_all holds at this count */
    size_t received;
    uint32_t digest[DELAY_LOG];
    int64_t received_at[DELAY_LOG];
} datagram_reader;

static gboolean read_datagrams(gint fd, GIOCondition cond, gpointer user)
{
    datagram_reader *r = user;
    uint8_t buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0) {
        if (r->received < DELAY_LOG) {
            r->received_at[r->received] = g_get_monotonic_time();
            r->digest[r->received] = digest_of(buf, (size_t)n);
        }
        r->received++;
    }
    return G_SOURCE_CONTINUE;
}

static bool received_all(void *user)
{
    datagram_reader *r = user;
    return r->received >= r->expected;
}

static bool delay_queue_empty(void *user)
{
    peko_transport_counters k;
    peko_transport_stats(user, &k);
    return k.delay_pending == 0;
}

/* What holds however slow or busy the machine is: no message arrives
 * before its latency has passed since it was sent, messages keep their
 * order, and every message leaves the queue. How late a message may be is
 * the machine's business, not this test's. */
Test(delay, udp_messages_wait_for_their_latency, .timeout = 30)
{
    GMainContext *ctx = g_main_context_new();
    datagram_reader r = {0};
    r.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(r.fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    getsockname(r.fd, (struct sockaddr *)&sin, &len);
    GSource *watch = g_unix_fd_source_new(r.fd, G_IO_IN);
    g_source_set_callback(watch, G_SOURCE_FUNC(read_datagrams), &r, NULL);
    g_source_attach(watch, ctx);

    delay_log log = {.delay_us = 40 * MS};
    peko_addr_parse("127.0.0.1", ntohs(sin.sin_port), &log.to);
    peko_config config = {.cycle_us = 50 * MS, .listen_addr = "127.0.0.1"};
    peko_transport_options oa;
    peko_transport_options_init(&oa);
    oa.delay = log_delay;
    oa.delay_user = &log;
    peko_transport *a = make_node(ctx, &config, "127.0.0.1", "a", 1, NULL,
                                  &oa);
    peko_nodelist_set(peko_transport_nodelist(a),
                      &(peko_node){.addr = "127.0.0.1", .port = log.to.port});
    peko_nodelist_join(peko_transport_nodelist(a));
    r.expected = 8;
    cr_assert_geq(run_until(ctx, received_all, &r, 10 * SEC), 0);
    /* Stopped, a sends nothing more; what waits in its queue still goes,
     * and all of it arrives. */
    peko_nodelist_stop(peko_transport_nodelist(a));
    cr_assert_geq(run_until(ctx, delay_queue_empty, a, 10 * SEC), 0);
    r.expected = log.calls;
    cr_assert_geq(run_until(ctx, received_all, &r, 10 * SEC), 0);

    peko_transport_counters k;
    peko_transport_stats(a, &k);
    cr_assert_eq(k.delay_dropped, 0);
    cr_assert_eq(k.delayed, log.calls);
    cr_assert_leq(log.calls, DELAY_LOG);
    /* Each message once, in the order it was sent: the k-th datagram is
     * the k-th message (a constant delay keeps the order). */
    cr_assert_eq(r.received, log.calls);
    int64_t least = INT64_MAX;
    for (size_t i = 0; i < r.received; i++) {
        cr_assert_eq(r.digest[i], log.digest[i], "datagram %zu out of order",
                     i);
        int64_t took = r.received_at[i] - log.sent_at[i];
        cr_assert_geq(took, 40 * MS, "message %zu took %lld us", i,
                      (long long)took);
        least = MIN(least, took);
    }
    fprintf(stderr, "delay: %zu messages in send order, 40 ms asked, at"
                    " least %.1f ms taken\n",
            r.received, (double)least / 1e3);
    peko_transport_free(a);
    g_source_destroy(watch);
    g_source_unref(watch);
    close(r.fd);
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
    g_main_context_unref(ctx);
}

static bool delay_dropped_some(void *user)
{
    peko_transport_counters k;
    peko_transport_stats(user, &k);
    return k.delay_dropped > 0;
}

Test(delay, the_queue_is_bounded_and_counts_its_drops, .timeout = 30)
{
    GMainContext *ctx = g_main_context_new();
    delay_log log = {.delay_us = 10 * SEC};
    peko_config config = {.cycle_us = 20 * MS, .listen_addr = "127.0.0.1"};
    peko_transport_options oa;
    peko_transport_options_init(&oa);
    oa.delay = log_delay;
    oa.delay_user = &log;
    oa.delay_queue = 3;
    peko_transport *a = make_node(ctx, &config, "127.0.0.1", "a", 1, NULL,
                                  &oa);
    peko_transport *b = make_node(ctx, &config, "127.0.0.1", "b", 2, NULL,
                                  NULL);
    log.to = *peko_transport_local_addr(b);
    peko_nodelist_set(peko_transport_nodelist(a),
                      &(peko_node){.addr = "127.0.0.1", .port = log.to.port});
    peko_nodelist_join(peko_transport_nodelist(a));
    cr_assert_geq(run_until(ctx, delay_dropped_some, a, 5 * SEC), 0);
    peko_transport_counters k;
    peko_transport_stats(a, &k);
    peko_stats es;
    peko_nodelist_stats(peko_transport_nodelist(a), &es);
    cr_assert_eq(k.delay_pending, 3);
    cr_assert_eq(k.delayed, 3);
    cr_assert_gt(k.delay_dropped, 0);
    cr_assert_eq(k.sent, 0);
    /* A full queue refuses the send, as a full socket buffer does. */
    cr_assert_eq(es.send_failed, k.delay_dropped);
    peko_transport_counters kb;
    peko_transport_stats(b, &kb);
    cr_assert_eq(kb.received, 0);
    /* Freed with messages waiting: they are dropped, nothing leaks. */
    peko_transport_free(a);
    peko_transport_free(b);
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
    g_main_context_unref(ctx);
}

typedef struct frame_reader {
    int listener;
    int conn;
    uint8_t buf[65536];
    size_t len;
    size_t frames;
    uint32_t digest[DELAY_LOG];
} frame_reader;

/* Accepts one connection and splits what it reads into frames. */
static bool read_frames(void *user)
{
    frame_reader *r = user;
    if (r->conn < 0) {
        r->conn = accept(r->listener, NULL, NULL);
        if (r->conn < 0)
            return false;
    }
    for (;;) {
        ssize_t n = recv(r->conn, r->buf + r->len, sizeof r->buf - r->len,
                         MSG_DONTWAIT);
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    size_t off = 0;
    while (r->len - off >= 4) {
        uint32_t len = (uint32_t)r->buf[off] << 24 |
                       (uint32_t)r->buf[off + 1] << 16 |
                       (uint32_t)r->buf[off + 2] << 8 | r->buf[off + 3];
        if (r->len - off < 4 + (size_t)len)
            break;
        if (r->frames < DELAY_LOG)
            r->digest[r->frames] = digest_of(r->buf + off + 4, len);
        r->frames++;
        off += 4 + len;
    }
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
    return r->frames >= 12;
}

Test(delay, tcp_messages_to_one_peer_keep_their_order, .timeout = 30)
{
    GMainContext *ctx = g_main_context_new();
    frame_reader r = {.conn = -1};
    r.listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(r.listener, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(r.listener, 4), 0);
    socklen_t len = sizeof sin;
    getsockname(r.listener, (struct sockaddr *)&sin, &len);

    /* Alternately 60 ms and 5 ms: without the order kept, every second
     * message would overtake the one before it. */
    delay_log log = {.delay_us = 60 * MS, .alt_us = 5 * MS};
    peko_addr_parse("127.0.0.1", ntohs(sin.sin_port), &log.to);
    peko_config config = {.cycle_us = 30 * MS, .listen_addr = "127.0.0.1",
                          .protocol = PEKO_PROTOCOL_TCP};
    peko_transport_options oa;
    peko_transport_options_init(&oa);
    oa.delay = log_delay;
    oa.delay_user = &log;
    peko_transport *a = make_node(ctx, &config, "127.0.0.1", "a", 1, NULL,
                                  &oa);
    peko_nodelist_set(peko_transport_nodelist(a),
                      &(peko_node){.addr = "127.0.0.1", .port = log.to.port});
    peko_nodelist_join(peko_transport_nodelist(a));
    cr_assert_geq(run_until(ctx, read_frames, &r, 5 * SEC), 0);
    size_t n = MIN(r.frames, (size_t)DELAY_LOG);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(r.digest[i], log.digest[i], "frame %zu out of order", i);
    fprintf(stderr, "delay over TCP: %zu frames in send order\n", n);
    peko_transport_free(a);
    close(r.conn);
    close(r.listener);
    while (g_main_context_pending(ctx))
        g_main_context_iteration(ctx, FALSE);
    g_main_context_unref(ctx);
}

Test(delay, options_of_version_1_are_still_accepted)
{
    peko_transport_options opts;
    peko_transport_options_init(&opts);
    cr_assert_eq(opts.version, PEKO_TRANSPORT_OPTIONS_VERSION);
    opts.version = 1;
    opts.local = (peko_node){.addr = "127.0.0.1", .port = 0};
    peko_config config = {.listen_addr = "127.0.0.1"};
    opts.config = &config;
    /* A version 1 caller has no delay fields: garbage there is ignored. */
    opts.delay = (peko_transport_delay_fn)(uintptr_t)1;
    opts.delay_queue = -5;
    GError *error = NULL;
    peko_transport *tp = peko_transport_new(&opts, &error);
    cr_assert_not_null(tp, "%s", error ? error->message : "");
    peko_transport_free(tp);
    opts.version = 2;
    opts.delay = NULL;
    cr_assert_null(peko_transport_new(&opts, &error));
    cr_assert_eq(error->code, PEKO_TRANSPORT_ERROR_INVALID);
    g_clear_error(&error);
}

/* ------------------------------------------------------------------ */
/* Pause and resume.                                                    */

typedef struct resume_wait {
    peko_transport *tp;
    uint64_t received;   /* datagrams or frames read before the resume */
    uint64_t heartbeats; /* heartbeats sent before the resume */
} resume_wait;

static bool read_and_beat_again(void *user)
{
    resume_wait *w = user;
    peko_transport_counters k;
    peko_stats s;
    peko_transport_stats(w->tp, &k);
    peko_nodelist_stats(peko_transport_nodelist(w->tp), &s);
    return k.received > w->received + 5 &&
           s.sent[PEKO_MSG_HEARTBEAT] > w->heartbeats;
}

Test(transport, a_paused_node_neither_reads_nor_fires_until_resumed,
     .timeout = 30)
{
    for (int p = 0; p < 2; p++) {
        cluster *c = cluster_new(3, p ? PEKO_PROTOCOL_TCP : PEKO_PROTOCOL_UDP,
                                 40 * MS, 2 * SEC, "127.0.0.1", NULL, NULL,
                                 NULL);
        cluster_join(c);
        cr_assert_geq(run_until(c->ctx, converged, c, 5 * SEC), 0);
        peko_transport *z = c->tp[2];
        cr_assert_eq(peko_transport_pause(z), 0);
        cr_assert_eq(peko_transport_pause(z), -EALREADY);
        cr_assert(peko_transport_is_paused(z));
        peko_transport_counters before, during;
        peko_stats es_before, es_during;
        peko_transport_stats(z, &before);
        peko_nodelist_stats(peko_transport_nodelist(z), &es_before);
        run_for(c->ctx, 400 * MS);
        peko_transport_stats(z, &during);
        peko_nodelist_stats(peko_transport_nodelist(z), &es_during);
        /* Nothing read, nothing sent: no timer fired. */
        cr_assert_eq(during.received, before.received);
        cr_assert_eq(es_during.sent[PEKO_MSG_HEARTBEAT],
                     es_before.sent[PEKO_MSG_HEARTBEAT]);
        cr_assert_eq(peko_transport_resume(z), 0);
        cr_assert_eq(peko_transport_resume(z), -EALREADY);
        resume_wait rw = {z, during.received,
                          es_during.sent[PEKO_MSG_HEARTBEAT]};
        cr_assert_geq(run_until(c->ctx, read_and_beat_again, &rw, 10 * SEC),
                      0);
        peko_transport_counters after;
        peko_stats es_after;
        peko_transport_stats(z, &after);
        peko_nodelist_stats(peko_transport_nodelist(z), &es_after);
        /* What waited in the kernel is read, and the node beats again. */
        cr_assert_gt(after.received, during.received + 5);
        cr_assert_gt(es_after.sent[PEKO_MSG_HEARTBEAT],
                     es_during.sent[PEKO_MSG_HEARTBEAT]);
        fprintf(stderr, "pause (%s): %llu messages read after 400 ms"
                        " paused, %llu dropped by the kernel\n",
                p ? "tcp" : "udp",
                (unsigned long long)(after.received - during.received),
                (unsigned long long)after.kernel_dropped);
        cr_assert_geq(run_until(c->ctx, converged, c, 5 * SEC), 0);
        cluster_free(c);
    }
}

/* ------------------------------------------------------------------ */
/* The filter: bursty loss and groups.                                  */

Test(filter, gilbert_elliott_loss_has_its_mean_and_its_bursts)
{
    const int draws = 200000;
    peko_transport_filter *a = peko_transport_filter_new(3);
    peko_transport_filter *b = peko_transport_filter_new(3);
    cr_assert_eq(peko_transport_filter_set_gilbert_elliott(a, 0.1, 0.3, 0, 1),
                 0);
    cr_assert_eq(peko_transport_filter_set_gilbert_elliott(b, 0.1, 0.3, 0, 1),
                 0);
    cr_assert_eq(peko_transport_filter_set_gilbert_elliott(a, 0.1, 1.5, 0, 1),
                 -EINVAL);
    peko_addr x, y;
    peko_addr_parse("127.0.0.1", 1000, &x);
    peko_addr_parse("127.0.0.1", 1001, &y);
    uint64_t runs = 0;
    bool was_lost = false;
    for (int i = 0; i < draws; i++) {
        peko_transport_verdict v = peko_transport_filter_check(a, &x, &y);
        cr_assert_eq(v, peko_transport_filter_check(b, &x, &y));
        bool lost = v == PEKO_TRANSPORT_LOST;
        runs += lost && !was_lost;
        was_lost = lost;
    }
    peko_transport_filter_counters k;
    peko_transport_filter_stats(a, &k);
    /* Stationary loss 0.1 / (0.1 + 0.3) = 0.25; bad spells of 1 / 0.3
     * messages on average. */
    double rate = (double)k.lost / draws;
    double burst = (double)k.lost / (double)runs;
    fprintf(stderr, "filter: Gilbert-Elliott loss %.4f (0.25 expected),"
                    " bursts of %.2f (3.33 expected)\n",
            rate, burst);
    cr_assert(fabs(rate - 0.25) < 0.01);
    cr_assert(fabs(burst - 1 / 0.3) < 0.15);
    /* Back to Bernoulli 0: nothing is lost. */
    cr_assert_eq(peko_transport_filter_set_loss(a, 0), 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(peko_transport_filter_check(a, &x, &y),
                     PEKO_TRANSPORT_PASS);
    peko_transport_filter_free(a);
    peko_transport_filter_free(b);
}

Test(filter, groups_cut_every_pair_of_groups_and_the_rest)
{
    peko_transport_filter *f = peko_transport_filter_new(1);
    peko_addr n[6];
    for (int i = 0; i < 6; i++)
        peko_addr_parse("127.0.0.1", (uint16_t)(2000 + i), &n[i]);
    /* {0,1} | {2,3}, and {4,5} in no group: three groups. */
    const peko_addr *groups[] = {&n[0], &n[2]};
    size_t n_each[] = {2, 2};
    int id = peko_transport_filter_partition_groups(f, groups, n_each, 2);
    cr_assert_gt(id, 0);
    static const int same[][2] = {{0, 1}, {2, 3}, {4, 5}};
    static const int cut[][2] = {{0, 2}, {1, 3}, {0, 4}, {3, 5}};
    for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
        cr_assert_eq(peko_transport_filter_check(f, &n[same[i][0]],
                                                 &n[same[i][1]]),
                     PEKO_TRANSPORT_PASS);
        cr_assert_eq(peko_transport_filter_check(f, &n[same[i][1]],
                                                 &n[same[i][0]]),
                     PEKO_TRANSPORT_PASS);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(cut); i++) {
        cr_assert_eq(peko_transport_filter_check(f, &n[cut[i][0]],
                                                 &n[cut[i][1]]),
                     PEKO_TRANSPORT_PARTITIONED);
        cr_assert_eq(peko_transport_filter_check(f, &n[cut[i][1]],
                                                 &n[cut[i][0]]),
                     PEKO_TRANSPORT_PARTITIONED);
    }
    /* An address in two groups, or an empty group, is refused. */
    const peko_addr *overlap[] = {&n[0], &n[1]};
    size_t n_overlap[] = {2, 1};
    cr_assert_eq(peko_transport_filter_partition_groups(f, overlap, n_overlap,
                                                        2),
                 -EINVAL);
    size_t n_empty[] = {2, 0};
    cr_assert_eq(peko_transport_filter_partition_groups(f, groups, n_empty, 2),
                 -EINVAL);
    cr_assert_eq(peko_transport_filter_heal(f, id), 0);
    cr_assert_eq(peko_transport_filter_check(f, &n[0], &n[2]),
                 PEKO_TRANSPORT_PASS);
    peko_transport_filter_free(f);
}
