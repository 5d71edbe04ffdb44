/* cli.c: helpers shared by the peko program's subcommands (cli.h). */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget.h"
#include "ctl-proto.h"
#include "scenario.h"

int cli_usage_error(const char *command, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    fprintf(stderr, "peko %s: %s\nTry 'peko %s --help' for more information.\n",
            command, message, command);
    g_free(message);
    return CLI_EXIT_USAGE;
}

gboolean cli_parse_between(GOptionContext *context, const char *command,
                           int *argc, char ***argv, int min_positional,
                           int max_positional)
{
    GError *error = NULL;
    if (!g_option_context_parse(context, argc, argv, &error)) {
        cli_usage_error(command, "%s", error->message);
        g_error_free(error);
        return FALSE;
    }
    /* GOption leaves what it did not consume; argv[0] is the command. A
     * "--" is left behind too, and only ends the options. Compact the
     * positional arguments to argv[1..n]. */
    int n = 1;
    for (int i = 1; i < *argc; i++) {
        if (g_strcmp0((*argv)[i], "--") == 0)
            continue;
        if (max_positional >= 0 && n > max_positional) {
            cli_usage_error(command, "unexpected argument '%s'", (*argv)[i]);
            return FALSE;
        }
        (*argv)[n++] = (*argv)[i];
    }
    if (n - 1 < min_positional) {
        cli_usage_error(command, "missing argument (%d expected)",
                        min_positional);
        return FALSE;
    }
    *argc = n;
    return TRUE;
}

gboolean cli_parse_positional(GOptionContext *context, const char *command,
                              int *argc, char ***argv, int n_positional)
{
    return cli_parse_between(context, command, argc, argv, n_positional,
                             n_positional);
}

gboolean cli_parse(GOptionContext *context, const char *command, int *argc,
                   char ***argv)
{
    return cli_parse_positional(context, command, argc, argv, 0);
}

gboolean cli_parse_u64(const char *option, const char *value, uint64_t min,
                       uint64_t max, uint64_t *out, GError **error)
{
    guint64 v;
    GError *local = NULL;
    /* Base 10 only, whole string, no sign, no spaces: "5x" and "-1" are
     * errors, not 5 and 2^64-1. */
    if (!g_ascii_string_to_unsigned(value, 10, min, max, &v, &local)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s expects an integer from %" G_GUINT64_FORMAT
                    " to %" G_GUINT64_FORMAT ", got '%s'",
                    option, (guint64)min, (guint64)max, value);
        g_error_free(local);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

void cli_append_escaped(GString *out, const uint8_t *bytes, size_t n,
                        size_t max)
{
    size_t shown = n < max ? n : max;
    for (size_t i = 0; i < shown; i++) {
        uint8_t c = bytes[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
            g_string_append_c(out, (char)c);
        else
            g_string_append_printf(out, "\\x%02x", c);
    }
    if (shown < n)
        g_string_append(out, "...");
}

/* Whether a character is safe to show as it is. */
static bool is_printable(gunichar c)
{
    switch (g_unichar_type(c)) {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_UNASSIGNED:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
        return false;
    default:
        return true;
    }
}

void cli_append_printable(GString *out, const uint8_t *bytes, size_t n,
                          const char *also, const char *keep)
{
    const char *p = (const char *)bytes, *end = p + n;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x80) {
            bool kept = c != 0 && keep && strchr(keep, c);
            bool escaped = c < 0x20 || c == 0x7f || c == '\\' ||
                           (c != 0 && also && strchr(also, c));
            if (escaped && !kept)
                run_ctl_append_hex(out, c);
            else
                g_string_append_c(out, (char)c);
            p++;
            continue;
        }
        gunichar u = g_utf8_get_char_validated(p, end - p);
        size_t len = u < (gunichar)-2 ? (size_t)(g_utf8_next_char(p) - p) : 1;
        if (u >= (gunichar)-2 || !is_printable(u)) {
            for (size_t i = 0; i < len; i++)
                run_ctl_append_hex(out, (uint8_t)p[i]);
        } else {
            g_string_append_len(out, p, (gssize)len);
        }
        p += len;
    }
}

/* What identifies a file: device and inode when it exists, else the
 * real path of its directory and its name. */
typedef struct file_id {
    bool exists;
    dev_t dev;
    ino_t ino;
    char *resolved; /* owned; NULL when it exists or cannot be resolved */
} file_id;

static void file_id_of(const char *path, file_id *id)
{
    memset(id, 0, sizeof *id);
    struct stat st;
    if (stat(path, &st) == 0) {
        id->exists = true;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        return;
    }
    char *dir = g_path_get_dirname(path);
    char *base = g_path_get_basename(path);
    char *real = realpath(dir, NULL);
    if (real)
        id->resolved = g_build_filename(real, base, NULL);
    free(real);
    g_free(dir);
    g_free(base);
}

static bool file_id_equal(const file_id *a, const file_id *b)
{
    if (a->exists || b->exists)
        return a->exists && b->exists && a->dev == b->dev &&
               a->ino == b->ino;
    return a->resolved && b->resolved && strcmp(a->resolved, b->resolved) == 0;
}

gboolean cli_check_paths(const char *command, const cli_path *paths,
                         size_t n_paths)
{
    file_id *ids = g_new0(file_id, n_paths ? n_paths : 1);
    for (size_t i = 0; i < n_paths; i++)
        if (paths[i].path)
            file_id_of(paths[i].path, &ids[i]);
    gboolean ok = TRUE;
    for (size_t i = 0; ok && i < n_paths; i++)
        for (size_t j = i + 1; ok && j < n_paths; j++) {
            if (!paths[i].path || !paths[j].path ||
                !(paths[i].output || paths[j].output) ||
                !file_id_equal(&ids[i], &ids[j]))
                continue;
            cli_usage_error(command,
                            "%s %s and %s %s are the same file: nothing was"
                            " written (give %s another name)",
                            paths[i].what, paths[i].path, paths[j].what,
                            paths[j].path,
                            paths[j].output ? paths[j].what : paths[i].what);
            ok = FALSE;
        }
    for (size_t i = 0; i < n_paths; i++)
        g_free(ids[i].resolved);
    g_free(ids);
    return ok;
}

scn_scenario *cli_load_scenario(const char *command, const char *path,
                                char *const *sets, const char *seed)
{
    GError *error = NULL;
    scn_scenario *sc = scn_scenario_load_file(path, &error);
    for (char *const *set = sets; sc && set && *set; set++) {
        if (!scn_scenario_override_arg(sc, *set, &error))
            g_clear_pointer(&sc, scn_scenario_free);
    }
    if (sc && seed) {
        uint64_t value;
        if (!cli_parse_u64("--seed", seed, 0, INT64_MAX, &value, &error) ||
            !scn_scenario_override(sc, "cluster.seed", seed, &error))
            g_clear_pointer(&sc, scn_scenario_free);
    }
    if (sc == NULL) {
        fprintf(stderr, "peko %s: %s\n", command, error->message);
        g_error_free(error);
    }
    return sc;
}

void cli_progress_bar(double frac, char bar[CLI_BAR_WIDTH + 1])
{
    if (!(frac > 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    int filled = (int)(frac * CLI_BAR_WIDTH);
    for (int i = 0; i < CLI_BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[CLI_BAR_WIDTH] = 0;
}

void cli_format_seconds(char *buf, size_t size, double s)
{
    if (isnan(s))
        g_snprintf(buf, size, "-");
    else if (isinf(s))
        g_snprintf(buf, size, "never");
    else if (fabs(s) < 1e-3)
        g_snprintf(buf, size, "%.0f us", s * 1e6);
    else if (fabs(s) < 1)
        g_snprintf(buf, size, "%.1f ms", s * 1e3);
    else
        g_snprintf(buf, size, "%.3f s", s);
}

gboolean cli_parse_fraction(const char *option, const char *text, double *out,
                            GError **error)
{
    char *end = NULL;
    double v = g_ascii_strtod(text, &end);
    bool percent = end && *end == '%';
    if (end == text || !end || (*end && !(percent && end[1] == 0)) ||
        !isfinite(v) || v < 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: expected a percentage such as 5%% or a fraction "
                    "such as 0.05, got '%s'",
                    option, text);
        return FALSE;
    }
    *out = percent || v > 1 ? v / 100 : v;
    return TRUE;
}

gboolean cli_parse_max_memory(const char *command, const char *text,
                              uint64_t *limit, gboolean *given)
{
    *given = text != NULL;
    if (text == NULL) {
        *limit = run_memory_available();
        return TRUE;
    }
    GError *error = NULL;
    if (!scn_parse_size(text, limit, &error)) {
        cli_usage_error(command, "--max-memory: %s (0: no check)",
                        error->message);
        g_error_free(error);
        return FALSE;
    }
    return TRUE;
}

volatile sig_atomic_t cli_stop_requested;
static struct sigaction saved_int, saved_term;

static void on_stop_signal(int signo)
{
    (void)signo;
    cli_stop_requested = 1;
}

void cli_catch_stop(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved_int);
    sigaction(SIGTERM, &sa, &saved_term);
}

void cli_release_stop(void)
{
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
}

char *cli_temp_db(const char *command)
{
    GError *error = NULL;
    char *path = NULL;
    char *pattern = g_strdup_printf("peko-%s-XXXXXX.db", command);
    int fd = g_file_open_tmp(pattern, &path, &error);
    g_free(pattern);
    if (fd < 0) {
        fprintf(stderr, "peko %s: %s\n", command, error->message);
        g_error_free(error);
        return NULL;
    }
    close(fd);
    unlink(path); /* the recorder creates it afresh */
    return path;
}
