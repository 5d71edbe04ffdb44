/* wire-verdicts.c: the engine's decoder run over a capture, for
 * tests/check-dissector.sh.
 *
 * Usage: wire-verdicts [--key SECRET] FILE.pcap. For each frame (Ethernet,
 * IPv4 without options, UDP), decodes the UDP payload with
 * peko__wire_decode() as a receiver with Size 16384 and, with --key, that
 * one key would, and prints "frame<TAB>reason" (peko_reject_name(): "none"
 * when accepted, "-" for a frame that is not IPv4/UDP). The dissector must
 * flag exactly the frames whose reason is not "none". Exits 1 if the file
 * cannot be read.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

#define ETH_LEN 14
#define IP4_LEN 20
#define UDP_LEN 8

int main(int argc, char **argv)
{
    const char *key = NULL;
    int arg = 1;
    if (argc == 4 && strcmp(argv[1], "--key") == 0) {
        key = argv[2];
        arg = 3;
    }
    if (arg != argc - 1) {
        fprintf(stderr, "usage: wire-verdicts [--key SECRET] FILE.pcap\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[arg], err);
    if (p == NULL) {
        fprintf(stderr, "wire-verdicts: %s\n", err);
        return 1;
    }
    peko__keyring *keys = peko__keyring_new();
    if (key != NULL && peko__keyring_set(keys, key, NULL, 0) != 0) {
        fprintf(stderr, "wire-verdicts: bad key\n");
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long frame = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        frame++;
        size_t cap = h->caplen;
        if (cap < ETH_LEN + IP4_LEN + UDP_LEN || d[12] != 0x08 ||
            d[13] != 0x00 || d[ETH_LEN] != 0x45 || d[ETH_LEN + 9] != 17) {
            printf("%lu\t-\n", frame);
            continue;
        }
        const u_char *udp = d + ETH_LEN + IP4_LEN;
        size_t udp_len = ((size_t)udp[4] << 8) | udp[5];
        if (udp_len < UDP_LEN || ETH_LEN + IP4_LEN + udp_len > cap) {
            printf("%lu\t-\n", frame);
            continue;
        }
        peko__msg msg;
        peko_reject r = peko__wire_decode(udp + UDP_LEN, udp_len - UDP_LEN,
                                          PEKO_DEFAULT_SIZE, keys, &msg);
        printf("%lu\t%s\n", frame,
               r == PEKO_REJECT_NONE ? "none" : peko_reject_name(r));
    }
    peko__keyring_free(keys);
    pcap_close(p);
    return rc == PCAP_ERROR ? 1 : 0;
}
