/* libFuzzer target: the safetensors reader on arbitrary bytes. Every tensor of an accepted file
 * is read completely (float ones through vt_st_to_f32), so ASan catches any view that the
 * validation let past the end of the buffer. */
#include "formats/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A private copy sized exactly, so reads past the end are caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    vt_safetensors *st = NULL;
    if (vt_st_open_memory(buf, size, "fuzz.safetensors", &st) == VITC_OK) {
        volatile float sink = 0.0f;
        volatile uint8_t bsink = 0;
        for (size_t i = 0; i < st->n_tensors; i++) {
            const vt_st_tensor *t = &st->tensors[i];
            if (vt_st_find(st, t->name) != t) abort(); /* names are unique and sorted */
            if (t->nbytes) bsink ^= t->data[0] ^ t->data[t->nbytes - 1];
            const float *f = NULL;
            int owned = 0;
            if (vt_st_to_f32(st, t, &f, &owned) == VITC_OK) {
                for (int64_t j = 0; j < t->numel; j++) sink += f[j];
                if (owned) free((void *)f);
            }
        }
        (void)vt_st_meta(st, "format");
        if (st->metadata)
            for (size_t i = 0; i < st->metadata->count; i++)
                if (!vt_st_meta(st, st->metadata->keys[i])) abort(); /* every value is a string */
        vt_st_close(st);
    }
    free(buf);
    return 0;
}
