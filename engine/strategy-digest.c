/* strategy-digest.c: membership without a packet per heartbeat
 * (strategy.h; docs/protocol.md, "digest").
 *
 * Each cycle a node increments its own heartbeat, and exchanges versions
 * with `exchanges` peers drawn at random: a swap request carrying a
 * digest, answered with what the requester lacks (antientropy.c). Its
 * heartbeat reaches the others by those exchanges, epidemically, as in
 * van Renesse, Minsky and Hayden's gossip-style failure detection; no
 * packet is sent per heartbeat. What must be known fast still spreads by
 * rumor: a node that joins, restarts, resumes after stop() or changes its
 * record announces itself with a heartbeat rumor, and metadata is
 * published by rumor. So the packets a node sends per cycle do not grow
 * with the cluster, and the timeout does, as the analysis prescribes
 * (membership.c, peko__digest_timeout_us).
 */
#include <errno.h>

#include "strategy.h"

/* ------------------------------------------------------------------ */
/* The timeout, scaled with the list (docs/theory.md, "digest").        */

/* A swap's fixed bytes and the requester's own entry, roughly: what the
 * digest's budgets leave out of Size. */
#define SWAP_OVERHEAD_BYTES 120
#define SHORT_ENTRY_BYTES 18
/* The wrong-removal probability the default timeout aims at: anywhere
 * in the cluster, within one timeout period. */
#define MISTAKE_LOG2_INV 10 /* p = 2^-10, about 10^-3 */

/* log2(x) in 16.16 fixed point, x >= 1, by repeated squaring: integer
 * arithmetic only, so every machine computes the same timeout. */
static uint64_t log2_q16(uint64_t x)
{
    unsigned ip = 63u - (unsigned)__builtin_clzll(x);
    __uint128_t y = (__uint128_t)x << (62 - ip); /* x / 2^ip in Q62 */
    uint64_t frac = 0;
    for (int bit = 15; bit >= 0; bit--) {
        y = (y * y) >> 62;
        if (y >= ((__uint128_t)2 << 62)) {
            y >>= 1;
            frac |= 1u << bit;
        }
    }
    return ((uint64_t)ip << 16) | frac;
}

#define LN2_Q16 45426u /* ln 2 in 16.16 */

static uint64_t div_ceil(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* The bytes of a swap left for entries, about. */
static uint64_t swap_room(uint32_t size)
{
    return size > SWAP_OVERHEAD_BYTES ? size - SWAP_OVERHEAD_BYTES
                                      : SHORT_ENTRY_BYTES;
}

/* The peers a request's range lists, about: three quarters of the room
 * in short entries (antientropy.c, request_range). */
static uint64_t range_entries(uint32_t size)
{
    uint64_t w = swap_room(size) * 3 / 4 / SHORT_ENTRY_BYTES;
    return w ? w : 1;
}

uint32_t peko__digest_timeout_cycles(uint64_t n_nodes, uint32_t size,
                                     uint32_t exchanges)
{
    if (n_nodes < 2)
        n_nodes = 2;
    uint64_t w = range_entries(size);
    uint64_t k = swap_room(size) / 4 / SHORT_ENTRY_BYTES; /* at-risk */
    if (k == 0)
        k = 1;
    /* Rounds for an entry to become one of the k a node asks about: the
     * k-th oldest of n entries each refreshed at rate r per round is
     * about ln(n / k) / r old, r = 2 e min(1, w / n) (a node takes part
     * in about 2e exchanges a round, each covering a range of w). */
    uint64_t to_risk = 0;
    if (n_nodes > k) {
        uint64_t ln_q16 = (log2_q16(n_nodes) - log2_q16(k)) * LN2_Q16 >> 16;
        uint64_t r_q16 = w >= n_nodes ? 2u * exchanges * 65536u
                                      : 2u * exchanges * (w << 16) / n_nodes;
        to_risk = div_ceil(ln_q16, r_q16);
    }
    /* Then each of its e asks a round fails at most half the time: a
     * wrong removal somewhere among n^2 pairs within a timeout takes
     * log2(n^2 / p) failed asks. */
    uint64_t asks = div_ceil(2 * log2_q16(n_nodes) +
                                 ((uint64_t)MISTAKE_LOG2_INV << 16),
                             (uint64_t)exchanges << 16);
    /* Plus the sweep's granularity and the round the heartbeat is made. */
    uint64_t cycles = to_risk + asks + 2;
    return cycles > UINT32_MAX ? UINT32_MAX : (uint32_t)cycles;
}

int64_t peko_digest_timeout_us(size_t n_nodes, const peko_config *config)
{
    peko_config c;
    if (peko_config_resolve(config, &c) < 0)
        return -EINVAL;
    return (int64_t)peko__digest_timeout_cycles(n_nodes, (uint32_t)c.size,
                                                (uint32_t)c.exchanges) *
           c.cycle_us;
}

static int64_t scaled_timeout_us(const peko_nodelist *nl)
{
    uint64_t n = (uint64_t)peko__peers_live(&nl->peers) + 1;
    return (int64_t)peko__digest_timeout_cycles(
               n, nl->size, (uint32_t)nl->config.exchanges) *
           nl->config.cycle_us;
}

/* ------------------------------------------------------------------ */

/* A sweeping node stops after this many sweeps in a row brought
 * nothing new. */
#define SWEEP_RETRIES 4

/* Announcements a node forwards a cycle, in fan-outs: 2 f^2 packets at
 * most (peko.h). With one fan-out a cycle, a cold start whose swaps each
 * carry a small part of the list (Size 1,024, 320 nodes) took 18 cycles
 * instead of 14; with two, 15, within log2 N + ln N
 * (tests/test-strategies.c). */
#define ANNOUNCE_FORWARDS ((uint32_t)PEKO_DIGEST_ANNOUNCE_FANOUTS)

static void digest_cycle(peko_nodelist *nl, int64_t now_us)
{
    nl->digest_forwards_left = ANNOUNCE_FORWARDS * (uint32_t)nl->config.amount;
    if (nl->running) {
        peko__msg msg;
        peko__heartbeat_next(nl, now_us, &msg);
        if (nl->announce) {
            nl->announce = false;
            peko__spread(nl, &msg, NULL, 0);
        }
    }

    /* Distinct peers, as many as asked and as there are. While the list
     * grows (a cold start, a partition healing, a wave of joins) the
     * records of the new nodes spread by the exchanges' pulls, whose
     * reach doubles per round only as fast as each node pulls: so a
     * node whose list grew last cycle exchanges at the fan-out
     * (`amount`) instead, and goes back to `exchanges` once nothing new
     * arrives. The steady state pays nothing; a cold start of 512 nodes
     * completes in 7 cycles where it took 13 (docs/protocol.md). */
    peko__ae_new_cycle(nl);
    uint32_t live = peko__peers_live(&nl->peers);
    uint32_t want = (uint32_t)nl->config.exchanges;
    uint32_t amount = (uint32_t)nl->config.amount;
    uint32_t grown = live > nl->digest_live_before
                         ? live - nl->digest_live_before
                         : 0;
    nl->digest_live_before = live;
    if (grown > 0 && amount > want)
        want = amount;
    /* A list that grew by more than a fan-out's worth (a cold start, a
     * wave of joins, a partition healing; not a join or two) lacks peers
     * anywhere on the ring, and each request's range covers only about
     * w of the peers it lists: beyond a few thousand peers, `amount`
     * requests would sweep the list once in several cycles, and the
     * last records would arrive one sweep after another (a cold start of N
     * nodes took about N / 140 cycles). Such a node sweeps its whole
     * list each cycle instead, until SWEEP_RETRIES sweeps in a row bring
     * nothing new (one may have asked a responder that lacked it). Below
     * amount x w peers (2,040 at the defaults) this asks no more than
     * before. */
    if (grown > amount || (grown > 0 && nl->digest_sweeps_left > 0))
        nl->digest_sweeps_left = SWEEP_RETRIES;
    if (nl->digest_sweeps_left > 0) {
        nl->digest_sweeps_left--;
        uint64_t sweep = ((uint64_t)live + range_entries(nl->size) - 1) /
                         range_entries(nl->size);
        if (sweep > want)
            want = sweep > PEKO__AE_OUTSTANDING ? PEKO__AE_OUTSTANDING
                                                : (uint32_t)sweep;
    }
    if (want > PEKO__AE_OUTSTANDING)
        want = PEKO__AE_OUTSTANDING;
    /* Besides, the gaps in the list that answers cut short left or that
     * packets named, each asked of the peer that holds what is missing
     * (antientropy.c), as room for requests allows. */
    peko__ae_request_gaps(nl, PEKO__AE_OUTSTANDING - want);
    uint32_t chosen[PEKO__AE_OUTSTANDING];
    uint32_t n = peko__draw_distinct_peers(nl, want, chosen, 0);
    for (uint32_t k = 0; k < n; k++)
        peko__ae_request(nl, chosen[k]);
    peko__reconnect_cycle(nl, now_us);
}

/* A heartbeat rumor is an announcement (a join, a restart, a changed
 * record), forwarded once by each node that takes it: f packets a node
 * for each. A cold start of N nodes, or any wave of joins, is then N
 * announcements and up to f N^2 packets within a few cycles: a burst at
 * every node that grows with the cluster (2,700 packets a node in a
 * 10,000-node cold start; 1,024 nodes on one machine's loopback fell a
 * second behind and took 17 s to complete their lists).
 * So a node forwards at most ANNOUNCE_FORWARDS x `amount` announcements
 * a cycle and only takes the others: in a wave of joins the records
 * spread by the exchanges, which sweep a list that grows (digest_cycle),
 * and a join or two at a time is forwarded as before. Metadata rumors
 * are forwarded as in the other strategies. */
static void digest_rumor_first(peko_nodelist *nl, const peko__msg *m)
{
    if (m->type == PEKO_MSG_HEARTBEAT) {
        if (nl->digest_forwards_left == 0) {
            nl->stats.announcements_held++;
            return;
        }
        nl->digest_forwards_left--;
    }
    peko__forward(nl, m);
}

const peko__strategy peko__strategy_digest = {
    .id = PEKO_DISSEMINATION_DIGEST,
    .name = "digest",
    .cycle = digest_cycle,
    .rumor_first = digest_rumor_first,
    .rumor_copy = peko__ignore,
    .swap_request = peko__ae_on_request,
    .swap_response = peko__ae_on_response,
    .ordered = true,
    .pushes_news = true,
    .fills_gaps = true,
    .random_phase = true,
    .scaled_timeout_us = scaled_timeout_us,
};
