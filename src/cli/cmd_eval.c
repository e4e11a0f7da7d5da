/* vitc eval: accuracy, per-class accuracy and the confusion matrix of a model (or of an ensemble:
 * several models whose class probabilities are averaged) on a dataset (the test set of MNIST /
 * Fashion-MNIST, the validation part of an image folder, or with --split val --val-split F the
 * training images a run held out). */
#include "cli/commands.h"
#include "cli/dist.h"
#include "cli/args.h"
#include "core/error.h"
#include "core/json.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "train/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_MODELS = 8 };

static void free_models(vitc_model **models, int n) {
    for (int e = 0; e < n; e++) vitc_model_free(models[e]);
}

/* Keeps images [lo, hi) of d (moved to the front; the buffers stay d's). */
static void keep_share(vt_dataset *d, int64_t lo, int64_t hi) {
    size_t img = (size_t)d->c * d->h * d->w;
    memmove(d->pixels, d->pixels + (size_t)lo * img, (size_t)(hi - lo) * img);
    memmove(d->labels, d->labels + lo, sizeof(int) * (size_t)(hi - lo));
    d->n = (int)(hi - lo);
}

/* x[0..n) summed over the processes, in rank order, 16 at a time */
static void sum_over_ranks(double *x, size_t n) {
    for (size_t i = 0; i < n; i += 16) vt_dist_sum_doubles(x + i, n - i < 16 ? (int)(n - i) : 16);
}

static int eval_main(int argc, char **argv);

/* build/vitc-mpi under mpirun: each process evaluates a contiguous share of the images (or scenes); a
 * classifier's or segmentation model's confusion matrices (and losses) are summed, a detector's
 * predictions gathered in scene order (dist.h), and rank 0 reports */
int cmd_eval(int argc, char **argv) {
    vt_cli_passive_omp(argv - 1); /* argv[-1]: the program, as main received it (before MPI starts) */
    vt_dist_init(&argc, &argv);
    int rc = eval_main(argc, argv);
    vt_dist_finalize();
    return rc;
}

static int eval_main(int argc, char **argv) {
    const char *data = NULL, *split = "test";
    int json = 0, threads = 0, batch = 256, limit = 0, heads = 0, tta_flip = 0, bf16 = 0, int8 = 0, int8_attn = 0;
    float val_frac = 0;
    vt_option opts[] = {
        {"data", VT_OPT_STRING, &data, "mnist, fashion-mnist, an IDX folder, an image folder, or (segmentation models) a scene folder", 0},
        {"split", VT_OPT_STRING, &split, "test (default; a folder's validation part; every scene of a scene folder), val or train", 0},
        {"val-split", VT_OPT_FLOAT, &val_frac, "the validation fraction used in training (folders: default 0.1)", 0},
        {"limit", VT_OPT_INT, &limit, "the first N images only", 0},
        {"batch", VT_OPT_INT, &batch, "images per forward pass (default 256)", 0},
        {"threads", VT_OPT_INT, &threads, "threads (default $VITC_NUM_THREADS or all cores)", 0},
        {"heads", VT_OPT_INT, &heads, "attention heads when the checkpoint does not say", 0},
        {"tta-flip", VT_OPT_FLAG, &tta_flip, "average each image's and its mirror image's class probabilities", 0},
        {"json", VT_OPT_FLAG, &json, "print JSON", 0},
        {"bf16", VT_OPT_FLAG, &bf16, "the blocks' products in bfloat16 (AVX512-BF16 CPUs)", 0},
        {"int8", VT_OPT_FLAG, &int8, "the blocks' Linear layers in int8 (per-token dynamic quantization)", 0},
        {"int8-attention", VT_OPT_FLAG, &int8_attn, "attention's Q.K^T and P.V in int8 too (an int8 model)", 0},
    };
    const char *pos[MAX_MODELS + 1]; /* one more, to name the limit instead of a generic error */
    int npos;
    int r = vt_parse_args("eval", "vitc eval MODEL [MODEL...] --data mnist|fashion-mnist|DIR [--split test|val|train] [--val-split F] [--json]",
                          argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, MAX_MODELS + 1, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 1) return fprintf(stderr, "vitc eval: a MODEL file is required\n"), 2;
    if (npos > MAX_MODELS) return fprintf(stderr, "vitc eval: at most %d models in an ensemble\n", MAX_MODELS), 2;
    if (!data) return fprintf(stderr, "vitc eval: --data is required\n"), 2;
    if (strcmp(split, "test") && strcmp(split, "val") && strcmp(split, "train"))
        return fprintf(stderr, "vitc eval: --split must be test, val or train\n"), 2;
    if (batch <= 0 || (vt_opt_seen(opts, (int)(sizeof opts / sizeof opts[0]), "threads") && threads <= 0))
        return fprintf(stderr, "vitc eval: --batch and --threads must be positive\n"), 2;
    if (!vt_opt_seen(opts, (int)(sizeof opts / sizeof opts[0]), "val-split")) val_frac = vt_dataset_default_val_frac(data);
    else if (!(val_frac > 0 && val_frac < 1)) return fprintf(stderr, "vitc eval: --val-split must be in (0, 1)\n"), 2;
    vt_data_split sp = !strcmp(split, "train") ? VT_SPLIT_TRAIN : !strcmp(split, "val") ? VT_SPLIT_VAL : VT_SPLIT_TEST;
    vitc_load_params lp = vitc_load_default_params();
    lp.threads = threads;
    lp.heads = heads;
    vitc_model *models[MAX_MODELS] = {0};
    for (int e = 0; e < npos; e++)
        if (vitc_model_load(pos[e], &lp, &models[e]) || (bf16 && vitc_model_set_bf16(models[e], 1)) ||
            (int8 && vitc_model_set_int8(models[e], 1)) || (int8_attn && vitc_model_set_int8_attention(models[e], 1))) {
            fprintf(stderr, "vitc eval: %s\n", vitc_last_error());
            vitc_model_free(models[e]);
            for (int j = 0; j < e; j++) vitc_model_free(models[j]);
            return 1;
        }
    vitc_model *m = models[0]; /* the ensemble's classes, labels and preprocessing are the first model's */
    if (m->cfg.task == VT_TASK_SEGMENT) { /* a scene folder: mIoU, pixel accuracy, per-class IoU */
        int srv = 1;
        if (npos > 1) fprintf(stderr, "vitc eval: segmentation models are evaluated one at a time\n");
        else if (tta_flip) fprintf(stderr, "vitc eval: --tta-flip is for classifiers\n");
        else
            srv = cmd_eval_segment(m, pos[0], data, split, (int)sp,
                                   vt_opt_seen(opts, (int)(sizeof opts / sizeof opts[0]), "val-split") ? val_frac : 0.1f,
                                   limit, batch > 64 ? 64 : batch, json);
        free_models(models, npos);
        return srv;
    }
    if (m->cfg.task == VT_TASK_DETECT) { /* a scene folder: COCO mAP */
        int drv = 1;
        if (npos > 1) fprintf(stderr, "vitc eval: detection models are evaluated one at a time\n");
        else if (tta_flip) fprintf(stderr, "vitc eval: --tta-flip is for classifiers\n");
        else
            drv = cmd_eval_detect(m, pos[0], data, split, (int)sp,
                                  vt_opt_seen(opts, (int)(sizeof opts / sizeof opts[0]), "val-split") ? val_frac : 0.1f,
                                  limit, json);
        free_models(models, npos);
        return drv;
    }
    int C = m->cfg.num_classes, rc = 0;
    vt_dataset d;
    int *map = NULL;
    int64_t *conf = NULL;
    for (int e = 0; e < npos; e++) {
        const char *why = NULL;
        if (!models[e]->cfg.num_classes) why = "has no classification head";
        else if (models[e]->cfg.task != VT_TASK_CLASSIFY) why = "is not a classifier (evaluate it alone)";
        else if (models[e]->cfg.num_classes != C) why = "has another number of classes than the first model";
        else if (!vt_model_labels_agree(m, models[e])) why = "names its classes differently from the first model";
        if (why) {
            fprintf(stderr, "vitc eval: %s %s\n", pos[e], why);
            free_models(models, npos);
            return 1;
        }
    }
    char ann[4200];
    snprintf(ann, sizeof ann, "%s/annotations.json", data);
    if (access(ann, F_OK) == 0) {
        fprintf(stderr, "vitc eval: %s is a scene folder (segmentation), %s a classifier\n", data, pos[0]);
        free_models(models, npos);
        return 1;
    }
    if (vt_dataset_open(data, sp, val_frac, &m->pre,
                        m->cfg.img_size, &d)) {
        fprintf(stderr, "vitc eval: %s\n", vitc_last_error());
        free_models(models, npos);
        return 1;
    }
    vt_dataset_truncate(&d, limit);
    /* dataset classes to model classes: by name when the model has labels, else by index */
    map = malloc(sizeof(int) * (size_t)d.num_classes);
    conf = calloc((size_t)C * C, sizeof *conf);
    if (!map || !conf) {
        fprintf(stderr, "vitc eval: out of memory\n");
        rc = 1;
        goto done;
    }
    for (int k = 0; k < d.num_classes; k++) {
        map[k] = k < C ? k : -1;
        if (m->labels)
            for (int j = 0; j < m->n_labels; j++)
                if (m->labels[j] && !strcmp(m->labels[j], d.class_names[k])) map[k] = j;
        if (map[k] < 0) {
            fprintf(stderr, "vitc eval: dataset class '%s' is not one of the model's classes\n", d.class_names[k]);
            rc = 1;
            goto done;
        }
    }
    double loss;
    int n_all = d.n;
    if (vt_dist_size() > 1) {
        int64_t lo, hi;
        vt_dist_share(d.n, &lo, &hi);
        keep_share(&d, lo, hi);
    }
    rc = vt_evaluate(models, npos, &d, batch, map, tta_flip, conf, &loss) ? 1 : 0;
    if (rc) vt_dist_error("vitc eval", vitc_last_error());
    if ((rc = vt_dist_agree(rc))) goto done;
    if (vt_dist_size() > 1) { /* counts and the loss's sum: exact sums of integers, the loss in rank order */
        size_t CC = (size_t)C * C;
        double *s = malloc(sizeof(double) * (CC + 1));
        if (!s) {
            fprintf(stderr, "vitc eval: out of memory\n");
            vt_dist_abort(1);
        }
        for (size_t i = 0; i < CC; i++) s[i] = (double)conf[i];
        s[CC] = loss * d.n;
        sum_over_ranks(s, CC + 1);
        for (size_t i = 0; i < CC; i++) conf[i] = (int64_t)s[i];
        loss = n_all ? s[CC] / n_all : 0.0;
        free(s);
        d.n = n_all;
    }
    int64_t correct = 0;
    for (int k = 0; k < C; k++) correct += conf[(size_t)k * C + k];
    double acc = d.n ? (double)correct / d.n : 0.0;
    if (json) {
        vt_strbuf b = {0};
        vt_strbuf_printf(&b, "{\"model\":");
        vt_strbuf_json_string(&b, pos[0]);
        vt_strbuf_printf(&b, ",\"models\":[");
        for (int e = 0; e < npos; e++) {
            if (e) vt_strbuf_printf(&b, ",");
            vt_strbuf_json_string(&b, pos[e]);
        }
        vt_strbuf_printf(&b, "],\"data\":");
        vt_strbuf_json_string(&b, d.name);
        vt_strbuf_printf(&b, ",\"split\":\"%s\",\"tta\":\"%s\",\"images\":%d,\"accuracy\":%.6f,\"loss\":%.6f,\"classes\":[",
                         split, tta_flip ? "flip" : "none", d.n, acc, loss);
        for (int k = 0; k < C; k++) {
            int64_t tot = 0;
            for (int j = 0; j < C; j++) tot += conf[(size_t)k * C + j];
            vt_strbuf_printf(&b, "%s{\"name\":", k ? "," : "");
            const char *nm = vitc_model_label(m, k);
            char tmp[16];
            snprintf(tmp, sizeof tmp, "%d", k);
            vt_strbuf_json_string(&b, nm ? nm : tmp);
            vt_strbuf_printf(&b, ",\"images\":%lld,\"accuracy\":%.6f}", (long long)tot,
                             tot ? (double)conf[(size_t)k * C + k] / tot : 0.0);
        }
        vt_strbuf_printf(&b, "],\"confusion\":");
        vt_strbuf_json_matrix(&b, conf, C, C);
        vt_strbuf_printf(&b, "}");
        if (!b.failed) printf("%s\n", b.data);
        vt_strbuf_free(&b);
    } else {
        for (int e = 0; e < npos; e++) printf("%s%s", e ? " + " : "", pos[e]);
        printf("%s on %s (%s, %d images%s): accuracy %.2f%%, loss %.4f\n", npos > 1 ? " (probabilities averaged)" : "", d.name, split, d.n,
               tta_flip ? ", each with its mirror image" : "", 100.0 * acc, loss);
        printf("\nper class:\n");
        for (int k = 0; k < C; k++) {
            int64_t tot = 0;
            for (int j = 0; j < C; j++) tot += conf[(size_t)k * C + j];
            const char *nm = vitc_model_label(m, k);
            printf("  %3d %-20s %6lld images  %6.2f%%\n", k, nm ? nm : "", (long long)tot,
                   tot ? 100.0 * (double)conf[(size_t)k * C + k] / tot : 0.0);
        }
        printf("\nconfusion matrix (rows: true class, columns: predicted):\n     ");
        for (int j = 0; j < C; j++) printf(" %5d", j);
        printf("\n");
        for (int k = 0; k < C; k++) {
            printf("  %3d", k);
            for (int j = 0; j < C; j++) printf(" %5lld", (long long)conf[(size_t)k * C + j]);
            printf("\n");
        }
    }
done:
    free(map);
    free(conf);
    vt_dataset_free(&d);
    free_models(models, npos);
    return rc;
}
