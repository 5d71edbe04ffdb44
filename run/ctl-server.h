/* ctl-server.h: the control socket of `peko node` (docs/node.md).
 *
 * A Unix stream socket on the node's main loop. Each request is one line
 * ("get", "read", "publish DATA", "stop", "start", "stats", "help"), each
 * response one line ("OK ..." or "ERR message"). Requests are bounded in
 * length, answers in size (a node list longer than RUN_CTL_MAX_ANSWER is
 * cut short, and says so), clients in number and in time: a connection
 * is closed RUN_CTL_DEADLINE_US after it was accepted, whatever it does
 * meanwhile, so that slow or idle clients cannot hold every slot (a
 * client that sends a byte now and then would defeat an idle timer). A
 * bad request gets an ERR and never disturbs the node.
 */
#ifndef RUN_CTL_SERVER_H
#define RUN_CTL_SERVER_H

#include <glib.h>

#include "peko-transport.h"

#define RUN_CTL_MAX_CLIENTS 16 /* connections at once */
/* A connection's whole life: peko ctl connects, asks and reads one
 * answer in milliseconds. */
#define RUN_CTL_DEADLINE_US (10 * G_USEC_PER_SEC)
/* The longest `get` answer, in bytes: some 50,000 nodes of ordinary
 * names; the rest is left out, and the answer ends with truncated=N. */
#define RUN_CTL_MAX_ANSWER (4u << 20)

typedef struct run_ctl_server run_ctl_server;

/* Listens at `path` (mode 0600) on `context` (NULL: the global default
 * context), answering for `tp`
 * (borrowed; it must outlive the server). A stale socket file (nobody
 * answering) is replaced; a live one is an error, as is a path that
 * cannot be bound. Requests are bounded to 4 x Size + 64 bytes (room for
 * a publish of Size bytes, escaped). Returns NULL with *error set. */
run_ctl_server *run_ctl_server_new(const char *path, GMainContext *context,
                                   peko_transport *tp, GError **error);

/* Closes every connection and the socket, and removes the socket file.
 * NULL is a no-op. */
void run_ctl_server_free(run_ctl_server *server);

/* One request line (without its newline) to its response line (without
 * a newline), appended to `out`; a `get` answer is cut short at about
 * max_answer bytes: its last field is then "truncated=N", the nodes left
 * out. The server's core, exposed for tests. */
void run_ctl_handle(peko_transport *tp, const char *line, size_t n_line,
                    size_t max_answer, GString *out);

#endif /* RUN_CTL_SERVER_H */
