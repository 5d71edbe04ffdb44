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

/* The directory of default control sockets: $XDG_RUNTIME_DIR, or
 * without it peko-<uid> in the temporary directory ($TMPDIR, else /tmp),
 * made 0700 first when `create` (the node's side; peko ctl only looks).
 * Before it is used it is checked with lstat(): a directory, not a
 * symlink, owned by this user and writable by nobody else (peko-<uid>:
 * no access at all for others). Anyone can create a name in /tmp first:
 * a directory taken so is refused, never used, so another user can
 * neither stand in for a node nor read its answers. Returns the path
 * (g_free), or NULL with *error saying what is wrong and what to do. */
char *run_ctl_default_dir(gboolean create, GError **error);

/* The default control socket of the node on `port`: peko-<port>.sock in
 * run_ctl_default_dir(create). NULL with *error as there. */
char *run_ctl_default_path(unsigned port, gboolean create, GError **error);

/* Checks that whoever serves the connected Unix socket `fd` runs as this
 * user (SO_PEERCRED), or as the user whose directory, writable by no one
 * else, holds the socket (a service's RuntimeDirectory= read by root),
 * before its answer is trusted. `path` names the
 * socket in the message. Returns TRUE, or FALSE with *error set. */
gboolean run_ctl_check_peer(int fd, const char *path, GError **error);

/* Appends bytes escaped: printable ASCII other than space, backslash and
 * braces as is, everything else as \xNN. */
void run_ctl_escape(GString *out, const uint8_t *bytes, size_t n);

/* Appends one byte as \xNN (lower-case hex): the escape of
 * run_ctl_escape() and of what peko ctl shows on a terminal. */
void run_ctl_append_hex(GString *out, uint8_t c);

/* Decodes an escaped field. Returns a new byte array (its length in
 * *n_out; NUL-terminated for convenience), or NULL for a backslash not
 * followed by xNN. */
uint8_t *run_ctl_unescape(const char *text, size_t n_text, size_t *n_out);

#endif /* RUN_CTL_PROTO_H */
