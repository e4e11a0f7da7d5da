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
void vt_dist_sum_begin(float *x, int64_t n, float weight) {}
void vt_dist_sum_ready(void *ctx, int64_t lo, int64_t hi) {}
void vt_dist_sum_end(void) {}
double vt_dist_sum_flight_seconds(void) { return 0.0; }
void vt_dist_sum_doubles(double *v, int k) {}
void vt_dist_sum_int64(int64_t *x, int64_t n) {}
int vt_dist_gather_floats(const float *x, int64_t n, float **all, int64_t *total) {
    *all = NULL, *total = n;
    if (n <= 0) return 0;
    if (!(*all = malloc(sizeof(float) * (size_t)n))) return 1;
    memcpy(*all, x, sizeof(float) * (size_t)n);
    return 0;
}
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
static double g_sum_s;
static void sums_setup(int provided);
static void sums_free(void);

static int g_train; /* the command is `vitc train`: say why it stopped (the others' peers already printed their error) */
static void on_term(int sig) {
    static const char line[] = "vitc train: stopped: another process of this MPI job ended (checkpoints on disk are complete)\n";
    if (g_rank == 0 && g_train && !g_done) { /* g_done: finishing already, its own outcome reported */
        ssize_t w = write(2, line, sizeof line - 1);
        (void)w;
    }
    _exit(128 + sig);
}

void vt_dist_init(int *argc, char ***argv) {
    if (g_init) return;
    g_init = 1;
    g_train = *argc > 0 && !strcmp((*argv)[0], "train");
    int provided;
    /* threads: the gradient sums' communication thread calls MPI while the main thread computes */
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_size < 2) return;
    sums_setup(provided);
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
    sums_free();
    fflush(stdout), fflush(stderr);
    MPI_Finalize();
}

/* ---------------------------------------------------------------- the gradient sums
 * A step's buffer x is summed in ranges ("buckets"): the backward pass hands each block's
 * gradients over as soon as they are final (vt_dist_sum_ready) and the rest follows at
 * vt_dist_sum_end. A bucket is summed as the whole buffer once was: the owner of each slice of it
 * receives that slice from every rank (MPI_Ialltoallv), adds them in rank order, and the sums go
 * back to every rank (MPI_Iallgatherv). Every element is added in the same order whatever the
 * buckets, so the bits do not depend on them. The two phases use communicators of their own, each
 * with its collectives started in bucket order on every rank (as MPI requires), whichever order
 * their completions are seen in. */
#include <pthread.h>

#define MAX_READY 256 /* ranges kept from sum_ready per step; the rest of x goes at sum_end */
#define MAX_BUCKETS (2 * MAX_READY + 1)

typedef struct {
    int64_t lo, len; /* x[lo, lo + len) */
    float *recv;     /* the N slices of this rank's part, from every rank */
    int *counts;     /* 4 x N: send counts, send offsets, receive counts, receive offsets */
    MPI_Request req;
} sum_bucket;

static struct {
    MPI_Comm scatter, gather; /* dups of MPI_COMM_WORLD for the two phases */
    float *x;
    int64_t n;
    float weight;
    sum_bucket b[MAX_BUCKETS];
    int *counts;         /* MAX_BUCKETS x 4 x N */
    float *recv;         /* the buckets' receive slices, one after another */
    int64_t recv_cap, recv_used;
    int kept;            /* ranges from sum_ready this step */
    int posted;          /* buckets handed to the thread (under mu) */
    int closing, finished, quit; /* under mu */
    int started, summed, done;   /* the thread's own: buckets scattered, summed + gathering, done */
    double t_first;      /* when this step's first bucket started */
    int threaded, overlap, active;
    int poll_us;         /* the thread's polling interval */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
} S = {.poll_us = 50, .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};
static double g_flight_s;

_Noreturn static void sums_nomem(void) {
    fprintf(stderr, "vitc: rank %d: out of memory for the gradient sums\n", g_rank);
    vt_dist_abort(1);
}

/* slice r of n floats: [n r / N, n (r + 1) / N) */
static int64_t slice_at(int64_t n, int r) { return n * r / g_size; }

static void bucket_scatter(sum_bucket *k) {
    int N = g_size, R = g_rank;
    int64_t part = slice_at(k->len, R + 1) - slice_at(k->len, R);
    float *x = S.x + k->lo;
    if (S.weight != 1.0f)
        for (int64_t i = 0; i < k->len; i++) x[i] *= S.weight;
    int *sc = k->counts, *so = sc + N, *rc = so + N, *ro = rc + N;
    for (int r = 0; r < N; r++) {
        sc[r] = (int)(slice_at(k->len, r + 1) - slice_at(k->len, r)), so[r] = (int)slice_at(k->len, r);
        rc[r] = (int)part, ro[r] = (int)(part * r);
    }
    MPI_Ialltoallv(x, sc, so, MPI_FLOAT, k->recv, rc, ro, MPI_FLOAT, S.scatter, &k->req);
}

static void bucket_sum_gather(sum_bucket *k) {
    int N = g_size, R = g_rank;
    int64_t part = slice_at(k->len, R + 1) - slice_at(k->len, R);
    float *mine = S.x + k->lo + slice_at(k->len, R);
    for (int64_t i = 0; i < part; i++) { /* rank order, one rounding per addition */
        float s = k->recv[i];
        for (int r = 1; r < N; r++) s += k->recv[(int64_t)r * part + i];
        mine[i] = s;
    }
    int *sc = k->counts, *so = sc + N;
    MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, S.x + k->lo, sc, so, MPI_FLOAT, S.gather, &k->req);
}

/* Starts the buckets up to `posted` and moves the others on as far as they have got; returns 1
 * when all `posted` are done. wait = 1: blocks until they are. */
static int sums_advance(int posted, int wait) {
    while (S.started < posted) {
        if (!S.started) S.t_first = now_s();
        bucket_scatter(&S.b[S.started++]);
    }
    while (S.summed < S.started) {
        int flag = 1;
        if (wait) MPI_Wait(&S.b[S.summed].req, MPI_STATUS_IGNORE);
        else MPI_Test(&S.b[S.summed].req, &flag, MPI_STATUS_IGNORE);
        if (!flag) break;
        bucket_sum_gather(&S.b[S.summed++]);
    }
    while (S.done < S.summed) {
        int flag = 1;
        if (wait) MPI_Wait(&S.b[S.done].req, MPI_STATUS_IGNORE);
        else MPI_Test(&S.b[S.done].req, &flag, MPI_STATUS_IGNORE);
        if (!flag) break;
        S.done++;
    }
    return S.done == posted;
}

/* The communication thread: sums what is posted, polling while anything is in flight. */
static void *sums_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&S.mu);
    for (;;) {
        while (!S.quit && S.started == S.posted && S.done == S.started && !S.closing)
            pthread_cond_wait(&S.wake, &S.mu);
        if (S.quit) break;
        int posted = S.posted, closing = S.closing;
        pthread_mutex_unlock(&S.mu);
        int all = sums_advance(posted, 0);
        pthread_mutex_lock(&S.mu);
        if (all && closing && posted == S.posted) {
            S.closing = 0, S.finished = 1;
            pthread_cond_signal(&S.idle);
        } else if (!all && S.posted == posted) { /* nothing new: let the transfers run a while */
            pthread_mutex_unlock(&S.mu);
            nanosleep(&(struct timespec){0, 1000L * S.poll_us}, NULL);
            pthread_mutex_lock(&S.mu);
        }
    }
    pthread_mutex_unlock(&S.mu);
    return NULL;
}

static void sums_stop_thread(void) {
    if (!S.threaded) return;
    pthread_mutex_lock(&S.mu);
    S.quit = 1;
    pthread_cond_signal(&S.wake);
    pthread_mutex_unlock(&S.mu);
    pthread_join(S.thread, NULL);
    S.threaded = 0;
}

static void sums_free(void) {
    if (g_size < 2) return;
    sums_stop_thread();
    MPI_Comm_free(&S.scatter);
    MPI_Comm_free(&S.gather);
    free(S.recv), free(S.counts);
    S.recv = NULL, S.counts = NULL;
}

/* Once per job: the communicators, the counts, the thread (when MPI allows threads). */
static void sums_setup(int provided) {
    MPI_Comm_dup(MPI_COMM_WORLD, &S.scatter);
    MPI_Comm_dup(MPI_COMM_WORLD, &S.gather);
    if (!(S.counts = malloc(sizeof(int) * 4 * (size_t)g_size * MAX_BUCKETS))) sums_nomem();
    for (int i = 0; i < MAX_BUCKETS; i++) S.b[i].counts = S.counts + (size_t)i * 4 * g_size;
    const char *e = getenv("VITC_MPI_OVERLAP");
    S.overlap = !(e && !strcmp(e, "0"));
    const char *p = getenv("VITC_MPI_POLL_US");
    if (p && atoi(p) > 0) S.poll_us = atoi(p);
    if (S.overlap && !(e && !strcmp(e, "inline")) && provided >= MPI_THREAD_SERIALIZED &&
        !pthread_create(&S.thread, NULL, sums_thread, NULL))
        S.threaded = 1;
}

static void sums_post(int64_t lo, int64_t len) {
    sum_bucket *k = &S.b[S.posted];
    k->lo = lo, k->len = len;
    k->recv = S.recv + S.recv_used;
    S.recv_used += (slice_at(len, g_rank + 1) - slice_at(len, g_rank)) * g_size;
    S.posted++;
}

void vt_dist_sum_begin(float *x, int64_t n, float weight) {
    if (g_size < 2) return;
    int64_t need = n + (int64_t)g_size * MAX_BUCKETS;
    if (S.recv_cap < need) {
        free(S.recv);
        if (!(S.recv = malloc(sizeof(float) * (size_t)need))) sums_nomem();
        S.recv_cap = need;
    }
    pthread_mutex_lock(&S.mu);
    S.x = x, S.n = n, S.weight = weight;
    S.kept = S.posted = S.started = S.summed = S.done = 0, S.recv_used = 0, S.finished = 0;
    S.active = 1;
    pthread_mutex_unlock(&S.mu);
}

void vt_dist_sum_ready(void *ctx, int64_t lo, int64_t hi) {
    (void)ctx;
    if (g_size < 2 || !S.active || !S.overlap || S.kept >= MAX_READY || lo < 0 || hi > S.n || hi <= lo) return;
    pthread_mutex_lock(&S.mu);
    sums_post(lo, hi - lo);
    S.kept++;
    if (S.threaded) pthread_cond_signal(&S.wake);
    else sums_advance(S.posted, 0); /* no thread: the transfers move on only here */
    pthread_mutex_unlock(&S.mu);
}

static int by_lo(const void *a, const void *b) {
    int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
    return (x > y) - (x < y);
}

void vt_dist_sum_end(void) {
    if (g_size < 2 || !S.active) return;
    double t0 = now_s();
    /* the rest of x: what the kept ranges leave, in ascending order (kept ranges do not overlap) */
    int64_t kept[2 * MAX_READY];
    pthread_mutex_lock(&S.mu);
    int nk = S.kept;
    for (int i = 0; i < nk; i++) kept[2 * i] = S.b[i].lo, kept[2 * i + 1] = S.b[i].lo + S.b[i].len;
    qsort(kept, (size_t)nk, 2 * sizeof(int64_t), by_lo);
    int64_t at = 0;
    for (int i = 0; i <= nk; i++) {
        int64_t to = i < nk ? kept[2 * i] : S.n;
        if (to > at) sums_post(at, to - at);
        if (i < nk && kept[2 * i + 1] > at) at = kept[2 * i + 1];
    }
    if (S.threaded) {
        S.closing = 1;
        pthread_cond_signal(&S.wake);
        while (!S.finished) pthread_cond_wait(&S.idle, &S.mu);
        S.finished = 0;
    } else {
        sums_advance(S.posted, 1);
    }
    S.active = 0;
    pthread_mutex_unlock(&S.mu);
    double t1 = now_s();
    g_sum_s += t1 - t0;
    if (S.posted) g_flight_s += t1 - S.t_first;
}

void vt_dist_sum_floats(float *x, int64_t n, float weight) {
    if (g_size < 2) return;
    vt_dist_sum_begin(x, n, weight);
    vt_dist_sum_end();
}

double vt_dist_sum_flight_seconds(void) { return g_flight_s; }

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

void vt_dist_sum_int64(int64_t *x, int64_t n) {
    for (int64_t at = 0; g_size > 1 && at < n; at += 1 << 20) {
        int k = n - at < (1 << 20) ? (int)(n - at) : 1 << 20;
        MPI_Allreduce(MPI_IN_PLACE, x + at, k, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    }
}

int vt_dist_gather_floats(const float *x, int64_t n, float **all, int64_t *total) {
    *all = NULL, *total = 0;
    int np = g_size < 1 ? 1 : g_size;
    int *count = malloc(sizeof(int) * (size_t)np), *at = malloc(sizeof(int) * (size_t)np);
    int mine = n > 0 && n <= INT32_MAX ? (int)n : n > 0 ? -1 : 0, failed = !count || !at || mine < 0;
    int any = failed;
    if (g_size > 1) MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) goto out;
    if (g_size > 1) MPI_Allgather(&mine, 1, MPI_INT, count, 1, MPI_INT, MPI_COMM_WORLD);
    else count[0] = mine;
    int64_t sum = 0;
    for (int r = 0; r < np; r++) at[r] = (int)sum, sum += count[r];
    failed = sum > INT32_MAX || (sum && !(*all = malloc(sizeof(float) * (size_t)sum)));
    any = failed;
    if (g_size > 1) MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
        free(*all), *all = NULL;
        goto out;
    }
    if (g_size > 1) MPI_Allgatherv(x, mine, MPI_FLOAT, *all, count, at, MPI_FLOAT, MPI_COMM_WORLD);
    else if (sum) memcpy(*all, x, sizeof(float) * (size_t)sum);
    *total = sum;
out:
    free(count), free(at);
    return any;
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
