/* netem.h: kernel network emulation for `peko testbed --netem`.
 *
 * With --netem the testbed would put its nodes in network namespaces of
 * their own and let the kernel's netem queueing discipline add the
 * scenario's latency and loss, instead of the transport's delay hook and
 * filter. That needs root (CAP_NET_ADMIN), network namespaces and the
 * sch_netem module. The namespaces are named "peko-tb-<pid>-<what>", so
 * those of a testbed that died can be recognised by their dead pid and
 * removed by the next one.
 */
#ifndef RUN_NETEM_H
#define RUN_NETEM_H

#include <glib.h>

/* Removes the namespaces "peko-tb-<pid>-*" whose process is gone (a
 * testbed that crashed or was killed). Returns how many it removed. */
int run_netem_remove_leftovers(void);

/* Whether --netem can run here: removes leftovers, then checks root,
 * creates a probe namespace, adds a netem qdisc to its loopback, and
 * removes the namespace again. Returns FALSE with a message saying
 * exactly which step failed and what the system answered; when every
 * step works, FALSE too, saying that the per-node namespaces themselves
 * are not implemented yet (docs/testbed.md). */
gboolean run_netem_check(GError **error);

#endif /* RUN_NETEM_H */
