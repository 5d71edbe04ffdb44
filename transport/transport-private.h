/* transport-private.h: what the transport's files share. Not installed.
 *
 * Prefix tp_ (STYLE.md). One tp_transport is one node: its environment,
 * its timers, its random stream, and either one UDP socket or a TCP
 * listener with its connections.
 */
#ifndef PEKO_TRANSPORT_PRIVATE_H
#define PEKO_TRANSPORT_PRIVATE_H

#include <gio/gio.h>
#include <sys/socket.h>

#include "model.h"
#include "peko-transport.h"

/* ------------------------------------------------------------------ */
/* Defaults of peko_transport_options (0 means these).                  */

#define TP_DEFAULT_READS_PER_WAKEUP 64
#define TP_DEFAULT_PRINT_RATE 100          /* lines per second */
#define TP_DEFAULT_TCP_POOL 64
#define TP_DEFAULT_TCP_MAX_ACCEPTED 256
#define TP_DEFAULT_TCP_IDLE_CYCLES 3
#define TP_DEFAULT_TCP_READ_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define TP_MIN_TCP_SEND_BUFFER (64 * 1024)
#define TP_FRAME_HEADER_BYTES 4            /* big-endian length prefix */
/* Accepts handled per wakeup of the listener, so a connection storm
 * cannot hold the loop either. */
#define TP_ACCEPTS_PER_WAKEUP 64
/* Connections the kernel completes for us while we are busy; the
 * kernel caps it at net.core.somaxconn. */
#define TP_LISTEN_BACKLOG 1024
/* First size of a connection's input and output buffers, which double
 * as needed up to their bounds: most frames are small. */
#define TP_INITIAL_BUFFER 4096
/* Bytes read per wakeup from an outgoing connection, on which nothing
 * is expected (peers answer on their own connections). */
#define TP_DISCARD_BYTES 4096
/* The delay queue's bounds (options.delay_queue, delay_queue_bytes), and
 * the messages that leave it per wakeup of its timer, so a burst of due
 * messages cannot hold the loop. */
#define TP_DEFAULT_DELAY_QUEUE 1024
#define TP_DEFAULT_DELAY_QUEUE_BYTES (4 * 1024 * 1024)
#define TP_DELAY_PER_WAKEUP 256

/* ------------------------------------------------------------------ */
/* Random streams are model.h's (model_stream); the seed of a node that  */
/* was given none comes from here (rng.c).                              */

/* 64 bits of the system's entropy (getrandom), falling back on the
 * clock and process id. */
uint64_t tp_entropy_seed(void);

/* ------------------------------------------------------------------ */
/* Addresses (sockaddr.c).                                              */

/* peko_addr to a sockaddr for a socket of `family` (AF_INET or
 * AF_INET6; an IPv4 address is mapped into ::ffff:0:0/96 for an IPv6
 * socket). Returns the length, or 0 when it cannot be expressed (an IPv6
 * address for an IPv4 socket). */
socklen_t tp_addr_to_sockaddr(const peko_addr *addr, int family,
                              struct sockaddr_storage *out);
/* A received sockaddr to a peko_addr; v4-mapped IPv6 becomes IPv4.
 * Returns false for another family. */
bool tp_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                           peko_addr *out);
/* The same for a GSocketAddress (bound and accepted sockets). */
bool tp_addr_from_gaddress(GSocketAddress *gaddr, peko_addr *out);
/* peko_addr to a GInetSocketAddress (a new reference). */
GSocketAddress *tp_addr_to_gaddress(const peko_addr *addr);
/* Hash-table functions for peko_addr keys. */
guint tp_addr_hash(gconstpointer key);
gboolean tp_addr_equal(gconstpointer a, gconstpointer b);

/* ------------------------------------------------------------------ */
/* The loop (source.c): timers at a monotonic deadline, and one poller   */
/* (an epoll set as one GSource) per transport for all its sockets.      */

typedef void (*tp_fd_cb)(void *user, GIOCondition revents);
typedef void (*tp_timer_cb)(void *user);

typedef struct tp_source tp_source;
typedef struct tp_poller tp_poller;
typedef struct tp_watch tp_watch;

tp_source *tp_timer_source_new(GMainContext *context, tp_timer_cb cb,
                               void *user);
/* The same on a timerfd, which fires at the microsecond where GLib's
 * ready times fire up to a millisecond late (source.c); for the delay
 * queue. Falls back on a plain timer if no timerfd can be made. */
tp_source *tp_precise_timer_new(GMainContext *context, tp_timer_cb cb,
                                void *user);
/* Fires once at deadline_us (g_get_monotonic_time base); -1 disarms. */
void tp_timer_source_arm(tp_source *source, int64_t deadline_us);
/* The deadline armed, or -1. */
int64_t tp_timer_source_deadline(tp_source *source);
/* Destroys and releases. NULL is a no-op. */
void tp_source_free(tp_source *source);

/* NULL with *error set if epoll is not available. */
tp_poller *tp_poller_new(GMainContext *context, GError **error);
/* Every watch must be freed first. NULL is a no-op. */
void tp_poller_free(tp_poller *poller);
/* Watches fd for `events` (G_IO_IN, G_IO_OUT; errors and hang-ups are
 * always reported). NULL if the fd cannot be watched. */
tp_watch *tp_watch_new(tp_poller *poller, int fd, GIOCondition events,
                       tp_fd_cb cb, void *user);
void tp_watch_set_events(tp_watch *watch, GIOCondition events);
/* Calls the watch back on the next dispatch even if its fd is not ready
 * (revents 0): for input already buffered when a wakeup's bound was
 * reached. */
void tp_watch_wake(tp_watch *watch);
/* Unregisters the watch (before its fd is closed). Safe from any
 * callback of the same poller. NULL is a no-op. */
void tp_watch_free(tp_watch *watch);
/* Stops (true) or restarts (false) polling: while paused no watch is
 * called back, woken ones included; readiness is found again on
 * restart. */
void tp_poller_set_paused(tp_poller *poller, bool paused);

/* ------------------------------------------------------------------ */
/* The filter (filter.c) is used through the public API.                */

/* ------------------------------------------------------------------ */
/* TCP connections (tcp.c).                                             */

typedef struct tp_conn tp_conn;

/* ------------------------------------------------------------------ */
/* The transport.                                                       */

typedef struct peko_transport tp_transport;

/* The user of each engine timer's source. */
typedef struct tp_timer_slot {
    tp_transport *tp;
    peko_timer timer;
} tp_timer_slot;

struct peko_transport {
    peko_env env;
    peko_nodelist *nl;
    GMainContext *context;          /* referenced */
    peko_config config;             /* resolved; key strings omitted */
    peko_addr local;                /* identity: local addr, bound port */
    peko_addr bind;                 /* the address bound */
    int family;                     /* AF_INET or AF_INET6 */
    model_stream rng;               /* the engine's random_u64 */
    peko_transport_filter *filter;  /* borrowed, may be NULL */
    int64_t wall_skew_us;           /* options.wall_skew_us */

    /* Console. */
    peko_transport_print_fn print;
    void *print_user;
    int print_rate;                 /* < 0: unlimited */
    double print_tokens;
    int64_t print_refill_us;        /* last refill (monotonic) */
    uint64_t print_suppressed_pending; /* since the last summary */

    /* Bounds (resolved). */
    int reads_per_wakeup;
    int rcvbuf_bytes;
    int tcp_pool;
    int tcp_max_accepted;
    int64_t tcp_idle_timeout_us;
    int64_t tcp_read_timeout_us;
    size_t tcp_send_buffer;

    tp_poller *poller;              /* every socket below */

    /* Timers: one source per engine timer id. */
    tp_source *timers[PEKO_TIMER_COUNT];
    tp_timer_slot timer_slots[PEKO_TIMER_COUNT];

    /* UDP. */
    GSocket *udp;
    tp_watch *udp_watch;
    uint8_t *rx;                    /* Size bytes: one datagram */

    /* TCP. */
    GSocket *listener;
    tp_watch *listener_watch;
    GHashTable *out_by_addr;        /* peko_addr* -> tp_conn* (outgoing) */
    GQueue out_lru;                 /* of tp_conn*, most recent at head */
    GQueue in_conns;                /* of tp_conn* (accepted) */
    tp_source *sweep;               /* timeouts, idle connections */
    bool sweep_armed;

    /* Pause (peko_transport_pause). */
    bool paused;
    int64_t paused_at_us;
    int64_t paused_timers[PEKO_TIMER_COUNT]; /* deadlines to re-arm, -1 */
    int64_t paused_sweep_us;                 /* the TCP sweep's, -1 */

    /* The delay hook (delay.c). */
    peko_transport_delay_fn delay;
    void *delay_user;
    size_t delay_max;               /* messages */
    size_t delay_max_bytes;
    GArray *delay_heap;             /* of tp_delayed, by (deadline, seq) */
    size_t delay_bytes;             /* bytes waiting */
    uint64_t delay_seq;
    GHashTable *delay_last;         /* TCP: peko_addr* -> last deadline of
                                     * a message waiting for it */
    tp_source *delay_timer;

    peko_transport_counters counters;
};

/* udp.c */
bool tp_udp_open(tp_transport *tp, GError **error);
void tp_udp_close(tp_transport *tp);
int tp_udp_send(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes);

/* tcp.c */
bool tp_tcp_open(tp_transport *tp, GError **error);
void tp_tcp_close(tp_transport *tp);
int tp_tcp_send(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes);

/* tcp.c: moves the connections' timestamps by the pause's length, so
 * it does not count towards their timeouts. */
void tp_tcp_shift_clock(tp_transport *tp, int64_t paused_us);

/* delay.c */
void tp_delay_init(tp_transport *tp, peko_transport_delay_fn fn, void *user,
                   size_t max_messages, size_t max_bytes);
/* Queues the message to leave after delay_us (or after the last one
 * waiting for `to`, over TCP). Returns 0, or -ENOBUFS when the queue is
 * full (counted). */
int tp_delay_push(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                  size_t n_bytes, int64_t delay_us);
/* Whether a message to `to` waits (over TCP, a later one queues behind). */
bool tp_delay_holds(tp_transport *tp, const peko_addr *to);
/* Drops whatever waits and frees the queue. */
void tp_delay_clear(tp_transport *tp);

/* transport.c: the message to the socket now, past the filter and the
 * delay: UDP or TCP. */
int tp_send_now(tp_transport *tp, const peko_addr *to, const uint8_t *bytes,
                size_t n_bytes);

/* transport.c: opens a GSocket of `type` for the transport's family,
 * non-blocking, and binds it to tp->bind. */
GSocket *tp_socket_bind(tp_transport *tp, GSocketType type,
                        gboolean allow_reuse, GError **error);

#endif /* PEKO_TRANSPORT_PRIVATE_H */
