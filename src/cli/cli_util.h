/* Small helpers the commands share: a clock, durations as text, output folders and file stems. */
#ifndef VT_CLI_UTIL_H
#define VT_CLI_UTIL_H

#include <stddef.h>

/* Seconds on a monotonic clock. */
double vt_cli_now(void);
/* "1h05m" or "3m07s" (negative or not finite: 0). */
void vt_cli_fmt_time(char *buf, size_t n, double seconds);

/* mkdir -p; returns 0, or -1 with errno set. */
int vt_cli_make_dirs(const char *path);
/* The file name without its directory and last extension, into out. */
void vt_cli_file_stem(const char *path, char *out, size_t cap);
/* 1 (and a one-line message naming command) when two of the n paths share a stem. */
int vt_cli_stems_collide(const char *command, const char *const *paths, int n);
/* A training run's checkpoint beside its model: MODEL.safetensors -> MODEL.ckpt.safetensors, else OUT.ckpt. */
const char *vt_cli_ckpt_path(const char *out, char *buf, size_t cap);

#endif
