/* vitc embed MODEL IMAGE...: pooled features (N x D) or the final tokens (N x T x D) as .npy, and/or
 * one JSON line per image. Nothing is written or printed unless every input succeeds. */
#include "cli/commands.h"
#include "cli/json_out.h"
#include "cli/model_opts.h"
#include "core/json.h"
#include "core/npy.h"
#include "model/model.h"
#include "vitc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FEAT_POOLED = 0, FEAT_CLS_MEAN = 1, FEAT_PROJECTED = 2 };

typedef struct embed_ctx {
    vitc_model *model;
    int dim, tokens, cap, chans;
    int feature;           /* FEAT_*: what one row of feats is (dim = its width) */
    int tdim;              /* the model's width (tokens) */
    int n, h, w;           /* the pending batch: n images of h x w */
    float *batch;          /* cap x chans x h x w */
    int count, T;          /* results so far; tokens per image (-1 until the first) */
    float *feats, *toks;   /* count x dim, count x T x dim (tokens only) */
    size_t feats_cap, toks_cap;
    const char **files;    /* per result */
    int *sub;
    size_t meta_cap;
} embed_ctx;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int flush(embed_ctx *c) {
    if (!c->n) return 0;
    const char *file = c->files[c->count]; /* the batch's first input */
    int T = vitc_model_num_tokens(c->model, c->h, c->w);
    if (c->tokens && c->T >= 0 && T != c->T) {
        fprintf(stderr, "vitc embed: %s: %d tokens where the inputs before had %d: --tokens needs one input size\n",
                file, T, c->T);
        return 1;
    }
    size_t need = (size_t)c->count + c->n, fc = c->feats_cap;
    if (grow((void **)&c->feats, &fc, need * c->dim, sizeof(float)) ||
        (c->tokens && T > 0 && grow((void **)&c->toks, &c->toks_cap, need * T * c->tdim, sizeof(float)))) {
        fprintf(stderr, "vitc embed: %s: out of memory\n", file);
        return 1;
    }
    c->feats_cap = fc;
    vt_forward_out o = {0};
    float *f = c->feats + (size_t)c->count * c->dim;
    if (c->feature == FEAT_CLS_MEAN) o.cls_mean = f;
    else if (c->feature == FEAT_PROJECTED) o.embeds = f;
    else o.features = f;
    if (c->tokens) o.tokens = c->toks + (size_t)c->count * T * c->tdim;
    if (vt_vit_forward(c->model, c->batch, c->n, c->h, c->w, &o) != VITC_OK) {
        fprintf(stderr, "vitc embed: %s: %s\n", file, vitc_last_error());
        return 1;
    }
    c->T = T;
    c->count += c->n;
    c->n = 0;
    return 0;
}

/* Appends one chans x h x w input; runs the pending batch first when full or of another size. */
static int push(embed_ctx *c, const char *file, int sub, const float *img, int h, int w) {
    if (c->n && (c->n == c->cap || h != c->h || w != c->w) && flush(c)) return 1;
    size_t sz = (size_t)c->chans * h * w;
    if (!c->n && (h != c->h || w != c->w)) {
        float *d = realloc(c->batch, sizeof(float) * sz * c->cap);
        if (!d) {
            fprintf(stderr, "vitc embed: %s: out of memory\n", file);
            return 1;
        }
        c->batch = d;
        c->h = h;
        c->w = w;
    }
    size_t k = (size_t)c->count + c->n + 1, mc = c->meta_cap;
    if (grow((void **)&c->files, &mc, k, sizeof *c->files) || grow((void **)&c->sub, &c->meta_cap, k, sizeof *c->sub)) {
        fprintf(stderr, "vitc embed: %s: out of memory\n", file);
        return 1;
    }
    c->files[k - 1] = file;
    c->sub[k - 1] = sub;
    memcpy(c->batch + sz * c->n, img, sizeof(float) * sz);
    c->n++;
    return 0;
}

static void print_json(const embed_ctx *c, int i) {
    vt_strbuf b = {0};
    vt_json_embed(&b, c->files[i], c->sub[i], c->feats + (size_t)i * c->dim, c->dim, c->tokens ? c->T : -1);
    if (!b.failed) printf("%s\n", b.data);
    vt_strbuf_free(&b);
}

static int embed_emit(void *ctx, const char *file, int sub, const float *x, int h, int w) {
    return push(ctx, file, sub, x, h, w);
}

int cmd_embed(int argc, char **argv) {
    vt_model_opts mo;
    const char *out = NULL;
    int json = 0, tokens = 0, batch_size = 8;
    const char *feature = NULL;
    enum { OWN = 5 };
    vt_option opts[VT_MODEL_OPTS_COUNT + OWN];
    vt_model_opts_bind(&mo, opts);
    vt_option own[OWN] = {
        {"out", VT_OPT_STRING, &out, "the .npy to write (default features.npy, or tokens.npy with --tokens; "
                                     "none with --json unless given)", 0},
        {"json", VT_OPT_FLAG, &json, "one JSON line per image: file, dim, L2 norm, the pooled features", 0},
        {"tokens", VT_OPT_FLAG, &tokens, "write the final tokens, N x T x D (T = prefix tokens + patches), "
                                         "instead of the pooled features", 0},
        {"batch", VT_OPT_INT, &batch_size, "images per forward pass (default 8)", 0},
        {"feature", VT_OPT_STRING, &feature, "pooled (the pooled, normalized features), cls+mean (class token and mean "
                                             "patch token of the final tokens, 2 x dim: DINOv2's linear-probe feature) or "
                                             "projected (CLIP's image embedding); default projected for models with a "
                                             "projection, else pooled", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    const char *pos[4096];
    int npos;
    int r = vt_parse_args("embed",
                          "vitc embed MODEL IMAGE... [--out FILE.npy] [--json] [--tokens] [--batch N] [--feature F]\n"
                          "Pooled, normalized features before the head (the numbers of vitc_model_embed) as a float32\n"
                          "N x D .npy, in input order. --tokens: the final tokens (vitc_model_embed_tokens), N x T x D,\n"
                          "prefix tokens first. IMAGE is a JPEG, PNG or PPM/PGM file, or a preprocessed float32 .npy\n"
                          "(C x H x W or N x C x H x W). Nothing is written unless every input succeeds.",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + OWN, pos, 4096, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 2) {
        fprintf(stderr, "vitc embed: needs a MODEL and at least one IMAGE (see vitc embed --help)\n");
        return 2;
    }
    if (batch_size <= 0 || batch_size > 4096) {
        fprintf(stderr, "vitc embed: --batch must be between 1 and 4096\n");
        return 2;
    }
    if (out && !*out) {
        fprintf(stderr, "vitc embed: --out needs a file name\n");
        return 2;
    }
    if (!out && !json) out = tokens ? "tokens.npy" : "features.npy";
    vitc_model *m = vt_model_opts_load("embed", pos[0], &mo, opts);
    if (!m) return 1;
    vitc_preprocess_params pp;
    if (vt_model_opts_preprocess("embed", m, &mo, opts, &pp)) {
        vitc_model_free(m);
        return 2;
    }
    vitc_model_info info;
    vitc_model_get_info(m, &info);
    int feat = m->cfg.proj_dim ? FEAT_PROJECTED : FEAT_POOLED, width = m->cfg.proj_dim ? m->cfg.proj_dim : info.dim;
    if (feature && !strcmp(feature, "pooled")) feat = FEAT_POOLED, width = info.dim;
    else if (feature && !strcmp(feature, "cls+mean")) feat = FEAT_CLS_MEAN, width = 2 * info.dim;
    else if (feature && !strcmp(feature, "projected")) feat = FEAT_PROJECTED, width = m->cfg.proj_dim;
    else if (feature) {
        fprintf(stderr, "vitc embed: --feature must be pooled, cls+mean or projected (got '%s')\n", feature);
        vitc_model_free(m);
        return 2;
    }
    if ((feat == FEAT_PROJECTED && !m->cfg.proj_dim) || (feat == FEAT_CLS_MEAN && !info.class_token)) {
        fprintf(stderr, "vitc embed: %s: --feature %s needs a model with %s\n", pos[0], feature,
                feat == FEAT_PROJECTED ? "a projection (CLIP's visual_projection)" : "a class token");
        vitc_model_free(m);
        return 2;
    }
    if (tokens && feature) {
        fprintf(stderr, "vitc embed: --tokens and --feature do not go together\n");
        vitc_model_free(m);
        return 2;
    }
    if (tokens) feat = FEAT_POOLED, width = info.dim;
    embed_ctx c = {.model = m, .dim = width, .tdim = info.dim, .feature = feat, .tokens = tokens, .cap = batch_size,
                   .chans = info.in_chans, .T = -1};
    float *img = malloc(sizeof(float) * 3 * (size_t)pp.size * pp.size);
    int rc = img ? 0 : 1;
    if (rc) fprintf(stderr, "vitc embed: out of memory\n");
    for (int i = 1; i < npos && !rc; i++) {
        const char *file = pos[i];
        rc = vt_cli_read_input("embed", file, info.in_chans, &pp, img, embed_emit, &c);
    }
    if (!rc) rc = flush(&c);
    if (!rc && out) {
        int64_t shape[3] = {c.count, tokens ? c.T : c.dim, c.tdim};
        if (vt_npy_write(out, tokens ? c.toks : c.feats, tokens ? 3 : 2, shape) != VITC_OK) {
            fprintf(stderr, "vitc embed: %s\n", vitc_last_error());
            rc = 1;
        }
    }
    if (!rc && json) {
        for (int i = 0; i < c.count; i++) print_json(&c, i);
        fflush(stdout);
    }
    free(img);
    free(c.batch);
    free(c.feats);
    free(c.toks);
    free(c.files);
    free(c.sub);
    vitc_model_free(m);
    return rc;
}
