/* vitc — Vision Transformers in C.
 *
 * The whole public API lives in this header. Every symbol starts with vitc_ / VITC_.
 * Objects are opaque handles created by *_load / *_new and released by *_free.
 * Functions that can fail return a vitc_status; on failure vitc_last_error() holds a
 * one-line message naming the file and the problem (per thread).
 */
#ifndef VITC_H
#define VITC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version, in one place: the Makefile (shared library name and soname, vitc.pc) and the Python
 * package read these three numbers. VITC_VERSION is the same as a string, e.g. "0.1.0". */
#define VITC_VERSION_MAJOR 0
#define VITC_VERSION_MINOR 1
#define VITC_VERSION_PATCH 0
#define VITC_STRINGIFY_(x) #x
#define VITC_VERSION_STRING_(a, b, c) VITC_STRINGIFY_(a) "." VITC_STRINGIFY_(b) "." VITC_STRINGIFY_(c)
#define VITC_VERSION VITC_VERSION_STRING_(VITC_VERSION_MAJOR, VITC_VERSION_MINOR, VITC_VERSION_PATCH)

/* The version of the library in use (VITC_VERSION of the build that made it), which may differ from
 * the header's when a program runs against another shared library. */
const char *vitc_version(void);

/* ---------------------------------------------------------------- errors */
typedef enum vitc_status {
    VITC_OK = 0,
    VITC_ERR_ARG,         /* bad argument or option */
    VITC_ERR_IO,          /* a file could not be opened, read or written */
    VITC_ERR_FORMAT,      /* corrupt or unsupported file content */
    VITC_ERR_SHAPE,       /* a tensor has the wrong shape or dtype */
    VITC_ERR_MISSING,     /* a required tensor is absent */
    VITC_ERR_UNSUPPORTED, /* valid input that vitc does not handle */
    VITC_ERR_NOMEM,       /* out of memory */
    VITC_ERR_LIMIT        /* input exceeds a safety limit (e.g. image too large) */
} vitc_status;

/* Short fixed name of a status, e.g. "format error". */
const char *vitc_status_name(vitc_status status);
/* Detailed message of the last failure on this thread ("" when none). */
const char *vitc_last_error(void);

/* ---------------------------------------------------------------- images */
typedef struct vitc_image vitc_image; /* 8-bit RGB, rows top to bottom */

/* Decodes JPEG, PNG or PPM/PGM (detected from the content), converted to RGB as
 * PIL's Image.convert('RGB') does (alpha dropped, 16-bit reduced to 8, gray replicated). */
vitc_status vitc_image_load(const char *path, vitc_image **out);
vitc_status vitc_image_decode(const void *data, size_t size, vitc_image **out);
/* Copies width*height*3 bytes of interleaved RGB. */
vitc_status vitc_image_from_rgb(int width, int height, const uint8_t *rgb, vitc_image **out);
int vitc_image_width(const vitc_image *img);
int vitc_image_height(const vitc_image *img);
const uint8_t *vitc_image_pixels(const vitc_image *img);
void vitc_image_free(vitc_image *img);

/* ---------------------------------------------------------------- preprocessing */
typedef enum vitc_interp {
    VITC_INTERP_BICUBIC = 0,
    VITC_INTERP_BILINEAR = 1
} vitc_interp;

typedef struct vitc_preprocess_params {
    int size;        /* output is size x size */
    float crop_pct;  /* resize target = floor(size / crop_pct), then center crop */
    vitc_interp interp;
    float mean[3];
    float std[3];
    int squash;      /* 1: resize both sides to floor(size / crop_pct) (HF processors) instead of the shorter one */
    int max_size;    /* > 0: detection (DETR/YOLOS processors): the shorter side resized to size, the longer to at
                        most max_size, no crop; the model input is that image cut to patch multiples
                        (vitc_model_detect; vitc_preprocess refuses it) */
} vitc_preprocess_params;

/* timm ViT augreg defaults: 224, crop_pct 0.9, bicubic, mean = std = 0.5. */
vitc_preprocess_params vitc_preprocess_default_params(void);

/* Writes 3*size*size floats, channel-major (C x H x W), into out. */
vitc_status vitc_preprocess(const vitc_image *img, const vitc_preprocess_params *params, float *out);

/* ---------------------------------------------------------------- models */
typedef struct vitc_model vitc_model;

typedef struct vitc_load_params {
    int heads;               /* attention heads when the file does not say (0: dim / 64) */
    const char *labels_path; /* class names, one per line (NULL: from the model files) */
    const char *config_path; /* Hugging Face config.json (NULL: looked for beside the weights) */
    int threads;             /* 0: $VITC_NUM_THREADS, else every core */
} vitc_load_params;

vitc_load_params vitc_load_default_params(void);

/* Loads a safetensors checkpoint with vitc, timm or Hugging Face parameter names. */
vitc_status vitc_model_load(const char *path, const vitc_load_params *params, vitc_model **out);
void vitc_model_free(vitc_model *model);

typedef enum vitc_pool { VITC_POOL_TOKEN = 0, VITC_POOL_AVG = 1 } vitc_pool;

typedef struct vitc_model_info {
    const char *name;        /* architecture name, e.g. "vit_tiny_patch16_224", or "custom" */
    const char *source;      /* "vitc", "timm" or "hf" */
    int dim, depth, heads, mlp_dim;
    int patch_size, image_size, in_chans;
    int patch_kernel;        /* the patch embedding's kernel: patch_size, or larger for overlapping patches */
    int num_classes;
    int class_token, dist_token, reg_tokens, num_prefix_tokens;
    int no_embed_class, pre_norm, qkv_bias, qk_norm, layer_scale, fc_norm;
    vitc_pool pool;
    float ln_eps;
    int64_t num_params;
    double flops;            /* forward FLOPs (2 x multiply-adds) per image at image_size */
    int has_labels;
    vitc_preprocess_params preprocess;
    const char *task;        /* "classify" or "segment" */
    const char *decoder;     /* segmentation: "linear" or "mask" (NULL otherwise) */
    int dec_dim, dec_depth, dec_heads; /* the mask transformer's sizes */
    int det_tokens, mid_pos; /* detection: detection tokens, YOLOS mid position embeddings (0/1) */
} vitc_model_info;

void vitc_model_get_info(const vitc_model *model, vitc_model_info *out);
/* on = 1: the transformer blocks' matrix products take bfloat16 operands (rounded to nearest even)
 * with float sums, about 1.3-1.6x faster on CPUs with AVX512-BF16; logits move by about 1e-2
 * relative. Patch embedding, attention, norms and heads stay float. VITC_ERR_UNSUPPORTED where the
 * CPU lacks AVX512-BF16 (or other kernels are forced). on = 0: float (the default). */
vitc_status vitc_model_set_bf16(vitc_model *model, int on);
/* on = 1: the transformer blocks' Linear layers (qkv, proj, fc1, fc2) run in int8: weights
 * quantized symmetrically per output channel, each token's input with its own scale, exact int32
 * sums, dequantized to float (see `vitc quantize` for files stored that way). Patch embedding,
 * attention, norms, GELU, residuals and heads stay float. A model loaded from a quantized file is
 * int8 from the start and refuses on = 0 (VITC_ERR_UNSUPPORTED: it has no float weights). */
vitc_status vitc_model_set_int8(vitc_model *model, int on);
/* 0: float blocks; 1: int8 with per-token (dynamic) input scales; 2: int8 with calibrated (static) ones. */
int vitc_model_int8(const vitc_model *model);
/* on = 1 (an int8 model only, else VITC_ERR_ARG): attention's two products, Q.K^T and P.V, in int8
 * as well: per head, K quantized per key and V per channel (symmetric), the queries and the softmax
 * probabilities per row (u8 with a zero point); the softmax stays float. Quantized files record it
 * (vitc_model_save_int8). on = 0: float attention (the default). */
vitc_status vitc_model_set_int8_attention(vitc_model *model, int on);
int vitc_model_int8_attention(const vitc_model *model);
/* Writes the model with its blocks' Linear weights quantized (I8 tensors beside F32 per-channel
 * `<name>_scale` tensors; static: also `<name>.input_scale` from calibration, see
 * vitc_model_calibrate). The other tensors stay float. */
vitc_status vitc_model_save_int8(vitc_model *model, const char *path, int static_scales);
/* Static quantization's calibration: runs n preprocessed images (n x 3 x height x width) through the
 * float model and keeps, per block Linear layer, the largest |input| seen (accumulated over calls;
 * reset = 1 starts afresh). */
vitc_status vitc_model_calibrate(vitc_model *model, const float *images, int n, int height, int width, int reset);
/* Class name, or NULL when the model has none. */
const char *vitc_model_label(const vitc_model *model, int class_index);
/* Forward FLOPs per image at the given input size. */
double vitc_model_flops(const vitc_model *model, int height, int width);
void vitc_model_set_threads(vitc_model *model, int threads);

/* Runs n preprocessed images (n x 3 x height x width floats) and writes n x num_classes logits.
 * height and width must be multiples of the patch size; position embeddings are resampled
 * when they differ from the model's image size. */
vitc_status vitc_model_classify(vitc_model *model, const float *images, int n, int height, int width,
                                float *logits);
/* Pooled, normalized features before the head: n x dim floats. */
vitc_status vitc_model_embed(vitc_model *model, const float *images, int n, int height, int width,
                             float *features);

/* Tokens per image at an input size: T = prefix tokens (class, distillation, registers) +
 * (height / patch) * (width / patch); -1 when the size is not a positive multiple of the patch. */
int vitc_model_num_tokens(const vitc_model *model, int height, int width);
/* The final tokens: n x T x dim floats (T as vitc_model_num_tokens), prefix tokens first, then the
 * patches in row-major grid order. They are the final norm's output, or the raw residual stream
 * for models that normalize the pooled features instead (fc_norm, e.g. avg pool). */
vitc_status vitc_model_embed_tokens(vitc_model *model, const float *images, int n, int height, int width,
                                    float *tokens);

/* Attention maps over the patch grid: n x (height / patch) x (width / patch) floats.
 * rollout 0: the last block's attention. With a class token, the class token's query row over the
 *   patch keys (prefix tokens left out); without one, the mean over the patch queries of their
 *   attention to the patch keys. Rows are softmax probabilities, so the values do not sum to 1
 *   over the patches when prefix tokens take a share.
 * rollout 1: attention rollout (Abnar & Zuidema 2020): per block A = attention averaged over the
 *   heads, A' = A + I with rows renormalized to sum 1, R = A'_L ... A'_1; the map is the class
 *   token's row of R over the patch columns (no class token: the mean of the patch rows).
 * head: 0..heads-1 takes that head's attention instead of the mean over heads (-1).
 * VITC_ERR_ARG when head is out of range; VITC_ERR_UNSUPPORTED for a model without blocks. */
vitc_status vitc_model_attention(vitc_model *model, const float *images, int n, int height, int width, int head,
                                 int rollout, float *maps);

/* ---------------------------------------------------------------- segmentation */
/* Segmentation models (info.task "segment"; class 0 is the background in vitc's scene models).
 * Per-patch class scores: n x classes x (height/P) x (width/P), the head's output before upsampling. */
vitc_status vitc_model_segment_grid(vitc_model *model, const float *images, int n, int height, int width,
                                    float *grid);
/* The scores upsampled bilinearly (align_corners=False) to the input: scores (n x classes x height x
 * width, may be NULL) and the per-pixel arg max mask (n x height x width class indices, may be NULL). */
vitc_status vitc_model_segment(vitc_model *model, const float *images, int n, int height, int width,
                               float *scores, uint8_t *mask);
/* One image, preprocessed as the model says, its scores mapped back through the resize and crop
 * onto the image itself: scores (classes x h x w, may be NULL), mask (h x w, may be NULL). */
vitc_status vitc_model_segment_image(vitc_model *model, const vitc_image *image, float *scores, uint8_t *mask);

/* ---------------------------------------------------------------- detection */
/* Detection models (info.task "detect": YOLOS, HF YolosForObjectDetection or vitc's own). Raw head
 * outputs per detection token: logits n x tokens x (classes + 1), "no object" last (may be NULL), and
 * boxes n x tokens x 4, normalized (cx, cy, w, h) after the sigmoid (may be NULL). The number of
 * tokens is vitc_model_info's det_tokens. */
vitc_status vitc_model_detect_raw(vitc_model *model, const float *images, int n, int height, int width,
                                  float *logits, float *boxes);

typedef struct vitc_detection {
    int label;      /* class index, 0..classes-1 (vitc_model_label names it) */
    float score;    /* the class's softmax probability (over classes + "no object") */
    float box[4];   /* x0, y0, x1, y1 in the original image's pixels */
} vitc_detection;

/* One image, preprocessed as the model says, then HF's post_process_object_detection: softmax, the
 * best real class per token, tokens scoring above threshold kept, boxes to corners in the image's
 * pixels. Writes at most max_dets detections (best score first; equal scores in token order) and their
 * number in *n_out (at most the model's det_tokens). */
vitc_status vitc_model_detect(vitc_model *model, const vitc_image *image, float threshold, vitc_detection *dets,
                              int max_dets, int *n_out);

/* ---------------------------------------------------------------- helpers */
/* sizeof of vitc_preprocess_params, vitc_load_params, vitc_model_info and vitc_detection, in that
 * order (bindings that copy the layouts check them). */
void vitc_abi_sizes(size_t sizes[4]);
/* Softmax over n logits, then the k best: indices in idx[k], probabilities in prob[k]. */
void vitc_topk(const float *logits, int n, int k, int *idx, float *prob);

#ifdef __cplusplus
}
#endif
#endif /* VITC_H */
