/* The kernels' thread pool: persistent workers that spin briefly for the next job and then
 * sleep on a futex, so a forward pass of ~100 short parallel steps neither pays a thread wake
 * per step (workers are still spinning when the next step comes) nor burns a core between
 * passes or when the machine is oversubscribed (spinning is bounded; OpenMP's default spins for
 * ~300k iterations, which under load starves the thread it waits for).
 *
 * One job at a time: the calling thread is task 0, workers 1..nt-1. A second caller arriving
 * while a job runs (another application thread), a nested call from inside a task, or a call
 * from inside an OpenMP region runs its job on the calling thread alone (nt = 1). */
#define _GNU_SOURCE
#include "kernels/kernels.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define VT_POOL_MAX 256
#ifndef VT_SPIN_US_DEFAULT
#define VT_SPIN_US_DEFAULT 50
#endif

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_workers;                 /* started workers (grow-only; guarded by run_lock) */
static atomic_int gen;                /* job generation: workers wait for it to change */
static atomic_int pending;            /* workers that have not finished the current job */
static atomic_int sleepers;           /* workers asleep on gen */
static atomic_int caller_sleeping;    /* the caller is asleep on pending */
static vt_task_fn job_fn;
static void *job_ctx;
static int job_nt;
static int spin_limit = -1;
static _Thread_local int in_task;
static int start_gen[VT_POOL_MAX];

static void futex_wait(atomic_int *addr, int val) {
#ifdef __linux__
    syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    (void)addr, (void)val;
    sched_yield();
#endif
}

static void futex_wake(atomic_int *addr, int n) {
#ifdef __linux__
    syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
#else
    (void)addr, (void)n;
#endif
}

/* Microseconds to spin before sleeping (VITC_SPIN_US overrides). Measured on ViT-S/16 batch 1,
 * 2 threads, 2 cores: idle, 30-300 us all give the same latency (the gaps between steps are short);
 * with one competing busy process, 30 us: 95 ms, 100: 100, 300: 120, 1000: 180 (a waiter spinning
 * for a descheduled partner holds the core the partner needs). */
static int get_spin(void) {
    if (spin_limit < 0) {
        const char *e = getenv("VITC_SPIN_US");
        spin_limit = e && *e ? atoi(e) : VT_SPIN_US_DEFAULT;
        if (spin_limit < 0) spin_limit = 0;
    }
    return spin_limit;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Spins while *addr == val for at most spin_us; returns 1 when it changed. */
static int spin_while(atomic_int *addr, int val, int spin_us) {
    if (atomic_load_explicit(addr, memory_order_acquire) != val) return 1;
    if (spin_us <= 0) return 0;
    long long end = now_ns() + spin_us * 1000LL;
    for (;;) {
        for (int i = 0; i < 32; i++) {
            cpu_relax();
            if (atomic_load_explicit(addr, memory_order_acquire) != val) return 1;
        }
        if (now_ns() >= end) return 0;
    }
}

static void *worker_main(void *arg) {
    int id = (int)(intptr_t)arg;
    int seen = start_gen[id]; /* the generation before the job we were started for */
    for (;;) {
        int g;
        if (!spin_while(&gen, seen, spin_limit))
            while (atomic_load(&gen) == seen) {
                atomic_fetch_add(&sleepers, 1);
                if (atomic_load(&gen) == seen) futex_wait(&gen, seen);
                atomic_fetch_sub(&sleepers, 1);
            }
        g = atomic_load_explicit(&gen, memory_order_acquire);
        seen = g;
        if (id < job_nt) {
            in_task = 1;
            job_fn(job_ctx, id, job_nt);
            in_task = 0;
        }
        if (atomic_fetch_sub(&pending, 1) == 1 && atomic_load(&caller_sleeping)) futex_wake(&pending, 1);
    }
    return NULL;
}

/* A forked child has none of the parent's workers: start over (the lock may have been held by a
 * parent thread at the fork). */
static void atfork_child(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    run_lock = fresh;
    n_workers = 0;
    atomic_store(&pending, 0);
    atomic_store(&sleepers, 0);
    atomic_store(&caller_sleeping, 0);
    in_task = 0;
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, atfork_child); }

int vt_parallel_nested(void) {
#ifdef _OPENMP
    if (omp_in_parallel()) return 1;
#endif
    return in_task;
}

void vt_parallel_run(vt_task_fn fn, void *ctx, int nt) {
    if (nt > VT_POOL_MAX) nt = VT_POOL_MAX;
    if (nt <= 1 || vt_parallel_nested() || pthread_mutex_trylock(&run_lock) != 0) {
        fn(ctx, 0, 1);
        return;
    }
    int spin = get_spin();
    pthread_once(&atfork_once, register_atfork);
    while (n_workers < nt - 1) {
        /* a new worker starts from the current generation (gen only moves under run_lock) */
        start_gen[n_workers + 1] = atomic_load(&gen);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(n_workers + 1)) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
        n_workers++;
    }
    if (nt - 1 > n_workers) nt = n_workers + 1;
    if (nt <= 1) {
        pthread_mutex_unlock(&run_lock);
        fn(ctx, 0, 1);
        return;
    }
    job_fn = fn;
    job_ctx = ctx;
    job_nt = nt;
    atomic_store(&pending, n_workers);
    atomic_fetch_add_explicit(&gen, 1, memory_order_seq_cst);
    if (atomic_load(&sleepers)) futex_wake(&gen, INT_MAX);
    in_task = 1;
    fn(ctx, 0, nt);
    in_task = 0;
    int p;
    while ((p = atomic_load_explicit(&pending, memory_order_acquire)) != 0) {
        if (spin_while(&pending, p, spin)) continue;
        atomic_store(&caller_sleeping, 1);
        if ((p = atomic_load(&pending)) != 0) futex_wait(&pending, p);
        atomic_store(&caller_sleeping, 0);
    }
    pthread_mutex_unlock(&run_lock);
}

/* Splits [0, n) into nt near-equal contiguous parts; part tid is [*lo, *hi). */
void vt_split(long n, int tid, int nt, long *lo, long *hi) {
    *lo = n * tid / nt;
    *hi = n * (tid + 1) / nt;
}
