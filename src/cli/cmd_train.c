/* vitc train: trains a ViT classifier on MNIST, Fashion-MNIST or an image folder, from scratch or
 * from a checkpoint, with a validation pass per epoch, checkpoints that resume exactly, and a
 * final model file that `vitc classify` and `vitc eval` use directly. */
#include "cli/commands.h"
#include "cli/args.h"
#include "cli/cli_util.h"
#include "cli/dist.h"
#include "core/error.h"
#include "core/json.h"
#include "kernels/kernels.h"
#include "train/data.h"
#include "train/distill.h"
#include "train/train.h"
#include "train/train_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void set_labels(vitc_model *m, const vt_dataset *d) {
    for (int i = 0; i < m->n_labels; i++) free(m->labels[i]);
    free(m->labels);
    m->labels = calloc((size_t)d->num_classes, sizeof *m->labels);
    m->n_labels = m->labels ? d->num_classes : 0;
    for (int i = 0; i < m->n_labels; i++) m->labels[i] = strdup(d->class_names[i]);
}

/* What a checkpoint records of the run beside the trainer's own state, so that --resume goes on
 * with the same data, batches and augmentation. */
typedef struct run_meta {
    int epochs, batch, seed, limit, val_limit, val_every, bf16;
    float val_frac;
    vt_augment aug;
    vt_mix mix;
    const char *data;
    const char *teacher; /* NULL: no distillation */
    vt_distill_kind distill;
    float distill_alpha;
    int teacher_offline;
} run_meta;

/* The checkpoint's "vitc.train" members; val_acc < 0 leaves the validation accuracy out (a
 * checkpoint in the middle of an epoch). */
static void run_meta_json(vt_strbuf *sb, const run_meta *r, int epoch, double val_acc) {
    char buf[1024];
    int k = snprintf(buf, sizeof buf,
                     "\"epoch\":%d,\"epochs\":%d,\"batch\":%d,\"seed\":%d,\"limit\":%d,\"val_limit\":%d,\"val_every\":%d,"
                     "\"val_fraction\":%.9g,"
                     "\"augment\":%s,\"pad\":%d,\"rrc_scale\":%.9g,\"erase\":%.9g,\"mixup\":%.9g,\"cutmix\":%.9g,\"mix_prob\":%.9g,\"bf16\":%s,",
                     epoch, r->epochs, r->batch, r->seed, r->limit, r->val_limit, r->val_every, (double)r->val_frac,
                     r->aug.enabled ? "true" : "false", r->aug.pad, (double)r->aug.rrc_scale, (double)r->aug.erase_p, (double)r->mix.mixup_alpha,
                     (double)r->mix.cutmix_alpha, (double)r->mix.prob, r->bf16 ? "true" : "false");
    if (val_acc >= 0) k += snprintf(buf + k, sizeof buf - (size_t)k, "\"val_accuracy\":%.6f,", val_acc);
    vt_strbuf_append(sb, buf, strlen(buf));
    if (r->teacher) {
        k = snprintf(buf, sizeof buf, "\"distill\":\"%s\",\"distill_alpha\":%.9g,\"teacher_offline\":%s,\"teacher\":",
                     r->distill == VT_DISTILL_HARD ? "hard" : "soft", (double)r->distill_alpha,
                     r->teacher_offline ? "true" : "false");
        vt_strbuf_append(sb, buf, (size_t)k);
        vt_strbuf_json_string(sb, r->teacher);
        vt_strbuf_append(sb, ",", 1);
    }
    vt_strbuf_append(sb, "\"data\":", 7);
    vt_strbuf_json_string(sb, r->data);
}

static int fail(const char *msg) {
    vt_dist_error("vitc train", msg);
    return 1;
}

static int train_main(int argc, char **argv);

/* build/vitc-mpi under mpirun: data-parallel (dist.h); build/vitc: one process */
int cmd_train(int argc, char **argv) {
    vt_cli_passive_omp(argv - 1); /* it may re-execute the program: before MPI starts */
    vt_dist_init(&argc, &argv);
    int rc = train_main(argc, argv);
    vt_dist_finalize();
    return rc;
}

static int train_main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* segmentation runs have a loop of their own (cmd_train_seg.c) */
        if (!strncmp(argv[i], "--task", 6)) {
            const char *v = argv[i][6] == '=' ? argv[i] + 7 : argv[i][6] ? "" : i + 1 < argc ? argv[i + 1] : "";
            if (!strcmp(v, "segment") || !strcmp(v, "detect")) return cmd_train_segment(argc, argv);
            if (strcmp(v, "classify"))
                return fprintf(stderr, "vitc train: --task must be classify, segment or detect\n"), 2;
        }
    const char *data = NULL, *arch = NULL, *init = NULL, *out = NULL, *resume = NULL, *ckpt = NULL, *pool = NULL;
    const char *teacher = NULL, *distill = NULL;
    int dim = 0, depth = 0, heads = 0, patch = 0, img = 0, mlp = 0, regs = 0, epochs = 0, batch = 0, seed = 0;
    int threads = 0, limit = 0, val_limit = 0, no_aug = 0, pad = -1, save_every = 0, quiet = 0, max_steps = 0;
    int bf16 = 0, val_every = 0, dist_token = 0, teacher_offline = 0, patch_kernel = 0;
    float lr = 0, min_lr = -1, wd = -1, warmup = -1, ls = -1, clip = -1, val_frac = -1, erase = -1, ls_init = 0;
    float rrc_scale = -1, ema = 0, mixup = -1, cutmix = -1, mix_prob = -1, drop_path = 0, distill_alpha = -1, layer_decay = 0, sam = 0;
    const char *task = NULL;
    vt_option opts[] = {
        {"task", VT_OPT_STRING, &task, "classify (default) or segment (vitc train --task segment --help)", 0},
        {"data", VT_OPT_STRING, &data, "mnist, fashion-mnist, an IDX folder or an image folder (class sub-folders)", 0},
        {"arch", VT_OPT_STRING, &arch, "named architecture (default: dim 192, depth 6, heads 3, patch 4)", 0},
        {"dim", VT_OPT_INT, &dim, "embedding dimension", 0},
        {"depth", VT_OPT_INT, &depth, "blocks", 0},
        {"heads", VT_OPT_INT, &heads, "attention heads", 0},
        {"mlp-dim", VT_OPT_INT, &mlp, "MLP hidden size (default 4 x dim)", 0},
        {"patch", VT_OPT_INT, &patch, "patch size", 0},
        {"patch-kernel", VT_OPT_INT, &patch_kernel, "overlapping patches: kernel K > patch (K - patch even), zero-padded", 0},
        {"img-size", VT_OPT_INT, &img, "training image size (default: the data's, 224 for folders)", 0},
        {"reg-tokens", VT_OPT_INT, &regs, "register tokens", 0},
        {"pool", VT_OPT_STRING, &pool, "token or avg (avg uses fc_norm)", 0},
        {"dist-token", VT_OPT_FLAG, &dist_token, "a distillation token and head (DeiT; for --teacher)", 0},
        {"layer-scale", VT_OPT_FLOAT, &ls_init, "LayerScale with this initial gamma (default off)", 0},
        {"init", VT_OPT_STRING, &init, "start from this checkpoint (timm, HF or vitc); new head if classes differ", 0},
        {"epochs", VT_OPT_INT, &epochs, "epochs (default 10)", 0},
        {"batch", VT_OPT_INT, &batch, "batch size (default 128)", 0},
        {"lr", VT_OPT_FLOAT, &lr, "peak learning rate (default 1e-3)", 0},
        {"min-lr", VT_OPT_FLOAT, &min_lr, "final learning rate of the cosine (default 1e-5)", 0},
        {"wd", VT_OPT_FLOAT, &wd, "AdamW weight decay (default 0.05)", 0},
        {"warmup", VT_OPT_FLOAT, &warmup, "warm-up epochs (default 1, may be fractional)", 0},
        {"label-smoothing", VT_OPT_FLOAT, &ls, "label smoothing (default 0.1)", 0},
        {"clip", VT_OPT_FLOAT, &clip, "gradient-norm clipping (default 1; 0 off)", 0},
        {"seed", VT_OPT_INT, &seed, "random seed: initialization, shuffling, augmentation (default 0)", 0},
        {"threads", VT_OPT_INT, &threads, "threads (default $VITC_NUM_THREADS or all cores)", 0},
        {"no-augment", VT_OPT_FLAG, &no_aug, "no random crop / flip / erasing", 0},
        {"pad", VT_OPT_INT, &pad, "random-crop padding in pixels (default size/7; MNIST, Fashion-MNIST)", 0},
        {"rrc-scale", VT_OPT_FLOAT, &rrc_scale, "random-resized crops of this much of the area and more (image folders: 0.08; 0: off)", 0},
        {"erase", VT_OPT_FLOAT, &erase, "random erasing probability (default 0.25)", 0},
        {"val-split", VT_OPT_FLOAT, &val_frac,
         "training images held out for validation (folders: default 0.1; MNIST, Fashion-MNIST: none, the test set)", 0},
        {"limit", VT_OPT_INT, &limit, "use the first N training images", 0},
        {"val-limit", VT_OPT_INT, &val_limit, "validate on the first N images", 0},
        {"val-every", VT_OPT_INT, &val_every, "validate every N epochs and after the last (default 1)", 0},
        {"max-steps", VT_OPT_INT, &max_steps, "stop after this many steps in this run (testing resume)", 0},
        {"out", VT_OPT_STRING, &out, "the trained model (.safetensors), written after every epoch", 0},
        {"ckpt", VT_OPT_STRING, &ckpt, "checkpoint with optimizer state (default OUT with .ckpt.safetensors)", 0},
        {"save-every", VT_OPT_INT, &save_every, "also checkpoint every N steps", 0},
        {"resume", VT_OPT_STRING, &resume, "continue the run saved in this checkpoint", 0},
        {"quiet", VT_OPT_FLAG, &quiet, "no progress line", 0},
        {"bf16", VT_OPT_FLAG, &bf16, "bfloat16 matrix products with float sums (CPUs with AVX512-BF16)", 0},
        {"drop-path", VT_OPT_FLOAT, &drop_path, "stochastic depth: the last block's drop rate (e.g. 0.1; default 0)", 0},
        {"sam", VT_OPT_FLOAT, &sam, "sharpness-aware minimization with this radius (e.g. 0.05; twice the compute)", 0},
        {"layer-decay", VT_OPT_FLOAT, &layer_decay, "layer-wise lr decay for fine-tuning (e.g. 0.75; default off)", 0},
        {"ema", VT_OPT_FLOAT, &ema, "keep an EMA of the weights with this decay (e.g. 0.9998); --out gets the EMA", 0},
        {"mixup", VT_OPT_FLOAT, &mixup, "mixup with lam ~ Beta(A, A) (e.g. 0.8; default off)", 0},
        {"cutmix", VT_OPT_FLOAT, &cutmix, "CutMix with lam ~ Beta(A, A) (e.g. 1.0; default off); with --mixup: half each", 0},
        {"mix-prob", VT_OPT_FLOAT, &mix_prob, "fraction of batches mixed by --mixup / --cutmix (default 1)", 0},
        {"teacher", VT_OPT_STRING, &teacher, "distill from these models (files separated by commas; DeiT)", 0},
        {"distill", VT_OPT_STRING, &distill, "soft (the teachers' probabilities; default) or hard (their arg max)", 0},
        {"distill-alpha", VT_OPT_FLOAT, &distill_alpha,
         "students without a distillation token: the teachers' share of the target (default 0.5)", 0},
        {"teacher-offline", VT_OPT_FLAG, &teacher_offline,
         "the teachers label each training image once, unaugmented, before training (no cost per step)", 0},
    };
    vt_cli_passive_omp(argv - 1); /* argv[-1]: the program, as main received it */
    int n_opts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos;
    int r = vt_parse_args("train", "vitc train --data mnist|fashion-mnist|DIR [--arch NAME | --dim --depth --heads "
                                   "--patch --img-size] [--init CKPT] [--epochs --batch --lr --wd --warmup "
                                   "--label-smoothing --seed --threads] --out MODEL [--resume CKPT]",
                          argc, argv, opts, n_opts, pos, 0, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (!out) return fprintf(stderr, "vitc train: --out MODEL is required\n"), 2;
    if (vt_opt_seen(opts, n_opts, "val-every") && val_every <= 0) return fprintf(stderr, "vitc train: --val-every must be positive\n"), 2;
    if (vt_opt_seen(opts, n_opts, "threads") && threads <= 0) return fprintf(stderr, "vitc train: --threads must be positive\n"), 2;
    if ((vt_opt_seen(opts, n_opts, "epochs") && epochs <= 0) || (vt_opt_seen(opts, n_opts, "batch") && batch <= 0))
        return fprintf(stderr, "vitc train: --epochs and --batch must be positive\n"), 2;
    if (vt_opt_seen(opts, n_opts, "patch-kernel") && patch_kernel <= 0)
        return fprintf(stderr, "vitc train: --patch-kernel must be positive\n"), 2;
    if (vt_opt_seen(opts, n_opts, "lr") && !(lr > 0)) return fprintf(stderr, "vitc train: --lr must be positive\n"), 2;
    if (vt_opt_seen(opts, n_opts, "val-split") && !(val_frac > 0 && val_frac < 1))
        return fprintf(stderr, "vitc train: --val-split must be in (0, 1)\n"), 2;
    if (resume && vt_opt_seen(opts, n_opts, "val-split"))
        return fprintf(stderr, "vitc train: --val-split is part of the run's recipe: not with --resume\n"), 2;
    if (resume && (init || arch)) return fprintf(stderr, "vitc train: --resume continues a run: no --init or --arch\n"), 2;
    if (ema != 0 && !(ema > 0 && ema < 1)) return fprintf(stderr, "vitc train: --ema must be in (0, 1)\n"), 2;
    if (!(drop_path >= 0 && drop_path < 1)) return fprintf(stderr, "vitc train: --drop-path must be in [0, 1)\n"), 2;
    if (vt_opt_seen(opts, n_opts, "rrc-scale") && !(rrc_scale >= 0 && rrc_scale <= 1))
        return fprintf(stderr, "vitc train: --rrc-scale must be in [0, 1]\n"), 2;
    if (vt_opt_seen(opts, n_opts, "rrc-scale") && rrc_scale > 0 && vt_opt_seen(opts, n_opts, "pad"))
        return fprintf(stderr, "vitc train: --pad and --rrc-scale are two kinds of crop: give one\n"), 2;
    if (resume && (vt_opt_seen(opts, n_opts, "rrc-scale") || vt_opt_seen(opts, n_opts, "pad")))
        return fprintf(stderr, "vitc train: the crops are part of the run's recipe: not with --resume\n"), 2;
    if (vt_opt_seen(opts, n_opts, "sam") && !(sam >= 0 && sam <= 10))
        return fprintf(stderr, "vitc train: --sam must be in [0, 10]\n"), 2;
    if (resume && vt_opt_seen(opts, n_opts, "sam"))
        return fprintf(stderr, "vitc train: --sam is part of the run's recipe: not with --resume\n"), 2;
    if (vt_opt_seen(opts, n_opts, "layer-decay") && !(layer_decay > 0 && layer_decay <= 1))
        return fprintf(stderr, "vitc train: --layer-decay must be in (0, 1]\n"), 2;
    if (resume && vt_opt_seen(opts, n_opts, "layer-decay"))
        return fprintf(stderr, "vitc train: --layer-decay is part of the run's recipe: not with --resume\n"), 2;
    if (resume && drop_path > 0)
        return fprintf(stderr, "vitc train: --drop-path is part of the run's recipe: not with --resume\n"), 2;
    if ((vt_opt_seen(opts, n_opts, "mixup") && !(mixup >= 0 && mixup <= 100)) ||
        (vt_opt_seen(opts, n_opts, "cutmix") && !(cutmix >= 0 && cutmix <= 100)))
        return fprintf(stderr, "vitc train: --mixup and --cutmix take an alpha in [0, 100] (0: off)\n"), 2;
    if (vt_opt_seen(opts, n_opts, "mix-prob") && !(mix_prob >= 0 && mix_prob <= 1))
        return fprintf(stderr, "vitc train: --mix-prob must be in [0, 1]\n"), 2;
    if (pool && strcmp(pool, "token") && strcmp(pool, "avg"))
        return fprintf(stderr, "vitc train: --pool must be token or avg\n"), 2;
    if (distill && strcmp(distill, "soft") && strcmp(distill, "hard"))
        return fprintf(stderr, "vitc train: --distill must be soft or hard\n"), 2;
    if (vt_opt_seen(opts, n_opts, "distill-alpha") && !(distill_alpha >= 0 && distill_alpha <= 1))
        return fprintf(stderr, "vitc train: --distill-alpha must be in [0, 1]\n"), 2;
    if (teacher && !*teacher) return fprintf(stderr, "vitc train: --teacher needs a model file\n"), 2;

    char ckpt_buf[4200];
    if (!ckpt) ckpt = vt_cli_ckpt_path(out, ckpt_buf, sizeof ckpt_buf);
    if (threads) vt_set_threads(threads);
    threads = vt_get_threads();

    vt_trainer *t = NULL;
    char *train_json = NULL;
    vt_json *tj = NULL;
    char data_buf[4096], teacher_buf[4096], distill_buf[8] = "soft";
    vt_augment aug = {1, -1, 0, 0.25f, -1.0f}; /* rrc_scale -1: the data's default */
    vt_mix mix = {0.0f, 0.0f, 1.0f};
    if (resume) {
        if (vt_trainer_resume(resume, threads, &t, &train_json)) return fail(vitc_last_error());
        if (t->m->cfg.task != VT_TASK_CLASSIFY) {
            vt_trainer_free(t);
            free(train_json);
            return fail("the checkpoint is a segmentation run: resume it with --task segment");
        }
        char err[128];
        tj = vt_json_parse(train_json, strlen(train_json), err, sizeof err);
        /* what the run was started with */
        if (!data) {
            snprintf(data_buf, sizeof data_buf, "%s", vt_json_get_string(tj, "data", ""));
            data = data_buf;
        }
        if (!vt_opt_seen(opts, n_opts, "epochs")) epochs = (int)vt_json_get_number(tj, "epochs", 10);
        batch = (int)vt_json_get_number(tj, "batch", 128);
        seed = (int)vt_json_get_number(tj, "seed", 0);
        limit = (int)vt_json_get_number(tj, "limit", 0);
        if (!vt_opt_seen(opts, n_opts, "val-limit")) val_limit = (int)vt_json_get_number(tj, "val_limit", 0);
        if (!val_every) val_every = (int)vt_json_get_number(tj, "val_every", 1);
        /* runs from before IDX hold-outs recorded val_split (a folder's fraction, meaningless for IDX) */
        val_frac = (float)vt_json_get_number(tj, "val_fraction", -1);
        if (val_frac < 0) val_frac = vt_dataset_is_idx(data) ? 0.0f : (float)vt_json_get_number(tj, "val_split", 0.1);
        aug.enabled = vt_json_get_bool(tj, "augment", 1);
        aug.pad = (int)vt_json_get_number(tj, "pad", -1);
        aug.rrc_scale = (float)vt_json_get_number(tj, "rrc_scale", 0); /* runs from before it: padded crops */
        aug.erase_p = (float)vt_json_get_number(tj, "erase", 0.25);
        mix.mixup_alpha = (float)vt_json_get_number(tj, "mixup", 0);
        mix.cutmix_alpha = (float)vt_json_get_number(tj, "cutmix", 0);
        mix.prob = (float)vt_json_get_number(tj, "mix_prob", 1);
        bf16 = bf16 || vt_json_get_bool(tj, "bf16", 0);
        /* distillation goes on with the run's teachers unless others are named */
        const char *tt = vt_json_get_string(tj, "teacher", "");
        if (!teacher && *tt) {
            snprintf(teacher_buf, sizeof teacher_buf, "%s", tt);
            teacher = teacher_buf;
        }
        if (!distill && *tt) {
            snprintf(distill_buf, sizeof distill_buf, "%s", vt_json_get_string(tj, "distill", "soft"));
            distill = distill_buf;
        }
        if (distill_alpha < 0 && *tt) distill_alpha = (float)vt_json_get_number(tj, "distill_alpha", 0.5);
        if (*tt && !vt_opt_seen(opts, n_opts, "teacher")) teacher_offline = teacher_offline || vt_json_get_bool(tj, "teacher_offline", 0);
    } else {
        if (!epochs) epochs = 10;
        if (!batch) batch = 128;
        aug.enabled = !no_aug;
        if (pad >= 0) aug.pad = pad;
        if (erase >= 0) aug.erase_p = erase;
        if (vt_opt_seen(opts, n_opts, "rrc-scale")) aug.rrc_scale = rrc_scale;
        else if (pad >= 0) aug.rrc_scale = 0; /* --pad asks for the padded crop */
    }
    /* mixing may also change on a resumed run (from there on) */
    if (mixup >= 0) mix.mixup_alpha = mixup;
    if (cutmix >= 0) mix.cutmix_alpha = cutmix;
    if (mix_prob >= 0) mix.prob = mix_prob;
    int mixing = mix.mixup_alpha > 0 || mix.cutmix_alpha > 0;
    if ((distill || distill_alpha >= 0 || teacher_offline) && !teacher) {
        vt_trainer_free(t);
        free(train_json);
        vt_json_free(tj);
        return fprintf(stderr, "vitc train: --distill, --distill-alpha and --teacher-offline need --teacher\n"), 2;
    }
    if (distill_alpha < 0) distill_alpha = 0.5f;
    vt_distill_kind dkind = distill && !strcmp(distill, "hard") ? VT_DISTILL_HARD : VT_DISTILL_SOFT;
    if (val_every <= 0) val_every = 1;
    if (!data || !*data) {
        vt_trainer_free(t);
        free(train_json);
        vt_json_free(tj);
        return fprintf(stderr, "vitc train: --data is required\n"), 2;
    }

    /* ---- the model (from scratch, --init or --resume) and the data */
    vitc_model *init_m = NULL;
    vitc_preprocess_params pp = vitc_preprocess_default_params();
    int rc = 0;
    vt_dataset tr = {0}, va = {0};
    vt_teachers teach = {0};
    if (init) {
        vitc_load_params lp = vitc_load_default_params();
        lp.heads = heads;
        if (vitc_model_load(init, &lp, &init_m) || vt_model_need_float(init_m, init)) {
            rc = fail(vitc_last_error());
            goto done;
        }
        pp = init_m->pre;
    }
    int size = t ? t->m->cfg.img_size : img ? img : init_m ? init_m->cfg.img_size : 0;
    if (t) pp = t->m->pre;
    pp.size = size ? size : 224; /* IDX data keep their own size when none is asked for; folders: 224 */
    pp.crop_pct = pp.crop_pct > 0 ? pp.crop_pct : 1.0f;
    if (val_frac < 0) val_frac = vt_dataset_default_val_frac(data);
    /* validation: the held-out training images, else (IDX data) the test set */
    if (vt_dataset_open(data, VT_SPLIT_TRAIN, val_frac, &pp, size, &tr) ||
        vt_dataset_open(data, val_frac > 0 ? VT_SPLIT_VAL : VT_SPLIT_TEST, val_frac, &pp, size ? size : tr.h, &va)) {
        rc = fail(vitc_last_error());
        goto done;
    }
    vt_dataset_truncate(&tr, limit);
    vt_dataset_truncate(&va, val_limit);
    if (tr.h != tr.w) {
        rc = fail("training images must be square");
        goto done;
    }
    if (aug.pad < 0) aug.pad = tr.h / 7;
    if (aug.rrc_scale < 0) aug.rrc_scale = tr.is_folder ? 0.08f : 0.0f; /* natural images: random-resized crops */
    aug.hflip = tr.hflip;

    if (!t) {
        vt_vit_config c;
        if (init_m) {
            c = init_m->cfg;
            c.num_classes = tr.num_classes;
            c.img_size = tr.h;
            c.dist_average = c.dist_token; /* the distilled head trains on the labels as well */
        } else {
            if (arch) {
                if (vt_config_from_name(arch, &c)) {
                    rc = 2;
                    fprintf(stderr, "vitc train: unknown architecture '%s'\n", arch);
                    goto done;
                }
            } else {
                vt_config_defaults(&c);
                c.dim = 192, c.depth = 6, c.heads = 3, c.patch = 4, c.mlp_dim = 4 * 192;
                snprintf(c.name, sizeof c.name, "vit_%.50s", tr.name);
            }
            if (dim) c.dim = dim, c.mlp_dim = 4 * dim;
            if (mlp) c.mlp_dim = mlp;
            if (depth) c.depth = depth;
            if (heads) c.heads = heads;
            if (patch) c.patch = patch;
            c.patch_kernel = patch_kernel == c.patch ? 0 : patch_kernel;
            if (regs) c.reg_tokens = regs;
            if (ls_init > 0) c.layer_scale = 1;
            if (pool && !strcmp(pool, "avg")) c.pool = VITC_POOL_AVG, c.fc_norm = 1;
            if (dist_token) c.dist_token = c.dist_average = 1;
            c.img_size = tr.h;
            c.in_chans = 3;
            c.num_classes = tr.num_classes;
            if (vt_config_validate(&c, "training model")) {
                rc = fail(vitc_last_error());
                goto done;
            }
        }
        vitc_model *m;
        if (init_m) {
            if (vt_model_adapt(init_m, &c, (uint64_t)seed, &m)) {
                rc = fail(vitc_last_error());
                goto done;
            }
        } else {
            if (vt_model_new(&c, &m)) {
                rc = fail(vitc_last_error());
                goto done;
            }
            vt_model_init_random(m, (uint64_t)seed, ls_init > 0 ? ls_init : 1.0f);
            m->pre = vitc_preprocess_default_params();
            m->pre.crop_pct = 1.0f;
        }
        m->pre.size = tr.h;
        if (!init_m || tr.c == 1) /* gray data: the statistics it is normalized with */
            for (int k = 0; k < 3; k++) m->pre.mean[k] = tr.mean[k], m->pre.std[k] = tr.std[k];
        if (tr.c == 1) m->pre.crop_pct = 1.0f;
        set_labels(m, &tr);
        int spe = tr.n / batch;
        if (spe < 1) {
            vitc_model_free(m);
            rc = fail("fewer training images than one batch");
            goto done;
        }
        vt_train_hparams hp = vt_train_default_hparams();
        if (lr > 0) hp.lr = lr;
        if (min_lr >= 0) hp.min_lr = min_lr;
        if (wd >= 0) hp.weight_decay = wd;
        if (ls >= 0) hp.label_smoothing = ls;
        if (clip >= 0) hp.clip = clip;
        hp.ema_decay = ema;
        hp.drop_path = drop_path;
        hp.layer_decay = layer_decay < 1 ? layer_decay : 0;
        hp.sam_rho = sam;
        hp.seed = (uint64_t)(int64_t)seed;
        hp.warmup_steps = (int64_t)llround((warmup >= 0 ? warmup : 1.0f) * spe);
        hp.total_steps = (int64_t)epochs * spe;
        if (vt_trainer_new(m, &hp, threads, &t)) {
            vitc_model_free(m);
            rc = fail(vitc_last_error());
            goto done;
        }
    }
    /* --ema on a resumed run: a new decay for its average, or an average started from here */
    if (resume && ema > 0) {
        if (t->ema) {
            t->hp.ema_decay = ema;
        } else if (vt_trainer_start_ema(t, ema)) {
            rc = fail(vitc_last_error());
            goto done;
        }
    }
    if (vt_tr_set_bf16(bf16)) {
        rc = fail(resume ? "this run trains in bf16 (--bf16), which needs AVX-512 kernels on a CPU with AVX512-BF16"
                         : "--bf16 needs AVX-512 kernels on a CPU with AVX512-BF16");
        goto done;
    }
    const vt_vit_config *c = &t->m->cfg;
    if (tr.num_classes > c->num_classes || tr.h != c->img_size) {
        rc = fail("the data does not fit the checkpoint's model (classes or image size)");
        goto done;
    }
    int deit = c->dist_token && c->dist_average; /* the distillation head learns the teachers' labels */
    if (teacher) {
        if (deit && vt_opt_seen(opts, n_opts, "distill-alpha")) {
            rc = fail("--distill-alpha is for students without a distillation token (DeiT students learn the "
                      "teachers in their distillation head)");
            goto done;
        }
        if (vt_teachers_open(&teach, teacher, t->m, threads, dkind)) {
            rc = fail(vitc_last_error());
            goto done;
        }
    }
    /* several processes: each trains a contiguous shard of every global batch */
    int NP = vt_dist_size(), RK = vt_dist_rank(), nb, off;
    if ((rc = vt_dist_shard("vitc train", batch, &nb, &off))) goto done;
    if (RK) quiet = 1; /* rank 0 alone reports */
    t->image_offset = off;
    if (NP > 1) vt_trainer_on_grad_ready(t, vt_dist_sum_ready, NULL); /* each block's sums start at once */
    int spe = tr.n / batch;
    t->hp.total_steps = (int64_t)epochs * spe; /* --epochs may extend a resumed run */
    int64_t total = t->hp.total_steps;
    int chans = c->in_chans, S = c->img_size;
    char kernel[40] = "";
    if (vt_patch_kernel(c) != c->patch) snprintf(kernel, sizeof kernel, " (overlapping: kernel %d)", vt_patch_kernel(c));
    printf("training %s: dim %d, depth %d, heads %d, patch %d%s, %dx%d, %.2f M parameters, %s kernels%s, %d threads\n",
           c->name, c->dim, c->depth, c->heads, c->patch, kernel, S, S, (double)vt_config_num_params(c) / 1e6,
           vt_kernels_name(), bf16 ? " (bfloat16 products)" : "", threads);
    if (t->hp.sam_rho > 0)
        printf("SAM (sharpness-aware minimization), radius %g: two forward/backward passes per step\n",
               (double)t->hp.sam_rho);
    if (t->hp.layer_decay > 0)
        printf("layer-wise learning-rate decay %g: blocks.%d x%g ... embeddings x%.3g, head x1\n", (double)t->hp.layer_decay,
               c->depth - 1, (double)t->hp.layer_decay, (double)vt_train_lr_scale("pos_embed", c->depth, t->hp.layer_decay));
    if (t->hp.drop_path > 0)
        printf("drop path (stochastic depth) rising to %g in the last block\n", (double)t->hp.drop_path);
    if (t->ema)
        printf("weights' EMA with decay %g: validated beside the weights, written to %s\n", (double)t->hp.ema_decay, out);
    printf("data %s: %d training, %d validation images (%s), %d classes; %d epochs of %d steps (batch %d)\n", tr.name,
           tr.n, va.n, val_frac > 0 ? "held out of the training images" : "the test set", tr.num_classes, epochs, spe, batch);
    if (!aug.enabled) printf("augmentation: none\n");
    else if (aug.rrc_scale > 0)
        printf("augmentation: random-resized crops (%g-1 of the area, aspect 3/4-4/3)%s, erasing %g\n", (double)aug.rrc_scale,
               aug.hflip ? ", flips" : "", (double)aug.erase_p);
    else
        printf("augmentation: crops padded by %d px%s, erasing %g\n", aug.pad, aug.hflip ? ", flips" : "", (double)aug.erase_p);
    if (mixing)
        printf("mixing batches (%.0f%% of them): mixup alpha %g, CutMix alpha %g\n", 100.0 * mix.prob,
               (double)mix.mixup_alpha, (double)mix.cutmix_alpha);
    if (teach.n) {
        printf("distilling from %d teacher%s (%s labels): ", teach.n, teach.n > 1 ? "s" : "",
               dkind == VT_DISTILL_HARD ? "hard" : "soft");
        if (deit) printf("the distillation head learns them, the class head the data's labels\n");
        else printf("targets %g x the data's labels + %g x the teachers'\n", 1.0 - distill_alpha, (double)distill_alpha);
    }
    if (resume) printf("resuming %s at step %lld\n", resume, (long long)t->step);
    if (NP > 1) printf("data-parallel: %d processes, %d images of each batch of %d per process\n", NP, nb, batch);
    run_meta meta = {epochs, batch, seed, limit, val_limit, val_every, bf16, val_frac, aug, mix, data,
                     teach.n ? teach.paths : NULL, dkind, distill_alpha, teacher_offline};
    fflush(stdout);

    /* ---- the loop */
    int *order = malloc(sizeof(int) * (size_t)tr.n);
    size_t ib = (size_t)batch * chans * S * S;
    float *bufs[2] = {malloc(sizeof(float) * ib), malloc(sizeof(float) * ib)};
    int *labs[2] = {malloc(sizeof(int) * (size_t)batch), malloc(sizeof(int) * (size_t)batch)};
    size_t tb = mixing ? (size_t)batch * c->num_classes : 1;
    float *tgts[2] = {malloc(sizeof(float) * tb), malloc(sizeof(float) * tb)};
    int64_t *conf = calloc((size_t)c->num_classes * c->num_classes, sizeof(int64_t));
    float *logits = malloc(sizeof(float) * (size_t)batch * c->num_classes);
    size_t db = teach.n ? (size_t)batch * c->num_classes : 1;
    float *tq = malloc(sizeof(float) * db), *qs = malloc(sizeof(float) * db); /* the teachers', the student's */
    /* --teacher-offline: the teachers' labels of every training image, computed once */
    /* mixing pairs images across the whole batch: every process then reads it all and trains its shard */
    int lb = mixing ? batch : nb, so = mixing ? off : 0, io = mixing ? 0 : off;
    float *offline = teach.n && teacher_offline ? malloc(sizeof(float) * (size_t)tr.n * c->num_classes) : NULL;
    if (!order || !bufs[0] || !bufs[1] || !labs[0] || !labs[1] || !tgts[0] || !tgts[1] || !conf || !logits || !tq ||
        !qs || (teach.n && teacher_offline && !offline)) {
        rc = fail("out of memory");
        goto loop_done;
    }
    if (offline) {
        double t0 = vt_cli_now();
        if (vt_teachers_label_dataset(&teach, &tr, chans, t->m->pre.mean, t->m->pre.std, offline)) {
            rc = fail(vitc_last_error());
            goto loop_done;
        }
        printf("the teachers labelled the %d training images (unaugmented) in %.0f s\n", tr.n, vt_cli_now() - t0);
        fflush(stdout);
    }
    int tty = isatty(2) && !quiet;
    /* the rate shown is over the steps since the previous progress line (at least 50 on a terminal),
     * leaving out this run's first step (activation layout, page faults) */
    double t_start = vt_cli_now(), t_win = 0.0;
    int64_t steps_this_run = 0, steps_win = 0;
    vt_prefetch pf;
    for (int epoch = (int)(t->step / spe); epoch < epochs && !rc; epoch++) {
        vt_epoch_order(tr.n, (uint64_t)seed, epoch, order);
        int b = (int)(t->step - (int64_t)epoch * spe);
        double ep_loss = 0.0, t_ep = vt_cli_now();
        if (steps_this_run > 0) t_win = t_ep, steps_win = steps_this_run; /* validation is not training speed */
        int ep_n = 0, cur = 0;
        int64_t ep_right = 0; /* training images (augmented, as trained on) the model got right */
        memset(&pf, 0, sizeof pf);
        pf.d = &tr, pf.chans = chans, pf.epoch = epoch, pf.aug = aug, pf.seed = (uint64_t)seed, pf.n = lb;
        memcpy(pf.mean, t->m->pre.mean, sizeof pf.mean);
        memcpy(pf.std, t->m->pre.std, sizeof pf.std);
        pf.mix = mix, pf.classes = c->num_classes, pf.smoothing = t->hp.label_smoothing;
        if (b < spe) {
            pf.idx = order + (size_t)b * batch + io, pf.images = bufs[cur], pf.labels = labs[cur];
            pf.targets = mixing ? tgts[cur] : NULL, pf.batch_id = (int64_t)epoch * spe + b;
            vt_prefetch_start(&pf);
        }
        for (; b < spe; b++) {
            vt_prefetch_wait(&pf);
            vt_dist_test_hook(t->step);
            float *x = bufs[cur] + (size_t)so * chans * S * S;
            int *y = labs[cur] + so;
            const float *q = tgts[cur] + (mixing ? (size_t)so * c->num_classes : 0);
            int mixed = pf.mix_mode != VT_MIX_NONE; /* unmixed batches train on the labels, as without --mixup */
            double lam = pf.lam;
            const int *bidx = order + (size_t)b * batch + off;
            if (b + 1 < spe) { /* the next batch is prepared while this one trains */
                cur ^= 1;
                pf.idx = order + (size_t)(b + 1) * batch + io, pf.images = bufs[cur], pf.labels = labs[cur];
                pf.targets = mixing ? tgts[cur] : NULL, pf.batch_id = (int64_t)epoch * spe + b + 1;
                vt_prefetch_start(&pf);
            }
            double loss, loss_sam;
            vitc_status st = VITC_OK;
            if (teach.n) {
                if (offline) vt_teachers_rows(offline, bidx, nb, c->num_classes, mixed, lam, tq);
                else st = vt_teachers_targets(&teach, x, nb, chans, S, S, t->m->pre.mean, t->m->pre.std, tq);
                if (!st && !deit) {
                    if (mixed) memcpy(qs, q, sizeof(float) * (size_t)nb * c->num_classes);
                    else vt_onehot_smooth(qs, y, nb, c->num_classes, t->hp.label_smoothing);
                    vt_distill_blend(qs, tq, nb, c->num_classes, distill_alpha);
                }
            }
            /* with SAM, a second pass over the same batch at the perturbed weights gives the step's
             * gradients; the loss and accuracy reported are the first pass's */
            int passes = t->hp.sam_rho > 0 ? 2 : 1;
            for (int pass = 0; pass < passes && !st; pass++) {
                double *lp = pass ? &loss_sam : &loss;
                float *lg = pass ? NULL : logits;
                if (pass) st = vt_trainer_sam_ascend(t, t->hp.sam_rho);
                if (st) break;
                /* the mean over the global batch: the shards' means, each weighted 1/N, summed in rank
                 * order, block by block as the backward pass finishes them */
                vt_dist_sum_begin(t->grad, t->numel, 1.0f / (float)NP);
                if (teach.n && deit)
                    st = vt_trainer_forward_backward_deit(t, x, mixed ? NULL : y, mixed ? q : NULL, tq, nb, lp, lg);
                else if (teach.n) st = vt_trainer_forward_backward_soft(t, x, qs, nb, lp, lg);
                else if (mixed) st = vt_trainer_forward_backward_soft(t, x, q, nb, lp, lg);
                else st = vt_trainer_forward_backward(t, x, y, nb, lp, lg);
                if (!st) vt_dist_sum_end();
            }
            if (passes == 2) vt_trainer_sam_descend(t);
            if (st) {
                vt_prefetch_wait(&pf);
                rc = fail(vitc_last_error());
                if (NP > 1) vt_dist_abort(rc);
                break;
            }
            int64_t right = 0;
            for (int i = 0; i < nb; i++) { /* mixed batches: right = the label with the larger share */
                const float *l = logits + (size_t)i * c->num_classes;
                int best = 0, truth = y[i];
                for (int k = 1; k < c->num_classes; k++)
                    if (l[k] > l[best]) best = k;
                if (mixed)
                    for (int k = 0; k < c->num_classes; k++)
                        if (q[(size_t)i * c->num_classes + k] > q[(size_t)i * c->num_classes + truth]) truth = k;
                right += best == truth;
            }
            if (NP > 1) { /* the global batch's loss and count, the same on every process */
                double v[2] = {loss / NP, (double)right};
                vt_dist_sum_doubles(v, 2);
                loss = v[0], right = (int64_t)v[1];
            }
            ep_right += right;
            if (!isfinite(loss)) {
                vt_prefetch_wait(&pf);
                rc = RK ? 1 : fail("the loss is not finite (try a lower --lr)");
                break;
            }
            vt_trainer_update(t);
            steps_this_run++;
            ep_loss += loss;
            ep_n++;
            double t_now = vt_cli_now();
            if (steps_this_run == 1) t_win = t_now, steps_win = 1;
            double ips = steps_this_run > steps_win ? (steps_this_run - steps_win) * (double)batch / (t_now - t_win)
                                                    : steps_this_run * (double)batch / (t_now - t_start);
            if (!quiet && (tty || t->step % 50 == 0 || b + 1 == spe)) {
                if (steps_this_run - steps_win >= (tty ? 50 : 1)) t_win = t_now, steps_win = steps_this_run;
                char eta[32];
                vt_cli_fmt_time(eta, sizeof eta, (double)(total - t->step) * batch / ips);
                fprintf(stderr, "%sepoch %d/%d  step %lld/%lld  loss %.4f  lr %.2e  %.0f img/s  ETA %s%s", tty ? "\r" : "",
                        epoch + 1, epochs, (long long)t->step, (long long)total, ep_loss / ep_n, (double)t->last_lr, ips,
                        eta, tty ? "   " : "\n");
                fflush(stderr);
            }
            if (save_every > 0 && t->step % save_every == 0 && b + 1 < spe) {
                if (RK == 0) { /* rank 0 writes; the others wait for its outcome */
                    vt_strbuf sb = {0};
                    run_meta_json(&sb, &meta, epoch, -1.0);
                    vt_dist_hold_signals(1);
                    if (vt_trainer_save(t, ckpt, sb.data)) rc = fail(vitc_last_error());
                    vt_dist_hold_signals(0);
                    vt_strbuf_free(&sb);
                }
                if (NP > 1) rc = vt_dist_agree(rc);
            }
            if (max_steps > 0 && steps_this_run >= max_steps) {
                vt_prefetch_wait(&pf);
                break;
            }
        }
        vt_prefetch_wait(&pf);
        if (rc || (max_steps > 0 && steps_this_run >= max_steps && b + 1 < spe)) break;
        if (tty) fprintf(stderr, "\n");
        /* validation (every val_every epochs and after the last), then the model and the checkpoint */
        int validate = RK == 0 && va.n && ((epoch + 1) % val_every == 0 || epoch + 1 == epochs);
        memset(conf, 0, sizeof(int64_t) * (size_t)c->num_classes * c->num_classes);
        double vloss = 0.0;
        vitc_model_set_threads(t->m, threads);
        if (validate && vt_evaluate(&t->m, 1, &va, 256, NULL, 0, conf, &vloss)) {
            rc = fail(vitc_last_error());
            if (NP > 1) vt_dist_abort(rc); /* rank 0 alone validates */
            break;
        }
        int64_t correct = 0, ema_correct = 0;
        for (int k = 0; k < c->num_classes; k++) correct += conf[(size_t)k * c->num_classes + k];
        /* the EMA: validated and written as the model (--out); the checkpoint keeps the weights */
        if (t->ema && RK == 0) {
            vt_trainer_swap_ema(t);
            memset(conf, 0, sizeof(int64_t) * (size_t)c->num_classes * c->num_classes);
            if (validate && vt_evaluate(&t->m, 1, &va, 256, NULL, 0, conf, NULL)) rc = fail(vitc_last_error());
            for (int k = 0; k < c->num_classes; k++) ema_correct += conf[(size_t)k * c->num_classes + k];
            if (!rc && vt_model_save(t->m, out)) rc = fail(vitc_last_error());
            vt_trainer_swap_ema(t);
            if (rc && NP > 1) vt_dist_abort(rc);
            if (rc) break;
        }
        /* the training accuracy is that of the batches as they were trained on (augmented, weights
         * changing through the epoch): next to the validation accuracy it shows under- or overfitting */
        printf("epoch %d/%d: train loss %.4f, train accuracy %.2f%%", epoch + 1, epochs, ep_n ? ep_loss / ep_n : 0.0,
               ep_n ? 100.0 * (double)ep_right / ((double)ep_n * batch) : 0.0);
        if (validate) {
            printf(", val loss %.4f, val accuracy %.2f%% (%d images)", vloss, 100.0 * (double)correct / va.n, va.n);
            if (t->ema) printf(", EMA %.2f%%", 100.0 * (double)ema_correct / va.n);
        }
        printf(", %.0f s\n", vt_cli_now() - t_ep);
        fflush(stdout);
        if (RK == 0) {
            vt_strbuf sb = {0};
            run_meta_json(&sb, &meta, epoch + 1, validate ? (double)correct / va.n : -1.0);
            vt_dist_hold_signals(1);
            if (vt_trainer_save(t, ckpt, sb.data) || (!t->ema && vt_model_save(t->m, out))) rc = fail(vitc_last_error());
            vt_dist_hold_signals(0);
            vt_strbuf_free(&sb);
        }
        if (NP > 1 && (rc = vt_dist_agree(rc))) break;
        if (max_steps > 0 && steps_this_run >= max_steps) break;
    }
    if (!rc) printf("saved %s (checkpoint %s)\n", out, ckpt);
    if (!rc && NP > 1)
        printf("gradient sums across the %d processes: %.2f s of %.2f s waited for after the backward passes "
               "(%.2f s in flight)\n", NP, vt_dist_sum_seconds(), vt_cli_now() - t_start, vt_dist_sum_flight_seconds());
loop_done:
    free(order), free(bufs[0]), free(bufs[1]), free(labs[0]), free(labs[1]), free(tgts[0]), free(tgts[1]);
    free(conf), free(logits), free(tq), free(qs), free(offline);
done:
    rc = vt_dist_start(rc); /* a process that failed before the loop meets the others' agreement */
    vt_teachers_free(&teach);
    vt_dataset_free(&tr);
    vt_dataset_free(&va);
    vitc_model_free(init_m);
    vt_trainer_free(t);
    free(train_json);
    vt_json_free(tj);
    return rc;
}
