/* Internal image representation and decoders. */
#ifndef VT_IMAGE_H
#define VT_IMAGE_H

#include "vitc.h"
#include <stddef.h>
#include <stdint.h>

/* Decoders refuse images with more pixels than this (decompression bombs). */
#define VT_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)
#define VT_IMAGE_MAX_SIDE 32768

struct vitc_image {
    int width, height;
    uint8_t *rgb; /* width*height*3, interleaved */
};

vitc_status vt_image_alloc(int width, int height, vitc_image **out);
/* Checks declared dimensions against the limits before anything is allocated:
 * VITC_ERR_FORMAT for zero/negative sizes, VITC_ERR_LIMIT when too large (messages name `name`). */
vitc_status vt_image_check_size(uint64_t width, uint64_t height, const char *name);

/* Each decoder: name is used in messages; returns RGB as PIL's convert('RGB'). */
vitc_status vt_decode_jpeg(const uint8_t *data, size_t size, const char *name, vitc_image **out);
vitc_status vt_decode_png(const uint8_t *data, size_t size, const char *name, vitc_image **out);
vitc_status vt_decode_pnm(const uint8_t *data, size_t size, const char *name, vitc_image **out);
/* Detects the format from the magic bytes. */
vitc_status vt_decode_image(const uint8_t *data, size_t size, const char *name, vitc_image **out);

/* Writes an 8-bit PNG (channels 1: gray, 3: RGB; rows top to bottom, interleaved) atomically:
 * nothing is left at path when it fails. */
vitc_status vt_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels);
/* The same PNG into memory: *out (malloc'd, the caller frees) of *len bytes. */
vitc_status vt_png_encode(int width, int height, int channels, const uint8_t *pixels, uint8_t **out, size_t *len);

/* The dimensions an encoded JPEG, PNG or PNM declares in its header, read without decoding anything
 * (so that a caller can refuse a huge image before the decoder allocates it). Returns 0 with *width
 * and *height set, or -1 when the header is not one of those or is cut short. */
int vt_image_dims(const uint8_t *data, size_t size, uint64_t *width, uint64_t *height);

/* Where the evaluation transform puts an image: resized to rw x rh, then the size x size window at
 * (cx0, cy0) of the resized image taken (negative or past the edge: zero padding). Model-input
 * pixel (u, v) covers resized pixel (cx0 + u, cy0 + v); original pixel x sits at resized
 * coordinate (x + 0.5) * rw / w. */
typedef struct vt_pre_geom {
    int rw, rh, cx0, cy0;
} vt_pre_geom;
vitc_status vt_preprocess_geometry(const vitc_preprocess_params *params, int w, int h, vt_pre_geom *out);

#endif
