/* explore-case.c: what one seed draws, and the scenario file it becomes
 * (explore.h; docs/explore.md lists the laws drawn from).
 *
 * The case is data (run_explore_case); the scenario that runs is its
 * text, parsed by the scenario parser, so the file written for a
 * violation is exactly what ran. Every draw comes from one stream of
 * the seed, in a fixed order, so a seed is a case on every machine.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "explore.h"
#include "model.h"

/* The explorer's draw stream: a stream index no run uses (model.h numbers
 * the per-node streams below 2^40). */
#define DRAW_STREAM ((uint64_t)0x5eed << 40)

static const char *const kind_names[RUN_XP_KIND_COUNT] = {
    [RUN_XP_PARTITION] = "partition",
    [RUN_XP_ONE_WAY] = "one-way",
    [RUN_XP_CRASH] = "crash",
    [RUN_XP_PAUSE] = "pause",
    [RUN_XP_STOP] = "stop",
    [RUN_XP_LOSS] = "loss",
    [RUN_XP_LATENCY] = "latency",
    [RUN_XP_PUBLISH] = "publish",
    [RUN_XP_JOIN] = "join",
    [RUN_XP_BASE_LOSS] = "standing-loss",
    [RUN_XP_DUPLICATE] = "duplicate",
    [RUN_XP_BANDWIDTH] = "bandwidth",
    [RUN_XP_SKEW] = "skew",
    [RUN_XP_DRIFT] = "drift",
    [RUN_XP_CLOCK_ENTRY] = "clock",
};

const char *run_explore_kind_name(run_explore_kind kind)
{
    return kind < RUN_XP_KIND_COUNT ? kind_names[kind] : "?";
}

/* ------------------------------------------------------------------ */
/* Drawing.                                                             */

typedef struct drawer {
    model_stream st;
    run_explore_case *c;
    GArray *items;       /* run_explore_item */
    int64_t *join_us;    /* per node: its late join, or -1 */
    int64_t timeout_us;  /* the effective timeout, for episode lengths */
} drawer;

static uint64_t below(drawer *d, uint64_t n)
{
    return model_stream_below(&d->st, n);
}

static int64_t range(drawer *d, int64_t lo, int64_t hi)
{
    return model_stream_range(&d->st, lo, hi);
}

/* True with probability p. */
static bool chance(drawer *d, double p)
{
    return model_stream_double(&d->st) < p;
}

/* One of n weights, by weight. */
static size_t pick(drawer *d, const double *weights, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    double x = model_stream_double(&d->st) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1;
}

/* A duration as the scenario format writes it, exactly. */
static char *format_us(int64_t us)
{
    if (us % 1000000 == 0)
        return g_strdup_printf("%" PRId64 "s", us / 1000000);
    if (us % 1000 == 0)
        return g_strdup_printf("%" PRId64 "ms", us / 1000);
    return g_strdup_printf("%" PRId64 "us", us);
}

/* A set of nodes (flags over n) as a selector: "3,7-9". */
static char *format_set(const bool *in, uint32_t n)
{
    GString *s = g_string_new(NULL);
    for (uint32_t i = 0; i < n;) {
        if (!in[i]) {
            i++;
            continue;
        }
        uint32_t j = i;
        while (j + 1 < n && in[j + 1])
            j++;
        if (s->len)
            g_string_append_c(s, ',');
        if (j == i)
            g_string_append_printf(s, "%u", i);
        else
            g_string_append_printf(s, "%u-%u", i, j);
        i = j + 1;
    }
    return g_string_free(s, FALSE);
}

/* Whether node i may be named by an event at time t: a late node only
 * from its join on. */
static bool may_act(const drawer *d, uint32_t i, int64_t t)
{
    return d->join_us[i] < 0 || d->join_us[i] <= t;
}

/* k distinct nodes that may act at t, as flags (fewer if not enough
 * may); returns how many. */
static uint32_t draw_nodes(drawer *d, uint32_t k, int64_t t, bool *out)
{
    uint32_t n = d->c->nodes;
    memset(out, 0, n * sizeof *out);
    uint32_t got = 0;
    for (uint32_t tries = 0; got < k && tries < 8 * k + 16; tries++) {
        uint32_t i = (uint32_t)below(d, n);
        if (!out[i] && may_act(d, i, t)) {
            out[i] = true;
            got++;
        }
    }
    return got;
}

static void add_item(drawer *d, run_explore_kind kind, int64_t start,
                     int64_t end, char *nodes, char *to, char *value)
{
    run_explore_item it = {
        .kind = kind,
        .start_us = start,
        .end_us = end,
        .nodes = nodes,
        .to = to,
        .value = value,
    };
    g_array_append_val(d->items, it);
}

static char *draw_latency(drawer *d)
{
    static const double w[] = {3, 2, 2, 1.5, 1.5};
    switch (pick(d, w, G_N_ELEMENTS(w))) {
    case 0:
        return g_strdup_printf("%" PRId64 "us", range(d, 100, 5000));
    case 1:
        return g_strdup_printf("uniform(%" PRId64 "us, %" PRId64 "us)",
                               range(d, 0, 2000), range(d, 3000, 30000));
    case 2:
        return g_strdup_printf("normal(mean=%" PRId64 "us, sd=%" PRId64
                               "us, cap=%" PRId64 "ms)",
                               range(d, 1000, 40000), range(d, 0, 10000),
                               range(d, 100, 500));
    case 3:
        return g_strdup_printf("lognormal(median=%" PRId64
                               "us, sigma=0.%02d, cap=%" PRId64 "ms)",
                               range(d, 500, 20000), (int)range(d, 10, 99),
                               range(d, 100, 500));
    default:
        return g_strdup_printf("pareto(scale=%" PRId64
                               "us, shape=1.%d, cap=%" PRId64 "ms)",
                               range(d, 200, 5000), (int)range(d, 1, 9),
                               range(d, 100, 500));
    }
}

/* A loss model: mild for the standing loss, anything for a spell. */
static char *draw_loss(drawer *d, bool spell)
{
    if (chance(d, 0.6)) {
        int64_t permille = spell ? range(d, 20, 600) : range(d, 2, 60);
        return g_strdup_printf("%" PRId64 ".%" PRId64 "%%", permille / 10,
                               permille % 10);
    }
    return g_strdup_printf(
        "gilbert_elliott(p_good_to_bad=%" PRId64 "%%, p_bad_to_good=%" PRId64
        "%%, loss_good=0, loss_bad=%" PRId64 "%%)",
        spell ? range(d, 2, 30) : range(d, 1, 5), range(d, 10, 60),
        spell ? range(d, 50, 100) : range(d, 20, 80));
}

static void draw_engine(drawer *d)
{
    run_explore_case *c = d->c;
    static const double strategies[] = {
        [PEKO_DISSEMINATION_RUMOR] = 4,
        [PEKO_DISSEMINATION_CLASSIC] = 2,
        [PEKO_DISSEMINATION_DIGEST] = 4,
    };
    c->strategy = (peko_dissemination)pick(d, strategies,
                                           G_N_ELEMENTS(strategies));
    c->amount = (int)range(d, 1, 5);
    /* classic forwards every copy of a rumor (pekonode's flaw, kept for
     * measurement): a heartbeat makes about f^(N/(f+1)) copies, as each
     * hop adds itself and f targets to the set it carries. Beyond a few
     * hundred a case measures little but that, so the fan-out comes
     * down until it is tractable (docs/explore.md). */
    while (c->strategy == PEKO_DISSEMINATION_CLASSIC && c->amount > 1 &&
           pow(c->amount, (double)c->nodes / (c->amount + 1)) > 256)
        c->amount--;
    static const int64_t cycles_ms[] = {100, 200, 250, 500, 1000, 2000};
    c->cycle_us = cycles_ms[below(d, G_N_ELEMENTS(cycles_ms))] * 1000;
    /* An explicit timeout, above pekonode's "not above the cycle means
     * the default"; digest's only when above its scaled default for the
     * largest list, which a shorter one would undercut for good. */
    c->timeout_us = 0;
    if (chance(d, 0.3)) {
        c->timeout_us = range(d, 3, 10) * c->cycle_us;
        if (c->strategy == PEKO_DISSEMINATION_DIGEST)
            c->timeout_us = 0;
    }
    static const int sizes[] = {16384, 16384, 16384, 8192, 4096, 2048, 1024,
                                512};
    c->size = sizes[below(d, G_N_ELEMENTS(sizes))];
    c->tcp = chance(d, 0.1);
    if (chance(d, 0.4)) {
        c->secret_key = g_strdup_printf("key-%" PRIu64, below(d, 1000000));
        if (chance(d, 0.3))
            c->accepted_key =
                g_strdup_printf("old-%" PRIu64, below(d, 1000000));
    }
    c->seen_cache = chance(d, 0.15) ? (int)range(d, 4, 256) : 0;
    c->exchanges = c->strategy == PEKO_DISSEMINATION_DIGEST && chance(d, 0.4)
                       ? (int)range(d, 2, 4)
                       : 0;

    peko_config config = {0};
    config.amount = c->amount;
    config.cycle_us = c->cycle_us;
    config.timeout_us = c->timeout_us;
    config.size = c->size;
    config.dissemination = c->strategy;
    config.exchanges = c->exchanges;
    peko_config resolved;
    if (peko_config_resolve(&config, &resolved) < 0)
        g_error("explore: drew an engine configuration the engine refuses");
    d->timeout_us = resolved.timeout_us > 0
                        ? resolved.timeout_us
                        : peko_digest_timeout_us(c->nodes, &resolved);
}

static void draw_standing(drawer *d)
{
    run_explore_case *c = d->c;
    c->latency = draw_latency(d);
    if (chance(d, 0.4))
        add_item(d, RUN_XP_BASE_LOSS, 0, -1, NULL, NULL, draw_loss(d, false));
    if (chance(d, 0.25))
        add_item(d, RUN_XP_DUPLICATE, 0, -1, NULL, NULL,
                 g_strdup_printf("%" PRId64 "%%", range(d, 1, 10)));
    if (chance(d, 0.1))
        add_item(d, RUN_XP_BANDWIDTH, 0, -1, NULL, NULL,
                 g_strdup(chance(d, 0.5) ? "10Mbit" : "100Mbit"));
    if (chance(d, 0.3))
        add_item(d, RUN_XP_SKEW, 0, -1, NULL, NULL,
                 chance(d, 0.5)
                     ? g_strdup_printf("uniform(-%" PRId64 "s, %" PRId64 "s)",
                                       range(d, 1, 60), range(d, 1, 60))
                     : g_strdup_printf("normal(0, %" PRId64 "ms)",
                                       range(d, 1, 5000)));
    if (chance(d, 0.3))
        add_item(d, RUN_XP_DRIFT, 0, -1, NULL, NULL,
                 chance(d, 0.5)
                     ? g_strdup_printf("uniform(-%" PRId64 ", %" PRId64 ")",
                                       range(d, 1, 2000), range(d, 1, 2000))
                     : g_strdup_printf("normal(0, %" PRId64 ")",
                                       range(d, 1, 500)));
    for (int k = 0, n = chance(d, 0.15) ? (int)range(d, 1, 3) : 0; k < n;
         k++) {
        uint32_t node = (uint32_t)below(d, c->nodes);
        if (chance(d, 0.5))
            add_item(d, RUN_XP_CLOCK_ENTRY, 0, -1,
                     g_strdup_printf("drift_ppm.%u", node), NULL,
                     g_strdup_printf("%" PRId64, range(d, -50000, 50000)));
        else
            add_item(d, RUN_XP_CLOCK_ENTRY, 0, -1,
                     g_strdup_printf("skew.%u", node), NULL,
                     g_strdup_printf("%" PRId64 "ms", range(d, -60000, 60000)));
    }
}

/* An episode's end: short (within a timeout, which no one should
 * notice for long) or long (beyond it: removals, reconnection), or
 * never for what may last (crash, pause, stop). Never past the heal. */
static int64_t draw_end(drawer *d, int64_t start, bool may_last)
{
    if (may_last && chance(d, 0.25))
        return -1;
    int64_t length = chance(d, 0.5)
                         ? range(d, d->c->cycle_us / 2, d->timeout_us)
                         : range(d, d->timeout_us, 3 * d->timeout_us);
    return MIN(start + length, d->c->heal_us);
}

/* A subset of the cluster's nodes of size 1 .. n/2 (a partition side). */
static char *draw_side(drawer *d, bool *flags, bool *taken)
{
    uint32_t n = d->c->nodes;
    uint32_t k = (uint32_t)range(d, 1, MAX(1, n / 2));
    memset(flags, 0, n * sizeof *flags);
    for (uint32_t got = 0, tries = 0; got < k && tries < 8 * k + 16;
         tries++) {
        uint32_t i = (uint32_t)below(d, n);
        if (!flags[i] && !(taken && taken[i])) {
            flags[i] = true;
            got++;
        }
    }
    return format_set(flags, n);
}

static void draw_episode(drawer *d, bool *flags, bool *other)
{
    run_explore_case *c = d->c;
    static const double w[] = {
        [RUN_XP_PARTITION] = 3, [RUN_XP_ONE_WAY] = 2, [RUN_XP_CRASH] = 3,
        [RUN_XP_PAUSE] = 2,     [RUN_XP_STOP] = 1.5,  [RUN_XP_LOSS] = 2,
        [RUN_XP_LATENCY] = 1,   [RUN_XP_PUBLISH] = 3,
    };
    run_explore_kind kind = (run_explore_kind)pick(d, w, G_N_ELEMENTS(w));
    int64_t start = range(d, 0, c->heal_us - 1);
    uint32_t n = c->nodes;
    switch (kind) {
    case RUN_XP_PARTITION: {
        char *a = draw_side(d, flags, NULL);
        char *groups = a;
        if (chance(d, 0.3) && n >= 6) {
            for (uint32_t i = 0; i < n; i++)
                other[i] = flags[i];
            char *b = draw_side(d, flags, other);
            if (*b)
                groups = g_strdup_printf("%s|%s", a, b);
            else
                groups = g_strdup(a);
            g_free(a);
            g_free(b);
        }
        add_item(d, kind, start, draw_end(d, start, false), groups, NULL,
                 NULL);
        break;
    }
    case RUN_XP_ONE_WAY: {
        char *from = draw_side(d, flags, NULL);
        for (uint32_t i = 0; i < n; i++)
            other[i] = flags[i];
        char *to = NULL;
        if (chance(d, 0.5)) {
            /* Everyone else. */
            for (uint32_t i = 0; i < n; i++)
                flags[i] = !other[i];
            to = format_set(flags, n);
        } else {
            to = draw_side(d, flags, other);
        }
        if (*to == '\0') {
            g_free(from);
            g_free(to);
            break;
        }
        add_item(d, kind, start, draw_end(d, start, false), from, to, NULL);
        break;
    }
    case RUN_XP_CRASH:
    case RUN_XP_PAUSE:
    case RUN_XP_STOP: {
        uint32_t k = (uint32_t)range(d, 1, MAX(1, n / 8));
        if (draw_nodes(d, k, start, flags) == 0)
            break;
        add_item(d, kind, start, draw_end(d, start, true),
                 format_set(flags, n), NULL, NULL);
        break;
    }
    case RUN_XP_LOSS:
        add_item(d, kind, start, draw_end(d, start, false), NULL, NULL,
                 draw_loss(d, true));
        break;
    case RUN_XP_LATENCY:
        add_item(d, kind, start, draw_end(d, start, false), NULL, NULL,
                 chance(d, 0.5)
                     ? g_strdup_printf("uniform(%" PRId64 "ms, %" PRId64 "ms)",
                                       range(d, 10, 100), range(d, 100, 500))
                     : g_strdup_printf("pareto(scale=%" PRId64
                                       "ms, shape=1.%d, cap=1s)",
                                       range(d, 1, 20), (int)range(d, 1, 9)));
        break;
    case RUN_XP_PUBLISH: {
        if (draw_nodes(d, 1, start, flags) == 0)
            break;
        int max = MIN(256, c->size / 8);
        add_item(d, kind, start, -1, format_set(flags, n), NULL,
                 g_strdup_printf("%" PRId64, range(d, 1, max)));
        break;
    }
    default:
        break;
    }
}

/* Loss and latency spells of one kind never overlap: a spell's end puts
 * the standing value back, which would cut another short. Later ones
 * that overlap an earlier one are moved after it or dropped. */
static void separate_spells(drawer *d)
{
    for (run_explore_kind kind = RUN_XP_LOSS; kind <= RUN_XP_LATENCY;
         kind++) {
        int64_t free_from = 0;
        for (guint i = 0; i < d->items->len; i++) {
            run_explore_item *it =
                &g_array_index(d->items, run_explore_item, i);
            if (it->kind != kind)
                continue;
            if (it->start_us < free_from) {
                int64_t length = it->end_us - it->start_us;
                it->start_us = free_from;
                it->end_us = MIN(free_from + length, d->c->heal_us);
            }
            if (it->start_us >= d->c->heal_us ||
                it->end_us <= it->start_us) {
                g_free(it->nodes);
                g_free(it->to);
                g_free(it->value);
                g_array_remove_index(d->items, i--);
                continue;
            }
            free_from = it->end_us + 1;
        }
    }
}

/* A node that crashes or pauses for good while it is some node's seed
 * may leave that node no way into the cluster, which is no fault of the
 * protocol; such an episode ends after a timeout instead (the checker
 * still tells the case apart if it arises otherwise). */
static void keep_seeds_alive(run_explore_case *c, const scn_scenario *sc)
{
    bool *is_seed = g_new0(bool, c->nodes);
    uint32_t *seeds = g_new(uint32_t, SCN_MAX_SEEDS);
    for (uint32_t i = 0; i < c->nodes; i++) {
        size_t k = scn_scenario_seeds(sc, i, seeds, SCN_MAX_SEEDS);
        for (size_t s = 0; s < k && s < SCN_MAX_SEEDS; s++)
            is_seed[seeds[s]] = true;
    }
    g_free(seeds);
    for (size_t i = 0; i < c->n_items; i++) {
        run_explore_item *it = &c->items[i];
        if ((it->kind != RUN_XP_CRASH && it->kind != RUN_XP_PAUSE) ||
            it->end_us >= 0)
            continue;
        scn_nodes nodes;
        for (size_t e = 0; e < sc->n_events; e++) {
            /* The episode's own event names its nodes resolved. */
            const scn_event *ev = &sc->events[e];
            char *label = g_strdup_printf("x%zu-", i);
            bool mine = g_str_has_prefix(ev->label, label);
            g_free(label);
            if (!mine)
                continue;
            nodes = ev->nodes;
            for (size_t r = 0; r < nodes.n_ranges; r++)
                for (uint32_t n = nodes.ranges[r].first;
                     n <= nodes.ranges[r].last; n++)
                    if (is_seed[n])
                        it->end_us = c->heal_us;
        }
    }
    g_free(is_seed);
}

gboolean run_explore_case_draw(uint64_t seed, const run_explore_limits *limits,
                               run_explore_case *out, GError **error)
{
    memset(out, 0, sizeof *out);
    drawer d = {.c = out, .items = g_array_new(FALSE, FALSE,
                                               sizeof(run_explore_item))};
    model_stream_init(&d.st, seed, DRAW_STREAM);
    run_explore_case *c = out;
    c->seed = seed;
    c->nodes = (uint32_t)range(&d, limits->nodes_min, limits->nodes_max);
    c->seeds = (uint32_t)MIN(range(&d, 1, 3), c->nodes - 1);
    c->seeds_random = chance(&d, 0.4);
    draw_engine(&d);
    c->stagger_us = chance(&d, 0.5) ? range(&d, 0, 2 * c->cycle_us) : 0;
    /* The fault phase: 10 to 40 cycles, or at least two timeouts so
     * that long episodes fit. */
    int64_t cycles = range(&d, 10, 40);
    c->heal_us = MAX(cycles * c->cycle_us, 2 * d.timeout_us) + c->stagger_us;

    d.join_us = g_new(int64_t, c->nodes);
    for (uint32_t i = 0; i < c->nodes; i++)
        d.join_us[i] = -1;
    for (int k = 0, n = chance(&d, 0.3) ? (int)range(&d, 1, 3) : 0; k < n;
         k++) {
        uint32_t node = (uint32_t)below(&d, c->nodes);
        if (d.join_us[node] >= 0)
            continue;
        d.join_us[node] = range(&d, 0, c->heal_us / 2);
        add_item(&d, RUN_XP_JOIN, d.join_us[node], -1,
                 g_strdup_printf("%u", node), NULL, NULL);
    }
    draw_standing(&d);
    bool *flags = g_new(bool, c->nodes);
    bool *other = g_new(bool, c->nodes);
    for (int k = 0, n = (int)range(&d, 0, 10); k < n; k++)
        draw_episode(&d, flags, other);
    g_free(flags);
    g_free(other);
    separate_spells(&d);
    g_free(d.join_us);

    c->n_items = d.items->len;
    c->items = (run_explore_item *)g_array_free(d.items, FALSE);

    /* The quiet period is the scenario's to say (its laws' bounds): run
     * the text once with room to spare, then set the duration. */
    c->duration_us = c->heal_us + 24LL * 3600 * 1000000;
    scn_scenario *sc = run_explore_case_scenario(c, error);
    if (sc == NULL)
        return FALSE;
    int64_t quiet = run_explore_quiet_us(sc);
    keep_seeds_alive(c, sc);
    scn_scenario_free(sc);
    if (quiet < 0) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "explore: seed %" PRIu64 " drew a case without a bounded "
                    "quiet period",
                    seed);
        return FALSE;
    }
    c->duration_us = c->heal_us + quiet;
    return TRUE;
}

void run_explore_case_clear(run_explore_case *c)
{
    for (size_t i = 0; i < c->n_items; i++) {
        g_free(c->items[i].nodes);
        g_free(c->items[i].to);
        g_free(c->items[i].value);
    }
    g_free(c->items);
    g_free(c->secret_key);
    g_free(c->accepted_key);
    g_free(c->latency);
    memset(c, 0, sizeof *c);
}

void run_explore_case_subset(const run_explore_case *c, const bool *keep,
                             run_explore_case *out)
{
    *out = *c;
    out->secret_key = g_strdup(c->secret_key);
    out->accepted_key = g_strdup(c->accepted_key);
    out->latency = g_strdup(c->latency);
    out->items = g_new0(run_explore_item, MAX(c->n_items, 1));
    out->n_items = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        if (keep && !keep[i])
            continue;
        run_explore_item *it = &out->items[out->n_items++];
        *it = c->items[i];
        it->nodes = g_strdup(c->items[i].nodes);
        it->to = g_strdup(c->items[i].to);
        it->value = g_strdup(c->items[i].value);
    }
}

/* ------------------------------------------------------------------ */
/* The scenario file.                                                   */

static const run_explore_item *find_standing(const run_explore_case *c,
                                             run_explore_kind kind)
{
    for (size_t i = 0; i < c->n_items; i++)
        if (c->items[i].kind == kind)
            return &c->items[i];
    return NULL;
}

/* Appends "label = TIME rest" to the timeline. */
static void event(GString *s, const char *label, size_t index, int64_t t,
                  const char *format, ...) G_GNUC_PRINTF(5, 6);

static void event(GString *s, const char *label, size_t index, int64_t t,
                  const char *format, ...)
{
    char *time = format_us(t);
    g_string_append_printf(s, "x%zu-%s = %s ", index, label, time);
    g_free(time);
    va_list ap;
    va_start(ap, format);
    g_string_append_vprintf(s, format, ap);
    va_end(ap);
    g_string_append_c(s, '\n');
}

static void write_timeline(GString *s, const run_explore_case *c)
{
    const run_explore_item *base_loss = find_standing(c, RUN_XP_BASE_LOSS);
    g_string_append(s, "\n[timeline]\n");
    for (size_t i = 0; i < c->n_items; i++) {
        const run_explore_item *it = &c->items[i];
        switch (it->kind) {
        case RUN_XP_PARTITION:
            event(s, "cut", i, it->start_us, "partition groups=%s name=p%zu",
                  it->nodes, i);
            event(s, "mend", i, it->end_us, "heal name=p%zu", i);
            break;
        case RUN_XP_ONE_WAY:
            event(s, "cut", i, it->start_us,
                  "partition from=%s to=%s name=p%zu", it->nodes, it->to, i);
            event(s, "mend", i, it->end_us, "heal name=p%zu", i);
            break;
        case RUN_XP_CRASH:
        case RUN_XP_PAUSE:
        case RUN_XP_STOP: {
            static const char *const verbs[][2] = {
                [RUN_XP_CRASH] = {"crash", "restart"},
                [RUN_XP_PAUSE] = {"pause", "resume"},
                [RUN_XP_STOP] = {"stop", "start"},
            };
            event(s, verbs[it->kind][0], i, it->start_us, "%s nodes=%s",
                  verbs[it->kind][0], it->nodes);
            if (it->end_us >= 0)
                event(s, verbs[it->kind][1], i, it->end_us, "%s nodes=%s",
                      verbs[it->kind][1], it->nodes);
            break;
        }
        case RUN_XP_LOSS:
            event(s, "lossy", i, it->start_us, "network loss=\"%s\"",
                  it->value);
            event(s, "clear", i, it->end_us, "network loss=\"%s\"",
                  base_loss ? base_loss->value : "0");
            break;
        case RUN_XP_LATENCY:
            event(s, "slow", i, it->start_us, "network latency=\"%s\"",
                  it->value);
            event(s, "fast", i, it->end_us, "network latency=\"%s\"",
                  c->latency);
            break;
        case RUN_XP_PUBLISH:
            event(s, "publish", i, it->start_us, "publish node=%s size=%s",
                  it->nodes, it->value);
            break;
        case RUN_XP_JOIN:
            event(s, "join", i, it->start_us, "join node=%s", it->nodes);
            break;
        default:
            break;
        }
    }
    /* The heal point: the network's standing faults end; what the
     * episodes did they undid themselves. */
    char *heal = format_us(c->heal_us);
    g_string_append_printf(s, "quiet = %s network loss=0 duplicate=0\n",
                           heal);
    g_free(heal);
}

char *run_explore_case_to_ini(const run_explore_case *c, const char *comment)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(
        s,
        "# peko explore, seed %" PRIu64 " (docs/explore.md): run it with\n"
        "#   peko explore --replay THIS-FILE    (with the invariant checks)\n"
        "#   peko sim THIS-FILE                 (as any scenario)\n",
        c->seed);
    if (comment) {
        char **lines = g_strsplit(comment, "\n", -1);
        for (char **l = lines; *l; l++)
            if (**l)
                g_string_append_printf(s, "# %s\n", *l);
        g_strfreev(lines);
    }
    char *t;
    g_string_append(s, "\n[cluster]\n");
    g_string_append_printf(s, "nodes = %u\n", c->nodes);
    t = format_us(c->duration_us);
    g_string_append_printf(s, "duration = %s\n", t);
    g_free(t);
    g_string_append_printf(s, "seed = %" PRIu64 "\n",
                           c->seed & (uint64_t)INT64_MAX);
    g_string_append_printf(s, "seeds = %u\n", c->seeds);
    g_string_append_printf(s, "seed_mode = %s\n",
                           c->seeds_random ? "random" : "first");
    if (c->stagger_us > 0) {
        t = format_us(c->stagger_us);
        g_string_append_printf(s, "stagger = %s\n", t);
        g_free(t);
    }
    g_string_append(s, "heartbeat_sample = none\n");

    g_string_append(s, "\n[engine]\n");
    g_string_append_printf(s, "dissemination = %s\n",
                           peko_dissemination_name(c->strategy));
    g_string_append_printf(s, "amount = %d\n", c->amount);
    t = format_us(c->cycle_us);
    g_string_append_printf(s, "cycle = %s\n", t);
    g_free(t);
    if (c->timeout_us > 0) {
        t = format_us(c->timeout_us);
        g_string_append_printf(s, "timeout = %s\n", t);
        g_free(t);
    }
    g_string_append_printf(s, "size = %d\n", c->size);
    if (c->tcp)
        g_string_append(s, "protocol = tcp\n");
    if (c->secret_key)
        g_string_append_printf(s, "secret_key = %s\n", c->secret_key);
    if (c->accepted_key)
        g_string_append_printf(s, "accepted_keys = %s\n", c->accepted_key);
    if (c->seen_cache > 0)
        g_string_append_printf(s, "seen_cache = %d\n", c->seen_cache);
    if (c->exchanges > 0)
        g_string_append_printf(s, "exchanges = %d\n", c->exchanges);

    g_string_append(s, "\n[network]\n");
    g_string_append_printf(s, "latency = %s\n", c->latency);
    const run_explore_item *it;
    if ((it = find_standing(c, RUN_XP_BASE_LOSS)))
        g_string_append_printf(s, "loss = %s\n", it->value);
    if ((it = find_standing(c, RUN_XP_DUPLICATE)))
        g_string_append_printf(s, "duplicate = %s\n", it->value);
    if ((it = find_standing(c, RUN_XP_BANDWIDTH)))
        g_string_append_printf(s, "bandwidth = %s\n", it->value);

    GString *clock = g_string_new(NULL);
    if ((it = find_standing(c, RUN_XP_SKEW)))
        g_string_append_printf(clock, "skew = %s\n", it->value);
    if ((it = find_standing(c, RUN_XP_DRIFT)))
        g_string_append_printf(clock, "drift_ppm = %s\n", it->value);
    /* Explicit entries: one key each, so a repeated one is left out
     * (the first drawn wins). */
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; i < c->n_items; i++) {
        it = &c->items[i];
        if (it->kind != RUN_XP_CLOCK_ENTRY ||
            !g_hash_table_add(seen, it->nodes))
            continue;
        g_string_append_printf(clock, "%s = %s\n", it->nodes, it->value);
    }
    g_hash_table_destroy(seen);
    if (clock->len)
        g_string_append_printf(s, "\n[clock]\n%s", clock->str);
    g_string_free(clock, TRUE);

    write_timeline(s, c);
    return g_string_free(s, FALSE);
}

scn_scenario *run_explore_case_scenario(const run_explore_case *c,
                                        GError **error)
{
    char *text = run_explore_case_to_ini(c, NULL);
    char *name = g_strdup_printf("explore-%" PRIu64 ".ini", c->seed);
    scn_scenario *sc = scn_scenario_load_data(text, name, error);
    g_free(name);
    g_free(text);
    return sc;
}
