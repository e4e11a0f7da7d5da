#include "cli/cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double vt_cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void vt_cli_fmt_time(char *buf, size_t n, double s) {
    if (s < 0 || !isfinite(s)) s = 0;
    long t = (long)s;
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

int vt_cli_make_dirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST) return -1;
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st)) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

void vt_cli_file_stem(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len >= cap) len = cap - 1;
    memcpy(out, base, len);
    out[len] = '\0';
}

int vt_cli_stems_collide(const char *command, const char *const *paths, int n) {
    char a[256], b[256];
    for (int i = 1; i < n; i++) /* two inputs with one stem would overwrite each other's outputs */
        for (int j = 0; j < i; j++) {
            vt_cli_file_stem(paths[i], a, sizeof a);
            vt_cli_file_stem(paths[j], b, sizeof b);
            if (!strcmp(a, b)) {
                fprintf(stderr, "vitc %s: %s and %s share the name '%s': their outputs would collide\n", command,
                        paths[j], paths[i], a);
                return 1;
            }
        }
    return 0;
}

const char *vt_cli_ckpt_path(const char *out, char *buf, size_t cap) {
    size_t L = strlen(out);
    const char *suf = ".safetensors";
    if (L > strlen(suf) && !strcmp(out + L - strlen(suf), suf))
        snprintf(buf, cap, "%.*s.ckpt.safetensors", (int)(L - strlen(suf)), out);
    else
        snprintf(buf, cap, "%s.ckpt", out);
    return buf;
}
