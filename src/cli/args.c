#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vt_parse_float3(const char *s, float out[3]) {
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno) return -1;
        out[i] = (float)v;
        p = end;
        if (i < 2) {
            if (*p != ',') return -1;
            p++;
        }
    }
    return *p ? -1 : 0;
}

static void print_usage(const char *usage_line, const vt_option *opts, int n_opts) {
    printf("usage: %s\n\noptions:\n", usage_line);
    for (int i = 0; i < n_opts; i++) {
        const char *arg = opts[i].kind == VT_OPT_FLAG ? "" : opts[i].kind == VT_OPT_INT ? " N"
                          : opts[i].kind == VT_OPT_FLOAT ? " F" : opts[i].kind == VT_OPT_FLOAT3 ? " A,B,C" : " S";
        char left[64];
        snprintf(left, sizeof left, "--%s%s", opts[i].name, arg);
        printf("  %-22s %s\n", left, opts[i].help);
    }
    printf("  %-22s %s\n", "--help", "show this help");
}

int vt_parse_args(const char *command, const char *usage_line, int argc, char **argv, vt_option *opts,
                  int n_opts, const char **positional, int max_positional, int *n_positional) {
    *n_positional = 0;
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (*n_positional >= max_positional) {
                fprintf(stderr, "vitc %s: too many arguments ('%s')\n", command, a);
                return 2;
            }
            positional[(*n_positional)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_usage(usage_line, opts, n_opts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "vitc %s: unknown option '%s' (see vitc %s --help)\n", command, a, command);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        vt_option *o = NULL;
        for (int j = 0; j < n_opts; j++)
            if (strlen(opts[j].name) == len && !strncmp(opts[j].name, name, len)) o = &opts[j];
        if (!o) {
            fprintf(stderr, "vitc %s: unknown option '--%.*s' (see vitc %s --help)\n", command, (int)len, name,
                    command);
            return 2;
        }
        o->seen = 1;
        if (o->kind == VT_OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "vitc %s: option '--%s' takes no value\n", command, o->name);
                return 2;
            }
            *(int *)o->value = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "vitc %s: option '--%s' needs a value\n", command, o->name);
            return 2;
        }
        char *end;
        errno = 0;
        switch (o->kind) {
        case VT_OPT_INT: {
            long x = strtol(v, &end, 10);
            if (end == v || *end || errno || x < -2147483647L || x > 2147483647L) goto bad_value;
            *(int *)o->value = (int)x;
            break;
        }
        case VT_OPT_FLOAT: {
            double x = strtod(v, &end);
            if (end == v || *end || errno) goto bad_value;
            *(float *)o->value = (float)x;
            break;
        }
        case VT_OPT_FLOAT3:
            if (vt_parse_float3(v, (float *)o->value)) goto bad_value;
            break;
        case VT_OPT_STRING: *(const char **)o->value = v; break;
        case VT_OPT_FLAG: break;
        }
        continue;
    bad_value:
        fprintf(stderr, "vitc %s: invalid value '%s' for option '--%s'\n", command, v, o->name);
        return 2;
    }
    return 0;
}

int vt_opt_seen(const vt_option *opts, int n_opts, const char *name) {
    for (int i = 0; i < n_opts; i++)
        if (!strcmp(opts[i].name, name)) return opts[i].seen;
    return 0;
}
