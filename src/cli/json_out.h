/* The JSON objects of vitc classify / embed / segment / detect --json, shared with vitc serve so that
 * the command line and the HTTP server answer with the same fields and number formats. Each appends
 * one object (no newline) to b; file NULL writes "file":null. */
#ifndef VT_CLI_JSON_OUT_H
#define VT_CLI_JSON_OUT_H

#include "core/json.h"
#include "vitc.h"

#include <stdint.h>

/* {"file", ["index" (sub >= 0)], "top": [{index, label, prob}...], ["logits" (with_logits)]}:
 * the softmax's top k of num_classes logits. */
void vt_json_classify(vt_strbuf *b, const vitc_model *m, const char *file, int sub, const float *logits,
                      int num_classes, int top, int with_logits);
/* {"file", ["index"], "dim", ["tokens" (tokens >= 0)], "norm", "features"} */
void vt_json_embed(vt_strbuf *b, const char *file, int sub, const float *features, int dim, int tokens);
/* {"file", "width", "height", "mask", "overlay", "classes": [{class, label, pixels, fraction}...]}:
 * area[c] pixels of class c (classes with none left out); mask / overlay paths may be NULL. */
void vt_json_segment(vt_strbuf *b, const vitc_model *m, const char *file, int w, int h, const char *mask,
                     const char *overlay, const int64_t *area, int classes);
/* {"file", "width", "height", "picture", "detections": [{index, label, score, box}...]} */
void vt_json_detect(vt_strbuf *b, const vitc_model *m, const char *file, int w, int h, const char *picture,
                    const vitc_detection *d, int n);

#endif
