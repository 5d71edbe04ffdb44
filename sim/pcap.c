/* pcap.c: the capture writer of pcap.h, on libpcap's dump API.
 *
 * Frames are built in one buffer owned by the writer: Ethernet II (14
 * bytes), IPv4 without options (20), UDP (8) or TCP without options (20),
 * then the payload. Multi-byte header fields are big-endian, written byte
 * by byte so host order never matters.
 */
#include "pcap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <string.h>

#define ETH_LEN 14
#define IP4_LEN 20
#define UDP_LEN 8
#define TCP_LEN 20
#define UDP_MAX_PAYLOAD (65535 - IP4_LEN - UDP_LEN) /* 65507 */
#define FRAME_MAX (ETH_LEN + 65535)                  /* largest IPv4 */

struct sim_pcap {
    pcap_t *dead;            /* libpcap handle for the link type */
    pcap_dumper_t *dumper;   /* the open file */
    char *path;              /* for messages */
    uint64_t records;
    bool failed;             /* a write failed; reported at close */
    uint8_t frame[FRAME_MAX];
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The Internet checksum's running sum of big-endian 16-bit words. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (; n >= 2; p += 2, n -= 2)
        sum += ((uint32_t)p[0] << 8) | p[1];
    if (n)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

sim_pcap *sim_pcap_open(const char *path, GError **error)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, SIM_PCAP_SNAPLEN);
    if (dead == NULL) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                    "%s: libpcap could not open a dead handle", path);
        return NULL;
    }
    pcap_dumper_t *dumper = pcap_dump_open(dead, path);
    if (dumper == NULL) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: %s", path,
                    pcap_geterr(dead));
        pcap_close(dead);
        return NULL;
    }
    sim_pcap *p = g_new0(sim_pcap, 1);
    p->dead = dead;
    p->dumper = dumper;
    p->path = g_strdup(path);
    return p;
}

gboolean sim_pcap_close(sim_pcap *p, GError **error)
{
    if (p == NULL)
        return TRUE;
    gboolean ok = !p->failed && pcap_dump_flush(p->dumper) == 0;
    pcap_dump_close(p->dumper);
    pcap_close(p->dead);
    if (!ok)
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO,
                    "%s: writing the capture failed", p->path);
    g_free(p->path);
    g_free(p);
    return ok;
}

uint64_t sim_pcap_records(const sim_pcap *p)
{
    return p->records;
}

static void mac_of(uint8_t *mac, const peko_addr *a)
{
    mac[0] = 0x02; /* locally administered, unicast */
    mac[1] = 0x00;
    memcpy(mac + 2, a->ip, 4);
}

/* Ethernet and IPv4 headers for an IPv4 payload of ip_payload bytes. */
static void put_eth_ip(uint8_t *f, const peko_addr *src, const peko_addr *dst,
                       uint8_t proto, uint16_t ip_id, size_t ip_payload)
{
    mac_of(f, dst);
    mac_of(f + 6, src);
    put16(f + 12, 0x0800); /* IPv4 */
    uint8_t *ip = f + ETH_LEN;
    ip[0] = 0x45;          /* version 4, 5 words */
    ip[1] = 0;             /* DSCP/ECN */
    put16(ip + 2, (uint16_t)(IP4_LEN + ip_payload));
    put16(ip + 4, ip_id);
    put16(ip + 6, 0x4000); /* don't fragment */
    ip[8] = 64;            /* TTL */
    ip[9] = proto;
    put16(ip + 10, 0);
    memcpy(ip + 12, src->ip, 4);
    memcpy(ip + 16, dst->ip, 4);
    put16(ip + 10, fold(sum16(0, ip, IP4_LEN)));
}

/* The sum of the IPv4 pseudo-header UDP and TCP checksums start from. */
static uint32_t pseudo_sum(const peko_addr *src, const peko_addr *dst,
                           uint8_t proto, size_t l4_len)
{
    uint32_t sum = sum16(0, src->ip, 4);
    sum = sum16(sum, dst->ip, 4);
    return sum + proto + (uint32_t)l4_len;
}

static void dump(sim_pcap *p, int64_t ts_us, size_t frame_len)
{
    struct pcap_pkthdr h;
    int64_t s = ts_us / 1000000, us = ts_us % 1000000;
    if (us < 0) {
        s--;
        us += 1000000;
    }
    h.ts.tv_sec = (time_t)s;
    h.ts.tv_usec = (suseconds_t)us;
    h.len = (bpf_u_int32)frame_len;
    h.caplen = (bpf_u_int32)MIN(frame_len, (size_t)SIM_PCAP_SNAPLEN);
    pcap_dump((u_char *)p->dumper, &h, p->frame);
    p->records++;
    FILE *f = pcap_dump_file(p->dumper);
    if (f && ferror(f))
        p->failed = true;
}

void sim_pcap_write_udp(sim_pcap *p, int64_t ts_us, const peko_addr *src,
                        const peko_addr *dst, uint16_t ip_id,
                        const uint8_t *payload, size_t n_bytes)
{
    if (n_bytes > UDP_MAX_PAYLOAD)
        return;
    uint8_t *f = p->frame;
    size_t l4 = UDP_LEN + n_bytes;
    put_eth_ip(f, src, dst, 17, ip_id, l4);
    uint8_t *udp = f + ETH_LEN + IP4_LEN;
    put16(udp, src->port);
    put16(udp + 2, dst->port);
    put16(udp + 4, (uint16_t)l4);
    put16(udp + 6, 0);
    if (n_bytes)
        memcpy(udp + UDP_LEN, payload, n_bytes);
    uint16_t c = fold(sum16(pseudo_sum(src, dst, 17, l4), udp, l4));
    put16(udp + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
    dump(p, ts_us, ETH_LEN + IP4_LEN + l4);
}

void sim_pcap_write_tcp(sim_pcap *p, int64_t ts_us, const peko_addr *src,
                        const peko_addr *dst, uint16_t *ip_id, uint32_t seq,
                        uint32_t ack, const uint8_t *payload, size_t n_bytes)
{
    size_t off = 0;
    do {
        size_t n = MIN(n_bytes - off, (size_t)SIM_PCAP_TCP_MSS);
        uint8_t *f = p->frame;
        size_t l4 = TCP_LEN + n;
        put_eth_ip(f, src, dst, 6, (*ip_id)++, l4);
        uint8_t *tcp = f + ETH_LEN + IP4_LEN;
        put16(tcp, src->port);
        put16(tcp + 2, dst->port);
        put32(tcp + 4, seq + (uint32_t)off);
        put32(tcp + 8, ack);
        tcp[12] = (TCP_LEN / 4) << 4; /* data offset, no options */
        tcp[13] = 0x18;               /* PSH | ACK */
        put16(tcp + 14, 65535);       /* window */
        put16(tcp + 16, 0);           /* checksum, below */
        put16(tcp + 18, 0);           /* urgent pointer */
        if (n)
            memcpy(tcp + TCP_LEN, payload + off, n);
        put16(tcp + 16, fold(sum16(pseudo_sum(src, dst, 6, l4), tcp, l4)));
        dump(p, ts_us, ETH_LEN + IP4_LEN + l4);
        off += n;
    } while (off < n_bytes);
}
