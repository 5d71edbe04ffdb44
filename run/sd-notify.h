/* sd-notify.h: telling a service manager how the node is doing, with
 * systemd's notification protocol (sd_notify(3)).
 *
 * Written here rather than linked from libsystemd: the protocol is one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, documented as stable by systemd, and writing it costs
 * fewer lines than an optional build dependency with its two build
 * configurations. Without $NOTIFY_SOCKET (not started by systemd, or not
 * as Type=notify) every call does nothing.
 */
#ifndef RUN_SD_NOTIFY_H
#define RUN_SD_NOTIFY_H

#include <stdint.h>

/* Sends `state` ("READY=1\nSTATUS=...", newline-separated assignments)
 * to $NOTIFY_SOCKET. Returns 1 when sent, 0 when there is no
 * $NOTIFY_SOCKET, or a negative errno: -EAFNOSUPPORT for a socket that is
 * neither a path nor an abstract name ("@name"), -ENAMETOOLONG for one
 * too long for an AF_UNIX address, or the error of socket() or sendto(). */
int run_notify(const char *state);

/* The watchdog interval the service manager asks for ($WATCHDOG_USEC,
 * when $WATCHDOG_PID is unset or this process's pid), in microseconds;
 * 0 when none is asked or the variables do not parse. Send "WATCHDOG=1"
 * at least twice per interval. */
int64_t run_notify_watchdog_us(void);

#endif /* RUN_SD_NOTIFY_H */
