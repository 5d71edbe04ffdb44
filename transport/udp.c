/* udp.c: one UDP socket per node.
 *
 * Receiving: on each wakeup, read datagrams until the socket is empty or
 * reads_per_wakeup have been read, whichever comes first. The poll is
 * level-triggered, so what is left is read on the next iteration of the
 * loop, after every other ready source has had its turn: a flooded node
 * neither starves its neighbours on the same loop nor is starved by
 * them. Each datagram costs one recvmsg and one call into the engine,
 * O(1) beyond the engine's own decoding. A datagram longer than Size is
 * dropped here (MSG_TRUNC) and counted as oversize; everything else goes
 * to the engine, which rejects and counts what is malformed. With
 * SO_RXQ_OVFL the kernel reports, with each datagram, how many it has
 * dropped at this socket's full receive buffer: that is kernel_dropped.
 *
 * Sending: one non-blocking sendto per message. A full send buffer
 * (EAGAIN) drops the message, as a congested network would, and counts
 * it in send_errors; so do unreachable destinations.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport-private.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

/* Datagrams that arrive with a read error (ICMP port unreachable for an
 * earlier send shows up as ECONNREFUSED on Linux) are not input errors. */
static bool is_send_side_error(int err)
{
    return err == ECONNREFUSED || err == EHOSTUNREACH ||
           err == ENETUNREACH || err == EHOSTDOWN;
}

static void udp_readable(void *user, GIOCondition revents)
{
    tp_transport *tp = user;
    int fd = g_socket_get_fd(tp->udp);
    size_t cap = (size_t)tp->config.size;
    int reads = 0;

    while (reads < tp->reads_per_wakeup) {
        struct sockaddr_storage from_ss;
        struct iovec iov = {.iov_base = tp->rx, .iov_len = cap};
        union {
            char buf[CMSG_SPACE(sizeof(uint32_t))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {
            .msg_name = &from_ss,
            .msg_namelen = sizeof from_ss,
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = control.buf,
            .msg_controllen = sizeof control.buf,
        };
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* empty: wait for the next wakeup */
            if (is_send_side_error(errno)) {
                reads++;
                continue;
            }
            tp->counters.read_errors++;
            reads++;
            continue;
        }
        reads++;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
             c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                uint32_t dropped;
                memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
                /* The kernel's counter is 32 bits and counts since the
                 * socket was made; keep the largest seen. */
                if (dropped > tp->counters.kernel_dropped)
                    tp->counters.kernel_dropped = dropped;
            }
        }
        if (msg.msg_flags & MSG_TRUNC) {
            tp->counters.oversize++;
            continue;
        }
        peko_addr from;
        if (!tp_addr_from_sockaddr((struct sockaddr *)&from_ss,
                                   msg.msg_namelen, &from)) {
            tp->counters.read_errors++;
            continue;
        }
        tp->counters.received++;
        tp->counters.received_bytes += (uint64_t)n;
        peko_nodelist_on_packet(tp->nl, &from, tp->rx, (size_t)n);
    }
    tp->counters.busy_wakeups++;
}

bool tp_udp_open(tp_transport *tp, GError **error)
{
    tp->udp = tp_socket_bind(tp, G_SOCKET_TYPE_DATAGRAM, FALSE, error);
    if (tp->udp == NULL)
        return false;
    int fd = g_socket_get_fd(tp->udp);

    /* pekonode's Buffer: how much the node can take in while busy. Ask
     * for Buffer packets of Size bytes, never less than the system's
     * default; the kernel caps the request at net.core.rmem_max. */
    int current = 0;
    socklen_t len = sizeof current;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &current, &len) == 0 &&
        tp->rcvbuf_bytes > current / 2)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tp->rcvbuf_bytes,
                   sizeof tp->rcvbuf_bytes);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);

    tp->rx = g_malloc((size_t)tp->config.size);
    tp->udp_watch = tp_watch_new(tp->poller, fd, G_IO_IN, udp_readable, tp);
    if (tp->udp_watch == NULL) {
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_SOCKET, "cannot watch the socket");
        return false;
    }
    return true;
}

void tp_udp_close(tp_transport *tp)
{
    tp_watch_free(tp->udp_watch);
    tp->udp_watch = NULL;
    if (tp->udp) {
        g_socket_close(tp->udp, NULL);
        g_object_unref(tp->udp);
        tp->udp = NULL;
    }
    g_clear_pointer(&tp->rx, g_free);
}

int tp_udp_send(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes)
{
    struct sockaddr_storage ss;
    socklen_t len = tp_addr_to_sockaddr(to, tp->family, &ss);
    if (len == 0) {
        tp->counters.send_errors++;
        return -EAFNOSUPPORT;
    }
    ssize_t n;
    do
        n = sendto(g_socket_get_fd(tp->udp), bytes, n_bytes, MSG_DONTWAIT,
                   (struct sockaddr *)&ss, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int err = errno;
        tp->counters.send_errors++;
        return -err;
    }
    tp->counters.sent++;
    tp->counters.sent_bytes += (uint64_t)n;
    return 0;
}
