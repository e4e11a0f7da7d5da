/* The commands' JSON objects (see json_out.h). */
#include "cli/json_out.h"

#include <math.h>
#include <stdio.h>

static void string_or_null(vt_strbuf *b, const char *s) {
    if (s) vt_strbuf_json_string(b, s);
    else vt_strbuf_append(b, "null", 4);
}

void vt_json_classify(vt_strbuf *b, const vitc_model *m, const char *file, int sub, const float *logits,
                      int num_classes, int top, int with_logits) {
    int k = top < num_classes ? top : num_classes;
    int idx[k > 0 ? k : 1];
    float prob[k > 0 ? k : 1];
    vitc_topk(logits, num_classes, k, idx, prob);
    vt_strbuf_append(b, "{\"file\":", 8);
    string_or_null(b, file);
    if (sub >= 0) vt_strbuf_printf(b, ",\"index\":%d", sub);
    vt_strbuf_append(b, ",\"top\":[", 8);
    for (int i = 0; i < k; i++) {
        vt_strbuf_printf(b, "%s{\"index\":%d,\"label\":", i ? "," : "", idx[i]);
        string_or_null(b, vitc_model_label(m, idx[i]));
        vt_strbuf_printf(b, ",\"prob\":%.6g}", (double)prob[i]);
    }
    vt_strbuf_append(b, "]", 1);
    if (with_logits) {
        vt_strbuf_append(b, ",\"logits\":[", 11);
        for (int i = 0; i < num_classes; i++) vt_strbuf_printf(b, "%s%.9g", i ? "," : "", (double)logits[i]);
        vt_strbuf_append(b, "]", 1);
    }
    vt_strbuf_append(b, "}", 1);
}

void vt_json_embed(vt_strbuf *b, const char *file, int sub, const float *f, int dim, int tokens) {
    double norm = 0.0;
    for (int d = 0; d < dim; d++) norm += (double)f[d] * f[d];
    vt_strbuf_append(b, "{\"file\":", 8);
    string_or_null(b, file);
    if (sub >= 0) vt_strbuf_printf(b, ",\"index\":%d", sub);
    vt_strbuf_printf(b, ",\"dim\":%d", dim);
    if (tokens >= 0) vt_strbuf_printf(b, ",\"tokens\":%d", tokens);
    vt_strbuf_printf(b, ",\"norm\":%.9g,\"features\":[", sqrt(norm));
    for (int d = 0; d < dim; d++) vt_strbuf_printf(b, "%s%.9g", d ? "," : "", (double)f[d]);
    vt_strbuf_append(b, "]}", 2);
}

void vt_json_segment(vt_strbuf *b, const vitc_model *m, const char *file, int w, int h, const char *mask,
                     const char *overlay, const int64_t *area, int classes) {
    vt_strbuf_append(b, "{\"file\":", 8);
    string_or_null(b, file);
    vt_strbuf_printf(b, ",\"width\":%d,\"height\":%d,\"mask\":", w, h);
    string_or_null(b, mask);
    vt_strbuf_append(b, ",\"overlay\":", 11);
    string_or_null(b, overlay);
    vt_strbuf_append(b, ",\"classes\":[", 12);
    int first = 1;
    for (int c = 0; c < classes; c++) {
        if (!area[c]) continue;
        vt_strbuf_printf(b, "%s{\"class\":%d,\"label\":", first ? "" : ",", c);
        string_or_null(b, vitc_model_label(m, c));
        vt_strbuf_printf(b, ",\"pixels\":%lld,\"fraction\":%.6f}", (long long)area[c], (double)area[c] / ((double)w * h));
        first = 0;
    }
    vt_strbuf_append(b, "]}", 2);
}

void vt_json_detect(vt_strbuf *b, const vitc_model *m, const char *file, int w, int h, const char *picture,
                    const vitc_detection *d, int n) {
    vt_strbuf_append(b, "{\"file\":", 8);
    string_or_null(b, file);
    vt_strbuf_printf(b, ",\"width\":%d,\"height\":%d,\"picture\":", w, h);
    string_or_null(b, picture);
    vt_strbuf_append(b, ",\"detections\":[", 15);
    for (int i = 0; i < n; i++) {
        vt_strbuf_printf(b, "%s{\"index\":%d,\"label\":", i ? "," : "", d[i].label);
        string_or_null(b, vitc_model_label(m, d[i].label));
        vt_strbuf_printf(b, ",\"score\":%.6f,\"box\":[%.3f,%.3f,%.3f,%.3f]}", (double)d[i].score, (double)d[i].box[0],
                         (double)d[i].box[1], (double)d[i].box[2], (double)d[i].box[3]);
    }
    vt_strbuf_append(b, "]}", 2);
}
