/* journal-log.h: the node's messages on stderr, with journald's priority
 * prefixes when stderr is connected to the journal.
 *
 * systemd connects a service's stderr to journald and says so in
 * $JOURNAL_STREAM ("DEVICE:INODE" of that stream). When stderr is that
 * very stream, each line is written as "<N>text" (sd-daemon(3)), N the
 * syslog priority, which journald strips and records as the entry's
 * priority; anywhere else (a terminal, a file, a pipe, or a child whose
 * stderr was redirected) lines are written as they are.
 */
#ifndef RUN_JOURNAL_LOG_H
#define RUN_JOURNAL_LOG_H

#include <glib.h>
#include <stdbool.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO */

/* Looks at $JOURNAL_STREAM and stderr once; later calls use the answer.
 * Returns true when prefixes will be written. Cannot fail. */
bool run_log_init(void);

/* Writes one message at `priority` (LOG_ERR ... LOG_DEBUG) on stderr,
 * after `prefix` ("peko node: "; may be NULL), every line of it prefixed
 * when stderr is the journal. */
void run_log(int priority, const char *prefix, const char *format, ...)
    G_GNUC_PRINTF(3, 4);

#endif /* RUN_JOURNAL_LOG_H */
