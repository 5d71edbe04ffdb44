/* ctl-server.c: the control socket of `peko node` (ctl-server.h). */
#include "ctl-server.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-proto.h"
#include "node-metrics.h"

typedef struct ctl_client ctl_client;

struct run_ctl_server {
    char *path;
    GMainContext *context;
    peko_transport *tp;
    GSocket *listener;
    GSource *listen_source;
    GQueue clients;          /* of ctl_client* */
    size_t max_request;
    size_t max_answer;       /* of a get, in bytes */
    int64_t deadline_us;     /* a connection's life */
};

struct ctl_client {
    run_ctl_server *server;
    GSocket *socket;
    GSource *source;
    GIOCondition events;     /* what source watches */
    GList *link;
    GString *in;             /* bytes of the request being read */
    GString *out;            /* response not yet written */
    size_t out_off;
    bool skipping;           /* discarding the rest of an overlong line */
    GSource *deadline;       /* closes the connection when it fires */
};

/* ------------------------------------------------------------------ */
/* Requests.                                                            */

/* The counters and gauges: the same table as the metrics endpoint's
 * (node-metrics.h), so the two never disagree. */
static void append_stats(GString *out, peko_transport *tp)
{
    GArray *samples = g_array_new(FALSE, FALSE, sizeof(run_metric_sample));
    run_metrics_collect(tp, NULL, samples);
    run_metrics_format_ctl(samples, out);
    g_array_free(samples, TRUE);
}

static void append_node(GString *out, const peko_node *node)
{
    g_string_append_c(out, '{');
    run_ctl_escape(out, (const uint8_t *)node->addr, strlen(node->addr));
    g_string_append_printf(out, " %u ", (unsigned)node->port);
    run_ctl_escape(out, (const uint8_t *)node->name, strlen(node->name));
    g_string_append_c(out, ' ');
    run_ctl_escape(out, (const uint8_t *)node->private_data,
                   strlen(node->private_data));
    g_string_append_c(out, '}');
}

void run_ctl_handle(peko_transport *tp, const char *line, size_t n_line,
                    size_t max_answer, GString *out)
{
    peko_nodelist *nl = peko_transport_nodelist(tp);
    const char *space = memchr(line, ' ', n_line);
    size_t n_cmd = space ? (size_t)(space - line) : n_line;
    const char *arg = space ? space + 1 : NULL;
    size_t n_arg = space ? n_line - n_cmd - 1 : 0;

#define IS(name) (n_cmd == strlen(name) && memcmp(line, name, n_cmd) == 0)
    if (IS("publish")) {
        if (arg == NULL) {
            g_string_append(out, "ERR usage: publish DATA");
            return;
        }
        size_t n;
        uint8_t *data = run_ctl_unescape(arg, n_arg, &n);
        if (data == NULL) {
            g_string_append(out, "ERR bad escape in DATA (\\xNN expected)");
            return;
        }
        int rc = peko_nodelist_publish(nl, data, n);
        g_free(data);
        if (rc < 0) {
            g_string_append_printf(out, "ERR publish: %s",
                                   rc == -EMSGSIZE
                                       ? "the metadata does not fit Size"
                                       : g_strerror(-rc));
            return;
        }
        peko_version v;
        peko_nodelist_metadata_version(nl, &v);
        g_string_append_printf(out, "OK %" G_GUINT64_FORMAT, v.counter);
        return;
    }
    if (arg != NULL) {
        g_string_append(out, "ERR ");
        if (IS("get") || IS("read") || IS("stop") || IS("start") ||
            IS("stats") || IS("help")) {
            g_string_append_len(out, line, (gssize)n_cmd);
            g_string_append(out, " takes no argument");
        } else {
            g_string_append(out, "unknown command (try help)");
        }
        return;
    }
    if (IS("get")) {
        peko_node_array list;
        peko_nodelist_get(nl, &list);
        g_string_append(out, "OK");
        size_t start = out->len;
        for (size_t i = 0; i < list.count; i++) {
            size_t before = out->len;
            g_string_append_c(out, ' ');
            append_node(out, &list.nodes[i]);
            if (out->len - start > max_answer) {
                /* Bounded: injected nodes with long names and data must
                 * not make every answer megabytes long. */
                g_string_truncate(out, before);
                g_string_append_printf(out, " truncated=%zu",
                                       list.count - i);
                break;
            }
        }
        peko_node_array_clear(&list);
    } else if (IS("read")) {
        size_t n;
        const uint8_t *data = peko_nodelist_read(nl, &n);
        peko_version v;
        peko_nodelist_metadata_version(nl, &v);
        g_string_append_printf(out, "OK %" G_GUINT64_FORMAT " ", v.counter);
        if (v.counter == 0) {
            g_string_append(out, "- ");
        } else {
            char origin[PEKO_ADDR_STRLEN];
            peko_addr_format(&v.origin, origin);
            g_string_append_printf(out, "%s ", origin);
        }
        run_ctl_escape(out, data, data ? n : 0);
    } else if (IS("stop")) {
        peko_nodelist_stop(nl);
        g_string_append(out, "OK");
    } else if (IS("start")) {
        peko_nodelist_start(nl);
        g_string_append(out, "OK");
    } else if (IS("stats")) {
        g_string_append(out, "OK");
        append_stats(out, tp);
    } else if (IS("help")) {
        g_string_append(out, "OK get read publish start stop stats help");
    } else if (n_cmd == 0) {
        g_string_append(out, "ERR empty request (try help)");
    } else {
        g_string_append(out, "ERR unknown command (try help)");
    }
#undef IS
}

/* ------------------------------------------------------------------ */
/* Connections.                                                         */

static void client_free(ctl_client *c)
{
    g_queue_delete_link(&c->server->clients, c->link);
    g_source_destroy(c->source);
    g_source_unref(c->source);
    g_source_destroy(c->deadline);
    g_source_unref(c->deadline);
    g_socket_close(c->socket, NULL);
    g_object_unref(c->socket);
    g_string_free(c->in, TRUE);
    g_string_free(c->out, TRUE);
    g_free(c);
}

static gboolean client_cb(GSocket *socket, GIOCondition cond,
                          gpointer user);

static void client_watch(ctl_client *c, GIOCondition events)
{
    if (c->source && c->events == events)
        return;
    c->events = events;
    if (c->source) {
        g_source_destroy(c->source);
        g_source_unref(c->source);
    }
    c->source = g_socket_create_source(c->socket, events, NULL);
    g_source_set_callback(c->source, (GSourceFunc)(void (*)(void))client_cb,
                          c, NULL);
    g_source_attach(c->source, c->server->context);
}

/* Writes what it can of the pending response. Returns false when the
 * client is gone (freed); *blocked is set when the socket is full. */
static bool client_write(ctl_client *c, bool *blocked)
{
    *blocked = false;
    while (c->out_off < c->out->len) {
        GError *error = NULL;
        gssize n = g_socket_send_with_blocking(
            c->socket, c->out->str + c->out_off, c->out->len - c->out_off,
            FALSE, NULL, &error);
        if (n < 0) {
            bool again = g_error_matches(error, G_IO_ERROR,
                                         G_IO_ERROR_WOULD_BLOCK);
            g_error_free(error);
            if (again) {
                *blocked = true;
                return true;
            }
            client_free(c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    g_string_truncate(c->out, 0);
    c->out_off = 0;
    return true;
}

/* Answers the next complete request line in c->in, if there is one:
 * one at a time, so a client that sends many requests without reading
 * the answers holds at most one answer in memory. */
static bool client_next_request(ctl_client *c)
{
    run_ctl_server *s = c->server;
    char *nl;
    if (c->skipping) {
        nl = memchr(c->in->str, '\n', c->in->len);
        if (nl == NULL) {
            g_string_truncate(c->in, 0);
            return false;
        }
        g_string_erase(c->in, 0, nl - c->in->str + 1);
        c->skipping = false;
    }
    nl = memchr(c->in->str, '\n', c->in->len);
    if (nl != NULL) {
        size_t n = (size_t)(nl - c->in->str);
        size_t line = n;
        if (line > 0 && c->in->str[line - 1] == '\r')
            line--;
        run_ctl_handle(s->tp, c->in->str, line, s->max_answer, c->out);
        g_string_append_c(c->out, '\n');
        g_string_erase(c->in, 0, (gssize)n + 1);
        return true;
    }
    if (c->in->len > s->max_request) {
        /* Answer at once, then drop the rest of the line as it comes:
         * memory stays bounded and the client still reads its answer. */
        g_string_append_printf(c->out,
                               "ERR request longer than %zu bytes\n",
                               s->max_request);
        g_string_truncate(c->in, 0);
        c->skipping = true;
        return true;
    }
    return false;
}

/* Writes answers and answers requests until it has to wait: for the
 * socket to take more output, or for more input. */
static void client_pump(ctl_client *c)
{
    for (;;) {
        bool blocked;
        if (!client_write(c, &blocked))
            return;
        if (blocked) {
            client_watch(c, G_IO_OUT | G_IO_ERR | G_IO_HUP);
            return;
        }
        if (!client_next_request(c))
            break;
    }
    client_watch(c, G_IO_IN | G_IO_ERR | G_IO_HUP);
}

static gboolean client_cb(GSocket *socket, GIOCondition cond, gpointer user)
{
    ctl_client *c = user;
    if (c->out->len > 0) {
        client_pump(c);
        return G_SOURCE_CONTINUE; /* the source was replaced or freed */
    }
    char buf[4096];
    GError *error = NULL;
    gssize n = g_socket_receive_with_blocking(socket, buf, sizeof buf, FALSE,
                                              NULL, &error);
    if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_error_free(error);
        return G_SOURCE_CONTINUE;
    }
    g_clear_error(&error);
    if (n <= 0) {
        client_free(c);
        return G_SOURCE_CONTINUE;
    }
    g_string_append_len(c->in, buf, n);
    client_pump(c);
    return G_SOURCE_CONTINUE;
}

static gboolean deadline_cb(gpointer user)
{
    ctl_client *c = user;
    /* client_free() destroys this very source: keep it alive until we
     * return. */
    GSource *self = g_source_ref(c->deadline);
    client_free(c);
    g_source_unref(self);
    return G_SOURCE_REMOVE;
}

static gboolean listener_cb(GSocket *socket, GIOCondition cond,
                            gpointer user)
{
    run_ctl_server *s = user;
    for (int i = 0; i < RUN_CTL_MAX_CLIENTS; i++) {
        GSocket *client = g_socket_accept(socket, NULL, NULL);
        if (client == NULL)
            break;
        g_socket_set_blocking(client, FALSE);
        if (s->clients.length >= RUN_CTL_MAX_CLIENTS) {
            static const char busy[] = "ERR too many control connections\n";
            g_socket_send(client, busy, sizeof busy - 1, NULL, NULL);
            g_socket_close(client, NULL);
            g_object_unref(client);
            continue;
        }
        ctl_client *c = g_new0(ctl_client, 1);
        c->server = s;
        c->socket = client;
        c->in = g_string_new(NULL);
        c->out = g_string_new(NULL);
        g_queue_push_tail(&s->clients, c);
        c->link = s->clients.tail;
        /* The whole connection's deadline, set once: reading, answering
         * and waiting all count, so no pace of bytes keeps it open. */
        c->deadline = g_timeout_source_new(
            (guint)MAX(s->deadline_us / 1000, 1));
        g_source_set_callback(c->deadline, deadline_cb, c, NULL);
        g_source_attach(c->deadline, s->context);
        client_watch(c, G_IO_IN | G_IO_ERR | G_IO_HUP);
    }
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* The socket.                                                          */

/* True if something answers at path (a live node). */
static bool socket_is_live(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    g_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    bool live = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
    close(fd);
    return live;
}

run_ctl_server *run_ctl_server_new(const char *path, GMainContext *context,
                                   peko_transport *tp, GError **error)
{
    struct sockaddr_un probe;
    if (strlen(path) >= sizeof probe.sun_path) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "control socket path too long (at most %zu bytes): %s",
                    sizeof probe.sun_path - 1, path);
        return NULL;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                        "%s exists and is not a socket", path);
            return NULL;
        }
        if (socket_is_live(path)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                        "another node answers on the control socket %s",
                        path);
            return NULL;
        }
        unlink(path); /* stale: its node is gone */
    }

    GSocket *listener = g_socket_new(G_SOCKET_FAMILY_UNIX,
                                     G_SOCKET_TYPE_STREAM,
                                     G_SOCKET_PROTOCOL_DEFAULT, error);
    if (listener == NULL)
        return NULL;
    GSocketAddress *addr = g_unix_socket_address_new(path);
    /* Only this user may talk to the node: the socket is created 0600. */
    mode_t old = umask(0177);
    gboolean ok = g_socket_bind(listener, addr, FALSE, error);
    umask(old);
    g_object_unref(addr);
    if (ok)
        ok = g_socket_listen(listener, error);
    if (!ok) {
        g_prefix_error(error, "control socket %s: ", path);
        g_object_unref(listener);
        return NULL;
    }
    g_socket_set_blocking(listener, FALSE);

    run_ctl_server *s = g_new0(run_ctl_server, 1);
    s->path = g_strdup(path);
    if (context == NULL)
        context = g_main_context_default();
    s->context = g_main_context_ref(context);
    s->tp = tp;
    s->listener = listener;
    peko_config config;
    peko_nodelist_config(peko_transport_nodelist(tp), &config);
    s->max_request = 4 * (size_t)config.size + 64;
    s->max_answer = RUN_CTL_MAX_ANSWER;
    s->deadline_us = RUN_CTL_DEADLINE_US;
    g_queue_init(&s->clients);
    s->listen_source = g_socket_create_source(listener, G_IO_IN, NULL);
    g_source_set_callback(s->listen_source,
                          (GSourceFunc)(void (*)(void))listener_cb, s, NULL);
    g_source_attach(s->listen_source, context);
    return s;
}


void run_ctl_server_free(run_ctl_server *s)
{
    if (s == NULL)
        return;
    while (s->clients.head)
        client_free(s->clients.head->data);
    g_source_destroy(s->listen_source);
    g_source_unref(s->listen_source);
    g_socket_close(s->listener, NULL);
    g_object_unref(s->listener);
    unlink(s->path);
    g_main_context_unref(s->context);
    g_free(s->path);
    g_free(s);
}
