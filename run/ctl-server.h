/* ctl-server.h: the control socket of `peko node` (docs/node.md).
 *
 * A Unix stream socket on the node's main loop. Each request is one line
 * ("get", "read", "publish DATA", "stop", "start", "stats", "help"), each
 * response one line ("OK ..." or "ERR message"). Requests are bounded in
 * length, clients in number and in idle time; a bad request gets an ERR
 * and never disturbs the node.
 */
#ifndef PEKO_CTL_SERVER_H
#define PEKO_CTL_SERVER_H

#include <glib.h>

#include "peko-transport.h"

#define PEKO_CTL_MAX_CLIENTS 16            /* connections at once */
#define PEKO_CTL_IDLE_TIMEOUT_US (10 * G_USEC_PER_SEC)

typedef struct peko_ctl_server peko_ctl_server;

/* Listens at `path` (mode 0600) on `context` (NULL: the global default
 * context), answering for `tp`
 * (borrowed; it must outlive the server). A stale socket file (nobody
 * answering) is replaced; a live one is an error, as is a path that
 * cannot be bound. Requests are bounded to 4 x Size + 64 bytes (room for
 * a publish of Size bytes, escaped). Returns NULL with *error set. */
peko_ctl_server *peko_ctl_server_new(const char *path, GMainContext *context,
                                     peko_transport *tp, GError **error);

/* Closes every connection and the socket, and removes the socket file.
 * NULL is a no-op. */
void peko_ctl_server_free(peko_ctl_server *server);

/* One request line (without its newline) to its response line (without
 * a newline), appended to `out`. The server's core, exposed for tests. */
void peko_ctl_handle(peko_transport *tp, const char *line, size_t n_line,
                     GString *out);

#endif /* PEKO_CTL_SERVER_H */
