/* model.h: the network model's vocabulary, shared by the simulator, the
 * testbed, the scenario parser and the analysis (DESIGN.md section 2):
 *
 * - seeded random streams: xoshiro256** filled by SplitMix64, and how a
 *   run's seed is split into one stream per node and purpose;
 * - distributions of durations and other quantities (latency, clock
 *   offset, clock drift): sampling by inverse transform and exact means;
 * - the standard normal quantile;
 * - loss models (Bernoulli, Gilbert-Elliott) and the one step function
 *   that decides a packet's fate.
 *
 * There is one copy of each: the simulator and the testbed draw the
 * scenario's latency and loss with this code from the same streams, so
 * for one seed and one sender their draws are the same numbers.
 *
 * Plain C on caller-owned values: no allocation, no global state, no
 * clock, no system entropy; every draw comes from a stream the caller
 * seeded. Not thread-safe per value (a stream is used by one thread).
 * Fallible calls return 0 or a negative errno. The engine never includes
 * this header: it draws only through its environment.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Streams.                                                             */

typedef struct model_stream {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
} model_stream;

/* SplitMix64's output function alone: a bijection on 64 bits, used to
 * mix seeds and counters. */
static inline uint64_t model_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Advances a SplitMix64 state and returns its next output (Steele, Lea
 * and Flood; Vigna's constants). Seeds streams; also a small generator
 * of its own where a state of one word is wanted. */
static inline uint64_t model_splitmix64(uint64_t *state)
{
    return model_mix64(*state += 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t model__rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 bits of the stream (Blackman and Vigna's xoshiro256**). */
static inline uint64_t model_stream_u64(model_stream *st)
{
    uint64_t *s = st->s;
    uint64_t result = model__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = model__rotl64(s[3], 45);
    return result;
}

/* What model_stream_u64(st) will return k calls from now (k = 0: the
 * next), leaving the stream where it is: a copy run ahead. */
static inline uint64_t model_stream_peek(const model_stream *st,
                                         unsigned k)
{
    model_stream copy = *st;
    for (unsigned i = 0; i < k; i++)
        (void)model_stream_u64(&copy);
    return model_stream_u64(&copy);
}

/* A uniform double in [0, 1) with 53 random bits: every multiple of
 * 2^-53 in [0, 1) is equally likely; 1.0 is never returned. */
static inline double model_stream_double(model_stream *st)
{
    return (double)(model_stream_u64(st) >> 11) * 0x1.0p-53;
}

/* A uniform double in the open interval (0, 1): the top 53 bits plus a
 * half, so neither end is reachable and no quantile of it is infinite. */
static inline double model_stream_open(model_stream *st)
{
    return ((double)(model_stream_u64(st) >> 11) + 0.5) * 0x1.0p-53;
}

/* Fills *st from a 64-bit seed: four SplitMix64 outputs. Equal seeds
 * give equal streams on any machine. Cannot fail. */
void model_stream_seed(model_stream *st, uint64_t seed);

/* The 64-bit seed of stream `index` of run seed `run_seed`. For one run
 * seed, distinct indices give distinct seeds (the mix is a bijection),
 * and neighbouring indices (0, 1, 2...) give unrelated ones. A key may in
 * turn serve as the run seed of sub-streams. */
uint64_t model_stream_key(uint64_t run_seed, uint64_t index);

/* Initializes *st as stream `index` of run `run_seed`:
 * model_stream_seed(st, model_stream_key(run_seed, index)). Stream i
 * depends on nothing but those two numbers: adding a node, or drawing
 * more often on one node, never shifts another's draws. Cannot fail. */
void model_stream_init(model_stream *st, uint64_t run_seed, uint64_t index);

/* What a per-node stream of a run is for. Node i's stream for purpose p
 * is stream (p << 32 | i) of the run seed; the engine's streams are then
 * 0 .. n-1, so none collide. The simulator and the testbed use the same
 * numbers, hence the same draws. */
typedef enum model_purpose {
    MODEL_STREAM_ENGINE = 0,    /* node i's engine: its environment's
                                 * random_u64 */
    MODEL_STREAM_LATENCY = 1,   /* latency of the packets node i sends (and
                                 * of their duplicates and, in the
                                 * simulator, of its TCP handshakes) */
    MODEL_STREAM_LOSS = 2,      /* loss draws and Gilbert-Elliott steps of
                                 * the packets node i sends */
    MODEL_STREAM_DUPLICATE = 3, /* whether a packet node i sends is
                                 * delivered twice */
    MODEL_STREAM_CLOCK = 16,    /* node i's clock offset and drift */
} model_purpose;

/* The stream index of node `node`'s stream for `purpose`. */
static inline uint64_t model_stream_index(model_purpose purpose,
                                          uint32_t node)
{
    return (uint64_t)purpose << 32 | node;
}

/* Initializes *st as node `node`'s stream for `purpose` of run
 * `run_seed`. Cannot fail. */
void model_node_stream(model_stream *st, uint64_t run_seed,
                       model_purpose purpose, uint32_t node);

/* A uniform integer in [0, n) without modulo bias (Lemire's
 * multiply-and-reject: usually one draw, never more than a few).
 * n == 0 returns 0 and draws nothing. */
uint64_t model_stream_below(model_stream *st, uint64_t n);

/* A uniform integer in [lo, hi] (the full 64-bit range is allowed);
 * hi <= lo returns lo and draws nothing. */
int64_t model_stream_range(model_stream *st, int64_t lo, int64_t hi);

/* An exponentially distributed double with the given mean (> 0): for
 * inter-arrival times. Never negative, never infinite. */
double model_stream_exp(model_stream *st, double mean);

/* ------------------------------------------------------------------ */
/* Distributions.                                                       */

/* 365 days in microseconds: the largest magnitude of a bound, so a
 * duration sample and sums of them stay far from int64 overflow. */
#define MODEL_DIST_MAX (365LL * 86400LL * 1000000LL)

typedef enum model_dist_kind {
    MODEL_DIST_CONSTANT = 0, /* value */
    MODEL_DIST_UNIFORM,      /* uniform on [min, max) */
    MODEL_DIST_NORMAL,       /* normal(mean, sd) conditioned on x >= lo
                              * ("truncated", not clamped: no mass piles
                              * up at the lower bound) */
    MODEL_DIST_LOGNORMAL,    /* log(x) is normal(log(median), sigma): the
                              * mean is median exp(sigma^2 / 2) */
    MODEL_DIST_PARETO,       /* smallest value scale, tail index shape:
                              * P(X > x) = (scale / x)^shape */
    MODEL_DIST_KIND_COUNT
} model_dist_kind;

/* A tagged struct: only the fields of `kind` are read, plus the bounds.
 * Values are in the unit of the quantity described (microseconds for
 * latency and clock offset, ppm for clock drift); sigma and shape have
 * none. Both bounds always apply: set them (a latency has lo 0 and hi
 * MODEL_DIST_MAX, or its cap). */
typedef struct model_dist {
    model_dist_kind kind;
    double value;         /* constant */
    double min, max;      /* uniform, min <= max */
    double mean, sd;      /* normal before conditioning, sd >= 0 */
    double median, sigma; /* lognormal, median > 0, sigma >= 0 */
    double scale, shape;  /* pareto, both > 0 */
    double lo;            /* lower bound: the normal is conditioned on it,
                           * every other sample clamped to it */
    double hi;            /* upper bound: every sample is clamped to it */
} model_dist;

/* Returns 0 if every field `kind` uses is finite and in range and
 * -MODEL_DIST_MAX <= lo <= hi <= MODEL_DIST_MAX, else -EINVAL. */
int model_dist_check(const model_dist *dist);

/* One sample, within [lo, hi]. Inverse transform: exactly one
 * model_stream_open() draw, none for a constant, so equal streams give
 * equal samples on every machine with an IEEE-754 libm. The distribution
 * must pass model_dist_check() (not checked again: this runs once per
 * packet). */
double model_dist_sample(const model_dist *dist, model_stream *st);

/* model_dist_sample() rounded to the nearest integer: a duration in
 * whole microseconds. */
int64_t model_dist_sample_us(const model_dist *dist, model_stream *st);

/* The exact mean of what model_dist_sample() returns, conditioning and
 * bounds included (before any rounding, which moves it by less than
 * 0.5). Finite for a distribution that passes model_dist_check(). */
double model_dist_mean(const model_dist *dist);

/* "constant", "uniform", "normal", "lognormal", "pareto", or "?". */
const char *model_dist_kind_name(model_dist_kind kind);

/* ------------------------------------------------------------------ */
/* The standard normal.                                                 */

/* The standard normal quantile: x with P(Z <= x) = p (Wichura's AS241,
 * relative error about 1e-16, accurate in both tails). p is clamped into
 * (0, 1), so the result is always finite; callers that want infinities
 * at 0 and 1 handle those ends themselves. */
double model_normal_quantile(double p);

/* ------------------------------------------------------------------ */
/* Loss.                                                                */

typedef enum model_loss_kind {
    MODEL_LOSS_BERNOULLI = 0,   /* each packet lost with probability rate */
    MODEL_LOSS_GILBERT_ELLIOTT, /* bursty: a two-state chain per sender */
    MODEL_LOSS_KIND_COUNT
} model_loss_kind;

/* Gilbert-Elliott: each sender has a chain that starts in the good state
 * and steps once per packet it sends, before that packet's loss draw:
 * good -> bad with p_good_to_bad, bad -> good with p_bad_to_good. The
 * packet is then lost with loss_good or loss_bad. The long-run loss rate
 * is (1 - b) loss_good + b loss_bad with
 * b = p_good_to_bad / (p_good_to_bad + p_bad_to_good).
 *
 * The chain belongs to the sender, not to each (sender, receiver) link:
 * a burst is the sender's access link going bad, which hits whatever it
 * sends, and the state costs O(N) rather than O(N^2). */
typedef struct model_loss {
    model_loss_kind kind;
    double rate;          /* bernoulli: 0..1 */
    double p_good_to_bad; /* gilbert_elliott: 0..1 each */
    double p_bad_to_good;
    double loss_good;
    double loss_bad;
} model_loss;

/* One sender's Gilbert-Elliott state. Zeroed: the good state. */
typedef struct model_loss_chain {
    bool bad;
} model_loss_chain;

/* Returns 0 if every probability the kind uses is within [0, 1], else
 * -EINVAL. */
int model_loss_check(const model_loss *loss);

/* The long-run fraction of packets lost (a chain that never moves stays
 * in the good state it starts in). */
double model_loss_mean(const model_loss *loss);

/* False when no packet can ever be lost: the caller then skips
 * model_loss_step() and draws nothing (Bernoulli at rate 0; a chain that
 * loses nothing in the good state and either never turns bad or loses
 * nothing in the bad state either). */
bool model_loss_can_lose(const model_loss *loss);

/* Whether the sender's next packet is lost. Bernoulli: one
 * model_stream_double() draw. Gilbert-Elliott: one draw steps *chain,
 * then one draw decides the loss in the new state, whatever the state (a
 * fixed count keeps the stream's use easy to reason about). The model
 * must pass model_loss_check(). */
bool model_loss_step(const model_loss *loss, model_loss_chain *chain,
                     model_stream *st);

#endif /* MODEL_H */
