/* node-seeds.h: `peko node`'s seeds, numeric or DNS names.
 *
 * A numeric seed is given to the node list at once. A name is resolved
 * on GLib's resolver without blocking the main loop, and every address
 * it has in the node's family (IPv4 or IPv6) becomes a seed; so a
 * Kubernetes headless Service's name, which resolves to every ready pod
 * (or every pod, with publishNotReadyAddresses), seeds the whole set. A
 * name that does not resolve yet (a pod not started), or only to this
 * node's own address, is tried again every CLI_SEEDS_RETRY_S seconds
 * until it gives another; once it has, it is not looked up again: the
 * gossip itself keeps the list.
 */
#ifndef CLI_NODE_SEEDS_H
#define CLI_NODE_SEEDS_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "peko.h"

#define CLI_SEEDS_RETRY_S 5
#define CLI_SEEDS_MAX_PER_NAME 64 /* addresses taken from one name */

typedef struct cli_node_seeds cli_node_seeds;

/* Sets the numeric seeds into `nl` now and starts resolving the names,
 * on the thread-default main context. hosts and ports (n of each) are
 * copied; `nl` is borrowed and must outlive the returned object. `family`
 * is PEKO_AF_INET4 or PEKO_AF_INET6, the node's own. Cannot fail. */
cli_node_seeds *cli_node_seeds_start(peko_nodelist *nl, int family,
                                     char *const *hosts,
                                     const uint16_t *ports, size_t n);

/* Names not resolved yet. */
size_t cli_node_seeds_pending(const cli_node_seeds *seeds);

/* Cancels lookups in flight and retries. NULL is a no-op. */
void cli_node_seeds_free(cli_node_seeds *seeds);

#endif /* CLI_NODE_SEEDS_H */
