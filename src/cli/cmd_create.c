/* vitc create: a model with seeded random weights, from a named architecture or explicit sizes
 * (benchmarks, tests, the starting point of training from scratch). */
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "core/error.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_create(int argc, char **argv) {
    const char *arch = NULL, *out = NULL, *name = NULL, *labels = NULL, *pool = NULL, *interp = NULL;
    int dim = 0, depth = -1, heads = 0, patch = 0, img = 0, classes = -1, chans = 0, regs = 0, seed = 0, squash = 0;
    int dist = 0, patch_kernel = 0;
    float crop = 0, mean[3], std[3];
    vt_option opts[] = {
        {"arch", VT_OPT_STRING, &arch, "named architecture, e.g. vit_tiny_patch16_224", 0},
        {"dim", VT_OPT_INT, &dim, "embedding dimension", 0},
        {"depth", VT_OPT_INT, &depth, "number of blocks", 0},
        {"heads", VT_OPT_INT, &heads, "attention heads", 0},
        {"patch", VT_OPT_INT, &patch, "patch size", 0},
        {"patch-kernel", VT_OPT_INT, &patch_kernel, "overlapping patches: kernel K > patch (K - patch even)", 0},
        {"img-size", VT_OPT_INT, &img, "image size", 0},
        {"in-chans", VT_OPT_INT, &chans, "input channels (default 3)", 0},
        {"classes", VT_OPT_INT, &classes, "number of classes (default 1000; 0: no head)", 0},
        {"reg-tokens", VT_OPT_INT, &regs, "register tokens", 0},
        {"pool", VT_OPT_STRING, &pool, "token or avg", 0},
        {"name", VT_OPT_STRING, &name, "architecture name stored in the file", 0},
        {"labels", VT_OPT_STRING, &labels, "class names, one per line", 0},
        {"seed", VT_OPT_INT, &seed, "random seed (default 0)", 0},
        {"crop-pct", VT_OPT_FLOAT, &crop, "preprocessing crop fraction", 0},
        {"interp", VT_OPT_STRING, &interp, "preprocessing interpolation", 0},
        {"mean", VT_OPT_FLOAT3, mean, "preprocessing mean", 0},
        {"std", VT_OPT_FLOAT3, std, "preprocessing std", 0},
        {"squash", VT_OPT_FLAG, &squash, "preprocessing squashes instead of cropping", 0},
        {"out", VT_OPT_STRING, &out, "output file (.safetensors)", 0},
        {"dist-token", VT_OPT_FLAG, &dist, "a distillation token and head (DeiT distilled; outputs averaged)", 0},
    };
    int n_opts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos;
    int r = vt_parse_args("create", "vitc create (--arch NAME | --dim D --depth L --heads H --patch P --img-size S) "
                                    "[--classes N] [--seed S] --out FILE",
                          argc, argv, opts, n_opts, pos, 0, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (!out) {
        fprintf(stderr, "vitc create: --out FILE is required\n");
        return 2;
    }
    vt_vit_config c;
    if (arch) {
        if (vt_config_from_name(arch, &c)) {
            fprintf(stderr, "vitc create: unknown architecture '%s' (e.g. vit_base_patch16_224)\n", arch);
            return 2;
        }
    } else {
        vt_config_defaults(&c);
    }
    if (dim) {
        c.dim = dim;
        c.mlp_dim = 4 * dim;
    }
    if (depth >= 0) c.depth = depth;
    if (heads) c.heads = heads;
    if (patch) c.patch = patch;
    if (patch_kernel < 0) {
        fprintf(stderr, "vitc create: --patch-kernel must be positive\n");
        return 2;
    }
    c.patch_kernel = patch_kernel == c.patch ? 0 : patch_kernel;
    if (img) c.img_size = img;
    if (chans) c.in_chans = chans;
    if (classes >= 0) c.num_classes = classes;
    c.reg_tokens = regs;
    if (dist) c.dist_token = c.dist_average = 1;
    if (pool) {
        if (!strcmp(pool, "avg")) {
            c.pool = VITC_POOL_AVG;
            c.fc_norm = 1;
        } else if (strcmp(pool, "token")) {
            fprintf(stderr, "vitc create: --pool must be token or avg\n");
            return 2;
        }
    }
    if (name) snprintf(c.name, sizeof c.name, "%s", name);
    vitc_model *m;
    if (vt_model_new(&c, &m)) {
        fprintf(stderr, "vitc create: %s\n", vitc_last_error());
        return 2;
    }
    vt_model_init_random(m, (uint64_t)seed, 1.0f);
    m->pre.size = c.img_size;
    if (crop > 0) m->pre.crop_pct = crop;
    if (interp && vt_parse_interp(interp, &m->pre.interp)) {
        fprintf(stderr, "vitc create: --interp must be bicubic or bilinear\n");
        vitc_model_free(m);
        return 2;
    }
    if (vt_opt_seen(opts, n_opts, "mean")) memcpy(m->pre.mean, mean, sizeof mean);
    if (vt_opt_seen(opts, n_opts, "std")) memcpy(m->pre.std, std, sizeof std);
    m->pre.squash = squash;
    int rc = 0;
    if (labels) {
        FILE *fp = fopen(labels, "r");
        char line[1024];
        int n = 0;
        m->labels = calloc((size_t)(c.num_classes ? c.num_classes : 1), sizeof *m->labels);
        while (fp && m->labels && n < c.num_classes && fgets(line, sizeof line, fp)) {
            line[strcspn(line, "\r\n")] = '\0';
            m->labels[n++] = strdup(line);
        }
        m->n_labels = n;
        if (!fp || n != c.num_classes) {
            fprintf(stderr, "vitc create: %s: need %d labels, one per line\n", labels, c.num_classes);
            rc = 2;
        }
        if (fp) fclose(fp);
    }
    if (!rc && vt_model_save(m, out)) {
        fprintf(stderr, "vitc create: %s\n", vitc_last_error());
        rc = 1;
    }
    if (!rc)
        printf("%s: %s, %.2f M parameters\n", out, c.name, (double)vt_config_num_params(&c) / 1e6);
    vitc_model_free(m);
    return rc;
}
