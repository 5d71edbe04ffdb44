/* capture.h: live capture of a cluster's traffic with libpcap.
 *
 * For testbeds that run peko on real sockets: a tp_capture listens on an
 * interface (the loopback by default) with a BPF filter on the cluster's
 * UDP or TCP ports, writes every packet it sees to a pcap file, and counts
 * the peko packets in them by message type, so that what crossed the wire
 * can be set against the engines' own counters (peko_stats.sent and
 * sent_bytes): with no packet dropped by the kernel, the two agree
 * exactly. docs/capture.md has the details.
 *
 * Decoding: Ethernet (with VLAN tags), Linux cooked (v1 and v2), BSD
 * loopback and raw IP links; IPv4 and IPv6 (extension headers skipped);
 * UDP, where each datagram is one packet; TCP, where each message is a
 * 4-byte big-endian length and that many packet bytes (the transport's
 * framing), followed across segments per flow. A flow keeps only its
 * position in the framing and at most 8 header bytes, whatever the
 * message sizes; flows are bounded in number (oldest evicted). A later
 * IPv4 or IPv6 fragment is not decoded: the first one carries the UDP
 * header and the packet's first bytes, which is all that counting needs.
 *
 * Capturing needs CAP_NET_RAW (root, or the capability granted to the
 * program). Without it tp_capture_open() fails with
 * TP_CAPTURE_ERROR_PERMISSION and a message saying so.
 *
 * Conventions: as peko.h; opening and closing report through GError.
 * Not thread-safe: a capture is driven from one thread.
 */
#ifndef TP_CAPTURE_H
#define TP_CAPTURE_H

#include <glib.h>
#include <stdint.h>

#include "peko.h"

#define TP_CAPTURE_ERROR (tp_capture_error_quark())

typedef enum tp_capture_error_code {
    TP_CAPTURE_ERROR_INVALID,    /* bad options */
    TP_CAPTURE_ERROR_PERMISSION, /* no CAP_NET_RAW */
    TP_CAPTURE_ERROR_DEVICE,     /* no such interface, or it is down */
    TP_CAPTURE_ERROR_FILTER,     /* the filter did not compile or load */
    TP_CAPTURE_ERROR_FILE,       /* the pcap file could not be written */
    TP_CAPTURE_ERROR_FAILED,     /* anything else libpcap reports */
} tp_capture_error_code;

GQuark tp_capture_error_quark(void);

#define TP_CAPTURE_DEFAULT_INTERFACE "lo"
#define TP_CAPTURE_DEFAULT_BUFFER_BYTES (8 * 1024 * 1024)
#define TP_CAPTURE_DEFAULT_MAX_FLOWS 4096
/* Packets handled per dispatch of the GSource, so a flood cannot hold
 * the main loop; the rest waits for the next iteration. */
#define TP_CAPTURE_PACKETS_PER_WAKEUP 1024

typedef struct tp_capture tp_capture;

typedef struct tp_capture_options {
    const char *interface;   /* NULL: "lo" */
    peko_protocol protocol;  /* the filter selects UDP or TCP */
    const uint16_t *ports;   /* the cluster's ports, borrowed for the call */
    size_t port_count;       /* at least 1 */
    int size;                /* the engines' Size (largest packet, bytes);
                              * 0 means 16384. Sets the snap length */
    const char *pcap_path;   /* file to write every packet to; NULL: none */
    int buffer_bytes;        /* kernel capture buffer; 0 means 8 MiB */
    size_t max_flows;        /* TCP flows followed at once; 0 means 4096 */
    bool immediate;          /* libpcap's immediate mode: each packet at
                              * once, but each takes a ring slot of the
                              * snap length (64 TCP slots in 8 MiB), so
                              * bursts overflow it. false (the default):
                              * packets packed in the ring and handed over
                              * within 5 ms */
} tp_capture_options;

typedef struct tp_capture_stats {
    /* Peko packets by message type (peko_msg_type), counted when the
     * whole packet has gone by (over TCP, its last byte). Index 0 counts
     * datagrams and TCP messages that are not peko packets (no magic,
     * another version, an unknown type). */
    uint64_t packets[PEKO_MSG_TYPE_COUNT];
    /* Their sizes as the engine counts them: the packet's bytes, without
     * IP, UDP or TCP headers and without the TCP length prefix. */
    uint64_t bytes[PEKO_MSG_TYPE_COUNT];
    uint64_t frames;         /* link-layer frames handed over by libpcap */
    uint64_t undecoded;      /* frames not decoded: unknown link or network
                              * protocol, later fragments, headers cut */
    uint64_t cut;            /* frames captured shorter than they were
                              * (snap length); over TCP their flow resyncs */
    uint64_t tcp_gaps;       /* TCP data missed in a flow (the flow began
                              * before the capture, a segment was dropped or
                              * cut): messages in the gap are not counted */
    uint64_t tcp_bad_frames; /* length prefixes no peko packet can have
                              * (above Size): the flow resyncs */
    uint64_t tcp_flows_evicted; /* flows dropped at max_flows */
    uint64_t written;        /* records written to the pcap file */
    /* libpcap's pcap_stats(): packets the kernel passed through the
     * filter (ps_recv), dropped for lack of buffer space (ps_drop), and
     * dropped by the interface or its driver (ps_ifdrop). All 0 with
     * kernel_stats false when libpcap could not read them. */
    bool kernel_stats;
    uint64_t kernel_received;
    uint64_t kernel_dropped;
    uint64_t interface_dropped;
} tp_capture_stats;

/* Fills *options with the defaults written out (no ports). */
void tp_capture_options_init(tp_capture_options *options);

/* The BPF filter for the ports: "udp and (port 7000 or portrange
 * 7002-7009)" (tcp for PEKO_PROTOCOL_TCP), runs of consecutive ports
 * written as ranges, ports sorted and duplicates removed. Returns a new
 * string (g_free), or NULL if port_count is 0 or a port is 0. */
char *tp_capture_filter_new(peko_protocol protocol, const uint16_t *ports,
                              size_t port_count);

/* Opens a live capture as *options say: non-blocking, a snap length
 * covering Size plus headers (for TCP the largest IP packet, as the
 * loopback hands over segments of up to 64 KiB), the port filter, and
 * the pcap file when asked for. Packets the kernel took before the filter
 * was in place are discarded, and the kernel's counters start from 0.
 * Returns the capture, or NULL with *error set (TP_CAPTURE_ERROR) and
 * nothing left open. */
tp_capture *tp_capture_open(const tp_capture_options *options,
                                GError **error);

/* The file descriptor to poll for input (readable when packets wait). */
int tp_capture_fd(const tp_capture *capture);

/* Handles the packets that are waiting, at most max_packets (0: no
 * bound). Never blocks. Returns the number handled, or -EIO when libpcap
 * fails (the message is logged with g_warning). */
int tp_capture_drain(tp_capture *capture, size_t max_packets);

/* A GSource that drains the capture whenever its descriptor is readable,
 * TP_CAPTURE_PACKETS_PER_WAKEUP packets per dispatch. The caller
 * attaches it (g_source_attach) and owns the reference; destroy it before
 * closing the capture. */
GSource *tp_capture_source_new(tp_capture *capture);

/* The counts so far, and the kernel's counters as of now. */
void tp_capture_get_stats(tp_capture *capture, tp_capture_stats *out);

/* Drains what is waiting (waiting up to 20 ms for what the kernel has
 * not handed over yet), reads the final counters into *out (may be
 * NULL), flushes and closes the pcap file and frees the capture. Returns
 * FALSE with *error set if writing the file failed at any point (the
 * capture is freed and *out filled anyway). NULL is a no-op returning
 * TRUE. */
gboolean tp_capture_close(tp_capture *capture, tp_capture_stats *out,
                            GError **error);

#endif /* TP_CAPTURE_H */
