/* theory.c: expected dissemination times from gossip theory (theory.h). */
#include "theory.h"

#include <math.h>
#include <stdbool.h>

/* Half a node: a forward-once hop informing fewer has died out, and an
 * anti-entropy round leaving fewer uninformed has finished. */
#define HALF_NODE 0.5

static bool valid_population(double n)
{
    return n >= 2.0 && isfinite(n); /* false for NaN */
}

double ana_theory_push_rounds(double n, double f)
{
    if (!valid_population(n) || !(f >= 1.0) || !isfinite(f))
        return NAN;
    return log(n) / log(f + 1.0) + log(n) / f;
}

double ana_theory_push_pull_rounds(double n)
{
    if (!valid_population(n))
        return NAN;
    return log(n) / log(3.0) + log(log(n));
}

/* One forward-once walk. Calls back with every hop's cumulative I_k
 * (hop 0 included) until `stop` returns true or the rumor dies; returns
 * the last hop taken and sets *informed to its I_k. */
typedef bool (*hop_fn)(double hop, double informed, void *data);

static double forward_once_walk(double n, double f, hop_fn stop, void *data,
                                double *informed)
{
    double total = 1.0, fresh = 1.0, hop = 0.0;
    if (stop && stop(hop, total, data)) {
        *informed = total;
        return hop;
    }
    for (;;) {
        /* Each of the fresh nodes sends f copies to uniform peers: a node
         * not yet informed escapes all f * fresh of them with probability
         * (1 - 1/n)^(f fresh), about exp(-f fresh / n). */
        double next = (n - total) * -expm1(-f * fresh / n);
        if (next < HALF_NODE)
            break;
        total += next;
        fresh = next;
        hop += 1.0;
        if (stop && stop(hop, total, data))
            break;
    }
    *informed = total;
    return hop;
}

ana_theory_forward_once ana_theory_forward_once_run(double n, double f)
{
    ana_theory_forward_once r = { NAN, NAN };
    if (!valid_population(n) || !(f >= 1.0) || !isfinite(f))
        return r;
    double informed;
    r.rounds_to_die = forward_once_walk(n, f, NULL, NULL, &informed);
    r.reach = informed / n;
    return r;
}

typedef struct fraction_search {
    double target;      /* nodes */
    double prev_hop, prev_informed;
    double rounds;      /* the answer, NAN until found */
} fraction_search;

static bool reached(double hop, double informed, void *data)
{
    fraction_search *s = data;
    if (informed >= s->target) {
        s->rounds = hop == 0.0
                        ? 0.0
                        : s->prev_hop + (s->target - s->prev_informed) /
                                            (informed - s->prev_informed);
        return true;
    }
    s->prev_hop = hop;
    s->prev_informed = informed;
    return false;
}

double ana_theory_forward_once_rounds(double n, double f, double fraction)
{
    if (!valid_population(n) || !(f >= 1.0) || !isfinite(f) ||
        !(fraction > 0.0 && fraction <= 1.0))
        return NAN;
    fraction_search s = { .target = fraction * n, .rounds = NAN };
    double informed;
    forward_once_walk(n, f, reached, &s, &informed);
    return s.rounds;
}

double ana_theory_exchange_rounds(double n, double missing, double exchanges)
{
    return ana_theory_window_rounds(n, missing, exchanges, 1.0);
}

/* Past this many rounds the spread is taken as never ending: the
 * smallest swap (two entries) in a list of a million takes 7.1 million. */
#define MAX_EXCHANGE_ROUNDS 1e7

double ana_theory_window_rounds(double n, double missing, double exchanges,
                                double coverage)
{
    if (!valid_population(n) || !(missing >= 0.0 && missing < 1.0) ||
        !(exchanges >= 1.0) || !isfinite(exchanges) ||
        !(coverage > 0.0 && coverage <= 1.0))
        return NAN;
    /* At coverage 1, p at least squares every round (times at most 1),
     * so this ends in O(log log n) rounds once p < 1/2, and p < 1 falls
     * below 1/2 within O(log n) rounds of the first (the tripling
     * phase). A coverage c stretches both phases by about 1 / c. */
    double p = missing, rounds = 0.0;
    while (n * p >= HALF_NODE) {
        double carried = coverage * (1.0 - p);
        p = p * pow(1.0 - carried, exchanges) * exp(-exchanges * carried);
        rounds += 1.0;
        if (rounds > MAX_EXCHANGE_ROUNDS)
            return INFINITY;
    }
    return rounds;
}

double ana_theory_anti_entropy_rounds(double n, double missing)
{
    return ana_theory_exchange_rounds(n, missing, 1.0);
}

/* The digest swap's budget (engine/strategy-digest.c): bytes a swap
 * spends on its header and the requester's own entry, and a short
 * (IPv4) entry's size. */
#define DIGEST_SWAP_OVERHEAD_BYTES 120.0
#define DIGEST_SHORT_ENTRY_BYTES 18.0

/* A digest swap's range and at-risk entries, whole short entries in
 * three quarters and a quarter of its room, as the engine counts them. */
static void digest_budget(double size, double *range, double *at_risk)
{
    double room = size > DIGEST_SWAP_OVERHEAD_BYTES
                      ? size - DIGEST_SWAP_OVERHEAD_BYTES
                      : DIGEST_SHORT_ENTRY_BYTES;
    *range = MAX(1.0, floor(floor(room * 3.0 / 4.0) /
                            DIGEST_SHORT_ENTRY_BYTES));
    *at_risk = MAX(1.0, floor(floor(room / 4.0) / DIGEST_SHORT_ENTRY_BYTES));
}

double ana_theory_digest_swap_entries(double size)
{
    if (!(size >= 1.0) || !isfinite(size))
        return NAN;
    double w, k;
    digest_budget(size, &w, &k);
    return w + k;
}

double ana_theory_digest_spread_rounds(double n, double exchanges,
                                       double size)
{
    double entries = ana_theory_digest_swap_entries(size);
    if (!valid_population(n) || isnan(entries))
        return NAN;
    return ana_theory_window_rounds(n, 1.0 - 1.0 / n, exchanges,
                                    MIN(1.0, entries / n));
}

double ana_theory_digest_mistake_p(double n, double timeout_cycles,
                                   double exchanges, double size)
{
    if (!valid_population(n) || !(exchanges >= 1.0) || !isfinite(exchanges) ||
        !(size >= 1.0) || !isfinite(size) || !(timeout_cycles >= 0.0) ||
        !isfinite(timeout_cycles))
        return NAN;
    double w, k;
    digest_budget(size, &w, &k);
    double to_risk = 0.0;
    if (n > k) {
        /* The rate in 16.16 fixed point, truncated as the engine has it:
         * with a small swap and a large list the truncation is worth
         * whole cycles of to_risk. */
        double r = w >= n ? 2.0 * exchanges
                          : floor(2.0 * exchanges * w * 65536.0 / n) /
                                65536.0;
        to_risk = ceil(log(n / k) / r);
    }
    double asks = timeout_cycles - 2.0 - to_risk;
    double log2_p = 2.0 * log2(n) - exchanges * asks;
    return log2_p >= 0.0 ? 1.0 : exp2(log2_p);
}
