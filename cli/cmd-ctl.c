/* cmd-ctl.c: `peko ctl`, the client of a running `peko node`.
 *
 * Sends one request line to the node's control socket and prints the
 * answer for people: the node list one node per line, the metadata as
 * its raw bytes, the counters one per line (--raw prints the protocol's
 * response line as it came). docs/node.md has the protocol.
 */
#include <errno.h>
#include <gio/gio.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "ctl-proto.h"

/* A response longer than this is refused (a node of a million nodes
 * lists well under it). */
#define CTL_MAX_RESPONSE (256u << 20)

static char *control_arg;
static char *port_arg;
static char *timeout_arg;
static gboolean raw_arg;

static const GOptionEntry ctl_entries[] = {
    {"control", 'c', 0, G_OPTION_ARG_FILENAME, &control_arg,
     "The node's control socket", "PATH"},
    {"port", 'P', 0, G_OPTION_ARG_STRING, &port_arg,
     "The node's port: its default control socket", "PORT"},
    {"timeout", 't', 0, G_OPTION_ARG_STRING, &timeout_arg,
     "Seconds to wait for the answer (default 5)", "S"},
    {"raw", 0, 0, G_OPTION_ARG_NONE, &raw_arg,
     "Print the response line as the node sent it", NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void free_args(void)
{
    g_clear_pointer(&control_arg, g_free);
    g_clear_pointer(&port_arg, g_free);
    g_clear_pointer(&timeout_arg, g_free);
    raw_arg = FALSE;
}

/* Sends `request` (with its newline) and reads one line back. Returns
 * the line without its newline, or NULL with a message in *error. */
static char *exchange(const char *path, const GString *request,
                      unsigned timeout_s, GError **error)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "socket: %s", g_strerror(errno));
        return NULL;
    }
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    g_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int err = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                    "no node at %s: %s", path, g_strerror(err));
        close(fd);
        return NULL;
    }
    /* Whoever made the socket file, only a node of ours is listened to:
     * a node of another user could print any list it likes. */
    if (!run_ctl_check_peer(fd, path, error)) {
        close(fd);
        return NULL;
    }
    size_t off = 0;
    while (off < request->len) {
        ssize_t n = send(fd, request->str + off, request->len - off,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = errno;
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
                        "sending to %s: %s", path, g_strerror(err));
            close(fd);
            return NULL;
        }
        off += (size_t)n;
    }
    GString *line = g_string_new(NULL);
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : 0;
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "no answer from %s: %s", path,
                        err == EAGAIN || err == EWOULDBLOCK
                            ? "timed out"
                        : err ? g_strerror(err)
                              : "connection closed");
            g_string_free(line, TRUE);
            close(fd);
            return NULL;
        }
        char *nl = memchr(buf, '\n', (size_t)n);
        g_string_append_len(line, buf, nl ? nl - buf : n);
        if (nl)
            break;
        if (line->len > CTL_MAX_RESPONSE) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                        "answer from %s longer than %u bytes", path,
                        CTL_MAX_RESPONSE);
            g_string_free(line, TRUE);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    return g_string_free(line, FALSE);
}

/* Appends a field of the answer, unescaped from the protocol, then
 * escaped again for a terminal (cli_append_printable): names and data
 * come from the network, and must not add lines or send escape
 * sequences. `also` and `keep` as there. */
static void append_field(GString *out, const char *text, size_t n,
                         const char *also, const char *keep)
{
    size_t len;
    uint8_t *bytes = run_ctl_unescape(text, n, &len);
    if (bytes == NULL) {
        /* Not ours to judge: show it, made safe. */
        cli_append_printable(out, (const uint8_t *)text, n, also, keep);
        return;
    }
    cli_append_printable(out, bytes, len, also, keep);
    g_free(bytes);
}

/* "{addr port name data} {...}" to one "addr port name data" per line.
 * A space inside a field but the last (data) is shown as \x20, so the
 * columns stay unambiguous. A list cut short by the node ends with
 * "truncated=N": said on stderr. */
static void print_nodes(GString *out, const char *payload)
{
    const char *p = payload;
    const char *last = payload;
    while ((p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');
        if (end == NULL)
            break;
        const char *field = p + 1;
        for (int i = 0; i < 4; i++) {
            const char *stop = memchr(field, ' ', (size_t)(end - field));
            if (i == 3 || stop == NULL)
                stop = end;
            if (i)
                g_string_append_c(out, ' ');
            append_field(out, field, (size_t)(stop - field),
                         i < 3 ? " " : NULL, NULL);
            field = stop < end ? stop + 1 : end;
        }
        g_string_append_c(out, '\n');
        p = end + 1;
        last = p;
    }
    const char *cut = strstr(last, "truncated=");
    if (cut) {
        GString *n = g_string_new(NULL);
        cli_append_printable(n, (const uint8_t *)cut + 10,
                             strcspn(cut + 10, " "), NULL, NULL);
        fprintf(stderr,
                "peko ctl: the list is truncated: %s more node%s not shown"
                " (the node bounds its answer; see docs/node.md)\n",
                n->str, strcmp(n->str, "1") == 0 ? "" : "s");
        g_string_free(n, TRUE);
    }
}

/* The answer, for people, into out. */
static void print_answer(GString *out, const char *command,
                         const char *payload)
{
    if (strcmp(command, "get") == 0) {
        print_nodes(out, payload);
    } else if (strcmp(command, "read") == 0) {
        /* "COUNTER ORIGIN DATA": DATA as its bytes, to a file or a pipe;
         * on a terminal, control characters escaped (a line break and a
         * tab kept: metadata may be text). */
        const char *sp = strchr(payload, ' ');
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        if (sp) {
            if (isatty(STDOUT_FILENO)) {
                append_field(out, sp + 1, strlen(sp + 1), NULL, "\n\t");
            } else {
                size_t len;
                uint8_t *bytes =
                    run_ctl_unescape(sp + 1, strlen(sp + 1), &len);
                if (bytes)
                    g_string_append_len(out, (const char *)bytes,
                                        (gssize)len);
                g_free(bytes);
            }
        }
        g_string_append_c(out, '\n');
    } else if (strcmp(command, "stats") == 0 ||
               strcmp(command, "help") == 0) {
        char **items = g_strsplit(payload, " ", -1);
        for (char **it = items; *it; it++) {
            if (!**it)
                continue;
            char *eq = strchr(*it, '=');
            if (eq)
                *eq = ' ';
            cli_append_printable(out, (const uint8_t *)*it, strlen(*it),
                                 NULL, NULL);
            g_string_append_c(out, '\n');
        }
        g_strfreev(items);
    } else if (strcmp(command, "publish") == 0) {
        g_string_append(out, "published version ");
        cli_append_printable(out, (const uint8_t *)payload, strlen(payload),
                             NULL, NULL);
        g_string_append_c(out, '\n');
    }
}

static bool takes_argument(const char *command)
{
    return strcmp(command, "publish") == 0;
}

static bool known(const char *command)
{
    static const char *const commands[] = {"get",  "read",  "publish",
                                           "stop", "start", "stats",
                                           "help"};
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (strcmp(command, commands[i]) == 0)
            return true;
    return false;
}

int cli_cmd_ctl(int argc, char **argv)
{
    GOptionContext *context = g_option_context_new(
        "COMMAND [ARG] - talk to a running peko node");
    g_option_context_set_summary(
        context,
        "Commands:\n"
        "  get            the node list, one node per line\n"
        "                 (address, port, name, private data)\n"
        "  read           the cluster metadata, as its bytes\n"
        "  publish DATA   publish new cluster metadata\n"
        "  stop           stop sending heartbeats (pekonode's Stop)\n"
        "  start          send heartbeats again (pekonode's Start)\n"
        "  stats          engine and transport counters\n"
        "  help           the commands the node knows");
    g_option_context_set_description(
        context, "Exit status: 0 when the node did it, 1 when the node\n"
                 "refused or could not be reached, 2 for a bad command line.");
    g_option_context_add_main_entries(context, ctl_entries, NULL);
    gboolean ok = cli_parse_between(context, "ctl", &argc, &argv, 1, 2);
    g_option_context_free(context);
    if (!ok) {
        free_args();
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_USAGE;
    const char *command = argv[1];
    char *path = NULL;
    GError *error = NULL;
    uint64_t timeout_s = 5;

    if (!known(command)) {
        cli_usage_error("ctl", "unknown command '%s'", command);
        goto out;
    }
    if (takes_argument(command) != (argc == 3)) {
        cli_usage_error("ctl",
                        takes_argument(command) ? "%s needs an argument"
                                                : "%s takes no argument",
                        command);
        goto out;
    }
    if (control_arg && port_arg) {
        cli_usage_error("ctl", "give --control or --port, not both");
        goto out;
    }
    if (!control_arg && !port_arg) {
        cli_usage_error("ctl", "which node? give --control PATH or"
                               " --port PORT");
        goto out;
    }
    if (timeout_arg &&
        !cli_parse_u64("--timeout", timeout_arg, 1, 3600, &timeout_s, &error)) {
        cli_usage_error("ctl", "%s", error->message);
        goto out;
    }
    if (port_arg) {
        uint64_t port;
        if (!cli_parse_u64("--port", port_arg, 1, 65535, &port, &error)) {
            cli_usage_error("ctl", "%s", error->message);
            goto out;
        }
        path = run_ctl_default_path((unsigned)port, FALSE, &error);
        if (path == NULL) {
            fprintf(stderr, "peko ctl: %s\n", error->message);
            status = CLI_EXIT_FAILED;
            goto out;
        }
    } else {
        path = g_strdup(control_arg);
    }

    GString *request = g_string_new(command);
    if (argc == 3) {
        g_string_append_c(request, ' ');
        run_ctl_escape(request, (const uint8_t *)argv[2], strlen(argv[2]));
    }
    g_string_append_c(request, '\n');
    char *answer = exchange(path, request, (unsigned)timeout_s, &error);
    g_string_free(request, TRUE);
    if (answer == NULL) {
        fprintf(stderr, "peko ctl: %s\n", error->message);
        status = CLI_EXIT_FAILED;
        goto out;
    }
    GString *out = g_string_new(NULL);
    if (raw_arg) {
        /* A node's line is printable ASCII already, its own escapes
         * included (kept as they are); anything else is escaped all the
         * same. */
        cli_append_printable(out, (const uint8_t *)answer, strlen(answer),
                             NULL, "\\");
        g_string_append_c(out, '\n');
        fwrite(out->str, 1, out->len, stdout);
        status = g_str_has_prefix(answer, "OK") ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    } else if (strcmp(answer, "OK") == 0 || g_str_has_prefix(answer, "OK ")) {
        print_answer(out, command, answer[2] ? answer + 3 : "");
        fwrite(out->str, 1, out->len, stdout);
        status = CLI_EXIT_OK;
    } else {
        const char *why =
            g_str_has_prefix(answer, "ERR ") ? answer + 4 : answer;
        cli_append_printable(out, (const uint8_t *)why, strlen(why), NULL,
                             NULL);
        fprintf(stderr, "peko ctl: %s: %s\n", command, out->str);
        status = CLI_EXIT_FAILED;
    }
    g_string_free(out, TRUE);
    g_free(answer);
out:
    g_clear_error(&error);
    g_free(path);
    free_args();
    return status;
}
