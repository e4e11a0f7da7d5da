/* CPU clock and fp32 FMA throughput under load, for the benchmark's peak.
 * Clock: every thread runs a chain of dependent integer adds (latency one cycle on every x86
 * core), so adds per second = cycles per second; a chain of dependent FMAs is timed too and its
 * latency in cycles printed as a cross-check (4 on recent Intel and AMD cores). All threads run
 * at once, many short trials; each thread keeps its fastest trial (preemption by other processes
 * only lowers a trial), and the clock is the slowest thread's best.
 * Peak: the measured FMA throughput, not pipes x lanes assumed from a model name (a core that
 * splits 256-bit FMAs into 128-bit halves has half the assumed peak). Every thread runs 12
 * independent chains of packed FMAs of BITS (128, 256 or 512: the vector width of the kernel set
 * being measured); the threads start each trial together (a barrier), a trial's rate is all the
 * threads' FMAs over the slowest thread's time (two threads sharing one core cannot both count),
 * and the peak is the best trial.
 * Prints one JSON object. Build: cc -O2 -fopenmp clock.c -o clock; run: clock THREADS [TRIALS [BITS]] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define ADD8 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
#define FMA8                                                                                                      \
    "vfmadd231ss %1, %2, %0\n\tvfmadd231ss %1, %2, %0\n\tvfmadd231ss %1, %2, %0\n\tvfmadd231ss %1, %2, %0\n\t" \
    "vfmadd231ss %1, %2, %0\n\tvfmadd231ss %1, %2, %0\n\tvfmadd231ss %1, %2, %0\n\tvfmadd231ss %1, %2, %0\n\t"

/* Seconds for n x 64 dependent adds. */
static double add_chain(long n) {
    unsigned long x = 0;
    double t = now_s();
    for (long i = 0; i < n; i++) __asm__ volatile(ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 ADD8 : "+r"(x));
    t = now_s() - t;
    if (x == 1) printf(" ");
    return t;
}

/* Seconds for n x 64 dependent FMAs. */
static double fma_chain(long n) {
    float x = 0.0f, a = 0.5f, b = 0.25f;
    double t = now_s();
    for (long i = 0; i < n; i++)
        __asm__ volatile(FMA8 FMA8 FMA8 FMA8 FMA8 FMA8 FMA8 FMA8 : "+x"(x) : "x"(a), "x"(b));
    t = now_s() - t;
    if (x == 1.0f) printf(" ");
    return t;
}

/* 12 independent accumulators x 8: 96 FMAs of register width R ("x", "y" or "z") per block. */
#define FMA_ROW(R)                                                                                               \
    "vfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm0\n\tvfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm1\n\t"        \
    "vfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm2\n\tvfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm3\n\t"        \
    "vfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm4\n\tvfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm5\n\t"        \
    "vfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm6\n\tvfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm7\n\t"        \
    "vfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm8\n\tvfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm9\n\t"        \
    "vfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm10\n\tvfmadd231ps %%" R "mm12, %%" R "mm13, %%" R "mm11\n\t"
#define FMA_BLOCK(R) FMA_ROW(R) FMA_ROW(R) FMA_ROW(R) FMA_ROW(R) FMA_ROW(R) FMA_ROW(R) FMA_ROW(R) FMA_ROW(R)
#define FMA_CLOBBER "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
                    "xmm12", "xmm13"
#define FMA_SRC_ZERO(R) "vxorps %%" R "mm12, %%" R "mm12, %%" R "mm12\n\tvxorps %%" R "mm13, %%" R "mm13, %%" R "mm13\n\t"

/* Seconds for n x 96 independent packed FMAs of `bits` (the accumulators stay 0: no denormals). */
static double fma_throughput(long n, int bits) {
    double t = now_s();
    if (bits == 512)
        for (long i = 0; i < n; i++) __asm__ volatile(FMA_SRC_ZERO("z") FMA_BLOCK("z") ::: FMA_CLOBBER);
    else if (bits == 256)
        for (long i = 0; i < n; i++) __asm__ volatile(FMA_SRC_ZERO("y") FMA_BLOCK("y") ::: FMA_CLOBBER);
    else
        for (long i = 0; i < n; i++) __asm__ volatile(FMA_SRC_ZERO("x") FMA_BLOCK("x") ::: FMA_CLOBBER);
    return now_s() - t;
}

/* Best all-threads FMA rate (GFLOP/s) over synchronized trials of n blocks each. */
static double fma_peak(int threads, int trials, long n, int bits) {
    double best = 0, slowest = 0;
#pragma omp parallel num_threads(threads)
    for (int t = 0; t < trials; t++) {
#pragma omp barrier
#pragma omp single
        slowest = 0;
        double dt = fma_throughput(n, bits);
#pragma omp critical
        if (dt > slowest) slowest = dt;
#pragma omp barrier
#pragma omp single
        {
            double g = threads * (double)n * 96 * (bits / 32) * 2 / slowest / 1e9;
            if (g > best) best = g;
        }
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    int trials = argc > 2 ? atoi(argv[2]) : 200;
    int bits = argc > 3 ? atoi(argv[3]) : 256;
    if (threads <= 0 || trials <= 0 || (bits != 128 && bits != 256 && bits != 512)) {
        fprintf(stderr, "clock: usage: clock THREADS [TRIALS [BITS: 128, 256 or 512]]\n");
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma") || (bits >= 256 && !__builtin_cpu_supports("avx2")) ||
        (bits == 512 && !__builtin_cpu_supports("avx512f"))) {
        fprintf(stderr, "clock: this CPU has no %d-bit FMA\n", bits);
        return 1;
    }
    long n = 100000; /* 6.4 M adds: ~2 ms at 3 GHz */
    double best_hz = 1e300, best_fma_lat = 0;
#pragma omp parallel num_threads(threads)
    {
        double hz = 0, fbest = 1e300;
        for (int t = 0; t < trials; t++) {
            double a = add_chain(n), f = fma_chain(n / 4);
            if (n * 64.0 / a > hz) hz = n * 64.0 / a;
            if (f < fbest) fbest = f;
        }
        double lat = fbest * hz / (n / 4 * 64.0);
#pragma omp critical
        if (hz < best_hz) best_hz = hz, best_fma_lat = lat;
    }
    double peak = fma_peak(threads, trials, 20000, bits); /* 1.9 M FMAs per thread and trial */
    printf("{\"threads\":%d,\"ghz\":%.4f,\"fma_latency_cycles\":%.2f,\"fma_bits\":%d,\"fma_gflops\":%.2f,"
           "\"flops_per_cycle_per_thread\":%.2f}\n",
           threads, best_hz / 1e9, best_fma_lat, bits, peak, peak / threads / (best_hz / 1e9));
    return 0;
}
