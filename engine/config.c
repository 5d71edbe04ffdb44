/* config.c: pekonode's configuration fields and their defaults. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "peko.h"
#include "wire.h"

G_STATIC_ASSERT(PEKO_MIN_SIZE == PEKO__WIRE_MIN_SIZE);

void peko_config_init(peko_config *config)
{
    memset(config, 0, sizeof *config);
    peko_config_resolve(config, config);
}

#define FAIL(...)                                                            \
    do {                                                                     \
        if (why)                                                             \
            g_snprintf(why, n_why, __VA_ARGS__);                             \
        return -EINVAL;                                                      \
    } while (0)

/* One check per field, in the order of peko_config, each naming it. The
 * defaults are applied first, so what is checked is what would run. */
int peko_config_check(const peko_config *in, char *why, size_t n_why)
{
    if (why && n_why)
        why[0] = '\0';
    const peko_config *c = in;
    if (c->amount < 0 || c->amount > PEKO_MAX_AMOUNT)
        FAIL("amount: %d is outside 1 to %d (0 means %d)", c->amount,
             PEKO_MAX_AMOUNT, PEKO_DEFAULT_AMOUNT);
    if (c->cycle_us != 0 &&
        (c->cycle_us < PEKO_MIN_CYCLE_US || c->cycle_us > PEKO_MAX_CYCLE_US))
        FAIL("cycle: %" G_GINT64_FORMAT " us is outside 1 ms to 1 day",
             c->cycle_us);
    if (c->buffer < 0 || c->buffer > PEKO_MAX_BUFFER)
        FAIL("buffer: %d is outside 1 to %d packets", c->buffer,
             PEKO_MAX_BUFFER);
    int size = c->size ? c->size : PEKO_DEFAULT_SIZE;
    if (size < PEKO_MIN_SIZE)
        FAIL("size: %d bytes is below the smallest packet, %d bytes", size,
             PEKO_MIN_SIZE);
    if (c->protocol == PEKO_PROTOCOL_UDP && size > PEKO_MAX_SIZE_UDP)
        FAIL("size: %d bytes is above the largest UDP payload, %d bytes"
             " (use protocol tcp)",
             size, PEKO_MAX_SIZE_UDP);
    if (size > PEKO_MAX_SIZE)
        FAIL("size: %d bytes is above the largest message, 64 MiB", size);
    if (c->timeout_us < 0 || c->timeout_us > PEKO_MAX_TIMEOUT_US)
        FAIL("timeout: %" G_GINT64_FORMAT " us is outside 0 to a year",
             c->timeout_us);
    if (c->accepted_key_count > 0 &&
        (c->accepted_keys == NULL || !c->secret_key || !*c->secret_key))
        FAIL("accepted_keys: need a secret_key to send with (a node that"
             " signs nothing but requires signatures would reject itself)");
    if (c->accepted_key_count + 1 > PEKO_MAX_KEYS)
        FAIL("accepted_keys: %zu keys, at most %d with the secret_key",
             c->accepted_key_count, PEKO_MAX_KEYS - 1);
    if (c->protocol != PEKO_PROTOCOL_UDP && c->protocol != PEKO_PROTOCOL_TCP)
        FAIL("protocol: unknown value %d (udp or tcp)", (int)c->protocol);
    if ((unsigned)c->dissemination >= PEKO_DISSEMINATION_COUNT)
        FAIL("dissemination: unknown value %d (rumor, classic or digest)",
             (int)c->dissemination);
    if (c->seen_cache < 0 || c->seen_cache > PEKO_MAX_SEEN_CACHE)
        FAIL("seen_cache: %d is outside 1 to %d keys", c->seen_cache,
             PEKO_MAX_SEEN_CACHE);
    if (c->exchanges < 0 || c->exchanges > PEKO_MAX_EXCHANGES)
        FAIL("exchanges: %d is outside 1 to %d", c->exchanges,
             PEKO_MAX_EXCHANGES);
    if (c->max_members < 0 || c->max_members > PEKO_MAX_MEMBERS)
        FAIL("max_members: %d is outside 1 to %d (0 means %d)",
             c->max_members, PEKO_MAX_MEMBERS, PEKO_DEFAULT_MAX_MEMBERS);
    return 0;
}

int peko_config_resolve(const peko_config *in, peko_config *out)
{
    if (peko_config_check(in, NULL, 0) < 0)
        return -EINVAL;
    peko_config c = *in;
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
    if (c.max_members == 0)
        c.max_members = PEKO_DEFAULT_MAX_MEMBERS;
    if (c.listen_addr == NULL)
        c.listen_addr = PEKO_DEFAULT_LISTEN_ADDR;
    if (c.seen_cache == 0)
        c.seen_cache = PEKO_DEFAULT_SEEN_CACHE;
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
