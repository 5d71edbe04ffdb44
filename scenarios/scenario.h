/* scenario.h: scenario files (.ini) and their parser.
 *
 * A scenario says what to run: the cluster (nodes, seeds, duration, run
 * seed), the engine configuration, the network model (latency
 * distributions, loss, duplication, bandwidth, regions), the nodes' clocks,
 * a timeline of publishes and faults, and optionally a sweep over any of
 * these. The format is documented in docs/scenarios.md.
 *
 * The parser resolves everything it can: durations become microseconds,
 * node selectors become sorted ranges of node indices, fractions of nodes
 * are chosen from the run seed, events are sorted. What it cannot resolve
 * is randomness the run itself draws (latency samples, losses, clock
 * offsets): for those it hands out the network model's own values
 * (model_dist, model_loss of model.h), which the simulator and the
 * testbed sample with model.h's code from the run's per-node streams, so
 * a run stays a function of (scenario, seed).
 *
 * A scenario that loads is valid: every key is known, every value parsed
 * and in range, every event refers to existing nodes within the duration.
 * Errors name the file, group and key and say what was expected.
 *
 * Conventions: fallible calls return gboolean (or NULL) and set a GError
 * in SCN_ERROR. Nothing here is thread-safe; a scenario is plain data that
 * may be read from several threads once loaded.
 */
#ifndef SCN_SCENARIO_H
#define SCN_SCENARIO_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "model.h"
#include "peko.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* Errors.                                                              */

#define SCN_ERROR (scn_error_quark())

typedef enum scn_error_code {
    SCN_ERROR_IO,       /* the file could not be read */
    SCN_ERROR_SYNTAX,   /* not a well-formed key file */
    SCN_ERROR_UNKNOWN,  /* unknown group, key, action or argument */
    SCN_ERROR_MISSING,  /* a required key or argument is absent */
    SCN_ERROR_VALUE,    /* a value does not parse */
    SCN_ERROR_RANGE,    /* a value parses but is out of range */
    SCN_ERROR_CONFLICT, /* settings or events contradict each other */
    SCN_ERROR_LIMIT,    /* the scenario exceeds one of the limits below */
} scn_error_code;

GQuark scn_error_quark(void);

/* ------------------------------------------------------------------ */
/* Limits: every input is bounded, so a hostile file costs bounded time  */
/* and memory.                                                          */

#define SCN_MAX_FILE_BYTES (4u << 20)          /* whole scenario file */
#define SCN_MAX_LINE_BYTES (64u << 10)         /* one line */
#define SCN_MAX_NODES ((1u << 24) - 2)         /* the simulator's 10.x.y.z */
#define SCN_MAX_SEEDS 1024                     /* seed nodes per node */
#define SCN_MAX_EVENTS 10000                   /* timeline entries */
#define SCN_MAX_REGIONS 256
#define SCN_MAX_RANGES (1u << 22)              /* all resolved selectors */
#define SCN_MAX_SWEEP_AXES 16
#define SCN_MAX_SWEEP_VALUES 10000             /* values of one axis */
#define SCN_MAX_SWEEP_COMBINATIONS 1000000
#define SCN_MAX_REPETITIONS 100000
/* 365 days: every duration and every sample of a duration distribution
 * stays below this, so converting to int64 microseconds never overflows.
 * The model's own bound (model.h), so every parsed latency samples. */
#define SCN_DURATION_MAX_US MODEL_DIST_MAX
#define SCN_DRIFT_MAX_PPM 100000.0             /* +-10 % clock rate */
#define SCN_BANDWIDTH_MAX_BPS 1000000000000LL  /* 1 Tbit/s */
#define SCN_SEND_QUEUE_MAX 1000000             /* packets */
#define SCN_PROCESSING_MAX_US 1000000          /* 1 s per packet */
#define SCN_HOST_CORES_MAX 4096                /* SIM_WORLD_MAX_HOST_CORES */

/* ------------------------------------------------------------------ */
/* Defaults of keys that may be omitted (docs/scenarios.md).            */

#define SCN_DEFAULT_SEEDS 1
#define SCN_DEFAULT_SEED 1
#define SCN_DEFAULT_SAMPLE_INTERVAL_US 1000000LL  /* 1 s */
#define SCN_DEFAULT_HEARTBEAT_SAMPLE "1%"
#define SCN_MAX_HEARTBEAT_EVERY 1000000
#define SCN_DEFAULT_LATENCY_US 1000.0             /* constant 1 ms */
#define SCN_DEFAULT_SEND_QUEUE 1000               /* packets */

/* ------------------------------------------------------------------ */
/* Node sets.                                                           */

typedef struct scn_range {
    uint32_t first; /* first node index in the range */
    uint32_t last;  /* last node index, inclusive (>= first) */
} scn_range;

/* A resolved node selector: sorted, disjoint, non-adjacent ranges. */
typedef struct scn_nodes {
    scn_range *ranges;  /* owned; NULL when empty */
    size_t n_ranges;
    size_t count;       /* number of nodes selected */
    char *text;         /* the selector as written, e.g. "10%" (owned) */
} scn_nodes;

/* True if `node` is selected. O(log n_ranges). */
bool scn_nodes_contains(const scn_nodes *nodes, uint32_t node);

/* ------------------------------------------------------------------ */
/* Distributions and loss models.                                       */

/* They are model.h's: model_dist (of one-way latency, clock offset and
 * clock drift) and model_loss. A parsed distribution's values are in the
 * unit of its key (microseconds for latency and skew, ppm for drift); its
 * bounds are the key's limits (latency: 0 .. SCN_DURATION_MAX_US), the
 * upper one lowered by a cap= parameter. A Gilbert-Elliott chain belongs
 * to the sending node and starts in the good state. */

/* ------------------------------------------------------------------ */
/* The scenario's parts.                                                */

typedef enum scn_seed_mode {
    SCN_SEEDS_FIRST = 0, /* node i is given the first k nodes other than i */
    SCN_SEEDS_RANDOM,    /* k distinct other nodes, chosen from the seed */
} scn_seed_mode;

typedef struct scn_cluster {
    uint32_t nodes;              /* cluster size, late joiners included */
    uint32_t seeds;              /* seed nodes given to each node at start */
    scn_seed_mode seed_mode;
    int64_t duration_us;         /* simulated (or real) run length */
    uint64_t seed;               /* run seed, 0 .. INT64_MAX */
    int64_t stagger_us;          /* initial joins spread over [0, stagger) */
    int64_t sample_interval_us;  /* membership convergence samples */
    scn_nodes heartbeat_sample;  /* origins whose heartbeats are recorded */
    uint32_t heartbeat_every;    /* of those, sequences 1, M+1, 2M+1, ... */
    scn_nodes late;              /* nodes started by a join event instead */
} scn_cluster;

typedef struct scn_network {
    model_dist latency_us;    /* one-way delay, unless a region pair says */
    model_loss loss;
    double duplicate;         /* probability a delivery happens twice */
    int64_t bandwidth_bps;    /* per node uplink; 0 means unlimited */
    uint32_t send_queue;      /* per node uplink queue bound, packets */
    int64_t processing_us;    /* receive cost per packet; 0: none */
    uint32_t host_cores;      /* cores all nodes share; 0: one each */
} scn_network;

typedef enum scn_region_assign {
    SCN_ASSIGN_ROUND_ROBIN = 0, /* node i in region i % n_regions */
    SCN_ASSIGN_BLOCKS,          /* contiguous blocks of equal size */
    SCN_ASSIGN_EXPLICIT,        /* members.NAME selectors */
} scn_region_assign;

typedef struct scn_region {
    char *name;         /* owned */
    scn_nodes members;  /* resolved for blocks and explicit; empty for
                         * round-robin (use scn_scenario_region_of()) */
} scn_region;

typedef struct scn_regions {
    scn_region *regions;   /* owned; n_regions == 0: no regions */
    size_t n_regions;
    scn_region_assign assign;
    model_dist *latency_us; /* n_regions^2, [from * n + to]; owned */
    bool *latency_set;     /* the same shape: pair given in the file */
} scn_regions;

/* An explicit clock setting for some nodes ([clock] skew.SEL, drift_ppm.SEL);
 * applied in file order after the distributions, so later entries win. */
typedef struct scn_clock_entry {
    scn_nodes nodes;
    bool is_drift;      /* false: value is an offset in us */
    double value;       /* offset in us, or drift in ppm */
} scn_clock_entry;

typedef struct scn_clock {
    model_dist skew_us;         /* per node clock offset */
    model_dist drift_ppm;       /* per node clock rate error */
    scn_clock_entry *entries;   /* owned */
    size_t n_entries;
} scn_clock;

typedef enum scn_event_kind {
    SCN_EVENT_PUBLISH = 0, /* the nodes publish metadata */
    SCN_EVENT_PARTITION,   /* a named partition starts */
    SCN_EVENT_HEAL,        /* one named partition, or all, end */
    SCN_EVENT_CRASH,       /* the nodes stop; their state is lost */
    SCN_EVENT_RESTART,     /* crashed nodes start afresh and rejoin */
    SCN_EVENT_PAUSE,       /* the nodes freeze; their state is kept */
    SCN_EVENT_RESUME,      /* paused nodes continue */
    SCN_EVENT_STOP,        /* pekonode's Stop(): no more heartbeats */
    SCN_EVENT_START,       /* pekonode's Start(): heartbeats again */
    SCN_EVENT_JOIN,        /* late nodes start and join */
    SCN_EVENT_NETWORK,     /* the network model changes */
    SCN_EVENT_KIND_COUNT
} scn_event_kind;

/* "publish", "partition", ... as written in the timeline. */
const char *scn_event_kind_name(scn_event_kind kind);

typedef struct scn_event {
    int64_t time_us;          /* 0 .. cluster.duration_us */
    scn_event_kind kind;
    char *label;              /* its key in [timeline] (owned) */
    size_t order;             /* position in the file; breaks time ties */
    scn_nodes nodes;          /* who acts: every kind but partition, heal,
                               * network (empty for those) */
    struct {
        char *data;           /* NULL: a generated payload, see
                               * scn_event_payload() */
        size_t n_bytes;       /* payload length, 1 .. engine Size */
    } publish;
    struct {
        char *name;           /* partition: its name (default: the label);
                               * heal: which to end, NULL for all */
        bool one_way;         /* from -> to dropped, to -> from delivered */
        scn_nodes *groups;    /* symmetric: the groups as written; nodes in
                               * none form one more, implicit group */
        size_t n_groups;
        scn_nodes from, to;   /* one-way */
    } partition;
    struct {
        bool set_latency, set_loss, set_duplicate;
        model_dist latency_us;
        model_loss loss;
        double duplicate;
    } network;
} scn_event;

/* True if the partition event `ev` drops packets from node `from` to node
 * `to`: symmetric, when they are in different groups (the implicit group
 * of unlisted nodes counts); one-way, when from is in ev->partition.from
 * and to in ev->partition.to. False for any other kind of event. */
bool scn_partition_drops(const scn_event *ev, uint32_t from, uint32_t to);

/* Writes the payload of a publish event (ev->publish.n_bytes bytes) into
 * buf: its data, or if that is NULL the generated pattern, byte i being
 * 'a' + i % 26. */
void scn_event_payload(const scn_event *ev, uint8_t *buf);

/* One swept key and the values it takes, as written (each value is
 * checked at load time by applying it). */
typedef struct scn_sweep_axis {
    char *key;        /* canonical "group.key", e.g. "engine.amount" */
    char **values;    /* owned, NULL-terminated */
    size_t n_values;
} scn_sweep_axis;

typedef struct scn_sweep {
    scn_sweep_axis *axes;  /* owned, in file order */
    size_t n_axes;
    uint32_t repetitions;  /* runs per combination, >= 1 */
    size_t combinations;   /* product of n_values; 1 without axes */
} scn_sweep;

typedef struct scn__source scn__source;

/* A loaded scenario. Plain data: read any field. Change it only through
 * scn_scenario_override() and scn_scenario_apply_sweep(), which reparse
 * the whole scenario so every derived value stays consistent. */
typedef struct scn_scenario {
    char *name;            /* file name without directories (owned) */
    scn_cluster cluster;
    peko_config engine;    /* as written: zero fields mean the engine's
                            * default, so peko_config_resolve() and
                            * peko_nodelist_new() apply pekonode's rules
                            * (timeout from cycle...). Its strings point
                            * into the fields below. */
    char *secret_key;      /* owned; NULL: none */
    char **accepted_keys;  /* owned, NULL-terminated; NULL: none */
    char *listen_addr;     /* owned; NULL: the engine's default */
    scn_network network;
    scn_regions regions;
    scn_clock clock;
    scn_event *events;     /* owned; sorted by (time_us, order) */
    size_t n_events;
    scn_sweep sweep;
    char **overrides;      /* "engine.amount=4", in the order applied;
                            * owned, NULL-terminated, never NULL */
    scn__source *source;   /* private: the parsed key file */
} scn_scenario;

/* ------------------------------------------------------------------ */
/* Loading.                                                             */

/* Reads and parses the scenario file at `path` (at most
 * SCN_MAX_FILE_BYTES). Error messages name the file as `path` is written.
 * Returns a new scenario (free with scn_scenario_free()), or NULL with
 * *error set; nothing is left allocated on failure. */
scn_scenario *scn_scenario_load_file(const char *path, GError **error);

/* Parses a scenario held in memory. `text` is borrowed; `name` (NULL:
 * "<scenario>") stands for the file in messages. As
 * scn_scenario_load_file() otherwise. */
scn_scenario *scn_scenario_load_data(const char *text, const char *name,
                                     GError **error);

/* Reads any .ini file of ours (peko node's config too) with the checks a
 * scenario file gets before GKeyFile sees it, which would silently keep
 * the last of a key given twice, merge a group given twice, hide
 * localized keys, and take control characters and invalid UTF-8: each is
 * refused with the file and line, and no byte of the file that is not
 * printable is echoed. At most SCN_MAX_FILE_BYTES, lines of at most
 * SCN_MAX_LINE_BYTES. Returns a new key file (g_key_file_free), or NULL
 * with *error set. */
GKeyFile *scn_ini_load_file(const char *path, GError **error);

/* Frees everything the scenario owns. NULL is a no-op. */
void scn_scenario_free(scn_scenario *sc);

/* A deep, independent copy (overrides included). Cannot fail. */
scn_scenario *scn_scenario_copy(const scn_scenario *sc);

/* Sets one key, as `--set engine.amount=4` would: `key` is
 * "group.key" (aliases accepted: "engine.Amount"; a timeline label adds
 * or replaces an event: "timeline.late=20s join node=40"), `value` is
 * written as in the file. The whole scenario is reparsed, so the value
 * is checked in context (a smaller cluster makes events out of range).
 * [sweep] keys cannot be set. On success the contents of *sc are
 * replaced (pointers into the old contents become invalid) and the
 * override is appended to sc->overrides; on failure *sc is unchanged and
 * *error says why. */
gboolean scn_scenario_override(scn_scenario *sc, const char *key,
                               const char *value, GError **error);

/* The same with "group.key=value" in one string, for command lines. */
gboolean scn_scenario_override_arg(scn_scenario *sc, const char *assignment,
                                   GError **error);

/* ------------------------------------------------------------------ */
/* Sweeps.                                                              */

/* The value axis `axis` takes in combination `combination` (mixed radix
 * over the axes in file order, the last axis varying fastest). Borrowed
 * from the sweep. Returns NULL if either index is out of range. */
const char *scn_sweep_value(const scn_sweep *sweep, size_t combination,
                            size_t axis);

/* Applies combination `combination` (0 .. sweep.combinations - 1): every
 * axis's value, as one scn_scenario_override() call each, reparsed once.
 * On failure *sc is unchanged. */
gboolean scn_scenario_apply_sweep(scn_scenario *sc, size_t combination,
                                  GError **error);

/* One run of a sweep: a copy of `base` with combination `combination`
 * applied and the run seed set to base's cluster.seed + repetition
 * (modulo 2^63), so repetitions are independent but reproducible.
 * Returns a new scenario, or NULL with *error set. */
scn_scenario *scn_scenario_sweep_point(const scn_scenario *base,
                                       size_t combination,
                                       uint32_t repetition, GError **error);

/* ------------------------------------------------------------------ */
/* Questions the simulator and testbed ask.                             */

/* When node `node` first joins: its slot in the start stagger,
 * floor(node * stagger / nodes), or -1 if a join event starts it. */
int64_t scn_scenario_start_us(const scn_scenario *sc, uint32_t node);

/* Writes the seed nodes of `node` (those it is told about before it
 * joins, pekonode's Set) into out[0 .. capacity), ascending; returns how
 * many it has (min(cluster.seeds, nodes - 1); only the first `capacity`
 * are written). Deterministic from the run seed. */
size_t scn_scenario_seeds(const scn_scenario *sc, uint32_t node,
                          uint32_t *out, size_t capacity);

/* The region index of `node`, or -1 when the scenario has no regions. */
int scn_scenario_region_of(const scn_scenario *sc, uint32_t node);

/* The one-way latency distribution from node `from` to node `to`: the
 * region pair's if [regions] gives it, else network.latency_us. Borrowed.
 * Latency changes by timeline events are the simulator's to apply. */
const model_dist *scn_scenario_latency(const scn_scenario *sc,
                                       uint32_t from, uint32_t to);

/* Node `node`'s clock: offset (us, rounded) and drift (ppm) sampled from
 * the [clock] distributions with model_dist_sample(), skew first, from
 * `stream` (the node's MODEL_STREAM_CLOCK stream of the run seed), then
 * the explicit entries applied. Draws one word per distribution that is
 * not a constant. */
void scn_scenario_clock(const scn_scenario *sc, uint32_t node,
                        model_stream *stream, int64_t *offset_us,
                        double *drift_ppm);

/* ------------------------------------------------------------------ */
/* Output.                                                              */

/* The scenario as one JSON object, for the run table: every effective
 * value (engine defaults resolved; the secret key's presence, never its
 * value), keys in a fixed order, numbers formatted the same on every
 * machine. Returns a newly allocated string (g_free). Cannot fail. */
char *scn_scenario_to_json(const scn_scenario *sc);

/* Writes the engine's part of a run's parameters into j, as one object
 * value: `config` with its defaults resolved (amount, cycle_us, buffer,
 * size, timeout_us, whether there is a secret key and how many accepted
 * keys, never a key, protocol, listen_addr, is_print, dissemination,
 * seen_cache). The scenario's parameters hold it at $.engine, and so do
 * those `peko node` records, so a report reads both alike. A config out of
 * range is written as given. */
void scn_engine_params_json(model_json *j, const peko_config *config);

/* ------------------------------------------------------------------ */
/* Value parsers, also for command-line options. Each accepts surrounding
 * spaces and, on failure, sets an error saying what was expected and
 * what it got, and leaves *out unchanged.                              */

/* "250ms", "1.5s", "2min", "0": us, ms, s, min, h. Non-negative unless
 * `allow_negative`; at most SCN_DURATION_MAX_US; whole microseconds. */
gboolean scn_parse_duration(const char *text, gboolean allow_negative,
                            int64_t *out_us, GError **error);
/* "16384", "16KiB", "1.5MiB": B, KiB, MiB, GiB; whole bytes. */
/* ---- engine settings (engine.c): one parser for every source ---- */

/* The canonical name of engine setting `key`, spelled by its name or a
 * pekonode alias ("fanout", "Amount" -> "amount"), or NULL. */
const char *scn_engine_setting_name(const char *key);
/* The engine settings' canonical names, NULL-terminated, in the order
 * docs/scenarios.md lists them. */
const char *const *scn_engine_settings(void);
/* True for the settings whose values are strings kept by the caller
 * (secret_key, accepted_keys, listen_addr); scn_engine_set() refuses
 * them. */
bool scn_engine_setting_is_text(const char *name);
/* Sets engine setting `key` (any spelling) from its text into *config,
 * with the engine's units and limits. FALSE with *error saying what was
 * expected and what was given, and *config unchanged; the caller says
 * where (file, group, flag). */
gboolean scn_engine_set(peko_config *config, const char *key,
                        const char *text, GError **error);
/* TRUE if the engine accepts *config as a whole; otherwise FALSE with the
 * field at fault in *error (peko_config_check()). */
gboolean scn_engine_check(const peko_config *config, GError **error);

gboolean scn_parse_size(const char *text, uint64_t *out_bytes,
                        GError **error);
/* "5%", "0.05": 0 .. 1. */
gboolean scn_parse_rate(const char *text, double *out, GError **error);
/* "10Mbit", "1.5Gbit/s", "800kbps", "unlimited" (0): bit/s, at most
 * SCN_BANDWIDTH_MAX_BPS. */
gboolean scn_parse_bandwidth(const char *text, int64_t *out_bps,
                             GError **error);

G_END_DECLS

#endif /* SCN_SCENARIO_H */
