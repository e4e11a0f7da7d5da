/* vitc train --task segment|detect: trains a segmentation model (Segmenter's linear decoder or mask
 * transformer on a ViT backbone) or a detection model (YOLOS: detection tokens and two MLP heads,
 * the DETR set loss) on a scene folder (images/, masks/, annotations.json), from scratch or from a
 * classifier's backbone (--init), with the classifier's AdamW, schedule, EMA, checkpoints and
 * resume. Validation on scenes held out of the training folder: mIoU, or COCO mAP. */
#include "cli/args.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/dist.h"
#include "core/error.h"
#include "core/json.h"
#include "kernels/kernels.h"
#include "train/det_scene_eval.h"
#include "train/detr_loss.h"
#include "train/scenes.h"
#include "train/seg_eval.h"
#include "train/train.h"
#include "train/train_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *msg) {
    vt_dist_error("vitc train", msg);
    return 1;
}

/* What a checkpoint records of the run beside the trainer's state, so --resume goes on alike. */
typedef struct seg_meta {
    int epochs, batch, seed, limit, val_limit, augment, bf16;
    float val_frac;
    const char *data;
    int detect;
} seg_meta;

/* val_score: the validation mIoU (segmentation) or mAP@[.5:.95] (detection) */
static void seg_meta_json(vt_strbuf *sb, const seg_meta *r, int epoch, double val_score) {
    char buf[512];
    int k = snprintf(buf, sizeof buf,
                     "\"task\":\"%s\",\"epoch\":%d,\"epochs\":%d,\"batch\":%d,\"seed\":%d,\"limit\":%d,"
                     "\"val_limit\":%d,\"val_fraction\":%.9g,\"augment\":%s,\"bf16\":%s,",
                     r->detect ? "detect" : "segment", epoch, r->epochs, r->batch, r->seed, r->limit, r->val_limit, (double)r->val_frac,
                     r->augment ? "true" : "false", r->bf16 ? "true" : "false");
    if (val_score >= 0)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "\"%s\":%.6f,", r->detect ? "val_map" : "val_miou", val_score);
    vt_strbuf_append(sb, buf, (size_t)k);
    vt_strbuf_append(sb, "\"data\":", 7);
    vt_strbuf_json_string(sb, r->data);
}

static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^ c;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Scenes idx[0..n) as n x 3 x S x S normalized floats and their masks; with augment, a seeded
 * horizontal flip of half of them (image and mask together), drawn from (seed, epoch, index). */
static void scene_batch(const vt_scenes *s, const int *idx, int n, const float mean[3], const float sd[3], int augment,
                        uint64_t seed, int epoch, float *x, uint8_t *masks) {
    int S = s->h;
    size_t HW = (size_t)S * S;
    for (int i = 0; i < n; i++) {
        const uint8_t *px = s->pixels + (size_t)idx[i] * HW * s->c, *mk = s->masks + (size_t)idx[i] * HW;
        int flip = augment && (hash3(seed, (uint64_t)epoch, (uint64_t)idx[i]) & 1);
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++) {
                int sx = flip ? S - 1 - xx : xx;
                size_t src = (size_t)y * S + sx, dst = (size_t)y * S + xx;
                for (int k = 0; k < 3; k++) {
                    uint8_t v = px[src * s->c + (s->c == 3 ? k : 0)];
                    x[((size_t)i * 3 + k) * HW + dst] = ((float)v / 255.0f - mean[k]) / sd[k];
                }
                masks[(size_t)i * HW + dst] = mk[src];
            }
    }
}

/* Where each scene's boxes are in s->boxes: start[i], count[i] (the boxes of a scene need not be
 * adjacent in annotations.json: counted, then laid out by scene in order[]). */
typedef struct box_index {
    int *start, *count, *order;
} box_index;

static int index_boxes(const vt_scenes *s, box_index *x) {
    x->start = calloc((size_t)s->n + 1, sizeof(int));
    x->count = calloc((size_t)s->n + 1, sizeof(int));
    x->order = malloc(sizeof(int) * (size_t)(s->n_boxes + 1));
    if (!x->start || !x->count || !x->order) return -1;
    for (int k = 0; k < s->n_boxes; k++) x->count[s->boxes[k].scene]++;
    for (int i = 1; i < s->n; i++) x->start[i] = x->start[i - 1] + x->count[i - 1];
    int *fill = calloc((size_t)s->n + 1, sizeof(int));
    if (!fill) return -1;
    for (int k = 0; k < s->n_boxes; k++) {
        int i = s->boxes[k].scene;
        x->order[x->start[i] + fill[i]++] = k;
    }
    free(fill);
    return 0;
}

static void free_box_index(box_index *x) {
    free(x->start), free(x->count), free(x->order);
    memset(x, 0, sizeof *x);
}

/* The detection targets of scenes idx[0..n), flipped with their images as scene_batch flips them:
 * counts per scene, categories, normalized (cx, cy, w, h). Returns -1 when a scene has more
 * objects than the model has detection tokens. */
static int scene_targets(const vt_scenes *s, const box_index *bx, const int *idx, int n, int augment, uint64_t seed,
                         int epoch, int Q, int *n_t, int *cls, float *box) {
    int k = 0;
    float S = (float)s->w;
    for (int i = 0; i < n; i++) {
        int flip = augment && (hash3(seed, (uint64_t)epoch, (uint64_t)idx[i]) & 1);
        n_t[i] = bx->count[idx[i]];
        if (n_t[i] > Q) return -1;
        for (int j = 0; j < n_t[i]; j++, k++) {
            const vt_scene_box *b = &s->boxes[bx->order[bx->start[idx[i]] + j]];
            float x0 = flip ? S - b->x - b->w : b->x;
            cls[k] = b->category;
            box[4 * k] = (x0 + 0.5f * b->w) / S, box[4 * k + 1] = (b->y + 0.5f * b->h) / (float)s->h;
            box[4 * k + 2] = b->w / S, box[4 * k + 3] = b->h / (float)s->h;
        }
    }
    return 0;
}

/* The model's labels from the scenes': every class (segmentation: background first) or the
 * object categories alone (detection). */
static void set_scene_labels(vitc_model *m, const vt_scenes *s, int detect) {
    for (int i = 0; i < m->n_labels; i++) free(m->labels[i]);
    free(m->labels);
    int n = s->num_classes - (detect ? 1 : 0);
    m->labels = calloc((size_t)n, sizeof *m->labels);
    m->n_labels = m->labels ? n : 0;
    for (int i = 0; i < m->n_labels; i++) m->labels[i] = strdup(s->class_names[i + (detect ? 1 : 0)]);
}

static int validate_det(vt_trainer *t, const vt_scenes *va, int threads, double *map, double *map50) {
    vt_det_eval *e = NULL;
    vitc_model_set_threads(t->m, threads);
    vitc_status st = vt_det_eval_create(t->m->cfg.num_classes, &e);
    if (!st) st = vt_det_evaluate(t->m, va, e);
    vt_det_scores sc = {0};
    if (!st) st = vt_det_eval_scores(e, &sc, NULL, NULL);
    vt_det_eval_free(e);
    if (st) return fail(vitc_last_error());
    *map = sc.map;
    *map50 = sc.map50;
    return 0;
}

static int validate_seg(vt_trainer *t, const vt_scenes *va, int threads, double *miou, double *pacc) {
    int C = t->m->cfg.num_classes;
    int64_t *conf = calloc((size_t)C * C, sizeof *conf);
    if (!conf) return fail("out of memory");
    vitc_model_set_threads(t->m, threads);
    vitc_status st = vt_seg_evaluate(t->m, va, 32, conf);
    vt_seg_scores sc = vt_seg_scores_of(conf, C, NULL);
    free(conf);
    if (st) return fail(vitc_last_error());
    *miou = sc.miou;
    *pacc = sc.pixel_acc;
    return 0;
}

int cmd_train_segment(int argc, char **argv) {
    const char *task = NULL, *data = NULL, *init = NULL, *out = NULL, *resume = NULL, *ckpt = NULL, *decoder = NULL;
    const char *arch = NULL;
    int dim = 0, depth = 0, heads = 0, patch = 0, epochs = 0, batch = 0, seed = 0, threads = 0, limit = 0;
    int val_limit = 0, no_aug = 0, save_every = 0, quiet = 0, max_steps = 0, bf16 = 0;
    int dec_dim = 0, dec_depth = 0, dec_heads = 0, det_tokens = 0, mid_pos = 0;
    float lr = 0, min_lr = -1, wd = -1, warmup = -1, ls = -1, clip = -1, val_frac = -1, ema = 0, drop_path = 0;
    float layer_decay = 0;
    vt_option opts[] = {
        {"task", VT_OPT_STRING, &task, "segment or detect", 0},
        {"data", VT_OPT_STRING, &data, "a scene folder (images/, masks/, annotations.json; vitc scenes)", 0},
        {"init", VT_OPT_STRING, &init, "start the backbone from this model (a classifier of the same architecture)", 0},
        {"arch", VT_OPT_STRING, &arch, "from scratch: a named architecture (default dim 128, depth 6, heads 4, patch 4)", 0},
        {"dim", VT_OPT_INT, &dim, "from scratch: embedding dimension", 0},
        {"depth", VT_OPT_INT, &depth, "from scratch: blocks", 0},
        {"heads", VT_OPT_INT, &heads, "from scratch: attention heads", 0},
        {"patch", VT_OPT_INT, &patch, "from scratch: patch size", 0},
        {"decoder", VT_OPT_STRING, &decoder, "linear (Segmenter's linear decoder; default) or mask (mask transformer)", 0},
        {"dec-dim", VT_OPT_INT, &dec_dim, "mask transformer width (default the backbone's dim)", 0},
        {"dec-depth", VT_OPT_INT, &dec_depth, "mask transformer blocks (default 2)", 0},
        {"dec-heads", VT_OPT_INT, &dec_heads, "mask transformer heads (default dec-dim / 32)", 0},
        {"det-tokens", VT_OPT_INT, &det_tokens, "detection: learned detection tokens (default 20)", 0},
        {"mid-pos", VT_OPT_FLAG, &mid_pos, "detection: YOLOS mid position embeddings", 0},
        {"epochs", VT_OPT_INT, &epochs, "epochs (default 10)", 0},
        {"batch", VT_OPT_INT, &batch, "batch size (default 32)", 0},
        {"lr", VT_OPT_FLOAT, &lr, "peak learning rate (default 1e-3)", 0},
        {"min-lr", VT_OPT_FLOAT, &min_lr, "final learning rate of the cosine (default 1e-5)", 0},
        {"wd", VT_OPT_FLOAT, &wd, "AdamW weight decay (default 0.05)", 0},
        {"warmup", VT_OPT_FLOAT, &warmup, "warm-up epochs (default 1, may be fractional)", 0},
        {"label-smoothing", VT_OPT_FLOAT, &ls, "label smoothing of the per-pixel targets (default 0)", 0},
        {"clip", VT_OPT_FLOAT, &clip, "gradient-norm clipping (default 1; 0 off)", 0},
        {"seed", VT_OPT_INT, &seed, "random seed: initialization, shuffling, flips (default 0)", 0},
        {"threads", VT_OPT_INT, &threads, "threads (default $VITC_NUM_THREADS or all cores)", 0},
        {"no-augment", VT_OPT_FLAG, &no_aug, "no random horizontal flips", 0},
        {"val-split", VT_OPT_FLOAT, &val_frac, "scenes held out of the folder for validation (default 0.1)", 0},
        {"limit", VT_OPT_INT, &limit, "use the first N training scenes", 0},
        {"val-limit", VT_OPT_INT, &val_limit, "validate on the first N held-out scenes", 0},
        {"max-steps", VT_OPT_INT, &max_steps, "stop after this many steps in this run (testing resume)", 0},
        {"out", VT_OPT_STRING, &out, "the trained model (.safetensors), written after every epoch", 0},
        {"ckpt", VT_OPT_STRING, &ckpt, "checkpoint with optimizer state (default OUT with .ckpt.safetensors)", 0},
        {"save-every", VT_OPT_INT, &save_every, "also checkpoint every N steps", 0},
        {"resume", VT_OPT_STRING, &resume, "continue the run saved in this checkpoint", 0},
        {"quiet", VT_OPT_FLAG, &quiet, "no progress line", 0},
        {"bf16", VT_OPT_FLAG, &bf16, "bfloat16 matrix products with float sums (CPUs with AVX512-BF16)", 0},
        {"drop-path", VT_OPT_FLOAT, &drop_path, "stochastic depth in the backbone: the last block's rate", 0},
        {"layer-decay", VT_OPT_FLOAT, &layer_decay, "layer-wise lr decay of the backbone (fine-tuning; e.g. 0.75)", 0},
        {"ema", VT_OPT_FLOAT, &ema, "keep an EMA of the weights with this decay; --out gets the EMA", 0},
    };
    vt_cli_passive_omp(argv - 1);
    int n_opts = (int)(sizeof opts / sizeof opts[0]);
    int npos;
    int r = vt_parse_args("train", "vitc train --task segment|detect --data SCENES_DIR [--init MODEL | --arch NAME] "
                                   "[--decoder linear|mask | --det-tokens N [--mid-pos]] [--epochs --batch --lr ...] "
                                   "--out MODEL [--resume CKPT]",
                          argc, argv, opts, n_opts, NULL, 0, &npos);
    if (r) return r == 1 ? 0 : 2;
#define BAD(...) return fprintf(stderr, "vitc train: " __VA_ARGS__), fprintf(stderr, "\n"), 2
    int detect = task && !strcmp(task, "detect");
    if (!out) BAD("--out MODEL is required");
    if (detect && (decoder || dec_dim || dec_depth || dec_heads)) BAD("--decoder and --dec-* are segmentation options");
    if (!detect && (det_tokens || mid_pos)) BAD("--det-tokens and --mid-pos are detection options (--task detect)");
    if (det_tokens < 0 || det_tokens > 1000) BAD("--det-tokens must be in 1..1000");
    if (vt_opt_seen(opts, n_opts, "threads") && threads <= 0) BAD("--threads must be positive");
    if ((vt_opt_seen(opts, n_opts, "epochs") && epochs <= 0) || (vt_opt_seen(opts, n_opts, "batch") && batch <= 0))
        BAD("--epochs and --batch must be positive");
    if (vt_opt_seen(opts, n_opts, "lr") && !(lr > 0)) BAD("--lr must be positive");
    if (vt_opt_seen(opts, n_opts, "val-split") && !(val_frac > 0 && val_frac < 1)) BAD("--val-split must be in (0, 1)");
    if (decoder && strcmp(decoder, "linear") && strcmp(decoder, "mask")) BAD("--decoder must be linear or mask");
    if ((dec_dim < 0 || dec_depth < 0 || dec_heads < 0)) BAD("--dec-dim, --dec-depth and --dec-heads must be positive");
    if (ema != 0 && !(ema > 0 && ema < 1)) BAD("--ema must be in (0, 1)");
    if (!(drop_path >= 0 && drop_path < 1)) BAD("--drop-path must be in [0, 1)");
    if (vt_opt_seen(opts, n_opts, "layer-decay") && !(layer_decay > 0 && layer_decay <= 1))
        BAD("--layer-decay must be in (0, 1]");
    if (resume && (init || arch || decoder || det_tokens || mid_pos || vt_opt_seen(opts, n_opts, "val-split") ||
                   drop_path > 0 || vt_opt_seen(opts, n_opts, "layer-decay")))
        BAD("--resume continues a run: no --init, --arch, --decoder, --det-tokens, --mid-pos, --val-split, --drop-path "
            "or --layer-decay");
    if (init && arch) BAD("--init and --arch: give one");
#undef BAD

    char ckpt_buf[4200];
    if (!ckpt) ckpt = vt_cli_ckpt_path(out, ckpt_buf, sizeof ckpt_buf);
    if (threads) vt_set_threads(threads);
    threads = vt_get_threads();

    vt_trainer *t = NULL;
    vitc_model *init_m = NULL;
    vt_scenes tr = {0}, va = {0};
    char *train_json = NULL, data_buf[4096];
    vt_json *tj = NULL;
    int augment = !no_aug, rc = 0;
    if (resume) {
        if (vt_trainer_resume(resume, threads, &t, &train_json)) return fail(vitc_last_error());
        char err[128];
        tj = vt_json_parse(train_json, strlen(train_json), err, sizeof err);
        const char *want = detect ? "detect" : "segment";
        if (t->m->cfg.task != (detect ? VT_TASK_DETECT : VT_TASK_SEGMENT) || strcmp(vt_json_get_string(tj, "task", ""), want)) {
            fprintf(stderr, "vitc train: the checkpoint is not a %s run (resume it with its own --task)\n",
                    detect ? "detection" : "segmentation");
            rc = 1;
            goto done;
        }
        if (!data) {
            snprintf(data_buf, sizeof data_buf, "%s", vt_json_get_string(tj, "data", ""));
            data = data_buf;
        }
        if (!vt_opt_seen(opts, n_opts, "epochs")) epochs = (int)vt_json_get_number(tj, "epochs", 10);
        batch = (int)vt_json_get_number(tj, "batch", 32);
        seed = (int)vt_json_get_number(tj, "seed", 0);
        limit = (int)vt_json_get_number(tj, "limit", 0);
        if (!vt_opt_seen(opts, n_opts, "val-limit")) val_limit = (int)vt_json_get_number(tj, "val_limit", 0);
        val_frac = (float)vt_json_get_number(tj, "val_fraction", 0.1);
        augment = vt_json_get_bool(tj, "augment", 1);
        bf16 = bf16 || vt_json_get_bool(tj, "bf16", 0);
    } else {
        if (!epochs) epochs = 10;
        if (!batch) batch = 32;
        if (val_frac < 0) val_frac = 0.1f;
    }
    if (!data || !*data) {
        rc = 2;
        fprintf(stderr, "vitc train: --data SCENES_DIR is required\n");
        goto done;
    }

    if (vt_scenes_open(data, VT_SPLIT_TRAIN, val_frac, &tr) || vt_scenes_open(data, VT_SPLIT_VAL, val_frac, &va)) {
        rc = fail(vitc_last_error());
        goto done;
    }
    vt_scenes_truncate(&tr, limit);
    vt_scenes_truncate(&va, val_limit);
    if (detect && !tr.n_boxes) {
        rc = fail("the training scenes' annotations.json has no boxes to detect");
        goto done;
    }
    if (tr.h != tr.w) {
        rc = fail("training scenes must be square");
        goto done;
    }
    if (!t) {
        vt_vit_config c;
        if (init) {
            vitc_load_params lp = vitc_load_default_params();
            if (vitc_model_load(init, &lp, &init_m) || vt_model_need_float(init_m, init)) {
                rc = fail(vitc_last_error());
                goto done;
            }
            c = init_m->cfg;
        } else if (arch) {
            if (vt_config_from_name(arch, &c)) {
                rc = 2;
                fprintf(stderr, "vitc train: unknown architecture '%s'\n", arch);
                goto done;
            }
        } else {
            vt_config_defaults(&c);
            c.dim = 128, c.depth = 6, c.heads = 4, c.patch = 4, c.mlp_dim = 512;
            snprintf(c.name, sizeof c.name, "vit_seg_scenes");
        }
        if (!init) {
            if (dim) c.dim = dim, c.mlp_dim = 4 * dim;
            if (depth) c.depth = depth;
            if (heads) c.heads = heads;
            if (patch) c.patch = patch;
        }
        /* the backbone's tokens go through its final norm to the decoder */
        c.fc_norm = 0;
        c.pool = c.class_token ? VITC_POOL_TOKEN : VITC_POOL_AVG;
        c.dist_token = c.dist_average = 0;
        c.task = detect ? VT_TASK_DETECT : VT_TASK_SEGMENT;
        c.seg_decoder = decoder && !strcmp(decoder, "mask") ? VT_SEG_MASK : VT_SEG_LINEAR;
        c.dec_dim = c.dec_depth = c.dec_heads = 0;
        c.det_tokens = detect ? (det_tokens ? det_tokens : 20) : 0;
        c.mid_pos = detect && mid_pos;
        if (detect) c.class_token = 1, c.pool = VITC_POOL_TOKEN, c.no_embed_class = 0;
        if (!detect && c.seg_decoder == VT_SEG_MASK) {
            c.dec_dim = dec_dim ? dec_dim : c.dim;
            c.dec_depth = dec_depth ? dec_depth : 2;
            c.dec_heads = dec_heads ? dec_heads : (c.dec_dim / 32 > 0 ? c.dec_dim / 32 : 1);
        }
        c.num_classes = tr.num_classes - (detect ? 1 : 0); /* detection: the categories, no background */
        c.img_size = tr.h;
        c.in_chans = 3;
        if (init_m && init_m->cfg.dist_token) {
            rc = fail("--init: a distilled model's backbone (distillation token) is not supported for dense tasks");
            goto done;
        }
        if (vt_config_validate(&c, detect ? "detection model" : "segmentation model")) {
            rc = fail(vitc_last_error());
            goto done;
        }
        vitc_model *m;
        if (init_m ? vt_model_adapt(init_m, &c, (uint64_t)seed, &m) : vt_model_new(&c, &m)) {
            rc = fail(vitc_last_error());
            goto done;
        }
        if (!init_m) {
            vt_model_init_random(m, (uint64_t)seed, 1.0f);
            m->pre = vitc_preprocess_default_params();
            /* the scenes' own statistics */
            double sum = 0, sq = 0;
            size_t np = (size_t)tr.n * tr.h * tr.w * tr.c;
            for (size_t i = 0; i < np; i++) sum += tr.pixels[i] / 255.0, sq += (tr.pixels[i] / 255.0) * (tr.pixels[i] / 255.0);
            double mu = sum / (double)np, var = sq / (double)np - mu * mu;
            for (int k = 0; k < 3; k++) m->pre.mean[k] = (float)mu, m->pre.std[k] = (float)sqrt(var > 1e-6 ? var : 1e-6);
        }
        m->pre.size = tr.h;
        m->pre.crop_pct = 1.0f;
        m->pre.squash = 0;
        set_scene_labels(m, &tr, detect);
        int spe = tr.n / batch;
        if (spe < 1) {
            vitc_model_free(m);
            rc = fail("fewer training scenes than one batch");
            goto done;
        }
        vt_train_hparams hp = vt_train_default_hparams();
        if (lr > 0) hp.lr = lr;
        if (min_lr >= 0) hp.min_lr = min_lr;
        if (wd >= 0) hp.weight_decay = wd;
        hp.label_smoothing = ls >= 0 ? ls : 0.0f;
        if (clip >= 0) hp.clip = clip;
        hp.ema_decay = ema;
        hp.drop_path = drop_path;
        hp.layer_decay = layer_decay < 1 ? layer_decay : 0;
        hp.seed = (uint64_t)(int64_t)seed;
        hp.warmup_steps = (int64_t)llround((warmup >= 0 ? warmup : 1.0f) * spe);
        hp.total_steps = (int64_t)epochs * spe;
        if (vt_trainer_new(m, &hp, threads, &t)) {
            vitc_model_free(m);
            rc = fail(vitc_last_error());
            goto done;
        }
    }
    if (resume && ema > 0 && (t->ema ? (t->hp.ema_decay = ema, 0) : vt_trainer_start_ema(t, ema))) {
        rc = fail(vitc_last_error());
        goto done;
    }
    if (vt_tr_set_bf16(bf16)) {
        rc = fail("--bf16 needs AVX-512 kernels on a CPU with AVX512-BF16");
        goto done;
    }
    const vt_vit_config *c = &t->m->cfg;
    if (tr.num_classes - (detect ? 1 : 0) > c->num_classes || tr.h != c->img_size) {
        rc = fail("the scenes do not fit the checkpoint's model (classes or image size)");
        goto done;
    }
    int spe = tr.n / batch;
    if (spe < 1) {
        rc = fail("fewer training scenes than one batch");
        goto done;
    }
    /* several processes (vitc-mpi): each trains a contiguous shard of every global batch */
    int NP = vt_dist_size(), RK = vt_dist_rank(), nb, off;
    if ((rc = vt_dist_shard("vitc train", batch, &nb, &off))) goto done;
    if (RK) quiet = 1; /* rank 0 alone reports */
    t->image_offset = off;
    if (NP > 1) vt_trainer_on_grad_ready(t, vt_dist_sum_ready, NULL); /* each block's sums start at once */
    t->hp.total_steps = (int64_t)epochs * spe;
    int64_t total = t->hp.total_steps;
    int S = c->img_size;
    if (detect)
        printf("training %s for detection (YOLOS: %d detection tokens%s", c->name, c->det_tokens,
               c->mid_pos ? ", mid position embeddings" : "");
    else
        printf("training %s for segmentation (%s", c->name, c->seg_decoder == VT_SEG_MASK ? "mask transformer" : "linear decoder");
    if (!detect && c->seg_decoder == VT_SEG_MASK) printf(": dim %d, depth %d, heads %d", c->dec_dim, c->dec_depth, c->dec_heads);
    printf("): dim %d, depth %d, heads %d, patch %d, %dx%d, %.2f M parameters, %s kernels%s, %d threads\n", c->dim,
           c->depth, c->heads, c->patch, S, S, (double)vt_config_num_params(c) / 1e6, vt_kernels_name(),
           bf16 ? " (bfloat16 products)" : "", threads);
    printf("data %s: %d training, %d validation scenes (held out of the folder), %d classes; %d epochs of %d steps "
           "(batch %d)%s\n", data, tr.n, va.n, tr.num_classes, epochs, spe, batch, augment ? ", flips" : "");
    if (t->ema) printf("weights' EMA with decay %g: written to %s\n", (double)t->hp.ema_decay, out);
    if (resume) printf("resuming %s at step %lld\n", resume, (long long)t->step);
    if (NP > 1) printf("data-parallel: %d processes, %d scenes of each batch of %d per process\n", NP, nb, batch);
    fflush(stdout);
    seg_meta meta = {epochs, batch, seed, limit, val_limit, augment, bf16, val_frac, data, detect};

    size_t HW = (size_t)S * S;
    int *order = malloc(sizeof(int) * (size_t)tr.n);
    float *x = malloc(sizeof(float) * 3 * HW * (size_t)batch);
    uint8_t *mk = malloc(HW * (size_t)batch);
    int Q = c->det_tokens, *n_t = malloc(sizeof(int) * (size_t)batch), *t_cls = malloc(sizeof(int) * ((size_t)batch * Q + 1));
    float *t_box = malloc(sizeof(float) * 4 * ((size_t)batch * Q + 1));
    box_index bx = {0};
    if (detect && index_boxes(&tr, &bx)) {
        rc = fail("out of memory");
        goto loop_done;
    }
    if (!order || !x || !mk || !n_t || !t_cls || !t_box) {
        rc = fail("out of memory");
        goto loop_done;
    }
    int tty = isatty(2) && !quiet;
    double t_start = vt_cli_now();
    int64_t steps_this_run = 0;
    for (int epoch = (int)(t->step / spe); epoch < epochs && !rc; epoch++) {
        vt_epoch_order(tr.n, (uint64_t)seed, epoch, order);
        int b = (int)(t->step - (int64_t)epoch * spe);
        double ep_loss = 0.0, ep_parts[3] = {0, 0, 0}, t_ep = vt_cli_now();
        int ep_n = 0;
        for (; b < spe; b++) {
            vt_dist_test_hook(t->step);
            const int *bidx = order + (size_t)b * batch + off;
            scene_batch(&tr, bidx, nb, t->m->pre.mean, t->m->pre.std, augment, (uint64_t)seed,
                        epoch, x, mk);
            double loss;
            if (detect) {
                if (scene_targets(&tr, &bx, bidx, nb, augment, (uint64_t)seed, epoch, Q, n_t, t_cls, t_box)) {
                    rc = fail("a training scene has more objects than the model has detection tokens");
                    if (NP > 1) vt_dist_abort(rc);
                    break;
                }
                if (NP > 1) { /* the loss is normalized by the global batch's boxes: the shards' parts add up */
                    double boxes = 0;
                    for (int i = 0; i < nb; i++) boxes += n_t[i];
                    vt_dist_sum_doubles(&boxes, 1);
                    t->det_norm_images = batch, t->det_norm_boxes = (int)boxes;
                }
                vt_detr_losses dl;
                vt_dist_sum_begin(t->grad, t->numel, 1.0f); /* the blocks' sums overlap the backward pass */
                if (vt_trainer_forward_backward_det(t, x, nb, n_t, t_cls, t_box, &dl, NULL, NULL)) {
                    rc = fail(vitc_last_error());
                    if (NP > 1) vt_dist_abort(rc);
                    break;
                }
                if (NP > 1) {
                    vt_dist_sum_end();
                    double v[4] = {dl.total, dl.ce, dl.l1, dl.giou};
                    vt_dist_sum_doubles(v, 4);
                    dl.total = v[0], dl.ce = v[1], dl.l1 = v[2], dl.giou = v[3];
                }
                loss = dl.total;
                ep_parts[0] += dl.ce, ep_parts[1] += dl.l1, ep_parts[2] += dl.giou;
            } else {
                double w = 1.0; /* the mean over the global batch's counted pixels: each shard weighted by its share */
                if (NP > 1) {
                    double cnt[2] = {0, 0};
                    for (size_t i = 0; i < HW * (size_t)nb; i++) cnt[0] += mk[i] != 255;
                    cnt[1] = cnt[0];
                    vt_dist_sum_doubles(cnt + 1, 1);
                    w = cnt[1] > 0 ? cnt[0] / cnt[1] : 0.0;
                }
                vt_dist_sum_begin(t->grad, t->numel, (float)w); /* the blocks' sums overlap the backward pass */
                if (vt_trainer_forward_backward_seg(t, x, mk, nb, &loss, NULL)) {
                    rc = fail(vitc_last_error());
                    if (NP > 1) vt_dist_abort(rc);
                    break;
                }
                if (NP > 1) {
                    vt_dist_sum_end();
                    double v = loss * w;
                    vt_dist_sum_doubles(&v, 1);
                    loss = v;
                }
            }
            if (!isfinite(loss)) {
                rc = RK ? 1 : fail("the loss is not finite (try a lower --lr)");
                break;
            }
            vt_trainer_update(t);
            steps_this_run++;
            ep_loss += loss;
            ep_n++;
            double ips = steps_this_run * (double)batch / (vt_cli_now() - t_start);
            if (!quiet && (tty || t->step % 50 == 0 || b + 1 == spe)) {
                char eta[32];
                vt_cli_fmt_time(eta, sizeof eta, (double)(total - t->step) * batch / ips);
                char parts[96] = "";
                if (detect)
                    snprintf(parts, sizeof parts, " (ce %.4f, l1 %.4f, giou %.4f)", ep_parts[0] / ep_n, ep_parts[1] / ep_n,
                             ep_parts[2] / ep_n);
                fprintf(stderr, "%sepoch %d/%d  step %lld/%lld  loss %.4f%s  lr %.2e  %.1f img/s  ETA %s%s",
                        tty ? "\r" : "", epoch + 1, epochs, (long long)t->step, (long long)total, ep_loss / ep_n, parts,
                        (double)t->last_lr, ips, eta, tty ? "   " : "\n");
                fflush(stderr);
            }
            if (save_every > 0 && t->step % save_every == 0 && b + 1 < spe) {
                if (RK == 0) { /* rank 0 writes; the others wait for its outcome */
                    vt_strbuf sb = {0};
                    seg_meta_json(&sb, &meta, epoch, -1.0);
                    vt_dist_hold_signals(1);
                    if (vt_trainer_save(t, ckpt, sb.data)) rc = fail(vitc_last_error());
                    vt_dist_hold_signals(0);
                    vt_strbuf_free(&sb);
                }
                if (NP > 1) rc = vt_dist_agree(rc);
            }
            if (max_steps > 0 && steps_this_run >= max_steps) break;
        }
        if (rc || (max_steps > 0 && steps_this_run >= max_steps && b + 1 < spe)) break;
        if (tty) fprintf(stderr, "\n");
        /* segmentation: mIoU and pixel accuracy; detection: mAP@[.5:.95] and mAP@0.5 */
        double miou = -1, pacc = 0, ema_miou = -1, ema_pacc = 0;
        if (RK == 0 && va.n && (detect ? validate_det(t, &va, threads, &miou, &pacc) : validate_seg(t, &va, threads, &miou, &pacc)))
            rc = 1;
        if (!rc && t->ema && RK == 0) {
            vt_trainer_swap_ema(t);
            if (va.n && (detect ? validate_det(t, &va, threads, &ema_miou, &ema_pacc)
                                : validate_seg(t, &va, threads, &ema_miou, &ema_pacc)))
                rc = 1;
            if (!rc && vt_model_save(t->m, out)) rc = fail(vitc_last_error());
            vt_trainer_swap_ema(t);
        }
        if (rc && NP > 1) vt_dist_abort(rc); /* rank 0 alone validates */
        if (rc) break;
        printf("epoch %d/%d: train loss %.4f", epoch + 1, epochs, ep_n ? ep_loss / ep_n : 0.0);
        if (detect && ep_n)
            printf(" (ce %.4f, l1 %.4f, giou %.4f)", ep_parts[0] / ep_n, ep_parts[1] / ep_n, ep_parts[2] / ep_n);
        if (va.n && detect) printf(", val mAP %.4f, mAP@0.5 %.4f (%d scenes)", miou, pacc, va.n);
        else if (va.n) printf(", val mIoU %.4f, pixel accuracy %.4f (%d scenes)", miou, pacc, va.n);
        if (t->ema && va.n) printf(detect ? ", EMA mAP %.4f, mAP@0.5 %.4f" : ", EMA mIoU %.4f", ema_miou, ema_pacc);
        printf(", %.0f s\n", vt_cli_now() - t_ep);
        fflush(stdout);
        if (RK == 0) {
            vt_strbuf sb = {0};
            seg_meta_json(&sb, &meta, epoch + 1, t->ema ? ema_miou : miou);
            vt_dist_hold_signals(1);
            if (vt_trainer_save(t, ckpt, sb.data) || (!t->ema && vt_model_save(t->m, out))) rc = fail(vitc_last_error());
            vt_dist_hold_signals(0);
            vt_strbuf_free(&sb);
        }
        if (NP > 1 && (rc = vt_dist_agree(rc))) break;
        if (max_steps > 0 && steps_this_run >= max_steps) break;
    }
    if (!rc) printf("saved %s (checkpoint %s)\n", out, ckpt);
loop_done:
    free(order);
    free(x);
    free(mk);
    free(n_t), free(t_cls), free(t_box);
    free_box_index(&bx);
done:
    rc = vt_dist_start(rc); /* a process that failed before the loop meets the others' agreement */
    vt_scenes_free(&tr);
    vt_scenes_free(&va);
    vitc_model_free(init_m);
    vt_trainer_free(t);
    free(train_json);
    vt_json_free(tj);
    return rc;
}
