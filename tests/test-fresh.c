/* test-fresh.c: with a key, a replayed packet changes nothing and is
 * counted (docs/wire.md, "Freshness"; docs/protocol.md, "On a hostile
 * network").
 *
 * Every message type is captured on a keyed test network and handed to
 * its receiver again right after it arrived, seconds later, after the
 * receiver restarted, and after the whole cluster restarted: the
 * receiver's list and metadata stay as they were, it answers nothing but
 * a challenge, and a replay is counted. Then the window itself, packet by
 * packet, as an insider holding the key would write them: reordering
 * within it, gaps beyond it, duplicates, an attacker without the key; and
 * the ways a sender and a receiver find each other: hellos and parked
 * packets, restarts, clocks set back, forgotten windows. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <inttypes.h>
#include <string.h>

#include "testenv.h"
#include "wire.h"

#define SECOND_US 1000000LL
#define MS_US 1000LL
#define KEY "replay-test-key"
#define BASE_PORT 9000

/* ------------------------------------------------------------------ */
/* Capturing what nodes send.                                          */

typedef struct packet {
    size_t from;
    size_t to;           /* SIZE_MAX: not a node of the net */
    peko_msg_type type;
    uint8_t *bytes;
    size_t n_bytes;
    int64_t at_us;
} packet;

typedef struct capture {
    testnet *net;
    GArray *packets;     /* of packet */
} capture;

static void on_tap(void *user, size_t from, const peko_addr *to,
                   const uint8_t *bytes, size_t n_bytes)
{
    capture *c = user;
    size_t n = testnet_size(c->net);
    packet p = {
        .from = from,
        .to = to->port >= BASE_PORT && to->port < BASE_PORT + n
                  ? (size_t)(to->port - BASE_PORT)
                  : SIZE_MAX,
        .type = peko_wire_type(bytes, n_bytes),
        .bytes = g_memdup2(bytes, n_bytes),
        .n_bytes = n_bytes,
        .at_us = testnet_now_us(c->net),
    };
    g_array_append_val(c->packets, p);
}

static void capture_start(capture *c, testnet *net)
{
    c->net = net;
    c->packets = g_array_new(FALSE, TRUE, sizeof(packet));
    testnet_set_tap(net, on_tap, c);
}

static void capture_stop(capture *c)
{
    testnet_set_tap(c->net, NULL, NULL);
    for (guint i = 0; i < c->packets->len; i++)
        g_free(g_array_index(c->packets, packet, i).bytes);
    g_array_free(c->packets, TRUE);
}

/* The first packet of `type` sent at or after after_us between two nodes
 * of the net, from `from` (SIZE_MAX: anyone), or NULL. */
static const packet *find(const capture *c, peko_msg_type type, size_t from,
                          int64_t after_us)
{
    for (guint i = 0; i < c->packets->len; i++) {
        const packet *p = &g_array_index(c->packets, packet, i);
        if (p->type == type && p->at_us >= after_us && p->to != SIZE_MAX &&
            (from == SIZE_MAX || p->from == from))
            return p;
    }
    return NULL;
}

/* The last packet of `type` that `from` sent to a node of the net. */
static const packet *last_sent(const capture *c, peko_msg_type type,
                               size_t from)
{
    const packet *last = NULL;
    for (guint i = 0; i < c->packets->len; i++) {
        const packet *p = &g_array_index(c->packets, packet, i);
        if (p->type == type && p->to != SIZE_MAX && p->from == from)
            last = p;
    }
    cr_assert_not_null(last, "node %zu sent no %s", from,
                       peko_msg_type_name(type));
    return last;
}

/* A challenge's or an echo's nonce: the last 8 bytes of its body
 * (docs/wire.md). */
static uint64_t challenge_nonce(const packet *p)
{
    cr_assert_geq(p->n_bytes, 12);
    uint32_t body = (uint32_t)p->bytes[8] << 24 | (uint32_t)p->bytes[9] << 16 |
                    (uint32_t)p->bytes[10] << 8 | p->bytes[11];
    cr_assert_geq(body, 8);
    cr_assert_leq(12 + (size_t)body, p->n_bytes);
    uint64_t nonce = 0;
    for (size_t k = 12 + body - 8; k < 12 + (size_t)body; k++)
        nonce = nonce << 8 | p->bytes[k];
    return nonce;
}

/* Runs 1 ms at a time until such a packet was sent and has arrived. */
static packet run_until_sent(testnet *net, capture *c, peko_msg_type type,
                             size_t from, int64_t after_us)
{
    for (int k = 0; k < 20000; k++) {
        const packet *p = find(c, type, from, after_us);
        if (p != NULL && testnet_now_us(net) >= p->at_us + 2 * MS_US) {
            packet copy = *p;
            copy.bytes = g_memdup2(p->bytes, p->n_bytes);
            return copy;
        }
        testnet_run_for(net, MS_US);
    }
    cr_assert_fail("no %s was sent", peko_msg_type_name(type));
    return (packet){0};
}

/* ------------------------------------------------------------------ */
/* What a node holds.                                                  */

typedef struct snapshot {
    char *list;          /* every node listed, with name and data */
    peko_version version;
    char *meta;          /* the metadata, hex */
    uint64_t sent[PEKO_MSG_TYPE_COUNT];
    uint64_t replays;
} snapshot;

static snapshot snap(testnet *net, size_t i)
{
    peko_nodelist *nl = testnet_node(net, i);
    snapshot s;
    memset(&s, 0, sizeof s);
    peko_node_array a;
    peko_nodelist_get(nl, &a);
    GString *list = g_string_new(NULL);
    for (size_t k = 0; k < a.count; k++)
        g_string_append_printf(list, "%s:%u %s %s;", a.nodes[k].addr,
                               a.nodes[k].port, a.nodes[k].name,
                               a.nodes[k].private_data);
    peko_node_array_clear(&a);
    s.list = g_string_free(list, FALSE);
    peko_nodelist_metadata_version(nl, &s.version);
    size_t n;
    const uint8_t *meta = peko_nodelist_read(nl, &n);
    GString *hex = g_string_new(NULL);
    for (size_t k = 0; k < n; k++)
        g_string_append_printf(hex, "%02x", meta[k]);
    s.meta = g_string_free(hex, FALSE);
    for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++)
        s.sent[t] = testnet_sent_by(net, i, (peko_msg_type)t);
    peko_stats st;
    peko_nodelist_stats(nl, &st);
    s.replays = st.rejected[PEKO_REJECT_REPLAY];
    return s;
}

static void snap_clear(snapshot *s)
{
    g_free(s->list);
    g_free(s->meta);
}

static uint64_t stat_of(testnet *net, size_t i, size_t offset)
{
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, i), &st);
    uint64_t v;
    memcpy(&v, (const char *)&st + offset, sizeof v);
    return v;
}

#define STAT(net, i, field) stat_of(net, i, offsetof(peko_stats, field))

static uint64_t replays_of(testnet *net, size_t i)
{
    peko_stats st;
    peko_nodelist_stats(testnet_node(net, i), &st);
    return st.rejected[PEKO_REJECT_REPLAY];
}

static uint64_t cluster_replays(testnet *net)
{
    uint64_t n = 0;
    for (size_t i = 0; i < testnet_size(net); i++)
        if (testnet_node(net, i) != NULL)
            n += replays_of(net, i);
    return n;
}

static uint32_t incarnation_of(testnet *net, size_t i)
{
    peko_config c;
    peko_nodelist_config(testnet_node(net, i), &c);
    return c.incarnation;
}

/* Hands node r packet p again, as from its sender, and checks that r's
 * list and metadata do not move, that r answers nothing but (at most) one
 * challenge, or one echo to a replayed challenge, which it cannot judge
 * without a window (a hello is always answered), and that the replay is
 * counted: by r, or, for that answered hello, by the challenger, which
 * refuses the echo. */
static void replay_changes_nothing(testnet *net, const packet *p, size_t r)
{
    snapshot before = snap(net, r);
    uint64_t all_before = cluster_replays(net);
    testnet_inject(net, r, testnet_addr(net, p->from), p->bytes, p->n_bytes);
    snapshot after = snap(net, r);

    cr_assert_str_eq(after.list, before.list, "%s replayed",
                     peko_msg_type_name(p->type));
    cr_assert_eq(peko_version_compare(&after.version, &before.version), 0);
    cr_assert_str_eq(after.meta, before.meta);
    for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++) {
        uint64_t more = after.sent[t] - before.sent[t];
        uint64_t allowed = 0;
        if (t == PEKO_MSG_CHALLENGE)
            allowed = 1;
        if (t == PEKO_MSG_ECHO && p->type == PEKO_MSG_CHALLENGE)
            allowed = 1;
        cr_assert_leq(more, allowed, "a replayed %s made node %zu send %s",
                      peko_msg_type_name(p->type), r,
                      peko_msg_type_name((peko_msg_type)t));
    }
    bool answered = after.sent[PEKO_MSG_ECHO] > before.sent[PEKO_MSG_ECHO];
    if (!answered)
        cr_assert_eq(after.replays, before.replays + 1,
                     "a replayed %s was not counted",
                     peko_msg_type_name(p->type));
    snap_clear(&before);
    snap_clear(&after);

    /* What it sent in return arrives: the replay is counted somewhere
     * (an answered hello by its challenger). */
    testnet_run_for(net, 5 * MS_US);
    cr_assert_gt(cluster_replays(net), all_before);
}

static peko_config keyed_config(peko_dissemination d)
{
    peko_config c = {0};
    c.cycle_us = SECOND_US;
    c.secret_key = KEY;
    c.dissemination = d;
    return c;
}

/* The half of a second where no cycle runs: replays land there. */
static void run_to_mid_cycle(testnet *net)
{
    int64_t now = testnet_now_us(net);
    int64_t mid = (now / SECOND_US) * SECOND_US + SECOND_US / 2;
    if (mid <= now)
        mid += SECOND_US;
    testnet_run_for(net, mid - now);
}

static void restart_and_join(testnet *net, size_t i)
{
    testnet_restart(net, i, NULL);
    testnet_join_via(net, i, 0);
}

/* ------------------------------------------------------------------ */
/* Every message type, replayed.                                       */

typedef enum when {
    RIGHT_AFTER,       /* as soon as it has arrived */
    LATER,             /* seconds later, many packets later */
    RECEIVER_RESTART,  /* after the receiver restarted */
    CLUSTER_RESTART,   /* after every node restarted */
} when;

static const char *const when_names[] = {"right after", "later",
                                         "after the receiver restarted",
                                         "after the cluster restarted"};

typedef struct replay_case {
    peko_msg_type type;
    when when;
} replay_case;

ParameterizedTestParameters(fresh, every_message_type_replayed)
{
    static replay_case cases[6 * 4];
    size_t n = 0;
    for (int t = PEKO_MSG_HEARTBEAT; t <= PEKO_MSG_ECHO; t++)
        for (int w = RIGHT_AFTER; w <= CLUSTER_RESTART; w++)
            cases[n++] = (replay_case){(peko_msg_type)t, (when)w};
    return cr_make_param_array(replay_case, cases, n);
}

ParameterizedTest(replay_case *rc, fresh, every_message_type_replayed)
{
    const size_t n = 4;
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(n, &c, 71 + (uint64_t)rc->type);
    capture cap;
    capture_start(&cap, net);
    testnet_join_all(net);
    testnet_run_for(net, 2 * SECOND_US);
    cr_assert(testnet_converged(net));

    /* Two publishes, so that a replay of the second after a restart
     * would win over a new first publish. */
    const char *old1 = "old-1", *old2 = "old-2";
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 1),
                                       (const uint8_t *)old1, 5), 0);
    testnet_run_for(net, 300 * MS_US);
    cr_assert_eq(peko_nodelist_publish(testnet_node(net, 1),
                                       (const uint8_t *)old2, 5), 0);
    int64_t from_us = testnet_now_us(net);
    /* The hellos of a keyed join are the challenges and echoes a cluster
     * sends; every other type after the publishes. */
    if (rc->type == PEKO_MSG_CHALLENGE || rc->type == PEKO_MSG_ECHO)
        from_us = 0;
    packet p = run_until_sent(net, &cap, rc->type, SIZE_MAX, from_us);
    size_t r = p.to;
    cr_assert_neq(r, p.from);

    switch (rc->when) {
    case RIGHT_AFTER:
        break;
    case LATER:
        testnet_run_for(net, 5 * SECOND_US);
        run_to_mid_cycle(net);
        break;
    case RECEIVER_RESTART:
        testnet_run_for(net, 2 * SECOND_US);
        restart_and_join(net, r);
        testnet_run_for(net, 6 * SECOND_US);
        run_to_mid_cycle(net);
        cr_assert(testnet_converged(net));
        break;
    case CLUSTER_RESTART:
        testnet_run_for(net, 2 * SECOND_US);
        for (size_t i = 0; i < n; i++)
            testnet_restart(net, i, NULL);
        testnet_join_all(net);
        testnet_run_for(net, 3 * SECOND_US);
        cr_assert_eq(peko_nodelist_publish(testnet_node(net, 2),
                                           (const uint8_t *)"new", 3), 0);
        testnet_run_for(net, 3 * SECOND_US);
        run_to_mid_cycle(net);
        cr_assert(testnet_converged(net));
        break;
    }
    cr_log_info("%s from node %zu to node %zu, replayed %s",
                peko_msg_type_name(rc->type), p.from, r,
                when_names[rc->when]);
    replay_changes_nothing(net, &p, r);

    /* After a whole-cluster restart, the new metadata stays everywhere:
     * no node rolls back to what was published before. */
    if (rc->when == CLUSTER_RESTART) {
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const uint8_t *m = peko_nodelist_read(testnet_node(net, i), &len);
            cr_assert_eq(len, 3);
            cr_assert_arr_eq(m, "new", 3);
        }
    }
    g_free(p.bytes);
    capture_stop(&cap);
    testnet_free(net);
}

/* ------------------------------------------------------------------ */
/* Attacks the issue describes.                                        */

Test(fresh, a_dead_nodes_heartbeats_from_two_incarnations_never_bring_it_back)
{
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(4, &c, 81);
    capture cap;
    capture_start(&cap, net);
    testnet_join_all(net);
    testnet_run_for(net, 3 * SECOND_US);
    packet first = run_until_sent(net, &cap, PEKO_MSG_HEARTBEAT, 3,
                                  testnet_now_us(net));
    restart_and_join(net, 3);
    int64_t restarted = testnet_now_us(net);
    testnet_run_for(net, 3 * SECOND_US);
    packet second = run_until_sent(net, &cap, PEKO_MSG_HEARTBEAT, 3,
                                   restarted + SECOND_US);
    cr_assert_neq(incarnation_of(net, 3), 0);

    testnet_crash(net, 3);
    /* Removed after the timeout (5 s), forgotten after another. */
    testnet_run_for(net, 12 * SECOND_US);
    bool gone[4] = {false, false, false, true};
    for (size_t i = 0; i < 3; i++)
        cr_assert(testnet_has_full_list(net, i, gone));

    uint64_t before = cluster_replays(net);
    int replayed = 0;
    for (int round = 0; round < 6; round++) {
        const packet *p = round % 2 ? &second : &first;
        for (size_t r = 0; r < 3; r++) {
            testnet_inject(net, r, testnet_addr(net, 3), p->bytes,
                           p->n_bytes);
            replayed++;
        }
        testnet_run_for(net, 700 * MS_US);
        for (size_t i = 0; i < 3; i++)
            cr_assert(testnet_has_full_list(net, i, gone),
                      "round %d: node %zu lists the dead node", round, i);
    }
    cr_assert_geq(cluster_replays(net) - before, (uint64_t)replayed);
    g_free(first.bytes);
    g_free(second.bytes);
    capture_stop(&cap);
    testnet_free(net);
}

/* ------------------------------------------------------------------ */
/* The window, packet by packet, as an insider writes them.            */

#define INSIDER_PORT 9100

static peko_addr insider_addr(int k)
{
    peko_addr a;
    cr_assert_eq(peko_addr_parse("127.0.0.1", (uint16_t)(INSIDER_PORT + k),
                                 &a),
                 0);
    return a;
}

/* A challenge from the insider k, tagged `tag`, as its packet `number`:
 * it opens a window without touching the member list. */
static size_t insider_challenge(int k, uint32_t tag, uint64_t number,
                                uint8_t *buf, size_t cap)
{
    peko__keyring *keys = peko__keyring_new();
    cr_assert_eq(peko__keyring_set(keys, KEY, NULL, 0), 0);
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_CHALLENGE;
    m.sender = insider_addr(k);
    m.nonce = 1000 + (uint64_t)k;
    m.auth_incarnation = 5;
    m.auth_receiver = tag;
    m.auth_number = number;
    size_t n = peko__wire_encode(&m, keys, buf, cap);
    cr_assert_gt(n, 0);
    peko__keyring_free(keys);
    return n;
}

/* A heartbeat of the insider k (its own), seq `seq`, signed with `key`
 * (NULL: unsigned) as its packet `number`, with receiver tag `tag`. */
static size_t insider_heartbeat(int k, const char *key, uint32_t seq,
                                uint32_t tag, uint64_t number, uint8_t *buf,
                                size_t cap)
{
    peko__keyring *keys = peko__keyring_new();
    if (key != NULL)
        cr_assert_eq(peko__keyring_set(keys, key, NULL, 0), 0);
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = PEKO_MSG_HEARTBEAT;
    m.sender = insider_addr(k);
    m.origin = m.sender;
    m.incarnation = 5;
    m.seq = seq;
    m.auth_incarnation = 5;
    m.auth_receiver = tag;
    m.auth_number = number;
    size_t n = peko__wire_encode(&m, keys, buf, cap);
    cr_assert_gt(n, 0);
    peko__keyring_free(keys);
    return n;
}

typedef struct window_net {
    testnet *net;
    uint32_t inc;        /* node 0's incarnation */
} window_net;

static window_net window_net_new(uint64_t seed)
{
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    window_net w = {.net = testnet_new(2, &c, seed)};
    testnet_join_all(w.net);
    testnet_run_for(w.net, 2500 * MS_US);
    cr_assert(testnet_converged(w.net));
    w.inc = incarnation_of(w.net, 0);
    return w;
}

/* The receiver tag of node i in incarnation inc (0: none). */
static uint32_t tag_of(window_net *w, size_t i, uint32_t inc)
{
    return inc ? peko__receiver_tag(testnet_addr(w->net, i), inc) : 0;
}

/* Sends node 0 the insider's heartbeat number `number` (seq = number, so
 * every packet is news) with receiver tag `tag`, and says whether node 0
 * accepted it. */
static bool deliver_tagged(window_net *w, const char *key, uint64_t number,
                           uint32_t tag)
{
    uint8_t buf[256];
    size_t n = insider_heartbeat(0, key, (uint32_t)number, tag, number, buf,
                                 sizeof buf);
    peko_stats before, after;
    peko_nodelist_stats(testnet_node(w->net, 0), &before);
    peko_addr from = insider_addr(0);
    testnet_inject(w->net, 0, &from, buf, n);
    peko_nodelist_stats(testnet_node(w->net, 0), &after);
    bool accepted = after.received[PEKO_MSG_HEARTBEAT] ==
                    before.received[PEKO_MSG_HEARTBEAT] + 1;
    if (!accepted && key != NULL && strcmp(key, KEY) == 0)
        cr_assert_eq(after.rejected[PEKO_REJECT_REPLAY],
                     before.rejected[PEKO_REJECT_REPLAY] + 1);
    return accepted;
}

/* The same, tagged for node 0 in incarnation inc. */
static bool deliver(window_net *w, const char *key, uint64_t number,
                    uint32_t inc)
{
    return deliver_tagged(w, key, number, tag_of(w, 0, inc));
}

Test(fresh, reordered_packets_within_the_window_are_accepted_once)
{
    window_net w = window_net_new(91);
    cr_assert(deliver(&w, KEY, 1000, w.inc));
    /* Late packets within the window, in any order: each once. */
    static const uint64_t late[] = {990, 999, 937, 998, 995};
    for (size_t i = 0; i < G_N_ELEMENTS(late); i++)
        cr_assert(deliver(&w, KEY, late[i], w.inc), "%" PRIu64, late[i]);
    for (size_t i = 0; i < G_N_ELEMENTS(late); i++)
        cr_assert(!deliver(&w, KEY, late[i], w.inc), "again %" PRIu64,
                  late[i]);
    cr_assert(!deliver(&w, KEY, 1000, w.inc));
    /* 1000 - 64: just out of the window. */
    cr_assert(!deliver(&w, KEY, 936, w.inc));
    cr_assert(!deliver(&w, KEY, 10, w.inc));
    testnet_free(w.net);
}

Test(fresh, a_gap_larger_than_the_window_is_fine)
{
    window_net w = window_net_new(92);
    cr_assert(deliver(&w, KEY, 1000, w.inc));
    cr_assert(deliver(&w, KEY, 1000000, w.inc));
    cr_assert(deliver(&w, KEY, 999990, w.inc));
    cr_assert(!deliver(&w, KEY, 1001, w.inc));
    cr_assert(deliver(&w, KEY, 1000001, w.inc));
    testnet_free(w.net);
}

Test(fresh, only_packets_tagged_for_this_node_as_it_is_are_accepted)
{
    window_net w = window_net_new(93);
    uint64_t challenges = testnet_sent_by(w.net, 0, PEKO_MSG_CHALLENGE);
    /* Written for an earlier incarnation of node 0: refused, and its
     * sender told who node 0 is now (once a cycle at most). */
    cr_assert(!deliver(&w, KEY, 500, w.inc - 1));
    cr_assert(!deliver(&w, KEY, 501, w.inc - 1));
    cr_assert_eq(testnet_sent_by(w.net, 0, PEKO_MSG_CHALLENGE),
                 challenges + 1);
    /* No tag at all: only a hello may go without one. */
    cr_assert(!deliver(&w, KEY, 502, 0));
    cr_assert(deliver(&w, KEY, 503, w.inc));
    /* With a window too: written for another incarnation, or for another
     * node (node 1 runs the same incarnation), is refused whatever its
     * number. */
    cr_assert(!deliver(&w, KEY, 504, w.inc - 1));
    cr_assert_eq(incarnation_of(w.net, 1), w.inc);
    cr_assert(!deliver_tagged(&w, KEY, 505, tag_of(&w, 1, w.inc)));
    cr_assert(!deliver_tagged(&w, KEY, 506, w.inc));
    cr_assert(deliver(&w, KEY, 504, w.inc));
    cr_assert(deliver(&w, KEY, 500, w.inc));
    cr_assert(!deliver(&w, KEY, 500, w.inc));
    testnet_free(w.net);
}

Test(fresh, an_attacker_without_the_key_gets_nothing)
{
    window_net w = window_net_new(94);
    peko_nodelist *nl = testnet_node(w.net, 0);
    snapshot before = snap(w.net, 0);
    peko_stats st0;
    peko_nodelist_stats(nl, &st0);

    /* Huge numbers, right incarnation, wrong or no key; and junk. */
    cr_assert(!deliver(&w, "not-the-key", UINT64_MAX - 1, w.inc));
    cr_assert(!deliver(&w, "not-the-key", 1u << 20, w.inc));
    cr_assert(!deliver(&w, NULL, 1u << 21, w.inc));
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    peko_addr from = insider_addr(0);
    testnet_inject(w.net, 0, &from, junk, sizeof junk);

    snapshot after = snap(w.net, 0);
    cr_assert_str_eq(after.list, before.list);
    for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++)
        cr_assert_eq(after.sent[t], before.sent[t], "answered with %s",
                     peko_msg_type_name((peko_msg_type)t));
    peko_stats st;
    peko_nodelist_stats(nl, &st);
    cr_assert_eq(st.rejected[PEKO_REJECT_BAD_MAC],
                 st0.rejected[PEKO_REJECT_BAD_MAC] + 2);
    cr_assert_eq(st.rejected[PEKO_REJECT_NO_MAC],
                 st0.rejected[PEKO_REJECT_NO_MAC] + 1);
    cr_assert_eq(st.rejected[PEKO_REJECT_REPLAY],
                 st0.rejected[PEKO_REJECT_REPLAY]);
    /* The window did not move: a small genuine number still opens it. */
    cr_assert(deliver(&w, KEY, 7, w.inc));
    snap_clear(&before);
    snap_clear(&after);
    testnet_free(w.net);
}

Test(fresh, a_packet_naming_this_node_as_its_sender_is_a_replay)
{
    window_net w = window_net_new(95);
    capture cap;
    capture_start(&cap, w.net);
    packet p = run_until_sent(w.net, &cap, PEKO_MSG_HEARTBEAT, 0,
                              testnet_now_us(w.net));
    uint64_t replays = replays_of(w.net, 0);
    testnet_inject(w.net, 0, testnet_addr(w.net, 1), p.bytes, p.n_bytes);
    cr_assert_eq(replays_of(w.net, 0), replays + 1);
    g_free(p.bytes);
    capture_stop(&cap);
    testnet_free(w.net);
}

/* ------------------------------------------------------------------ */
/* Finding each other: hellos, restarts, clocks, forgotten windows.    */

ParameterizedTestParameters(fresh, keyed_clusters_converge_with_hellos)
{
    static peko_dissemination strategies[] = {PEKO_DISSEMINATION_CLASSIC,
                                              PEKO_DISSEMINATION_RUMOR,
                                              PEKO_DISSEMINATION_DIGEST};
    return cr_make_param_array(peko_dissemination, strategies, 3);
}

ParameterizedTest(peko_dissemination *d, fresh,
                  keyed_clusters_converge_with_hellos)
{
    /* Every node is told only node 0's address: its first packets to it
     * wait for a hello's echo, then leave. A keyed cluster is then as
     * quick as an unkeyed one; nothing is refused. */
    peko_config c = keyed_config(*d);
    testnet *net = testnet_new(8, &c, 101);
    testnet_join_all(net);
    testnet_run_for(net, 2 * SECOND_US + 50 * MS_US);
    cr_assert(testnet_converged(net), "%s", peko_dissemination_name(*d));
    for (size_t i = 1; i < 8; i++) {
        cr_assert_gt(STAT(net, i, parked), 0);
        cr_assert_eq(STAT(net, i, parked_dropped), 0);
    }
    testnet_run_for(net, 10 * SECOND_US);
    cr_assert(testnet_converged(net));
    cr_assert_eq(cluster_replays(net), 0);
    testnet_free(net);
}

Test(fresh, a_restarted_node_is_taught_and_teaches_its_incarnation)
{
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(6, &c, 102);
    testnet_join_all(net);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(testnet_converged(net));
    cr_assert_eq(cluster_replays(net), 0);
    for (size_t i = 0; i < 6; i += 2) {
        restart_and_join(net, i);
        /* Packets the others wrote for its earlier incarnation are
         * refused, until its challenge teaches them: within the cycle. */
        testnet_run_for(net, SECOND_US);
        uint64_t taught = cluster_replays(net);
        testnet_run_for(net, 3 * SECOND_US);
        cr_assert(testnet_converged(net), "after node %zu restarted", i);
        cr_assert_eq(cluster_replays(net), taught,
                     "still refusing after node %zu restarted", i);
    }
    testnet_free(net);
}

Test(fresh, a_sender_whose_clock_went_back_is_heard_again)
{
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(4, &c, 103);
    capture cap;
    capture_start(&cap, net);
    testnet_join_all(net);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(testnet_converged(net));
    packet old = run_until_sent(net, &cap, PEKO_MSG_HEARTBEAT, 2,
                                testnet_now_us(net));
    size_t r = old.to;

    /* Node 2 restarts with its clock an hour behind: its packet numbers
     * start below what the others remember of it. */
    testnet_crash(net, 2);
    testnet_set_clock_offset(net, 2, -3600 * SECOND_US);
    testnet_run_for(net, 500 * MS_US);
    restart_and_join(net, 2);
    testnet_run_for(net, 4 * SECOND_US);
    cr_assert(testnet_converged(net));

    /* Its packets from before still count as replays. */
    run_to_mid_cycle(net);
    replay_changes_nothing(net, &old, r);
    g_free(old.bytes);
    capture_stop(&cap);
    testnet_free(net);
}

Test(fresh, forgotten_windows_refuse_what_they_may_have_seen)
{
    /* A table of max_members + 256 senders; 400 insiders overflow it
     * (challenges tagged for node 0: each opens a window, and none
     * touches the member list). */
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    c.max_members = 16;
    testnet *net = testnet_new(3, &c, 104);
    testnet_join_all(net);
    testnet_run_for(net, 2500 * MS_US);
    cr_assert(testnet_converged(net));
    uint32_t tag = peko__receiver_tag(testnet_addr(net, 0),
                                      incarnation_of(net, 0));

    enum { INSIDERS = 400 };
    static uint8_t bufs[INSIDERS][128];
    static size_t lens[INSIDERS];
    peko_stats st0, st;
    peko_nodelist_stats(testnet_node(net, 0), &st0);
    for (int k = 0; k < INSIDERS; k++) {
        lens[k] = insider_challenge(k, tag, 77, bufs[k], sizeof bufs[k]);
        peko_addr from = insider_addr(k);
        testnet_inject(net, 0, &from, bufs[k], lens[k]);
    }
    /* Each accepted, but for a newcomer whose fingerprint falls in the
     * bucket of a window already forgotten: it must prove itself. */
    peko_nodelist_stats(testnet_node(net, 0), &st);
    uint64_t accepted = st.received[PEKO_MSG_CHALLENGE] -
                        st0.received[PEKO_MSG_CHALLENGE];
    uint64_t refused = st.rejected[PEKO_REJECT_REPLAY] -
                       st0.rejected[PEKO_REJECT_REPLAY];
    cr_assert_eq(accepted + refused, INSIDERS);
    cr_assert_gt(accepted, INSIDERS * 9 / 10);
    cr_assert_gt(st.fresh_evicted, 0);

    /* Every one of them again: remembered or forgotten, refused. */
    for (int k = 0; k < INSIDERS; k++) {
        peko_addr from = insider_addr(k);
        testnet_inject(net, 0, &from, bufs[k], lens[k]);
    }
    peko_nodelist_stats(testnet_node(net, 0), &st0);
    cr_assert_eq(st0.received[PEKO_MSG_CHALLENGE],
                 st.received[PEKO_MSG_CHALLENGE]);
    cr_assert_eq(st0.rejected[PEKO_REJECT_REPLAY],
                 st.rejected[PEKO_REJECT_REPLAY] + INSIDERS);

    /* The real members still get through (one whose window was
     * forgotten proves itself by an echo). */
    testnet_run_for(net, 5 * SECOND_US);
    cr_assert(testnet_converged(net));
    testnet_free(net);
}

Test(fresh, parked_packets_are_bounded_and_given_up)
{
    /* A seed nobody answers: packets for it wait, a few, then go. */
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(2, &c, 105);
    peko_node ghost = {.addr = "127.0.0.1", .port = 9050};
    cr_assert_eq(peko_nodelist_set(testnet_node(net, 0), &ghost), 0);
    testnet_join_via(net, 0, 0);
    testnet_run_for(net, 20 * SECOND_US);
    uint64_t parked = STAT(net, 0, parked);
    uint64_t dropped = STAT(net, 0, parked_dropped);
    cr_assert_gt(parked, 0);
    /* Everything parked was given up but what is still waiting (at
     * most 8). */
    cr_assert_geq(dropped + 8, parked);
    cr_assert_leq(dropped, parked);
    /* Hellos go at most once a cycle. */
    cr_assert_leq(testnet_sent_by(net, 0, PEKO_MSG_CHALLENGE), 21);
    testnet_free(net);
}

/* A hello is sent again each cycle with the same nonce for the nonce's
 * life. When the link comes back just before the last of those, its
 * echo arrives after the nonce's life counted from its draw, but it
 * answers a challenge sent a round trip ago and must be accepted (peko
 * explore, seed 1720: a partition healed then). Every moment of the
 * link's return over two nonce lives is tried, in steps of 100 ms. */
Test(fresh, an_echo_to_a_hello_sent_again_late_in_its_nonces_life_is_accepted)
{
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    for (int64_t back_ms = 100; back_ms <= 10000; back_ms += 100) {
        testnet *net = testnet_new(2, &c, 106);
        testnet_set_latency_us(net, 300 * MS_US);
        testnet_partition(net, 1, true);
        testnet_join_via(net, 0, 0);
        testnet_join_via(net, 1, 0);
        testnet_run_for(net, back_ms * MS_US);
        testnet_partition(net, 1, false);
        testnet_run_for(net, 6 * SECOND_US);
        cr_assert_eq(cluster_replays(net), 0,
                     "the link back after %" PRId64 " ms: an echo refused",
                     back_ms);
        cr_assert(testnet_converged(net), "the link back after %" PRId64
                  " ms", back_ms);
        testnet_free(net);
    }
}

/* A challenge that waited out its receiver's pause (peko explore, seed
 * 5338: the node was frozen for 7.8 s, its packets held) is answered
 * when the receiver resumes, after the challenger's nonce stopped being
 * answerable and a new one was drawn. That echo is new, but answers a
 * challenge older than a nonce's life: it is refused as a replay (rule
 * 2), as the replay of an old echo would be, and the challenger's
 * current challenge, answered, still brings the two together. */
Test(fresh, an_echo_to_a_challenge_that_waited_out_a_pause_is_refused)
{
    peko_config c = keyed_config(PEKO_DISSEMINATION_RUMOR);
    testnet *net = testnet_new(2, &c, 107);
    capture cap;
    capture_start(&cap, net);
    testnet_join_via(net, 1, 1);
    testnet_block(net, 0, 1, true); /* what node 0 sends waits, or is lost */
    testnet_join_via(net, 0, 1);
    testnet_run_for(net, 8500 * MS_US);
    packet held = run_until_sent(net, &cap, PEKO_MSG_CHALLENGE, 0, 0);
    cr_assert_eq(held.at_us, 0);
    const packet *last = last_sent(&cap, PEKO_MSG_CHALLENGE, 0);
    cr_assert_neq(challenge_nonce(last), challenge_nonce(&held),
                  "node 0 still challenges with the nonce it drew at 0 s");
    cr_assert_eq(cluster_replays(net), 0);

    /* Node 1 resumes: the first hello, held since 0 s, reaches it. */
    uint64_t echoes = testnet_sent_by(net, 1, PEKO_MSG_ECHO);
    testnet_inject(net, 1, testnet_addr(net, 0), held.bytes, held.n_bytes);
    cr_assert_eq(testnet_sent_by(net, 1, PEKO_MSG_ECHO), echoes + 1,
                 "node 1 did not answer the held hello");
    cr_assert_eq(challenge_nonce(last_sent(&cap, PEKO_MSG_ECHO, 1)),
                 challenge_nonce(&held));
    testnet_run_for(net, 5 * MS_US);
    cr_assert_eq(replays_of(net, 0), 1, "the late echo was not refused");
    cr_assert_not(testnet_has_full_list(net, 0, NULL));

    testnet_block(net, 0, 1, false);
    testnet_run_for(net, 3 * SECOND_US);
    cr_assert(testnet_converged(net));
    cr_assert_eq(cluster_replays(net), 1);
    g_free(held.bytes);
    capture_stop(&cap);
    testnet_free(net);
}
