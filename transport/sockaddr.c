/* sockaddr.c: peko_addr to and from the socket API's addresses. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "transport-private.h"

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};

socklen_t tp_addr_to_sockaddr(const peko_addr *addr, int family,
                              struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        if (addr->family != PEKO_AF_INET4)
            return 0;
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(addr->port);
        memcpy(&sin->sin_addr, addr->ip, 4);
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(addr->port);
    if (addr->family == PEKO_AF_INET4) {
        memcpy(sin6->sin6_addr.s6_addr, v4_mapped_prefix, 12);
        memcpy(sin6->sin6_addr.s6_addr + 12, addr->ip, 4);
    } else {
        memcpy(sin6->sin6_addr.s6_addr, addr->ip, 16);
    }
    return sizeof *sin6;
}

bool tp_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
                           peko_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        out->family = PEKO_AF_INET4;
        out->port = ntohs(sin->sin_port);
        memcpy(out->ip, &sin->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        out->port = ntohs(sin6->sin6_port);
        if (memcmp(sin6->sin6_addr.s6_addr, v4_mapped_prefix, 12) == 0) {
            out->family = PEKO_AF_INET4;
            memcpy(out->ip, sin6->sin6_addr.s6_addr + 12, 4);
        } else {
            out->family = PEKO_AF_INET6;
            memcpy(out->ip, sin6->sin6_addr.s6_addr, 16);
        }
        return true;
    }
    return false;
}

bool tp_addr_from_gaddress(GSocketAddress *gaddr, peko_addr *out)
{
    struct sockaddr_storage ss;
    gssize len = g_socket_address_get_native_size(gaddr);
    if (len <= 0 || (size_t)len > sizeof ss ||
        !g_socket_address_to_native(gaddr, &ss, sizeof ss, NULL))
        return false;
    return tp_addr_from_sockaddr((struct sockaddr *)&ss, (socklen_t)len, out);
}

GSocketAddress *tp_addr_to_gaddress(const peko_addr *addr)
{
    struct sockaddr_storage ss;
    int family = addr->family == PEKO_AF_INET6 ? AF_INET6 : AF_INET;
    socklen_t len = tp_addr_to_sockaddr(addr, family, &ss);
    return g_socket_address_new_from_native(&ss, len);
}

guint tp_addr_hash(gconstpointer key)
{
    return peko_addr_fingerprint(key);
}

gboolean tp_addr_equal(gconstpointer a, gconstpointer b)
{
    return peko_addr_equal(a, b);
}
