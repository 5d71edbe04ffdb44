/* ctl-proto.c: the control socket's path and escaping (ctl-proto.h). */
#include "ctl-proto.h"

#include <unistd.h>

char *run_ctl_default_path(unsigned port)
{
    const char *runtime = g_getenv("XDG_RUNTIME_DIR");
    if (runtime && *runtime)
        return g_strdup_printf("%s/peko-%u.sock", runtime, port);
    return g_strdup_printf("/tmp/peko-%u-%u.sock", (unsigned)getuid(), port);
}

void run_ctl_escape(GString *out, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = bytes[i];
        if (c > 0x20 && c < 0x7f && c != '\\' && c != '{' && c != '}')
            g_string_append_c(out, (char)c);
        else
            g_string_append_printf(out, "\\x%02x", c);
    }
}

uint8_t *run_ctl_unescape(const char *text, size_t n_text, size_t *n_out)
{
    uint8_t *out = g_malloc(n_text + 1);
    size_t n = 0;
    for (size_t i = 0; i < n_text; i++) {
        if (text[i] != '\\') {
            out[n++] = (uint8_t)text[i];
            continue;
        }
        /* A backslash needs "xNN" after it. */
        if (n_text - i < 4 || text[i + 1] != 'x' ||
            !g_ascii_isxdigit(text[i + 2]) || !g_ascii_isxdigit(text[i + 3])) {
            g_free(out);
            return NULL;
        }
        out[n++] = (uint8_t)(g_ascii_xdigit_value(text[i + 2]) << 4 |
                             g_ascii_xdigit_value(text[i + 3]));
        i += 3;
    }
    out[n] = 0;
    *n_out = n;
    return out;
}
