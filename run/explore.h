/* explore.h: `peko explore`, a seed-driven fault explorer.
 *
 * In the spirit of FoundationDB's simulation testing and TigerBeetle's
 * VOPR: one 64-bit seed draws a whole case, a random cluster (size,
 * strategy, key, cycle, fan-out, packet size, transport), a random
 * network (latency law, standing loss and duplication, bandwidth, clock
 * skew and drift) and a random fault schedule (loss and latency spells,
 * symmetric and one-way partitions, crashes and restarts, pauses, stops,
 * late joins, publishes), every fault over by a heal point, followed by
 * a quiet period long enough for the strategy to settle. The case is
 * written as a scenario file (.ini) and that text is what runs: parsed
 * by the scenario parser and run in the simulator (run/sim.c, without
 * the recorder), with invariants checked during the run and after the
 * quiet period (explore-check.c). A violation is written out as the
 * scenario that replays it, then shrunk by delta debugging over the
 * case's faults to the fewest that still fail the same way.
 *
 * Everything is a function of the seed and the node range: `peko explore
 * --seed S` draws and runs case S again, bit for bit. docs/explore.md
 * says what is drawn and which invariants hold for which strategy.
 */
#ifndef RUN_EXPLORE_H
#define RUN_EXPLORE_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"
#include "scenario.h"

/* ------------------------------------------------------------------ */
/* A case: what one seed draws (explore-case.c).                        */

/* One fault (or publish) of a case: the units delta debugging removes.
 * Episodes are written as a pair of timeline events (start and end),
 * standing faults as keys of [network] or [clock]. */
typedef enum run_explore_kind {
    RUN_XP_PARTITION = 0, /* groups cut from each other, healed at end */
    RUN_XP_ONE_WAY,       /* from -> to cut, healed at end */
    RUN_XP_CRASH,         /* crash, restart at end (or never) */
    RUN_XP_PAUSE,         /* pause, resume at end (or never) */
    RUN_XP_STOP,          /* stop, start at end (or never) */
    RUN_XP_LOSS,          /* a spell of loss, back to the standing loss */
    RUN_XP_LATENCY,       /* a spell of latency, back to the standing one */
    RUN_XP_PUBLISH,       /* one publish at start */
    RUN_XP_JOIN,          /* a late join at start */
    RUN_XP_BASE_LOSS,     /* [network] loss for the whole fault phase */
    RUN_XP_DUPLICATE,     /* [network] duplicate, likewise */
    RUN_XP_BANDWIDTH,     /* [network] bandwidth */
    RUN_XP_SKEW,          /* [clock] skew, every node */
    RUN_XP_DRIFT,         /* [clock] drift_ppm, every node */
    RUN_XP_CLOCK_ENTRY,   /* [clock] skew.NODES or drift_ppm.NODES */
    RUN_XP_KIND_COUNT
} run_explore_kind;

/* "partition", "one-way", "crash", ...: the name in labels and reports. */
const char *run_explore_kind_name(run_explore_kind kind);

typedef struct run_explore_item {
    run_explore_kind kind;
    int64_t start_us;   /* episodes: when it begins */
    int64_t end_us;     /* episodes: when it ends, at most the heal
                         * point; < 0: never (crash, pause, stop) */
    char *nodes;        /* who: a node selector; partition: its groups
                         * (A|B); one-way: from; clock entry: its key
                         * ("skew.3", "drift_ppm.4-5") */
    char *to;           /* one-way: to */
    char *value;        /* loss model, latency law, rate, bandwidth,
                         * skew or drift law or value; publish: size */
} run_explore_item;

typedef struct run_explore_case {
    uint64_t seed;             /* the explorer's seed; also the run seed */
    /* [cluster] */
    uint32_t nodes;
    uint32_t seeds;            /* seed nodes per node */
    bool seeds_random;         /* seed_mode = random */
    int64_t stagger_us;
    /* [engine] */
    peko_dissemination strategy;
    int amount;
    int64_t cycle_us;
    int64_t timeout_us;        /* 0: the engine's default */
    int size;
    bool tcp;
    char *secret_key;          /* NULL: none */
    char *accepted_key;        /* a second accepted key, or NULL */
    int seen_cache;            /* 0: default */
    int exchanges;             /* 0: default */
    /* [network] */
    char *latency;             /* the standing latency law */
    /* Faults, standing and episodes, in the order drawn. */
    run_explore_item *items;
    size_t n_items;
    int64_t heal_us;           /* every fault is over by then */
    int64_t duration_us;       /* heal point + quiet period */
} run_explore_case;

/* The node range a case's cluster is drawn from. */
typedef struct run_explore_limits {
    uint32_t nodes_min;        /* >= 2 */
    uint32_t nodes_max;        /* >= nodes_min, <= 4096 */
} run_explore_limits;

#define RUN_EXPLORE_NODES_MIN 16
#define RUN_EXPLORE_NODES_MAX 64

/* Draws case `seed` within `limits` into *out (clear it with
 * run_explore_case_clear()). A pure function of its arguments. Returns
 * FALSE with *error set only if the drawn case fails to parse, which is
 * a bug of the explorer. */
gboolean run_explore_case_draw(uint64_t seed, const run_explore_limits *limits,
                               run_explore_case *out, GError **error);

void run_explore_case_clear(run_explore_case *c);

/* A deep copy of `c` holding only the items whose keep[] flag is set
 * (keep NULL: all). */
void run_explore_case_subset(const run_explore_case *c, const bool *keep,
                             run_explore_case *out);

/* The case as a scenario file (g_free): the text that runs. `comment`
 * (NULL: none) is put in the header, one "# " line per line. */
char *run_explore_case_to_ini(const run_explore_case *c, const char *comment);

/* The case parsed from its own text, as the run sees it. */
scn_scenario *run_explore_case_scenario(const run_explore_case *c,
                                        GError **error);

/* ------------------------------------------------------------------ */
/* Checking a scenario (explore-check.c).                               */

/* Test-only violations the checker can be told to report, to test the
 * explorer's replay and shrinking themselves (docs/explore.md). */
typedef enum run_explore_inject {
    RUN_XP_INJECT_NONE = 0,
    RUN_XP_INJECT_CRASH, /* "a node crashed" is a violation */
} run_explore_inject;

/* The first violation of a run: which invariant, when, and the detail. */
typedef struct run_explore_verdict {
    bool violated;
    char *invariant;     /* short name, e.g. "membership" (owned) */
    char *message;       /* what was seen (owned) */
    int64_t at_us;       /* virtual time of the finding */
    /* What was checked. */
    bool settled;        /* the quiet period was long enough for the
                          * convergence invariants */
    bool convergence;    /* they applied (strategy, seeds) and were checked */
    char *skipped;       /* why they were not, or NULL (owned) */
    size_t live;         /* live nodes at the end */
    uint64_t replays;    /* packets refused as replays where the network
                          * can make them (explore-check.c) */
    uint64_t received;   /* packets the engines accepted */
    uint64_t deliveries;
    uint64_t events;
    uint64_t trace_hash;
    double wall_s;
} run_explore_verdict;

void run_explore_verdict_clear(run_explore_verdict *v);

/* The quiet period `sc` needs after its last event for the convergence
 * invariants to be checked (docs/explore.md), or -1 when none suffices
 * (a latency law without a practical bound). */
int64_t run_explore_quiet_us(const scn_scenario *sc);

typedef struct run_explore_check_options {
    run_explore_inject inject;
    const char *db_path;               /* record the run too; NULL: no */
    volatile sig_atomic_t *stop;       /* may be NULL */
} run_explore_check_options;

/* Runs `sc` in the simulator with every invariant checked. Returns TRUE
 * with *out filled (violated or not), or FALSE with *error set when the
 * run could not be made or was stopped. */
gboolean run_explore_check(const scn_scenario *sc,
                           const run_explore_check_options *opts,
                           run_explore_verdict *out, GError **error);

/* ------------------------------------------------------------------ */
/* Shrinking (explore-shrink.c).                                        */

typedef struct run_explore_shrink_stats {
    size_t runs;        /* scenarios run while shrinking */
    size_t items_before, items_after;
    bool exhausted;     /* stopped at the run budget, not at a minimum */
} run_explore_shrink_stats;

/* Delta debugging (Zeller's ddmin) over c's items: the smallest subset
 * found (1-minimal unless the budget of max_runs runs ran out) whose
 * scenario still violates `invariant`. *out gets that case (clear it),
 * *verdict its violation. Returns FALSE with *error set only when a run
 * could not be made or was stopped. */
gboolean run_explore_shrink(const run_explore_case *c, const char *invariant,
                            const run_explore_check_options *opts,
                            size_t max_runs, run_explore_case *out,
                            run_explore_verdict *verdict,
                            run_explore_shrink_stats *stats, GError **error);

/* ------------------------------------------------------------------ */
/* Exploring many seeds in worker processes (explore.c).                */

typedef struct run_explore_progress {
    uint64_t total;     /* seeds to explore */
    uint64_t done;      /* explored */
    uint64_t violations;
    uint64_t failed;    /* runs that could not be made (bugs) */
    size_t running;
    double elapsed_s;
} run_explore_progress;

/* What a worker found for one seed, told to the caller as it arrives. */
typedef struct run_explore_found {
    uint64_t seed;
    const char *invariant;
    const char *message;
    const char *replay_path;   /* the scenario that replays it */
    const char *shrunk_path;   /* the shrunk one, or NULL */
    size_t items, shrunk_items;
} run_explore_found;

typedef struct run_explore_options {
    uint64_t first_seed;       /* seeds first_seed .. + n_seeds - 1 */
    uint64_t n_seeds;
    unsigned jobs;             /* worker processes, >= 1 */
    const char *out_dir;       /* where violations are written; required */
    run_explore_limits limits;
    bool shrink;               /* shrink each violation */
    size_t shrink_runs;        /* run budget of one shrink */
    run_explore_inject inject;
    const char *db_path;       /* record each seed's first run (not the
                                * shrinking runs) into it; NULL: no */
    void (*progress)(void *user, const run_explore_progress *p);
    void (*found)(void *user, const run_explore_found *f);
    void *user;
    volatile sig_atomic_t *stop;
} run_explore_options;

typedef struct run_explore_result {
    run_explore_progress final;
    bool interrupted;
    char *first_failure;       /* owned; why the first failed run failed */
} run_explore_result;

/* Explores the seeds. Returns TRUE when it could (see out->final and
 * out->interrupted; clear *out with run_explore_result_clear()), FALSE
 * with *error set when the output directory cannot be made or workers
 * cannot be started. */
gboolean run_explore(const run_explore_options *opts, run_explore_result *out,
                     GError **error);

void run_explore_result_clear(run_explore_result *r);

/* Explores one seed in this process: draws, checks, and on a violation
 * writes DIR/seed-S.ini and (when asked) DIR/seed-S-shrunk.ini and
 * DIR/seed-S.txt, a summary. *found_out tells whether it found one.
 * FALSE with *error when a run could not be made. */
gboolean run_explore_seed(uint64_t seed, const run_explore_options *opts,
                          bool *found_out, run_explore_verdict *verdict,
                          GError **error);

#endif /* RUN_EXPLORE_H */
