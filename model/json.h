/* json.h: the one JSON writer of peko (RFC 8259).
 *
 * Everything peko writes as JSON goes through it: a run's parameters
 * (scenarios, `peko node`), `peko report --format json`. A builder keeps
 * the commas and the nesting, so a caller says only what goes where:
 *
 *     model_json *j = model_json_new();
 *     model_json_begin_object(j);
 *     model_json_member_int(j, "amount", 3);
 *     model_json_key(j, "seeds");
 *     model_json_begin_array(j);
 *     model_json_string(j, "127.0.0.1:8001");
 *     model_json_end_array(j);
 *     model_json_end_object(j);
 *     char *text = model_json_finish(j);   // {"amount":3,"seeds":[...]}
 *
 * What it writes is valid JSON whatever it is given:
 * - strings escape '"', '\\' and every control character (U+0000 to
 *   U+001F, and DEL) as \" \\ \n \r \t or \u00XX; bytes that are not
 *   UTF-8 become U+FFFD, one per byte, so the text is always UTF-8; NULL
 *   is written as null;
 * - numbers are the shortest of 15, 16 or 17 significant digits that read
 *   back to the same double, in the C locale; NaN and infinities, which
 *   JSON cannot hold, are written as null;
 * - the same calls give the same bytes on every machine.
 *
 * Misuse (a value where a key is due, closing what is not open, finishing
 * with something open) is a programming error: a critical is logged and
 * the call does nothing.
 */
#ifndef MODEL_JSON_H
#define MODEL_JSON_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct model_json model_json;

/* An empty builder; never fails (GLib aborts on out-of-memory). Free it
 * with model_json_free, or take its text with model_json_finish. */
model_json *model_json_new(void);
/* Frees the builder and what it wrote. NULL is a no-op. */
void model_json_free(model_json *j);
/* Frees the builder and returns its text, owned by the caller (g_free).
 * Returns NULL (and frees the builder) if an object or array is still
 * open or nothing was written. */
char *model_json_finish(model_json *j);

/* Containers: a value wherever one is due (top level, in an array, after
 * a key). */
void model_json_begin_object(model_json *j);
void model_json_end_object(model_json *j);
void model_json_begin_array(model_json *j);
void model_json_end_array(model_json *j);

/* In an object: the key of the next value (escaped as a string). */
void model_json_key(model_json *j, const char *key);

/* Values. */
void model_json_string(model_json *j, const char *s);
void model_json_number(model_json *j, double v);
void model_json_int(model_json *j, int64_t v);
void model_json_bool(model_json *j, bool v);
void model_json_null(model_json *j);

/* The text model_json_number writes for a finite v, into buf (for other
 * formats that want the same numbers, such as CSV). Returns buf. */
char *model_json_format_double(double v, char buf[G_ASCII_DTOSTR_BUF_SIZE]);

/* A key and its value, in one call. */
void model_json_member_string(model_json *j, const char *key, const char *s);
void model_json_member_number(model_json *j, const char *key, double v);
void model_json_member_int(model_json *j, const char *key, int64_t v);
void model_json_member_bool(model_json *j, const char *key, bool v);

G_END_DECLS

#endif /* MODEL_JSON_H */
