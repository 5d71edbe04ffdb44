/* forge-heartbeat.c: sends one unsigned heartbeat (docs/wire.md) to a
 * node on the loopback, about an origin with any name and data: what one
 * forged packet from the network can make a node list.
 *
 *   forge-heartbeat PORT ORIGIN_PORT NAME DATA [COUNT]
 *
 * NAME and DATA are bytes, with \xNN for any byte (so that control
 * characters and invalid UTF-8 can be written on a command line). The
 * origin is 127.0.0.1:ORIGIN_PORT, incarnation 1, sequence 1, hops 0, an
 * empty infected set. With COUNT, COUNT such heartbeats about origins
 * ORIGIN_PORT, ORIGIN_PORT + 1, ..., a millisecond apart (so that the
 * node's receive buffer keeps up). Exit 0 once sent, 2 for bad
 * arguments, 1 when a datagram could not be sent. For tests only. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FIELD 4096

static int hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes \xNN escapes of `text` into out; returns the length or -1. */
static int decode(const char *text, uint8_t *out)
{
    int n = 0;
    for (const char *p = text; *p; p++) {
        if (n >= MAX_FIELD)
            return -1;
        if (p[0] == '\\' && p[1] == 'x' && hex(p[2]) >= 0 && hex(p[3]) >= 0) {
            out[n++] = (uint8_t)(hex(p[2]) << 4 | hex(p[3]));
            p += 3;
        } else {
            out[n++] = (uint8_t)*p;
        }
    }
    return n;
}

static uint8_t *put16(uint8_t *p, unsigned v)
{
    *p++ = (uint8_t)(v >> 8);
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p = put16(p, v >> 16);
    return put16(p, v & 0xffff);
}

static uint8_t *put_addr(uint8_t *p, unsigned port)
{
    *p++ = 4;
    *p++ = 127;
    *p++ = 0;
    *p++ = 0;
    *p++ = 1;
    return put16(p, port);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr,
                "usage: forge-heartbeat PORT ORIGIN_PORT NAME DATA [COUNT]\n");
        return 2;
    }
    int port = atoi(argv[1]), origin = atoi(argv[2]);
    int count = argc == 6 ? atoi(argv[5]) : 1;
    static uint8_t name[MAX_FIELD], data[MAX_FIELD];
    int n_name = decode(argv[3], name), n_data = decode(argv[4], data);
    if (port < 1 || port > 65535 || origin < 1 || count < 1 ||
        origin + count - 1 > 65535 || n_name < 0 || n_data < 0) {
        fprintf(stderr, "forge-heartbeat: bad argument\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("forge-heartbeat");
        return 1;
    }
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static uint8_t packet[12 + 32 + 2 * MAX_FIELD];
    for (int k = 0; k < count; k++) {
        uint8_t *p = packet;
        *p++ = 0x50; /* magic */
        *p++ = 0x4b;
        *p++ = 2;    /* wire version */
        *p++ = 1;    /* heartbeat */
        *p++ = 0;    /* unsigned */
        *p++ = 0;    /* key id */
        *p++ = 0;    /* hops */
        *p++ = 0;    /* reserved */
        p = put32(p, (uint32_t)(32 + n_name + n_data));
        p = put_addr(p, (unsigned)(origin + k)); /* sender */
        p = put_addr(p, (unsigned)(origin + k)); /* origin */
        p = put32(p, 1);                         /* incarnation */
        p = put32(p, 1);                         /* seq */
        p = put16(p, 0);                         /* rev */
        p = put16(p, (unsigned)n_name);
        memcpy(p, name, (size_t)n_name);
        p += n_name;
        p = put16(p, (unsigned)n_data);
        memcpy(p, data, (size_t)n_data);
        p += n_data;
        p = put32(p, 0); /* no infected set */
        if (sendto(fd, packet, (size_t)(p - packet), 0,
                   (struct sockaddr *)&to, sizeof to) < 0) {
            perror("forge-heartbeat");
            return 1;
        }
        if (count > 1)
            usleep(1000);
    }
    close(fd);
    return 0;
}
