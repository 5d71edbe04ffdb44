/* cli.c: helpers shared by the peko program's subcommands (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

int peko_cli_usage_error(const char *command, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    fprintf(stderr, "peko %s: %s\nTry 'peko %s --help' for more information.\n",
            command, message, command);
    g_free(message);
    return PEKO_EXIT_USAGE;
}

gboolean peko_cli_parse_positional(GOptionContext *context,
                                   const char *command, int *argc,
                                   char ***argv, int n_positional)
{
    GError *error = NULL;
    if (!g_option_context_parse(context, argc, argv, &error)) {
        peko_cli_usage_error(command, "%s", error->message);
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
        if (n > n_positional) {
            peko_cli_usage_error(command, "unexpected argument '%s'",
                                 (*argv)[i]);
            return FALSE;
        }
        (*argv)[n++] = (*argv)[i];
    }
    if (n - 1 < n_positional) {
        peko_cli_usage_error(command, "missing argument (%d expected)",
                             n_positional);
        return FALSE;
    }
    *argc = n;
    return TRUE;
}

gboolean peko_cli_parse(GOptionContext *context, const char *command,
                        int *argc, char ***argv)
{
    return peko_cli_parse_positional(context, command, argc, argv, 0);
}

gboolean peko_cli_parse_u64(const char *option, const char *value,
                            uint64_t min, uint64_t max, uint64_t *out,
                            GError **error)
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

void peko_cli_append_escaped(GString *out, const uint8_t *bytes, size_t n,
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
