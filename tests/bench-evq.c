/* bench-evq.c: the event queue under the classic "hold" model.
 *
 * Fill the queue to P pending events with exponentially distributed times,
 * then repeat a hold: pop the earliest event and push one at its time plus
 * an exponential increment, so the queue size stays at P and the time
 * distribution reaches its steady state. The figure is holds per second,
 * the median of 5 repetitions (or PEKO_BENCH_REPS), at P = 1,000, 100,000
 * and 1,000,000 (target: 4 million holds/s at 1M pending). Each repetition uses a fresh
 * queue and the same seed, so repetitions differ only by machine noise.
 * Beside the wall-clock rate, holds per second of CPU time (user and
 * system), which a loaded machine distorts less. BENCH lines (bench.h)
 * named evq-pending-1000, evq-pending-100000 and evq-pending-1000000:
 * holds_per_s, holds_per_cpu_s (medians) and bytes_per_event (the queue's
 * memory over its pending events).
 *
 * Run with `meson test -C build --benchmark` or directly:
 *     bench-evq [SCALE [PENDING]]
 * SCALE multiplies the number of holds (e.g. 0.1 for a quick look);
 * PENDING runs that one queue size instead of the three.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "evq.h"
#include "model.h"

#define DEFAULT_REPS 5
#define MAX_REPS 100 /* bench_reps() allows no more */
#define MEAN_INCREMENT_US 1000000.0 /* any mean works; 1 s is typical */

typedef struct hold_result {
    double holds_per_s;
    double holds_per_cpu_s;
    size_t size;       /* pending events after the run */
    size_t bytes;      /* memory held by the queue */
    unsigned arity;
    uint64_t checksum; /* keeps the loop from being optimized away */
} hold_result;

static hold_result run_hold(size_t pending, size_t holds, uint64_t seed)
{
    sim_evq q;
    model_stream rng;
    model_stream_init(&rng, seed, 0);
    sim_evq_init(&q, pending, 0);

    sim_payload p = {.kind = 1};
    for (size_t i = 0; i < pending; i++) {
        p.node = (uint32_t)i;
        int64_t t = (int64_t)model_stream_exp(&rng, MEAN_INCREMENT_US);
        sim_evq_push(&q, t, &p);
    }

    /* Warm up: pending holds bring the time distribution (and the
     * caches) to their steady state before the clock starts. */
    uint64_t checksum = 0;
    sim_event ev;
    for (size_t i = 0; i < pending; i++) {
        sim_evq_pop(&q, &ev);
        p.node = ev.p.node;
        sim_evq_push(&q,
                     ev.time_us +
                         (int64_t)model_stream_exp(&rng, MEAN_INCREMENT_US),
                     &p);
    }

    double cpu_start_s = bench_cpu_s();
    int64_t start_us = g_get_monotonic_time();
    for (size_t i = 0; i < holds; i++) {
        sim_evq_pop(&q, &ev);
        checksum += (uint64_t)ev.time_us;
        p.node = ev.p.node;
        sim_evq_push(&q,
                     ev.time_us +
                         (int64_t)model_stream_exp(&rng, MEAN_INCREMENT_US),
                     &p);
    }
    int64_t elapsed_us = g_get_monotonic_time() - start_us;
    double cpu_s = bench_cpu_s() - cpu_start_s;

    sim_evq_stats stats;
    sim_evq_stats_get(&q, &stats);
    hold_result r = {
        .holds_per_s = (double)holds * 1e6 / (double)MAX(elapsed_us, 1),
        .holds_per_cpu_s = (double)holds / MAX(cpu_s, 1e-6),
        .size = sim_evq_size(&q),
        .bytes = stats.bytes,
        .arity = stats.arity,
        .checksum = checksum,
    };
    sim_evq_clear(&q);
    return r;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? g_ascii_strtod(argv[1], NULL) : 1.0;
    if (!(scale > 0))
        scale = 1.0;
    size_t sizes[] = {1000, 100000, 1000000};
    size_t n_sizes = G_N_ELEMENTS(sizes);
    if (argc > 2) {
        sizes[0] = (size_t)g_ascii_strtoull(argv[2], NULL, 10);
        n_sizes = 1;
        if (sizes[0] == 0 || sizes[0] > SIM_EVQ_MAX_EVENTS / 2) {
            fprintf(stderr, "bench-evq: PENDING must be in 1..%u\n",
                    SIM_EVQ_MAX_EVENTS / 2);
            return 2;
        }
    }
    uint64_t checksum = 0;
    int reps = bench_reps(DEFAULT_REPS);

    printf("evq hold model, median of %d repetitions\n", reps);
    for (size_t s = 0; s < n_sizes; s++) {
        size_t pending = sizes[s];
        size_t holds = (size_t)(scale * (double)MAX(5 * pending,
                                                    (size_t)10000000));
        double rates[MAX_REPS], cpu_rates[MAX_REPS];
        hold_result r = {0};
        for (int rep = 0; rep < reps; rep++) {
            r = run_hold(pending, holds, 42);
            rates[rep] = r.holds_per_s;
            cpu_rates[rep] = r.holds_per_cpu_s;
            checksum ^= r.checksum;
        }
        double median = bench_median(rates, (size_t)reps);
        double cpu_median = bench_median(cpu_rates, (size_t)reps);
        printf("pending %8zu  holds %9zu  size %8zu  %u-ary  %6.1f MiB  "
               "median %6.2f M holds/s  (min %.2f, max %.2f)\n",
               pending, holds, r.size, r.arity,
               (double)r.bytes / (1024.0 * 1024.0),
               median / 1e6, rates[0] / 1e6, rates[reps - 1] / 1e6);
        char name[48];
        g_snprintf(name, sizeof name, "evq-pending-%zu", pending);
        bench_figure(name, "holds_per_s", median, "1/s", BENCH_HIGHER,
                     reps);
        bench_figure(name, "holds_per_cpu_s", cpu_median, "1/s",
                     BENCH_HIGHER, reps);
        bench_figure(name, "bytes_per_event",
                     (double)r.bytes / (double)MAX(r.size, 1), "B",
                     BENCH_LOWER, 1);
    }
    printf("checksum %016" G_GINT64_MODIFIER "x\n", checksum);
    return 0;
}
