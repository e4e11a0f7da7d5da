/* Image format detection and the public vitc_image_* functions. */
#include "image/image.h"
#include "core/error.h"
#include "core/fileio.h"

#include <stdlib.h>
#include <string.h>

/* Largest encoded file vitc_image_load reads (far above any sane photograph). */
#define VT_IMAGE_MAX_FILE ((size_t)1 << 30)

vitc_status vt_image_alloc(int width, int height, vitc_image **out) {
    *out = NULL;
    if (width <= 0 || height <= 0)
        return vt_error(VITC_ERR_ARG, "image: invalid size %dx%d", width, height);
    if (width > VT_IMAGE_MAX_SIDE || height > VT_IMAGE_MAX_SIDE ||
        (uint64_t)width * (uint64_t)height > VT_IMAGE_MAX_PIXELS)
        return vt_error(VITC_ERR_LIMIT, "image: %dx%d exceeds the size limit", width, height);
    vitc_image *img = malloc(sizeof *img);
    size_t n = (size_t)width * (size_t)height * 3;
    uint8_t *rgb = malloc(n);
    if (!img || !rgb) {
        free(img);
        free(rgb);
        return vt_error(VITC_ERR_NOMEM, "image: out of memory for %dx%d pixels", width, height);
    }
    img->width = width;
    img->height = height;
    img->rgb = rgb;
    *out = img;
    return VITC_OK;
}

static int has_prefix(const uint8_t *data, size_t size, const char *magic, size_t n) {
    return size >= n && memcmp(data, magic, n) == 0;
}

vitc_status vt_decode_image(const uint8_t *data, size_t size, const char *name, vitc_image **out) {
    *out = NULL;
    if (size == 0) return vt_error(VITC_ERR_FORMAT, "%s: empty file", name);
    if (has_prefix(data, size, "\xff\xd8\xff", 3)) return vt_decode_jpeg(data, size, name, out);
    if (has_prefix(data, size, "\x89PNG\r\n\x1a\n", 8)) return vt_decode_png(data, size, name, out);
    if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7')
        return vt_decode_pnm(data, size, name, out);
    if (has_prefix(data, size, "GIF8", 4))
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: GIF images are not supported (use JPEG, PNG or PNM)", name);
    if (has_prefix(data, size, "BM", 2))
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: BMP images are not supported (use JPEG, PNG or PNM)", name);
    if (has_prefix(data, size, "RIFF", 4) && size >= 12 && !memcmp(data + 8, "WEBP", 4))
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: WebP images are not supported (use JPEG, PNG or PNM)", name);
    if (has_prefix(data, size, "II*\0", 4) || has_prefix(data, size, "MM\0*", 4))
        return vt_error(VITC_ERR_UNSUPPORTED, "%s: TIFF images are not supported (use JPEG, PNG or PNM)", name);
    return vt_error(VITC_ERR_FORMAT, "%s: unknown image format (not JPEG, PNG or PNM)", name);
}

vitc_status vitc_image_decode(const void *data, size_t size, vitc_image **out) {
    if (!out) return vt_error(VITC_ERR_ARG, "vitc_image_decode: out is NULL");
    *out = NULL;
    if (!data && size) return vt_error(VITC_ERR_ARG, "vitc_image_decode: data is NULL");
    return vt_decode_image(data, size, "<memory>", out);
}

vitc_status vitc_image_load(const char *path, vitc_image **out) {
    if (!out) return vt_error(VITC_ERR_ARG, "vitc_image_load: out is NULL");
    *out = NULL;
    if (!path) return vt_error(VITC_ERR_ARG, "vitc_image_load: path is NULL");
    char *data;
    size_t size;
    vitc_status st = vt_read_file(path, VT_IMAGE_MAX_FILE, &data, &size);
    if (st != VITC_OK) return st;
    st = vt_decode_image((const uint8_t *)data, size, path, out);
    free(data);
    return st;
}

vitc_status vitc_image_from_rgb(int width, int height, const uint8_t *rgb, vitc_image **out) {
    if (!out) return vt_error(VITC_ERR_ARG, "vitc_image_from_rgb: out is NULL");
    *out = NULL;
    if (!rgb) return vt_error(VITC_ERR_ARG, "vitc_image_from_rgb: rgb is NULL");
    vitc_status st = vt_image_alloc(width, height, out);
    if (st != VITC_OK) return st;
    memcpy((*out)->rgb, rgb, (size_t)width * (size_t)height * 3);
    return VITC_OK;
}

int vitc_image_width(const vitc_image *img) { return img ? img->width : 0; }
int vitc_image_height(const vitc_image *img) { return img ? img->height : 0; }
const uint8_t *vitc_image_pixels(const vitc_image *img) { return img ? img->rgb : NULL; }

void vitc_image_free(vitc_image *img) {
    if (!img) return;
    free(img->rgb);
    free(img);
}

vitc_status vt_image_check_size(uint64_t width, uint64_t height, const char *name) {
    if (width == 0 || height == 0)
        return vt_error(VITC_ERR_FORMAT, "%s: invalid image size %llux%llu", name, (unsigned long long)width,
                        (unsigned long long)height);
    if (width > VT_IMAGE_MAX_SIDE || height > VT_IMAGE_MAX_SIDE || width * height > VT_IMAGE_MAX_PIXELS)
        return vt_error(VITC_ERR_LIMIT, "%s: image of %llux%llu pixels exceeds the limit (%d per side, %u in all)",
                        name, (unsigned long long)width, (unsigned long long)height, VT_IMAGE_MAX_SIDE,
                        VT_IMAGE_MAX_PIXELS);
    return VITC_OK;
}
