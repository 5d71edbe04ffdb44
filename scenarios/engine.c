/* engine.c: the engine's settings from text, the one parser for every
 * source (a scenario's [engine] group, `peko node`'s flags and file).
 *
 * The same key, spelled by its name or a pekonode alias, takes the same
 * units and the same limits everywhere: the limits are the engine's own
 * (peko.h), and what a setting means together with the others (a UDP
 * size, keys) is left to peko_config_check(), which names the field.
 */
#include <string.h>

#include "scenario-private.h"

/* Reads an integer setting into an int. */
static gboolean set_int(const char *text, int64_t min, int64_t max, int *out,
                        GError **error)
{
    int64_t v;
    if (!scn__parse_int(text, min, max, &v, error))
        return FALSE;
    *out = (int)v;
    return TRUE;
}

/* Reads a duration; pekonode's own spellings of a key (Cycle, Timeout)
 * take a bare number as seconds, as pekonode does. */
static gboolean set_duration(const char *text, bool bare_seconds,
                             int64_t min_us, int64_t max_us,
                             const char *range, int64_t *out, GError **error)
{
    int64_t v;
    if (!scn__parse_duration_bare(text, TRUE, bare_seconds ? 1000000 : 0,
                                  &v, error))
        return FALSE;
    if (v < 0) {
        /* Said as it is: "at least 0" would be wrong for a cycle, whose
         * least is 1ms. */
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "a duration here cannot be negative: expected one from"
                    " %s, got '%.80s'",
                    range, text);
        return FALSE;
    }
    if (v < min_us || v > max_us) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "expected a duration from %s, got '%.80s'", range, text);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

gboolean scn_engine_set(peko_config *config, const char *key,
                        const char *text, GError **error)
{
    const char *name = scn_engine_setting_name(key);
    if (name == NULL || scn_engine_setting_is_text(name)) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_UNKNOWN,
                    "not an engine setting with a value to parse: '%.80s'",
                    key);
        return FALSE;
    }
    bool pekonode = g_ascii_isupper(key[0]);

    if (strcmp(name, "amount") == 0)
        return set_int(text, 1, PEKO_MAX_AMOUNT, &config->amount, error);
    if (strcmp(name, "cycle") == 0)
        return set_duration(text, pekonode, PEKO_MIN_CYCLE_US,
                            PEKO_MAX_CYCLE_US, "1ms to 1 day",
                            &config->cycle_us, error);
    if (strcmp(name, "timeout") == 0)
        return set_duration(text, pekonode, 0, PEKO_MAX_TIMEOUT_US,
                            "0 to 365 days", &config->timeout_us, error);
    if (strcmp(name, "buffer") == 0)
        return set_int(text, 1, PEKO_MAX_BUFFER, &config->buffer, error);
    if (strcmp(name, "seen_cache") == 0)
        return set_int(text, 1, PEKO_MAX_SEEN_CACHE, &config->seen_cache,
                       error);
    if (strcmp(name, "exchanges") == 0)
        return set_int(text, 1, PEKO_MAX_EXCHANGES, &config->exchanges,
                       error);
    if (strcmp(name, "size") == 0) {
        uint64_t bytes;
        if (!scn_parse_size(text, &bytes, error))
            return FALSE;
        if (bytes < PEKO_MIN_SIZE || bytes > PEKO_MAX_SIZE) {
            g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                        "expected a size from %d bytes to 64MiB, got '%.80s'",
                        PEKO_MIN_SIZE, text);
            return FALSE;
        }
        config->size = (int)bytes;
        return TRUE;
    }
    if (strcmp(name, "protocol") == 0) {
        char *s = scn__strip(g_strdup(text));
        gboolean ok = TRUE;
        if (g_ascii_strcasecmp(s, "udp") == 0)
            config->protocol = PEKO_PROTOCOL_UDP;
        else if (g_ascii_strcasecmp(s, "tcp") == 0)
            config->protocol = PEKO_PROTOCOL_TCP;
        else {
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected udp or tcp, got '%.80s'", s);
            ok = FALSE;
        }
        g_free(s);
        return ok;
    }
    if (strcmp(name, "dissemination") == 0) {
        char *s = scn__strip(g_strdup(text));
        peko_dissemination d;
        gboolean ok = peko_dissemination_parse(s, &d) == 0;
        if (ok)
            config->dissemination = d;
        else
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected rumor or classic or digest, got '%.80s'",
                        s);
        g_free(s);
        return ok;
    }
    if (strcmp(name, "is_print") == 0)
        return scn__parse_bool(text, &config->is_print, error);
    g_assert_not_reached();
}

gboolean scn_engine_check(const peko_config *config, GError **error)
{
    char why[256];
    if (peko_config_check(config, why, sizeof why) == 0)
        return TRUE;
    g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                "the engine refuses this configuration: %s", why);
    return FALSE;
}
