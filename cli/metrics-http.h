/* metrics-http.h: `peko node --metrics`, the node's counters over HTTP
 * for Prometheus (docs/node.md, "Metrics").
 *
 * GET /metrics answers the table of node-metrics.h in the Prometheus text
 * format, or in OpenMetrics when the request's Accept header prefers it.
 * HTTP itself is libsoup's; this file only accepts connections (bounded
 * in number and idle time, as the control socket's) and answers. Any
 * other path is 404, any other method 405.
 */
#ifndef CLI_METRICS_HTTP_H
#define CLI_METRICS_HTTP_H

#include <glib.h>
#include <stdint.h>

#include "peko-transport.h"

#define CLI_METRICS_MAX_CLIENTS 16  /* connections at once */
#define CLI_METRICS_IDLE_TIMEOUT_S 10

typedef struct cli_metrics_server cli_metrics_server;

/* Parses a --metrics value: "PORT" (bound on 127.0.0.1), "HOST:PORT" or
 * "[V6HOST]:PORT", with a numeric host and a port from 0 (any free one)
 * to 65535. On success sets *host (newly allocated) and *port. */
gboolean cli_metrics_parse_listen(const char *text, char **host,
                                  uint16_t *port, GError **error);

/* Listens on host:port on the thread-default main context, answering for
 * `tp` (borrowed: it must outlive the server); start_wall_us is the
 * node's start, Unix time. Returns NULL with *error set when the address
 * cannot be bound. */
cli_metrics_server *cli_metrics_server_new(const char *host, uint16_t port,
                                           peko_transport *tp,
                                           int64_t start_wall_us,
                                           GError **error);

/* The address bound, "127.0.0.1:9464" or "[::1]:9464" (the port chosen
 * when 0 was asked). Borrowed from the server. */
const char *cli_metrics_server_address(const cli_metrics_server *server);

/* Closes every connection and the listening socket. NULL is a no-op. */
void cli_metrics_server_free(cli_metrics_server *server);

#endif /* CLI_METRICS_HTTP_H */
