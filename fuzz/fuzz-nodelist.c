/* fuzz-nodelist.c: libFuzzer target for the engine as a state machine
 * (every source of engine/): one node list, driven through its public
 * inputs by an arbitrary program.
 *
 * The input's first bytes choose the configuration (strategy, Size, a
 * key, a small member bound); the rest is a sequence of operations, each
 * a byte and its arguments:
 *   - the cycle timer fires (time moves to its deadline), or time moves
 *     on by up to 2.5 s and the timer fires if it is due;
 *   - a packet arrives: a heartbeat, metadata, swap request or response
 *     (with digest entries), challenge or echo, each *built by the
 *     encoder* from fields the input picks (origins and senders among a
 *     few addresses, versions, hops, infected sets, records, freshness
 *     fields, signed with the node's key or not), so that mutations reach
 *     the state machine beyond the decoder; or raw bytes;
 *   - a local call: publish, stop, start, set, set_keys.
 * The fake environment (as tests/testenv.c is for the unit tests) has a
 * virtual clock, one timer per id, a seeded random stream, and a send()
 * that only looks at what leaves.
 *
 * Checked after every operation (abort() on failure, beside the
 * sanitizers' checks): no packet sent is larger than Size; the list holds
 * at most max_members peers besides the local node, lists the local node
 * exactly once, and get() agrees with count() and is strictly ordered; a
 * running node's metadata version never goes back; a send never happens
 * from inside another (the env contract). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "peko.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_ADDRS 12              /* addresses packets talk about */
#define MAX_MEMBERS 6           /* a small bound, so that it is reached */
#define WALL_BASE_US 1700000000000000LL

/* ------------------------------------------------------------------ */
/* The input, read from the front.                                      */

typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

static uint8_t u8(input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static uint16_t u16(input *in)
{
    return (uint16_t)(u8(in) << 8 | u8(in));
}

static uint32_t u32(input *in)
{
    return (uint32_t)u16(in) << 16 | u16(in);
}

static uint64_t u64(input *in)
{
    return (uint64_t)u32(in) << 32 | u32(in);
}

/* Up to n bytes, borrowed from the input. */
static const uint8_t *take(input *in, size_t n, size_t *got)
{
    *got = n < in->left ? n : in->left;
    const uint8_t *p = in->p;
    in->p += *got;
    in->left -= *got;
    return p;
}

/* ------------------------------------------------------------------ */
/* The fake environment.                                                */

typedef struct fake {
    peko_env env;
    int64_t now_us;
    int64_t deadline_us[PEKO_TIMER_COUNT]; /* -1: not armed */
    uint64_t random;
    size_t size;        /* the node's Size */
    bool in_send;
} fake;

static int64_t fake_now(peko_env *env)
{
    return ((fake *)env->user)->now_us;
}

static int64_t fake_wall(peko_env *env)
{
    return WALL_BASE_US + ((fake *)env->user)->now_us;
}

static int fake_arm(peko_env *env, peko_timer timer, int64_t deadline_us)
{
    fake *f = env->user;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        abort();
    f->deadline_us[timer] = deadline_us;
    return 0;
}

static void fake_cancel(peko_env *env, peko_timer timer)
{
    fake *f = env->user;
    if ((unsigned)timer >= PEKO_TIMER_COUNT)
        abort();
    f->deadline_us[timer] = -1;
}

static int fake_send(peko_env *env, const peko_addr *to, const uint8_t *bytes,
                     size_t n_bytes)
{
    fake *f = env->user;
    (void)to;
    if (f->in_send || n_bytes > f->size || (n_bytes > 0 && bytes == NULL))
        abort(); /* re-entered, or a packet above Size */
    f->in_send = true;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n_bytes; i++)
        sink ^= bytes[i]; /* every byte is readable */
    (void)sink;
    f->in_send = false;
    return 0;
}

static uint64_t fake_random(peko_env *env)
{
    fake *f = env->user;
    uint64_t z = (f->random += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------ */
/* Building packets with the encoder.                                   */

static peko_addr addrs[N_ADDRS]; /* [0] is the node itself */
static fake *current;            /* the run's environment */

static void setup(void)
{
    if (addrs[0].family)
        return;
    for (int i = 0; i < N_ADDRS; i++) {
        char host[32];
        snprintf(host, sizeof host, "10.0.0.%d", i + 1);
        if (peko_addr_parse(host, 8000, &addrs[i]) != 0)
            abort();
    }
}

static const peko_addr *pick_addr(input *in)
{
    return &addrs[u8(in) % N_ADDRS];
}

/* An ascending infected set of up to 8 fingerprints of our addresses. */
static uint32_t infected_set(input *in, uint8_t *out)
{
    uint32_t fps[N_ADDRS];
    uint8_t mask = u8(in);
    uint32_t n = 0;
    for (int i = 0; i < N_ADDRS && i < 8; i++)
        if (mask & (1u << i))
            fps[n++] = peko_addr_fingerprint(&addrs[i]);
    /* Ascending, no repeats (fingerprints of distinct addresses may
     * collide in principle: then the set is simply rejected). */
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && fps[j - 1] > fps[j]; j--) {
            uint32_t t = fps[j];
            fps[j] = fps[j - 1];
            fps[j - 1] = t;
        }
    for (uint32_t i = 0; i < n; i++) {
        out[4 * i] = (uint8_t)(fps[i] >> 24);
        out[4 * i + 1] = (uint8_t)(fps[i] >> 16);
        out[4 * i + 2] = (uint8_t)(fps[i] >> 8);
        out[4 * i + 3] = (uint8_t)fps[i];
    }
    return n;
}

/* Digest entries: up to 8, with records or not. */
static void entries(input *in, peko__msg *m, uint8_t *buf, size_t cap)
{
    uint8_t n = u8(in) % 9;
    uint8_t *p = buf;
    for (uint8_t k = 0; k < n; k++) {
        size_t name_len, data_len;
        peko__entry e = {
            .addr = *pick_addr(in),
            .incarnation = u8(in) % 4,
            .seq = u16(in) % 64,
            .rev = u8(in) % 4,
        };
        e.full = u8(in) & 1;
        if (e.full) {
            e.name = take(in, u8(in) % 16, &name_len);
            e.name_len = (uint16_t)name_len;
            e.data = take(in, u8(in) % 16, &data_len);
            e.data_len = (uint16_t)data_len;
        }
        if ((size_t)(p - buf) + peko__entry_bytes(&e) > cap)
            break;
        p = peko__entry_write(p, &e);
        m->n_entries++;
    }
    m->entries = buf;
    m->entries_len = (uint32_t)(p - buf);
}

/* A packet of the type the input says, built from its fields and
 * encoded (signed with `keys` when it has a sending key); its length,
 * or 0 when it could not be encoded. */
static size_t build(input *in, const peko__keyring *keys, uint8_t *out,
                    size_t cap)
{
    static uint8_t set[4 * 8], digest[1024];
    peko__msg m;
    memset(&m, 0, sizeof m);
    m.type = (peko_msg_type)(1 + u8(in) % (PEKO_MSG_TYPE_COUNT - 1));
    m.sender = *pick_addr(in);
    m.hops = u8(in) % 8;
    size_t n;
    switch (m.type) {
    case PEKO_MSG_HEARTBEAT:
        m.origin = *pick_addr(in);
        m.incarnation = u8(in) % 4;
        m.seq = u16(in) % 64;
        m.rev = u8(in) % 4;
        m.name = take(in, u8(in) % 24, &n);
        m.name_len = (uint16_t)n;
        m.data = take(in, u8(in) % 24, &n);
        m.data_len = (uint16_t)n;
        m.n_infected = infected_set(in, set);
        m.infected = set;
        break;
    case PEKO_MSG_METADATA:
        m.version.counter = u8(in) % 8;
        m.version.origin = *pick_addr(in);
        m.meta = take(in, u8(in) % 64, &n);
        m.meta_len = (uint32_t)n;
        m.n_infected = infected_set(in, set);
        m.infected = set;
        break;
    case PEKO_MSG_SWAP_REQUEST:
    case PEKO_MSG_SWAP_RESPONSE:
        m.version.counter = u8(in) % 8;
        m.version.origin = *pick_addr(in);
        m.sent_us = u8(in) & 1 ? (uint64_t)(WALL_BASE_US + current->now_us) : 0;
        m.echo_us = u8(in) & 1 ? u64(in) : 0;
        m.has_meta = u8(in) & 1;
        if (m.has_meta) {
            m.meta = take(in, u8(in) % 64, &n);
            m.meta_len = (uint32_t)n;
        }
        m.has_range = u8(in) & 1;
        if (m.has_range) {
            m.range_first = u32(in);
            m.range_last = u32(in);
        }
        entries(in, &m, digest, sizeof digest);
        break;
    default: /* challenge, echo */
        m.nonce = u64(in);
        break;
    }
    m.auth_incarnation = u8(in) % 4;
    m.auth_receiver = u8(in) & 1 ? u32(in) : 0;
    m.auth_number = (uint64_t)WALL_BASE_US + u32(in);
    return peko__wire_encode(&m, keys, out, cap);
}

/* ------------------------------------------------------------------ */
/* The invariants.                                                      */

typedef struct state {
    peko_version meta;      /* the newest metadata version seen */
} state;

static void check(peko_nodelist *nl, state *st)
{
    size_t count = peko_nodelist_count(nl);
    if (count < 1 || count > MAX_MEMBERS + 1)
        abort();
    peko_node_array list;
    peko_nodelist_get(nl, &list);
    if (list.count != count)
        abort();
    size_t self = 0;
    peko_addr prev;
    for (size_t i = 0; i < list.count; i++) {
        peko_addr a;
        if (peko_addr_parse(list.nodes[i].addr, list.nodes[i].port, &a) != 0)
            abort();
        if (i > 0 && peko_addr_compare(&prev, &a) >= 0)
            abort(); /* out of order, or twice */
        self += peko_addr_equal(&a, &addrs[0]);
        prev = a;
    }
    peko_node_array_clear(&list);
    if (self != 1)
        abort();
    peko_version v;
    peko_nodelist_metadata_version(nl, &v);
    if (peko_version_compare(&v, &st->meta) < 0)
        abort(); /* metadata went back */
    st->meta = v;
    size_t n;
    const uint8_t *meta = peko_nodelist_read(nl, &n);
    if (v.counter == 0 && (meta != NULL || n != 0))
        abort(); /* bytes without a version */
}

/* ------------------------------------------------------------------ */

static void fire_due(peko_nodelist *nl, fake *f)
{
    for (int t = 0; t < PEKO_TIMER_COUNT; t++)
        if (f->deadline_us[t] >= 0 && f->deadline_us[t] <= f->now_us) {
            f->deadline_us[t] = -1;
            peko_nodelist_on_timer(nl, (peko_timer)t);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    input in = {data, size};
    static const int sizes[] = {16384, 2048, 512, 256};
    uint8_t how = u8(&in);
    peko_config config = {0};
    config.dissemination = (peko_dissemination)(how % 3);
    config.size = sizes[(how >> 2) & 3];
    config.cycle_us = 1000000;
    config.max_members = MAX_MEMBERS;
    config.seen_cache = 64;
    config.amount = 1 + (how >> 5) % 3;
    bool keyed = how & 0x80;
    if (keyed)
        config.secret_key = FUZZ_KEY;

    fake f = {
        .env =
            {
                .version = PEKO_ENV_VERSION,
                .now_us = fake_now,
                .timer_arm = fake_arm,
                .timer_cancel = fake_cancel,
                .send = fake_send,
                .random_u64 = fake_random,
                .wall_us = fake_wall,
            },
        .random = u64(&in),
        .size = (size_t)config.size,
    };
    f.env.user = &f;
    for (int t = 0; t < PEKO_TIMER_COUNT; t++)
        f.deadline_us[t] = -1;
    current = &f;
    peko_node self = {.addr = "10.0.0.1", .port = 8000, .name = "fuzz",
                      .private_data = "d"};
    peko_nodelist *nl;
    if (peko_nodelist_new(&config, &self, &f.env, &nl) != 0)
        abort();
    /* The keyring the input's packets are signed with: the node's key, or
     * none (then they are unsigned, and a keyed node refuses them). */
    peko__keyring *keys = peko__keyring_new();
    if ((u8(&in) & 1) && peko__keyring_set(keys, FUZZ_KEY, NULL, 0) != 0)
        abort();
    peko_node seed = {.addr = "10.0.0.2", .port = 8000};
    if (peko_nodelist_set(nl, &seed) != 0 || peko_nodelist_join(nl) != 0)
        abort();
    state st = {0};
    check(nl, &st);

    static uint8_t packet[FUZZ_MAX_BYTES];
    for (int ops = 0; in.left > 0 && ops < 4096; ops++) {
        uint8_t op = u8(&in);
        switch (op % 10) {
        case 0: /* the timer fires */
            for (int t = 0; t < PEKO_TIMER_COUNT; t++)
                if (f.deadline_us[t] > f.now_us)
                    f.now_us = f.deadline_us[t];
            fire_due(nl, &f);
            break;
        case 1: /* time passes */
            f.now_us += (int64_t)u8(&in) * 10000;
            fire_due(nl, &f);
            break;
        case 2:
        case 3:
        case 4:
        case 5: { /* a packet built by the encoder */
            const peko_addr *from = pick_addr(&in);
            size_t n = build(&in, keys, packet, sizeof packet);
            if (n > 0)
                peko_nodelist_on_packet(nl, from, packet, n);
            break;
        }
        case 6: { /* raw bytes */
            const peko_addr *from = pick_addr(&in);
            size_t n;
            const uint8_t *raw = take(&in, u16(&in) % (FUZZ_MAX_BYTES + 64),
                                      &n);
            /* A copy: the engine must not rely on bytes past n. */
            uint8_t *copy = malloc(n ? n : 1);
            memcpy(copy, raw, n);
            peko_nodelist_on_packet(nl, from, copy, n);
            free(copy);
            break;
        }
        case 7: { /* publish */
            size_t n;
            const uint8_t *blob = take(&in, u16(&in) % (FUZZ_MAX_BYTES + 64),
                                       &n);
            peko_version before;
            peko_nodelist_metadata_version(nl, &before);
            int rc = peko_nodelist_publish(nl, blob, n);
            peko_version after;
            peko_nodelist_metadata_version(nl, &after);
            if (rc == 0 && peko_version_compare(&after, &before) <= 0)
                abort(); /* a publish that took must be newer */
            break;
        }
        case 8: /* stop or start */
            if (u8(&in) & 1)
                peko_nodelist_stop(nl);
            else
                peko_nodelist_start(nl);
            break;
        default: { /* set() a node, or a new keyring */
            uint8_t which = u8(&in);
            if (which & 1) {
                char host[PEKO_HOST_STRLEN];
                const peko_addr *a = pick_addr(&in);
                peko_addr_host(a, host);
                peko_node node = {.addr = host, .port = a->port,
                                  .name = "set"};
                peko_nodelist_set(nl, &node);
            } else if (keyed) {
                static const char *const old[] = {"old-key"};
                peko_nodelist_set_keys(nl, FUZZ_KEY, which & 2 ? old : NULL,
                                       which & 2 ? 1 : 0);
            }
            break;
        }
        }
        check(nl, &st);
    }
    peko_nodelist_free(nl);
    peko__keyring_free(keys);
    current = NULL;
    return 0;
}
