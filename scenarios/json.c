/* json.c: a scenario as one JSON object, for the run table.
 *
 * Keys are written in a fixed order and numbers in the shortest form
 * that reads back to the same double, with the C locale, so equal
 * scenarios give equal strings on every machine.
 */
#include <math.h>
#include <string.h>

#include "scenario-private.h"

static void put_string(GString *out, const char *s)
{
    if (s == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                g_string_append_printf(out, "\\u%04x", *p);
            else
                g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
}

static void put_double(GString *out, double v)
{
    if (!isfinite(v)) {
        g_string_append(out, "null");
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    /* The shortest of 15, 16, 17 significant digits that round-trips. */
    for (int digits = 15; digits <= 17; digits++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", digits);
        g_ascii_formatd(buf, sizeof buf, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            break;
    }
    g_string_append(out, buf);
}

/* Keys whose values are secrets: shown as set, never as written. */
static bool is_secret(const char *dotted)
{
    static const char *const secret[] = {
        "engine.secret_key", "engine.SecretKey", "engine.accepted_keys",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(secret); i++) {
        size_t n = strlen(secret[i]);
        if (strncmp(dotted, secret[i], n) == 0 &&
            (dotted[n] == '\0' || dotted[n] == '=' || dotted[n] == ' '))
            return true;
    }
    return false;
}

static void put_int(GString *out, int64_t v)
{
    g_string_append_printf(out, "%" G_GINT64_FORMAT, v);
}

/* Writes "key": with a leading comma unless first. */
static void key(GString *out, bool *first, const char *name)
{
    if (!*first)
        g_string_append_c(out, ',');
    *first = false;
    put_string(out, name);
    g_string_append_c(out, ':');
}

static void put_dist(GString *out, const model_dist *d)
{
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "kind");
    put_string(out, model_dist_kind_name(d->kind));
    switch (d->kind) {
    case MODEL_DIST_CONSTANT:
        key(out, &f, "value"); put_double(out, d->value);
        break;
    case MODEL_DIST_UNIFORM:
        key(out, &f, "min"); put_double(out, d->min);
        key(out, &f, "max"); put_double(out, d->max);
        break;
    case MODEL_DIST_NORMAL:
        key(out, &f, "mean"); put_double(out, d->mean);
        key(out, &f, "sd"); put_double(out, d->sd);
        break;
    case MODEL_DIST_LOGNORMAL:
        key(out, &f, "median"); put_double(out, d->median);
        key(out, &f, "sigma"); put_double(out, d->sigma);
        break;
    case MODEL_DIST_PARETO:
        key(out, &f, "scale"); put_double(out, d->scale);
        key(out, &f, "shape"); put_double(out, d->shape);
        break;
    default:
        break;
    }
    key(out, &f, "lo"); put_double(out, d->lo);
    key(out, &f, "hi"); put_double(out, d->hi);
    key(out, &f, "expected"); put_double(out, model_dist_mean(d));
    g_string_append_c(out, '}');
}

static void put_loss(GString *out, const model_loss *l)
{
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "model");
    if (l->kind == MODEL_LOSS_BERNOULLI) {
        put_string(out, "bernoulli");
        key(out, &f, "rate"); put_double(out, l->rate);
    } else {
        put_string(out, "gilbert_elliott");
        key(out, &f, "p_good_to_bad"); put_double(out, l->p_good_to_bad);
        key(out, &f, "p_bad_to_good"); put_double(out, l->p_bad_to_good);
        key(out, &f, "loss_good"); put_double(out, l->loss_good);
        key(out, &f, "loss_bad"); put_double(out, l->loss_bad);
    }
    key(out, &f, "expected"); put_double(out, model_loss_mean(l));
    g_string_append_c(out, '}');
}

static void put_nodes(GString *out, bool *f, const char *name,
                      const scn_nodes *n)
{
    key(out, f, name);
    put_string(out, n->text ? n->text : "");
    char *count = g_strconcat(name, "_count", NULL);
    key(out, f, count);
    put_int(out, (int64_t)n->count);
    g_free(count);
}

static void put_cluster(GString *out, const scn_scenario *sc)
{
    const scn_cluster *c = &sc->cluster;
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "nodes"); put_int(out, c->nodes);
    key(out, &f, "seeds"); put_int(out, c->seeds);
    key(out, &f, "seed_mode");
    put_string(out, c->seed_mode == SCN_SEEDS_FIRST ? "first" : "random");
    key(out, &f, "duration_us"); put_int(out, c->duration_us);
    key(out, &f, "seed"); put_int(out, (int64_t)c->seed);
    key(out, &f, "stagger_us"); put_int(out, c->stagger_us);
    key(out, &f, "sample_interval_us"); put_int(out, c->sample_interval_us);
    put_nodes(out, &f, "heartbeat_sample", &c->heartbeat_sample);
    key(out, &f, "late_count"); put_int(out, (int64_t)c->late.count);
    g_string_append_c(out, '}');
}

static void put_engine(GString *out, const scn_scenario *sc)
{
    peko_config e;
    peko_config_resolve(&sc->engine, &e);  /* checked when parsed */
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "amount"); put_int(out, e.amount);
    key(out, &f, "cycle_us"); put_int(out, e.cycle_us);
    key(out, &f, "buffer"); put_int(out, e.buffer);
    key(out, &f, "size"); put_int(out, e.size);
    key(out, &f, "timeout_us"); put_int(out, e.timeout_us);
    /* Whether there is a key, never the key: run tables get shared. */
    key(out, &f, "secret_key");
    g_string_append(out, e.secret_key != NULL ? "true" : "false");
    key(out, &f, "accepted_keys"); put_int(out, (int64_t)e.accepted_key_count);
    key(out, &f, "protocol");
    put_string(out, e.protocol == PEKO_PROTOCOL_TCP ? "tcp" : "udp");
    key(out, &f, "listen_addr"); put_string(out, e.listen_addr);
    key(out, &f, "is_print"); g_string_append(out, e.is_print ? "true"
                                                             : "false");
    key(out, &f, "dissemination");
    put_string(out, peko_dissemination_name(e.dissemination));
    key(out, &f, "seen_cache"); put_int(out, e.seen_cache);
    key(out, &f, "exchanges"); put_int(out, e.exchanges);
    g_string_append_c(out, '}');
}

static void put_network(GString *out, const scn_scenario *sc)
{
    const scn_network *n = &sc->network;
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "latency_us"); put_dist(out, &n->latency_us);
    key(out, &f, "loss"); put_loss(out, &n->loss);
    key(out, &f, "duplicate"); put_double(out, n->duplicate);
    key(out, &f, "bandwidth_bps"); put_int(out, n->bandwidth_bps);
    key(out, &f, "send_queue"); put_int(out, n->send_queue);
    g_string_append_c(out, '}');
}

static void put_regions(GString *out, const scn_scenario *sc)
{
    static const char *const modes[] = {"round-robin", "blocks", "explicit"};
    const scn_regions *rg = &sc->regions;
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "assign"); put_string(out, modes[rg->assign]);
    key(out, &f, "names");
    g_string_append_c(out, '[');
    for (size_t r = 0; r < rg->n_regions; r++) {
        if (r)
            g_string_append_c(out, ',');
        put_string(out, rg->regions[r].name);
    }
    g_string_append(out, "]");
    key(out, &f, "latency_us");
    g_string_append_c(out, '[');
    bool first = true;
    for (size_t a = 0; a < rg->n_regions; a++)
        for (size_t b = 0; b < rg->n_regions; b++) {
            if (!rg->latency_set[a * rg->n_regions + b])
                continue;
            if (!first)
                g_string_append_c(out, ',');
            first = false;
            bool g = true;
            g_string_append_c(out, '{');
            key(out, &g, "from"); put_string(out, rg->regions[a].name);
            key(out, &g, "to"); put_string(out, rg->regions[b].name);
            key(out, &g, "dist");
            put_dist(out, &rg->latency_us[a * rg->n_regions + b]);
            g_string_append_c(out, '}');
        }
    g_string_append(out, "]}");
}

static void put_clock(GString *out, const scn_scenario *sc)
{
    const scn_clock *c = &sc->clock;
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "skew_us"); put_dist(out, &c->skew_us);
    key(out, &f, "drift_ppm"); put_dist(out, &c->drift_ppm);
    key(out, &f, "entries");
    g_string_append_c(out, '[');
    for (size_t i = 0; i < c->n_entries; i++) {
        bool g = true;
        if (i)
            g_string_append_c(out, ',');
        g_string_append_c(out, '{');
        put_nodes(out, &g, "nodes", &c->entries[i].nodes);
        key(out, &g, c->entries[i].is_drift ? "drift_ppm" : "skew_us");
        put_double(out, c->entries[i].value);
        g_string_append_c(out, '}');
    }
    g_string_append(out, "]}");
}

static void put_event(GString *out, const scn_event *ev)
{
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "time_us"); put_int(out, ev->time_us);
    key(out, &f, "label"); put_string(out, ev->label);
    key(out, &f, "action"); put_string(out, scn_event_kind_name(ev->kind));
    switch (ev->kind) {
    case SCN_EVENT_PUBLISH:
        put_nodes(out, &f, "nodes", &ev->nodes);
        key(out, &f, "data"); put_string(out, ev->publish.data);
        key(out, &f, "bytes"); put_int(out, (int64_t)ev->publish.n_bytes);
        break;
    case SCN_EVENT_PARTITION:
        key(out, &f, "name"); put_string(out, ev->partition.name);
        if (ev->partition.one_way) {
            put_nodes(out, &f, "from", &ev->partition.from);
            put_nodes(out, &f, "to", &ev->partition.to);
        } else {
            key(out, &f, "groups");
            g_string_append_c(out, '[');
            for (size_t g = 0; g < ev->partition.n_groups; g++) {
                if (g)
                    g_string_append_c(out, ',');
                put_string(out, ev->partition.groups[g].text);
            }
            g_string_append_c(out, ']');
        }
        break;
    case SCN_EVENT_HEAL:
        key(out, &f, "name"); put_string(out, ev->partition.name);
        break;
    case SCN_EVENT_NETWORK:
        if (ev->network.set_latency) {
            key(out, &f, "latency_us"); put_dist(out, &ev->network.latency_us);
        }
        if (ev->network.set_loss) {
            key(out, &f, "loss"); put_loss(out, &ev->network.loss);
        }
        if (ev->network.set_duplicate) {
            key(out, &f, "duplicate"); put_double(out, ev->network.duplicate);
        }
        break;
    default:
        put_nodes(out, &f, "nodes", &ev->nodes);
        break;
    }
    g_string_append_c(out, '}');
}

static void put_sweep(GString *out, const scn_scenario *sc)
{
    const scn_sweep *sw = &sc->sweep;
    bool f = true;
    g_string_append_c(out, '{');
    key(out, &f, "repetitions"); put_int(out, sw->repetitions);
    key(out, &f, "combinations"); put_int(out, (int64_t)sw->combinations);
    key(out, &f, "axes");
    g_string_append_c(out, '[');
    for (size_t a = 0; a < sw->n_axes; a++) {
        bool g = true;
        if (a)
            g_string_append_c(out, ',');
        g_string_append_c(out, '{');
        key(out, &g, "key"); put_string(out, sw->axes[a].key);
        key(out, &g, "values");
        g_string_append_c(out, '[');
        for (size_t v = 0; v < sw->axes[a].n_values; v++) {
            if (v)
                g_string_append_c(out, ',');
            put_string(out, is_secret(sw->axes[a].key)
                                ? "(hidden)" : sw->axes[a].values[v]);
        }
        g_string_append(out, "]}");
    }
    g_string_append(out, "]}");
}

char *scn_scenario_to_json(const scn_scenario *sc)
{
    g_return_val_if_fail(sc != NULL, NULL);
    GString *out = g_string_new("{");
    bool f = true;
    key(out, &f, "scenario"); put_string(out, sc->name);
    key(out, &f, "cluster"); put_cluster(out, sc);
    key(out, &f, "engine"); put_engine(out, sc);
    key(out, &f, "network"); put_network(out, sc);
    key(out, &f, "regions"); put_regions(out, sc);
    key(out, &f, "clock"); put_clock(out, sc);
    key(out, &f, "timeline");
    g_string_append_c(out, '[');
    for (size_t i = 0; i < sc->n_events; i++) {
        if (i)
            g_string_append_c(out, ',');
        put_event(out, &sc->events[i]);
    }
    g_string_append_c(out, ']');
    key(out, &f, "sweep"); put_sweep(out, sc);
    key(out, &f, "overrides");
    g_string_append_c(out, '[');
    for (size_t i = 0; sc->overrides[i] != NULL; i++) {
        if (i)
            g_string_append_c(out, ',');
        if (is_secret(sc->overrides[i])) {
            const char *o = sc->overrides[i];
            const char *eq = strchr(o, '=');
            char *shown = g_strdup_printf("%.*s=(hidden)",
                                          (int)(eq ? eq - o : (long)strlen(o)),
                                          o);
            put_string(out, shown);
            g_free(shown);
        } else {
            put_string(out, sc->overrides[i]);
        }
    }
    g_string_append(out, "]}");
    return g_string_free(out, FALSE);
}
