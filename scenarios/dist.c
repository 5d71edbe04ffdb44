/* dist.c: latency, skew and drift distributions and loss models, parsed
 * into model.h's values.
 *
 * Syntax: a bare value is a constant ("20ms"); otherwise
 * NAME(arg, ...) where each arg is positional or name=value:
 *   constant(value)            uniform(min, max)
 *   normal(mean, sd)           lognormal(median, sigma) or (mean=, sigma=)
 *   pareto(scale, shape)
 * and any of them takes cap=VALUE, an upper bound on every sample.
 *
 * Nothing here samples or takes a mean: model.h does, for the simulator,
 * the testbed and the reports alike.
 */
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

void scn__dist_constant(model_dist *out, const scn__quantity *q,
                        double value)
{
    *out = (model_dist){.kind = MODEL_DIST_CONSTANT,
                        .value = value,
                        .lo = q->lo,
                        .hi = q->hi};
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
    model_dist_kind kind;
    param_spec params[3];  /* positional order; {NULL} ends */
} kind_spec;

static const kind_spec kinds[] = {
    {"constant", MODEL_DIST_CONSTANT, {{"value", P_VALUE, true}}},
    {"uniform", MODEL_DIST_UNIFORM,
     {{"min", P_VALUE, true}, {"max", P_VALUE, true}}},
    {"normal", MODEL_DIST_NORMAL,
     {{"mean", P_VALUE, true}, {"sd", P_SPREAD, true}}},
    /* lognormal's first positional is the median; mean= may replace it. */
    {"lognormal", MODEL_DIST_LOGNORMAL,
     {{"median", P_SPREAD, false}, {"sigma", P_SHAPE, true},
      {"mean", P_SPREAD, false}}},
    {"pareto", MODEL_DIST_PARETO,
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
 * the quantity's bounds, then against model.h's own limits. */
static gboolean check_dist(const model_dist *d, const char *name,
                           GError **error)
{
    if (d->hi < d->lo)
        return bad_range(error, "%s: cap is below the smallest allowed value",
                         name);
    switch (d->kind) {
    case MODEL_DIST_CONSTANT:
        if (d->value < d->lo || d->value > d->hi)
            return bad_range(error, "%s: the value is out of range", name);
        break;
    case MODEL_DIST_UNIFORM:
        if (d->min > d->max)
            return bad_range(error, "%s: min is larger than max", name);
        if (d->min < d->lo || d->max > d->hi)
            return bad_range(error, "%s: min and max must lie within the "
                             "allowed range (and below cap)", name);
        break;
    case MODEL_DIST_NORMAL:
        if (d->mean < d->lo || d->mean > d->hi)
            return bad_range(error, "%s: the mean is out of range", name);
        break;
    case MODEL_DIST_LOGNORMAL:
        if (!(d->median > 0))
            return bad_range(error, "%s: the median (or mean) must be above 0",
                             name);
        if (!(d->sigma >= 0 && d->sigma <= 10))
            return bad_range(error, "%s: sigma must be from 0 to 10", name);
        if (d->median > d->hi)
            return bad_range(error, "%s: the median is above cap", name);
        break;
    case MODEL_DIST_PARETO:
        if (!(d->scale > 0))
            return bad_range(error, "%s: scale must be above 0", name);
        if (!(d->shape >= 0.01 && d->shape <= 1000))
            return bad_range(error, "%s: shape must be from 0.01 to 1000",
                             name);
        if (d->scale > d->hi)
            return bad_range(error, "%s: scale is above cap", name);
        break;
    default:
        break;
    }
    if (model_dist_check(d) < 0)
        return bad_range(error, "%s: a parameter is beyond what can be "
                         "sampled", name);
    return TRUE;
}

static gboolean parse_function(const char *name, const char *args,
                               const scn__quantity *q, model_dist *out,
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

    model_dist d;
    scn__dist_constant(&d, q, 0);
    d.kind = spec->kind;

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
            size_t n_pos = spec->kind == MODEL_DIST_LOGNORMAL ? 2 : 0;
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
    if (given[3] && values[3] < d.hi)
        d.hi = values[3]; /* a cap lowers the key's limit, never raises it */

    switch (spec->kind) {
    case MODEL_DIST_CONSTANT:
        d.value = values[0];
        break;
    case MODEL_DIST_UNIFORM:
        d.min = values[0];
        d.max = values[1];
        break;
    case MODEL_DIST_NORMAL:
        d.mean = values[0];
        d.sd = values[1];
        break;
    case MODEL_DIST_LOGNORMAL:
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
    case MODEL_DIST_PARETO:
        d.scale = values[0];
        d.shape = values[1];
        break;
    default:
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
                         model_dist *out, GError **error)
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

gboolean scn__parse_loss(const char *text, model_loss *out, GError **error)
{
    char *s = scn__strip(g_strdup(text));
    gboolean ok = FALSE;
    model_loss loss = {0};
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
        loss.kind = MODEL_LOSS_BERNOULLI;
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
            loss.kind = MODEL_LOSS_BERNOULLI;
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
            loss.kind = MODEL_LOSS_GILBERT_ELLIOTT;
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
