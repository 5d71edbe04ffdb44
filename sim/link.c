/* link.c: what happens to a packet between two nodes: latency (a
 * distribution, per region pair if regions are set), loss (Bernoulli or
 * Gilbert-Elliott) and the duplication setting.
 *
 * Fast paths, so a world with the model off pays nothing for it: a
 * constant latency without regions is read from one field (latency_fast,
 * no draw); a loss model that cannot lose leaves loss_on false (no draw);
 * duplication 0 draws nothing.
 */
#include "world-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

const char *sim_drop_cause_name(sim_drop_cause cause)
{
    static const char *const names[SIM_DROP_COUNT] = {
        "loss", "partition", "send_queue", "recv_buffer", "oversize",
        "node_down"};
    return (unsigned)cause < SIM_DROP_COUNT ? names[cause] : "?";
}

static bool is_probability(double p)
{
    return p >= 0.0 && p <= 1.0; /* false for NaN */
}

int sim_loss_check(const sim_loss *l)
{
    if (l == NULL)
        return -EINVAL;
    switch (l->kind) {
    case SIM_LOSS_BERNOULLI:
        return is_probability(l->rate) ? 0 : -EINVAL;
    case SIM_LOSS_GILBERT_ELLIOTT:
        return is_probability(l->p_good_to_bad) &&
                       is_probability(l->p_bad_to_good) &&
                       is_probability(l->loss_good) &&
                       is_probability(l->loss_bad)
                   ? 0
                   : -EINVAL;
    default:
        return -EINVAL;
    }
}

double sim_loss_mean(const sim_loss *l)
{
    if (l->kind == SIM_LOSS_BERNOULLI)
        return l->rate;
    double moves = l->p_good_to_bad + l->p_bad_to_good;
    /* A chain that never moves stays in its starting (good) state. */
    double bad = moves > 0 ? l->p_good_to_bad / moves : 0.0;
    return (1.0 - bad) * l->loss_good + bad * l->loss_bad;
}

static bool loss_can_lose(const sim_loss *l)
{
    if (l->kind == SIM_LOSS_BERNOULLI)
        return l->rate > 0;
    return l->loss_good > 0 || (l->loss_bad > 0 && l->p_good_to_bad > 0);
}

/* Draws from the sender's loss stream: one draw for Bernoulli; for
 * Gilbert-Elliott one to step the chain, then one for the loss, whatever
 * the state (a fixed count keeps the stream's use easy to reason about). */
bool sim__lose(sim_world *w, sim_node *from)
{
    const sim_loss *l = &w->loss;
    if (l->kind == SIM_LOSS_BERNOULLI)
        return sim_rng_double(&from->loss_rng) < l->rate;
    if (from->ge_gen != w->loss_gen) {
        /* The model changed since this chain last stepped: it starts
         * over in the good state. */
        from->ge_gen = w->loss_gen;
        from->ge_bad = false;
    }
    double step = sim_rng_double(&from->loss_rng);
    if (from->ge_bad) {
        if (step < l->p_bad_to_good)
            from->ge_bad = false;
    } else if (step < l->p_good_to_bad) {
        from->ge_bad = true;
    }
    double rate = from->ge_bad ? l->loss_bad : l->loss_good;
    return sim_rng_double(&from->loss_rng) < rate;
}

static void latency_update_fast(sim_world *w)
{
    w->latency_fast = w->latency.kind == SIM_DIST_CONSTANT && !w->n_regions;
    if (w->latency_fast) {
        sim_rng unused = {{1, 0, 0, 0}}; /* a constant draws nothing */
        w->latency_const_us = sim_dist_sample(&w->latency, &unused);
    }
}

void sim__link_init(sim_world *w, int64_t latency_us)
{
    memset(&w->latency, 0, sizeof w->latency);
    w->latency.kind = SIM_DIST_CONSTANT;
    w->latency.value_us = (double)latency_us;
    latency_update_fast(w);
    w->loss = (sim_loss){.kind = SIM_LOSS_BERNOULLI, .rate = 0};
    w->loss_on = false;
    w->loss_gen = 0;
    w->duplicate = 0;
}

void sim__link_clear(sim_world *w)
{
    g_free(w->region_latency);
    g_free(w->region_set);
    w->region_latency = NULL;
    w->region_set = NULL;
    w->n_regions = 0;
}

int sim_world_set_latency(sim_world *w, const sim_dist *latency)
{
    if (sim_dist_check(latency) < 0)
        return -EINVAL;
    w->latency = *latency;
    latency_update_fast(w);
    return 0;
}

int sim_world_set_regions(sim_world *w, const uint16_t *region_of,
                          size_t n_regions, const sim_dist *latency,
                          const bool *pair_set)
{
    if (n_regions == 0) {
        sim__link_clear(w);
        for (size_t i = 0; i < w->n; i++)
            w->nodes[i].region = 0;
        latency_update_fast(w);
        return 0;
    }
    if (n_regions > SIM_WORLD_MAX_REGIONS || region_of == NULL ||
        latency == NULL)
        return -EINVAL;
    size_t pairs = n_regions * n_regions;
    for (size_t i = 0; i < w->n; i++)
        if (region_of[i] >= n_regions)
            return -EINVAL;
    for (size_t k = 0; k < pairs; k++)
        if ((pair_set == NULL || pair_set[k]) &&
            sim_dist_check(&latency[k]) < 0)
            return -EINVAL;
    sim__link_clear(w);
    w->n_regions = n_regions;
    w->region_latency = g_new(sim_dist, pairs);
    memcpy(w->region_latency, latency, pairs * sizeof *latency);
    w->region_set = g_new(bool, pairs);
    for (size_t k = 0; k < pairs; k++)
        w->region_set[k] = pair_set == NULL || pair_set[k];
    for (size_t i = 0; i < w->n; i++)
        w->nodes[i].region = region_of[i];
    latency_update_fast(w);
    return 0;
}

int sim_world_set_loss(sim_world *w, const sim_loss *loss)
{
    if (sim_loss_check(loss) < 0)
        return -EINVAL;
    w->loss = *loss;
    w->loss_on = loss_can_lose(loss);
    /* Every chain restarts in the good state, lazily at its next step:
     * O(1) now instead of touching every node. */
    w->loss_gen++;
    return 0;
}

int sim_world_set_duplicate(sim_world *w, double probability)
{
    if (!is_probability(probability))
        return -EINVAL;
    w->duplicate = probability;
    return 0;
}
