/* spread.c: choosing targets and sending rumors to them.
 *
 * Every strategy spreads rumors the same way: up to `amount` peers drawn
 * uniformly at random from the node's own stream, among those whose
 * fingerprint is not in the rumor's infected set, and the same bytes to
 * each (DESIGN.md section 3; the set's bound: docs/wire.md).
 */
#include <string.h>

#include "strategy.h"

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire). */
uint64_t peko__random_below(peko_nodelist *nl, uint64_t n)
{
    uint64_t x = nl->env->random_u64(nl->env);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            x = nl->env->random_u64(nl->env);
            m = (__uint128_t)x * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

#define PREFETCH_DRAWS 4 /* coming draws peko__prefetch_draws fetches */

/* The entries the next draws would pick, fetched: peko__draw_peer_entry()
 * without tombstones takes one value a draw, (x n) >> 64, and redraws
 * only on a rare bias rejection, so the values the environment will hand
 * out next name the entries of a forward's targets. A guess that comes
 * out wrong (a rejection, a draw in between) costs a useless fetch; the
 * stream itself is not touched. */
void peko__prefetch_draws(const peko_nodelist *nl)
{
    const peko_env *env = nl->env;
    const peko__peers *ps = &nl->peers;
    if (env->version < 4 || env->random_peek == NULL || ps->n == 0 ||
        peko__peers_dead(ps) != 0)
        return;
    unsigned n = (unsigned)MIN(nl->amount, PREFETCH_DRAWS);
    for (unsigned k = 0; k < n; k++) {
        uint64_t x = env->random_peek(nl->env, k);
        uint32_t e = (uint32_t)(((__uint128_t)x * ps->n) >> 64);
        __builtin_prefetch(peko__peers_entry(ps, e));
    }
}

/* ------------------------------------------------------------------ */
/* Rumor spreading: fan-out to uninfected peers.                        */

static bool is_picked(const uint32_t *picked, size_t n, uint32_t index)
{
    for (size_t i = 0; i < n; i++)
        if (picked[i] == index)
            return true;
    return false;
}

static bool is_infected(const peko__peers *ps, const peko__peer *peer,
                        const uint8_t *set, uint32_t n_set)
{
    return n_set &&
           peko__wire_set_contains(set, n_set, peko__peer_fp(ps, peer));
}

/* Grows the pick scratch to hold `need` entries (grow only). */
void peko__ensure_pick_scratch(peko_nodelist *nl, size_t need)
{
    if (nl->pick_scratch_cap >= need)
        return;
    size_t cap = nl->pick_scratch_cap ? nl->pick_scratch_cap : 32;
    while (cap < need)
        cap *= 2;
    nl->pick_scratch = g_renew(uint32_t, nl->pick_scratch, cap);
    nl->pick_scratch_cap = cap;
}

#define PICK_BATCH 16 /* draws fetched together by pick_targets */
#define REDRAW_MAX 64 /* tombstones drawn before draw_peer_entry counts
                       * its way to a live peer instead */

/* An entry drawn uniformly among the live peers (there is one). Entries
 * are dense, numbered 0 to n - 1, so without tombstones a draw is one
 * random number and reads nothing: a forward's targets cost one fetch
 * each, of the entry, where drawing an index slot cost two, the slot and
 * then the entry it names. A tombstone is drawn again; a table may hold
 * many (a node back from a partition), so after REDRAW_MAX of them the
 * peer is chosen exactly instead: the r-th live entry, r drawn among
 * them. Whether that happens does not depend on which peer would have
 * come out, so each is equally likely either way. */
uint32_t peko__draw_peer_entry(peko_nodelist *nl)
{
    const peko__peers *ps = &nl->peers;
    if (peko__peers_dead(ps) == 0)
        return (uint32_t)peko__random_below(nl, ps->n);
    for (int k = 0; k < REDRAW_MAX; k++) {
        uint32_t e = (uint32_t)peko__random_below(nl, ps->n);
        if (!peko__peer_is_dead(peko__peers_entry(ps, e)))
            return e;
    }
    uint64_t r = peko__random_below(nl, peko__peers_live(ps));
    uint32_t e = 0;
    for (;; e++)
        if (!peko__peer_is_dead(peko__peers_entry(ps, e)) && r-- == 0)
            break;
    return e;
}

uint32_t peko__draw_distinct_peers(peko_nodelist *nl, uint32_t want,
                                   uint32_t *out, uint32_t given)
{
    uint32_t live = peko__peers_live(&nl->peers);
    if (want > live)
        want = live;
    uint32_t n = given;
    for (uint32_t tries = 4 * want + 8; n < want && tries > 0; tries--) {
        uint32_t e = peko__draw_peer_entry(nl);
        uint32_t k = 0;
        while (k < n && out[k] != e)
            k++;
        if (k == n)
            out[n++] = e;
    }
    return n;
}

/* Picks up to `amount` peers, uniformly at random without replacement,
 * among those whose fingerprint is not in the carried infected set. Writes
 * their entry numbers to nl->pick_scratch and returns how many.
 *
 * The carried set holds the path the rumor took (a few entries per hop),
 * so most peers are eligible and rejection sampling finds targets in a
 * few draws. When it does not, the eligible peers are listed and sampled
 * exactly; both phases draw uniformly among the eligible peers not yet
 * picked, so together they are uniform sampling without replacement. */
static size_t pick_targets(peko_nodelist *nl, const uint8_t *set,
                           uint32_t n_set)
{
    size_t want = nl->amount;
    uint32_t *picked = nl->pick_scratch; /* holds `want` (creation) */
    size_t n_picked = 0;
    uint32_t n = peko__peers_live(&nl->peers);
    const peko__peers *ps = &nl->peers;
    if (n == 0)
        return 0;

    /* Draws come in batches of what is still wanted, and the drawn
     * entries are fetched together before any is looked at: in a large
     * list each is a cache miss, and this way they overlap. (The shared
     * records the entries name, whose fingerprints the infected set is
     * checked against, are one per node of the cluster, not per node
     * list, and mostly in cache.) Drawing ahead changes no draw: a batch
     * holds at most the picks still wanted, all of which a draw-and-look
     * loop would have drawn too. */
    size_t tries = 4 * want + 8;
    while (n_picked < want && tries > 0) {
        uint32_t batch[PICK_BATCH];
        size_t m = MIN(MIN(want - n_picked, tries), (size_t)PICK_BATCH);
        for (size_t k = 0; k < m; k++) {
            batch[k] = peko__draw_peer_entry(nl);
            __builtin_prefetch(peko__peers_entry(ps, batch[k]));
        }
        tries -= m;
        for (size_t k = 0; k < m; k++) {
            uint32_t i = batch[k];
            if (is_picked(picked, n_picked, i) ||
                is_infected(ps, peko__peers_entry(ps, i), set, n_set))
                continue;
            picked[n_picked++] = i;
        }
    }
    if (n_picked == want)
        return n_picked;

    /* Exact phase: candidates go after the picks in the same scratch,
     * grown here rather than kept at the list's size: this phase is rare
     * in a large cluster, where the scratch would cost 4 bytes a peer. */
    peko__ensure_pick_scratch(nl, n_picked + n);
    picked = nl->pick_scratch;
    uint32_t *cand = picked + n_picked;
    size_t n_cand = 0;
    for (uint32_t i = 0; i < nl->peers.n; i++) {
        const peko__peer *peer = peko__peers_entry(ps, i);
        if (!peko__peer_is_dead(peer) && !is_picked(picked, n_picked, i) &&
            !is_infected(ps, peer, set, n_set))
            cand[n_cand++] = i;
    }
    while (n_picked < want && n_cand > 0) {
        /* Partial Fisher-Yates: swap the draw to the front of the
         * candidates, where it becomes the next pick (the candidates start
         * right after the picks, so the two stay contiguous). */
        size_t j = (size_t)peko__random_below(nl, n_cand);
        uint32_t chosen = cand[j];
        cand[j] = cand[0];
        cand[0] = chosen;
        n_picked++;
        cand++;
        n_cand--;
    }
    return n_picked;
}

static void sort_u32(uint32_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Writes into out[] the union of the carried set (its first n_keep
 * entries) and the new fingerprints, ascending and big-endian.
 * Returns the number of entries. The carried set is already in wire form
 * and much longer than the few new entries, so its runs between them are
 * copied as they lie rather than entry by entry. */
static uint32_t merge_set(uint8_t *out, const uint8_t *carried,
                          uint32_t n_keep, uint32_t *fresh, size_t n_fresh)
{
    sort_u32(fresh, n_fresh);
    uint32_t n_out = 0;
    uint32_t i = 0;    /* carried entries before i are written */
    uint32_t last = 0; /* fingerprints are never 0 */
    for (size_t j = 0; j < n_fresh; j++) {
        uint32_t v = fresh[j];
        if (v == last)
            continue;
        last = v;
        uint32_t k = peko__wire_set_lower_bound(carried, i, n_keep, v);
        if (k > i)
            memcpy(out + 4 * (size_t)n_out, carried + 4 * (size_t)i,
                   4 * (size_t)(k - i));
        n_out += k - i;
        i = k;
        /* Already carried: it goes out with the next run. */
        if (i < n_keep && peko__get_u32(carried + 4 * (size_t)i) == v)
            continue;
        peko__put_u32(out + 4 * (size_t)n_out++, v);
    }
    if (n_keep > i)
        memcpy(out + 4 * (size_t)n_out, carried + 4 * (size_t)i,
               4 * (size_t)(n_keep - i));
    return n_out + (n_keep - i);
}

/* Sends *msg to up to `amount` peers not in the carried infected set,
 * after adding the local node and the chosen targets to the set (pekonode:
 * targets are marked infected before the packet leaves). The set is kept
 * within Size: when it would not fit, the fresh entries are kept and the
 * carried ones are cut from the end (docs/wire.md). Returns the number of
 * packets sent. */
size_t peko__spread(peko_nodelist *nl, peko__msg *msg, const uint8_t *carried,
                     uint32_t n_carried)
{
    size_t n_targets = pick_targets(nl, carried, n_carried);
    if (n_targets == 0)
        return 0;

    uint32_t fresh[1025]; /* amount <= 1024 (config.c) plus the local node */
    size_t n_fresh = 0;
    fresh[n_fresh++] = peko__peer_fp(&nl->peers, &nl->self);
    for (size_t t = 0; t < n_targets; t++) {
        const peko__peer *p = peko__peers_entry(&nl->peers,
                                                nl->pick_scratch[t]);
        fresh[n_fresh++] = peko__peer_fp(&nl->peers, p);
    }

    size_t fixed = peko__wire_size_without_set(msg, nl->wire_keys);
    size_t room = fixed < nl->size ? (nl->size - fixed) / 4 : 0;
    if (room < n_fresh) {
        /* The packet cannot even name its targets; Size is too small for
         * this message (a large origin record). */
        nl->stats.send_failed++;
        peko__print_error(nl, "packet does not fit Size", NULL);
        return 0;
    }
    uint32_t n_keep = n_carried;
    if (n_carried + n_fresh > room) {
        n_keep = (uint32_t)(room - n_fresh);
        nl->stats.infected_truncated++;
    }
    /* The set holds at most `room` fingerprints. */
    uint8_t *set = peko__work_borrow(nl, 4 * room);
    msg->infected = set;
    msg->n_infected = merge_set(set, carried, n_keep, fresh, n_fresh);

    size_t n_bytes;
    uint8_t *tx = peko__encode(nl, msg, NULL, &n_bytes);
    peko__work_return(nl, set);
    if (tx == NULL)
        return 0;
    /* One encoding, the same bytes to every target (a signed packet's
     * trailer sealed for each). env->send() must not re-enter this node
     * list (peko.h), so the peer table is stable. */
    for (size_t t = 0; t < n_targets; t++) {
        const peko__peer *p = peko__peers_entry(&nl->peers,
                                                nl->pick_scratch[t]);
        peko__send_packet(nl, msg->type, peko__peer_addr(&nl->peers, p), tx,
                          n_bytes, NULL);
    }
    peko__work_return(nl, tx);
    return n_targets;
}

void peko__forward(peko_nodelist *nl, const peko__msg *in)
{
    peko__msg out = *in;
    out.sender = (*peko__self_addr(nl));
    out.hops = in->hops < PEKO__HOPS_MAX ? (uint8_t)(in->hops + 1)
                                        : PEKO__HOPS_MAX;
    nl->traffic.forwarded += peko__spread(nl, &out, in->infected, in->n_infected);
}

void peko__ignore(peko_nodelist *nl, const peko__msg *m)
{
    (void)nl;
    (void)m;
}
