/* vitc eval on a segmentation model: mIoU over the classes, pixel accuracy and per-class IoU on a
 * scene folder, from the confusion matrix summed over every pixel of every scene. Under mpirun each
 * process scores a contiguous share of the scenes and the matrices are summed (exact integers). */
#include "cli/commands.h"
#include "cli/dist.h"
#include "core/json.h"
#include "model/model.h"
#include "train/scenes.h"
#include "train/seg_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_eval_segment(vitc_model *m, const char *model_path, const char *data, const char *split, int sp,
                     float val_frac, int limit, int batch, int json) {
    vt_scenes s = {0};
    if (vt_scenes_open(data, sp, sp == VT_SPLIT_TEST ? 0.0f : val_frac, &s)) {
        fprintf(stderr, "vitc eval: %s\n", vitc_last_error());
        return 1;
    }
    vt_scenes_truncate(&s, limit);
    int C = m->cfg.num_classes, rc = 0;
    int64_t *conf = calloc((size_t)C * C, sizeof *conf);
    double *iou = malloc(sizeof(double) * (size_t)C);
    int64_t lo, hi;
    vt_dist_share(s.n, &lo, &hi);
    if (!conf || !iou) {
        vt_dist_error("vitc eval", "out of memory");
        rc = 1;
    } else if (vt_seg_evaluate_range(m, &s, (int)lo, (int)hi, batch, conf)) {
        vt_dist_error("vitc eval", vitc_last_error());
        rc = 1;
    }
    if (!(rc = vt_dist_agree(rc))) vt_dist_sum_int64(conf, (int64_t)C * C);
    if (!rc) {
        vt_seg_scores sc = vt_seg_scores_of(conf, C, iou);
        if (json) {
            vt_strbuf b = {0};
            vt_strbuf_printf(&b, "{\"model\":");
            vt_strbuf_json_string(&b, model_path);
            vt_strbuf_printf(&b, ",\"task\":\"segment\",\"data\":");
            vt_strbuf_json_string(&b, data);
            vt_strbuf_printf(&b, ",\"split\":\"%s\",\"scenes\":%d,\"miou\":%.6f,\"pixel_accuracy\":%.6f,\"classes\":[",
                             split, s.n, sc.miou, sc.pixel_acc);
            for (int k = 0; k < C; k++) {
                int64_t tot = 0;
                for (int j = 0; j < C; j++) tot += conf[(size_t)k * C + j];
                vt_strbuf_printf(&b, "%s{\"name\":", k ? "," : "");
                const char *nm = vitc_model_label(m, k);
                if (nm) vt_strbuf_json_string(&b, nm);
                else vt_strbuf_printf(&b, "\"%d\"", k);
                if (isnan(iou[k])) vt_strbuf_printf(&b, ",\"pixels\":%lld,\"iou\":null}", (long long)tot);
                else vt_strbuf_printf(&b, ",\"pixels\":%lld,\"iou\":%.6f}", (long long)tot, iou[k]);
            }
            vt_strbuf_printf(&b, "],\"confusion\":");
            vt_strbuf_json_matrix(&b, conf, C, C);
            vt_strbuf_printf(&b, "}");
            if (!b.failed) printf("%s\n", b.data);
            vt_strbuf_free(&b);
        } else {
            printf("%s on %s (%s, %d scenes): mIoU %.4f over %d classes, pixel accuracy %.4f\n\nper class:\n",
                   model_path, data, split, s.n, sc.miou, sc.classes_present, sc.pixel_acc);
            for (int k = 0; k < C; k++) {
                int64_t tot = 0;
                for (int j = 0; j < C; j++) tot += conf[(size_t)k * C + j];
                const char *nm = vitc_model_label(m, k);
                if (isnan(iou[k])) printf("  %3d %-20s %9lld pixels  IoU   -\n", k, nm ? nm : "", (long long)tot);
                else printf("  %3d %-20s %9lld pixels  IoU %.4f\n", k, nm ? nm : "", (long long)tot, iou[k]);
            }
        }
    }
    free(conf);
    free(iou);
    vt_scenes_free(&s);
    return rc;
}
