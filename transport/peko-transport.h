/* peko-transport.h: peko on real networks (libpeko's socket environment).
 *
 * A peko_transport is one gossip node on real sockets: it binds a UDP
 * socket (or a TCP listener), creates the engine (peko.h) with a peko_env
 * that reads the monotonic clock, arms timers on a GLib main loop, draws
 * from its own seeded random stream and stamps console lines with the
 * wall clock, and feeds every datagram or framed message it receives to
 * the engine. The caller drives the node through the engine's own API
 * (peko_transport_nodelist(), then peko_nodelist_set(), _join(),
 * _publish(), _read(), _get(), ...) and runs the main loop.
 *
 *     peko_transport_options opts;
 *     peko_transport_options_init(&opts);
 *     opts.local = (peko_node){.addr = "127.0.0.1", .port = 8000};
 *     GError *error = NULL;
 *     peko_transport *tp = peko_transport_new(&opts, &error);
 *     peko_nodelist_join(peko_transport_nodelist(tp));
 *     g_main_loop_run(loop);   // on opts.context
 *     peko_transport_free(tp);
 *
 * Bad input never crashes or blocks a node: every datagram or frame that
 * is oversize, truncated, garbage or signed with a wrong key is dropped
 * and counted, by the engine (peko_stats.rejected, by reason) or by the
 * transport (peko_transport_counters). Every queue and buffer is bounded
 * and every wakeup does a bounded amount of work. docs/transport.md has
 * the details.
 *
 * Conventions: as peko.h. Functions returning int return 0 or a negative
 * errno; peko_transport_new() reports through a GError. Nothing is
 * thread-safe: a transport, and the filter it uses, are driven from the
 * thread that runs their GMainContext.
 */
#ifndef PEKO_TRANSPORT_H
#define PEKO_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "peko.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Errors of peko_transport_new().                                      */

#define PEKO_TRANSPORT_ERROR (peko_transport_error_quark())

typedef enum peko_transport_error_code {
    PEKO_TRANSPORT_ERROR_INVALID, /* bad options, configuration or address */
    PEKO_TRANSPORT_ERROR_SOCKET,  /* a socket could not be made or bound
                                   * (the message says why: port in use,
                                   * address not available, ...) */
} peko_transport_error_code;

PEKO_API GQuark peko_transport_error_quark(void);

/* ------------------------------------------------------------------ */
/* The fault filter: loss and partitions on real sockets.               */
/*                                                                      */
/* One filter may be shared by every transport of a process (a local    */
/* testbed). Each message a transport sends is checked on send, before  */
/* it reaches the socket: a partition in effect between sender and      */
/* receiver drops it (counted as partitioned), otherwise it is lost     */
/* with the configured probability (counted as lost). Loss draws come    */
/* from one stream per sender address, a stream of the filter's seed     */
/* (derived from the address, or given), so a node's sequence of         */
/* verdicts depends only on the seed and its own sequence of sends. The  */
/* verdicts are the simulator's: the same model, seed and stream lose    */
/* the same messages. A model that cannot lose draws nothing.           */

typedef struct peko_transport_filter peko_transport_filter;

#define PEKO_TRANSPORT_FILTER_MAX_PARTITIONS 64 /* in effect at once */

typedef struct peko_transport_filter_counters {
    uint64_t passed;      /* messages let through */
    uint64_t lost;        /* dropped by the loss rate */
    uint64_t partitioned; /* dropped by a partition */
} peko_transport_filter_counters;

/* A filter that drops nothing, with loss draws seeded from `seed`.
 * Cannot fail. Free with peko_transport_filter_free(). */
PEKO_API peko_transport_filter *peko_transport_filter_new(uint64_t seed);
/* Frees the filter. Every transport using it must be freed first. NULL is
 * a no-op. */
PEKO_API void peko_transport_filter_free(peko_transport_filter *filter);

/* Bernoulli loss: each message is dropped with probability `rate`, 0..1.
 * Returns 0, or -EINVAL (rate unchanged) outside [0, 1] or NaN. */
PEKO_API int peko_transport_filter_set_loss(peko_transport_filter *filter,
                                            double rate);

/* Gilbert-Elliott loss, bursty: each sender has a two-state chain that
 * starts good and steps once per message (good to bad with
 * p_good_to_bad, bad to good with p_bad_to_good); the message is then
 * lost with loss_good or loss_bad according to the state. As the
 * simulator's model (docs/scenarios.md). Replaces a Bernoulli rate, as
 * peko_transport_filter_set_loss() replaces this; either restarts every
 * chain in the good state. Returns 0, or -EINVAL (nothing changed) for a
 * value outside [0, 1] or NaN. */
PEKO_API int peko_transport_filter_set_gilbert_elliott(
    peko_transport_filter *filter, double p_good_to_bad,
    double p_bad_to_good, double loss_good, double loss_bad);

/* Draws the losses of messages from `addr` from stream `stream` of the
 * filter's seed, instead of a stream derived from the address, and
 * restarts that sender's chain in the good state. Streams are numbered
 * as the simulator's: with the run seed as the filter's seed, stream
 * (2 << 32 | i) is the loss stream of the simulator's node i, so a
 * testbed gives node i's address that stream to draw the simulator's
 * losses. Returns 0, or -EINVAL for a NULL argument. */
PEKO_API int peko_transport_filter_set_stream(peko_transport_filter *filter,
                                              const peko_addr *addr,
                                              uint64_t stream);

/* Cuts group a from group b (addresses are nodes' listen addresses, as
 * their peko_node addr and port): both directions, or with `one_way` only
 * messages from a to b (b still reaches a). Addresses are copied. Returns
 * the partition's id (> 0), -EINVAL for an empty group or an address in
 * both groups, or -ENOSPC when PEKO_TRANSPORT_FILTER_MAX_PARTITIONS are in
 * effect. */
PEKO_API int peko_transport_filter_partition(peko_transport_filter *filter,
                                             const peko_addr *group_a,
                                             size_t n_a,
                                             const peko_addr *group_b,
                                             size_t n_b, bool one_way);
/* A symmetric cut into n_groups groups (groups[g] holds n_each[g]
 * addresses) plus one implicit group of every address in none of them:
 * messages between addresses of different groups are dropped, both ways.
 * Addresses are copied. Returns the partition's id (> 0), -EINVAL for no
 * group, an empty group or an address in two groups, or -ENOSPC when
 * PEKO_TRANSPORT_FILTER_MAX_PARTITIONS are in effect. */
PEKO_API int peko_transport_filter_partition_groups(
    peko_transport_filter *filter, const peko_addr *const *groups,
    const size_t *n_each, size_t n_groups);

/* Ends partition `id`. Returns 0, or -ENOENT if it is not in effect. */
PEKO_API int peko_transport_filter_heal(peko_transport_filter *filter,
                                        int id);
/* Ends every partition. */
PEKO_API void peko_transport_filter_heal_all(peko_transport_filter *filter);

typedef enum peko_transport_verdict {
    PEKO_TRANSPORT_PASS = 0,
    PEKO_TRANSPORT_LOST,
    PEKO_TRANSPORT_PARTITIONED,
} peko_transport_verdict;

/* The verdict on one message from `from` to `to`, counted in the filter's
 * stats (and drawing from the sender's loss stream when a loss rate is
 * set). Transports call this on every send; it is public so that tools
 * and tests can apply the same filter elsewhere. */
PEKO_API peko_transport_verdict
peko_transport_filter_check(peko_transport_filter *filter,
                            const peko_addr *from, const peko_addr *to);

/* Copies the filter's counters into *out. Cannot fail. */
PEKO_API void peko_transport_filter_stats(const peko_transport_filter *filter,
                                          peko_transport_filter_counters *out);

/* ------------------------------------------------------------------ */
/* Options.                                                             */

/* 2 added the delay hook (delay, delay_user, delay_queue,
 * delay_queue_bytes), 3 the clock skew (wall_skew_us).
 * peko_transport_new() accepts 1 to 3; with 1 it reads no field past
 * tcp_send_buffer, with 2 none past delay_queue_bytes. */
#define PEKO_TRANSPORT_OPTIONS_VERSION 3

/* A console line, timestamp included ("2022-05-19 14:51:23 [[Join]: ...]"),
 * without a newline. Borrowed for the call. */
typedef void (*peko_transport_print_fn)(void *user, const char *line);

/* The delay hook: how long the message `bytes` (n_bytes, borrowed for the
 * call) from `from` (this node) to `to` waits before it is handed to the
 * socket, in microseconds; 0 or less sends it at once. Called on every
 * message the fault filter let through, when the engine sends it. For
 * testbeds on the loopback, which has almost no latency of its own: the
 * hook draws the latency a scenario describes. It runs inside the
 * engine's send and must not call into the engine or free the
 * transport. */
typedef int64_t (*peko_transport_delay_fn)(void *user, const peko_addr *from,
                                           const peko_addr *to,
                                           const uint8_t *bytes,
                                           size_t n_bytes);

typedef struct peko_transport_options {
    int version;  /* PEKO_TRANSPORT_OPTIONS_VERSION (set by _init) */

    /* The engine. */
    const peko_config *config;     /* NULL: pekonode's defaults. Copied,
                                    * keys included. A NULL listen_addr
                                    * means 0.0.0.0, or :: when the local
                                    * address is IPv6 */
    peko_node local;               /* this node: addr ("" is 127.0.0.1),
                                    * port (0: any free port, read back),
                                    * name, private_data. Copied */
    const peko_observer *observer; /* NULL: none. Copied */
    void *observer_user;
    peko_transport_filter *filter; /* NULL: none. Borrowed: it must
                                    * outlive the transport */
    bool seeded;                   /* false: the random stream is seeded
                                    * from the system's entropy */
    uint64_t seed;                 /* the stream's seed when `seeded` */

    /* The loop and the console. */
    GMainContext *context;         /* NULL: the global default context.
                                    * Referenced while the transport lives */
    peko_transport_print_fn print; /* NULL: lines go to stdout */
    void *print_user;
    int print_rate;                /* console lines per second, with a
                                    * burst of as many; lines beyond are
                                    * counted and summarized. 0: 100;
                                    * negative: unlimited */

    /* Bounds. 0 means the default in brackets. */
    int reads_per_wakeup;          /* UDP datagrams, or TCP frames of one
                                    * connection, read per wakeup [64] */
    int rcvbuf_bytes;              /* UDP receive buffer asked of the
                                    * kernel [buffer x size, at least the
                                    * system's default] */
    int tcp_pool;                  /* outgoing connections kept open; the
                                    * least recently used idle one is
                                    * closed beyond [64]. Connections still
                                    * connecting or writing may take the
                                    * pool to twice this; beyond, messages
                                    * to new destinations are dropped */
    int tcp_max_accepted;          /* accepted connections open at once;
                                    * more are closed on accept [256] */
    int64_t tcp_idle_timeout_us;   /* an outgoing connection unused this
                                    * long is closed; an accepted one
                                    * silent between frames for twice this
                                    * [3 cycles] */
    int64_t tcp_read_timeout_us;   /* a frame (the first one counted from
                                    * the accept) must arrive in full within
                                    * this, and a connect complete within
                                    * it [5 s, at most the idle timeout] */
    int tcp_send_buffer;           /* bytes queued per outgoing connection;
                                    * a message that does not fit is
                                    * dropped [4 x (size + 4), at least
                                    * 64 KiB] */

    /* Latency emulation (version 2). Delayed messages wait in a queue
     * ordered by their deadline, and leave from one timer: over TCP a
     * message never overtakes an earlier one to the same destination
     * (it leaves at the later of the two deadlines), as on one
     * connection. Messages still waiting when the transport is freed are
     * dropped. */
    peko_transport_delay_fn delay; /* NULL: every message at once */
    void *delay_user;
    int delay_queue;               /* messages waiting at once; more are
                                    * dropped (delay_dropped) and the send
                                    * fails with -ENOBUFS, as at a full
                                    * socket buffer [1024] */
    int delay_queue_bytes;         /* bytes waiting at once, the same way
                                    * [4 MiB, at least one message of
                                    * Size] */

    /* Version 3. A test hook: the node's real-time clock, as the engine
     * sees it (the sent_us of its swaps, docs/wire.md) and as
     * peko_transport_wall_us() gives it, reads this much ahead of the
     * system's (behind when negative). A namespace cannot have a clock
     * of its own; this fakes a host whose clock is off, to check the
     * clock offsets measured between nodes (docs/fleet.md). Within
     * +-1 day. */
    int64_t wall_skew_us;
} peko_transport_options;

/* Fills *opts with version PEKO_TRANSPORT_OPTIONS_VERSION and zeros
 * (every default). Cannot fail. */
PEKO_API void peko_transport_options_init(peko_transport_options *opts);

/* ------------------------------------------------------------------ */
/* The transport.                                                       */

typedef struct peko_transport peko_transport;

/* Binds the socket (UDP) or the listener (TCP) at the configured
 * listen_addr and local.port, creates the engine for `local` (with the
 * port actually bound) and sets its observer. The node does nothing until
 * peko_nodelist_join(); it receives from the moment the main loop runs.
 *
 * Returns the transport, or NULL with *error set and nothing left open:
 * PEKO_TRANSPORT_ERROR_INVALID for a wrong options version, a bad
 * configuration (peko_config_resolve), a local or listen address that is
 * not numeric IPv4/IPv6 or of the wrong family; _SOCKET when the socket
 * cannot be created or bound (the port in use, the address not local). */
PEKO_API peko_transport *peko_transport_new(const peko_transport_options *opts,
                                            GError **error);

/* Frees the engine, closes every socket and connection (queued messages
 * are dropped) and removes every source from the context. Must not be
 * called from an observer callback or a print function of this
 * transport. NULL is a no-op. */
PEKO_API void peko_transport_free(peko_transport *tp);

/* The engine, owned by the transport (valid until peko_transport_free). */
PEKO_API peko_nodelist *peko_transport_nodelist(peko_transport *tp);

/* The local node's address, with the port actually bound. */
PEKO_API const peko_addr *peko_transport_local_addr(const peko_transport *tp);

/* The node's real-time clock, microseconds since the Unix epoch: the
 * system's, plus options.wall_skew_us. What the engine stamps its swaps
 * with, so a recording stamps its rows with it too. Cannot fail. */
PEKO_API int64_t peko_transport_wall_us(const peko_transport *tp);

/* Freezes the node, as a process stopped by a debugger or a long
 * garbage-collection pause: its engine's timers do not fire and its
 * sockets are not read until peko_transport_resume(). Input waits in the
 * kernel meanwhile: UDP datagrams in the socket's receive buffer (what
 * does not fit is dropped by the kernel and counted in kernel_dropped
 * when reading resumes), TCP data in the connections' buffers and new
 * connections in the listen backlog, where peers' sends eventually
 * stall. Messages already in the delay queue still leave on time: they
 * are on the wire. The engine may still be called (a publish while
 * paused is sent at once; its timers wait). Returns 0, or -EALREADY if
 * the node is paused. */
PEKO_API int peko_transport_pause(peko_transport *tp);

/* Resumes a paused node: overdue timers fire at once, waiting input is
 * read in the next iterations of the loop. The pause does not count
 * towards the node's own TCP timeouts (reading and idle), since the
 * peers did nothing wrong. Returns 0, or -EALREADY if it is not
 * paused. */
PEKO_API int peko_transport_resume(peko_transport *tp);

/* Whether the node is paused. */
PEKO_API bool peko_transport_is_paused(const peko_transport *tp);

/* The engine's environment (owned by the transport). For wrappers that
 * inject faults around it; most users never need it. */
PEKO_API peko_env *peko_transport_env(peko_transport *tp);

typedef struct peko_transport_counters {
    /* Traffic. */
    uint64_t received;            /* datagrams / frames given to the
                                   * engine (peko_stats says how many it
                                   * accepted and rejected, by reason) */
    uint64_t received_bytes;
    uint64_t sent;                /* messages given to the kernel (UDP) or
                                   * queued on a connection (TCP) */
    uint64_t sent_bytes;
    uint64_t send_errors;         /* refused by the kernel (buffer full,
                                   * no route, wrong family) or a
                                   * connection that could not be made */
    uint64_t filter_lost;         /* dropped on send by the filter's loss */
    uint64_t filter_partitioned;  /* dropped on send by a partition */

    /* Input the transport drops itself, each counted once. */
    uint64_t oversize;            /* UDP datagrams longer than Size; TCP
                                   * length prefixes above Size (the
                                   * connection is closed) */
    uint64_t read_errors;         /* reads that failed (not EAGAIN) */
    uint64_t kernel_dropped;      /* UDP datagrams the kernel dropped at
                                   * this socket's full receive buffer
                                   * (SO_RXQ_OVFL; as of the last datagram
                                   * read) */
    uint64_t busy_wakeups;        /* wakeups that stopped at
                                   * reads_per_wakeup (input may be left
                                   * for the next one) */

    /* TCP connections. */
    uint64_t tcp_accepted;
    uint64_t tcp_accept_refused;  /* closed at once: tcp_max_accepted */
    uint64_t tcp_timeouts;        /* closed: no frame within the read
                                   * timeout (silent or stalled peer), or
                                   * a connect that did not complete */
    uint64_t tcp_truncated;       /* closed by the peer mid-frame */
    uint64_t tcp_idle_closed;     /* closed after the idle timeout */
    uint64_t tcp_connects;        /* outgoing connections opened */
    uint64_t tcp_evicted;         /* outgoing connections closed as least
                                   * recently used beyond tcp_pool */
    uint64_t tcp_send_dropped;    /* messages dropped: send buffer full,
                                   * or queued on a connection that failed
                                   * or was closed */
    uint32_t tcp_open_out;        /* outgoing connections open now */
    uint32_t tcp_open_in;         /* accepted connections open now */

    uint64_t print_suppressed;    /* console lines over print_rate */

    /* The delay hook. */
    uint64_t delayed;             /* messages that waited in the delay
                                   * queue (sent, counted in `sent`, when
                                   * they left) */
    uint64_t delay_dropped;       /* messages dropped at the full delay
                                   * queue */
    uint32_t delay_pending;       /* messages waiting now (dropped if the
                                   * transport is freed) */
} peko_transport_counters;

/* Copies the transport's counters into *out. Cannot fail. */
PEKO_API void peko_transport_stats(const peko_transport *tp,
                                   peko_transport_counters *out);

#ifdef __cplusplus
}
#endif

#endif /* PEKO_TRANSPORT_H */
