/* testbed.h: runs one scenario on real sockets and records it.
 *
 * Every node of the scenario is a real engine on a real socket
 * (peko_transport) bound to the loopback. run_testbed() runs them all in
 * this process on one GLib main loop: one recorder and one fault filter
 * serve them all, the timeline is applied at its times by the same loop
 * that runs the nodes, and a node costs a socket and a few timers, not a
 * process. The price is one core: the nodes share it.
 * run_testbed_workers() splits the nodes over several such processes,
 * each running run_testbed() on its share, and combines their
 * recordings into one run. docs/testbed.md has the details.
 *
 * What the simulator models, the testbed emulates where it can: the
 * scenario's latency by a delay per message (the transport's delay hook,
 * drawn from the scenario's distributions with a seeded stream per
 * node), loss and partitions by the transport's fault filter (seeded from
 * the run seed), crashes by freeing a node's transport, restarts by a
 * fresh one on the same port, pauses by the transport's pause.
 * Duplication, bandwidth and clock skew are not emulated
 * (run_testbed_notes() says which of them a scenario asks for).
 */
#ifndef RUN_TESTBED_H
#define RUN_TESTBED_H

#include <glib.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture.h"
#include "scenario.h"

typedef struct run_testbed_options {
    const char *db_path;      /* where to record; required */
    const char *capture_path; /* pcap file of a live capture on the
                               * loopback; NULL: no capture */
    bool print;               /* the engines' console lines on stdout */
    /* Called every 100 ms of the run with its time, the live nodes and
     * the packets handed to engines so far (NULL: none). */
    void (*progress)(void *user, int64_t now_us, int64_t end_us,
                     size_t live, uint64_t deliveries);
    void *progress_user;
    /* Set (by a signal handler) to stop early: the run is then recorded
     * as incomplete. May be NULL. */
    volatile sig_atomic_t *stop;
    /* With workers (run_testbed_workers): called once every worker has
     * bound its nodes and been given the start time, with their process
     * ids (NULL: none). */
    void (*started)(void *user, const pid_t *pids, size_t n);
    void *started_user;
    /* One worker of several (run_testbed_workers() sets these): this
     * process runs only its share of the nodes, a contiguous block, and
     * learns the others' ports and the common start time from the
     * coordinator over control_fd. workers 0 or 1: every node here. */
    size_t workers;
    size_t worker;             /* 0 .. workers-1 */
    int control_fd;
} run_testbed_options;

/* What the capture saw against what the engines said they sent. */
typedef struct run_testbed_capture {
    tp_capture_stats stats;                   /* the capture's counts */
    uint64_t engine_sent[PEKO_MSG_TYPE_COUNT];  /* sum of peko_stats.sent */
    uint64_t engine_sent_bytes[PEKO_MSG_TYPE_COUNT];
    /* Sent by the engines, but never on the wire (any type): */
    uint64_t filter_lost;       /* the filter's loss */
    uint64_t filter_partitioned;
    uint64_t delay_pending;     /* still in a delay queue at the end */
    uint64_t tcp_send_dropped;  /* TCP: dropped before the socket */
    uint64_t kernel_dropped;    /* UDP: dropped at receiving sockets
                                 * (these were on the wire) */
} run_testbed_capture;

typedef struct run_testbed_result {
    int64_t run_id;             /* in the database */
    bool complete;              /* ran to the scenario's end */
    size_t nodes;
    int64_t run_time_us;        /* the run's length, real time */
    double wall_s;              /* the same in seconds */
    double cpu_s;               /* CPU time of the process (user + system) */
    uint64_t deliveries;        /* packets handed to engines */
    int64_t late_max_us;        /* the most a step of the timeline (join,
                                 * event, sample) ran after its time */
    uint64_t delayed;           /* messages the delay hook held */
    uint16_t port_first, port_last; /* the ports the nodes took */
    bool captured;              /* a capture ran: `capture` is filled */
    run_testbed_capture capture;
    long peak_rss_kib;          /* getrusage() after the run; with
                                 * workers, the largest worker's */
    /* With workers (run_testbed_workers): how many, and each one's
     * late_max_us (owned by the result: run_testbed_result_clear). */
    size_t workers;
    int64_t *worker_late_us;
} run_testbed_result;

/* What the scenario asks for that the testbed does not emulate: a
 * NULL-terminated array of sentences (g_strfreev), empty when nothing. */
char **run_testbed_notes(const scn_scenario *sc);

/* Runs `sc` (borrowed) on the loopback to its end or until *opts->stop
 * is set. Returns TRUE with *out filled (an interrupted run is recorded
 * as incomplete and still returns TRUE), or FALSE with *error set when
 * the nodes cannot be bound, the capture cannot be opened (it needs
 * CAP_NET_RAW), the database cannot be written, or applying the
 * timeline failed (a node that could not restart on its port). */
gboolean run_testbed(const scn_scenario *sc, const run_testbed_options *opts,
                     run_testbed_result *out, GError **error);

/* Runs `sc` as run_testbed() does, with its nodes split over `workers`
 * (>= 2) processes: each a fork of this one with its own main loop,
 * sockets, fault filter (drawing each node's own streams, as one process
 * would) and recorder, all starting at one instant of CLOCK_MONOTONIC so
 * the timeline is applied by all at the same real times. Their
 * recordings, in a private directory beside nothing, are combined
 * (combine.h) into one run in opts->db_path; out->late_max_us is the
 * latest any worker ran a step, out->worker_late_us each one's. When
 * *opts->stop is set every worker is stopped and the run recorded as
 * incomplete. A worker that dies fails the run: the others are stopped,
 * nothing is recorded, and *error names the worker and how it ended.
 * Workers die with this process (PR_SET_PDEATHSIG). --capture is not
 * supported with workers (opts->capture_path must be NULL). */
gboolean run_testbed_workers(const scn_scenario *sc,
                             const run_testbed_options *opts, size_t workers,
                             run_testbed_result *out, GError **error);

/* Frees what a result owns. */
void run_testbed_result_clear(run_testbed_result *r);

#endif /* RUN_TESTBED_H */
