/* testbed-workers.h: the channel between `peko testbed --workers`'s
 * coordinator and its workers (testbed-workers.c), internal to run/.
 *
 * One stream socket per worker, text lines:
 *   worker -> coordinator  "bound P1 P2 ..."   the ports of its nodes
 *   coordinator -> worker  "start T P0 ... Pn-1" time 0 (CLOCK_MONOTONIC,
 *                                               microseconds) and every
 *                                               node's port
 *   worker -> coordinator  "done C RUN LATE DELIV DELAYED CPU RSS" or
 *                          "fail MESSAGE"       how its run ended
 */
#ifndef RUN_TESTBED_WORKERS_H
#define RUN_TESTBED_WORKERS_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* A worker's side of the start: sends its nodes' ports (own, n_own),
 * then waits for the coordinator's answer and fills *start_us and
 * all[0 .. n_all-1] (may be `own`: it is read first). Returns FALSE with
 * *error set when the coordinator is gone or answers anything else. */
gboolean run__tb_worker_exchange(int fd, const uint16_t *own, size_t n_own,
                                 size_t n_all, int64_t *start_us,
                                 uint16_t *all, GError **error);

#endif /* RUN_TESTBED_WORKERS_H */
