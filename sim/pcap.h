/* pcap.h: writes simulated traffic as a packet capture.
 *
 * Each packet becomes an Ethernet II / IPv4 / UDP (or TCP) frame in a
 * classic pcap file (libpcap's dump API, link type EN10MB, snap length
 * 65535), stamped with the time it would carry on a real machine: the
 * world's epoch plus virtual time. MAC addresses are 02:00 followed by
 * the four bytes of the node's IPv4 address (locally administered, so
 * never a real vendor's). IPv4 header checksums are computed, and so are
 * UDP and TCP checksums (tshark and Wireshark show them as correct).
 *
 * A frame longer than the snap length is recorded with its true length
 * and truncated bytes, as a capture on a real interface would be. TCP
 * payloads are cut into segments of at most SIM_PCAP_TCP_MSS bytes.
 *
 * Errors while writing are sticky and reported by sim_pcap_close(): the
 * simulation never stops because its capture file could not be written.
 * Not thread-safe.
 */
#ifndef SIM_PCAP_H
#define SIM_PCAP_H

#include <glib.h>
#include <stdint.h>

#include "peko.h"

#define SIM_PCAP_SNAPLEN 65535
#define SIM_PCAP_TCP_MSS 1460 /* Ethernet MTU 1500 minus IPv4 and TCP */

typedef struct sim_pcap sim_pcap;

/* Creates (truncates) the capture file at `path` and writes its header.
 * Returns the writer, or NULL with *error set (G_FILE_ERROR) and no file
 * left open. */
sim_pcap *sim_pcap_open(const char *path, GError **error);

/* Flushes and closes the file and frees the writer. Returns FALSE with
 * *error set if any write failed since sim_pcap_open() (the writer is
 * freed anyway). NULL is a no-op returning TRUE. */
gboolean sim_pcap_close(sim_pcap *pcap, GError **error);

/* One UDP datagram from src to dst (IPv4 addresses and ports), sent at
 * unix time ts_us. `ip_id` is the IPv4 identification field (the caller
 * counts per sender). `payload` is borrowed. Payloads longer than an IPv4
 * datagram can carry (65507 bytes) are not written. */
void sim_pcap_write_udp(sim_pcap *pcap, int64_t ts_us, const peko_addr *src,
                        const peko_addr *dst, uint16_t ip_id,
                        const uint8_t *payload, size_t n_bytes);

/* One TCP message, as PSH|ACK segments of at most SIM_PCAP_TCP_MSS
 * payload bytes each, all stamped ts_us. `seq` is the sequence number of
 * its first byte and `ack` the acknowledgement number the segments carry;
 * `*ip_id` is advanced once per segment. Ports are taken from src and
 * dst. */
void sim_pcap_write_tcp(sim_pcap *pcap, int64_t ts_us, const peko_addr *src,
                        const peko_addr *dst, uint16_t *ip_id, uint32_t seq,
                        uint32_t ack, const uint8_t *payload, size_t n_bytes);

/* Records (frames) written so far. */
uint64_t sim_pcap_records(const sim_pcap *pcap);

#endif /* SIM_PCAP_H */
