/* metrics-http.c: the node's metrics over HTTP, with libsoup
 * (metrics-http.h). */
#include "metrics-http.h"

#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "cli.h"
#include "node-metrics.h"

struct cli_metrics_server {
    SoupServer *soup;
    GSocketService *service;
    peko_transport *tp;
    int64_t start_wall_us;
    GPtrArray *connections; /* GSocketConnection*, weakly referenced */
    char address[PEKO_ADDR_STRLEN];
};

gboolean cli_metrics_parse_listen(const char *text, char **host,
                                  uint16_t *port, GError **error)
{
    const char *port_text = text;
    char *h = NULL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            goto bad;
        h = g_strndup(text + 1, (gsize)(close - text - 1));
        port_text = close + 2;
    } else if (strchr(text, ':')) {
        const char *colon = strrchr(text, ':');
        if (strchr(text, ':') != colon)
            goto bad; /* an IPv6 host needs its brackets */
        h = g_strndup(text, (gsize)(colon - text));
        port_text = colon + 1;
    } else {
        h = g_strdup("127.0.0.1");
    }
    uint64_t p;
    peko_addr addr;
    if (!cli_parse_u64("port", port_text, 0, 65535, &p, NULL) ||
        peko_addr_parse(h, 0, &addr) < 0 || h[0] == '\0')
        goto bad;
    *host = h;
    *port = (uint16_t)p;
    return TRUE;
bad:
    g_free(h);
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "expected PORT, HOST:PORT or [V6HOST]:PORT with a numeric"
                " host and a port from 0 (any free one) to 65535, got '%s'",
                text);
    return FALSE;
}

/* OpenMetrics when the client ranks it before the text format (a
 * Prometheus server does); the text format otherwise, also when nothing
 * it accepts is offered: every scraper reads it. */
static bool wants_openmetrics(SoupServerMessage *msg)
{
    const char *accept = soup_message_headers_get_list(
        soup_server_message_get_request_headers(msg), "Accept");
    if (accept == NULL)
        return false;
    GSList *ranked = soup_header_parse_quality_list(accept, NULL);
    bool openmetrics = false;
    for (GSList *l = ranked; l; l = l->next) {
        const char *type = l->data;
        if (g_ascii_strncasecmp(type, "application/openmetrics-text", 28) ==
            0) {
            openmetrics = true;
            break;
        }
        if (g_ascii_strncasecmp(type, "text/plain", 10) == 0 ||
            g_ascii_strncasecmp(type, "text/*", 6) == 0 ||
            g_ascii_strncasecmp(type, "*/*", 3) == 0)
            break;
    }
    soup_header_free_list(ranked);
    return openmetrics;
}

static void on_metrics(SoupServer *soup, SoupServerMessage *msg,
                       const char *path, GHashTable *query, gpointer user)
{
    cli_metrics_server *server = user;
    const char *method = soup_server_message_get_method(msg);
    if (strcmp(path, "/metrics") != 0) {
        soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
        soup_server_message_set_response(msg, "text/plain; charset=utf-8",
                                         SOUP_MEMORY_STATIC,
                                         "not found: try /metrics\n", 24);
        return;
    }
    if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
        soup_message_headers_replace(
            soup_server_message_get_response_headers(msg), "Allow",
            "GET, HEAD");
        soup_server_message_set_status(msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                                       NULL);
        return;
    }
    bool openmetrics = wants_openmetrics(msg);
    GArray *samples = g_array_new(FALSE, FALSE, sizeof(run_metric_sample));
    run_metrics_node node = {.start_wall_us = server->start_wall_us};
    run_metrics_collect(server->tp, &node, samples);
    GString *body = g_string_sized_new(8192);
    run_metrics_format_text(samples, openmetrics, body);
    g_array_free(samples, TRUE);
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    gsize n = body->len;
    soup_server_message_set_response(
        msg,
        openmetrics ? RUN_METRICS_CONTENT_TYPE_OPENMETRICS
                    : RUN_METRICS_CONTENT_TYPE_TEXT,
        SOUP_MEMORY_TAKE, g_string_free(body, FALSE), n);
}

/* A connection libsoup let go of: its place is free. */
static void on_connection_gone(gpointer user, GObject *gone)
{
    cli_metrics_server *server = user;
    g_ptr_array_remove_fast(server->connections, gone);
}

static gboolean on_incoming(GSocketService *service,
                            GSocketConnection *connection, GObject *source,
                            gpointer user)
{
    cli_metrics_server *server = user;
    if (server->connections->len >= CLI_METRICS_MAX_CLIENTS) {
        /* Over the bound: closed unanswered, as a full accept queue would
         * leave it. */
        g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
        return TRUE;
    }
    /* Every read and write of this connection, libsoup's included, fails
     * after this long without progress; libsoup then drops it. */
    g_socket_set_timeout(g_socket_connection_get_socket(connection),
                         CLI_METRICS_IDLE_TIMEOUT_S);
    GSocketAddress *local =
        g_socket_connection_get_local_address(connection, NULL);
    GSocketAddress *remote =
        g_socket_connection_get_remote_address(connection, NULL);
    GError *error = NULL;
    if (local && remote &&
        soup_server_accept_iostream(server->soup, G_IO_STREAM(connection),
                                    local, remote, &error)) {
        g_ptr_array_add(server->connections, connection);
        g_object_weak_ref(G_OBJECT(connection), on_connection_gone, server);
    } else {
        g_clear_error(&error);
        g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
    }
    g_clear_object(&local);
    g_clear_object(&remote);
    return TRUE;
}

cli_metrics_server *cli_metrics_server_new(const char *host, uint16_t port,
                                           peko_transport *tp,
                                           int64_t start_wall_us,
                                           GError **error)
{
    cli_metrics_server *server = g_new0(cli_metrics_server, 1);
    server->tp = tp;
    server->start_wall_us = start_wall_us;
    server->connections = g_ptr_array_new();
    server->soup = soup_server_new("server-header",
                                   "peko/" PEKO_VERSION_STRING " ", NULL);
    soup_server_add_handler(server->soup, NULL, on_metrics, server, NULL);
    server->service = g_socket_service_new();

    GInetAddress *ip = g_inet_address_new_from_string(host);
    GSocketAddress *want =
        ip ? g_inet_socket_address_new(ip, port) : NULL;
    GSocketAddress *bound = NULL;
    GError *local = NULL;
    gboolean ok =
        want && g_socket_listener_add_address(
                    G_SOCKET_LISTENER(server->service), want,
                    G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                    &bound, &local);
    g_clear_object(&ip);
    g_clear_object(&want);
    if (!ok) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "metrics: cannot listen on %s port %u: %s", host,
                    (unsigned)port,
                    local ? local->message : "not a numeric address");
        g_clear_error(&local);
        cli_metrics_server_free(server);
        return NULL;
    }
    GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS(bound);
    char *ip_text =
        g_inet_address_to_string(g_inet_socket_address_get_address(inet));
    g_snprintf(server->address, sizeof server->address,
               strchr(ip_text, ':') ? "[%s]:%u" : "%s:%u", ip_text,
               (unsigned)g_inet_socket_address_get_port(inet));
    g_free(ip_text);
    g_object_unref(bound);

    g_signal_connect(server->service, "incoming", G_CALLBACK(on_incoming),
                     server);
    g_socket_service_start(server->service);
    return server;
}

const char *cli_metrics_server_address(const cli_metrics_server *server)
{
    return server->address;
}

void cli_metrics_server_free(cli_metrics_server *server)
{
    if (server == NULL)
        return;
    if (server->service) {
        g_signal_handlers_disconnect_by_data(server->service, server);
        g_socket_service_stop(server->service);
        g_socket_listener_close(G_SOCKET_LISTENER(server->service));
        g_object_unref(server->service);
    }
    /* Connections libsoup still holds outlive this struct only as far as
     * their finalization: stop hearing about it first. */
    for (guint i = 0; i < server->connections->len; i++)
        g_object_weak_unref(server->connections->pdata[i], on_connection_gone,
                            server);
    g_ptr_array_free(server->connections, TRUE);
    if (server->soup) {
        soup_server_disconnect(server->soup);
        g_object_unref(server->soup);
    }
    g_free(server);
}
