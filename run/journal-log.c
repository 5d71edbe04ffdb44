/* journal-log.c: stderr with journald's priority prefixes
 * (journal-log.h). */
#include "journal-log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static bool journal;

bool run_log_init(void)
{
    journal = false;
    const char *stream = g_getenv("JOURNAL_STREAM");
    struct stat st;
    if (stream == NULL || fstat(STDERR_FILENO, &st) < 0)
        return false;
    char **parts = g_strsplit(stream, ":", 3);
    guint64 dev, ino;
    /* Both numbers decimal, as systemd writes them. */
    if (g_strv_length(parts) == 2 &&
        g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXUINT64, &dev,
                                   NULL) &&
        g_ascii_string_to_unsigned(parts[1], 10, 0, G_MAXUINT64, &ino, NULL))
        journal = (guint64)st.st_dev == dev && (guint64)st.st_ino == ino;
    g_strfreev(parts);
    return journal;
}

void run_log(int priority, const char *prefix, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *text = g_strdup_vprintf(format, ap);
    va_end(ap);
    /* One write for the whole message, so lines of concurrent writers
     * do not interleave within it. */
    GString *out = g_string_new(NULL);
    char **lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (**l == '\0' && l[1] == NULL && l != lines)
            break; /* a trailing newline ends the last line, no more */
        if (journal)
            g_string_append_printf(out, "<%d>", priority & LOG_PRIMASK);
        g_string_append_printf(out, "%s%s\n", prefix ? prefix : "", *l);
    }
    g_strfreev(lines);
    fputs(out->str, stderr);
    fflush(stderr);
    g_string_free(out, TRUE);
    g_free(text);
}
