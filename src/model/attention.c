/* Attention maps (the last block's, and attention rollout) and the final tokens, from the forward
 * pass's attention probabilities (vt_forward_out.attn / .attn_blocks) and tokens. */
#include "core/error.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

/* Attention buffers are filled a chunk of images at a time, at most this many bytes. */
#define ATTN_CHUNK_BYTES ((size_t)256 << 20)

int vitc_model_num_tokens(const vitc_model *m, int height, int width) {
    if (!m) return -1;
    const vt_vit_config *c = &m->cfg;
    if (height <= 0 || width <= 0 || height % c->patch || width % c->patch) return -1;
    return (height / c->patch) * (width / c->patch) + vt_prefix_tokens(c) + c->det_tokens;
}

vitc_status vitc_model_embed_tokens(vitc_model *m, const float *images, int n, int height, int width, float *tokens) {
    if (!m || !tokens) return vt_error(VITC_ERR_ARG, "embed tokens: null argument");
    vt_forward_out o = {0};
    o.tokens = tokens;
    return vt_vit_forward(m, images, n, height, width, &o);
}

/* A_l[i][.] for one image: the attention of query i (heads x T x T at att) averaged over the heads,
 * or head `head`, in double. */
static void attn_row(const float *att, int heads, int T, int head, int i, double *row) {
    size_t plane = (size_t)T * T;
    if (head >= 0) {
        const float *a = att + (size_t)head * plane + (size_t)i * T;
        for (int j = 0; j < T; j++) row[j] = a[j];
        return;
    }
    for (int j = 0; j < T; j++) row[j] = 0.0;
    for (int h = 0; h < heads; h++) {
        const float *a = att + (size_t)h * plane + (size_t)i * T;
        for (int j = 0; j < T; j++) row[j] += a[j];
    }
    for (int j = 0; j < T; j++) row[j] /= heads;
}

/* The starting row vector: the class token's query (e_0), or the mean over the N patch queries
 * (tokens pre..pre+N; detection tokens after them are not patches). */
static void start_vector(double *r, int T, int pre, int N, int cls) {
    for (int j = 0; j < T; j++) r[j] = 0.0;
    if (cls) {
        r[0] = 1.0;
        return;
    }
    for (int j = pre; j < pre + N; j++) r[j] = 1.0 / N;
}

/* map (N) = r^T A over the patch columns, A = the last block's attention of one image. */
static void last_block_map(const float *att, int heads, int T, int pre, int N, int head, int cls, double *r,
                           double *row, float *map) {
    double *acc = row + T;
    start_vector(r, T, pre, N, cls);
    for (int j = 0; j < N; j++) acc[j] = 0.0;
    for (int i = 0; i < T; i++) {
        if (r[i] == 0.0) continue;
        attn_row(att, heads, T, head, i, row);
        for (int j = 0; j < N; j++) acc[j] += r[i] * row[pre + j];
    }
    for (int j = 0; j < N; j++) map[j] = (float)acc[j];
}

/* Rollout for one image: r^T A'_L ... A'_1, A'_l = rownorm(A_l + I). att_img(l) is block l's
 * heads x T x T attention of this image. */
static void rollout_map(const float *att_blocks, size_t block_stride, int L, int heads, int T, int pre, int N,
                        int head, int cls, double *r, double *row, float *map) {
    double *next = row + T;
    start_vector(r, T, pre, N, cls);
    for (int l = L - 1; l >= 0; l--) {
        const float *att = att_blocks + (size_t)l * block_stride;
        for (int j = 0; j < T; j++) next[j] = 0.0;
        for (int i = 0; i < T; i++) {
            if (r[i] == 0.0) continue;
            attn_row(att, heads, T, head, i, row);
            row[i] += 1.0;
            double sum = 0.0;
            for (int j = 0; j < T; j++) sum += row[j];
            double f = r[i] / sum;
            for (int j = 0; j < T; j++) next[j] += f * row[j];
        }
        memcpy(r, next, sizeof(double) * (size_t)T);
    }
    for (int j = 0; j < N; j++) map[j] = (float)r[pre + j];
}

vitc_status vitc_model_attention(vitc_model *m, const float *images, int n, int height, int width, int head,
                                 int rollout, float *maps) {
    if (!m || !images || !maps) return vt_error(VITC_ERR_ARG, "attention: null argument");
    const vt_vit_config *c = &m->cfg;
    if (n <= 0) return vt_error(VITC_ERR_ARG, "attention: no input images");
    if (head < -1 || head >= c->heads)
        return vt_error(VITC_ERR_ARG, "attention: head %d out of range (0..%d, or -1 for the mean over heads)", head,
                        c->heads - 1);
    if (c->depth < 1) return vt_error(VITC_ERR_UNSUPPORTED, "attention: the model has no transformer blocks");
    int T = vitc_model_num_tokens(m, height, width);
    if (T < 0)
        return vt_error(VITC_ERR_SHAPE, "input size %dx%d is not a positive multiple of the patch size %d", height,
                        width, c->patch);
    if (height > 16384 || width > 16384) return vt_error(VITC_ERR_LIMIT, "input size %dx%d too large", height, width);
    int pre = vt_prefix_tokens(c), N = T - pre - c->det_tokens, heads = c->heads, L = c->depth, cls = c->class_token != 0;
    size_t per_img = (size_t)heads * T * T * (rollout ? (size_t)L : 1);
    size_t chunk = ATTN_CHUNK_BYTES / (per_img * sizeof(float));
    if (chunk < 1) chunk = 1;
    if (chunk > (size_t)n) chunk = (size_t)n;
    float *att = malloc(sizeof(float) * per_img * chunk);
    double *r = malloc(sizeof(double) * 3 * (size_t)T);
    if (!att || !r) {
        free(att);
        free(r);
        return vt_error(VITC_ERR_NOMEM, "attention: out of memory (%d tokens, %d heads)", T, heads);
    }
    size_t img_floats = (size_t)c->in_chans * height * width;
    vitc_status s = VITC_OK;
    for (size_t b0 = 0; b0 < (size_t)n && s == VITC_OK; b0 += chunk) {
        int k = (int)((size_t)n - b0 < chunk ? (size_t)n - b0 : chunk);
        vt_forward_out o = {0};
        if (rollout) o.attn_blocks = att;
        else o.attn = att;
        s = vt_vit_forward(m, images + b0 * img_floats, k, height, width, &o);
        if (s) break;
        size_t plane = (size_t)heads * T * T; /* one image's attention in one block */
        for (int b = 0; b < k; b++) {
            float *map = maps + (b0 + (size_t)b) * N;
            if (rollout) /* attn_blocks: depth x k x heads x T x T */
                rollout_map(att + (size_t)b * plane, (size_t)k * plane, L, heads, T, pre, N, head, cls, r, r + T, map);
            else
                last_block_map(att + (size_t)b * plane, heads, T, pre, N, head, cls, r, r + T, map);
        }
    }
    free(att);
    free(r);
    return s;
}
