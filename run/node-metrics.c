/* node-metrics.c: a node's counters and gauges, for `peko ctl stats` and
 * the metrics endpoint (node-metrics.h). */
#include "node-metrics.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

/* The families, in the order they are exposed. Names follow Prometheus'
 * conventions: the subsystem after peko_, a base unit or what is counted
 * at the end, and counters exposed with _total. */
enum {
    F_SENT, F_SENT_BYTES, F_RECEIVED, F_RECEIVED_BYTES, F_REJECTED,
    F_REJECTED_BYTES, F_SEND_FAILURES, F_DUPLICATES, F_FORWARDED,
    F_INFECTED_TRUNCATED, F_NODES_ADDED, F_NODES_EXPIRED, F_REPAIRED,
    F_RECONNECTS, F_MEMBERS_REFUSED, F_MEMBERS_EVICTED, F_CHALLENGES,
    F_VERIFIED, F_COOKIES_REFUSED, F_DIGEST_ENTRIES, F_DIGESTS_TRUNCATED,
    F_PARKED, F_PARKED_DROPPED, F_FRESH_EVICTED, F_ANNOUNCEMENTS_HELD,
    F_MEMBERS, F_METADATA_VERSION, F_RUNNING,
    F_TP_RECEIVED, F_TP_RECEIVED_BYTES, F_TP_SENT, F_TP_SENT_BYTES,
    F_TP_SEND_ERRORS, F_TP_DROPPED, F_TP_READ_ERRORS, F_TP_BUSY_WAKEUPS,
    F_TP_DELAYED, F_TP_DELAY_QUEUE, F_TP_TCP_ACCEPTED, F_TP_TCP_REFUSED,
    F_TP_TCP_CONNECTS, F_TP_TCP_CLOSED, F_TP_TCP_OPEN, F_TP_PRINT_SUPPRESSED,
    F_START_TIME, F_BUILD,
    F_COUNT
};

#define COUNTER RUN_METRIC_COUNTER
#define GAUGE RUN_METRIC_GAUGE

static const run_metric_family families[F_COUNT] = {
    [F_SENT] = {"peko_engine_sent_packets", COUNTER, NULL,
                "Packets the engine sent, by message type", "type"},
    [F_SENT_BYTES] = {"peko_engine_sent_bytes", COUNTER, "bytes",
                      "Bytes the engine sent, by message type", "type"},
    [F_RECEIVED] = {"peko_engine_received_packets", COUNTER, NULL,
                    "Packets the engine accepted, by message type", "type"},
    [F_RECEIVED_BYTES] = {"peko_engine_received_bytes", COUNTER, "bytes",
                          "Bytes of the packets the engine accepted, by"
                          " message type",
                          "type"},
    [F_REJECTED] = {"peko_engine_rejected_packets", COUNTER, NULL,
                    "Packets the engine rejected, by reason", "reason"},
    [F_REJECTED_BYTES] = {"peko_engine_rejected_bytes", COUNTER, "bytes",
                          "Bytes of the packets the engine rejected", NULL},
    [F_SEND_FAILURES] = {"peko_engine_send_failures", COUNTER, NULL,
                         "Sends the transport refused at once", NULL},
    [F_DUPLICATES] = {"peko_engine_duplicate_rumors", COUNTER, NULL,
                      "Rumor copies received that were not new", NULL},
    [F_FORWARDED] = {"peko_engine_forwarded_rumors", COUNTER, NULL,
                     "Rumor forwards sent", NULL},
    [F_INFECTED_TRUNCATED] = {"peko_engine_infected_sets_truncated", COUNTER,
                              NULL, "Infected sets cut to fit Size", NULL},
    [F_NODES_ADDED] = {"peko_engine_nodes_added", COUNTER, NULL,
                       "Peers that entered the node list", NULL},
    [F_NODES_EXPIRED] = {"peko_engine_nodes_expired", COUNTER, NULL,
                         "Peers removed after Timeout without a heartbeat",
                         NULL},
    [F_REPAIRED] = {"peko_engine_peers_repaired", COUNTER, NULL,
                    "Peers refreshed by anti-entropy", NULL},
    [F_RECONNECTS] = {"peko_engine_reconnect_attempts", COUNTER, NULL,
                      "Swaps sent to seeds or removed members", NULL},
    [F_MEMBERS_REFUSED] = {"peko_engine_members_refused", COUNTER, NULL,
                           "Newcomers refused because the list was full",
                           NULL},
    [F_MEMBERS_EVICTED] = {"peko_engine_members_evicted", COUNTER, NULL,
                           "Unverified members replaced by a newcomer", NULL},
    [F_CHALLENGES] = {"peko_engine_challenges_sent", COUNTER, NULL,
                      "Address validations asked of peers", NULL},
    [F_VERIFIED] = {"peko_engine_peers_verified", COUNTER, NULL,
                    "Peers that proved their address", NULL},
    [F_COOKIES_REFUSED] = {"peko_engine_cookies_refused", COUNTER, NULL,
                           "Challenge echoes that proved nothing", NULL},
    [F_DIGEST_ENTRIES] = {"peko_engine_digest_entries_sent", COUNTER, NULL,
                          "Entries in the swaps sent", NULL},
    [F_DIGESTS_TRUNCATED] = {"peko_engine_digests_truncated", COUNTER, NULL,
                             "Swaps cut to fit Size", NULL},
    [F_PARKED] = {"peko_engine_parked_packets", COUNTER, NULL,
                  "Signed packets held until their receiver's incarnation"
                  " was known",
                  NULL},
    [F_PARKED_DROPPED] = {"peko_engine_parked_dropped_packets", COUNTER,
                          NULL, "Held packets given up (room, age)", NULL},
    [F_FRESH_EVICTED] = {"peko_engine_freshness_windows_evicted", COUNTER,
                         NULL,
                         "Senders whose anti-replay window was forgotten"
                         " to bound memory",
                         NULL},
    [F_ANNOUNCEMENTS_HELD] = {"peko_engine_announcements_held", COUNTER,
                              NULL,
                              "digest: join announcements taken but not"
                              " forwarded, the cycle's forwards spent",
                              NULL},
    [F_MEMBERS] = {"peko_members", GAUGE, NULL,
                   "Nodes in the node list, this one included", NULL},
    [F_METADATA_VERSION] = {"peko_metadata_version", GAUGE, NULL,
                            "Version counter of the local metadata (0"
                            " before any)",
                            NULL},
    [F_RUNNING] = {"peko_heartbeats_running", GAUGE, NULL,
                   "1 while heartbeats are sent, 0 after a stop", NULL},
    [F_TP_RECEIVED] = {"peko_transport_received_packets", COUNTER, NULL,
                       "Datagrams or frames handed to the engine", NULL},
    [F_TP_RECEIVED_BYTES] = {"peko_transport_received_bytes", COUNTER,
                             "bytes", "Bytes handed to the engine", NULL},
    [F_TP_SENT] = {"peko_transport_sent_packets", COUNTER, NULL,
                   "Messages given to the kernel or queued on a connection",
                   NULL},
    [F_TP_SENT_BYTES] = {"peko_transport_sent_bytes", COUNTER, "bytes",
                         "Bytes given to the kernel or queued on a"
                         " connection",
                         NULL},
    [F_TP_SEND_ERRORS] = {"peko_transport_send_errors", COUNTER, NULL,
                          "Sends the kernel refused, or connections that"
                          " could not be made",
                          NULL},
    [F_TP_DROPPED] = {"peko_transport_dropped_packets", COUNTER, NULL,
                      "Messages the transport or the kernel dropped, by"
                      " cause",
                      "cause"},
    [F_TP_READ_ERRORS] = {"peko_transport_read_errors", COUNTER, NULL,
                          "Socket reads that failed", NULL},
    [F_TP_BUSY_WAKEUPS] = {"peko_transport_busy_wakeups", COUNTER, NULL,
                           "Wakeups that stopped at their read bound", NULL},
    [F_TP_DELAYED] = {"peko_transport_delayed_packets", COUNTER, NULL,
                      "Messages that waited in the delay queue", NULL},
    [F_TP_DELAY_QUEUE] = {"peko_transport_delay_queue_packets", GAUGE, NULL,
                          "Messages waiting in the delay queue now", NULL},
    [F_TP_TCP_ACCEPTED] = {"peko_transport_tcp_accepted_connections",
                           COUNTER, NULL, "TCP connections accepted", NULL},
    [F_TP_TCP_REFUSED] = {"peko_transport_tcp_refused_connections", COUNTER,
                          NULL,
                          "TCP connections closed at once: too many"
                          " accepted",
                          NULL},
    [F_TP_TCP_CONNECTS] = {"peko_transport_tcp_opened_connections", COUNTER,
                           NULL, "Outgoing TCP connections opened", NULL},
    [F_TP_TCP_CLOSED] = {"peko_transport_tcp_closed_connections", COUNTER,
                         NULL, "TCP connections closed by the node, by cause",
                         "cause"},
    [F_TP_TCP_OPEN] = {"peko_transport_tcp_open_connections", GAUGE, NULL,
                       "TCP connections open now, by direction",
                       "direction"},
    [F_TP_PRINT_SUPPRESSED] = {"peko_transport_print_suppressed_lines",
                               COUNTER, NULL,
                               "Console lines dropped over the print rate",
                               NULL},
    [F_START_TIME] = {"peko_node_start_time_seconds", GAUGE, "seconds",
                      "When the node started, in seconds since the Unix"
                      " epoch",
                      NULL},
    [F_BUILD] = {"peko_build", RUN_METRIC_INFO, NULL,
                 "The peko version serving these metrics", "version"},
};

/* A counter added to peko_stats (all uint64_t) changes its size, and one
 * appended to peko_transport_counters (whose last field is delay_pending)
 * its size beyond that field: then it needs its line in collect_engine()
 * or collect_transport(), a row in docs/node.md's table (which
 * tests/check-metrics.sh reads), and the new figures here. */
G_STATIC_ASSERT(sizeof(peko_stats) == 63 * sizeof(uint64_t));
G_STATIC_ASSERT(offsetof(peko_transport_counters, delay_pending) ==
                22 * sizeof(uint64_t) + 2 * sizeof(uint32_t));
G_STATIC_ASSERT(sizeof(peko_transport_counters) <=
                offsetof(peko_transport_counters, delay_pending) +
                    sizeof(uint64_t));

static void add(GArray *out, int family, const char *label_value,
                const char *ctl_key, uint64_t value)
{
    run_metric_sample s = {.family = &families[family],
                           .label_value = label_value,
                           .value = value};
    g_strlcpy(s.ctl_key, ctl_key ? ctl_key : "", sizeof s.ctl_key);
    g_array_append_val(out, s);
}

/* A sample whose control key is prefix + label value. */
static void add_labelled(GArray *out, int family, const char *ctl_prefix,
                         const char *label_value, uint64_t value)
{
    char key[RUN_METRIC_CTL_KEY_MAX];
    g_snprintf(key, sizeof key, "%s%s", ctl_prefix, label_value);
    add(out, family, label_value, key, value);
}

static void collect_engine(peko_nodelist *nl, GArray *out)
{
    peko_stats s;
    peko_nodelist_stats(nl, &s);
    static const struct {
        int family;
        const char *ctl_prefix;
        size_t offset;
    } by_type[] = {
        {F_SENT, "engine.sent.", offsetof(peko_stats, sent)},
        {F_SENT_BYTES, "engine.sent_bytes.", offsetof(peko_stats, sent_bytes)},
        {F_RECEIVED, "engine.received.", offsetof(peko_stats, received)},
        {F_RECEIVED_BYTES, "engine.received_bytes.",
         offsetof(peko_stats, received_bytes)},
    };
    for (size_t f = 0; f < G_N_ELEMENTS(by_type); f++) {
        const uint64_t *values =
            (const uint64_t *)((const char *)&s + by_type[f].offset);
        for (int t = 1; t < PEKO_MSG_TYPE_COUNT; t++)
            add_labelled(out, by_type[f].family, by_type[f].ctl_prefix,
                         peko_msg_type_name((peko_msg_type)t), values[t]);
    }
    for (int r = 1; r < PEKO_REJECT_COUNT; r++)
        add_labelled(out, F_REJECTED, "engine.rejected.",
                     peko_reject_name((peko_reject)r), s.rejected[r]);

    static const struct {
        int family;
        const char *ctl_key;
        size_t offset;
    } scalars[] = {
#define SCALAR(f, field) {f, "engine." #field, offsetof(peko_stats, field)}
        SCALAR(F_REJECTED_BYTES, rejected_bytes),
        SCALAR(F_SEND_FAILURES, send_failed),
        SCALAR(F_DUPLICATES, duplicates),
        SCALAR(F_FORWARDED, forwarded),
        SCALAR(F_INFECTED_TRUNCATED, infected_truncated),
        SCALAR(F_NODES_ADDED, nodes_added),
        SCALAR(F_NODES_EXPIRED, nodes_expired),
        SCALAR(F_REPAIRED, repaired),
        SCALAR(F_RECONNECTS, reconnect_attempts),
        SCALAR(F_MEMBERS_REFUSED, members_refused),
        SCALAR(F_MEMBERS_EVICTED, members_evicted),
        SCALAR(F_CHALLENGES, challenges_sent),
        SCALAR(F_VERIFIED, verified),
        SCALAR(F_COOKIES_REFUSED, cookies_refused),
        SCALAR(F_DIGEST_ENTRIES, digest_entries_sent),
        SCALAR(F_DIGESTS_TRUNCATED, digest_truncated),
        SCALAR(F_PARKED, parked),
        SCALAR(F_PARKED_DROPPED, parked_dropped),
        SCALAR(F_FRESH_EVICTED, fresh_evicted),
        SCALAR(F_ANNOUNCEMENTS_HELD, announcements_held),
#undef SCALAR
    };
    for (size_t i = 0; i < G_N_ELEMENTS(scalars); i++)
        add(out, scalars[i].family, NULL, scalars[i].ctl_key,
            *(const uint64_t *)((const char *)&s + scalars[i].offset));

    peko_version version;
    peko_nodelist_metadata_version(nl, &version);
    add(out, F_MEMBERS, NULL, "node.members", peko_nodelist_count(nl));
    add(out, F_METADATA_VERSION, NULL, "node.metadata_version",
        version.counter);
    add(out, F_RUNNING, NULL, "node.running", peko_nodelist_is_running(nl));
}

static void collect_transport(const peko_transport *tp, GArray *out)
{
    peko_transport_counters k;
    peko_transport_stats(tp, &k);
    add(out, F_TP_RECEIVED, NULL, "transport.received", k.received);
    add(out, F_TP_RECEIVED_BYTES, NULL, "transport.received_bytes",
        k.received_bytes);
    add(out, F_TP_SENT, NULL, "transport.sent", k.sent);
    add(out, F_TP_SENT_BYTES, NULL, "transport.sent_bytes", k.sent_bytes);
    add(out, F_TP_SEND_ERRORS, NULL, "transport.send_errors", k.send_errors);
    /* Drops by cause: the label is the control key's last part. */
    add_labelled(out, F_TP_DROPPED, "transport.", "filter_lost",
                 k.filter_lost);
    add_labelled(out, F_TP_DROPPED, "transport.", "filter_partitioned",
                 k.filter_partitioned);
    add_labelled(out, F_TP_DROPPED, "transport.", "oversize", k.oversize);
    add_labelled(out, F_TP_DROPPED, "transport.", "kernel_dropped",
                 k.kernel_dropped);
    add_labelled(out, F_TP_DROPPED, "transport.", "tcp_send_dropped",
                 k.tcp_send_dropped);
    add_labelled(out, F_TP_DROPPED, "transport.", "delay_dropped",
                 k.delay_dropped);
    add(out, F_TP_READ_ERRORS, NULL, "transport.read_errors", k.read_errors);
    add(out, F_TP_BUSY_WAKEUPS, NULL, "transport.busy_wakeups",
        k.busy_wakeups);
    add(out, F_TP_DELAYED, NULL, "transport.delayed", k.delayed);
    add(out, F_TP_DELAY_QUEUE, NULL, "transport.delay_pending",
        k.delay_pending);
    add(out, F_TP_TCP_ACCEPTED, NULL, "transport.tcp_accepted",
        k.tcp_accepted);
    add(out, F_TP_TCP_REFUSED, NULL, "transport.tcp_accept_refused",
        k.tcp_accept_refused);
    add(out, F_TP_TCP_CONNECTS, NULL, "transport.tcp_connects",
        k.tcp_connects);
    add(out, F_TP_TCP_CLOSED, "timeout", "transport.tcp_timeouts",
        k.tcp_timeouts);
    add(out, F_TP_TCP_CLOSED, "truncated", "transport.tcp_truncated",
        k.tcp_truncated);
    add(out, F_TP_TCP_CLOSED, "idle", "transport.tcp_idle_closed",
        k.tcp_idle_closed);
    add(out, F_TP_TCP_CLOSED, "evicted", "transport.tcp_evicted",
        k.tcp_evicted);
    add(out, F_TP_TCP_OPEN, "out", "transport.tcp_open_out", k.tcp_open_out);
    add(out, F_TP_TCP_OPEN, "in", "transport.tcp_open_in", k.tcp_open_in);
    add(out, F_TP_PRINT_SUPPRESSED, NULL, "transport.print_suppressed",
        k.print_suppressed);
}

void run_metrics_collect(peko_transport *tp, const run_metrics_node *node,
                         GArray *out)
{
    g_return_if_fail(tp != NULL && out != NULL);
    collect_engine(peko_transport_nodelist(tp), out);
    collect_transport(tp, out);
    if (node) {
        add(out, F_START_TIME, NULL, NULL,
            node->start_wall_us > 0 ? (uint64_t)node->start_wall_us /
                                          G_USEC_PER_SEC
                                    : 0);
        add(out, F_BUILD, PEKO_VERSION_STRING, NULL, 1);
    }
}

void run_metrics_format_ctl(const GArray *samples, GString *out)
{
    for (guint i = 0; i < samples->len; i++) {
        const run_metric_sample *s =
            &g_array_index(samples, run_metric_sample, i);
        if (s->ctl_key[0])
            g_string_append_printf(out, " %s=%" PRIu64, s->ctl_key, s->value);
    }
}

/* A label value in the exposition formats: backslash, double quote and
 * newline escaped. */
static void append_label_value(GString *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            g_string_append(out, "\\\\");
        else if (*v == '"')
            g_string_append(out, "\\\"");
        else if (*v == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *v);
    }
}

static const char *sample_suffix(run_metric_type type)
{
    return type == RUN_METRIC_COUNTER ? "_total"
           : type == RUN_METRIC_INFO  ? "_info"
                                      : "";
}

static void append_header(GString *out, const run_metric_family *f,
                          bool openmetrics)
{
    /* OpenMetrics names the family without the sample's suffix; the
     * 0.0.4 format names it as its samples, and knows no info type. */
    const char *suffix = openmetrics ? "" : sample_suffix(f->type);
    const char *type = f->type == RUN_METRIC_COUNTER ? "counter"
                       : f->type == RUN_METRIC_INFO && openmetrics
                           ? "info"
                           : "gauge";
    g_string_append_printf(out, "# HELP %s%s %s\n", f->name, suffix, f->help);
    g_string_append_printf(out, "# TYPE %s%s %s\n", f->name, suffix, type);
    if (openmetrics && f->unit)
        g_string_append_printf(out, "# UNIT %s %s\n", f->name, f->unit);
}

void run_metrics_format_text(const GArray *samples, bool openmetrics,
                             GString *out)
{
    const run_metric_family *current = NULL;
    for (guint i = 0; i < samples->len; i++) {
        const run_metric_sample *s =
            &g_array_index(samples, run_metric_sample, i);
        const run_metric_family *f = s->family;
        if (f != current) {
            append_header(out, f, openmetrics);
            current = f;
        }
        g_string_append(out, f->name);
        g_string_append(out, sample_suffix(f->type));
        if (f->label && s->label_value) {
            g_string_append_printf(out, "{%s=\"", f->label);
            append_label_value(out, s->label_value);
            g_string_append(out, "\"}");
        }
        g_string_append_printf(out, " %" PRIu64 "\n", s->value);
    }
    if (openmetrics)
        g_string_append(out, "# EOF\n");
}
