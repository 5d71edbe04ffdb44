/* testenv.c: the in-memory network of tests/testenv.h. */
#include "testenv.h"

#include <string.h>

#include "model.h"

#define TESTNET_BASE_PORT 9000

typedef enum { EV_DELIVER, EV_TIMER } ev_kind;

typedef struct tn_event {
    int64_t time_us;       /* virtual time */
    uint64_t seq;          /* insertion order breaks ties */
    ev_kind kind;
    size_t node;
    peko_addr from;        /* EV_DELIVER */
    uint8_t *bytes;        /* EV_DELIVER, owned */
    size_t n_bytes;
    peko_timer timer;      /* EV_TIMER */
    uint64_t generation;   /* EV_TIMER: stale when it differs */
} tn_event;

typedef struct tn_node {
    testnet *net;
    size_t index;
    peko_env env;
    peko_nodelist *nl;
    peko_addr addr;
    int64_t clock_offset_us;
    model_stream rng;   /* the simulator's engine stream of node index */
    uint64_t timer_generation[PEKO_TIMER_COUNT];
    uint64_t sent[PEKO_MSG_TYPE_COUNT];
    GPtrArray *lines;
    char name[32];
    char data[32];
    uint32_t incarnation; /* of the latest engine */
} tn_node;

struct testnet {
    size_t n;
    size_t max_sent_bytes; /* the largest packet any node sent */
    tn_node *nodes;
    peko_config config;
    uint64_t seed;
    int64_t now_us;
    int64_t latency_us;
    uint64_t next_seq;
    GSequence *queue;      /* of tn_event*, ordered by (time, seq) */
    bool *blocked;         /* n*n: [from*n + to] */
    testnet_tap_fn tap;    /* sees every packet sent, or NULL */
    void *tap_user;
    double loss;           /* probability that a packet is lost */
    model_stream loss_rng; /* the loss draws, from the seed */
    uint64_t delivered[PEKO_MSG_TYPE_COUNT];
};

static gint event_cmp(gconstpointer a, gconstpointer b, gpointer user)
{
    const tn_event *x = a, *y = b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static void event_free(gpointer p)
{
    tn_event *ev = p;
    g_free(ev->bytes);
    g_free(ev);
}

static void enqueue(testnet *net, tn_event *ev)
{
    ev->seq = net->next_seq++;
    g_sequence_insert_sorted(net->queue, ev, event_cmp, NULL);
}

static int64_t env_now_us(peko_env *env)
{
    tn_node *node = env->user;
    return node->net->now_us + node->clock_offset_us;
}

static int env_timer_arm(peko_env *env, peko_timer timer, int64_t deadline_us)
{
    tn_node *node = env->user;
    tn_event *ev = g_new0(tn_event, 1);
    ev->kind = EV_TIMER;
    ev->node = node->index;
    ev->timer = timer;
    ev->generation = ++node->timer_generation[timer];
    /* The node's deadline is on its own clock. */
    ev->time_us = deadline_us - node->clock_offset_us;
    if (ev->time_us < node->net->now_us)
        ev->time_us = node->net->now_us;
    enqueue(node->net, ev);
    return 0;
}

static void env_timer_cancel(peko_env *env, peko_timer timer)
{
    tn_node *node = env->user;
    node->timer_generation[timer]++;
}

static int env_send(peko_env *env, const peko_addr *to, const uint8_t *bytes,
                    size_t n_bytes)
{
    tn_node *node = env->user;
    testnet *net = node->net;
    node->sent[peko_wire_type(bytes, n_bytes)]++;
    if (net->tap)
        net->tap(net->tap_user, node->index, to, bytes, n_bytes);
    if (n_bytes > net->max_sent_bytes)
        net->max_sent_bytes = n_bytes;
    if (to->family != PEKO_AF_INET4 || to->ip[0] != 127 ||
        to->port < TESTNET_BASE_PORT ||
        to->port >= TESTNET_BASE_PORT + net->n)
        return 0; /* nobody there: lost, like UDP */
    size_t dst = to->port - TESTNET_BASE_PORT;
    if (net->blocked[node->index * net->n + dst])
        return 0;
    if (net->loss > 0 && model_stream_double(&net->loss_rng) < net->loss)
        return 0;
    tn_event *ev = g_new0(tn_event, 1);
    ev->kind = EV_DELIVER;
    ev->node = dst;
    ev->from = node->addr;
    ev->bytes = g_memdup2(bytes, n_bytes);
    ev->n_bytes = n_bytes;
    ev->time_us = net->now_us + net->latency_us;
    enqueue(net, ev);
    return 0;
}

static uint64_t env_random_u64(peko_env *env)
{
    tn_node *node = env->user;
    return model_stream_u64(&node->rng);
}

/* As the simulator's: a copy of the stream, run ahead. */
static uint64_t env_random_peek(peko_env *env, unsigned k)
{
    tn_node *node = env->user;
    return model_stream_peek(&node->rng, k);
}

static void env_print(peko_env *env, const char *line)
{
    tn_node *node = env->user;
    g_ptr_array_add(node->lines, g_strdup(line));
}

/* The test network's wall clock: an epoch plus the node's clock. */
#define TESTNET_EPOCH_US (1700000000LL * 1000000LL)

static int64_t env_wall_us(peko_env *env)
{
    return TESTNET_EPOCH_US + env_now_us(env);
}

static void node_create(testnet *net, size_t i, const peko_config *config)
{
    tn_node *node = &net->nodes[i];
    peko_node local = {
        .addr = "127.0.0.1",
        .port = (uint16_t)(TESTNET_BASE_PORT + i),
        .name = node->name,
        .private_data = node->data,
    };
    /* A restart in the same millisecond still gets a greater
     * incarnation, as a real restart (which takes longer) would. */
    peko_config c = config ? *config : (peko_config){0};
    if (c.incarnation == 0) {
        uint32_t inc = (uint32_t)(env_wall_us(&node->env) / 1000);
        if (node->incarnation != 0 &&
            (int32_t)(inc - node->incarnation) <= 0)
            inc = node->incarnation + 1;
        c.incarnation = inc ? inc : 1;
    }
    node->incarnation = c.incarnation;
    int rc = peko_nodelist_new(&c, &local, &node->env, &node->nl);
    g_assert_cmpint(rc, ==, 0);
}

testnet *testnet_new(size_t n, const peko_config *config, uint64_t seed)
{
    testnet *net = g_new0(testnet, 1);
    net->n = n;
    net->nodes = g_new0(tn_node, n);
    if (config)
        net->config = *config;
    net->seed = seed;
    net->latency_us = 1000;
    net->queue = g_sequence_new(NULL); /* events freed by hand */
    net->blocked = g_new0(bool, n * n);
    for (size_t i = 0; i < n; i++) {
        tn_node *node = &net->nodes[i];
        node->net = net;
        node->index = i;
        model_node_stream(&node->rng, seed, MODEL_STREAM_ENGINE, (uint32_t)i);
        node->lines = g_ptr_array_new_with_free_func(g_free);
        g_snprintf(node->name, sizeof node->name, "node-%zu", i);
        g_snprintf(node->data, sizeof node->data, "data-%zu", i);
        node->env = (peko_env){
            .version = PEKO_ENV_VERSION,
            .user = node,
            .now_us = env_now_us,
            .timer_arm = env_timer_arm,
            .timer_cancel = env_timer_cancel,
            .send = env_send,
            .random_u64 = env_random_u64,
            .random_peek = env_random_peek,
            .print = env_print,
            .wall_us = env_wall_us,
        };
        peko_addr_parse("127.0.0.1", (uint16_t)(TESTNET_BASE_PORT + i),
                        &node->addr);
        node_create(net, i, config);
    }
    return net;
}

void testnet_free(testnet *net)
{
    if (net == NULL)
        return;
    for (size_t i = 0; i < net->n; i++) {
        peko_nodelist_free(net->nodes[i].nl);
        g_ptr_array_free(net->nodes[i].lines, TRUE);
    }
    GSequenceIter *it = g_sequence_get_begin_iter(net->queue);
    for (; !g_sequence_iter_is_end(it); it = g_sequence_iter_next(it))
        event_free(g_sequence_get(it));
    g_sequence_free(net->queue);
    g_free(net->blocked);
    g_free(net->nodes);
    g_free(net);
}

size_t testnet_size(const testnet *net)
{
    return net->n;
}

peko_nodelist *testnet_node(testnet *net, size_t i)
{
    return net->nodes[i].nl;
}

const peko_addr *testnet_addr(const testnet *net, size_t i)
{
    return &net->nodes[i].addr;
}

int64_t testnet_now_us(const testnet *net)
{
    return net->now_us;
}

void testnet_set_latency_us(testnet *net, int64_t latency_us)
{
    net->latency_us = latency_us;
}

void testnet_set_clock_offset(testnet *net, size_t i, int64_t offset_us)
{
    net->nodes[i].clock_offset_us = offset_us;
}

void testnet_set_loss(testnet *net, double loss)
{
    net->loss = loss;
    model_node_stream(&net->loss_rng, net->seed, MODEL_STREAM_LOSS,
                      UINT32_MAX);
}

void testnet_block(testnet *net, size_t from, size_t to, bool blocked)
{
    net->blocked[from * net->n + to] = blocked;
}

void testnet_partition(testnet *net, size_t split, bool blocked)
{
    for (size_t a = 0; a < split; a++)
        for (size_t b = split; b < net->n; b++) {
            testnet_block(net, a, b, blocked);
            testnet_block(net, b, a, blocked);
        }
}

void testnet_join_via(testnet *net, size_t i, size_t seed_node)
{
    tn_node *seed = &net->nodes[seed_node];
    if (i != seed_node) {
        peko_node node = {.addr = "127.0.0.1",
                          .port = seed->addr.port,
                          .name = seed->name,
                          .private_data = seed->data};
        g_assert_cmpint(peko_nodelist_set(net->nodes[i].nl, &node), ==, 0);
    }
    g_assert_cmpint(peko_nodelist_join(net->nodes[i].nl), ==, 0);
}

void testnet_join_all(testnet *net)
{
    for (size_t i = 0; i < net->n; i++)
        testnet_join_via(net, i, 0);
}

void testnet_restart(testnet *net, size_t i, const peko_config *config)
{
    tn_node *node = &net->nodes[i];
    peko_nodelist_free(node->nl);
    node->nl = NULL;
    for (size_t t = 0; t < PEKO_TIMER_COUNT; t++)
        node->timer_generation[t]++;
    node_create(net, i, config ? config : &net->config);
}

void testnet_crash(testnet *net, size_t i)
{
    tn_node *node = &net->nodes[i];
    peko_nodelist_free(node->nl);
    node->nl = NULL;
    for (size_t t = 0; t < PEKO_TIMER_COUNT; t++)
        node->timer_generation[t]++;
}

size_t testnet_max_sent_bytes(const testnet *net)
{
    return net->max_sent_bytes;
}

void testnet_run_for(testnet *net, int64_t duration_us)
{
    int64_t end_us = net->now_us + duration_us;
    for (;;) {
        GSequenceIter *it = g_sequence_get_begin_iter(net->queue);
        if (g_sequence_iter_is_end(it))
            break;
        tn_event *ev = g_sequence_get(it);
        if (ev->time_us > end_us)
            break;
        g_sequence_remove(it);
        net->now_us = ev->time_us;
        tn_node *node = &net->nodes[ev->node];
        if (node->nl == NULL) {
            /* Crashed: nothing runs, nothing is read. */
        } else if (ev->kind == EV_TIMER) {
            if (ev->generation == node->timer_generation[ev->timer])
                peko_nodelist_on_timer(node->nl, ev->timer);
        } else {
            net->delivered[peko_wire_type(ev->bytes, ev->n_bytes)]++;
            peko_nodelist_on_packet(node->nl, &ev->from, ev->bytes,
                                    ev->n_bytes);
        }
        event_free(ev);
    }
    net->now_us = end_us;
}

void testnet_inject(testnet *net, size_t i, const peko_addr *from,
                    const uint8_t *bytes, size_t n_bytes)
{
    peko_nodelist_on_packet(net->nodes[i].nl, from, bytes, n_bytes);
}

void testnet_set_tap(testnet *net, testnet_tap_fn tap, void *user)
{
    net->tap = tap;
    net->tap_user = user;
}

uint64_t testnet_delivered(const testnet *net, peko_msg_type type)
{
    return net->delivered[type];
}

uint64_t testnet_sent_by(const testnet *net, size_t i, peko_msg_type type)
{
    return net->nodes[i].sent[type];
}

GPtrArray *testnet_lines(testnet *net, size_t i)
{
    return net->nodes[i].lines;
}

bool testnet_has_full_list(testnet *net, size_t i, const bool *excluded)
{
    size_t expected = 0;
    for (size_t j = 0; j < net->n; j++) {
        bool out = excluded && excluded[j];
        if (!out)
            expected++;
        if (peko_nodelist_contains(net->nodes[i].nl, &net->nodes[j].addr) ==
            out)
            return false;
    }
    return peko_nodelist_count(net->nodes[i].nl) == expected;
}

bool testnet_converged(testnet *net)
{
    for (size_t i = 0; i < net->n; i++)
        if (!testnet_has_full_list(net, i, NULL))
            return false;
    return true;
}
