/* vt_image_dims: an encoded image's declared size from its header alone. The decoders check the same
 * numbers against vitc's fixed limits; this lets a server apply a smaller, per-request limit first. */
#include "image/image.h"

#include <string.h>

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The first start-of-frame segment's height and width (markers SOF0..SOF15 but DHT, JPG and DAC). */
static int jpeg_dims(const uint8_t *d, size_t size, uint64_t *w, uint64_t *h) {
    size_t i = 2;
    while (i + 4 <= size) {
        if (d[i] != 0xff) return -1;
        uint8_t m = d[i + 1];
        if (m == 0xff) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) { /* markers without a length */
            i += 2;
            continue;
        }
        if (m == 0xd9 || m == 0xda) return -1; /* end of image or scan data before any frame header */
        size_t len = (size_t)d[i + 2] << 8 | d[i + 3];
        if (len < 2) return -1;
        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            if (len < 7 || i + 9 > size) return -1;
            *h = (uint64_t)d[i + 5] << 8 | d[i + 6];
            *w = (uint64_t)d[i + 7] << 8 | d[i + 8];
            return 0;
        }
        i += 2 + len;
    }
    return -1;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* The next decimal number of a PNM header, skipping whitespace and comments; -1 when none. */
static int pnm_number(const uint8_t *d, size_t size, size_t *pos, uint64_t *v) {
    for (;;) {
        while (*pos < size && is_space(d[*pos])) (*pos)++;
        if (*pos < size && d[*pos] == '#') {
            while (*pos < size && d[*pos] != '\n' && d[*pos] != '\r') (*pos)++;
            continue;
        }
        break;
    }
    if (*pos >= size || d[*pos] < '0' || d[*pos] > '9') return -1;
    *v = 0;
    while (*pos < size && d[*pos] >= '0' && d[*pos] <= '9') {
        if (*v < ((uint64_t)1 << 31)) *v = *v * 10 + (uint64_t)(d[*pos] - '0'); /* saturates above any limit; */
        /* width x height stays below 2^64 */
        (*pos)++;
    }
    return 0;
}

int vt_image_dims(const uint8_t *data, size_t size, uint64_t *width, uint64_t *height) {
    if (size >= 24 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8) && !memcmp(data + 12, "IHDR", 4)) {
        *width = be32(data + 16);
        *height = be32(data + 20);
        return 0;
    }
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return jpeg_dims(data, size, width, height);
    if (size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' && is_space(data[2])) {
        size_t pos = 2;
        if (pnm_number(data, size, &pos, width) || pnm_number(data, size, &pos, height)) return -1;
        return 0;
    }
    return -1;
}
