/* dist.c: latency, skew and drift distributions; loss models.
 *
 * Syntax: a bare value is a constant ("20ms"); otherwise
 * NAME(arg, ...) where each arg is positional or name=value:
 *   constant(value)            uniform(min, max)
 *   normal(mean, sd)           lognormal(median, sigma) or (mean=, sigma=)
 *   pareto(scale, shape)
 * and any of them takes cap=VALUE, an upper bound on every sample.
 *
 * Sampling is a pure function of two uniforms so the caller's seeded
 * streams drive it; means are exact (closed forms of the clamped or
 * truncated laws), so reports can compare measured to configured.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "scenario-private.h"

const scn__quantity scn__latency_quantity = {
    .is_duration = true, .signed_ok = false,
    .lo = 0.0, .hi = (double)SCN_DURATION_MAX_US,
    .what = "a duration like 20ms",
    .example = "normal(mean=20ms, sd=5ms)",
};

const scn__quantity scn__skew_quantity = {
    .is_duration = true, .signed_ok = true,
    .lo = -(double)SCN_DURATION_MAX_US, .hi = (double)SCN_DURATION_MAX_US,
    .what = "a duration like -250ms",
    .example = "uniform(-500ms, 500ms)",
};

const scn__quantity scn__drift_quantity = {
    .is_duration = false, .signed_ok = true,
    .lo = -SCN_DRIFT_MAX_PPM, .hi = SCN_DRIFT_MAX_PPM,
    .what = "a number of ppm like 50",
    .example = "normal(mean=0, sd=20)",
};

const char *scn_dist_kind_name(scn_dist_kind kind)
{
    switch (kind) {
    case SCN_DIST_CONSTANT: return "constant";
    case SCN_DIST_UNIFORM: return "uniform";
    case SCN_DIST_NORMAL: return "normal";
    case SCN_DIST_LOGNORMAL: return "lognormal";
    case SCN_DIST_PARETO: return "pareto";
    }
    return "?";
}

void scn__dist_constant(scn_dist *out, const scn__quantity *q, double value)
{
    memset(out, 0, sizeof *out);
    out->kind = SCN_DIST_CONSTANT;
    out->value = value;
    out->lo = q->lo;
    out->hi = q->hi;
}

/* ------------------------------------------------------------------ */
/* Parsing.                                                             */

/* Parameter kinds: a value of the quantity (duration or number, maybe
 * signed), a non-negative spread of it, or a dimensionless shape. */
enum { P_VALUE, P_SPREAD, P_SHAPE };

typedef struct param_spec {
    const char *name;
    int type;
    bool required;
} param_spec;

typedef struct kind_spec {
    const char *name;
    scn_dist_kind kind;
    param_spec params[3];  /* positional order; {NULL} ends */
} kind_spec;

static const kind_spec kinds[] = {
    {"constant", SCN_DIST_CONSTANT, {{"value", P_VALUE, true}}},
    {"uniform", SCN_DIST_UNIFORM,
     {{"min", P_VALUE, true}, {"max", P_VALUE, true}}},
    {"normal", SCN_DIST_NORMAL,
     {{"mean", P_VALUE, true}, {"sd", P_SPREAD, true}}},
    /* lognormal's first positional is the median; mean= may replace it. */
    {"lognormal", SCN_DIST_LOGNORMAL,
     {{"median", P_SPREAD, false}, {"sigma", P_SHAPE, true},
      {"mean", P_SPREAD, false}}},
    {"pareto", SCN_DIST_PARETO,
     {{"scale", P_SPREAD, true}, {"shape", P_SHAPE, true}}},
};

static gboolean parse_value(const char *text, const scn__quantity *q, int type,
                            double *out, GError **error)
{
    if (type == P_SHAPE)
        return scn__parse_number(text, out, error);
    if (q->is_duration) {
        int64_t us;
        if (!scn_parse_duration(text, q->signed_ok && type == P_VALUE, &us,
                                error))
            return FALSE;
        *out = (double)us;
        return TRUE;
    }
    if (!scn__parse_number(text, out, error))
        return FALSE;
    if (type == P_SPREAD && *out < 0) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "expected a number of at least 0, got '%s'", text);
        return FALSE;
    }
    if (!q->signed_ok && *out < 0) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "expected a number of at least 0, got '%s'", text);
        return FALSE;
    }
    return TRUE;
}

static gboolean bad_range(GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static gboolean bad_range(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, SCN_ERROR, SCN_ERROR_RANGE, m);
    g_free(m);
    return FALSE;
}

/* Checks the parameters of a parsed distribution against each other and
 * the quantity's bounds. */
static gboolean check_dist(const scn_dist *d, const char *name,
                           GError **error)
{
    if (d->hi < d->lo)
        return bad_range(error, "%s: cap is below the smallest allowed value",
                         name);
    switch (d->kind) {
    case SCN_DIST_CONSTANT:
        if (d->value < d->lo || d->value > d->hi)
            return bad_range(error, "%s: the value is out of range", name);
        break;
    case SCN_DIST_UNIFORM:
        if (d->min > d->max)
            return bad_range(error, "%s: min is larger than max", name);
        if (d->min < d->lo || d->max > d->hi)
            return bad_range(error, "%s: min and max must lie within the "
                             "allowed range (and below cap)", name);
        break;
    case SCN_DIST_NORMAL:
        if (d->mean < d->lo || d->mean > d->hi)
            return bad_range(error, "%s: the mean is out of range", name);
        break;
    case SCN_DIST_LOGNORMAL:
        if (!(d->median > 0))
            return bad_range(error, "%s: the median (or mean) must be above 0",
                             name);
        if (!(d->sigma >= 0 && d->sigma <= 10))
            return bad_range(error, "%s: sigma must be from 0 to 10", name);
        if (d->median > d->hi)
            return bad_range(error, "%s: the median is above cap", name);
        break;
    case SCN_DIST_PARETO:
        if (!(d->scale > 0))
            return bad_range(error, "%s: scale must be above 0", name);
        if (!(d->shape >= 0.01 && d->shape <= 1000))
            return bad_range(error, "%s: shape must be from 0.01 to 1000",
                             name);
        if (d->scale > d->hi)
            return bad_range(error, "%s: scale is above cap", name);
        break;
    }
    return TRUE;
}

static gboolean parse_function(const char *name, const char *args,
                               const scn__quantity *q, scn_dist *out,
                               GError **error)
{
    const kind_spec *spec = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
        if (strcmp(name, kinds[i].name) == 0)
            spec = &kinds[i];
    if (spec == NULL) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN,
                    "unknown distribution '%s' (expected constant, uniform, "
                    "normal, lognormal or pareto)", name);
        return FALSE;
    }

    scn_dist d;
    scn__dist_constant(&d, q, 0);
    d.kind = spec->kind;
    d.truncated = spec->kind == SCN_DIST_NORMAL && !q->signed_ok;

    double values[4] = {0};
    bool given[4] = {false};   /* params[0..2], then cap */
    size_t positional = 0;
    bool named_seen = false;
    gboolean ok = FALSE;
    char **items = scn__split_list(args, ',', error);
    if (items == NULL)
        return FALSE;

    for (size_t i = 0; items[i] != NULL; i++) {
        char *item = items[i];
        if (*item == '\0') {
            if (items[1] == NULL)
                break;  /* "normal()": no arguments; reported as missing */
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "%s: empty argument", name);
            goto out;
        }
        char *eq = strchr(item, '=');
        size_t slot = SIZE_MAX;
        const char *text = item;
        if (eq != NULL) {
            *eq = '\0';
            char *pname = scn__strip(item);
            text = eq + 1;
            named_seen = true;
            if (strcmp(pname, "cap") == 0)
                slot = 3;
            for (size_t k = 0; k < 3 && spec->params[k].name; k++)
                if (strcmp(pname, spec->params[k].name) == 0)
                    slot = k;
            if (slot == SIZE_MAX) {
                GString *list = g_string_new(NULL);
                for (size_t k = 0; k < 3 && spec->params[k].name; k++)
                    g_string_append_printf(list, "%s, ",
                                           spec->params[k].name);
                g_string_append(list, "cap");
                g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN,
                            "%s: unknown parameter '%s' (expected %s)", name,
                            pname, list->str);
                g_string_free(list, TRUE);
                goto out;
            }
        } else {
            if (named_seen) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                            "%s: positional argument '%s' after a named one",
                            name, item);
                goto out;
            }
            /* lognormal's positional slots are median, sigma. */
            size_t n_pos = spec->kind == SCN_DIST_LOGNORMAL ? 2 : 0;
            if (n_pos == 0)
                while (n_pos < 3 && spec->params[n_pos].name)
                    n_pos++;
            if (positional >= n_pos) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                            "%s: too many arguments", name);
                goto out;
            }
            slot = positional++;
        }
        if (given[slot]) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "%s: %s is given twice", name,
                        slot == 3 ? "cap" : spec->params[slot].name);
            goto out;
        }
        int type = slot == 3 ? P_SPREAD : spec->params[slot].type;
        GError *cause = NULL;
        if (!parse_value(text, q, type, &values[slot], &cause)) {
            g_propagate_prefixed_error(error, cause, "%s: %s: ", name,
                                       slot == 3 ? "cap"
                                                 : spec->params[slot].name);
            goto out;
        }
        given[slot] = true;
    }
    for (size_t k = 0; k < 3 && spec->params[k].name; k++)
        if (spec->params[k].required && !given[k]) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_MISSING,
                        "%s: %s is missing (write it as %s)", name,
                        spec->params[k].name, q->example);
            goto out;
        }
    if (given[3])
        d.hi = values[3];

    switch (spec->kind) {
    case SCN_DIST_CONSTANT:
        d.value = values[0];
        break;
    case SCN_DIST_UNIFORM:
        d.min = values[0];
        d.max = values[1];
        break;
    case SCN_DIST_NORMAL:
        d.mean = values[0];
        d.sd = values[1];
        break;
    case SCN_DIST_LOGNORMAL:
        if (given[0] == given[2]) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_MISSING,
                        "lognormal: give exactly one of median and mean");
            goto out;
        }
        d.sigma = values[1];
        if (!(d.sigma >= 0 && d.sigma <= 10)) {
            bad_range(error, "lognormal: sigma must be from 0 to 10");
            goto out;
        }
        /* mean = median * exp(sigma^2 / 2) */
        d.median = given[0] ? values[0]
                            : values[2] / exp(d.sigma * d.sigma / 2.0);
        break;
    case SCN_DIST_PARETO:
        d.scale = values[0];
        d.shape = values[1];
        break;
    }
    if (!check_dist(&d, name, error))
        goto out;
    *out = d;
    ok = TRUE;
out:
    g_strfreev(items);
    return ok;
}

gboolean scn__parse_dist(const char *text, const scn__quantity *q,
                         scn_dist *out, GError **error)
{
    char *s = scn__strip(g_strdup(text));
    gboolean ok = FALSE;
    char *paren = strchr(s, '(');

    if (paren == NULL) {
        double v;
        GError *cause = NULL;
        if (parse_value(s, q, P_VALUE, &v, &cause)) {
            scn__dist_constant(out, q, v);
            ok = TRUE;
        } else if (cause->code == SCN_ERROR_RANGE) {
            g_propagate_error(error, cause);
        } else {
            g_error_free(cause);
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected %s or a distribution like %s, got '%s'",
                        q->what, q->example, s);
        }
        goto out;
    }
    size_t n = strlen(s);
    *paren = '\0';
    char *name = scn__strip(s);
    bool ident = *name != '\0';
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalpha(*p) && *p != '_')
            ident = false;
    if (!ident || s[n - 1] != ')') {
        *paren = '(';
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "expected %s or a distribution like %s, got '%s'",
                    q->what, q->example, text);
        goto out;
    }
    s[n - 1] = '\0';
    ok = parse_function(name, paren + 1, q, out, error);
out:
    g_free(s);
    return ok;
}

#define LOSS_EXPECTED \
    "a rate like 1% or gilbert_elliott(p_good_to_bad=1%, " \
    "p_bad_to_good=30%, loss_bad=50%)"

/* Parses "name=rate, ..." into the fields named in `names`. */
static gboolean parse_rates(const char *fn, const char *args,
                            const char *const *names, double *values,
                            bool *given, size_t n, GError **error)
{
    char **items = scn__split_list(args, ',', error);
    if (items == NULL)
        return FALSE;
    gboolean ok = FALSE;
    size_t positional = 0;
    for (size_t i = 0; items[i] != NULL; i++) {
        char *item = items[i];
        if (*item == '\0' && items[1] == NULL)
            break;
        char *eq = strchr(item, '=');
        size_t slot = SIZE_MAX;
        const char *text = item;
        if (eq != NULL) {
            *eq = '\0';
            char *pname = scn__strip(item);
            text = eq + 1;
            for (size_t k = 0; k < n; k++)
                if (strcmp(pname, names[k]) == 0)
                    slot = k;
            if (slot == SIZE_MAX) {
                char *list = g_strjoinv(", ", (char **)names);
                g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN,
                            "%s: unknown parameter '%s' (expected %s)", fn,
                            pname, list);
                g_free(list);
                goto out;
            }
        } else {
            slot = positional++;
            if (slot >= n) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                            "%s: too many arguments", fn);
                goto out;
            }
        }
        if (given[slot]) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "%s: %s is given twice", fn, names[slot]);
            goto out;
        }
        GError *cause = NULL;
        if (!scn_parse_rate(text, &values[slot], &cause)) {
            g_propagate_prefixed_error(error, cause, "%s: %s: ", fn,
                                       names[slot]);
            goto out;
        }
        given[slot] = true;
    }
    ok = TRUE;
out:
    g_strfreev(items);
    return ok;
}

gboolean scn__parse_loss(const char *text, scn_loss *out, GError **error)
{
    char *s = scn__strip(g_strdup(text));
    gboolean ok = FALSE;
    scn_loss loss = {0};
    char *paren = strchr(s, '(');
    size_t n = strlen(s);

    if (paren == NULL) {
        GError *cause = NULL;
        if (!scn_parse_rate(s, &loss.rate, &cause)) {
            g_error_free(cause);
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected %s, got '%s'", LOSS_EXPECTED, s);
            goto out;
        }
        loss.kind = SCN_LOSS_BERNOULLI;
    } else {
        *paren = '\0';
        char *name = scn__strip(s);
        if (s[n - 1] != ')') {
            *paren = '(';
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected %s, got '%s'", LOSS_EXPECTED, text);
            goto out;
        }
        s[n - 1] = '\0';
        if (strcmp(name, "bernoulli") == 0) {
            static const char *const names[] = {"rate", NULL};
            bool given[1] = {false};
            if (!parse_rates(name, paren + 1, names, &loss.rate, given, 1,
                             error))
                goto out;
            if (!given[0]) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_MISSING,
                            "bernoulli: rate is missing");
                goto out;
            }
            loss.kind = SCN_LOSS_BERNOULLI;
        } else if (strcmp(name, "gilbert_elliott") == 0) {
            static const char *const names[] = {
                "p_good_to_bad", "p_bad_to_good", "loss_good", "loss_bad",
                NULL};
            /* Gilbert's original model: the good state loses nothing, the
             * bad state loses everything. */
            double v[4] = {0, 0, 0, 1};
            bool given[4] = {false};
            if (!parse_rates(name, paren + 1, names, v, given, 4, error))
                goto out;
            if (!given[0] || !given[1]) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_MISSING,
                            "gilbert_elliott: p_good_to_bad and "
                            "p_bad_to_good are required");
                goto out;
            }
            loss.kind = SCN_LOSS_GILBERT_ELLIOTT;
            loss.p_good_to_bad = v[0];
            loss.p_bad_to_good = v[1];
            loss.loss_good = v[2];
            loss.loss_bad = v[3];
        } else {
            g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN,
                        "unknown loss model '%s' (expected a rate, "
                        "bernoulli(...) or gilbert_elliott(...))", name);
            goto out;
        }
    }
    *out = loss;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

double scn_loss_mean(const scn_loss *loss)
{
    if (loss->kind == SCN_LOSS_BERNOULLI)
        return loss->rate;
    double sum = loss->p_good_to_bad + loss->p_bad_to_good;
    if (sum <= 0)
        return loss->loss_good;  /* never leaves the good state it starts in */
    double bad = loss->p_good_to_bad / sum;
    return (1 - bad) * loss->loss_good + bad * loss->loss_bad;
}

/* ------------------------------------------------------------------ */
/* Normal law helpers.                                                  */

#define SQRT2 1.41421356237309504880
#define INV_SQRT_2PI 0.39894228040143267794

static double norm_pdf(double x)
{
    return INV_SQRT_2PI * exp(-0.5 * x * x);
}

static double norm_cdf(double x)
{
    return 0.5 * erfc(-x / SQRT2);
}

/* 1 - cdf(x), accurate in the upper tail. */
static double norm_sf(double x)
{
    return 0.5 * erfc(x / SQRT2);
}

/* Inverse of norm_cdf for p in (0, 1): Acklam's rational approximation
 * (relative error 1.2e-9) refined by one Halley step to near double
 * precision. */
static double norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double plow = 0.02425;
    double x;

    if (p < plow) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
             c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - plow) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
             a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double q = sqrt(-2 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
              c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double e = norm_cdf(x) - p;
    double u = e * sqrt(2 * G_PI) * exp(x * x / 2);
    double refined = x - u / (1 + x * u / 2);
    return isfinite(refined) ? refined : x;
}

/* ------------------------------------------------------------------ */
/* Sampling.                                                            */

static double unit(double u)
{
    if (!(u >= 0))  /* also NaN */
        return 0;
    if (u >= 1)
        return 1 - DBL_EPSILON / 2;
    return u;
}

static double clamp(const scn_dist *d, double x)
{
    if (!(x >= d->lo))  /* also NaN, which no law here should produce */
        return d->lo;
    if (x > d->hi)
        return d->hi;
    return x;
}

/* A standard normal from two uniforms (Box-Muller, cosine branch). */
static double box_muller(double ua, double ub)
{
    double r = sqrt(-2 * log1p(-ua));  /* 1 - ua is in (0, 1] */
    return r * cos(2 * G_PI * ub);
}

double scn_distribution_sample(const scn_dist *d, double u01_a, double u01_b)
{
    double ua = unit(u01_a), ub = unit(u01_b);

    switch (d->kind) {
    case SCN_DIST_CONSTANT:
        return clamp(d, d->value);
    case SCN_DIST_UNIFORM:
        return clamp(d, d->min + ua * (d->max - d->min));
    case SCN_DIST_NORMAL:
        if (d->sd <= 0)
            return clamp(d, d->mean);
        if (d->truncated) {
            /* Inverse CDF restricted to [lo, inf): exact truncation. */
            double plo = norm_cdf((d->lo - d->mean) / d->sd);
            double p = plo + ua * (1 - plo);
            if (p <= 0)
                p = DBL_MIN;
            if (p >= 1)
                p = 1 - DBL_EPSILON / 2;
            return clamp(d, d->mean + d->sd * norm_quantile(p));
        }
        return clamp(d, d->mean + d->sd * box_muller(ua, ub));
    case SCN_DIST_LOGNORMAL:
        return clamp(d, d->median * exp(d->sigma * box_muller(ua, ub)));
    case SCN_DIST_PARETO:
        /* x_m * (1 - u)^(-1/alpha); 1 - u is in (0, 1]. */
        return clamp(d, d->scale * pow(1 - ua, -1 / d->shape));
    }
    return clamp(d, 0);
}

/* ------------------------------------------------------------------ */
/* Means.                                                               */

/* E[clamp(X, lo, hi)] for X normal(mu, sd). */
static double clamped_normal_mean(double mu, double sd, double lo, double hi)
{
    double a = (lo - mu) / sd, b = (hi - mu) / sd;
    double ca = norm_cdf(a), sb = norm_sf(b);
    double mid = mu * (1 - ca - sb) + sd * (norm_pdf(a) - norm_pdf(b));
    return mid + (ca > 0 ? lo * ca : 0) + (sb > 0 ? hi * sb : 0);
}

/* E[min(X, hi)] for X normal(mu, sd) conditioned on X >= lo. */
static double truncated_normal_mean(double mu, double sd, double lo,
                                    double hi)
{
    double a = (lo - mu) / sd, b = (hi - mu) / sd;
    double z = norm_sf(a);
    if (z <= 0)
        return lo;
    double sb = norm_sf(b);
    double mid = mu * (z - sb) + sd * (norm_pdf(a) - norm_pdf(b));
    return (mid + (sb > 0 ? hi * sb : 0)) / z;
}

double scn_dist_mean(const scn_dist *d)
{
    switch (d->kind) {
    case SCN_DIST_CONSTANT:
        return clamp(d, d->value);
    case SCN_DIST_UNIFORM:
        /* Parsing keeps [min, max] inside [lo, hi]. */
        return clamp(d, (d->min + d->max) / 2);
    case SCN_DIST_NORMAL:
        if (d->sd <= 0)
            return clamp(d, d->mean);
        if (d->truncated)
            return clamp(d, truncated_normal_mean(d->mean, d->sd, d->lo,
                                                  d->hi));
        return clamp(d, clamped_normal_mean(d->mean, d->sd, d->lo, d->hi));
    case SCN_DIST_LOGNORMAL: {
        double s = d->sigma, m = d->median;
        if (s <= 0)
            return clamp(d, m);
        /* E[min(X, H)] = e^(mu + s^2/2) Phi((ln H - mu - s^2)/s)
         *                + H (1 - Phi((ln H - mu)/s)), mu = ln median. */
        double mu = log(m), lh = log(d->hi);
        double full = exp(mu + s * s / 2);
        double below = full * norm_cdf((lh - mu - s * s) / s);
        double sb = norm_sf((lh - mu) / s);
        return clamp(d, below + (sb > 0 ? d->hi * sb : 0));
    }
    case SCN_DIST_PARETO: {
        double xm = d->scale, al = d->shape, h = d->hi;
        if (h <= xm)
            return clamp(d, h);
        /* E[min(X, H)] = xm (al - (xm/H)^(al-1)) / (al - 1), al != 1
         *              = xm (1 + ln(H/xm)),               al == 1 */
        if (fabs(al - 1) < 1e-12)
            return clamp(d, xm * (1 + log(h / xm)));
        return clamp(d, xm * (al - pow(xm / h, al - 1)) / (al - 1));
    }
    }
    return 0;
}
