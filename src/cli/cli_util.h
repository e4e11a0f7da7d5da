/* Small helpers the long-running commands share: a monotonic clock and a duration as text. */
#ifndef VT_CLI_UTIL_H
#define VT_CLI_UTIL_H

#include <stddef.h>

/* Seconds on a monotonic clock. */
double vt_cli_now(void);
/* "1h05m" or "3m07s" (negative or not finite: 0). */
void vt_cli_fmt_time(char *buf, size_t n, double seconds);

#endif
