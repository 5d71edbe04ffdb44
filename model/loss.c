/* loss.c: loss models and the step of a sender's chain (model.h). The
 * simulator's links and the transport's fault filter both decide a
 * packet's fate here, so one seed and one sender give the same losses
 * in both.
 */
#include "model.h"

#include <errno.h>
#include <stddef.h>

static bool is_probability(double p)
{
    return p >= 0.0 && p <= 1.0; /* false for NaN */
}

int model_loss_check(const model_loss *l)
{
    if (l == NULL)
        return -EINVAL;
    switch (l->kind) {
    case MODEL_LOSS_BERNOULLI:
        return is_probability(l->rate) ? 0 : -EINVAL;
    case MODEL_LOSS_GILBERT_ELLIOTT:
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

double model_loss_mean(const model_loss *l)
{
    if (l->kind == MODEL_LOSS_BERNOULLI)
        return l->rate;
    double moves = l->p_good_to_bad + l->p_bad_to_good;
    /* A chain that never moves stays in its starting (good) state. */
    double bad = moves > 0 ? l->p_good_to_bad / moves : 0.0;
    return (1.0 - bad) * l->loss_good + bad * l->loss_bad;
}

bool model_loss_can_lose(const model_loss *l)
{
    if (l->kind == MODEL_LOSS_BERNOULLI)
        return l->rate > 0;
    return l->loss_good > 0 || (l->loss_bad > 0 && l->p_good_to_bad > 0);
}

bool model_loss_step(const model_loss *l, model_loss_chain *chain,
                     model_stream *st)
{
    if (l->kind == MODEL_LOSS_BERNOULLI)
        return model_stream_double(st) < l->rate;
    double step = model_stream_double(st);
    if (chain->bad) {
        if (step < l->p_bad_to_good)
            chain->bad = false;
    } else if (step < l->p_good_to_bad) {
        chain->bad = true;
    }
    double rate = chain->bad ? l->loss_bad : l->loss_good;
    return model_stream_double(st) < rate;
}
