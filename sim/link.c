/* link.c: what happens to a packet between two nodes: latency (a
 * distribution, per region pair if regions are set), loss (Bernoulli or
 * Gilbert-Elliott) and the duplication setting. The laws and their
 * sampling are model.h's; this file keeps the world's settings and the
 * per-node state (streams, chains).
 *
 * Fast paths, so a world with the model off pays nothing for it: a
 * constant latency without regions is read from one field (latency_fast,
 * no draw); a loss model that cannot lose leaves loss_on false (no draw);
 * duplication 0 draws nothing.
 */
#include "world-private.h"

#include <errno.h>
#include <string.h>

const char *sim_drop_cause_name(sim_drop_cause cause)
{
    static const char *const names[SIM_DROP_COUNT] = {
        "loss", "partition", "send_queue", "recv_buffer", "oversize",
        "node_down"};
    return (unsigned)cause < SIM_DROP_COUNT ? names[cause] : "?";
}

/* Draws from the sender's loss stream with model.h's step: one draw for
 * Bernoulli, two for Gilbert-Elliott. */
bool sim__lose(sim_world *w, sim_node *from)
{
    const model_loss *l = &w->loss;
    if (l->kind == MODEL_LOSS_GILBERT_ELLIOTT &&
        from->ge_gen != w->loss_gen) {
        /* The model changed since this chain last stepped: it starts
         * over in the good state. */
        from->ge_gen = w->loss_gen;
        from->ge = (model_loss_chain){0};
    }
    return model_loss_step(l, &from->ge, &from->loss_rng);
}

static void latency_update_fast(sim_world *w)
{
    w->latency_fast = w->latency.kind == MODEL_DIST_CONSTANT && !w->n_regions;
    if (w->latency_fast) {
        model_stream unused = {{1, 0, 0, 0}}; /* a constant draws nothing */
        w->latency_const_us = model_dist_sample_us(&w->latency, &unused);
    }
}

void sim__link_init(sim_world *w, int64_t latency_us)
{
    w->latency = (model_dist){.kind = MODEL_DIST_CONSTANT,
                              .value = (double)latency_us,
                              .lo = 0,
                              .hi = (double)MODEL_DIST_MAX};
    latency_update_fast(w);
    w->loss = (model_loss){.kind = MODEL_LOSS_BERNOULLI, .rate = 0};
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

int sim_world_set_latency(sim_world *w, const model_dist *latency)
{
    if (model_dist_check(latency) < 0)
        return -EINVAL;
    w->latency = *latency;
    latency_update_fast(w);
    return 0;
}

int sim_world_set_regions(sim_world *w, const uint16_t *region_of,
                          size_t n_regions, const model_dist *latency,
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
            model_dist_check(&latency[k]) < 0)
            return -EINVAL;
    sim__link_clear(w);
    w->n_regions = n_regions;
    w->region_latency = g_new(model_dist, pairs);
    memcpy(w->region_latency, latency, pairs * sizeof *latency);
    w->region_set = g_new(bool, pairs);
    for (size_t k = 0; k < pairs; k++)
        w->region_set[k] = pair_set == NULL || pair_set[k];
    for (size_t i = 0; i < w->n; i++)
        w->nodes[i].region = region_of[i];
    latency_update_fast(w);
    return 0;
}

int sim_world_set_loss(sim_world *w, const model_loss *loss)
{
    if (model_loss_check(loss) < 0)
        return -EINVAL;
    w->loss = *loss;
    w->loss_on = model_loss_can_lose(loss);
    /* Every chain restarts in the good state, lazily at its next step:
     * O(1) now instead of touching every node. */
    w->loss_gen++;
    return 0;
}

int sim_world_set_duplicate(sim_world *w, double probability)
{
    if (!(probability >= 0.0 && probability <= 1.0)) /* false for NaN */
        return -EINVAL;
    w->duplicate = probability;
    return 0;
}
