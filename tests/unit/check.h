/* Minimal test harness: CHECK records a failure and continues; each test binary prints
 * "<name>: N passed, N failed" and exits non-zero on any failure. */
#ifndef VT_CHECK_H
#define VT_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (cond) {                                                                  \
            check_passed++;                                                          \
        } else {                                                                     \
            check_failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fprintf(stderr, "\n");                                                   \
        }                                                                            \
    } while (0)

/* Directory of generated reference fixtures (tests/run.sh sets VITC_FIXTURES). */
static inline const char *fixture_dir(void) {
    const char *d = getenv("VITC_FIXTURES");
    return d ? d : "tests/fixtures/gen";
}

static inline float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

/* n random 8-bit images of `pixels` bytes (a seeded LCG) labelled i % classes: small datasets
 * for the evaluation and distillation tests. */
static inline void random_images(unsigned char *px, int *labels, int n, int pixels, int classes, unsigned long long seed) {
    for (int i = 0; i < n; i++) {
        labels[i] = i % classes;
        for (int k = 0; k < pixels; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            px[(size_t)i * pixels + k] = (unsigned char)(seed >> 56);
        }
    }
}

/* float -> bfloat16 -> float, rounding to nearest even (what the bf16 packers do): references for
 * the bfloat16 products. */
static inline float bf16_round(float x) {
    unsigned int u;
    memcpy(&u, &x, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
    memcpy(&x, &u, 4);
    return x;
}

static inline int check_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
