/* config.c: pekonode's configuration fields and their defaults. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "peko.h"
#include "wire.h"

/* Largest UDP payload over IPv4: a Size above it could never be sent. */
#define PEKO_UDP_MAX_PAYLOAD 65507
/* A sanity bound for TCP messages, so a config typo cannot make every node
 * allocate gigabytes. */
#define PEKO_TCP_MAX_MESSAGE (64 * 1024 * 1024)

void peko_config_init(peko_config *config)
{
    memset(config, 0, sizeof *config);
    peko_config_resolve(config, config);
}

int peko_config_resolve(const peko_config *in, peko_config *out)
{
    peko_config c = *in;

    if (c.amount < 0 || c.cycle_us < 0 || c.buffer < 0 || c.size < 0 ||
        c.timeout_us < 0 || c.seen_cache < 0 || c.exchanges < 0)
        return -EINVAL;
    if (c.protocol != PEKO_PROTOCOL_UDP && c.protocol != PEKO_PROTOCOL_TCP)
        return -EINVAL;
    if ((unsigned)c.dissemination >= PEKO_DISSEMINATION_COUNT)
        return -EINVAL;
    /* Accepted keys alone would make a node that signs nothing while
     * requiring signatures: refuse it (peko_nodelist_set_keys too). */
    if (c.accepted_key_count > 0 &&
        (c.accepted_keys == NULL || !c.secret_key || !*c.secret_key))
        return -EINVAL;
    if (c.accepted_key_count + 1 > PEKO_MAX_KEYS)
        return -EINVAL;

    if (c.amount == 0)
        c.amount = PEKO_DEFAULT_AMOUNT;
    if (c.cycle_us == 0)
        c.cycle_us = PEKO_DEFAULT_CYCLE_US;
    if (c.buffer == 0)
        c.buffer = c.amount * 3;
    if (c.size == 0)
        c.size = PEKO_DEFAULT_SIZE;
    /* pekonode: a Timeout not larger than Cycle is replaced, so a node is
     * never expired between two of its own heartbeats. digest keeps 0:
     * its timeout then scales with the list (strategy-digest.c). */
    bool scaled = c.dissemination == PEKO_DISSEMINATION_DIGEST &&
                  c.timeout_us == 0;
    if (c.timeout_us <= c.cycle_us && !scaled)
        c.timeout_us = c.cycle_us * 3 + PEKO_TIMEOUT_EXTRA_US;
    if (c.exchanges == 0)
        c.exchanges = 1;
    if (c.listen_addr == NULL)
        c.listen_addr = PEKO_DEFAULT_LISTEN_ADDR;
    if (c.seen_cache == 0)
        c.seen_cache = PEKO_DEFAULT_SEEN_CACHE;

    if (c.size < PEKO__WIRE_MIN_SIZE)
        return -EINVAL;
    if (c.protocol == PEKO_PROTOCOL_UDP && c.size > PEKO_UDP_MAX_PAYLOAD)
        return -EINVAL;
    if (c.size > PEKO_TCP_MAX_MESSAGE)
        return -EINVAL;
    /* The fan-out can never usefully exceed what fits in one packet's
     * infected set; this bound also keeps per-forward scratch small. */
    if (c.amount > 1024)
        return -EINVAL;
    /* Each of digest's swaps of a cycle is matched with its answer. */
    if (c.exchanges > PEKO_MAX_EXCHANGES)
        return -EINVAL;

    *out = c;
    return 0;
}

const char *peko_dissemination_name(peko_dissemination d)
{
    switch (d) {
    case PEKO_DISSEMINATION_RUMOR:
        return "rumor";
    case PEKO_DISSEMINATION_CLASSIC:
        return "classic";
    case PEKO_DISSEMINATION_DIGEST:
        return "digest";
    case PEKO_DISSEMINATION_COUNT:
        break;
    }
    return NULL;
}

int peko_dissemination_parse(const char *name, peko_dissemination *out)
{
    for (int d = 0; d < PEKO_DISSEMINATION_COUNT; d++) {
        if (name && g_ascii_strcasecmp(name, peko_dissemination_name(
                                                 (peko_dissemination)d)) == 0) {
            *out = (peko_dissemination)d;
            return 0;
        }
    }
    return -EINVAL;
}
