/* CPU clock under load, for the benchmark's fp32 peak. Every thread runs a chain of dependent
 * integer adds (latency one cycle on every x86 core), so adds per second = cycles per second;
 * a chain of dependent FMAs is timed too and its latency in cycles printed as a cross-check
 * (4 on recent Intel and AMD cores). All threads run at once, many short trials; each thread keeps
 * its fastest trial (preemption by other processes only lowers a trial), and the clock is the
 * slowest thread's best.
 * Prints one JSON object. Build: cc -O2 -fopenmp clock.c -o clock; run: clock THREADS */
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

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    int trials = argc > 2 ? atoi(argv[2]) : 200;
    if (threads <= 0 || trials <= 0) {
        fprintf(stderr, "clock: usage: clock THREADS [TRIALS]\n");
        return 2;
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
    printf("{\"threads\":%d,\"ghz\":%.4f,\"fma_latency_cycles\":%.2f}\n", threads, best_hz / 1e9, best_fma_lat);
    return 0;
}
