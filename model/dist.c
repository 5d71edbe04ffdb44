/* dist.c: sampling and means of the distributions of model.h.
 *
 * Sampling is by inverse transform from one uniform in the open interval
 * (0, 1), so every kind costs one draw, a draw never yields an infinite
 * value, and a sample is a pure function of the stream's state. Means are
 * closed forms of E[clamp(X, lo, hi)] = lo F(lo) + int_lo^hi x dF +
 * hi (1 - F(hi)), the "partial expectation" in the middle being known for
 * each family (the normal's conditioned on X >= lo instead).
 */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#define SQRT1_2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

/* ------------------------------------------------------------------ */
/* The standard normal: tails by erfc, accurate far out.               */

static double normal_cdf(double x)
{
    return 0.5 * erfc(-x * SQRT1_2);
}

static double normal_upper(double x) /* P(Z > x) */
{
    return 0.5 * erfc(x * SQRT1_2);
}

static double normal_pdf(double x)
{
    return isinf(x) ? 0.0 : INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* ------------------------------------------------------------------ */
/* Checks.                                                              */

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

const char *model_dist_kind_name(model_dist_kind kind)
{
    static const char *const names[MODEL_DIST_KIND_COUNT] = {
        "constant", "uniform", "normal", "lognormal", "pareto"};
    return (unsigned)kind < MODEL_DIST_KIND_COUNT ? names[kind] : "?";
}

int model_dist_check(const model_dist *d)
{
    const double max = (double)MODEL_DIST_MAX;
    if (d == NULL || (unsigned)d->kind >= MODEL_DIST_KIND_COUNT)
        return -EINVAL;
    if (!isfinite(d->lo) || !isfinite(d->hi) || d->lo < -max ||
        d->hi > max || d->lo > d->hi)
        return -EINVAL;
    switch (d->kind) {
    case MODEL_DIST_CONSTANT:
        return isfinite(d->value) ? 0 : -EINVAL;
    case MODEL_DIST_UNIFORM:
        return isfinite(d->min) && isfinite(d->max) && d->min <= d->max
                   ? 0
                   : -EINVAL;
    case MODEL_DIST_NORMAL:
        return isfinite(d->mean) && isfinite(d->sd) && d->sd >= 0 ? 0
                                                                  : -EINVAL;
    case MODEL_DIST_LOGNORMAL:
        /* A median beyond e^+-700 is pointless but would overflow exp();
         * a sigma above 100 is a typo, and keeps exp() finite. */
        return isfinite(d->median) && d->median > 0 &&
                       fabs(log(d->median)) <= 700 && isfinite(d->sigma) &&
                       d->sigma >= 0 && d->sigma <= 100
                   ? 0
                   : -EINVAL;
    case MODEL_DIST_PARETO:
        return isfinite(d->scale) && isfinite(d->shape) && d->scale > 0 &&
                       d->shape > 0
                   ? 0
                   : -EINVAL;
    default:
        return -EINVAL;
    }
}

/* ------------------------------------------------------------------ */
/* Sampling.                                                            */

double model_dist_sample(const model_dist *d, model_stream *st)
{
    /* No model_dist_check() here: this is the per-packet path, and the
     * setters check once. */
    double x, u;
    switch (d->kind) {
    case MODEL_DIST_CONSTANT:
        x = d->value;
        break;
    case MODEL_DIST_UNIFORM:
        u = model_stream_open(st);
        x = d->min + u * (d->max - d->min);
        break;
    case MODEL_DIST_NORMAL: {
        u = model_stream_open(st);
        if (d->sd == 0) {
            x = d->mean;
            break;
        }
        /* Conditioned on Z >= a: P(Z > z) is uniform on (0, P(Z > a)],
         * and the upper tail is computed directly, so a bound far in
         * either tail keeps its precision. */
        double a = (d->lo - d->mean) / d->sd;
        double z = -model_normal_quantile(normal_upper(a) * u);
        x = d->mean + d->sd * z;
        break;
    }
    case MODEL_DIST_LOGNORMAL:
        u = model_stream_open(st);
        x = exp(log(d->median) + d->sigma * model_normal_quantile(u));
        break;
    case MODEL_DIST_PARETO:
        u = model_stream_open(st);
        /* 1 - U is uniform too: x = scale * U^(-1/shape). */
        x = d->scale * pow(u, -1.0 / d->shape);
        break;
    default:
        x = d->lo;
        break;
    }
    return clampd(isnan(x) ? d->lo : x, d->lo, d->hi);
}

int64_t model_dist_sample_us(const model_dist *d, model_stream *st)
{
    return (int64_t)llround(model_dist_sample(d, st));
}

/* ------------------------------------------------------------------ */
/* Means: E[clamp(X, lo, hi)].                                          */

static double uniform_mean(double a, double b, double lo, double hi)
{
    if (b <= a)
        return clampd(a, lo, hi);
    double w = b - a;
    /* Mass below lo sits at lo, above hi at hi, the rest keeps x. */
    double l = clampd(lo, a, b), h = clampd(hi, a, b);
    double below = (l - a) / w, above = (b - h) / w;
    double middle = h > l ? (h * h - l * l) / (2 * w) : 0.0;
    return lo * below + middle + hi * above;
}

static double normal_mean(double m, double s, double lo, double hi)
{
    if (s == 0)
        return clampd(m, lo, hi);
    double alpha = (lo - m) / s, beta = (hi - m) / s;
    double qa = normal_upper(alpha);
    if (qa < 1e-300)
        return lo; /* all the mass at the bound, to double precision */
    double qb = normal_upper(beta);
    /* int_alpha^beta (m + s z) phi(z) dz + hi P(Z > beta), over
     * P(Z > alpha). */
    double part = m * (qa - qb) + s * (normal_pdf(alpha) - normal_pdf(beta));
    return (part + hi * qb) / qa;
}

static double lognormal_mean(double mu, double sigma, double lo, double hi)
{
    if (sigma == 0)
        return clampd(exp(mu), lo, hi);
    /* F(x) = Phi((ln x - mu) / sigma); int_l^h x dF =
     * exp(mu + sigma^2/2) [Phi((ln h - mu)/sigma - sigma) - same at l]. */
    double l = lo > 0 ? lo : 0.0;
    double zl = l > 0 ? (log(l) - mu) / sigma : -INFINITY;
    double zh = hi > 0 ? (log(hi) - mu) / sigma : -INFINITY;
    double below = l > 0 ? normal_cdf(zl) : 0.0;
    double above = normal_upper(zh);
    double part = hi > l ? exp(mu + 0.5 * sigma * sigma) *
                               (normal_cdf(zh - sigma) -
                                (l > 0 ? normal_cdf(zl - sigma) : 0.0))
                         : 0.0;
    return lo * below + part + hi * above;
}

static double pareto_mean(double xm, double alpha, double lo, double hi)
{
    /* F(x) = 1 - (xm / x)^alpha for x >= xm. */
    double l = lo > xm ? lo : xm;
    double below = lo > xm ? 1.0 - pow(xm / lo, alpha) : 0.0;
    if (hi <= l) /* Everything is clamped: below lo or above hi. */
        return lo * below + hi * (1.0 - below);
    double above = pow(xm / hi, alpha);
    /* int_l^h x alpha xm^alpha x^(-alpha-1) dx
     *   = alpha xm^alpha l^(1-alpha) expm1((1-alpha) ln(h/l)) / (1-alpha),
     * which tends to alpha xm ln(h/l) as alpha -> 1 without cancelling. */
    double k = 1.0 - alpha, lr = log(hi / l);
    double factor = fabs(k * lr) < 1e-12 ? lr : expm1(k * lr) / k;
    double part = alpha * pow(xm / l, alpha) * l * factor;
    return lo * below + part + hi * above;
}

double model_dist_mean(const model_dist *d)
{
    double lo = d->lo, hi = d->hi;
    switch (d->kind) {
    case MODEL_DIST_CONSTANT:
        return clampd(d->value, lo, hi);
    case MODEL_DIST_UNIFORM:
        return uniform_mean(d->min, d->max, lo, hi);
    case MODEL_DIST_NORMAL:
        return normal_mean(d->mean, d->sd, lo, hi);
    case MODEL_DIST_LOGNORMAL:
        return lognormal_mean(log(d->median), d->sigma, lo, hi);
    case MODEL_DIST_PARETO:
        return pareto_mean(d->scale, d->shape, lo, hi);
    default:
        return lo;
    }
}
