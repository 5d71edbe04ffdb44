/* units.c: durations, sizes, rates, bandwidths, integers and booleans.
 *
 * Numbers are parsed as exact decimals (no floating point on the way), so
 * "0.1s" is exactly 100000 us on every machine, and exponents, hex, inf
 * and nan are refused rather than half-understood.
 */
#include <math.h>
#include <string.h>

#include "scenario-private.h"

/* More digits than any value we accept can need; longer input is refused
 * before it reaches strtod or an accumulator. */
#define MAX_NUMBER_CHARS 32
/* Decimal places kept for values with units: enough for "0.000001s". */
#define MAX_FRACTION_DIGITS 9

char *scn__strip(char *s)
{
    return g_strstrip(s);
}

/* Shows at most this much of a bad value in a message. */
#define SHOW_MAX 80

static char *shown(const char *text)
{
    size_t n = strlen(text);
    if (n <= SHOW_MAX)
        return g_strdup(text);
    /* Cut at a character boundary: never inside a UTF-8 sequence. */
    size_t cut = SHOW_MAX;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    return g_strdup_printf("%.*s...", (int)cut, text);
}

static void fail(GError **error, scn_error_code code, const char *expected,
                 const char *text)
{
    char *s = shown(text);
    g_set_error(error, SCN_ERROR, code, "expected %s, got '%s'", expected, s);
    g_free(s);
}

/* A decimal "123.456" split into parts, with the unit suffix after it. */
typedef struct decimal {
    bool negative;
    uint64_t whole;        /* integer part */
    uint64_t frac;         /* fraction digits as an integer */
    unsigned frac_digits;  /* how many (after trimming trailing zeros) */
    const char *unit;      /* rest of the text after blanks, maybe "" */
} decimal;

/* Lexes [+-]digits[.digits] then blanks. Returns FALSE if there is no
 * number, it is too long, or it has more significant fraction digits
 * than MAX_FRACTION_DIGITS. */
static gboolean lex_decimal(const char *s, bool allow_sign, decimal *d)
{
    memset(d, 0, sizeof *d);
    const char *p = s;
    if (allow_sign && (*p == '-' || *p == '+')) {
        d->negative = *p == '-';
        p++;
    }
    if (!g_ascii_isdigit(*p))
        return FALSE;
    const char *start = p;
    while (g_ascii_isdigit(*p)) {
        if (p - start >= 19)
            return FALSE;  /* beyond uint64 range: refuse, don't wrap */
        d->whole = d->whole * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (*p == '.') {
        p++;
        if (!g_ascii_isdigit(*p))
            return FALSE;
        const char *fs = p;
        while (g_ascii_isdigit(*p))
            p++;
        if (p - fs > MAX_NUMBER_CHARS)
            return FALSE;
        /* Trailing zeros carry no value. */
        const char *fe = p;
        while (fe > fs && fe[-1] == '0')
            fe--;
        if (fe - fs > MAX_FRACTION_DIGITS)
            return FALSE;
        for (const char *q = fs; q < fe; q++)
            d->frac = d->frac * 10 + (uint64_t)(*q - '0');
        d->frac_digits = (unsigned)(fe - fs);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    d->unit = p;
    return TRUE;
}

static uint64_t pow10u(unsigned n)
{
    uint64_t r = 1;
    while (n--)
        r *= 10;
    return r;
}

/* d * unit as an exact integer. FALSE if it overflows or is not whole
 * (*not_whole tells which). */
static gboolean scale_exact(const decimal *d, uint64_t unit, uint64_t *out,
                            bool *not_whole)
{
    uint64_t whole;
    *not_whole = false;
    if (!g_uint64_checked_mul(&whole, d->whole, unit))
        return FALSE;
    /* frac < 10^9 and unit <= 3.6e9, so the product fits in 64 bits. */
    uint64_t num = d->frac * unit;
    uint64_t den = pow10u(d->frac_digits);
    if (num % den != 0) {
        *not_whole = true;
        return FALSE;
    }
    return g_uint64_checked_add(out, whole, num / den);
}

static const struct {
    const char *name;
    uint64_t us;
} duration_units[] = {
    {"us", 1},
    {"ms", 1000},
    {"s", 1000000},
    {"min", 60000000},
    {"h", 3600000000ULL},
};

#define DURATION_EXPECTED "a duration like 20ms (units us, ms, s, min, h)"

gboolean scn__parse_duration_bare(const char *text, gboolean allow_negative,
                                  int64_t bare_unit_us, int64_t *out_us,
                                  GError **error)
{
    char *s = scn__strip(g_strdup(text));
    decimal d;
    gboolean ok = FALSE;

    if (!lex_decimal(s, true, &d)) {
        fail(error, SCN_ERROR_VALUE, DURATION_EXPECTED, s);
        goto out;
    }
    uint64_t unit = 0;
    if (*d.unit == '\0') {
        if (d.whole == 0 && d.frac == 0)
            unit = 1;  /* "0" needs no unit */
        else if (bare_unit_us > 0)
            unit = (uint64_t)bare_unit_us;
        else {
            fail(error, SCN_ERROR_VALUE,
                 DURATION_EXPECTED "; a number needs a unit", s);
            goto out;
        }
    } else {
        for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++)
            if (strcmp(d.unit, duration_units[i].name) == 0)
                unit = duration_units[i].us;
        if (unit == 0) {
            fail(error, SCN_ERROR_VALUE, DURATION_EXPECTED, s);
            goto out;
        }
    }
    uint64_t us;
    bool not_whole;
    if (!scale_exact(&d, unit, &us, &not_whole)) {
        if (not_whole)
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected whole microseconds, got '%s'", s);
        else
            g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                        "expected a duration of at most 365 days, got '%s'",
                        s);
        goto out;
    }
    if (us > (uint64_t)SCN_DURATION_MAX_US) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "expected a duration of at most 365 days, got '%s'", s);
        goto out;
    }
    if (d.negative && us != 0 && !allow_negative) {
        g_set_error(error, SCN_ERROR, SCN_ERROR_RANGE,
                    "expected a duration of at least 0, got '%s'", s);
        goto out;
    }
    *out_us = d.negative ? -(int64_t)us : (int64_t)us;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

gboolean scn_parse_duration(const char *text, gboolean allow_negative,
                            int64_t *out_us, GError **error)
{
    g_return_val_if_fail(text != NULL && out_us != NULL, FALSE);
    return scn__parse_duration_bare(text, allow_negative, 0, out_us, error);
}

#define SIZE_EXPECTED \
    "a size like 16384, 16KiB or 1MiB (units B, KiB, MiB, GiB)"

gboolean scn_parse_size(const char *text, uint64_t *out_bytes, GError **error)
{
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {
        {"", 1}, {"B", 1}, {"KiB", 1u << 10}, {"MiB", 1u << 20},
        {"GiB", 1u << 30},
    };
    g_return_val_if_fail(text != NULL && out_bytes != NULL, FALSE);
    char *s = scn__strip(g_strdup(text));
    decimal d;
    gboolean ok = FALSE;
    uint64_t unit = 0;

    if (lex_decimal(s, false, &d))
        for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
            if (strcmp(d.unit, units[i].name) == 0)
                unit = units[i].bytes;
    if (unit == 0) {
        fail(error, SCN_ERROR_VALUE, SIZE_EXPECTED, s);
        goto out;
    }
    bool not_whole;
    uint64_t bytes;
    if (!scale_exact(&d, unit, &bytes, &not_whole)) {
        if (not_whole)
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected whole bytes, got '%s'", s);
        else
            fail(error, SCN_ERROR_RANGE, SIZE_EXPECTED, s);
        goto out;
    }
    *out_bytes = bytes;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

#define RATE_EXPECTED "a rate like 5% or 0.05 (from 0 to 1)"

gboolean scn_parse_rate(const char *text, double *out, GError **error)
{
    g_return_val_if_fail(text != NULL && out != NULL, FALSE);
    char *s = scn__strip(g_strdup(text));
    gboolean ok = FALSE;
    decimal d;

    if (!lex_decimal(s, false, &d) ||
        (strcmp(d.unit, "%") != 0 && *d.unit != '\0')) {
        fail(error, SCN_ERROR_VALUE, RATE_EXPECTED, s);
        goto out;
    }
    /* lex_decimal() checked the syntax; strtod() of plain digits with at
     * most 19 + 9 significant digits cannot overflow. */
    double v = g_ascii_strtod(s, NULL);
    if (*d.unit == '%')
        v /= 100.0;
    if (!(v >= 0.0 && v <= 1.0)) {
        fail(error, SCN_ERROR_RANGE, RATE_EXPECTED, s);
        goto out;
    }
    *out = v;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

#define BANDWIDTH_EXPECTED \
    "a bandwidth like 10Mbit (units bit, kbit, Mbit, Gbit, optionally " \
    "/s; or unlimited)"

gboolean scn_parse_bandwidth(const char *text, int64_t *out_bps,
                             GError **error)
{
    static const struct {
        const char *name;
        uint64_t bps;
    } units[] = {
        {"bit", 1}, {"bit/s", 1}, {"bps", 1},
        {"kbit", 1000}, {"kbit/s", 1000}, {"kbps", 1000},
        {"Mbit", 1000000}, {"Mbit/s", 1000000}, {"Mbps", 1000000},
        {"Gbit", 1000000000}, {"Gbit/s", 1000000000}, {"Gbps", 1000000000},
    };
    g_return_val_if_fail(text != NULL && out_bps != NULL, FALSE);
    char *s = scn__strip(g_strdup(text));
    gboolean ok = FALSE;
    decimal d;
    uint64_t unit = 0;

    if (g_ascii_strcasecmp(s, "unlimited") == 0) {
        *out_bps = 0;
        ok = TRUE;
        goto out;
    }
    if (lex_decimal(s, false, &d)) {
        if (*d.unit == '\0' && d.whole == 0 && d.frac == 0)
            unit = 1;
        for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
            if (g_ascii_strcasecmp(d.unit, units[i].name) == 0)
                unit = units[i].bps;
    }
    if (unit == 0) {
        fail(error, SCN_ERROR_VALUE, BANDWIDTH_EXPECTED, s);
        goto out;
    }
    bool not_whole;
    uint64_t bps;
    if (!scale_exact(&d, unit, &bps, &not_whole)) {
        if (not_whole)
            g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                        "expected whole bits per second, got '%s'", s);
        else
            fail(error, SCN_ERROR_RANGE, "a bandwidth of at most 1Tbit", s);
        goto out;
    }
    if (bps > (uint64_t)SCN_BANDWIDTH_MAX_BPS) {
        fail(error, SCN_ERROR_RANGE, "a bandwidth of at most 1000Gbit", s);
        goto out;
    }
    *out_bps = (int64_t)bps;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

gboolean scn__parse_int(const char *text, int64_t min, int64_t max,
                        int64_t *out, GError **error)
{
    char *s = scn__strip(g_strdup(text));
    decimal d;
    gboolean ok = FALSE;
    char expected[96];
    g_snprintf(expected, sizeof expected,
               "an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT,
               min, max);

    if (!lex_decimal(s, min < 0, &d) || *d.unit != '\0' ||
        d.frac_digits != 0 || strchr(s, '.') != NULL) {
        fail(error, SCN_ERROR_VALUE, expected, s);
        goto out;
    }
    if (d.whole > (uint64_t)INT64_MAX) {
        fail(error, SCN_ERROR_RANGE, expected, s);
        goto out;
    }
    int64_t v = d.negative ? -(int64_t)d.whole : (int64_t)d.whole;
    if (v < min || v > max) {
        fail(error, SCN_ERROR_RANGE, expected, s);
        goto out;
    }
    *out = v;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

gboolean scn__parse_number(const char *text, double *out, GError **error)
{
    char *s = scn__strip(g_strdup(text));
    gboolean ok = FALSE;
    const char *p = s;

    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0, dots = 0;
    for (const char *q = p; *q; q++) {
        if (g_ascii_isdigit(*q))
            digits++;
        else if (*q == '.' && dots == 0 && q > p && g_ascii_isdigit(q[1]))
            dots++;
        else {
            digits = 0;
            break;
        }
    }
    if (digits == 0 || strlen(s) > MAX_NUMBER_CHARS) {
        fail(error, SCN_ERROR_VALUE, "a number like 0.5 or 50", s);
        goto out;
    }
    double v = g_ascii_strtod(s, NULL);
    if (!isfinite(v)) {
        fail(error, SCN_ERROR_RANGE, "a finite number", s);
        goto out;
    }
    *out = v;
    ok = TRUE;
out:
    g_free(s);
    return ok;
}

gboolean scn__parse_bool(const char *text, bool *out, GError **error)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    char *s = scn__strip(g_strdup(text));
    gboolean ok = TRUE;

    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(s, yes[i]) == 0) {
            *out = true;
            goto out;
        }
        if (g_ascii_strcasecmp(s, no[i]) == 0) {
            *out = false;
            goto out;
        }
    }
    fail(error, SCN_ERROR_VALUE, "true or false", s);
    ok = FALSE;
out:
    g_free(s);
    return ok;
}

char **scn__split_list(const char *text, char separator, GError **error)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    int depth = 0;
    bool quoted = false;
    const char *start = text;

    for (const char *p = text;; p++) {
        if (quoted) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                quoted = false;
            else if (*p == '\0')
                break;
            continue;
        }
        if (*p == '"')
            quoted = true;
        else if (*p == '(')
            depth++;
        else if (*p == ')' && --depth < 0)
            break;
        else if (*p == '\0' || (*p == separator && depth == 0)) {
            g_ptr_array_add(items,
                            scn__strip(g_strndup(start, (gsize)(p - start))));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    if (quoted || depth != 0) {
        char *s = shown(text);
        g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                    "unbalanced %s in '%s'", quoted ? "quotes" : "parentheses",
                    s);
        g_free(s);
        g_ptr_array_free(items, TRUE);
        return NULL;
    }
    g_ptr_array_add(items, NULL);
    return (char **)g_ptr_array_free(items, FALSE);
}

char *scn__unquote(const char *text, GError **error)
{
    size_t n = strlen(text);
    if (n == 0 || text[0] != '"')
        return g_strdup(text);
    GString *out = g_string_sized_new(n);
    for (size_t i = 1; i < n; i++) {
        char c = text[i];
        if (c == '\\' && i + 1 < n) {
            c = text[++i];
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c != '"' && c != '\\') {
                g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                            "unknown escape '\\%c' in a quoted value "
                            "(use \\\", \\\\, \\n or \\t)", c);
                g_string_free(out, TRUE);
                return NULL;
            }
        } else if (c == '"') {
            if (i != n - 1) {
                g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                            "text after the closing quote in %s", text);
                g_string_free(out, TRUE);
                return NULL;
            }
            return g_string_free(out, FALSE);
        }
        g_string_append_c(out, c);
    }
    g_set_error(error, SCN_ERROR, SCN_ERROR_VALUE,
                "unterminated quote in %s", text);
    g_string_free(out, TRUE);
    return NULL;
}

char *scn__format_duration(int64_t us)
{
    if (us % 1000000 == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT "s", us / 1000000);
    if (us % 1000 == 0)
        return g_strdup_printf("%" G_GINT64_FORMAT "ms", us / 1000);
    return g_strdup_printf("%" G_GINT64_FORMAT "us", us);
}
