#include "core/arena.h"

#include <stdlib.h>

int vt_arena_reserve(vt_arena *a, size_t bytes) {
    if (bytes <= a->cap) return 0;
    free(a->base);
    a->base = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    a->cap = a->base ? bytes : 0;
    a->used = 0;
    return a->base ? 0 : -1;
}

float *vt_arena_floats(vt_arena *a, size_t n) {
    size_t bytes = vt_arena_size_floats(n);
    if (a->used + bytes > a->cap) return NULL;
    float *p = (float *)(a->base + a->used);
    a->used += bytes;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void vt_arena_reset(vt_arena *a) { a->used = 0; }

void vt_arena_free(vt_arena *a) {
    free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

float *vt_scratch_grow(float **buf, size_t *cap, size_t n) {
    if (n <= *cap) return *buf;
    free(*buf);
    *buf = aligned_alloc(64, vt_arena_size_floats(n));
    *cap = *buf ? n : 0;
    return *buf;
}
