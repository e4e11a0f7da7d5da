/* vitc eval on a detection model: COCO mAP@[.5:.95], mAP@0.5, mAP@0.75 and per-class AP on a scene
 * folder (pycocotools' definition, det_eval.h), every detection token's prediction scored. Under
 * mpirun each process runs a contiguous share of the scenes; the predictions are gathered and
 * scored in scene order, so the figures are those of one process, to the bit. */
#include "cli/commands.h"
#include "cli/dist.h"
#include "core/json.h"
#include "model/model.h"
#include "train/det_scene_eval.h"
#include "train/scenes.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_eval_detect(vitc_model *m, const char *model_path, const char *data, const char *split, int sp, float val_frac,
                    int limit, int json) {
    vt_scenes s = {0};
    if (vt_scenes_open(data, sp, sp == VT_SPLIT_TEST ? 0.0f : val_frac, &s)) {
        fprintf(stderr, "vitc eval: %s\n", vitc_last_error());
        return 1;
    }
    vt_scenes_truncate(&s, limit);
    if (!s.n_boxes) {
        fprintf(stderr, "vitc eval: %s/annotations.json has no boxes to score detections against\n", data);
        vt_scenes_free(&s);
        return 1;
    }
    int C = m->cfg.num_classes, rc = 0;
    double *ap = malloc(sizeof(double) * (size_t)C), *ap50 = malloc(sizeof(double) * (size_t)C);
    vt_det_eval *e = NULL;
    vt_det_scores sc = {0};
    int64_t lo, hi, R = vt_det_record_floats(m), total = 0;
    vt_dist_share(s.n, &lo, &hi);
    float *mine = malloc(sizeof(float) * (size_t)(R * (hi - lo + 1))), *all = NULL;
    if (!ap || !ap50 || !mine) vt_dist_error("vitc eval", "out of memory"), rc = 1;
    else if (vt_det_predict_scenes(m, &s, (int)lo, (int)hi, mine)) vt_dist_error("vitc eval", vitc_last_error()), rc = 1;
    if (!(rc = vt_dist_agree(rc)) && (vt_dist_gather_floats(mine, R * (hi - lo), &all, &total) || total != R * s.n)) {
        fprintf(stderr, "vitc eval: out of memory gathering the detections\n");
        rc = 1;
    }
    if (!rc && (vt_det_eval_create(C, &e) || vt_det_add_records(m, &s, all, e) || vt_det_eval_scores(e, &sc, ap, ap50))) {
        fprintf(stderr, "vitc eval: %s\n", vitc_last_error());
        rc = 1;
    }
    free(mine);
    free(all);
    int *count = calloc((size_t)C + 1, sizeof(int));
    for (int k = 0; count && k < s.n_boxes; k++)
        if (s.boxes[k].category >= 0 && s.boxes[k].category < C) count[s.boxes[k].category]++;
    if (!rc && json) {
        vt_strbuf b = {0};
        vt_strbuf_printf(&b, "{\"model\":");
        vt_strbuf_json_string(&b, model_path);
        vt_strbuf_printf(&b, ",\"task\":\"detect\",\"data\":");
        vt_strbuf_json_string(&b, data);
        vt_strbuf_printf(&b, ",\"split\":\"%s\",\"scenes\":%d,\"objects\":%d,\"map\":%.6f,\"map50\":%.6f,\"map75\":%.6f,"
                             "\"classes\":[", split, s.n, s.n_boxes, sc.map, sc.map50, sc.map75);
        for (int k = 0; k < C; k++) {
            vt_strbuf_printf(&b, "%s{\"name\":", k ? "," : "");
            const char *nm = vitc_model_label(m, k);
            if (nm) vt_strbuf_json_string(&b, nm);
            else vt_strbuf_printf(&b, "\"%d\"", k);
            if (ap[k] < 0) vt_strbuf_printf(&b, ",\"objects\":%d,\"ap\":null,\"ap50\":null}", count ? count[k] : 0);
            else vt_strbuf_printf(&b, ",\"objects\":%d,\"ap\":%.6f,\"ap50\":%.6f}", count ? count[k] : 0, ap[k], ap50[k]);
        }
        vt_strbuf_printf(&b, "]}");
        if (!b.failed) printf("%s\n", b.data);
        vt_strbuf_free(&b);
    } else if (!rc) {
        printf("%s on %s (%s, %d scenes, %d objects): mAP@[.5:.95] %.4f, mAP@0.5 %.4f, mAP@0.75 %.4f over %d classes\n\n"
               "per class:             objects  AP@[.5:.95]  AP@0.5\n",
               model_path, data, split, s.n, s.n_boxes, sc.map, sc.map50, sc.map75, sc.classes_present);
        for (int k = 0; k < C; k++) {
            const char *nm = vitc_model_label(m, k);
            if (ap[k] < 0) printf("  %3d %-20s %6d      -          -\n", k, nm ? nm : "", count ? count[k] : 0);
            else printf("  %3d %-20s %6d   %.4f     %.4f\n", k, nm ? nm : "", count ? count[k] : 0, ap[k], ap50[k]);
        }
    }
    free(count);
    free(ap);
    free(ap50);
    vt_det_eval_free(e);
    vt_scenes_free(&s);
    return rc;
}
