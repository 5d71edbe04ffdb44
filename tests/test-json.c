/* test-json.c: the one JSON writer (model/json.h): commas and nesting,
 * RFC 8259 string escapes, text that stays UTF-8 whatever bytes it is
 * given, numbers that read back exactly, null for what JSON cannot hold,
 * and misuse refused. */
#include <criterion/criterion.h>
#include <glib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

/* The text of one string value. */
static char *string_json(const char *s)
{
    model_json *j = model_json_new();
    model_json_string(j, s);
    return model_json_finish(j);
}

static char *number_json(double v)
{
    model_json *j = model_json_new();
    model_json_number(j, v);
    return model_json_finish(j);
}

static void assert_string_json(const char *in, const char *want)
{
    char *got = string_json(in);
    cr_assert_str_eq(got, want);
    g_free(got);
}

Test(json, nesting_puts_commas_between_members_and_elements)
{
    model_json *j = model_json_new();
    model_json_begin_object(j);
    model_json_member_int(j, "a", 1);
    model_json_key(j, "b");
    model_json_begin_array(j);
    model_json_int(j, 2);
    model_json_begin_object(j);
    model_json_end_object(j);
    model_json_begin_array(j);
    model_json_end_array(j);
    model_json_begin_object(j);
    model_json_member_bool(j, "c", true);
    model_json_member_bool(j, "d", false);
    model_json_key(j, "e");
    model_json_null(j);
    model_json_end_object(j);
    model_json_end_array(j);
    model_json_member_string(j, "f", "x");
    model_json_member_number(j, "g", 0.5);
    model_json_end_object(j);
    char *text = model_json_finish(j);
    cr_assert_str_eq(text, "{\"a\":1,\"b\":[2,{},[],{\"c\":true,\"d\":false,"
                           "\"e\":null}],\"f\":\"x\",\"g\":0.5}");
    g_free(text);

    /* A top-level array, and a top-level scalar. */
    j = model_json_new();
    model_json_begin_array(j);
    model_json_string(j, "a");
    model_json_string(j, NULL);
    model_json_end_array(j);
    text = model_json_finish(j);
    cr_assert_str_eq(text, "[\"a\",null]");
    g_free(text);
    j = model_json_new();
    model_json_int(j, INT64_MIN);
    text = model_json_finish(j);
    cr_assert_str_eq(text, "-9223372036854775808");
    g_free(text);
}

Test(json, strings_escape_quotes_backslashes_and_control_characters)
{
    assert_string_json("plain", "\"plain\"");
    assert_string_json("", "\"\"");
    assert_string_json("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
    assert_string_json("\n\r\t", "\"\\n\\r\\t\"");
    /* Every other control character as \u00XX, and DEL. */
    assert_string_json("\x01\x08\x0c\x1f\x7f", "\"\\u0001\\u0008\\u000c"
                                               "\\u001f\\u007f\"");
    /* Keys are strings too. */
    model_json *j = model_json_new();
    model_json_begin_object(j);
    model_json_member_int(j, "k\"\n", 1);
    model_json_end_object(j);
    char *text = model_json_finish(j);
    cr_assert_str_eq(text, "{\"k\\\"\\n\":1}");
    g_free(text);
}

Test(json, valid_utf8_is_kept_and_invalid_bytes_become_replacement)
{
    /* Two, three and four byte sequences pass as they are. */
    assert_string_json("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
                       "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
    /* A stray byte, a truncated sequence, an overlong encoding and an
     * encoded surrogate: one U+FFFD per byte, the rest kept. */
    assert_string_json("a\xff" "b", "\"a\\ufffdb\"");
    assert_string_json("\xe6\x97", "\"\\ufffd\\ufffd\"");
    assert_string_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    assert_string_json("\xed\xa0\x80x", "\"\\ufffd\\ufffd\\ufffdx\"");
    /* Whatever the bytes, the text is UTF-8 with no raw control
     * character. */
    uint64_t state = 1;
    char in[64];
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = (size_t)trial % 63;
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            in[i] = (char)(1 + (state >> 33) % 255); /* never NUL */
        }
        in[n] = '\0';
        char *out = string_json(in);
        cr_assert(g_utf8_validate(out, -1, NULL), "trial %d", trial);
        for (const char *p = out; *p; p++)
            cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f,
                      "trial %d: raw byte 0x%02x", trial, (unsigned char)*p);
        g_free(out);
    }
}

Test(json, numbers_read_back_exactly_and_non_finite_is_null)
{
    static const double values[] = {0.0, 0.5, -2.25, 0.1, 1.0 / 3,
                                    1e300, 5e-324, 123456789012345678.0};
    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        char *t = number_json(values[i]);
        cr_assert_eq(g_ascii_strtod(t, NULL), values[i], "%s", t);
        g_free(t);
    }
    char *t = number_json(0.1);
    cr_assert_str_eq(t, "0.1"); /* the shortest that reads back */
    g_free(t);
    t = number_json(1.0 / 3); /* 16 digits */
    cr_assert_str_eq(t, "0.3333333333333333");
    g_free(t);
    t = number_json(0.1 + 0.2); /* 17 digits */
    cr_assert_str_eq(t, "0.30000000000000004");
    g_free(t);
    static const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        t = number_json(bad[i]);
        cr_assert_str_eq(t, "null");
        g_free(t);
    }
    /* The same text for CSV and the like. */
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    cr_assert_str_eq(model_json_format_double(-2.25, buf), "-2.25");
}

/* Criticals from misuse, counted instead of aborting the test. */
static int criticals;

static void count_critical(const char *domain, GLogLevelFlags level,
                           const char *message, void *data)
{
    criticals++;
}

Test(json, misuse_is_refused_and_writes_nothing)
{
    g_log_set_handler(NULL, G_LOG_LEVEL_CRITICAL, count_critical, NULL);
    g_log_set_always_fatal(G_LOG_FATAL_MASK);
    criticals = 0;
    model_json *j = model_json_new();
    model_json_begin_object(j);
    model_json_int(j, 1);               /* a value where a key is due */
    model_json_end_array(j);            /* no array open */
    model_json_key(j, "a");
    model_json_key(j, "b");             /* the previous key has no value */
    model_json_end_object(j);           /* a key has no value */
    model_json_int(j, 2);
    model_json_end_object(j);
    model_json_int(j, 3);               /* a second top-level value */
    char *text = model_json_finish(j);
    cr_assert_str_eq(text, "{\"a\":2}");
    g_free(text);
    cr_assert_eq(criticals, 5);

    /* Finished with something open, or empty: no text. */
    j = model_json_new();
    model_json_begin_array(j);
    cr_assert_null(model_json_finish(j));
    cr_assert_null(model_json_finish(model_json_new()));
    cr_assert_eq(criticals, 7);
    model_json_free(NULL);
    j = model_json_new();
    model_json_begin_object(j);
    model_json_free(j);
}
