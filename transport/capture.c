/* capture.c: live capture and per-type counting (capture.h).
 *
 * libpcap does the capturing and the writing; this file builds the
 * filter, walks each frame's headers down to the UDP or TCP payload, and
 * counts peko packets. Every header length is checked against the bytes
 * captured before it is read.
 *
 * TCP: each flow (one direction of a connection) is followed by sequence
 * number. A flow is "aligned" when it knows where the next message
 * begins: from its SYN, or after a resync, which looks in a segment for a
 * length prefix followed by a plausible header whose lengths agree (the
 * first segment of a flow whose SYN was not seen, and after a gap). An
 * aligned flow collects the 4-byte prefix and the packet's first 4 bytes
 * (magic, version, type) in `hdr`, then only counts down the bytes left
 * in the message: payloads are never stored.
 */
#include "capture.h"

#include <errno.h>
#include <glib-unix.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_HEADER_BYTES PEKO_WIRE_HEADER_BYTES
#define PREFIX_BYTES 4
/* Link, IPv6 and UDP headers with room for VLAN tags and extension
 * headers: what the snap length adds to Size for UDP. */
#define HEADROOM_BYTES 256
/* A TCP segment handed over by the loopback can hold up to a whole IP
 * packet, whatever Size is (segmentation offload). */
#define TCP_SNAPLEN (65535 + HEADROOM_BYTES)

/* Longest a packet waits in the kernel before it is handed over, when
 * not in immediate mode. */
#define DELIVERY_MS 5
/* The longest a closing capture keeps reading what the kernel holds. */
#define CLOSE_DRAIN_MAX_MS 1000

/* A resync recognises a message by its prefix and 12-byte header. */
#define SCAN_BYTES (PREFIX_BYTES + WIRE_HEADER_BYTES - 1)

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88A8
#define IPPROTO_UDP_ 17
#define IPPROTO_TCP_ 6

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

G_DEFINE_QUARK(peko-capture-error-quark, tp_capture_error)

typedef struct cap_flow_key {
    uint8_t family;     /* 4 or 6 */
    uint8_t pad;
    uint16_t sport, dport;
    uint8_t src[16], dst[16];
} cap_flow_key;

typedef struct cap_flow {
    cap_flow_key key;      /* first: the hash table's key */
    uint32_t next_seq;     /* sequence number of the next byte expected */
    bool aligned;          /* at a known place in the framing */
    uint8_t hdr[PREFIX_BYTES + 4]; /* prefix and the packet's first bytes */
    uint8_t hdr_len;
    /* Unaligned: the last bytes seen, too few to tell whether a message
     * begins among them (a resync needs the prefix and a whole header). */
    uint8_t scan[SCAN_BYTES];
    uint8_t scan_len;
    uint32_t frame_len;    /* the current message's packet bytes */
    uint32_t remaining;    /* of which still to come (0: in the header) */
    int frame_type;        /* its type (0: not a peko packet) */
    uint64_t last_used;    /* capture-wide counter, for eviction */
} cap_flow;

struct tp_capture {
    pcap_t *pcap;
    pcap_dumper_t *dumper;       /* NULL: no file */
    char *path;                  /* for messages */
    bool write_failed;
    int linktype;
    peko_protocol protocol;
    uint32_t size;               /* largest packet (Size) */
    size_t max_flows;
    GHashTable *flows;           /* cap_flow_key -> cap_flow (owned) */
    uint64_t tick;
    tp_capture_stats st;
    struct pcap_stat base;       /* the kernel's counters at open */
};

/* ------------------------------------------------------------------ */
/* Options and the filter.                                             */

void tp_capture_options_init(tp_capture_options *o)
{
    memset(o, 0, sizeof *o);
    o->interface = TP_CAPTURE_DEFAULT_INTERFACE;
    o->protocol = PEKO_PROTOCOL_UDP;
    o->size = PEKO_DEFAULT_SIZE;
    o->buffer_bytes = TP_CAPTURE_DEFAULT_BUFFER_BYTES;
    o->max_flows = TP_CAPTURE_DEFAULT_MAX_FLOWS;
}

static int compare_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

char *tp_capture_filter_new(peko_protocol protocol, const uint16_t *ports,
                              size_t port_count)
{
    if (port_count == 0 || ports == NULL)
        return NULL;
    uint16_t *sorted = g_new(uint16_t, port_count);
    memcpy(sorted, ports, port_count * sizeof *ports);
    qsort(sorted, port_count, sizeof *sorted, compare_u16);
    if (sorted[0] == 0) {
        g_free(sorted);
        return NULL;
    }
    GString *s = g_string_new(protocol == PEKO_PROTOCOL_TCP ? "tcp" : "udp");
    g_string_append(s, " and (");
    size_t i = 0;
    bool first = true;
    while (i < port_count) {
        size_t j = i;
        /* The run of consecutive ports from i (duplicates absorbed). */
        while (j + 1 < port_count &&
               (sorted[j + 1] == sorted[j] || sorted[j + 1] == sorted[j] + 1))
            j++;
        if (!first)
            g_string_append(s, " or ");
        first = false;
        if (sorted[j] == sorted[i])
            g_string_append_printf(s, "port %u", sorted[i]);
        else
            g_string_append_printf(s, "portrange %u-%u", sorted[i],
                                   sorted[j]);
        i = j + 1;
    }
    g_string_append_c(s, ')');
    g_free(sorted);
    return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------------ */
/* Counting.                                                           */

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* The message type of a packet from its first n bytes (at most 4 are
 * read), or 0 when it is not a peko packet of a known type. */
static int classify(const uint8_t *p, size_t n)
{
    return (int)peko_wire_type(p, n);
}

static void count(tp_capture *c, int type, uint64_t n_bytes)
{
    c->st.packets[type]++;
    c->st.bytes[type] += n_bytes;
}

/* ------------------------------------------------------------------ */
/* TCP flows.                                                           */

static guint flow_hash(gconstpointer k)
{
    const uint8_t *p = k;
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < sizeof(cap_flow_key); i++)
        h = (h ^ p[i]) * 0x01000193u;
    return h;
}

static gboolean flow_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(cap_flow_key)) == 0;
}

/* Makes room for one more flow: drops the least recently used. */
static void evict_oldest(tp_capture *c)
{
    GHashTableIter it;
    gpointer key, value;
    cap_flow *oldest = NULL;
    g_hash_table_iter_init(&it, c->flows);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        cap_flow *f = value;
        if (oldest == NULL || f->last_used < oldest->last_used)
            oldest = f;
    }
    if (oldest) {
        g_hash_table_remove(c->flows, &oldest->key);
        c->st.tcp_flows_evicted++;
    }
}

static cap_flow *flow_new(tp_capture *c, const cap_flow_key *key)
{
    if (g_hash_table_size(c->flows) >= c->max_flows)
        evict_oldest(c);
    cap_flow *f = g_new0(cap_flow, 1);
    f->key = *key;
    g_hash_table_insert(c->flows, &f->key, f);
    return f;
}

static void flow_unalign(cap_flow *f)
{
    f->aligned = false;
    f->hdr_len = 0;
    f->scan_len = 0;
    f->remaining = 0;
}

/* The offset in p[0, n) of the first place that looks like the start of
 * a framed message: a prefix equal to the length its header announces,
 * at most Size. Returns n if there is none. */
static size_t find_frame(const tp_capture *c, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + PREFIX_BYTES + WIRE_HEADER_BYTES <= n; i++) {
        peko_msg_type type;
        uint64_t want = peko_wire_packet_bytes(p + i + PREFIX_BYTES, &type);
        if (want != 0 && want == get32(p + i) && want <= c->size)
            return i;
    }
    return n;
}

static void flow_feed(tp_capture *c, cap_flow *f, const uint8_t *p,
                      size_t n);

/* An unaligned flow looks for a message start in the bytes it kept and
 * the new ones. Returns how many of p's bytes it used up: all of them
 * when it found nothing (the last few are kept in f->scan), or those
 * before the start it found (the flow is then aligned there, and the
 * kept bytes from that start on have been fed). */
static size_t flow_resync(tp_capture *c, cap_flow *f, const uint8_t *p,
                          size_t n)
{
    if (f->scan_len > 0) {
        /* A start among the kept bytes, completed by the new ones. */
        uint8_t tmp[2 * SCAN_BYTES];
        size_t add = MIN(n, (size_t)SCAN_BYTES);
        memcpy(tmp, f->scan, f->scan_len);
        memcpy(tmp + f->scan_len, p, add);
        size_t at = find_frame(c, tmp, f->scan_len + add);
        if (at < f->scan_len) {
            uint8_t kept[SCAN_BYTES];
            size_t n_kept = f->scan_len - at;
            memcpy(kept, f->scan + at, n_kept);
            f->aligned = true;
            f->scan_len = 0;
            flow_feed(c, f, kept, n_kept);
            return 0;
        }
    }
    size_t at = find_frame(c, p, n);
    if (at < n) {
        f->aligned = true;
        f->scan_len = 0;
        return at;
    }
    /* Nothing yet: keep the tail, where a start may still be completed. */
    size_t total = f->scan_len + n;
    size_t keep = MIN(total, (size_t)SCAN_BYTES);
    uint8_t tmp[SCAN_BYTES];
    for (size_t i = 0; i < keep; i++) {
        size_t k = total - keep + i; /* index into scan ++ p */
        tmp[i] = k < f->scan_len ? f->scan[k] : p[k - f->scan_len];
    }
    memcpy(f->scan, tmp, keep);
    f->scan_len = (uint8_t)keep;
    return n;
}

/* Feeds in-order payload bytes to an aligned or unaligned flow. */
static void flow_feed(tp_capture *c, cap_flow *f, const uint8_t *p,
                      size_t n)
{
    while (n > 0) {
        if (!f->aligned) {
            size_t used = flow_resync(c, f, p, n);
            p += used;
            n -= used;
            continue;
        }
        if (f->remaining > 0) {
            size_t take = MIN((size_t)f->remaining, n);
            f->remaining -= (uint32_t)take;
            p += take;
            n -= take;
            if (f->remaining == 0)
                count(c, f->frame_type, f->frame_len);
            continue;
        }
        /* In the header: the prefix, then up to 4 packet bytes. */
        size_t need = PREFIX_BYTES;
        if (f->hdr_len >= PREFIX_BYTES)
            need += MIN((size_t)4, (size_t)get32(f->hdr));
        if (f->hdr_len < need) {
            size_t take = MIN(need - f->hdr_len, n);
            memcpy(f->hdr + f->hdr_len, p, take);
            f->hdr_len = (uint8_t)(f->hdr_len + take);
            p += take;
            n -= take;
            if (f->hdr_len == PREFIX_BYTES)
                continue; /* now the length says how much more to take */
            if (f->hdr_len < need)
                return;
        }
        uint32_t len = get32(f->hdr);
        if (len > c->size) {
            /* The transport closes such a connection; whatever follows
             * is not framed as we think. */
            c->st.tcp_bad_frames++;
            flow_unalign(f);
            continue;
        }
        size_t got = f->hdr_len - PREFIX_BYTES;
        f->frame_len = len;
        f->frame_type = classify(f->hdr + PREFIX_BYTES, got);
        f->remaining = len - (uint32_t)got;
        f->hdr_len = 0;
        if (f->remaining == 0)
            count(c, f->frame_type, len);
    }
}

static void on_tcp(tp_capture *c, const cap_flow_key *key, const uint8_t *tcp,
                   size_t tcp_cap, size_t tcp_len)
{
    size_t hlen = (size_t)(tcp[12] >> 4) * 4;
    if (hlen < 20 || hlen > tcp_len) {
        c->st.undecoded++;
        return;
    }
    uint32_t seq = get32(tcp + 4);
    uint8_t flags = tcp[13];
    size_t n_wire = tcp_len - hlen;
    size_t n_cap = tcp_cap > hlen ? MIN(tcp_cap - hlen, n_wire) : 0;
    const uint8_t *p = tcp + hlen;
    c->tick++;

    cap_flow *f = g_hash_table_lookup(c->flows, key);
    if (flags & TCP_SYN) {
        if (f == NULL)
            f = flow_new(c, key);
        flow_unalign(f);
        f->aligned = true; /* the stream begins after the SYN */
        seq++;
        f->next_seq = seq;
    }
    if (n_wire > 0) {
        if (f == NULL) {
            /* Data of a connection opened before the capture. */
            f = flow_new(c, key);
            f->next_seq = seq;
            flow_unalign(f);
        }
        int32_t ahead = (int32_t)(seq - f->next_seq);
        size_t skip = 0;
        if (ahead < 0) {
            /* A retransmission, all or part of it already seen. */
            skip = (size_t)-(int64_t)ahead;
        } else if (ahead > 0) {
            c->st.tcp_gaps++;
            flow_unalign(f);
        }
        if (skip < n_wire) {
            if (skip < n_cap)
                flow_feed(c, f, p + skip, n_cap - skip);
            if (n_cap < n_wire) {
                /* Bytes on the wire but not in the capture. */
                c->st.tcp_gaps++;
                flow_unalign(f);
            }
            f->next_seq = seq + (uint32_t)n_wire;
        }
    }
    if (f != NULL) {
        f->last_used = c->tick;
        if (flags & (TCP_FIN | TCP_RST))
            g_hash_table_remove(c->flows, key);
    }
}

/* ------------------------------------------------------------------ */
/* Frames.                                                             */

/* A transport payload: `l4` points at the UDP or TCP header, with
 * l4_cap bytes captured of l4_len on the wire. */
static void on_transport(tp_capture *c, cap_flow_key *key, int proto,
                         const uint8_t *l4, size_t l4_cap, size_t l4_len)
{
    if (proto == IPPROTO_UDP_ && c->protocol == PEKO_PROTOCOL_UDP) {
        if (l4_cap < 8) {
            c->st.undecoded++;
            return;
        }
        size_t udp_len = get16(l4 + 4);
        if (udp_len < 8) {
            c->st.undecoded++;
            return;
        }
        size_t n_wire = udp_len - 8;
        size_t n_cap = MIN(l4_cap - 8, n_wire);
        if (n_cap < MIN(n_wire, (size_t)4)) {
            c->st.undecoded++; /* the type byte was not captured */
            return;
        }
        count(c, classify(l4 + 8, n_cap), n_wire);
    } else if (proto == IPPROTO_TCP_ && c->protocol == PEKO_PROTOCOL_TCP) {
        if (l4_cap < 20) {
            c->st.undecoded++;
            return;
        }
        key->sport = get16(l4);
        key->dport = get16(l4 + 2);
        on_tcp(c, key, l4, l4_cap, l4_len);
    } else {
        c->st.undecoded++;
    }
}

static void on_ipv4(tp_capture *c, const uint8_t *ip, size_t cap)
{
    if (cap < 20 || (ip[0] >> 4) != 4) {
        c->st.undecoded++;
        return;
    }
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    size_t total = get16(ip + 2);
    if (total == 0)
        total = cap; /* segmentation offload: the length is left out */
    if (ihl < 20 || ihl > cap || total < ihl) {
        c->st.undecoded++;
        return;
    }
    if (get16(ip + 6) & 0x1fff) {
        c->st.undecoded++; /* a later fragment: counted with the first */
        return;
    }
    cap_flow_key key;
    memset(&key, 0, sizeof key);
    key.family = 4;
    memcpy(key.src, ip + 12, 4);
    memcpy(key.dst, ip + 16, 4);
    /* The first fragment's transport length is the datagram's own: UDP's
     * length field gives it. TCP never fragments here (DF, MSS). */
    on_transport(c, &key, ip[9], ip + ihl, MIN(cap, total) - ihl,
                 total - ihl);
}

static void on_ipv6(tp_capture *c, const uint8_t *ip, size_t cap)
{
    if (cap < 40 || (ip[0] >> 4) != 6) {
        c->st.undecoded++;
        return;
    }
    size_t len = 40 + (size_t)get16(ip + 4);
    cap_flow_key key;
    memset(&key, 0, sizeof key);
    key.family = 6;
    memcpy(key.src, ip + 8, 16);
    memcpy(key.dst, ip + 24, 16);
    int next = ip[6];
    size_t off = 40;
    /* Extension headers, a bounded number of them. */
    for (int hops = 0; hops < 8; hops++) {
        if (next == 0 || next == 43 || next == 60 || next == 51 ||
            next == 44) {
            if (off + 8 > cap) {
                c->st.undecoded++;
                return;
            }
            const uint8_t *h = ip + off;
            size_t hl;
            if (next == 44) {
                if (get16(h + 2) & 0xfff8) {
                    c->st.undecoded++; /* a later fragment */
                    return;
                }
                hl = 8;
            } else if (next == 51) {
                hl = ((size_t)h[1] + 2) * 4; /* AH counts 4-byte words */
            } else {
                hl = ((size_t)h[1] + 1) * 8;
            }
            next = h[0];
            off += hl;
            continue;
        }
        break;
    }
    if (off > cap || off > len) {
        c->st.undecoded++;
        return;
    }
    on_transport(c, &key, next, ip + off, MIN(cap, len) - off, len - off);
}

static void on_network(tp_capture *c, unsigned ethertype, const uint8_t *p,
                       size_t cap)
{
    if (ethertype == ETHERTYPE_IPV4)
        on_ipv4(c, p, cap);
    else if (ethertype == ETHERTYPE_IPV6)
        on_ipv6(c, p, cap);
    else
        c->st.undecoded++;
}

/* Network-layer type from an IP version nibble (raw IP links). */
static unsigned ethertype_of_version(const uint8_t *p, size_t cap)
{
    if (cap < 1)
        return 0;
    return (p[0] >> 4) == 4 ? ETHERTYPE_IPV4
         : (p[0] >> 4) == 6 ? ETHERTYPE_IPV6 : 0;
}

/* BSD loopback families: AF_INET is 2 everywhere, AF_INET6 varies. */
static unsigned ethertype_of_family(uint32_t family)
{
    if (family == 2)
        return ETHERTYPE_IPV4;
    if (family == 10 || family == 24 || family == 28 || family == 30)
        return ETHERTYPE_IPV6;
    return 0;
}

static void on_frame(tp_capture *c, const struct pcap_pkthdr *h,
                     const uint8_t *p)
{
    size_t cap = h->caplen;
    c->st.frames++;
    if (h->caplen < h->len)
        c->st.cut++;
    switch (c->linktype) {
    case DLT_EN10MB: {
        if (cap < 14)
            break;
        size_t off = 12;
        unsigned type = get16(p + off);
        while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) &&
               off + 6 <= cap) {
            off += 4;
            type = get16(p + off);
        }
        off += 2;
        if (off > cap)
            break;
        on_network(c, type, p + off, cap - off);
        return;
    }
    case DLT_LINUX_SLL:
        if (cap < 16)
            break;
        on_network(c, get16(p + 14), p + 16, cap - 16);
        return;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        if (cap < 20)
            break;
        on_network(c, get16(p), p + 20, cap - 20);
        return;
#endif
    case DLT_NULL:
    case DLT_LOOP: {
        if (cap < 4)
            break;
        uint32_t fam;
        if (c->linktype == DLT_LOOP) {
            fam = get32(p);
        } else {
            memcpy(&fam, p, 4); /* host order */
        }
        on_network(c, ethertype_of_family(fam), p + 4, cap - 4);
        return;
    }
    case DLT_RAW:
#ifdef DLT_IPV4
    case DLT_IPV4:
#endif
#ifdef DLT_IPV6
    case DLT_IPV6:
#endif
        on_network(c, ethertype_of_version(p, cap), p, cap);
        return;
    default:
        break;
    }
    c->st.undecoded++;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *bytes)
{
    tp_capture *c = (tp_capture *)user;
    if (c->dumper) {
        pcap_dump((u_char *)c->dumper, h, bytes);
        c->st.written++;
    }
    on_frame(c, h, bytes);
}

/* ------------------------------------------------------------------ */
/* Opening, draining, closing.                                         */

static void free_capture(tp_capture *c)
{
    if (c->dumper)
        pcap_dump_close(c->dumper);
    if (c->pcap)
        pcap_close(c->pcap);
    if (c->flows)
        g_hash_table_destroy(c->flows);
    g_free(c->path);
    g_free(c);
}

static void discard(u_char *user, const struct pcap_pkthdr *h,
                    const u_char *bytes)
{
}

/* The error of a failed pcap_activate(), with what to do about it. */
static void activate_error(GError **error, pcap_t *p, const char *dev,
                           int rc)
{
    switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
        g_set_error(error, TP_CAPTURE_ERROR,
                    TP_CAPTURE_ERROR_PERMISSION,
                    "capturing on %s is not permitted: it needs "
                    "CAP_NET_RAW (run as root, or grant the program "
                    "cap_net_raw with setcap) (%s)",
                    dev, pcap_geterr(p));
        return;
    case PCAP_ERROR_NO_SUCH_DEVICE:
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_DEVICE,
                    "capturing on %s: no such interface (%s)", dev,
                    pcap_geterr(p));
        return;
    case PCAP_ERROR_IFACE_NOT_UP:
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_DEVICE,
                    "capturing on %s: the interface is down", dev);
        return;
    default:
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FAILED,
                    "capturing on %s: %s (%s)", dev, pcap_statustostr(rc),
                    pcap_geterr(p));
        return;
    }
}

tp_capture *tp_capture_open(const tp_capture_options *o, GError **error)
{
    g_return_val_if_fail(o != NULL, NULL);
    const char *dev = o->interface ? o->interface
                                   : TP_CAPTURE_DEFAULT_INTERFACE;
    if (o->size < 0 || o->buffer_bytes < 0 ||
        (o->protocol != PEKO_PROTOCOL_UDP &&
         o->protocol != PEKO_PROTOCOL_TCP)) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_INVALID,
                    "capture: bad options (size %d, buffer %d bytes)",
                    o->size, o->buffer_bytes);
        return NULL;
    }
    char *filter = tp_capture_filter_new(o->protocol, o->ports,
                                           o->port_count);
    if (filter == NULL) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_INVALID,
                    "capture: no ports to filter on (or port 0)");
        return NULL;
    }

    tp_capture *c = g_new0(tp_capture, 1);
    c->protocol = o->protocol;
    c->size = (uint32_t)(o->size ? o->size : PEKO_DEFAULT_SIZE);
    c->max_flows = o->max_flows ? o->max_flows
                                : TP_CAPTURE_DEFAULT_MAX_FLOWS;
    c->flows = g_hash_table_new_full(flow_hash, flow_equal, NULL, g_free);

    char errbuf[PCAP_ERRBUF_SIZE] = "";
    c->pcap = pcap_create(dev, errbuf);
    if (c->pcap == NULL) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FAILED,
                    "capturing on %s: %s", dev, errbuf);
        goto fail;
    }
    int snaplen = c->protocol == PEKO_PROTOCOL_TCP
                      ? TCP_SNAPLEN
                      : (int)MIN((uint64_t)c->size + HEADROOM_BYTES,
                                 (uint64_t)TCP_SNAPLEN);
    pcap_set_snaplen(c->pcap, snaplen);
    pcap_set_promisc(c->pcap, 0);
    /* Immediate mode hands each packet over at once, but libpcap then
     * gives every packet a ring slot of the snap length; otherwise
     * packets are packed and handed over within the timeout. */
    pcap_set_immediate_mode(c->pcap, o->immediate);
    pcap_set_timeout(c->pcap, DELIVERY_MS);
    pcap_set_buffer_size(c->pcap, o->buffer_bytes
                                      ? o->buffer_bytes
                                      : TP_CAPTURE_DEFAULT_BUFFER_BYTES);
    int rc = pcap_activate(c->pcap);
    if (rc < 0) {
        activate_error(error, c->pcap, dev, rc);
        goto fail;
    }
    c->linktype = pcap_datalink(c->pcap);

    struct bpf_program prog;
    if (pcap_compile(c->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FILTER,
                    "capture filter \"%s\": %s", filter,
                    pcap_geterr(c->pcap));
        goto fail;
    }
    rc = pcap_setfilter(c->pcap, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FILTER,
                    "capture filter \"%s\" on %s: %s", filter, dev,
                    pcap_geterr(c->pcap));
        goto fail;
    }
    if (pcap_setnonblock(c->pcap, 1, errbuf) < 0) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FAILED,
                    "capturing on %s: %s", dev, errbuf);
        goto fail;
    }
    if (pcap_get_selectable_fd(c->pcap) < 0) {
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FAILED,
                    "capturing on %s: no descriptor to poll", dev);
        goto fail;
    }
    /* Until the filter was in place the kernel took every packet on the
     * interface: throw those away, and count drops from here on. */
    while (pcap_dispatch(c->pcap, -1, discard, NULL) > 0)
        ;
    if (pcap_stats(c->pcap, &c->base) != 0)
        memset(&c->base, 0, sizeof c->base);
    if (o->pcap_path) {
        c->path = g_strdup(o->pcap_path);
        c->dumper = pcap_dump_open(c->pcap, o->pcap_path);
        if (c->dumper == NULL) {
            g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FILE,
                        "%s: %s", o->pcap_path, pcap_geterr(c->pcap));
            goto fail;
        }
    }
    g_free(filter);
    return c;

fail:
    g_free(filter);
    free_capture(c);
    return NULL;
}

int tp_capture_fd(const tp_capture *c)
{
    return pcap_get_selectable_fd(c->pcap);
}

int tp_capture_drain(tp_capture *c, size_t max_packets)
{
    size_t done = 0;
    while (max_packets == 0 || done < max_packets) {
        size_t want = max_packets ? MIN(max_packets - done, (size_t)4096)
                                  : 4096;
        int n = pcap_dispatch(c->pcap, (int)want, on_packet, (u_char *)c);
        if (n < 0) {
            g_warning("capture: %s", pcap_geterr(c->pcap));
            return -EIO;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    if (c->dumper) {
        FILE *f = pcap_dump_file(c->dumper);
        if (f && ferror(f))
            c->write_failed = true;
    }
    return (int)MIN(done, (size_t)G_MAXINT);
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer user)
{
    tp_capture_drain(user, TP_CAPTURE_PACKETS_PER_WAKEUP);
    return G_SOURCE_CONTINUE;
}

GSource *tp_capture_source_new(tp_capture *c)
{
    GSource *s = g_unix_fd_source_new(tp_capture_fd(c), G_IO_IN);
    g_source_set_callback(s, G_SOURCE_FUNC(on_readable), c, NULL);
    g_source_set_name(s, "peko-capture");
    return s;
}

void tp_capture_get_stats(tp_capture *c, tp_capture_stats *out)
{
    struct pcap_stat ps;
    c->st.kernel_stats = pcap_stats(c->pcap, &ps) == 0;
    if (c->st.kernel_stats) {
        /* 32-bit counters: the differences are right across a wrap. */
        c->st.kernel_received = (uint32_t)(ps.ps_recv - c->base.ps_recv);
        c->st.kernel_dropped = (uint32_t)(ps.ps_drop - c->base.ps_drop);
        c->st.interface_dropped =
            (uint32_t)(ps.ps_ifdrop - c->base.ps_ifdrop);
    }
    *out = c->st;
}

gboolean tp_capture_close(tp_capture *c, tp_capture_stats *out,
                            GError **error)
{
    if (c == NULL)
        return TRUE;
    /* What the kernel still holds is handed over within DELIVERY_MS of
     * its arrival. One wait was not always enough on a busy machine (48
     * of 14,686 packets were left in the kernel once, with both cores
     * taken by other work): keep reading until the capture stays quiet
     * for four such periods, a second at most. */
    tp_capture_drain(c, 0);
    struct pollfd pfd = {.fd = tp_capture_fd(c), .events = POLLIN};
    int64_t deadline_us = g_get_monotonic_time() + CLOSE_DRAIN_MAX_MS * 1000;
    while (g_get_monotonic_time() < deadline_us &&
           poll(&pfd, 1, 4 * DELIVERY_MS) > 0)
        tp_capture_drain(c, 0);
    tp_capture_stats st;
    tp_capture_get_stats(c, &st);
    if (out)
        *out = st;
    gboolean ok = !c->write_failed;
    if (c->dumper) {
        if (pcap_dump_flush(c->dumper) != 0)
            ok = false;
        pcap_dump_close(c->dumper);
        c->dumper = NULL;
    }
    if (!ok)
        g_set_error(error, TP_CAPTURE_ERROR, TP_CAPTURE_ERROR_FILE,
                    "%s: writing the capture failed", c->path);
    free_capture(c);
    return ok;
}
