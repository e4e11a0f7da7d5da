/* Error reporting: a per-thread one-line message plus a vitc_status code. */
#ifndef VT_ERROR_H
#define VT_ERROR_H

#include "vitc.h"

/* Formats the message of the last error on this thread and returns status, so callers write
 *   return vt_error(VITC_ERR_FORMAT, "%s: truncated header", path);  */
vitc_status vt_error(vitc_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefixes the current message with "prefix: " (adds context on the way up). */
void vt_error_prefix(const char *prefix);
void vt_error_clear(void);

#endif
