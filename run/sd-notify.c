/* sd-notify.c: systemd's notification protocol (sd-notify.h). */
#include "sd-notify.h"

#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int run_notify(const char *state)
{
    const char *path = g_getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;
    /* A path, or an abstract socket name written with a leading '@'
     * (its first byte is then NUL, and the address is not terminated). */
    if (path[0] != '/' && path[0] != '@')
        return -EAFNOSUPPORT;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    else
        len++; /* the terminating NUL of a path */

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t sent;
    do
        sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                      (const struct sockaddr *)&sa, len);
    while (sent < 0 && errno == EINTR);
    int rc = sent < 0 ? -errno : 1;
    close(fd);
    return rc;
}

int64_t run_notify_watchdog_us(void)
{
    const char *pid = g_getenv("WATCHDOG_PID");
    if (pid) {
        guint64 p;
        if (!g_ascii_string_to_unsigned(pid, 10, 1, G_MAXINT32, &p, NULL) ||
            (pid_t)p != getpid())
            return 0;
    }
    const char *usec = g_getenv("WATCHDOG_USEC");
    guint64 us;
    if (usec == NULL ||
        !g_ascii_string_to_unsigned(usec, 10, 1, G_MAXINT64, &us, NULL))
        return 0;
    return (int64_t)us;
}
