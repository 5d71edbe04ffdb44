/* print.c: console lines in pekonode's format.
 *
 * pekonode prints, for example,
 *     2022-05-19 14:51:23 [[Join]: { 8000 A-server A}]
 * The engine writes everything after the timestamp; the environment adds
 * the timestamp, because only it may read a wall clock (DESIGN.md 1).
 */
#include <stdio.h>

#include "nodelist-private.h"

/* Metadata is shown up to this many bytes; the rest is elided. */
#define PEKO_PRINT_METADATA_MAX 64

static bool print_enabled(const peko_nodelist *nl)
{
    return nl->config.is_print && nl->env->print != NULL;
}

static void print_line(peko_nodelist *nl, GString *line)
{
    nl->env->print(nl->env, line->str);
    g_string_free(line, TRUE);
}

/* Bytes from the network are shown as text where printable, as \xNN
 * where not, so a console line can never carry control characters. */
static void append_escaped(GString *out, const uint8_t *bytes, size_t n,
                           size_t max)
{
    size_t shown = n < max ? n : max;
    for (size_t i = 0; i < shown; i++) {
        uint8_t c = bytes[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            g_string_append_c(out, (char)c);
        else
            g_string_append_printf(out, "\\x%02x", c);
    }
    if (shown < n)
        g_string_append_printf(out, "...(%zu bytes)", n);
}

/* Go's %v of pekonode's Node struct: {Addr Port Name PrivateData}. */
static void append_node(GString *out, const peko_nodelist *nl,
                        const peko__peer *peer)
{
    char host[PEKO_HOST_STRLEN];
    const peko_addr *addr = peko__peer_addr(&nl->peers, peer);
    peko_addr_host(addr, host);
    g_string_append_printf(out, "{%s %u ", host, (unsigned)addr->port);
    append_escaped(out, peko__peer_name(&nl->peers, peer),
                   peko__peer_name_len(&nl->peers, peer), UINT16_MAX);
    g_string_append_c(out, ' ');
    append_escaped(out, peko__peer_data(&nl->peers, peer),
                   peko__peer_data_len(&nl->peers, peer), UINT16_MAX);
    g_string_append_c(out, '}');
}

static void print_node_event(peko_nodelist *nl, const char *event)
{
    if (!print_enabled(nl))
        return;
    GString *line = g_string_new(NULL);
    g_string_append_printf(line, "[[%s]: ", event);
    append_node(line, nl, &nl->self);
    g_string_append_c(line, ']');
    print_line(nl, line);
}

void peko__print_join(peko_nodelist *nl)
{
    print_node_event(nl, "Join");
}

void peko__print_stop_start(peko_nodelist *nl, bool stopped)
{
    print_node_event(nl, stopped ? "Stop" : "Start");
}

void peko__print_listen(peko_nodelist *nl)
{
    if (!print_enabled(nl))
        return;
    size_t n;
    const peko__peer **sorted = peko__nodelist_sorted(nl, &n);

    GString *line = g_string_new(NULL);
    g_string_append_printf(line, "[[Listen]: %s:%u / [Node list]: [",
                           nl->listen, (unsigned)(*peko__self_addr(nl)).port);
    for (size_t i = 0; i < n; i++) {
        if (i)
            g_string_append_c(line, ' ');
        append_node(line, nl, sorted[i]);
    }
    g_string_append(line, "]]");
    g_free(sorted);
    print_line(nl, line);
}

void peko__print_publish(peko_nodelist *nl)
{
    if (!print_enabled(nl))
        return;
    GString *line = g_string_new("[[Publish]: ");
    append_node(line, nl, &nl->self);
    g_string_append(line, " / [Metadata]: ");
    append_escaped(line, nl->meta, nl->meta_len, PEKO_PRINT_METADATA_MAX);
    g_string_append_c(line, ']');
    print_line(nl, line);
}

void peko__print_swap(peko_nodelist *nl, bool request,
                      const peko_addr *requester, const peko_addr *responder)
{
    if (!print_enabled(nl))
        return;
    char a[PEKO_ADDR_STRLEN], b[PEKO_ADDR_STRLEN];
    peko_addr_format(requester, a);
    peko_addr_format(responder, b);
    GString *line = g_string_new(NULL);
    if (request)
        g_string_append_printf(line, "[[Swap Request]: %s -> %s]", a, b);
    else
        g_string_append_printf(line, "[[Swap Response]: %s <- %s]", a, b);
    print_line(nl, line);
}

void peko__print_error(peko_nodelist *nl, const char *what,
                       const peko_addr *peer)
{
    if (!print_enabled(nl))
        return;
    GString *line = g_string_new(NULL);
    g_string_append_printf(line, "[[Error]: %s", what);
    if (peer) {
        char a[PEKO_ADDR_STRLEN];
        peko_addr_format(peer, a);
        g_string_append_printf(line, " (%s)", a);
    }
    g_string_append_c(line, ']');
    print_line(nl, line);
}
