/* ctl-proto.c: the control socket's path and escaping (ctl-proto.h). */
#define _GNU_SOURCE /* struct ucred */
#include "ctl-proto.h"

#include <errno.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks the directory at `dir` as run_ctl_default_dir() says; `private`
 * asks for no access by others at all. */
static gboolean check_dir(const char *dir, gboolean private, const char *hint,
                          GError **error)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                    "control socket directory %s: %s", dir, g_strerror(e));
        return FALSE;
    }
    const char *wrong = NULL;
    char *owner = NULL;
    if (S_ISLNK(st.st_mode))
        wrong = "is a symbolic link";
    else if (!S_ISDIR(st.st_mode))
        wrong = "is not a directory";
    else if (st.st_uid != getuid())
        wrong = owner = g_strdup_printf("belongs to uid %u, not to you (uid"
                                        " %u)",
                                        (unsigned)st.st_uid,
                                        (unsigned)getuid());
    else if (st.st_mode & (private ? 077 : 022))
        wrong = owner = g_strdup_printf("has mode %04o: others may %s it",
                                        (unsigned)(st.st_mode & 07777),
                                        st.st_mode & 022 ? "write in"
                                                         : "read");
    if (wrong) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "control socket directory %s %s: refusing to use it%s",
                    dir, wrong, hint);
        g_free(owner);
        return FALSE;
    }
    return TRUE;
}

char *run_ctl_default_dir(gboolean create, GError **error)
{
    static const char hint[] =
        " (another user may have made it to stand in for peko's control"
        " sockets; remove it if it is yours, or give --control PATH in a"
        " directory of your own, or set XDG_RUNTIME_DIR)";
    const char *runtime = g_getenv("XDG_RUNTIME_DIR");
    if (runtime && *runtime) {
        if (!check_dir(runtime, FALSE, " (XDG_RUNTIME_DIR)", error))
            return NULL;
        return g_strdup(runtime);
    }
    char *name = g_strdup_printf("peko-%u", (unsigned)getuid());
    char *dir = g_build_filename(g_get_tmp_dir(), name, NULL);
    g_free(name);
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                    "control socket directory %s: %s", dir, g_strerror(e));
        g_free(dir);
        return NULL;
    }
    if (!check_dir(dir, TRUE, hint, error)) {
        g_free(dir);
        return NULL;
    }
    return dir;
}

char *run_ctl_default_path(unsigned port, gboolean create, GError **error)
{
    char *dir = run_ctl_default_dir(create, error);
    if (dir == NULL)
        return NULL;
    char *name = g_strdup_printf("peko-%u.sock", port);
    char *path = g_build_filename(dir, name, NULL);
    g_free(name);
    g_free(dir);
    return path;
}

/* True if `path`'s directory belongs to `uid` and nobody else may write
 * in it: then only `uid` (or root) could have made the socket there, as
 * systemd's RuntimeDirectory= gives a service of its own user. */
static gboolean owns_private_dir(uid_t uid, const char *path)
{
    char *dir = g_path_get_dirname(path);
    struct stat st;
    gboolean owns = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
                    st.st_uid == uid && (st.st_mode & 022) == 0;
    g_free(dir);
    return owns;
}

gboolean run_ctl_check_peer(int fd, const char *path, GError **error)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
                    "%s: cannot tell who serves it: %s", path, g_strerror(e));
        return FALSE;
    }
    if (cred.uid != getuid() && !owns_private_dir(cred.uid, path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "%s is served by uid %u (pid %d), not by you (uid %u):"
                    " refusing its answer",
                    path, (unsigned)cred.uid, (int)cred.pid,
                    (unsigned)getuid());
        return FALSE;
    }
    return TRUE;
}

void run_ctl_escape(GString *out, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = bytes[i];
        if (c > 0x20 && c < 0x7f && c != '\\' && c != '{' && c != '}')
            g_string_append_c(out, (char)c);
        else
            run_ctl_append_hex(out, c);
    }
}

void run_ctl_append_hex(GString *out, uint8_t c)
{
    /* By hand, not by printf: a bounded get escapes up to 4 MiB, and a
     * printf a byte (a formatted, allocated string each) took seconds of
     * a node's loop under a sanitizer on a busy machine, past the
     * connection's deadline. */
    static const char hex[] = "0123456789abcdef";
    char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
    g_string_append_len(out, esc, 4);
}

uint8_t *run_ctl_unescape(const char *text, size_t n_text, size_t *n_out)
{
    uint8_t *out = g_malloc(n_text + 1);
    size_t n = 0;
    for (size_t i = 0; i < n_text; i++) {
        if (text[i] != '\\') {
            out[n++] = (uint8_t)text[i];
            continue;
        }
        /* A backslash needs "xNN" after it. */
        if (n_text - i < 4 || text[i + 1] != 'x' ||
            !g_ascii_isxdigit(text[i + 2]) || !g_ascii_isxdigit(text[i + 3])) {
            g_free(out);
            return NULL;
        }
        out[n++] = (uint8_t)(g_ascii_xdigit_value(text[i + 2]) << 4 |
                             g_ascii_xdigit_value(text[i + 3]));
        i += 3;
    }
    out[n] = 0;
    *n_out = n;
    return out;
}
