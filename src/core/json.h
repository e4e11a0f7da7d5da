/* A small strict JSON parser (RFC 8259) producing a tree. Used for safetensors headers,
 * Hugging Face config.json / preprocessor_config.json and vitc metadata.
 * Bounded nesting depth so hostile input cannot exhaust the stack. */
#ifndef VT_JSON_H
#define VT_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum vt_json_type {
    VT_JSON_NULL, VT_JSON_BOOL, VT_JSON_NUMBER, VT_JSON_STRING, VT_JSON_ARRAY, VT_JSON_OBJECT
} vt_json_type;

typedef struct vt_json vt_json;
struct vt_json {
    vt_json_type type;
    int boolean;
    double number;
    char *string;      /* VT_JSON_STRING: NUL-terminated UTF-8 (escapes decoded) */
    size_t length;     /* string length in bytes (strings may hold \u0000) */
    size_t count;      /* ARRAY / OBJECT: number of items */
    vt_json *items;    /* ARRAY / OBJECT: the values */
    char **keys;       /* OBJECT: the keys, parallel to items */
};

/* Parses text[0..len). On failure returns NULL and writes a short reason (with byte offset) to err. */
vt_json *vt_json_parse(const char *text, size_t len, char *err, size_t errlen);
void vt_json_free(vt_json *value);

/* Object member lookup (first match), NULL if absent or value is not an object. */
const vt_json *vt_json_get(const vt_json *object, const char *key);
/* Typed getters with defaults for absent / mistyped members. */
double vt_json_get_number(const vt_json *object, const char *key, double fallback);
const char *vt_json_get_string(const vt_json *object, const char *key, const char *fallback);
int vt_json_get_bool(const vt_json *object, const char *key, int fallback);

/* Writes s as a JSON string literal (quotes and escapes) into a growing buffer. */
typedef struct vt_strbuf { char *data; size_t len, cap; int failed; } vt_strbuf;
void vt_strbuf_append(vt_strbuf *b, const char *s, size_t n);
void vt_strbuf_printf(vt_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void vt_strbuf_json_string(vt_strbuf *b, const char *s);
/* rows x cols integers (row-major) as a JSON array of row arrays. */
void vt_strbuf_json_matrix(vt_strbuf *b, const int64_t *m, int rows, int cols);
void vt_strbuf_free(vt_strbuf *b);

#endif
