/* json.c: the one JSON writer (json.h). */
#include "json.h"

#include <math.h>
#include <string.h>

/* What each open container expects next. */
typedef enum json_frame {
    FRAME_OBJECT_KEY,   /* in an object, a key (or its end) is due */
    FRAME_OBJECT_VALUE, /* in an object, the value of the key just written */
    FRAME_ARRAY,        /* in an array, a value (or its end) */
} json_frame;

struct model_json {
    GString *out;
    GArray *frames;     /* of json_frame, innermost last */
    GArray *counts;     /* of size_t: members or elements per frame */
    bool done;          /* a complete top-level value was written */
};

model_json *model_json_new(void)
{
    model_json *j = g_new0(model_json, 1);
    j->out = g_string_new(NULL);
    j->frames = g_array_new(FALSE, FALSE, sizeof(json_frame));
    j->counts = g_array_new(FALSE, FALSE, sizeof(size_t));
    return j;
}

void model_json_free(model_json *j)
{
    if (j == NULL)
        return;
    g_string_free(j->out, TRUE);
    g_array_free(j->frames, TRUE);
    g_array_free(j->counts, TRUE);
    g_free(j);
}

char *model_json_finish(model_json *j)
{
    g_return_val_if_fail(j != NULL, NULL);
    bool complete = j->done && j->frames->len == 0;
    char *text = complete ? g_string_free(j->out, FALSE) : NULL;
    if (!complete) {
        g_critical("model_json_finish: %s",
                   j->done ? "a container is still open" : "nothing written");
        g_string_free(j->out, TRUE);
    }
    g_array_free(j->frames, TRUE);
    g_array_free(j->counts, TRUE);
    g_free(j);
    return text;
}

static json_frame *top(model_json *j)
{
    return j->frames->len
               ? &g_array_index(j->frames, json_frame, j->frames->len - 1)
               : NULL;
}

static size_t *top_count(model_json *j)
{
    return &g_array_index(j->counts, size_t, j->counts->len - 1);
}

/* Before any value: the comma in an array, the end of a key's wait in
 * an object. False when no value may come here. */
static bool value_due(model_json *j)
{
    json_frame *f = top(j);
    if (f == NULL) {
        if (j->done) {
            g_critical("model_json: a second top-level value");
            return false;
        }
        return true;
    }
    switch (*f) {
    case FRAME_OBJECT_KEY:
        g_critical("model_json: a value where a key is due");
        return false;
    case FRAME_OBJECT_VALUE:
        *f = FRAME_OBJECT_KEY;
        return true;
    case FRAME_ARRAY:
        if ((*top_count(j))++ > 0)
            g_string_append_c(j->out, ',');
        return true;
    }
    return false;
}

/* After a whole value at the top level, the document is complete. */
static void value_written(model_json *j)
{
    if (j->frames->len == 0)
        j->done = true;
}

/* RFC 8259 section 7: quotation mark, reverse solidus and the control
 * characters must be escaped; DEL is too, so no terminal acts on it.
 * Bytes that are not UTF-8 become U+FFFD, one per byte. */
static void put_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    const char *p = s;
    while (*p) {
        /* end: the first byte that does not start valid UTF-8, or the
         * terminating NUL. */
        const char *end;
        g_utf8_validate(p, -1, &end);
        for (; p < end; p++) {
            unsigned char c = (unsigned char)*p;
            switch (c) {
            case '"': g_string_append(out, "\\\""); break;
            case '\\': g_string_append(out, "\\\\"); break;
            case '\n': g_string_append(out, "\\n"); break;
            case '\r': g_string_append(out, "\\r"); break;
            case '\t': g_string_append(out, "\\t"); break;
            default:
                if (c < 0x20 || c == 0x7f)
                    g_string_append_printf(out, "\\u%04x", c);
                else
                    g_string_append_c(out, (char)c);
            }
        }
        if (*p) {
            g_string_append(out, "\\ufffd");
            p++;
        }
    }
    g_string_append_c(out, '"');
}

static void open_container(model_json *j, char c, json_frame f)
{
    if (!value_due(j))
        return;
    g_string_append_c(j->out, c);
    size_t zero = 0;
    g_array_append_val(j->frames, f);
    g_array_append_val(j->counts, zero);
}

static void close_container(model_json *j, char c)
{
    g_string_append_c(j->out, c);
    g_array_set_size(j->frames, j->frames->len - 1);
    g_array_set_size(j->counts, j->counts->len - 1);
    value_written(j);
}

void model_json_begin_object(model_json *j)
{
    g_return_if_fail(j != NULL);
    open_container(j, '{', FRAME_OBJECT_KEY);
}

void model_json_end_object(model_json *j)
{
    g_return_if_fail(j != NULL);
    json_frame *f = top(j);
    if (f == NULL || *f != FRAME_OBJECT_KEY) {
        g_critical("model_json_end_object: %s",
                   f == NULL || *f == FRAME_ARRAY ? "no object open"
                                                  : "a key has no value");
        return;
    }
    close_container(j, '}');
}

void model_json_begin_array(model_json *j)
{
    g_return_if_fail(j != NULL);
    open_container(j, '[', FRAME_ARRAY);
}

void model_json_end_array(model_json *j)
{
    g_return_if_fail(j != NULL);
    json_frame *f = top(j);
    if (f == NULL || *f != FRAME_ARRAY) {
        g_critical("model_json_end_array: no array open");
        return;
    }
    close_container(j, ']');
}

void model_json_key(model_json *j, const char *key)
{
    g_return_if_fail(j != NULL && key != NULL);
    json_frame *f = top(j);
    if (f == NULL || *f != FRAME_OBJECT_KEY) {
        g_critical("model_json_key: %s",
                   f != NULL && *f == FRAME_OBJECT_VALUE
                       ? "the previous key has no value"
                       : "not in an object");
        return;
    }
    if ((*top_count(j))++ > 0)
        g_string_append_c(j->out, ',');
    put_string(j->out, key);
    g_string_append_c(j->out, ':');
    *f = FRAME_OBJECT_VALUE;
}

void model_json_string(model_json *j, const char *s)
{
    g_return_if_fail(j != NULL);
    if (!value_due(j))
        return;
    if (s == NULL)
        g_string_append(j->out, "null");
    else
        put_string(j->out, s);
    value_written(j);
}

void model_json_number(model_json *j, double v)
{
    g_return_if_fail(j != NULL);
    if (!value_due(j))
        return;
    if (!isfinite(v)) {
        g_string_append(j->out, "null");
    } else {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append(j->out, model_json_format_double(v, buf));
    }
    value_written(j);
}

char *model_json_format_double(double v, char buf[G_ASCII_DTOSTR_BUF_SIZE])
{
    /* The shortest of 15, 16, 17 significant digits that round-trips. */
    for (int digits = 15; digits <= 17; digits++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", digits);
        g_ascii_formatd(buf, G_ASCII_DTOSTR_BUF_SIZE, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

void model_json_int(model_json *j, int64_t v)
{
    g_return_if_fail(j != NULL);
    if (!value_due(j))
        return;
    g_string_append_printf(j->out, "%" G_GINT64_FORMAT, v);
    value_written(j);
}

void model_json_bool(model_json *j, bool v)
{
    g_return_if_fail(j != NULL);
    if (!value_due(j))
        return;
    g_string_append(j->out, v ? "true" : "false");
    value_written(j);
}

void model_json_null(model_json *j)
{
    g_return_if_fail(j != NULL);
    if (!value_due(j))
        return;
    g_string_append(j->out, "null");
    value_written(j);
}

void model_json_member_string(model_json *j, const char *key, const char *s)
{
    model_json_key(j, key);
    model_json_string(j, s);
}

void model_json_member_number(model_json *j, const char *key, double v)
{
    model_json_key(j, key);
    model_json_number(j, v);
}

void model_json_member_int(model_json *j, const char *key, int64_t v)
{
    model_json_key(j, key);
    model_json_int(j, v);
}

void model_json_member_bool(model_json *j, const char *key, bool v)
{
    model_json_key(j, key);
    model_json_bool(j, v);
}
