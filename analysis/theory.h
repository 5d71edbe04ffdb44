/* theory.h: expected dissemination times from gossip theory.
 *
 * What `peko report` compares measured spreading against (docs/theory.md
 * derives each formula and says which peko configuration it describes).
 * All of it assumes synchronous rounds, peers chosen uniformly at random
 * from complete membership, and no loss. Times are in rounds (hops); a
 * measured time becomes rounds by dividing it by the mean one-way latency
 * (rumor forwarding) or by the cycle (anti-entropy).
 *
 * Every function is pure and deterministic and allocates nothing.
 * Arguments outside the stated domain (NaN included) give NAN, without
 * logging: they are answers ("no theory for this"), not bugs.
 */
#ifndef ANA_THEORY_H
#define ANA_THEORY_H

#include <glib.h>

G_BEGIN_DECLS

/* Push, fan-out f, n nodes: every informed node sends to f random peers
 * every round. Expected rounds until every node is informed:
 * log_{f+1}(n) + ln(n) / f (Pittel 1987 at f = 1: log2 n + ln n; Frieze and
 * Grimmett 1985; for f > 1 the same two-phase argument with f calls a
 * round, see docs/theory.md). NAN for n < 2 or f < 1. */
double ana_theory_push_rounds(double n, double f);

/* Push-pull, fan-out 1 (Karp, Schindelhauer, Shenker, Vöcking 2000):
 * log3(n) + ln(ln(n)) rounds, the O(ln ln n) term taken with constant 1
 * (the paper bounds it, it does not fix the constant). NAN for n < 2. */
double ana_theory_push_pull_rounds(double n);

/* Forward-once (infect-and-die) with fan-out f: the origin sends to f
 * random peers, each node forwards its first copy to f random peers at
 * once, later copies die. Mean-field recurrence, hop k:
 *   I_0 = 1, new_0 = 1,
 *   new_{k+1} = (n - I_k) (1 - exp(-f new_k / n)),
 *   I_{k+1} = I_k + new_{k+1},
 * run while new_{k+1} >= 0.5; the hop whose new would fall below half a
 * node is not taken. */
typedef struct ana_theory_forward_once {
    double reach;          /* I_K / n, the fraction of nodes reached */
    double rounds_to_die;  /* K: the last hop informing >= half a node */
} ana_theory_forward_once;

/* Runs the recurrence; both fields NAN for n < 2 or f < 1. Costs O(K)
 * steps: O(log n) for f >= 2, about sqrt(1.4 n) at f = 1. */
ana_theory_forward_once ana_theory_forward_once_run(double n, double f);

/* Hops until a fraction `fraction` in (0, 1] of the n nodes is informed
 * by forward-once, fractional: linear interpolation between the two hops
 * whose I_k bracket fraction * n (0 when the origin alone is enough).
 * NAN when the rumor dies out before reaching it, for fraction outside
 * (0, 1], n < 2 or f < 1. */
double ana_theory_forward_once_rounds(double n, double f, double fraction);

/* Push-pull anti-entropy (Demers et al. 1987), one exchange per node per
 * round with a uniform peer: rounds until fewer than half a node is
 * expected to miss an update that a fraction `missing` in [0, 1) of the n
 * nodes lacks. A node stays without it if the peer it pulls from lacks it
 * (p) and no holder pushes to it (exp(-(1 - p))):
 *   p_0 = missing, p_{i+1} = p_i^2 exp(-(1 - p_i)),
 * counted until n p_i < 0.5, so the answer is a whole number (0 when
 * n missing < 0.5 already). In peko a round is one cycle: this is the
 * repair of metadata a forward-once rumor missed, missing = 1 - reach.
 * NAN for n < 2 or missing outside [0, 1). */
double ana_theory_anti_entropy_rounds(double n, double missing);

/* Push-pull anti-entropy with `exchanges` exchanges per node per round
 * (e >= 1, fractional allowed): the same count of rounds as
 * ana_theory_anti_entropy_rounds(), whose case e = 1 this is, with
 *   p_{i+1} = p_i^(1 + e) exp(-e (1 - p_i)):
 * a node lacking the update stays without it when all e peers it asks
 * lack it too (p^e) and none of the holders' e (1 - p) n requests reaches
 * it (exp(-e (1 - p))). From missing = 1 - 1/n it is the time for a
 * version that one node made to reach every node: how `digest` spreads a
 * heartbeat, a round being a cycle. NAN for n < 2, missing outside
 * [0, 1) or e < 1. */
double ana_theory_exchange_rounds(double n, double missing, double exchanges);

/* The same spread when an exchange carries a given version only with
 * probability `coverage` (0 < c <= 1): a node lacking it stays without it
 * when none of its e pulls brings it (each does with probability
 * c (1 - p)) and no holder's request pushes it:
 *   p_{i+1} = p_i (1 - c (1 - p_i))^e exp(-e c (1 - p_i)),
 * which is ana_theory_exchange_rounds() at c = 1 and takes about 1 / c
 * times as many rounds below it. INFINITY past ten million rounds; NAN
 * for n < 2, missing outside [0, 1), e < 1 or c outside (0, 1]. */
double ana_theory_window_rounds(double n, double missing, double exchanges,
                                double coverage);

/* The versions one digest swap of `size` bytes can carry: its range and
 * at-risk entries (three quarters and a quarter of size - 120 bytes, 18
 * bytes a short entry; 902 at the default Size). NAN for size < 1. */
double ana_theory_digest_swap_entries(double size);

/* The cycles a heartbeat version takes to reach all n digest nodes with
 * `exchanges` exchanges a cycle and swaps of `size` bytes: the exchange
 * spread from one node with coverage min(1, entries / n), since a swap
 * carries at most `entries` of the n versions a node holds (its range,
 * the entries at risk and, in the answer, the newest; docs/theory.md).
 * Up to 902 nodes at the default Size this is
 * ana_theory_exchange_rounds(); at 10,000 nodes, one exchange, 110
 * cycles instead of 12. An upper estimate: see docs/theory.md. */
double ana_theory_digest_spread_rounds(double n, double exchanges,
                                       double size);

/* The wrong-removal probability digest's default timeout aims at:
 * 2^-ANA_THEORY_DIGEST_MISTAKE_LOG2 of a wrong removal anywhere in the
 * cluster within one timeout period (engine/strategy-digest.c; a test
 * holds the two together). */
#define ANA_THEORY_DIGEST_MISTAKE_LOG2 10

/* The analysis behind digest's timeout (docs/theory.md), read the other
 * way: the probability of a wrong removal anywhere among the n^2 pairs
 * within one timeout period, for a timeout of `timeout_cycles` cycles,
 * `exchanges` exchanges a cycle and swaps of `size` bytes:
 *   p = n^2 2^(-e (T - 2 - R)),  R = ceil(ln(n / k) / r)  (0 if n <= k),
 *   r = 2 e min(1, w / n),
 * w and k the range and at-risk entries a swap holds (three quarters and
 * a quarter of size - 120 bytes, 18 bytes an entry). Capped at 1 (a
 * timeout too short for the analysis to promise anything). At the
 * default timeout, p lies in (2^(-10 - e), 2^-10]. NAN for n < 2,
 * e < 1, size < 1 or a timeout below 0. */
double ana_theory_digest_mistake_p(double n, double timeout_cycles,
                                   double exchanges, double size);

G_END_DECLS

#endif /* ANA_THEORY_H */
