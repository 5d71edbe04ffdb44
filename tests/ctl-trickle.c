/* ctl-trickle.c: slow clients of a control socket (run/ctl-server.h).
 *
 *   ctl-trickle SOCKET CLIENTS INTERVAL_MS LIMIT_S
 *
 * Opens CLIENTS connections to the Unix socket SOCKET and sends each one
 * byte ("x", never a newline: a request that never ends) every
 * INTERVAL_MS, as a client that means to hold a slot would. Exits 0 once
 * the server has closed every connection, printing after how long; 1 if
 * some are still open after LIMIT_S seconds; 2 for bad arguments or a
 * connection refused at the start. For tests only. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr,
                "usage: ctl-trickle SOCKET CLIENTS INTERVAL_MS LIMIT_S\n");
        return 2;
    }
    int n = atoi(argv[2]), interval_ms = atoi(argv[3]);
    double limit = atof(argv[4]);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (n < 1 || n > MAX_CLIENTS || interval_ms < 1 || limit <= 0 ||
        strlen(argv[1]) >= sizeof sun.sun_path) {
        fprintf(stderr, "ctl-trickle: bad argument\n");
        return 2;
    }
    strcpy(sun.sun_path, argv[1]);
    int fds[MAX_CLIENTS];
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fds[i] < 0 ||
            connect(fds[i], (struct sockaddr *)&sun, sizeof sun) != 0) {
            perror("ctl-trickle: connect");
            return 2;
        }
    }
    double start = now_s();
    int open = n;
    while (open > 0 && now_s() - start < limit) {
        for (int i = 0; i < n; i++) {
            if (fds[i] < 0)
                continue;
            /* Closed by the server: reading gives end of file (or the
             * error of a reset). Anything it said before is skipped. */
            char buf[256];
            struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
            bool closed = false;
            while (poll(&pfd, 1, 0) > 0) {
                ssize_t r = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
                if (r > 0)
                    continue;
                closed = r == 0 || (errno != EAGAIN && errno != EINTR);
                break;
            }
            if (!closed &&
                send(fds[i], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
                errno != EAGAIN)
                closed = true;
            if (closed) {
                close(fds[i]);
                fds[i] = -1;
                open--;
            }
        }
        if (open > 0)
            usleep((useconds_t)interval_ms * 1000);
    }
    double took = now_s() - start;
    if (open > 0) {
        printf("%d of %d connections still open after %.1f s\n", open, n,
               took);
        return 1;
    }
    printf("all %d connections closed by the server after %.1f s\n", n, took);
    return 0;
}
