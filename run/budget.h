/* budget.h: how much memory a simulated run will need, and whether this
 * machine has it (docs/simulator.md, "Memory").
 *
 * A scenario's limits (16,777,214 nodes, 64 MiB packets, a year of
 * virtual time) are far beyond what one machine holds, and the simulator
 * takes what a run needs as it goes: without a check, a large run fails
 * late, after minutes or hours, or takes the machine's memory from
 * everything else. So before a run starts (peko sim, each point of a
 * sweep) its peak resident memory is estimated from the scenario, and a
 * run whose estimate exceeds the memory available is refused.
 *
 * The estimate adds what the simulator holds at its peak: per node, the
 * engine's peer table (64-byte records in a power-of-two table kept at
 * most three quarters full, with the refresh list and buckets of the
 * strategies with anti-entropy), its seen cache (the rumors it saw, up
 * to seen_cache), its packet buffers (Size each), the simulator's and the
 * recorder's state, and a copy of the metadata; and the packets in flight
 * at the worst moment: when many nodes send at once (joins at the same
 * instant, a group restarted together), every rumor of the burst is in
 * the event queue at the same time, up to the queue's bound. Its figures
 * are calibrated against measured peaks (docs/simulator.md gives them)
 * and err high: a refused run would have needed most of what it says,
 * and a run admitted stays within it.
 */
#ifndef RUN_BUDGET_H
#define RUN_BUDGET_H

#include <glib.h>
#include <stdint.h>

#include "scenario.h"

#define RUN_BUDGET_ERROR (run_budget_error_quark())
GQuark run_budget_error_quark(void);

typedef enum run_budget_error {
    RUN_BUDGET_ERROR_TOO_BIG, /* the estimate exceeds the limit */
} run_budget_error;

/* The estimated peak resident memory of one simulated run, in bytes, by
 * part. */
typedef struct run_mem_estimate {
    uint64_t base;       /* the program, SQLite, GLib */
    uint64_t per_node;   /* one node: engine, peer table, seen cache,
                          * buffers, simulator and recorder state */
    uint64_t nodes;      /* per_node times the nodes */
    uint64_t in_flight;  /* packets in the event queue at the peak */
    uint64_t recorder;   /* rumors traced node by node */
    uint64_t total;      /* the sum */
} run_mem_estimate;

/* Estimates the peak memory of running `sc` (borrowed) in the simulator.
 * Cannot fail: a scenario that loaded has an estimate. */
void run_sim_estimate_memory(const scn_scenario *sc, run_mem_estimate *out);

/* The memory this process can still take, in bytes: the kernel's
 * MemAvailable, lowered by the cgroup's memory.max (less what it holds)
 * and by RLIMIT_AS and RLIMIT_DATA when they are set. 0 when none of
 * them can be read (then nothing is checked). */
uint64_t run_memory_available(void);

/* Checks `sc` against `limit` bytes (0: no check). Returns TRUE when it
 * fits, or FALSE with *error (RUN_BUDGET_ERROR_TOO_BIG) giving the
 * estimate by part and the limit; `limit_is_given` says whether the
 * limit came from --max-memory (else: what the machine has available),
 * for the message. */
gboolean run_sim_check_memory(const scn_scenario *sc, uint64_t limit,
                              gboolean limit_is_given, GError **error);

/* "12.3 GiB", "850 MiB", "12 KiB", "100 B": into buf (at least 32). */
void run_format_bytes(char *buf, size_t size, uint64_t bytes);

#endif /* RUN_BUDGET_H */
