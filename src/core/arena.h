/* A bump allocator for activations: one block, sized once from the model configuration and
 * batch, handed out in 64-byte aligned slices and reset between forward passes. Training can keep
 * a second arena whose slices live across the forward and backward passes. */
#ifndef VT_ARENA_H
#define VT_ARENA_H

#include <stddef.h>

typedef struct vt_arena {
    char *base;
    size_t cap, used, peak;
} vt_arena;

/* Makes sure the arena holds at least bytes (contents are lost when it grows). 0 on success. */
int vt_arena_reserve(vt_arena *a, size_t bytes);
/* A 64-byte aligned slice of n floats, or NULL when the reservation is exceeded. */
float *vt_arena_floats(vt_arena *a, size_t n);
/* Bytes a sequence of slices of these float counts needs (for sizing the reservation). */
static inline size_t vt_arena_size_floats(size_t n) { return (n * sizeof(float) + 63) & ~(size_t)63; }
void vt_arena_reset(vt_arena *a);
void vt_arena_free(vt_arena *a);

/* Grow-only scratch of at least n floats in *buf (capacity *cap), 64-byte aligned: reallocated
 * only when n exceeds *cap (contents are then lost), so a persistent thread's steady-state calls
 * allocate nothing. NULL (and *cap 0) when out of memory. */
float *vt_scratch_grow(float **buf, size_t *cap, size_t n);

#endif
