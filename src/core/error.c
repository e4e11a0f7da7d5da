#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

vitc_status vt_error(vitc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void vt_error_prefix(const char *prefix) {
    char tmp[sizeof last_error];
    size_t n = strlen(prefix);
    if (n > sizeof tmp - 3) n = sizeof tmp - 3;
    memcpy(tmp, prefix, n);
    memcpy(tmp + n, ": ", 2);
    size_t rest = sizeof tmp - n - 3, len = strlen(last_error);
    if (len > rest) len = rest;
    memcpy(tmp + n + 2, last_error, len);
    tmp[n + 2 + len] = '\0';
    memcpy(last_error, tmp, sizeof last_error);
}

void vt_error_clear(void) { last_error[0] = '\0'; }

const char *vitc_last_error(void) { return last_error; }

const char *vitc_status_name(vitc_status status) {
    switch (status) {
    case VITC_OK: return "ok";
    case VITC_ERR_ARG: return "invalid argument";
    case VITC_ERR_IO: return "I/O error";
    case VITC_ERR_FORMAT: return "format error";
    case VITC_ERR_SHAPE: return "shape mismatch";
    case VITC_ERR_MISSING: return "missing tensor";
    case VITC_ERR_UNSUPPORTED: return "unsupported";
    case VITC_ERR_NOMEM: return "out of memory";
    case VITC_ERR_LIMIT: return "limit exceeded";
    }
    return "unknown status";
}
