/* ctl-proto.h: what `peko node` and `peko ctl` share about the control
 * socket (docs/node.md): where it lives and how bytes travel in a line.
 *
 * The protocol is one request line and one response line per exchange,
 * over a Unix stream socket. A response is "OK" or "OK <payload>", or
 * "ERR <message>". Bytes that could break a line or a field (controls,
 * space, backslash, braces, non-ASCII) travel as \xNN.
 */
#ifndef RUN_CTL_PROTO_H
#define RUN_CTL_PROTO_H

#include <glib.h>
#include <stdint.h>

/* The default control socket of the node on `port`:
 * $XDG_RUNTIME_DIR/peko-<port>.sock, or /tmp/peko-<uid>-<port>.sock
 * without XDG_RUNTIME_DIR. Newly allocated (g_free). */
char *run_ctl_default_path(unsigned port);

/* Appends bytes escaped: printable ASCII other than space, backslash and
 * braces as is, everything else as \xNN. */
void run_ctl_escape(GString *out, const uint8_t *bytes, size_t n);

/* Decodes an escaped field. Returns a new byte array (its length in
 * *n_out; NUL-terminated for convenience), or NULL for a backslash not
 * followed by xNN. */
uint8_t *run_ctl_unescape(const char *text, size_t n_text, size_t *n_out);

#endif /* RUN_CTL_PROTO_H */
