/* See dist.h. Without VITC_MPI: one process. */
#include "cli/dist.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef VITC_MPI

void vt_dist_init(int *argc, char ***argv) {}
int vt_dist_rank(void) { return 0; }
int vt_dist_size(void) { return 1; }
void vt_dist_finalize(void) {}
void vt_dist_sum_floats(float *x, int64_t n, float weight) {}
void vt_dist_sum_doubles(double *v, int k) {}
void vt_dist_error(const char *cmd, const char *msg) { fprintf(stderr, "%s: %s\n", cmd, msg); }
int vt_dist_agree(int rc) { return rc; }
int vt_dist_start(int rc) { return rc; }
_Noreturn void vt_dist_abort(int code) { exit(code); }
void vt_dist_hold_signals(int hold) {}
double vt_dist_sum_seconds(void) { return 0.0; }
void vt_dist_test_hook(int64_t step) {}
int vt_dist_capture_begin(void) { return 0; }
int vt_dist_capture_end(int rc) { return rc; }

#else
#include <fcntl.h>
#include <mpi.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int g_init, g_done, g_rank, g_size = 1, g_agreed, g_saved_err = -1;
static char g_msg[1024];
static float *g_recv;  /* N slices of this rank's part of the buffer */
static int64_t g_recv_n;
static int *g_counts;  /* 4 x N: send counts, send offsets, receive counts, receive offsets */
static double g_sum_s;

static void on_term(int sig) {
    static const char line[] = "vitc train: stopped: another process of this MPI job ended (checkpoints on disk are complete)\n";
    if (g_rank == 0) {
        ssize_t w = write(2, line, sizeof line - 1);
        (void)w;
    }
    _exit(128 + sig);
}

void vt_dist_init(int *argc, char ***argv) {
    if (g_init) return;
    g_init = 1;
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_size < 2) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (g_rank != 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            fflush(stdout), fflush(stderr);
            dup2(devnull, 1);
            g_saved_err = dup(2);
            dup2(devnull, 2);
            close(devnull);
        }
    }
}

int vt_dist_rank(void) { return g_rank; }
int vt_dist_size(void) { return g_size; }

void vt_dist_finalize(void) {
    if (!g_init || g_done) return;
    g_done = 1;
    free(g_recv), free(g_counts);
    g_recv = NULL, g_counts = NULL;
    fflush(stdout), fflush(stderr);
    MPI_Finalize();
}

/* slice r of n floats: [n r / N, n (r + 1) / N) */
static int64_t slice_at(int64_t n, int r) { return n * r / g_size; }

void vt_dist_sum_floats(float *x, int64_t n, float weight) {
    if (g_size < 2) return;
    double t0 = now_s();
    int N = g_size, R = g_rank;
    int64_t lo = slice_at(n, R), len = slice_at(n, R + 1) - lo;
    if (!g_counts && !(g_counts = malloc(sizeof(int) * 4 * (size_t)N))) {
        fprintf(stderr, "vitc: rank %d: out of memory for the gradient sums\n", R);
        vt_dist_abort(1);
    }
    if (g_recv_n < len * N) {
        free(g_recv);
        g_recv_n = len * N;
        if (!(g_recv = malloc(sizeof(float) * (size_t)g_recv_n))) {
            fprintf(stderr, "vitc: rank %d: out of memory for the gradient sums\n", R);
            vt_dist_abort(1);
        }
    }
    if (weight != 1.0f)
        for (int64_t i = 0; i < n; i++) x[i] *= weight;
    int *sc = g_counts, *so = sc + N, *rc = so + N, *ro = rc + N;
    for (int r = 0; r < N; r++) {
        sc[r] = (int)(slice_at(n, r + 1) - slice_at(n, r)), so[r] = (int)slice_at(n, r);
        rc[r] = (int)len, ro[r] = (int)(len * r);
    }
    MPI_Alltoallv(x, sc, so, MPI_FLOAT, g_recv, rc, ro, MPI_FLOAT, MPI_COMM_WORLD);
    float *mine = x + lo;
    for (int64_t i = 0; i < len; i++) { /* rank order, one rounding per addition */
        float s = g_recv[i];
        for (int r = 1; r < N; r++) s += g_recv[(int64_t)r * len + i];
        mine[i] = s;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, x, sc, so, MPI_FLOAT, MPI_COMM_WORLD);
    g_sum_s += now_s() - t0;
}

void vt_dist_sum_doubles(double *v, int k) {
    if (g_size < 2 || k <= 0 || k > 16) return;
    double *all = malloc(sizeof(double) * 16 * (size_t)g_size);
    if (!all) {
        fprintf(stderr, "vitc: rank %d: out of memory\n", g_rank);
        vt_dist_abort(1);
    }
    MPI_Allgather(v, k, MPI_DOUBLE, all, k, MPI_DOUBLE, MPI_COMM_WORLD);
    for (int j = 0; j < k; j++) {
        double s = all[j];
        for (int r = 1; r < g_size; r++) s += all[(size_t)r * k + j];
        v[j] = s;
    }
    free(all);
}

void vt_dist_error(const char *cmd, const char *msg) {
    if (g_size < 2 || g_rank == 0) {
        fprintf(stderr, "%s: %s\n", cmd, msg);
    } else if (!g_agreed) {
        if (!g_msg[0]) snprintf(g_msg, sizeof g_msg, "%s: rank %d: %s", cmd, g_rank, msg);
    } else {
        fprintf(stderr, "%s: rank %d: %s\n", cmd, g_rank, msg);
    }
    fflush(stderr);
}

int vt_dist_agree(int rc) {
    if (g_size < 2) return rc;
    int *all = malloc(sizeof(int) * (size_t)g_size);
    if (!all) {
        fprintf(stderr, "vitc: rank %d: out of memory\n", g_rank);
        vt_dist_abort(1);
    }
    MPI_Allgather(&rc, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    int first = -1;
    for (int r = 0; r < g_size && first < 0; r++)
        if (all[r]) first = r;
    int out = first >= 0 ? all[first] : 0;
    free(all);
    if (!g_agreed) {
        g_agreed = 1;
        if (g_saved_err >= 0) {
            fflush(stderr);
            dup2(g_saved_err, 2);
            close(g_saved_err);
            g_saved_err = -1;
        }
        if (first == g_rank && g_rank != 0) {
            fprintf(stderr, "%s\n", g_msg[0] ? g_msg : "vitc: this rank could not start");
            fflush(stderr);
        }
    }
    return out;
}

int vt_dist_start(int rc) { return g_agreed ? rc : vt_dist_agree(rc); }

_Noreturn void vt_dist_abort(int code) {
    fflush(stdout), fflush(stderr);
    if (g_size < 2) exit(code);
    MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

void vt_dist_hold_signals(int hold) {
    if (g_size < 2) return;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
}

double vt_dist_sum_seconds(void) { return g_sum_s; }

static FILE *g_cap[2];  /* the captured standard output and error */
static int g_real_fd[2] = {-1, -1};

int vt_dist_capture_begin(void) {
    if (g_size < 2) return 0;
    fflush(stdout), fflush(stderr);
    for (int i = 0; i < 2; i++) {
        if (!(g_cap[i] = tmpfile())) return -1;
        g_real_fd[i] = dup(i + 1);
        dup2(fileno(g_cap[i]), i + 1);
    }
    return 0;
}

/* The whole of a captured file (NUL-terminated; *len without it); NULL out of memory. */
static char *slurp(FILE *f, int *len) {
    long n = ftell(f);
    char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!buf) return NULL;
    rewind(f);
    *len = (int)fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
    buf[*len] = 0;
    return buf;
}

/* Rank 0 receives every rank's text (in rank order, lengths in lens); others send theirs. */
static char *gather_text(const char *mine, int len, int *lens, int *offs) {
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
    char *all = NULL;
    if (g_rank == 0) {
        int total = 0;
        for (int r = 0; r < g_size; r++) offs[r] = total, total += lens[r];
        if (!(all = malloc((size_t)total + 1))) vt_dist_abort(1);
    }
    MPI_Gatherv(mine, len, MPI_CHAR, all, lens, offs, MPI_CHAR, 0, MPI_COMM_WORLD);
    return all;
}

int vt_dist_capture_end(int rc) {
    if (g_size < 2 || !g_cap[0] || !g_cap[1]) return vt_dist_agree(rc);
    fflush(stdout), fflush(stderr);
    int len[2] = {0, 0};
    char *text[2] = {slurp(g_cap[0], &len[0]), slurp(g_cap[1], &len[1])};
    if (!text[0] || !text[1]) vt_dist_abort(1);
    for (int i = 0; i < 2; i++) {
        dup2(g_real_fd[i], i + 1);
        close(g_real_fd[i]);
        fclose(g_cap[i]);
        g_cap[i] = NULL, g_real_fd[i] = -1;
    }
    /* per rank: rc, then the lengths and offsets of its standard output and of its errors */
    int *rcs = malloc(sizeof(int) * 5 * (size_t)g_size);
    if (!rcs) vt_dist_abort(1);
    int *olen = rcs + g_size, *ooff = olen + g_size, *elen = ooff + g_size, *eoff = elen + g_size;
    MPI_Gather(&rc, 1, MPI_INT, rcs, 1, MPI_INT, 0, MPI_COMM_WORLD);
    char *out = gather_text(text[0], len[0], olen, ooff);
    char *err = gather_text(text[1], len[1], elen, eoff);
    int first = 0;
    if (g_rank == 0) /* rank 0's own stdout and stderr are the real ones again */
        for (int r = 0; r < g_size; r++) {
            fwrite(out + ooff[r], 1, (size_t)olen[r], stdout);
            fflush(stdout);
            if (rcs[r]) {
                fwrite(err + eoff[r], 1, (size_t)elen[r], stderr);
                fflush(stderr);
                first = rcs[r];
                break;
            }
        }
    MPI_Bcast(&first, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(out), free(err), free(rcs), free(text[0]), free(text[1]);
    return first;
}

void vt_dist_test_hook(int64_t step) {
    if (g_size < 2) return;
    const char *r = getenv("VITC_TEST_KILL_RANK"), *s = getenv("VITC_TEST_KILL_STEP");
    if (r && s && atoi(r) == g_rank && atoll(s) == step) raise(SIGKILL);
}
#endif

void vt_dist_share(int64_t n, int64_t *lo, int64_t *hi) {
    int np = vt_dist_size(), rk = vt_dist_rank();
    *lo = n * rk / np, *hi = n * (rk + 1) / np;
}

int vt_dist_shard(const char *cmd, int batch, int *per_rank, int *first) {
    int np = vt_dist_size(), rk = vt_dist_rank(), rc = 0;
    if (batch % np) {
        char msg[160];
        snprintf(msg, sizeof msg, "--batch %d is not a multiple of the %d processes", batch, np);
        if (!rk) vt_dist_error(cmd, msg);
        rc = 1;
    }
    *per_rank = batch / np;
    *first = rk * *per_rank;
    return vt_dist_start(rc);
}
