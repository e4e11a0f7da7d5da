/* libFuzzer target: image decoding (JPEG, PNG, PNM) and, on success, a small preprocess.
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_image.c \
 *         <the .c files under src except src/cli> -ljpeg -lpng -lz -lm -fopenmp
 *   ./a.out fuzz/corpus/image -max_total_time=60 */
#include "vitc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vitc_image *img = NULL;
    if (vitc_image_decode(data, size, &img) != VITC_OK) return 0;
    /* keep runs fast: only small images go through the resampler */
    if ((int64_t)vitc_image_width(img) * vitc_image_height(img) <= 1 << 20) {
        vitc_preprocess_params p = vitc_preprocess_default_params();
        p.size = 16;
        p.squash = size & 1;
        p.interp = (size & 2) ? VITC_INTERP_BILINEAR : VITC_INTERP_BICUBIC;
        float out[3 * 16 * 16];
        /* every decoded image preprocesses, except past the documented size limit (an extreme
         * aspect ratio whose resized long side would exceed it), which is a clean refusal */
        vitc_status s = vitc_preprocess(img, &p, out);
        if (s != VITC_OK && s != VITC_ERR_LIMIT) abort();
    }
    vitc_image_free(img);
    return 0;
}
