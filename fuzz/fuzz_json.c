/* libFuzzer target: the JSON parser on arbitrary bytes. Accepted documents are walked and
 * re-serialized with vt_strbuf; the strings must survive the round trip. */
#include "core/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void walk(const vt_json *v, vt_strbuf *out) {
    switch (v->type) {
    case VT_JSON_NULL: vt_strbuf_append(out, "null", 4); break;
    case VT_JSON_BOOL: vt_strbuf_append(out, v->boolean ? "true" : "false", v->boolean ? 4 : 5); break;
    case VT_JSON_NUMBER: vt_strbuf_printf(out, "%.17g", v->number); break;
    case VT_JSON_STRING:
        if (strlen(v->string) > v->length) abort();
        vt_strbuf_json_string(out, v->string);
        break;
    case VT_JSON_ARRAY:
    case VT_JSON_OBJECT:
        vt_strbuf_append(out, v->type == VT_JSON_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < v->count; i++) {
            if (i) vt_strbuf_append(out, ",", 1);
            if (v->type == VT_JSON_OBJECT) {
                vt_strbuf_json_string(out, v->keys[i]);
                vt_strbuf_append(out, ":", 1);
                if (vt_json_get(v, v->keys[i]) == NULL) abort();
            }
            walk(&v->items[i], out);
        }
        vt_strbuf_append(out, v->type == VT_JSON_ARRAY ? "]" : "}", 1);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1); /* exact size: no terminator to lean on */
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    char err[128];
    vt_json *v = vt_json_parse(buf, size, err, sizeof err);
    if (v) {
        vt_strbuf out = {0};
        walk(v, &out);
        if (!out.failed) {
            /* the re-serialized text is valid JSON again (strings cut at \u0000 stay valid) */
            vt_json *again = vt_json_parse(out.data, out.len, err, sizeof err);
            if (!again) abort();
            vt_json_free(again);
        }
        vt_strbuf_free(&out);
        vt_json_free(v);
    } else if (!memchr(err, '\0', sizeof err) || !strstr(err, "at byte ")) {
        abort(); /* every failure has a terminated message with an offset */
    }
    free(buf);
    return 0;
}
