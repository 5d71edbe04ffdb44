/* tcp.c: TCP with framing, a connection pool and bounds everywhere.
 *
 * Framing: each message is a 4-byte big-endian length followed by that
 * many bytes (the packet, docs/wire.md). A length above Size closes the
 * connection and counts as oversize: nothing that long is ever valid.
 *
 * Outgoing connections are reused. pekonode opens a connection per
 * message; here a node keeps one connection per destination, at most
 * tcp_pool of them: beyond that the least recently used idle one is
 * closed (pool_make_room), and any left unused for tcp_idle_timeout is
 * closed too. Messages queue in a bounded send buffer per connection
 * (tcp_send_buffer bytes); one that does not fit is dropped and counted,
 * as UDP drops at a full socket. Nothing is expected back on an outgoing
 * connection (a peer answers on its own connection to our listen
 * address), so its input is only watched for the peer closing it, which
 * removes it from the pool at once.
 *
 * Accepted connections are bounded too (tcp_max_accepted: more are
 * closed on accept and counted). Each reads into a buffer that grows to
 * at most Size + 4 bytes and hands complete frames to the engine, at most
 * reads_per_wakeup per wakeup; what is left is handled on the next
 * iteration. A peer that connects and sends nothing, or stalls in the
 * middle of a frame, is closed when its frame has not completed
 * tcp_read_timeout after it began (after the accept, for the first), and
 * counted in tcp_timeouts; a byte now and then does not extend that
 * deadline. One silent between frames for twice the idle timeout is
 * closed quietly (tcp_idle_closed).
 *
 * The engine sees each frame with `from` set to the connection's remote
 * address (an ephemeral port): the packet itself names its sender's
 * listen address.
 *
 * Timeouts are checked by one sweep timer per node, armed only while it
 * has connections, every quarter of the shorter timeout.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport-private.h"

struct tp_conn {
    tp_transport *tp;
    int fd;
    tp_watch *watch;
    bool outgoing;
    bool connecting;
    peko_addr peer;        /* outgoing: destination; accepted: remote */
    GList *link;           /* in tp->out_lru or tp->in_conns */
    int64_t opened_us;
    int64_t last_active_us; /* last frame in, or last message queued */

    /* Accepted: input. */
    uint8_t *in;           /* grows on demand up to Size + 4 bytes */
    size_t in_len, in_cap;
    int64_t frame_start_us; /* the current frame's first byte (the accept
                             * for the first); 0 between frames */

    /* Outgoing: queued frames. */
    uint8_t *out;          /* grows on demand up to tcp_send_buffer */
    size_t out_off, out_len; /* unsent bytes are out[out_off, out_len) */
    size_t out_cap;
    size_t *ends;          /* end offsets of queued frames, ascending */
    size_t ends_head, ends_len; /* live entries ends[head, len) */
    size_t ends_cap;
    int64_t stalled_since_us; /* bytes queued and none written since */
};

/* ------------------------------------------------------------------ */
/* Closing.                                                             */

static void sweep_arm(tp_transport *tp);

/* Messages queued but not fully written: dropped with the connection. */
static size_t frames_pending(const tp_conn *c)
{
    size_t n = 0;
    for (size_t i = c->ends_head; i < c->ends_len; i++)
        if (c->ends[i] > c->out_off)
            n++;
    return n;
}

static void conn_free(tp_conn *c)
{
    tp_transport *tp = c->tp;
    if (c->outgoing) {
        tp->counters.tcp_send_dropped += frames_pending(c);
        g_hash_table_remove(tp->out_by_addr, &c->peer);
        g_queue_delete_link(&tp->out_lru, c->link);
    } else {
        g_queue_delete_link(&tp->in_conns, c->link);
    }
    tp_watch_free(c->watch);
    close(c->fd);
    g_free(c->in);
    g_free(c->out);
    g_free(c->ends);
    g_free(c);
}

/* ------------------------------------------------------------------ */
/* Accepted connections: reading frames.                                */

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Hands complete frames in c->in to the engine, at most `budget`.
 * Returns the number delivered, or -1 if the connection was closed (an
 * oversize length). */
static int deliver_frames(tp_conn *c, int budget)
{
    tp_transport *tp = c->tp;
    size_t off = 0;
    int delivered = 0;
    while (delivered < budget && c->in_len - off >= TP_FRAME_HEADER_BYTES) {
        uint32_t len = get_be32(c->in + off);
        if (len > (uint32_t)tp->config.size) {
            tp->counters.oversize++;
            conn_free(c);
            return -1;
        }
        if (c->in_len - off < TP_FRAME_HEADER_BYTES + (size_t)len)
            break;
        tp->counters.received++;
        tp->counters.received_bytes += len;
        /* The engine may send (never close accepted connections), so c
         * stays valid across the call. */
        peko_nodelist_on_packet(tp->nl, &c->peer,
                                c->in + off + TP_FRAME_HEADER_BYTES, len);
        off += TP_FRAME_HEADER_BYTES + len;
        delivered++;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        int64_t now = g_get_monotonic_time();
        c->last_active_us = now;
        /* A partial frame left over began (at the latest) now. */
        c->frame_start_us = c->in_len > 0 ? now : 0;
    }
    return delivered;
}

static bool has_complete_frame(const tp_conn *c)
{
    if (c->in_len < TP_FRAME_HEADER_BYTES)
        return false;
    uint32_t len = get_be32(c->in);
    return len > (uint32_t)c->tp->config.size ||
           c->in_len >= TP_FRAME_HEADER_BYTES + (size_t)len;
}

/* Room for the next read: at least the frame being read, doubling from
 * TP_INITIAL_BUFFER, never beyond Size + 4. Returns the free bytes. */
static size_t in_reserve(tp_conn *c)
{
    size_t cap = (size_t)c->tp->config.size + TP_FRAME_HEADER_BYTES;
    size_t want = c->in_cap ? c->in_cap : MIN(cap, TP_INITIAL_BUFFER);
    if (c->in_len == c->in_cap && c->in_cap > 0)
        want = c->in_cap * 2;
    if (c->in_len >= TP_FRAME_HEADER_BYTES)
        want = MAX(want, TP_FRAME_HEADER_BYTES + (size_t)get_be32(c->in));
    want = MIN(want, cap);
    if (want > c->in_cap) {
        c->in = g_realloc(c->in, want);
        c->in_cap = want;
    }
    return c->in_cap - c->in_len;
}

static void in_readable(void *user, GIOCondition revents)
{
    tp_conn *c = user;
    tp_transport *tp = c->tp;
    int budget = tp->reads_per_wakeup;
    int reads = 0;
    for (;;) {
        int n = deliver_frames(c, budget);
        if (n < 0)
            return;
        budget -= n;
        if (budget <= 0 || reads >= tp->reads_per_wakeup) {
            /* Bound reached: finish on the next wakeup, after the other
             * ready sockets and sources. */
            tp->counters.busy_wakeups++;
            if (has_complete_frame(c))
                tp_watch_wake(c->watch);
            return;
        }
        size_t room = in_reserve(c);
        if (room == 0)
            return; /* cannot happen: a full buffer holds a whole frame */
        ssize_t got = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
        reads++;
        if (got > 0) {
            if (c->frame_start_us == 0)
                c->frame_start_us = g_get_monotonic_time();
            c->in_len += (size_t)got;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (got == 0) {
            /* The peer closed: a clean end between frames, a truncated
             * frame otherwise. */
            if (c->in_len > 0)
                tp->counters.tcp_truncated++;
        } else {
            tp->counters.read_errors++;
        }
        conn_free(c);
        return;
    }
}

static void listener_readable(void *user, GIOCondition revents)
{
    tp_transport *tp = user;
    int lfd = g_socket_get_fd(tp->listener);
    for (int i = 0; i < TP_ACCEPTS_PER_WAKEUP; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                tp->counters.read_errors++;
            return;
        }
        peko_addr peer;
        if (!tp_addr_from_sockaddr((struct sockaddr *)&ss, len, &peer)) {
            close(fd);
            tp->counters.read_errors++;
            continue;
        }
        if (g_queue_get_length(&tp->in_conns) >=
            (guint)tp->tcp_max_accepted) {
            close(fd);
            tp->counters.tcp_accept_refused++;
            continue;
        }
        tp_conn *c = g_new0(tp_conn, 1);
        c->tp = tp;
        c->fd = fd;
        c->peer = peer;
        c->opened_us = c->last_active_us = c->frame_start_us =
            g_get_monotonic_time();
        g_queue_push_head(&tp->in_conns, c);
        c->link = tp->in_conns.head;
        c->watch = tp_watch_new(tp->poller, fd, G_IO_IN, in_readable, c);
        if (c->watch == NULL) {
            tp->counters.read_errors++;
            conn_free(c);
            continue;
        }
        tp->counters.tcp_accepted++;
        sweep_arm(tp);
    }
    tp->counters.busy_wakeups++;
}

/* ------------------------------------------------------------------ */
/* Outgoing connections: the pool.                                      */

static void out_update_events(tp_conn *c)
{
    GIOCondition events = G_IO_IN;
    if (c->connecting || c->out_off < c->out_len)
        events |= G_IO_OUT;
    tp_watch_set_events(c->watch, events);
}

/* Moves the unsent bytes to the front of the buffer. */
static void out_shift(tp_conn *c)
{
    size_t shift = c->out_off;
    if (shift == 0)
        return;
    memmove(c->out, c->out + shift, c->out_len - shift);
    c->out_len -= shift;
    c->out_off = 0;
    size_t live = 0;
    for (size_t i = c->ends_head; i < c->ends_len; i++)
        if (c->ends[i] > shift)
            c->ends[live++] = c->ends[i] - shift;
    c->ends_head = 0;
    c->ends_len = live;
}

/* Forgets frame ends that are fully written, and rewinds the buffer
 * when it is empty (the common case: everything was written at once) or
 * shifts it when more than half is spent. */
static void out_compact(tp_conn *c)
{
    while (c->ends_head < c->ends_len && c->ends[c->ends_head] <= c->out_off)
        c->ends_head++;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        c->ends_head = c->ends_len = 0;
    } else if (c->out_off > c->out_cap / 2) {
        out_shift(c);
    }
}

/* Writes what it can. Returns false if the connection was closed. */
static bool out_flush(tp_conn *c)
{
    tp_transport *tp = c->tp;
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->stalled_since_us = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->stalled_since_us == 0)
                c->stalled_since_us = g_get_monotonic_time();
            break;
        }
        /* EPIPE, ECONNRESET, ...: the peer is gone. */
        tp->counters.send_errors++;
        conn_free(c);
        return false;
    }
    out_compact(c);
    out_update_events(c);
    return true;
}

static void out_ready(void *user, GIOCondition revents)
{
    tp_conn *c = user;
    tp_transport *tp = c->tp;
    if (c->connecting) {
        if (!(revents & (G_IO_OUT | G_IO_ERR | G_IO_HUP)))
            return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            tp->counters.send_errors++;
            conn_free(c);
            return;
        }
        c->connecting = false;
        if (!out_flush(c))
            return;
    } else if (revents & G_IO_OUT) {
        if (!out_flush(c))
            return;
    }
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        /* Only an end is expected here; discard anything else, bounded. */
        uint8_t scratch[TP_DISCARD_BYTES];
        ssize_t n = recv(c->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR))
            conn_free(c); /* the peer closed it; queued frames count as
                           * dropped */
    }
}

/* Opens a connection to `to` (non-blocking: the connect completes in
 * the loop). Returns NULL and sets *err on immediate failure. */
static tp_conn *out_open(tp_transport *tp, const peko_addr *to, int *err)
{
    struct sockaddr_storage ss;
    socklen_t len = tp_addr_to_sockaddr(to, tp->family, &ss);
    if (len == 0) {
        *err = EAFNOSUPPORT;
        return NULL;
    }
    int fd = socket(tp->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bool connecting = false;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return NULL;
        }
        connecting = true;
    }
    tp_conn *c = g_new0(tp_conn, 1);
    c->tp = tp;
    c->fd = fd;
    c->outgoing = true;
    c->connecting = connecting;
    c->peer = *to;
    c->opened_us = c->last_active_us = g_get_monotonic_time();
    g_queue_push_head(&tp->out_lru, c);
    c->link = tp->out_lru.head;
    g_hash_table_insert(tp->out_by_addr, &c->peer, c);
    c->watch = tp_watch_new(tp->poller, fd, connecting ? G_IO_OUT : G_IO_IN,
                            out_ready, c);
    if (c->watch == NULL) {
        *err = errno;
        conn_free(c);
        return NULL;
    }
    tp->counters.tcp_connects++;
    sweep_arm(tp);
    return c;
}

static bool out_idle(const tp_conn *c)
{
    return !c->connecting && c->out_off == c->out_len;
}

/* Closes idle connections, least recently used first, down to `bound`. */
static void pool_trim(tp_transport *tp, guint bound)
{
    GList *l = tp->out_lru.tail;
    while (l && tp->out_lru.length > bound) {
        tp_conn *c = l->data;
        l = l->prev;
        if (out_idle(c)) {
            tp->counters.tcp_evicted++;
            conn_free(c);
        }
    }
}

/* Makes room for one more outgoing connection; false if there is none.
 * The pool holds tcp_pool connections; the least recently used one with
 * nothing left to write is closed to make room. A connection still
 * connecting or writing is never cut short (its messages would be lost):
 * while connections are busy the pool may grow to twice its bound, and
 * beyond that a message to a new destination is dropped (counted in
 * tcp_send_dropped), as UDP drops at a full socket buffer. Connections
 * over the bound are trimmed as they become idle (here and in the
 * sweep). */
static bool pool_make_room(tp_transport *tp)
{
    guint pool = (guint)tp->tcp_pool;
    pool_trim(tp, pool - 1);
    return tp->out_lru.length < 2 * pool;
}

int tp_tcp_send(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes)
{
    if (n_bytes > (size_t)tp->config.size) {
        /* The engine never makes one; a receiver would refuse it. */
        tp->counters.tcp_send_dropped++;
        return -EMSGSIZE;
    }
    tp_conn *c = g_hash_table_lookup(tp->out_by_addr, to);
    if (c == NULL) {
        if (!pool_make_room(tp)) {
            tp->counters.tcp_send_dropped++;
            return -ENOBUFS;
        }
        int err = 0;
        c = out_open(tp, to, &err);
        if (c == NULL) {
            tp->counters.send_errors++;
            return -err;
        }
    } else if (c->link != tp->out_lru.head) {
        g_queue_unlink(&tp->out_lru, c->link);
        g_queue_push_head_link(&tp->out_lru, c->link);
    }

    size_t frame = TP_FRAME_HEADER_BYTES + n_bytes;
    if (c->out_len + frame > c->out_cap)
        out_shift(c);
    if (c->out_len + frame > tp->tcp_send_buffer) {
        tp->counters.tcp_send_dropped++;
        return -ENOBUFS;
    }
    if (c->out_len + frame > c->out_cap) {
        /* Grow by doubling from TP_INITIAL_BUFFER, up to the bound. */
        size_t want = MAX(c->out_cap * 2, TP_INITIAL_BUFFER);
        want = MAX(want, c->out_len + frame);
        c->out_cap = MIN(want, tp->tcp_send_buffer);
        c->out = g_realloc(c->out, c->out_cap);
    }
    uint8_t *p = c->out + c->out_len;
    p[0] = (uint8_t)(n_bytes >> 24);
    p[1] = (uint8_t)(n_bytes >> 16);
    p[2] = (uint8_t)(n_bytes >> 8);
    p[3] = (uint8_t)n_bytes;
    memcpy(p + TP_FRAME_HEADER_BYTES, bytes, n_bytes);
    c->out_len += frame;
    if (c->ends_len == c->ends_cap) {
        c->ends_cap = c->ends_cap ? c->ends_cap * 2 : 8;
        c->ends = g_renew(size_t, c->ends, c->ends_cap);
    }
    c->ends[c->ends_len++] = c->out_len;
    c->last_active_us = g_get_monotonic_time();
    tp->counters.sent++;
    tp->counters.sent_bytes += n_bytes;
    if (c->connecting) {
        out_update_events(c);
        return 0;
    }
    /* A write error closes the connection and counts the message as
     * dropped; to the engine it was accepted, as UDP's would be. */
    out_flush(c);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timeouts.                                                            */

static void sweep(void *user)
{
    tp_transport *tp = user;
    tp->sweep_armed = false;
    int64_t now = g_get_monotonic_time();

    for (GList *l = tp->in_conns.head; l;) {
        tp_conn *c = l->data;
        l = l->next;
        if (c->frame_start_us != 0 &&
            now - c->frame_start_us > tp->tcp_read_timeout_us) {
            tp->counters.tcp_timeouts++;
            conn_free(c);
        } else if (c->frame_start_us == 0 &&
                   now - c->last_active_us > 2 * tp->tcp_idle_timeout_us) {
            tp->counters.tcp_idle_closed++;
            conn_free(c);
        }
    }
    for (GList *l = tp->out_lru.head; l;) {
        tp_conn *c = l->data;
        l = l->next;
        if (c->connecting && now - c->opened_us > tp->tcp_read_timeout_us) {
            tp->counters.tcp_timeouts++;
            tp->counters.send_errors++;
            conn_free(c);
        } else if (c->stalled_since_us != 0 &&
                   now - c->stalled_since_us > tp->tcp_read_timeout_us) {
            /* The peer has stopped reading. */
            tp->counters.tcp_timeouts++;
            conn_free(c);
        } else if (c->out_off == c->out_len &&
                   now - c->last_active_us > tp->tcp_idle_timeout_us) {
            tp->counters.tcp_idle_closed++;
            conn_free(c);
        }
    }
    pool_trim(tp, (guint)tp->tcp_pool);
    sweep_arm(tp);
}

static void sweep_arm(tp_transport *tp)
{
    if (tp->sweep_armed || tp->sweep == NULL ||
        (tp->in_conns.length == 0 && tp->out_lru.length == 0))
        return;
    int64_t tick = MIN(tp->tcp_read_timeout_us, tp->tcp_idle_timeout_us) / 4;
    tick = CLAMP(tick, 5000, G_USEC_PER_SEC);
    tp_timer_source_arm(tp->sweep, g_get_monotonic_time() + tick);
    tp->sweep_armed = true;
}

void tp_tcp_shift_clock(tp_transport *tp, int64_t paused_us)
{
    GQueue *queues[] = {&tp->in_conns, &tp->out_lru};
    for (size_t q = 0; q < G_N_ELEMENTS(queues); q++)
        for (GList *l = queues[q]->head; l; l = l->next) {
            tp_conn *c = l->data;
            c->opened_us += paused_us;
            c->last_active_us += paused_us;
            if (c->frame_start_us != 0)
                c->frame_start_us += paused_us;
            if (c->stalled_since_us != 0)
                c->stalled_since_us += paused_us;
        }
}

/* ------------------------------------------------------------------ */
/* Opening and closing.                                                 */

bool tp_tcp_open(tp_transport *tp, GError **error)
{
    tp->out_by_addr = g_hash_table_new(tp_addr_hash, tp_addr_equal);
    tp->sweep = tp_timer_source_new(tp->context, sweep, tp);
    tp->listener = tp_socket_bind(tp, G_SOCKET_TYPE_STREAM, TRUE, error);
    if (tp->listener == NULL)
        return false;
    GError *local = NULL;
    g_socket_set_listen_backlog(tp->listener, TP_LISTEN_BACKLOG);
    if (!g_socket_listen(tp->listener, &local)) {
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_SOCKET, "listen: %s",
                    local->message);
        g_error_free(local);
        return false;
    }
    tp->listener_watch = tp_watch_new(tp->poller,
                                      g_socket_get_fd(tp->listener), G_IO_IN,
                                      listener_readable, tp);
    if (tp->listener_watch == NULL) {
        g_set_error(error, PEKO_TRANSPORT_ERROR,
                    PEKO_TRANSPORT_ERROR_SOCKET, "cannot watch the listener");
        return false;
    }
    return true;
}

void tp_tcp_close(tp_transport *tp)
{
    while (tp->out_lru.head)
        conn_free(tp->out_lru.head->data);
    while (tp->in_conns.head)
        conn_free(tp->in_conns.head->data);
    tp_watch_free(tp->listener_watch);
    tp->listener_watch = NULL;
    tp_source_free(tp->sweep);
    tp->sweep = NULL;
    if (tp->listener) {
        g_socket_close(tp->listener, NULL);
        g_object_unref(tp->listener);
        tp->listener = NULL;
    }
    g_clear_pointer(&tp->out_by_addr, g_hash_table_unref);
}
