/* Option parsing shared by the commands: long options only ("--top 5" or "--top=5"),
 * positional arguments collected in order. Errors are one line on stderr. */
#ifndef VT_CLI_ARGS_H
#define VT_CLI_ARGS_H

typedef enum { VT_OPT_FLAG, VT_OPT_INT, VT_OPT_FLOAT, VT_OPT_STRING, VT_OPT_FLOAT3 } vt_opt_kind;

typedef struct vt_option {
    const char *name;   /* without the leading "--" */
    vt_opt_kind kind;
    void *value;        /* int*, int*, float*, const char**, float[3] */
    const char *help;
    int seen;           /* set by the parser */
} vt_option;

/* Parses argv[1..argc). Positionals are stored in argv order into positional[] (at most max).
 * Returns 0 on success, 1 when --help was given (usage printed to stdout), 2 on error
 * (one-line message on stderr naming the command and the problem). */
int vt_parse_args(const char *command, const char *usage_line, int argc, char **argv, vt_option *opts,
                  int n_opts, const char **positional, int max_positional, int *n_positional);

/* Whether option `name` was given (by name: an index would shift when options are inserted). */
int vt_opt_seen(const vt_option *opts, int n_opts, const char *name);

/* Parses "a,b,c" into three floats; returns 0 on success. */
int vt_parse_float3(const char *s, float out[3]);

#endif
