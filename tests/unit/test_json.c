/* JSON parser and string buffer tests. */
#include "check.h"
#include "core/json.h"

#include <float.h>
#include <stdint.h>

static char err[256];

static vt_json *parse(const char *s) { return vt_json_parse(s, strlen(s), err, sizeof err); }

static int valid(const char *s) {
    vt_json *v = parse(s);
    int ok = v != NULL;
    vt_json_free(v);
    return ok;
}

/* Parses a document that must fail; checks the message mentions `needle` and a byte offset. */
static void check_invalid(const char *s, const char *needle) {
    vt_json *v = parse(s);
    CHECK(v == NULL, "accepted invalid document: %s", s);
    vt_json_free(v);
    CHECK(strstr(err, needle) != NULL, "document %s: message '%s' lacks '%s'", s, err, needle);
    CHECK(strstr(err, "at byte ") != NULL, "document %s: message '%s' has no offset", s, err);
}

static double num(const char *s) {
    vt_json *v = parse(s);
    double d = v && v->type == VT_JSON_NUMBER ? v->number : NAN;
    CHECK(v && v->type == VT_JSON_NUMBER, "number %s: %s", s, err);
    vt_json_free(v);
    return d;
}

/* Parses a single string literal and compares the decoded bytes. */
static void check_string(const char *lit, const char *want, size_t wantlen) {
    vt_json *v = parse(lit);
    CHECK(v && v->type == VT_JSON_STRING, "string %s: %s", lit, err);
    if (v && v->type == VT_JSON_STRING) {
        CHECK(v->length == wantlen && memcmp(v->string, want, wantlen) == 0 && v->string[wantlen] == '\0',
              "string %s decoded wrongly (length %zu)", lit, v->length);
    }
    vt_json_free(v);
}

static void test_structure(void) {
    const char *doc = " {\"a\": [1, 2.5, -3e2, true, false, null, \"x\", {}, []],\n\t\"b\": {\"c\": \"d\"},"
                      " \"a\": 7 }\r\n";
    vt_json *v = parse(doc);
    CHECK(v != NULL, "parse failed: %s", err);
    if (!v) return;
    CHECK(v->type == VT_JSON_OBJECT && v->count == 3, "root object with 3 members");
    const vt_json *a = vt_json_get(v, "a");
    CHECK(a && a->type == VT_JSON_ARRAY && a->count == 9, "array a has 9 items");
    if (a && a->count == 9) {
        CHECK(a->items[0].type == VT_JSON_NUMBER && a->items[0].number == 1.0, "a[0]");
        CHECK(a->items[1].number == 2.5, "a[1]");
        CHECK(a->items[2].number == -300.0, "a[2]");
        CHECK(a->items[3].type == VT_JSON_BOOL && a->items[3].boolean == 1, "a[3]");
        CHECK(a->items[4].type == VT_JSON_BOOL && a->items[4].boolean == 0, "a[4]");
        CHECK(a->items[5].type == VT_JSON_NULL, "a[5]");
        CHECK(a->items[6].type == VT_JSON_STRING && strcmp(a->items[6].string, "x") == 0, "a[6]");
        CHECK(a->items[7].type == VT_JSON_OBJECT && a->items[7].count == 0, "a[7]");
        CHECK(a->items[8].type == VT_JSON_ARRAY && a->items[8].count == 0, "a[8]");
    }
    /* duplicate key: first wins */
    CHECK(a && a->type == VT_JSON_ARRAY, "first duplicate returned");
    CHECK(strcmp(vt_json_get_string(vt_json_get(v, "b"), "c", "?"), "d") == 0, "nested string getter");
    /* getters with fallbacks */
    CHECK(vt_json_get(v, "missing") == NULL, "absent member");
    CHECK(vt_json_get(a, "x") == NULL, "get on a non-object");
    CHECK(vt_json_get(NULL, "x") == NULL, "get on NULL");
    CHECK(vt_json_get_number(v, "a", 42.0) == 42.0, "number getter falls back on mistyped");
    CHECK(vt_json_get_number(v, "zz", -1.0) == -1.0, "number getter falls back on absent");
    CHECK(vt_json_get_bool(v, "b", 5) == 5, "bool getter fallback");
    CHECK(strcmp(vt_json_get_string(v, "a", "fb"), "fb") == 0, "string getter fallback");
    vt_json_free(v);

    v = parse("{\"n\": 3, \"t\": true, \"f\": false, \"s\": \"str\"}");
    CHECK(v != NULL, "parse: %s", err);
    CHECK(vt_json_get_number(v, "n", 0) == 3.0, "number getter");
    CHECK(vt_json_get_bool(v, "t", 0) == 1, "bool getter true");
    CHECK(vt_json_get_bool(v, "f", 1) == 0, "bool getter false");
    CHECK(strcmp(vt_json_get_string(v, "s", ""), "str") == 0, "string getter");
    CHECK(vt_json_get_string(v, "n", NULL) == NULL, "string getter NULL fallback");
    vt_json_free(v);

    /* scalars at top level (RFC 8259 allows any value) */
    CHECK(valid("3"), "top-level number");
    CHECK(valid("\"s\""), "top-level string");
    CHECK(valid("null"), "top-level null");
    CHECK(valid(" [ ] "), "whitespace around");
    vt_json_free(NULL); /* no-op */

    /* not NUL-terminated: only len bytes are read */
    char buf[4] = {'[', '1', ']', 'x'};
    v = vt_json_parse(buf, 3, err, sizeof err);
    CHECK(v && v->type == VT_JSON_ARRAY && v->count == 1, "length-bounded parse");
    vt_json_free(v);
    v = vt_json_parse(buf, 2, err, sizeof err);
    CHECK(v == NULL, "truncated by length");
    vt_json_free(v);
    /* a large array exercises growth */
    vt_strbuf sb = {0};
    vt_strbuf_append(&sb, "[", 1);
    for (int i = 0; i < 5000; i++) vt_strbuf_printf(&sb, "%s%d", i ? "," : "", i);
    vt_strbuf_append(&sb, "]", 1);
    v = vt_json_parse(sb.data, sb.len, err, sizeof err);
    CHECK(v && v->count == 5000 && v->items[4999].number == 4999.0, "5000-item array");
    vt_json_free(v);
    vt_strbuf_free(&sb);
}

static void test_invalid(void) {
    check_invalid("", "unexpected end of input");
    check_invalid("   ", "unexpected end of input");
    check_invalid("{", "end of input");
    check_invalid("[1,]", "expected a value");
    check_invalid("[1 2]", "expected ',' or ']'");
    check_invalid("{\"a\" 1}", "expected ':'");
    check_invalid("{\"a\":1,}", "expected a string key");
    check_invalid("{a:1}", "expected a string key");
    check_invalid("{'a':1}", "expected a string key");
    check_invalid("[1] x", "trailing data");
    check_invalid("{} {}", "trailing data");
    check_invalid("1 2", "trailing data");
    check_invalid("tru", "expected a value");
    check_invalid("nul", "expected a value");
    check_invalid("True", "expected a value");
    check_invalid("NaN", "expected a value");
    check_invalid("Infinity", "expected a value");
    check_invalid("\"abc", "unterminated string");
    check_invalid("\"abc\\\"", "unterminated string");
    check_invalid("\"a\tb\"", "control character");
    check_invalid("\"a\nb\"", "control character");
    check_invalid("\"\\x\"", "invalid escape");
    check_invalid("\"\\u12\"", "invalid \\u escape");
    check_invalid("\"\\u12G4\"", "invalid \\u escape");
    check_invalid("\"\\ud800\"", "unpaired high surrogate");
    check_invalid("\"\\ud800x\"", "unpaired high surrogate");
    check_invalid("\"\\ud800\\u0041\"", "unpaired high surrogate");
    check_invalid("\"\\ud800\\ud800\"", "unpaired high surrogate");
    check_invalid("\"\\udc00\"", "unpaired low surrogate");
    check_invalid("\"\xff\"", "invalid UTF-8");
    check_invalid("\"\xc3\"", "invalid UTF-8");         /* truncated sequence */
    check_invalid("\"\xc0\xaf\"", "invalid UTF-8");     /* overlong '/' */
    check_invalid("\"\xe0\x80\xaf\"", "invalid UTF-8"); /* overlong */
    check_invalid("\"\xed\xa0\x80\"", "invalid UTF-8"); /* encoded surrogate */
    check_invalid("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* > U+10FFFF */
    check_invalid("\x01", "unexpected byte 0x01");
    check_invalid("[\x0c]", "unexpected byte 0x0c"); /* form feed is not JSON whitespace */
    /* numbers */
    check_invalid("01", "leading zero");
    check_invalid("-01", "leading zero");
    check_invalid("+1", "expected a value");
    check_invalid(".5", "expected a value");
    check_invalid("1.", "digit expected after '.'");
    check_invalid("1.e5", "digit expected after '.'");
    check_invalid("1e", "digit expected in exponent");
    check_invalid("1e+", "digit expected in exponent");
    check_invalid("-", "invalid number");
    check_invalid("-a", "invalid number");
    check_invalid("0x10", "trailing data");
    check_invalid("1e400", "out of range");
    check_invalid("-1e400", "out of range");
    /* the offset is reported */
    vt_json *v = parse("[1, 2, @]");
    CHECK(v == NULL && strstr(err, "at byte 7"), "offset of '@': %s", err);
    vt_json_free(v);
    /* embedded NUL outside strings */
    v = vt_json_parse("[1]\0", 4, err, sizeof err);
    CHECK(v == NULL && strstr(err, "0x00"), "NUL after value: %s", err);
    vt_json_free(v);
    /* NULL err buffer is allowed */
    CHECK(vt_json_parse("[", 1, NULL, 0) == NULL, "NULL err buffer");
    /* tiny err buffer is truncated, not overrun */
    char tiny[8];
    memset(tiny, 'Z', sizeof tiny);
    CHECK(vt_json_parse("[", 1, tiny, 5) == NULL && strlen(tiny) == 4 && tiny[5] == 'Z', "tiny err buffer");
}

static void test_depth(void) {
    char buf[400];
    for (int depth = 60; depth <= 70; depth += 10) {
        int n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '[';
        for (int i = 0; i < depth; i++) buf[n++] = ']';
        vt_json *v = vt_json_parse(buf, (size_t)n, err, sizeof err);
        if (depth <= 64) CHECK(v != NULL, "depth %d accepted: %s", depth, err);
        else CHECK(v == NULL && strstr(err, "nesting too deep"), "depth %d rejected: %s", depth, err);
        vt_json_free(v);
    }
    /* exactly at the limit, objects and arrays mixed */
    vt_strbuf sb = {0};
    for (int i = 0; i < 32; i++) vt_strbuf_append(&sb, "{\"k\":[", 6);
    for (int i = 0; i < 32; i++) vt_strbuf_append(&sb, "]}", 2);
    vt_json *v = vt_json_parse(sb.data, sb.len, err, sizeof err);
    CHECK(v != NULL, "depth 64 mixed: %s", err);
    vt_json_free(v);
    sb.len = 0;
    vt_strbuf_append(&sb, "[", 1);
    for (int i = 0; i < 32; i++) vt_strbuf_append(&sb, "{\"k\":[", 6);
    v = vt_json_parse(sb.data, sb.len, err, sizeof err);
    CHECK(v == NULL && strstr(err, "nesting too deep"), "depth 65 mixed, unterminated: %s", err);
    vt_json_free(v);
    vt_strbuf_free(&sb);
    /* a deep hostile document must fail quickly without blowing the stack */
    size_t big = 1000000;
    char *deep = malloc(big);
    memset(deep, '[', big);
    v = vt_json_parse(deep, big, err, sizeof err);
    CHECK(v == NULL && strstr(err, "nesting too deep at byte 64"), "1e6 brackets: %s", err);
    free(deep);
}

static void test_numbers(void) {
    CHECK(num("0") == 0.0, "0");
    double nz = num("-0");
    CHECK(nz == 0.0 && signbit(nz), "-0 keeps its sign");
    CHECK(signbit(num("-0.0")), "-0.0");
    CHECK(num("-12") == -12.0, "-12");
    CHECK(num("3.25") == 3.25, "3.25");
    CHECK(num("1e3") == 1000.0, "1e3");
    CHECK(num("1E+3") == 1000.0, "1E+3");
    CHECK(num("25e-2") == 0.25, "25e-2");
    CHECK(num("-1.5E-1") == -0.15, "-1.5E-1");
    CHECK(num("0.1") == 0.1, "0.1 correctly rounded");
    CHECK(num("9007199254740993") == 9007199254740992.0, "2^53+1 rounds to even");
    CHECK(num("18446744073709551616") == 18446744073709551616.0, "2^64");
    CHECK(num("1.7976931348623157e308") == DBL_MAX, "DBL_MAX");
    CHECK(num("1e-400") == 0.0, "underflow to zero");
    CHECK(num("4.9e-324") > 0.0, "smallest subnormal");
    /* long mantissa goes through the heap copy */
    char longnum[200];
    memset(longnum, '1', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = '\0';
    longnum[1] = '.';
    double d = num(longnum);
    CHECK(fabs(d - 1.1111111111111112) < 1e-15, "long mantissa %.17g", d);
}

static void test_strings(void) {
    check_string("\"\"", "", 0);
    check_string("\"plain\"", "plain", 5);
    check_string("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    check_string("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
    check_string("\"a\\u0000b\"", "a\0b", 3);
    check_string("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);     /* U+1F600 */
    check_string("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80", 4);     /* U+10000 */
    check_string("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);     /* U+10FFFF */
    check_string("\"\\u07ff\\u0800\\uffff\"", "\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 8);
    check_string("\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12);
    check_string("\"\x7f\"", "\x7f", 1); /* DEL is allowed unescaped */
    /* keys are decoded too */
    vt_json *v = parse("{\"k\\u00e9y\": 1}");
    CHECK(v && strcmp(v->keys[0], "k\xc3\xa9y") == 0, "escaped key");
    CHECK(vt_json_get_number(v, "k\xc3\xa9y", 0) == 1.0, "lookup by decoded key");
    vt_json_free(v);
}

static void test_strbuf(void) {
    vt_strbuf b = {0};
    vt_strbuf_printf(&b, "%d-%s", 42, "x");
    CHECK(b.data && strcmp(b.data, "42-x") == 0 && b.len == 4, "printf");
    char longs[1000];
    memset(longs, 'q', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    vt_strbuf_printf(&b, "[%s]", longs);
    CHECK(b.len == 4 + 1001 && b.data[b.len] == '\0' && b.data[5] == 'q', "long printf");
    vt_strbuf_append(&b, "", 0);
    CHECK(b.len == 1005 && !b.failed, "empty append");
    vt_strbuf_free(&b);
    CHECK(b.data == NULL && b.len == 0, "free resets");

    /* escaping round trip: quotes, backslashes, control characters, UTF-8 */
    const char *samples[] = {
        "", "plain", "quote\" back\\slash / slash", "ctl \x01\x02\x1f\x7f", "\b\f\n\r\t",
        "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "tab\there",
    };
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        vt_strbuf_json_string(&b, samples[i]);
        CHECK(!b.failed, "strbuf failed");
        vt_json *v = vt_json_parse(b.data, b.len, err, sizeof err);
        CHECK(v && v->type == VT_JSON_STRING && strcmp(v->string, samples[i]) == 0,
              "round trip of sample %zu via %s: %s", i, b.data, err);
        vt_json_free(v);
        vt_strbuf_free(&b);
    }
    char all[32];
    for (int i = 1; i < 32; i++) all[i - 1] = (char)i;
    all[31] = '\0';
    vt_strbuf_json_string(&b, all);
    for (size_t i = 0; i < b.len; i++) CHECK((unsigned char)b.data[i] >= 0x20, "raw control char in output");
    vt_json *v = vt_json_parse(b.data, b.len, err, sizeof err);
    CHECK(v && v->length == 31 && memcmp(v->string, all, 31) == 0, "all control chars round trip");
    vt_json_free(v);
    vt_strbuf_free(&b);
    vt_strbuf_json_string(&b, "a\"b\n\x01");
    CHECK(strcmp(b.data, "\"a\\\"b\\n\\u0001\"") == 0, "exact escaping: %s", b.data);
    vt_strbuf_free(&b);

    /* an object built with strbuf parses back */
    vt_strbuf_printf(&b, "{");
    vt_strbuf_json_string(&b, "we\"ird key");
    vt_strbuf_printf(&b, ":%d}", 5);
    v = vt_json_parse(b.data, b.len, err, sizeof err);
    CHECK(v && vt_json_get_number(v, "we\"ird key", 0) == 5.0, "built object: %s", err);
    vt_json_free(v);
    vt_strbuf_free(&b);
}

int main(void) {
    test_structure();
    test_invalid();
    test_depth();
    test_numbers();
    test_strings();
    test_strbuf();
    return check_report("test_json");
}
