/* json.c: a scenario as one JSON object, for the run table.
 *
 * Keys are written in a fixed order and numbers in the shortest form
 * that reads back to the same double, with the C locale (model/json.h),
 * so equal scenarios give equal strings on every machine.
 */
#include <math.h>
#include <string.h>

#include "json.h"
#include "scenario-private.h"

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

static void put_dist(model_json *j, const model_dist *d)
{
    model_json_begin_object(j);
    model_json_member_string(j, "kind", model_dist_kind_name(d->kind));
    switch (d->kind) {
    case MODEL_DIST_CONSTANT:
        model_json_member_number(j, "value", d->value);
        break;
    case MODEL_DIST_UNIFORM:
        model_json_member_number(j, "min", d->min);
        model_json_member_number(j, "max", d->max);
        break;
    case MODEL_DIST_NORMAL:
        model_json_member_number(j, "mean", d->mean);
        model_json_member_number(j, "sd", d->sd);
        break;
    case MODEL_DIST_LOGNORMAL:
        model_json_member_number(j, "median", d->median);
        model_json_member_number(j, "sigma", d->sigma);
        break;
    case MODEL_DIST_PARETO:
        model_json_member_number(j, "scale", d->scale);
        model_json_member_number(j, "shape", d->shape);
        break;
    default:
        break;
    }
    model_json_member_number(j, "lo", d->lo);
    model_json_member_number(j, "hi", d->hi);
    model_json_member_number(j, "expected", model_dist_mean(d));
    model_json_end_object(j);
}

static void put_loss(model_json *j, const model_loss *l)
{
    model_json_begin_object(j);
    if (l->kind == MODEL_LOSS_BERNOULLI) {
        model_json_member_string(j, "model", "bernoulli");
        model_json_member_number(j, "rate", l->rate);
    } else {
        model_json_member_string(j, "model", "gilbert_elliott");
        model_json_member_number(j, "p_good_to_bad", l->p_good_to_bad);
        model_json_member_number(j, "p_bad_to_good", l->p_bad_to_good);
        model_json_member_number(j, "loss_good", l->loss_good);
        model_json_member_number(j, "loss_bad", l->loss_bad);
    }
    model_json_member_number(j, "expected", model_loss_mean(l));
    model_json_end_object(j);
}

/* "name": the selector's text, "name_count": how many nodes it picks. */
static void put_nodes(model_json *j, const char *name, const scn_nodes *n)
{
    model_json_member_string(j, name, n->text ? n->text : "");
    char *count = g_strconcat(name, "_count", NULL);
    model_json_member_int(j, count, (int64_t)n->count);
    g_free(count);
}

static void put_cluster(model_json *j, const scn_scenario *sc)
{
    const scn_cluster *c = &sc->cluster;
    model_json_begin_object(j);
    model_json_member_int(j, "nodes", c->nodes);
    model_json_member_int(j, "seeds", c->seeds);
    model_json_member_string(j, "seed_mode", c->seed_mode == SCN_SEEDS_FIRST
                                                 ? "first"
                                                 : "random");
    model_json_member_int(j, "duration_us", c->duration_us);
    model_json_member_int(j, "seed", (int64_t)c->seed);
    model_json_member_int(j, "stagger_us", c->stagger_us);
    model_json_member_int(j, "sample_interval_us", c->sample_interval_us);
    put_nodes(j, "heartbeat_sample", &c->heartbeat_sample);
    model_json_member_int(j, "heartbeat_every", c->heartbeat_every);
    model_json_member_int(j, "late_count", (int64_t)c->late.count);
    model_json_end_object(j);
}

void scn_engine_params_json(model_json *j, const peko_config *config)
{
    g_return_if_fail(j != NULL && config != NULL);
    peko_config e;
    if (peko_config_resolve(config, &e) < 0)
        e = *config; /* out of range: written as given */
    model_json_begin_object(j);
    model_json_member_int(j, "amount", e.amount);
    model_json_member_int(j, "cycle_us", e.cycle_us);
    model_json_member_int(j, "buffer", e.buffer);
    model_json_member_int(j, "size", e.size);
    model_json_member_int(j, "timeout_us", e.timeout_us);
    /* Whether there is a key, never the key: run tables get shared. */
    model_json_member_bool(j, "secret_key",
                           e.secret_key != NULL && e.secret_key[0] != '\0');
    model_json_member_int(j, "accepted_keys", (int64_t)e.accepted_key_count);
    model_json_member_string(j, "protocol", e.protocol == PEKO_PROTOCOL_TCP
                                                ? "tcp"
                                                : "udp");
    model_json_member_string(j, "listen_addr", e.listen_addr);
    model_json_member_bool(j, "is_print", e.is_print);
    model_json_member_string(j, "dissemination",
                             peko_dissemination_name(e.dissemination));
    model_json_member_int(j, "seen_cache", e.seen_cache);
    model_json_member_int(j, "exchanges", e.exchanges);
    model_json_member_int(j, "max_members", e.max_members);
    model_json_end_object(j);
}

static void put_network(model_json *j, const scn_scenario *sc)
{
    const scn_network *n = &sc->network;
    model_json_begin_object(j);
    model_json_key(j, "latency_us");
    put_dist(j, &n->latency_us);
    model_json_key(j, "loss");
    put_loss(j, &n->loss);
    model_json_member_number(j, "duplicate", n->duplicate);
    model_json_member_int(j, "bandwidth_bps", n->bandwidth_bps);
    model_json_member_int(j, "send_queue", n->send_queue);
    /* Only when set: the runs recorded before the host model existed
     * keep the same parameters as the same scenario recorded now. */
    if (n->processing_us > 0)
        model_json_member_int(j, "processing_us", n->processing_us);
    if (n->host_cores > 0)
        model_json_member_int(j, "host_cores", n->host_cores);
    model_json_end_object(j);
}

static void put_regions(model_json *j, const scn_scenario *sc)
{
    static const char *const modes[] = {"round-robin", "blocks", "explicit"};
    const scn_regions *rg = &sc->regions;
    model_json_begin_object(j);
    model_json_member_string(j, "assign", modes[rg->assign]);
    model_json_key(j, "names");
    model_json_begin_array(j);
    for (size_t r = 0; r < rg->n_regions; r++)
        model_json_string(j, rg->regions[r].name);
    model_json_end_array(j);
    model_json_key(j, "latency_us");
    model_json_begin_array(j);
    for (size_t a = 0; a < rg->n_regions; a++)
        for (size_t b = 0; b < rg->n_regions; b++) {
            if (!rg->latency_set[a * rg->n_regions + b])
                continue;
            model_json_begin_object(j);
            model_json_member_string(j, "from", rg->regions[a].name);
            model_json_member_string(j, "to", rg->regions[b].name);
            model_json_key(j, "dist");
            put_dist(j, &rg->latency_us[a * rg->n_regions + b]);
            model_json_end_object(j);
        }
    model_json_end_array(j);
    model_json_end_object(j);
}

static void put_clock(model_json *j, const scn_scenario *sc)
{
    const scn_clock *c = &sc->clock;
    model_json_begin_object(j);
    model_json_key(j, "skew_us");
    put_dist(j, &c->skew_us);
    model_json_key(j, "drift_ppm");
    put_dist(j, &c->drift_ppm);
    model_json_key(j, "entries");
    model_json_begin_array(j);
    for (size_t i = 0; i < c->n_entries; i++) {
        model_json_begin_object(j);
        put_nodes(j, "nodes", &c->entries[i].nodes);
        model_json_member_number(j, c->entries[i].is_drift ? "drift_ppm"
                                                           : "skew_us",
                                 c->entries[i].value);
        model_json_end_object(j);
    }
    model_json_end_array(j);
    model_json_end_object(j);
}

static void put_event(model_json *j, const scn_event *ev)
{
    model_json_begin_object(j);
    model_json_member_int(j, "time_us", ev->time_us);
    model_json_member_string(j, "label", ev->label);
    model_json_member_string(j, "action", scn_event_kind_name(ev->kind));
    switch (ev->kind) {
    case SCN_EVENT_PUBLISH:
        put_nodes(j, "nodes", &ev->nodes);
        model_json_member_string(j, "data", ev->publish.data);
        model_json_member_int(j, "bytes", (int64_t)ev->publish.n_bytes);
        break;
    case SCN_EVENT_PARTITION:
        model_json_member_string(j, "name", ev->partition.name);
        if (ev->partition.one_way) {
            put_nodes(j, "from", &ev->partition.from);
            put_nodes(j, "to", &ev->partition.to);
        } else {
            model_json_key(j, "groups");
            model_json_begin_array(j);
            for (size_t g = 0; g < ev->partition.n_groups; g++)
                model_json_string(j, ev->partition.groups[g].text);
            model_json_end_array(j);
        }
        break;
    case SCN_EVENT_HEAL:
        model_json_member_string(j, "name", ev->partition.name);
        break;
    case SCN_EVENT_NETWORK:
        if (ev->network.set_latency) {
            model_json_key(j, "latency_us");
            put_dist(j, &ev->network.latency_us);
        }
        if (ev->network.set_loss) {
            model_json_key(j, "loss");
            put_loss(j, &ev->network.loss);
        }
        if (ev->network.set_duplicate)
            model_json_member_number(j, "duplicate", ev->network.duplicate);
        break;
    default:
        put_nodes(j, "nodes", &ev->nodes);
        break;
    }
    model_json_end_object(j);
}

static void put_sweep(model_json *j, const scn_scenario *sc)
{
    const scn_sweep *sw = &sc->sweep;
    model_json_begin_object(j);
    model_json_member_int(j, "repetitions", sw->repetitions);
    model_json_member_int(j, "combinations", (int64_t)sw->combinations);
    model_json_key(j, "axes");
    model_json_begin_array(j);
    for (size_t a = 0; a < sw->n_axes; a++) {
        model_json_begin_object(j);
        model_json_member_string(j, "key", sw->axes[a].key);
        model_json_key(j, "values");
        model_json_begin_array(j);
        for (size_t v = 0; v < sw->axes[a].n_values; v++)
            model_json_string(j, is_secret(sw->axes[a].key)
                                     ? "(hidden)"
                                     : sw->axes[a].values[v]);
        model_json_end_array(j);
        model_json_end_object(j);
    }
    model_json_end_array(j);
    model_json_end_object(j);
}

char *scn_scenario_to_json(const scn_scenario *sc)
{
    g_return_val_if_fail(sc != NULL, NULL);
    model_json *j = model_json_new();
    model_json_begin_object(j);
    model_json_member_string(j, "scenario", sc->name);
    model_json_key(j, "cluster");
    put_cluster(j, sc);
    model_json_key(j, "engine");
    scn_engine_params_json(j, &sc->engine); /* checked when parsed */
    model_json_key(j, "network");
    put_network(j, sc);
    model_json_key(j, "regions");
    put_regions(j, sc);
    model_json_key(j, "clock");
    put_clock(j, sc);
    model_json_key(j, "timeline");
    model_json_begin_array(j);
    for (size_t i = 0; i < sc->n_events; i++)
        put_event(j, &sc->events[i]);
    model_json_end_array(j);
    model_json_key(j, "sweep");
    put_sweep(j, sc);
    model_json_key(j, "overrides");
    model_json_begin_array(j);
    for (size_t i = 0; sc->overrides[i] != NULL; i++) {
        const char *o = sc->overrides[i];
        if (is_secret(o)) {
            const char *eq = strchr(o, '=');
            char *shown = g_strdup_printf("%.*s=(hidden)",
                                          (int)(eq ? eq - o : (long)strlen(o)),
                                          o);
            model_json_string(j, shown);
            g_free(shown);
        } else {
            model_json_string(j, o);
        }
    }
    model_json_end_array(j);
    model_json_end_object(j);
    return model_json_finish(j);
}
