/* Strict RFC 8259 JSON parser producing a tree, plus a small growing string buffer.
 *
 * Strictness: exactly one value surrounded by optional whitespace (space, tab, CR, LF);
 * strings must be valid UTF-8 without raw control characters; escapes are the eight
 * standard ones plus \uXXXX, where surrogates must come in high/low pairs; numbers follow
 * the RFC grammar exactly (no leading zeros, no '+', no bare '.', no NaN/Infinity) and must
 * be finite as doubles. Nesting is limited to VT_JSON_MAX_DEPTH so that hostile input cannot
 * exhaust the stack. Duplicate object keys are kept; lookups return the first. */
#include "core/json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VT_JSON_MAX_DEPTH 64

typedef struct parser {
    const unsigned char *s;
    size_t n;
    size_t pos;
    int depth;
    char *err;
    size_t errlen;
} parser;

static int fail_at(parser *p, size_t at, const char *what) {
    if (p->err && p->errlen) snprintf(p->err, p->errlen, "%s at byte %zu", what, at);
    return 0;
}

static int fail(parser *p, const char *what) { return fail_at(p, p->pos, what); }

/* "unexpected character 'x'" or "unexpected byte 0x1f" or "unexpected end of input". */
static int fail_unexpected(parser *p, const char *context) {
    char msg[96];
    if (p->pos >= p->n) {
        snprintf(msg, sizeof msg, "unexpected end of input%s%s", context ? ", " : "", context ? context : "");
    } else {
        unsigned c = p->s[p->pos];
        if (c >= 0x21 && c < 0x7f)
            snprintf(msg, sizeof msg, "unexpected character '%c'%s%s", (int)c, context ? ", " : "",
                     context ? context : "");
        else
            snprintf(msg, sizeof msg, "unexpected byte 0x%02x%s%s", c, context ? ", " : "",
                     context ? context : "");
    }
    return fail(p, msg);
}

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static void free_contents(vt_json *v) {
    if (!v) return;
    free(v->string);
    if (v->items) {
        for (size_t i = 0; i < v->count; i++) free_contents(&v->items[i]);
        free(v->items);
    }
    if (v->keys) {
        for (size_t i = 0; i < v->count; i++) free(v->keys[i]);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

void vt_json_free(vt_json *value) {
    if (!value) return;
    free_contents(value);
    free(value);
}

/* ------------------------------------------------------------------ strings */

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; } /* no encoded surrogates */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; } /* at most U+10FFFF */
    else return 0;
    if (avail < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

/* Parses a string starting at the opening quote. On success *out is a malloc'ed,
 * NUL-terminated UTF-8 string of *outlen bytes. */
static int parse_string(parser *p, char **out, size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    size_t start = p->pos; /* the opening quote */
    /* First pass: find the closing quote, so the output can be sized (decoding never grows). */
    size_t i = start + 1;
    for (;;) {
        if (i >= p->n) return fail_at(p, start, "unterminated string");
        unsigned char c = p->s[i];
        if (c == '"') break;
        if (c == '\\') i++;
        i++;
    }
    size_t end = i; /* index of the closing quote */
    char *buf = malloc(end - start);
    if (!buf) return fail_at(p, start, "out of memory");
    size_t o = 0;
    i = start + 1;
    while (i < end) {
        unsigned char c = p->s[i];
        if (c < 0x20) {
            free(buf);
            return fail_at(p, i, "control character in string");
        }
        if (c >= 0x80) {
            size_t len = utf8_seq(p->s + i, end - i);
            if (!len) {
                free(buf);
                return fail_at(p, i, "invalid UTF-8 in string");
            }
            memcpy(buf + o, p->s + i, len);
            o += len;
            i += len;
            continue;
        }
        if (c != '\\') {
            buf[o++] = (char)c;
            i++;
            continue;
        }
        /* escape: i + 1 < end is guaranteed by the first pass unless the backslash escapes the
         * closing quote, which the first pass already treated as part of the string. */
        unsigned char e = p->s[i + 1];
        switch (e) {
        case '"': buf[o++] = '"'; i += 2; continue;
        case '\\': buf[o++] = '\\'; i += 2; continue;
        case '/': buf[o++] = '/'; i += 2; continue;
        case 'b': buf[o++] = '\b'; i += 2; continue;
        case 'f': buf[o++] = '\f'; i += 2; continue;
        case 'n': buf[o++] = '\n'; i += 2; continue;
        case 'r': buf[o++] = '\r'; i += 2; continue;
        case 't': buf[o++] = '\t'; i += 2; continue;
        case 'u': break;
        default:
            free(buf);
            return fail_at(p, i, "invalid escape in string");
        }
        unsigned cp;
        if (end - i < 6 || !hex4(p->s + i + 2, &cp)) {
            free(buf);
            return fail_at(p, i, "invalid \\u escape in string");
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(buf);
            return fail_at(p, i, "unpaired low surrogate in string");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (end - i < 12 || p->s[i + 6] != '\\' || p->s[i + 7] != 'u' || !hex4(p->s + i + 8, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF) {
                free(buf);
                return fail_at(p, i, "unpaired high surrogate in string");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 12;
        } else {
            i += 6;
        }
        o += put_utf8(buf + o, cp);
    }
    buf[o] = '\0';
    p->pos = end + 1;
    *out = buf;
    *outlen = o;
    return 1;
}

/* ------------------------------------------------------------------ numbers */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, double *out) {
    size_t start = p->pos, i = p->pos;
    if (i < p->n && p->s[i] == '-') i++;
    if (i >= p->n || !is_digit(p->s[i])) return fail_at(p, start, "invalid number");
    if (p->s[i] == '0') {
        i++;
        if (i < p->n && is_digit(p->s[i])) return fail_at(p, start, "invalid number (leading zero)");
    } else {
        while (i < p->n && is_digit(p->s[i])) i++;
    }
    if (i < p->n && p->s[i] == '.') {
        i++;
        if (i >= p->n || !is_digit(p->s[i])) return fail_at(p, start, "invalid number (digit expected after '.')");
        while (i < p->n && is_digit(p->s[i])) i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->n || !is_digit(p->s[i])) return fail_at(p, start, "invalid number (digit expected in exponent)");
        while (i < p->n && is_digit(p->s[i])) i++;
    }
    size_t len = i - start;
    char small[64];
    char *tmp = len < sizeof small ? small : malloc(len + 1);
    if (!tmp) return fail_at(p, start, "out of memory");
    memcpy(tmp, p->s + start, len);
    tmp[len] = '\0';
    /* strtod honours LC_NUMERIC; translate the '.' if the locale uses another decimal point. */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && dp[1] == '\0') {
        char *dot = strchr(tmp, '.');
        if (dot) *dot = dp[0];
    }
    char *endp = NULL;
    double v = strtod(tmp, &endp);
    int ok = endp == tmp + len;
    if (tmp != small) free(tmp);
    if (!ok) return fail_at(p, start, "invalid number");
    if (isinf(v)) return fail_at(p, start, "number out of range");
    *out = v;
    p->pos = i;
    return 1;
}

/* ------------------------------------------------------------------ values */

static int parse_value(parser *p, vt_json *out);

static int grow(parser *p, vt_json *v, size_t *cap, int with_keys) {
    if (v->count < *cap) return 1;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / sizeof(vt_json)) return fail(p, "out of memory");
    vt_json *items = realloc(v->items, ncap * sizeof *items);
    if (!items) return fail(p, "out of memory");
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, ncap * sizeof *keys);
        if (!keys) return fail(p, "out of memory");
        v->keys = keys;
    }
    *cap = ncap;
    return 1;
}

static int parse_array(parser *p, vt_json *out) {
    out->type = VT_JSON_ARRAY;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
        return 1;
    }
    size_t cap = 0;
    for (;;) {
        if (!grow(p, out, &cap, 0)) return 0;
        vt_json *item = &out->items[out->count++];
        memset(item, 0, sizeof *item);
        if (!parse_value(p, item)) return 0;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == ']') {
            p->pos++;
            return 1;
        }
        return fail_unexpected(p, "expected ',' or ']'");
    }
}

static int parse_object(parser *p, vt_json *out) {
    out->type = VT_JSON_OBJECT;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') {
        p->pos++;
        return 1;
    }
    size_t cap = 0;
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != '"') return fail_unexpected(p, "expected a string key");
        if (!grow(p, out, &cap, 1)) return 0;
        char *key;
        size_t keylen;
        if (!parse_string(p, &key, &keylen)) return 0;
        vt_json *item = &out->items[out->count];
        memset(item, 0, sizeof *item);
        out->keys[out->count++] = key;
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') return fail_unexpected(p, "expected ':'");
        p->pos++;
        if (!parse_value(p, item)) return 0;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->s[p->pos] == '}') {
            p->pos++;
            return 1;
        }
        return fail_unexpected(p, "expected ',' or '}'");
    }
}

static int parse_literal(parser *p, const char *word) {
    size_t len = strlen(word);
    if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0) return fail_unexpected(p, "expected a value");
    p->pos += len;
    return 1;
}

static int parse_value(parser *p, vt_json *out) {
    skip_ws(p);
    if (p->pos >= p->n) return fail_unexpected(p, "expected a value");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[': {
        if (p->depth >= VT_JSON_MAX_DEPTH) return fail(p, "nesting too deep");
        p->depth++;
        int ok = c == '{' ? parse_object(p, out) : parse_array(p, out);
        p->depth--;
        return ok;
    }
    case '"':
        out->type = VT_JSON_STRING;
        return parse_string(p, &out->string, &out->length);
    case 't':
        out->type = VT_JSON_BOOL;
        out->boolean = 1;
        return parse_literal(p, "true");
    case 'f':
        out->type = VT_JSON_BOOL;
        out->boolean = 0;
        return parse_literal(p, "false");
    case 'n':
        out->type = VT_JSON_NULL;
        return parse_literal(p, "null");
    default:
        if (c == '-' || is_digit(c)) {
            out->type = VT_JSON_NUMBER;
            return parse_number(p, &out->number);
        }
        return fail_unexpected(p, "expected a value");
    }
}

vt_json *vt_json_parse(const char *text, size_t len, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    parser p = {(const unsigned char *)text, len, 0, 0, err, errlen};
    if (!text && len) {
        fail(&p, "no input");
        return NULL;
    }
    vt_json *root = calloc(1, sizeof *root);
    if (!root) {
        fail(&p, "out of memory");
        return NULL;
    }
    if (!parse_value(&p, root)) {
        vt_json_free(root);
        return NULL;
    }
    skip_ws(&p);
    if (p.pos != p.n) {
        fail_unexpected(&p, "trailing data after the value");
        vt_json_free(root);
        return NULL;
    }
    return root;
}

/* ------------------------------------------------------------------ getters */

const vt_json *vt_json_get(const vt_json *object, const char *key) {
    if (!object || object->type != VT_JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return &object->items[i];
    return NULL;
}

double vt_json_get_number(const vt_json *object, const char *key, double fallback) {
    const vt_json *v = vt_json_get(object, key);
    return v && v->type == VT_JSON_NUMBER ? v->number : fallback;
}

const char *vt_json_get_string(const vt_json *object, const char *key, const char *fallback) {
    const vt_json *v = vt_json_get(object, key);
    return v && v->type == VT_JSON_STRING ? v->string : fallback;
}

int vt_json_get_bool(const vt_json *object, const char *key, int fallback) {
    const vt_json *v = vt_json_get(object, key);
    return v && v->type == VT_JSON_BOOL ? v->boolean : fallback;
}

/* ------------------------------------------------------------------ string buffer */

/* Makes room for extra more bytes plus the terminating NUL; sets failed on overflow / OOM. */
static int strbuf_reserve(vt_strbuf *b, size_t extra) {
    if (b->failed) return 0;
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return 0;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    char *d = realloc(b->data, ncap);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    b->data = d;
    b->cap = ncap;
    return 1;
}

void vt_strbuf_append(vt_strbuf *b, const char *s, size_t n) {
    if (!strbuf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void vt_strbuf_printf(vt_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        vt_strbuf_append(b, small, (size_t)n);
        return;
    }
    if (!strbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void vt_strbuf_json_string(vt_strbuf *b, const char *s) {
    static const char hexd[] = "0123456789abcdef";
    vt_strbuf_append(b, "\"", 1);
    const char *run = s; /* start of the pending run of bytes that need no escaping */
    for (const char *c = s;; c++) {
        unsigned char u = (unsigned char)*c;
        if (u != 0 && u >= 0x20 && u != '"' && u != '\\') continue;
        vt_strbuf_append(b, run, (size_t)(c - run));
        run = c + 1;
        if (u == 0) break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t len = 2;
        switch (u) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hexd[u >> 4];
            esc[5] = hexd[u & 15];
            len = 6;
        }
        vt_strbuf_append(b, esc, len);
    }
    vt_strbuf_append(b, "\"", 1);
}

void vt_strbuf_free(vt_strbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void vt_strbuf_json_matrix(vt_strbuf *b, const int64_t *m, int rows, int cols) {
    vt_strbuf_printf(b, "[");
    for (int k = 0; k < rows; k++) {
        vt_strbuf_printf(b, "%s[", k ? "," : "");
        for (int j = 0; j < cols; j++) vt_strbuf_printf(b, "%s%lld", j ? "," : "", (long long)m[(size_t)k * cols + j]);
        vt_strbuf_printf(b, "]");
    }
    vt_strbuf_printf(b, "]");
}
