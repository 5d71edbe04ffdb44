/* test-metrics.c: a node's counters as `peko ctl stats` shows them and
 * as the metrics endpoint does (run/node-metrics.h), on two transports
 * that talked on the loopback. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <string.h>

#include "ctl-server.h"
#include "node-metrics.h"
#include "peko-transport.h"

typedef struct pair {
    GMainContext *ctx;
    peko_transport *a, *b;
} pair;

static pair p;

static peko_transport *make(const char *name)
{
    peko_config c = {.cycle_us = 20000, .secret_key = "metrics-test"};
    peko_transport_options o;
    peko_transport_options_init(&o);
    o.config = &c;
    o.local = (peko_node){.addr = "127.0.0.1", .port = 0, .name = name};
    o.context = p.ctx;
    o.seeded = true;
    o.seed = 7;
    o.print = NULL;
    GError *error = NULL;
    peko_transport *tp = peko_transport_new(&o, &error);
    cr_assert_not_null(tp, "transport: %s", error ? error->message : "");
    return tp;
}

/* Both list each other, b holds a's publish, and each took a few
 * heartbeats and swaps from the other. */
static bool talked(void)
{
    peko_transport *tps[] = {p.a, p.b};
    for (size_t i = 0; i < 2; i++) {
        peko_nodelist *nl = peko_transport_nodelist(tps[i]);
        peko_stats s;
        peko_nodelist_stats(nl, &s);
        peko_version v;
        peko_nodelist_metadata_version(nl, &v);
        if (peko_nodelist_count(nl) < 2 || v.counter != 1 ||
            s.received[PEKO_MSG_HEARTBEAT] < 3 ||
            s.received[PEKO_MSG_SWAP_RESPONSE] < 3)
            return false;
    }
    return true;
}

/* Two nodes that list each other, having exchanged heartbeats and swaps,
 * and a publish, so that many counters are not zero. */
static void setup(void)
{
    p.ctx = g_main_context_new();
    p.a = make("a");
    p.b = make("b");
    char host[PEKO_HOST_STRLEN];
    const peko_addr *addr_a = peko_transport_local_addr(p.a);
    peko_addr_host(addr_a, host);
    peko_nodelist_set(peko_transport_nodelist(p.b),
                      &(peko_node){.addr = host, .port = addr_a->port});
    cr_assert_eq(peko_nodelist_join(peko_transport_nodelist(p.a)), 0);
    cr_assert_eq(peko_nodelist_join(peko_transport_nodelist(p.b)), 0);
    cr_assert_eq(peko_nodelist_publish(peko_transport_nodelist(p.a),
                                       (const uint8_t *)"m", 1),
                 0);
    /* Bounded: a busy machine may take long, never for ever. */
    int64_t deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (!talked() && g_get_monotonic_time() < deadline)
        g_main_context_iteration(p.ctx, TRUE);
    cr_assert(talked(), "the two nodes did not talk within 30 s");
}

static void teardown(void)
{
    peko_transport_free(p.a);
    peko_transport_free(p.b);
    g_main_context_unref(p.ctx);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 60);

static GArray *collect(peko_transport *tp, bool node)
{
    GArray *s = g_array_new(FALSE, FALSE, sizeof(run_metric_sample));
    run_metrics_node info = {.start_wall_us = 1700000000123456LL};
    run_metrics_collect(tp, node ? &info : NULL, s);
    return s;
}

/* Control keys as `peko ctl stats` showed them before the metrics
 * endpoint: none of them may go. */
static const char *const ctl_keys_kept[] = {
    "engine.sent.heartbeat", "engine.received.swap_response",
    "engine.rejected.bad_mac", "engine.send_failed", "engine.duplicates",
    "engine.forwarded", "engine.infected_truncated", "engine.nodes_added",
    "engine.nodes_expired", "transport.received", "transport.received_bytes",
    "transport.sent", "transport.sent_bytes", "transport.send_errors",
    "transport.filter_lost", "transport.filter_partitioned",
    "transport.oversize", "transport.read_errors", "transport.kernel_dropped",
    "transport.busy_wakeups", "transport.tcp_accepted",
    "transport.tcp_accept_refused", "transport.tcp_timeouts",
    "transport.tcp_truncated", "transport.tcp_idle_closed",
    "transport.tcp_connects", "transport.tcp_evicted",
    "transport.tcp_send_dropped", "transport.tcp_open_out",
    "transport.tcp_open_in", "transport.print_suppressed",
};

Test(metrics, ctl_keys_are_unique_and_kept)
{
    GArray *s = collect(p.a, true);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    size_t without_key = 0;
    for (guint i = 0; i < s->len; i++) {
        run_metric_sample *m = &g_array_index(s, run_metric_sample, i);
        if (m->ctl_key[0] == '\0') {
            without_key++;
            continue;
        }
        cr_assert(g_hash_table_add(seen, m->ctl_key), "key %s twice",
                  m->ctl_key);
    }
    /* Only the start time and the build are the endpoint's alone. */
    cr_assert_eq(without_key, 2);
    for (size_t k = 0; k < G_N_ELEMENTS(ctl_keys_kept); k++)
        cr_assert(g_hash_table_contains(seen, ctl_keys_kept[k]), "%s is gone",
                  ctl_keys_kept[k]);
    g_hash_table_unref(seen);
    g_array_free(s, TRUE);
}

Test(metrics, ctl_answer_is_the_table)
{
    /* What the control socket answers is the table's ctl view. */
    GString *answer = g_string_new(NULL);
    run_ctl_handle(p.a, "stats", 5, RUN_CTL_MAX_ANSWER, answer);
    cr_assert(g_str_has_prefix(answer->str, "OK "), "%s", answer->str);
    GArray *s = collect(p.a, false);
    char **pairs = g_strsplit(answer->str + 3, " ", -1);
    guint n = 0;
    for (guint i = 0; i < s->len; i++) {
        run_metric_sample *m = &g_array_index(s, run_metric_sample, i);
        char *want = g_strdup_printf("%s=", m->ctl_key);
        cr_assert_not_null(pairs[n], "answer ends before %s", m->ctl_key);
        cr_assert(g_str_has_prefix(pairs[n], want), "%s where %s was due",
                  pairs[n], want);
        g_free(want);
        n++;
    }
    cr_assert_null(pairs[n]);
    /* Counters that moved since: none, the loop has not run. */
    GString *again = g_string_new(NULL);
    run_ctl_handle(p.a, "stats", 5, RUN_CTL_MAX_ANSWER, again);
    cr_assert_str_eq(again->str, answer->str);
    g_strfreev(pairs);
    g_string_free(again, TRUE);
    g_string_free(answer, TRUE);
    g_array_free(s, TRUE);
}

static bool is_metric_name(const char *name, size_t n)
{
    if (n == 0 || !(g_ascii_isalpha(name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!g_ascii_isalnum(name[i]) && name[i] != '_')
            return false;
    return true;
}

/* Parses an exposition in either flavour and checks its structure: each
 * family's HELP and TYPE once, before its samples, never again; sample
 * names the family's plus the type's suffix; values that parse. Returns
 * the samples as "name{labels}" -> value. */
static GHashTable *parse_exposition(const char *text, bool openmetrics)
{
    GHashTable *samples =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTable *families = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                 g_free, NULL);
    char **lines = g_strsplit(text, "\n", -1);
    guint n_lines = g_strv_length(lines);
    cr_assert_gt(n_lines, 1);
    cr_assert_str_empty(lines[n_lines - 1], "the text ends with a newline");
    char family[128] = "";
    char type[16] = "";
    bool helped = false;
    for (guint i = 0; i + 1 < n_lines; i++) {
        const char *l = lines[i];
        if (openmetrics && i + 2 == n_lines) {
            cr_assert_str_eq(l, "# EOF");
            break;
        }
        if (g_str_has_prefix(l, "# HELP ")) {
            const char *name = l + 7;
            size_t n = strcspn(name, " ");
            cr_assert(is_metric_name(name, n), "%s", l);
            cr_assert_lt(n, sizeof family);
            memcpy(family, name, n);
            family[n] = '\0';
            cr_assert(g_hash_table_add(families, g_strdup(family)),
                      "family %s twice", family);
            helped = true;
            type[0] = '\0';
            continue;
        }
        if (g_str_has_prefix(l, "# TYPE ")) {
            cr_assert(helped, "TYPE without HELP: %s", l);
            char *want = g_strdup_printf("# TYPE %s ", family);
            cr_assert(g_str_has_prefix(l, want), "%s", l);
            g_strlcpy(type, l + strlen(want), sizeof type);
            g_free(want);
            cr_assert(strcmp(type, "counter") == 0 ||
                          strcmp(type, "gauge") == 0 ||
                          (openmetrics && strcmp(type, "info") == 0),
                      "%s", l);
            /* 0.0.4 names a counter as its samples, OpenMetrics not. */
            cr_assert_eq(g_str_has_suffix(family, "_total"),
                         !openmetrics && strcmp(type, "counter") == 0, "%s",
                         l);
            continue;
        }
        if (g_str_has_prefix(l, "# UNIT ")) {
            cr_assert(openmetrics, "UNIT in the 0.0.4 format");
            char *want = g_strdup_printf("# UNIT %s ", family);
            cr_assert(g_str_has_prefix(l, want), "%s", l);
            const char *unit = l + strlen(want);
            char *suffix = g_strdup_printf("_%s", unit);
            cr_assert(g_str_has_suffix(family, suffix),
                      "family %s does not end in its unit", family);
            g_free(suffix);
            g_free(want);
            continue;
        }
        cr_assert_neq(l[0], '#', "unknown line %s", l);
        cr_assert_neq(type[0], '\0', "a sample before its TYPE: %s", l);
        const char *sp = strrchr(l, ' ');
        cr_assert_not_null(sp, "%s", l);
        char *name = g_strndup(l, (gsize)(sp - l));
        size_t base = strcspn(name, "{");
        cr_assert(is_metric_name(name, base), "%s", l);
        const char *suffix = !openmetrics               ? ""
                             : strcmp(type, "counter") == 0 ? "_total"
                             : strcmp(type, "info") == 0    ? "_info"
                                                            : "";
        char *expect = g_strdup_printf("%s%s", family, suffix);
        cr_assert(strlen(expect) == base && strncmp(name, expect, base) == 0,
                  "sample %s in family %s", name, family);
        g_free(expect);
        char *end = NULL;
        guint64 v = g_ascii_strtoull(sp + 1, &end, 10);
        cr_assert(end && *end == '\0' && end != sp + 1, "value of %s", l);
        cr_assert(g_hash_table_insert(samples, name,
                                      g_strdup_printf("%" G_GUINT64_FORMAT,
                                                      v)),
                  "sample %s twice", l);
    }
    g_strfreev(lines);
    g_hash_table_unref(families);
    return samples;
}

/* The sample's name as an exposition writes it. */
static char *sample_name(const run_metric_sample *m)
{
    const char *suffix = m->family->type == RUN_METRIC_COUNTER ? "_total"
                         : m->family->type == RUN_METRIC_INFO  ? "_info"
                                                               : "";
    if (m->family->label)
        return g_strdup_printf("%s%s{%s=\"%s\"}", m->family->name, suffix,
                               m->family->label, m->label_value);
    return g_strdup_printf("%s%s", m->family->name, suffix);
}

static void check_flavour(bool openmetrics)
{
    GArray *s = collect(p.b, true);
    GString *text = g_string_new(NULL);
    run_metrics_format_text(s, openmetrics, text);
    GHashTable *parsed = parse_exposition(text->str, openmetrics);
    cr_assert_eq(g_hash_table_size(parsed), s->len);
    size_t nonzero = 0;
    for (guint i = 0; i < s->len; i++) {
        run_metric_sample *m = &g_array_index(s, run_metric_sample, i);
        char *name = sample_name(m);
        const char *v = g_hash_table_lookup(parsed, name);
        cr_assert_not_null(v, "%s missing", name);
        char *want = g_strdup_printf("%" PRIu64, m->value);
        cr_assert_str_eq(v, want, "%s", name);
        nonzero += m->value != 0;
        g_free(want);
        g_free(name);
    }
    /* The nodes talked: heartbeats, swaps, bytes, members, a version. */
    cr_assert_gt(nonzero, 12);
    cr_assert_str_eq(g_hash_table_lookup(parsed,
                                         "peko_node_start_time_seconds"),
                     "1700000000");
    cr_assert_str_eq(g_hash_table_lookup(parsed, "peko_members"), "2");
    cr_assert_str_eq(g_hash_table_lookup(parsed, "peko_metadata_version"),
                     "1");
    g_hash_table_unref(parsed);
    g_string_free(text, TRUE);
    g_array_free(s, TRUE);
}

Test(metrics, text_format_parses_and_holds_every_sample)
{
    check_flavour(false);
}

Test(metrics, openmetrics_parses_and_holds_every_sample)
{
    check_flavour(true);
}

Test(metrics, labels_name_types_reasons_and_causes)
{
    GArray *s = collect(p.a, false);
    GString *text = g_string_new(NULL);
    run_metrics_format_text(s, false, text);
    static const char *const want[] = {
        "peko_engine_sent_packets_total{type=\"heartbeat\"} ",
        "peko_engine_rejected_packets_total{reason=\"bad_mac\"} ",
        "peko_transport_dropped_packets_total{cause=\"kernel_dropped\"} ",
        "peko_transport_tcp_open_connections{direction=\"in\"} ",
        "peko_heartbeats_running 1\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        cr_assert_not_null(strstr(text->str, want[i]), "no %s", want[i]);
    /* Without the node's part, no start time or build. */
    cr_assert_null(strstr(text->str, "peko_build"));
    g_string_free(text, TRUE);
    g_array_free(s, TRUE);
}
