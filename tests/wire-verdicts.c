/* wire-verdicts.c: the engine's decoder run over a capture, for
 * tests/check-dissector.sh.
 *
 * Usage: wire-verdicts [--key SECRET [--resign OUT.pcap]] FILE.pcap.
 * For each frame (Ethernet, IPv4 without options, UDP), decodes the UDP
 * payload with peko__wire_decode() as a receiver with Size 16384 and, with
 * --key, that one key would, and prints
 * "frame<TAB>reason<TAB>type": the reason is peko_reject_name() ("none"
 * when accepted, "-" for a frame that is not IPv4/UDP), the type the
 * accepted message's peko_msg_type_name() ("-" when rejected). The
 * dissector must reject exactly the frames whose reason is not "none", for
 * the same reason.
 *
 * --resign: before decoding, each signed payload whose length matches its
 * header gets the key id and MAC of SECRET over its own bytes, and every
 * frame is written to OUT.pcap (the same frames in the same order, UDP
 * checksum cleared where a payload changed). A mutated signed packet then
 * reaches the body checks of a keyed receiver instead of failing as
 * bad_mac, as the fuzz target's re-signing does.
 *
 * Exits 1 if a file cannot be read or written, 2 on bad usage.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

#define ETH_LEN 14
#define IP4_LEN 20
#define UDP_LEN 8

/* Re-signs the packet at p (n bytes) with the keyring's sending key if it
 * is signed and its length is the one its header announces. Returns true
 * if it changed it. */
static bool resign(uint8_t *p, size_t n, const peko__keyring *keys)
{
    if (n < PEKO__WIRE_HEADER_BYTES + PEKO__WIRE_AUTH_BYTES ||
        (p[4] & PEKO__WIRE_FLAG_MAC) == 0)
        return false;
    uint64_t body_len = peko__get_u32(p + 8);
    if (PEKO__WIRE_HEADER_BYTES + body_len + PEKO__WIRE_AUTH_BYTES != n)
        return false;
    size_t signed_len = PEKO__WIRE_HEADER_BYTES + (size_t)body_len +
                        PEKO__WIRE_FRESHNESS_BYTES;
    p[5] = peko__keyring_send_id(keys);
    peko__keyring_sign(keys, p, signed_len, p + signed_len);
    return true;
}

int main(int argc, char **argv)
{
    const char *key = NULL;
    const char *resign_path = NULL;
    int arg = 1;
    if (arg + 1 < argc && strcmp(argv[arg], "--key") == 0) {
        key = argv[arg + 1];
        arg += 2;
        if (arg + 1 < argc && strcmp(argv[arg], "--resign") == 0) {
            resign_path = argv[arg + 1];
            arg += 2;
        }
    }
    if (arg != argc - 1) {
        fprintf(stderr, "usage: wire-verdicts [--key SECRET [--resign "
                        "OUT.pcap]] FILE.pcap\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[arg], err);
    if (p == NULL) {
        fprintf(stderr, "wire-verdicts: %s\n", err);
        return 1;
    }
    pcap_dumper_t *out = NULL;
    if (resign_path != NULL) {
        out = pcap_dump_open(p, resign_path);
        if (out == NULL) {
            fprintf(stderr, "wire-verdicts: %s\n", pcap_geterr(p));
            pcap_close(p);
            return 1;
        }
    }
    peko__keyring *keys = peko__keyring_new();
    if (key != NULL && peko__keyring_set(keys, key, NULL, 0) != 0) {
        fprintf(stderr, "wire-verdicts: bad key\n");
        return 1;
    }
    static uint8_t frame_bytes[65536];
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long frame = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        frame++;
        size_t cap = h->caplen < sizeof frame_bytes ? h->caplen
                                                    : sizeof frame_bytes;
        memcpy(frame_bytes, d, cap);
        uint8_t *f = frame_bytes;
        const char *reason = "-";
        const char *type = "-";
        size_t udp_len = 0;
        if (cap >= ETH_LEN + IP4_LEN + UDP_LEN && f[12] == 0x08 &&
            f[13] == 0x00 && f[ETH_LEN] == 0x45 && f[ETH_LEN + 9] == 17)
            udp_len = ((size_t)f[ETH_LEN + IP4_LEN + 4] << 8) |
                      f[ETH_LEN + IP4_LEN + 5];
        if (udp_len >= UDP_LEN && ETH_LEN + IP4_LEN + udp_len <= cap) {
            uint8_t *udp = f + ETH_LEN + IP4_LEN;
            if (resign_path != NULL &&
                resign(udp + UDP_LEN, udp_len - UDP_LEN, keys))
                udp[6] = udp[7] = 0; /* no UDP checksum */
            peko__msg msg;
            peko_reject r = peko__wire_decode(udp + UDP_LEN,
                                              udp_len - UDP_LEN,
                                              PEKO_DEFAULT_SIZE, keys, &msg);
            reason = r == PEKO_REJECT_NONE ? "none" : peko_reject_name(r);
            if (r == PEKO_REJECT_NONE)
                type = peko_msg_type_name(msg.type);
        }
        printf("%lu\t%s\t%s\n", frame, reason, type);
        if (out != NULL) {
            struct pcap_pkthdr copy = *h;
            copy.caplen = (bpf_u_int32)cap;
            pcap_dump((u_char *)out, &copy, f);
        }
    }
    int status = rc == PCAP_ERROR ? 1 : 0;
    if (out != NULL && (pcap_dump_flush(out) != 0 || ferror(pcap_dump_file(out))))
        status = 1;
    if (out != NULL)
        pcap_dump_close(out);
    peko__keyring_free(keys);
    pcap_close(p);
    return status;
}
