/* test-theory.c: expected dissemination times (analysis/theory.h).
 *
 * The closed forms are checked against their arithmetic done by hand; the
 * forward-once recurrence against its first hop by hand, the final-size
 * equation of the infect-and-die epidemic, and what a simulated 1,000-node
 * cluster measured (f = 3: 94.6% reached, 50% at hop 6, 90% at hop 8;
 * f = 6: 99.4% reached, 50% at hop 4). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "peko.h"
#include "theory.h"

Test(theory, push_at_fanout_one_is_pittel)
{
    /* log2(1024) + ln(1024) = 10 + 6.9314718056 = 16.9314718056 */
    cr_assert_float_eq(ana_theory_push_rounds(1024, 1), 10.0 + log(1024.0),
                       1e-12);
    cr_assert_float_eq(ana_theory_push_rounds(1024, 1), 16.931471805599454,
                       1e-12);
}

Test(theory, push_at_fanout_three)
{
    /* log4(1000) + ln(1000) / 3 = 6.9077553 / 1.3862944 + 6.9077553 / 3
     * = 4.9828921 + 2.3025851 = 7.2854772 */
    cr_assert_float_eq(ana_theory_push_rounds(1000, 3), 7.285477235325089,
                       1e-12);
}

Test(theory, push_pull_is_log3_plus_loglog)
{
    /* log3(1000) + ln(ln 1000) = 6.9077553 / 1.0986123 + ln(6.9077553)
     * = 6.2877098 + 1.9326447 = 8.2203546 */
    cr_assert_float_eq(ana_theory_push_pull_rounds(1000), 8.22035455678422,
                       1e-12);
}

Test(theory, push_pull_beats_push_at_fanout_one)
{
    for (double n = 10; n <= 1e7; n *= 10)
        cr_assert_lt(ana_theory_push_pull_rounds(n),
                     ana_theory_push_rounds(n, 1), "n %g", n);
}

Test(theory, forward_once_reach_at_fanout_three)
{
    /* The infect-and-die final size r solves 1 - r = exp(-f r): at f = 3,
     * r = 0.9405 (0.9405 -> exp(-2.8215) = 0.0595). The simulation
     * measured 0.946. */
    ana_theory_forward_once fo = ana_theory_forward_once_run(1000, 3);
    cr_assert_float_eq(fo.reach, 0.941, 0.002);
    cr_assert_float_eq(fo.reach, 1.0 - exp(-3.0 * fo.reach), 0.002);
    /* Last hop informing half a node: hop 11 (hop 12 would add 0.12). */
    cr_assert_eq(fo.rounds_to_die, 11.0);
}

Test(theory, forward_once_reach_at_fanout_six)
{
    /* 1 - r = exp(-6 r): r = 0.9975. Measured: 0.994. */
    ana_theory_forward_once fo = ana_theory_forward_once_run(1000, 6);
    cr_assert_float_eq(fo.reach, 0.997, 0.001);
    cr_assert_eq(fo.rounds_to_die, 6.0);
}

Test(theory, forward_once_at_fanout_one_dies_young)
{
    /* A single chain ends when it hits an informed node: it reaches about
     * sqrt(n) nodes, a few percent of 1,000. */
    ana_theory_forward_once fo = ana_theory_forward_once_run(1000, 1);
    cr_assert_lt(fo.reach, 0.05);
    cr_assert_gt(fo.reach, 0.01);
}

Test(theory, forward_once_reach_grows_with_fanout)
{
    double last = 0;
    for (double f = 1; f <= 8; f++) {
        double reach = ana_theory_forward_once_run(1000, f).reach;
        cr_assert_gt(reach, last, "f %g", f);
        cr_assert_leq(reach, 1.0, "f %g", f);
        last = reach;
    }
}

Test(theory, forward_once_rounds_match_the_measured_hops)
{
    /* f = 3: 50% reached at hop 6 and 90% at hop 8 in the simulation;
     * interpolated hops fall within the hop before. */
    double t50 = ana_theory_forward_once_rounds(1000, 3, 0.5);
    double t90 = ana_theory_forward_once_rounds(1000, 3, 0.9);
    cr_assert(t50 > 5 && t50 <= 6, "t50 %g", t50);
    cr_assert(t90 > 7 && t90 <= 8, "t90 %g", t90);
    /* f = 6: 50% at hop 4. */
    double t50_6 = ana_theory_forward_once_rounds(1000, 6, 0.5);
    cr_assert(t50_6 > 3 && t50_6 <= 4, "t50 %g", t50_6);
}

Test(theory, forward_once_rounds_interpolate_the_first_hop)
{
    /* Hop 1 at f = 3, n = 1000: new_1 = 999 (1 - exp(-3 / 1000))
     * = 999 * 0.0029955 = 2.9925090, I_1 = 3.9925090. Two nodes (0.2%)
     * lie (2 - 1) / (3.9925090 - 1) = 0.3341678 of the way to hop 1. */
    cr_assert_float_eq(ana_theory_forward_once_rounds(1000, 3, 0.002),
                       0.33416775108438296, 1e-9);
    /* The origin alone is 0.1%: no hop needed. */
    cr_assert_eq(ana_theory_forward_once_rounds(1000, 3, 0.001), 0.0);
}

Test(theory, forward_once_rounds_are_nan_beyond_the_reach)
{
    cr_assert(isnan(ana_theory_forward_once_rounds(1000, 3, 0.95)));
    cr_assert(isnan(ana_theory_forward_once_rounds(1000, 6, 1.0)));
    cr_assert_not(isnan(ana_theory_forward_once_rounds(1000, 6, 0.99)));
}

Test(theory, arguments_outside_the_domain_give_nan)
{
    cr_assert(isnan(ana_theory_push_rounds(1, 3)));
    cr_assert(isnan(ana_theory_push_rounds(1000, 0.5)));
    cr_assert(isnan(ana_theory_push_rounds(NAN, 3)));
    cr_assert(isnan(ana_theory_push_rounds(1000, NAN)));
    cr_assert(isnan(ana_theory_push_pull_rounds(1)));
    cr_assert(isnan(ana_theory_push_pull_rounds(NAN)));
    ana_theory_forward_once fo = ana_theory_forward_once_run(1, 3);
    cr_assert(isnan(fo.reach) && isnan(fo.rounds_to_die));
    fo = ana_theory_forward_once_run(1000, 0);
    cr_assert(isnan(fo.reach) && isnan(fo.rounds_to_die));
    cr_assert(isnan(ana_theory_forward_once_rounds(1000, 3, 0)));
    cr_assert(isnan(ana_theory_forward_once_rounds(1000, 3, 1.5)));
    cr_assert(isnan(ana_theory_forward_once_rounds(1000, 3, NAN)));
    cr_assert(isnan(ana_theory_forward_once_rounds(1000, 0.9, 0.5)));
}

Test(theory, anti_entropy_repairs_the_forward_once_residue)
{
    /* n = 1000, 6% missing (forward-once at f = 3):
     * p_1 = 0.06^2 exp(-0.94) = 0.0036 * 0.3906278 = 0.0014063, 1.4 nodes;
     * p_2 = 0.0014063^2 exp(-0.9986) = 1.978e-6 * 0.3684 = 7.3e-7, none.
     * Two rounds. */
    cr_assert_eq(ana_theory_anti_entropy_rounds(1000, 0.06), 2.0);
    /* 0.04% of 1000 is 0.4 of a node: nothing to repair. */
    cr_assert_eq(ana_theory_anti_entropy_rounds(1000, 0.0004), 0.0);
    cr_assert_eq(ana_theory_anti_entropy_rounds(1000, 0.0), 0.0);
}

Test(theory, anti_entropy_from_one_node_is_about_push_pull)
{
    /* Starting from the origin alone, the recurrence is a push-pull
     * spread: whole rounds, within one and a half of log3(n) + ln(ln(n))
     * (n = 100: 7 against 5.72; n = 1e6: 16 against 15.20). */
    for (double n = 100; n <= 1e6; n *= 10) {
        double rounds = ana_theory_anti_entropy_rounds(n, 1.0 - 1.0 / n);
        cr_assert_float_eq(rounds, ana_theory_push_pull_rounds(n), 1.5,
                           "n %g: %g", n, rounds);
    }
}

Test(theory, anti_entropy_arguments_outside_the_domain_give_nan)
{
    cr_assert(isnan(ana_theory_anti_entropy_rounds(1, 0.5)));
    cr_assert(isnan(ana_theory_anti_entropy_rounds(1000, 1.0)));
    cr_assert(isnan(ana_theory_anti_entropy_rounds(1000, -0.1)));
    cr_assert(isnan(ana_theory_anti_entropy_rounds(1000, NAN)));
}

/* ------------------------------------------------------------------ */
/* digest: exchanges, and the timeout's mistake probability.            */

Test(theory, one_exchange_a_round_is_anti_entropy)
{
    for (double n = 10; n <= 1e5; n *= 10)
        for (double m = 0.0; m < 1.0; m += 0.25)
            cr_assert_eq(ana_theory_exchange_rounds(n, m, 1.0),
                         ana_theory_anti_entropy_rounds(n, m), "n %g m %g",
                         n, m);
    cr_assert_eq(ana_theory_exchange_rounds(1000, 1.0 - 1e-3, 1.0),
                 ana_theory_anti_entropy_rounds(1000, 1.0 - 1e-3));
}

/* More exchanges a cycle, fewer cycles: a version one node made reaches
 * all 1,000 in 9 cycles with one exchange, 6 with two, 5 with three
 * (10,000 nodes: 12, 8, 7). */
Test(theory, more_exchanges_spread_faster)
{
    cr_assert_eq(ana_theory_exchange_rounds(1000, 1.0 - 1e-3, 1), 9.0);
    cr_assert_eq(ana_theory_exchange_rounds(1000, 1.0 - 1e-3, 2), 6.0);
    cr_assert_eq(ana_theory_exchange_rounds(1000, 1.0 - 1e-3, 3), 5.0);
    cr_assert_eq(ana_theory_exchange_rounds(1e4, 1.0 - 1e-4, 1), 12.0);
    cr_assert_eq(ana_theory_exchange_rounds(1e4, 1.0 - 1e-4, 3), 7.0);
    cr_assert(isnan(ana_theory_exchange_rounds(1000, 0.5, 0.5)));
    cr_assert(isnan(ana_theory_exchange_rounds(1, 0.5, 2)));
}

/* A swap that carries only part of a list slows the spread by about
 * that share: at coverage 1 it is the exchange spread itself; at 1,000
 * nodes a coverage of a tenth takes between 5 and 15 times as many
 * cycles as coverage 1, and halving the coverage about doubles them. */
Test(theory, a_window_slows_the_spread_by_its_share)
{
    for (double n = 10; n <= 1e5; n *= 10)
        for (double e = 1; e <= 3; e++)
            cr_assert_eq(ana_theory_window_rounds(n, 1.0 - 1.0 / n, e, 1.0),
                         ana_theory_exchange_rounds(n, 1.0 - 1.0 / n, e),
                         "n %g e %g", n, e);
    double whole = ana_theory_window_rounds(1000, 0.999, 1, 1.0);
    double tenth = ana_theory_window_rounds(1000, 0.999, 1, 0.1);
    double twentieth = ana_theory_window_rounds(1000, 0.999, 1, 0.05);
    cr_assert(tenth >= 5 * whole && tenth <= 15 * whole, "%g against %g",
              tenth, whole);
    cr_assert_float_eq(twentieth / tenth, 2.0, 0.15, "%g against %g",
                       twentieth, tenth);
    cr_assert(isnan(ana_theory_window_rounds(1000, 0.999, 1, 0.0)));
    cr_assert(isnan(ana_theory_window_rounds(1000, 0.999, 1, 1.5)));
    cr_assert(isnan(ana_theory_window_rounds(1000, 0.999, 1, NAN)));
}

/* digest's spread: by theory.c's count of a swap's budget, one at the
 * default Size (16,384 bytes) carries 902 short entries, so up to 902
 * nodes it is the exchange spread, and at 10,000 nodes, where a swap
 * carries 9 % of a list, 110 cycles with one exchange and 40 with three
 * (docs/theory.md). */
Test(theory, digest_spread_slows_past_what_a_swap_carries)
{
    cr_assert_eq(ana_theory_digest_swap_entries(16384), 902.0);
    cr_assert_eq(ana_theory_digest_spread_rounds(500, 1, 16384),
                 ana_theory_exchange_rounds(500, 1.0 - 1.0 / 500, 1));
    cr_assert_eq(ana_theory_digest_spread_rounds(1e4, 1, 16384), 110.0);
    cr_assert_eq(ana_theory_digest_spread_rounds(1e4, 3, 16384), 40.0);
    /* The same share of the list gives about the same cycles: 1,000
     * nodes with a swap of 91 entries against 10,000 with 902, apart
     * only by ln(n) (84 against 110). */
    double small = ana_theory_digest_spread_rounds(1000, 1, 120 + 91 * 18);
    cr_assert(small >= 80 && small < 110, "%g", small);
    cr_assert(isnan(ana_theory_digest_spread_rounds(1, 1, 16384)));
    cr_assert(isnan(ana_theory_digest_spread_rounds(1000, 1, 0)));
}

/* The analysis read backwards gives, at the engine's own default timeout,
 * the probability the engine aims at: at most 2^-10, and more than
 * 2^(-10 - e) (the timeout is a whole number of asks). This holds
 * theory.c's copy of the swap's budget to engine/strategy-digest.c's. */
Test(theory, digest_default_timeout_gives_the_aimed_probability)
{
    const double ns[] = {2,   10,   100,  200,  225,  226,   500,
                         680, 1000, 3000, 5000, 10000, 100000};
    const int sizes[] = {512, 1500, 16384, 65507};
    const int exchanges[] = {1, 2, 3, 16};
    double aim = exp2(-ANA_THEORY_DIGEST_MISTAKE_LOG2);
    for (size_t a = 0; a < G_N_ELEMENTS(ns); a++)
        for (size_t b = 0; b < G_N_ELEMENTS(sizes); b++)
            for (size_t c = 0; c < G_N_ELEMENTS(exchanges); c++) {
                peko_config cfg;
                memset(&cfg, 0, sizeof cfg);
                cfg.cycle_us = 1000000;
                cfg.size = sizes[b];
                cfg.exchanges = exchanges[c];
                cfg.dissemination = PEKO_DISSEMINATION_DIGEST;
                int64_t us = peko_digest_timeout_us((size_t)ns[a], &cfg);
                cr_assert_gt(us, 0);
                double p = ana_theory_digest_mistake_p(
                    ns[a], (double)us / 1e6, exchanges[c], sizes[b]);
                cr_assert(p <= aim * (1 + 1e-9) &&
                              p > aim * exp2(-exchanges[c]) * (1 - 1e-9),
                          "n %g size %d e %d: timeout %lld cycles, p %g",
                          ns[a], sizes[b], exchanges[c], (long long)us / 1000000,
                          p);
            }
}

Test(theory, digest_mistake_p_grows_as_the_timeout_shrinks)
{
    /* n = 1000, default size: an entry is at risk after
     * ceil(ln(1000 / 225) / (2 * 675 / 1000)) = 2 cycles, so a timeout of
     * T cycles makes T - 4 asks: p = 1000^2 2^-(T - 4). */
    double p50 = ana_theory_digest_mistake_p(1000, 50, 1, 16384);
    double p40 = ana_theory_digest_mistake_p(1000, 40, 1, 16384);
    cr_assert_float_eq(p50, 1e6 * exp2(-46), 1e-20);
    /* Each cycle less is an ask less: twice as likely with one exchange,
     * four times with two. */
    cr_assert_float_eq(p40 / p50, exp2(10), 1e-6);
    cr_assert_float_eq(ana_theory_digest_mistake_p(1000, 40, 2, 16384) /
                           ana_theory_digest_mistake_p(1000, 41, 2, 16384),
                       4.0, 1e-9);
    cr_assert_eq(ana_theory_digest_mistake_p(1000, 3, 1, 16384), 1.0);
    cr_assert(isnan(ana_theory_digest_mistake_p(1, 30, 1, 16384)));
    cr_assert(isnan(ana_theory_digest_mistake_p(1000, -1, 1, 16384)));
    cr_assert(isnan(ana_theory_digest_mistake_p(1000, 30, 0, 16384)));
}
