/* dist.c: sampling and means of the distributions of dist.h.
 *
 * Sampling is by inverse transform from one uniform in the open interval
 * (0, 1), so every kind costs one draw, a draw never yields an infinite
 * value, and a sample is a pure function of the stream's state. Means are
 * closed forms of E[clamp(X, lo, hi)] = lo F(lo) + int_lo^hi x dF +
 * hi (1 - F(hi)), the "partial expectation" in the middle being known for
 * each family.
 */
#include "dist.h"

#include <errno.h>
#include <float.h>
#include <glib.h>
#include <math.h>

#define SQRT1_2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

/* ------------------------------------------------------------------ */
/* The standard normal: tails by erfc (accurate far out), quantile by   */
/* Wichura's algorithm AS241 (PPND16).                                 */

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

double sim_normal_quantile(double p)
{
    if (!(p > DBL_MIN))
        p = DBL_MIN;
    if (p > 1.0 - DBL_EPSILON / 2)
        p = 1.0 - DBL_EPSILON / 2;
    double q = p - 0.5, r, val;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q *
               (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r +
                     67265.770927008700853) * r + 45921.953931549871457) * r +
                   13731.693765509461125) * r + 1971.5909503065514427) * r +
                 133.14166789178437745) * r + 3.387132872796366608) /
               (((((((r * 5226.495278852545925 + 28729.085735721942674) * r +
                     39307.89580009271061) * r + 21213.794301586595867) * r +
                   5394.1960214247511077) * r + 687.1870074920579083) * r +
                 42.313330701600911252) * r + 1.0);
    }
    r = q < 0 ? p : 1.0 - p;
    r = sqrt(-log(r));
    if (r <= 5.0) {
        r -= 1.6;
        val = (((((((r * 7.7454501427834140764e-4 +
                     0.0227238449892691845833) * r + 0.24178072517745061177) *
                   r + 1.27045825245236838258) * r +
                  3.64784832476320460504) * r + 5.7694972214606914055) * r +
                4.6303378461565452959) * r + 1.42343711074968357734) /
              (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) *
                     r + 0.0151986665636164571966) * r +
                    0.14810397642748007459) * r + 0.68976733498510000455) *
                  r + 1.6763848301838038494) * r + 2.05319162663775882187) *
                r + 1.0);
    } else {
        r -= 5.0;
        val = (((((((r * 2.01033439929228813265e-7 +
                     2.71155556874348757815e-5) * r +
                    0.0012426609473880784386) * r + 0.026532189526576123093) *
                  r + 0.29656057182850489123) * r + 1.7848265399172913358) *
                r + 5.4637849111641143699) * r + 6.6579046435011037772) /
              (((((((r * 2.04426310338993978564e-15 +
                     1.4215117583164458887e-7) * r +
                    1.8463183175100546818e-5) * r + 7.868691311456132591e-4) *
                  r + 0.0148753612908506148525) * r +
                 0.13692988092273580531) * r + 0.59983220655588793769) * r +
               1.0);
    }
    return q < 0.0 ? -val : val;
}

/* ------------------------------------------------------------------ */
/* Bounds.                                                              */

static double effective_cap(const sim_dist *d)
{
    return d->cap_us > 0 && d->cap_us < (double)SIM_DIST_MAX_US
               ? d->cap_us
               : (double)SIM_DIST_MAX_US;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

const char *sim_dist_kind_name(sim_dist_kind kind)
{
    static const char *const names[SIM_DIST_KIND_COUNT] = {
        "constant", "uniform", "normal", "lognormal", "pareto"};
    return (unsigned)kind < SIM_DIST_KIND_COUNT ? names[kind] : "?";
}

int sim_dist_check(const sim_dist *d)
{
    const double max = (double)SIM_DIST_MAX_US;
    if (d == NULL || (unsigned)d->kind >= SIM_DIST_KIND_COUNT)
        return -EINVAL;
    if (!isfinite(d->lo_us) || !isfinite(d->cap_us) || d->lo_us < -max ||
        d->lo_us > effective_cap(d))
        return -EINVAL;
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return isfinite(d->value_us) ? 0 : -EINVAL;
    case SIM_DIST_UNIFORM:
        return isfinite(d->min_us) && isfinite(d->max_us) &&
                       d->min_us <= d->max_us
                   ? 0
                   : -EINVAL;
    case SIM_DIST_NORMAL:
        return isfinite(d->mean_us) && isfinite(d->sd_us) && d->sd_us >= 0
                   ? 0
                   : -EINVAL;
    case SIM_DIST_LOGNORMAL:
        /* exp(mu) beyond SIM_DIST_MAX_US is pointless but harmless; a
         * sigma above 100 is a typo, and keeps exp() finite. */
        return isfinite(d->mu) && isfinite(d->sigma) && d->sigma >= 0 &&
                       d->sigma <= 100 && fabs(d->mu) <= 700
                   ? 0
                   : -EINVAL;
    case SIM_DIST_PARETO:
        return isfinite(d->scale_us) && isfinite(d->shape) &&
                       d->scale_us > 0 && d->shape > 0
                   ? 0
                   : -EINVAL;
    default:
        return -EINVAL;
    }
}

/* ------------------------------------------------------------------ */
/* Sampling.                                                            */

/* A uniform in the open interval (0, 1): the top 53 bits plus a half, so
 * neither end is reachable and no quantile is infinite. */
static double uniform_open(sim_rng *rng)
{
    return ((double)(sim_rng_u64(rng) >> 11) + 0.5) * 0x1.0p-53;
}

int64_t sim_dist_sample(const sim_dist *d, sim_rng *rng)
{
    /* No sim_dist_check() here: this is the per-packet path, and the
     * world's setters check once. */
    double x, u;
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        x = d->value_us;
        break;
    case SIM_DIST_UNIFORM:
        u = uniform_open(rng);
        x = d->min_us + u * (d->max_us - d->min_us);
        break;
    case SIM_DIST_NORMAL: {
        u = uniform_open(rng);
        if (d->sd_us == 0) {
            x = d->mean_us;
            break;
        }
        /* Conditioned on Z >= a: P(Z > z) is uniform on (0, P(Z > a)],
         * and the upper tail is computed directly, so a bound far in
         * either tail keeps its precision. */
        double a = (d->lo_us - d->mean_us) / d->sd_us;
        double z = -sim_normal_quantile(normal_upper(a) * u);
        x = d->mean_us + d->sd_us * z;
        break;
    }
    case SIM_DIST_LOGNORMAL:
        u = uniform_open(rng);
        x = exp(d->mu + d->sigma * sim_normal_quantile(u));
        break;
    case SIM_DIST_PARETO:
        u = uniform_open(rng);
        /* 1 - U is uniform too: x = scale * U^(-1/shape). */
        x = d->scale_us * pow(u, -1.0 / d->shape);
        break;
    default:
        g_assert_not_reached();
    }
    x = clampd(isnan(x) ? d->lo_us : x, d->lo_us, effective_cap(d));
    return (int64_t)llround(x);
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
    /* int_alpha^beta (m + s z) phi(z) dz + hi P(Z > beta), over P(Z > alpha). */
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
    double zh = (log(hi) - mu) / sigma;
    double below = l > 0 ? normal_cdf(zl) : 0.0;
    double above = normal_upper(zh);
    double part = exp(mu + 0.5 * sigma * sigma) *
                  (normal_cdf(zh - sigma) -
                   (l > 0 ? normal_cdf(zl - sigma) : 0.0));
    return lo * below + part + hi * above;
}

static double pareto_mean(double xm, double alpha, double lo, double hi)
{
    /* F(x) = 1 - (xm / x)^alpha for x >= xm. */
    double l = lo > xm ? lo : xm;
    if (hi <= l) {
        /* Everything is clamped: below lo or above hi. */
        double below = lo > xm ? 1.0 - pow(xm / lo, alpha) : 0.0;
        double above = 1.0 - below;
        return lo * below + hi * above;
    }
    double below = lo > xm ? 1.0 - pow(xm / lo, alpha) : 0.0;
    double above = pow(xm / hi, alpha);
    /* int_l^h x alpha xm^alpha x^(-alpha-1) dx
     *   = alpha xm^alpha l^(1-alpha) expm1((1-alpha) ln(h/l)) / (1-alpha),
     * which tends to alpha xm ln(h/l) as alpha -> 1 without cancelling. */
    double k = 1.0 - alpha, lr = log(hi / l);
    double factor = fabs(k * lr) < 1e-12 ? lr : expm1(k * lr) / k;
    double part = alpha * pow(xm / l, alpha) * l * factor;
    return lo * below + part + hi * above;
}

double sim_dist_mean(const sim_dist *d)
{
    double lo = d->lo_us, hi = effective_cap(d);
    switch (d->kind) {
    case SIM_DIST_CONSTANT:
        return clampd(d->value_us, lo, hi);
    case SIM_DIST_UNIFORM:
        return uniform_mean(d->min_us, d->max_us, lo, hi);
    case SIM_DIST_NORMAL:
        return normal_mean(d->mean_us, d->sd_us, lo, hi);
    case SIM_DIST_LOGNORMAL:
        return lognormal_mean(d->mu, d->sigma, lo, hi);
    case SIM_DIST_PARETO:
        return pareto_mean(d->scale_us, d->shape, lo, hi);
    default:
        return lo;
    }
}
