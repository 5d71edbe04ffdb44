/* metadata.c: the cluster's metadata, one blob per cluster with a logical
 * version (docs/protocol.md, "Metadata").
 *
 * A version is (counter, origin): a publish takes the local counter plus
 * one and the publisher's address, so clock skew cannot lose an update
 * and two concurrent publishes resolve the same way everywhere. Counter 0
 * means "no metadata yet" and never wins.
 */
#include <string.h>

#include "nodelist-private.h"

bool peko__metadata_is_newer(const peko_nodelist *nl,
                             const peko_version *version)
{
    return version->counter > 0 &&
           peko_version_compare(version, &nl->meta_version) > 0;
}

bool peko__metadata_is_newer_than(const peko_nodelist *nl,
                                  const peko_version *version)
{
    return nl->meta_version.counter > 0 &&
           peko_version_compare(&nl->meta_version, version) > 0;
}

void peko__metadata_apply(peko_nodelist *nl, const uint8_t *data,
                          uint32_t n_bytes, const peko_version *version,
                          peko_msg_type via)
{
    uint8_t *copy = n_bytes ? g_memdup2(data, n_bytes) : NULL;
    g_free(nl->meta);
    nl->meta = copy;
    nl->meta_len = n_bytes;
    nl->meta_version = *version;
    PEKO__OBSERVE(nl, metadata_applied, version, via, n_bytes);
}

bool peko__metadata_adopt(peko_nodelist *nl, const peko__msg *m,
                          peko_msg_type via)
{
    if (!peko__metadata_is_newer(nl, &m->version))
        return false;
    peko__metadata_apply(nl, m->meta, m->meta_len, &m->version, via);
    return true;
}

void peko__metadata_fill(peko_nodelist *nl, peko__msg *msg,
                         peko_msg_type type)
{
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->sender = (*peko__self_addr(nl));
    msg->version = nl->meta_version;
    if (type == PEKO_MSG_SWAP_REQUEST || type == PEKO_MSG_SWAP_RESPONSE)
        msg->sent_us = peko__wall_us(nl);
    msg->has_meta = true;
    msg->meta = nl->meta;
    msg->meta_len = nl->meta_len;
}

bool peko__metadata_receive(peko_nodelist *nl, const peko__msg *m)
{
    peko_rumor rumor = {
        .kind = PEKO_MSG_METADATA,
        .origin = m->version.origin,
        .id = m->version.counter,
    };
    bool newer = peko__metadata_adopt(nl, m, PEKO_MSG_METADATA);
    if (newer) {
        PEKO__OBSERVE(nl, rumor_first_seen, &rumor, m->hops, &m->sender);
    } else {
        nl->traffic.duplicates++;
        PEKO__OBSERVE(nl, rumor_duplicate, &rumor, m->hops, &m->sender);
    }
    return newer;
}
