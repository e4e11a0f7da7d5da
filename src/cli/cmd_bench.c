/* vitc bench MODEL: load time, latency per image, throughput, GFLOP/s and peak memory of the
 * forward pass on random normalized input of the model's size (or --size). */
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "core/json.h"
#include "kernels/kernels.h"
#include "vitc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The CPU's model name (/proc/cpuinfo; "unknown" elsewhere) and the SIMD extensions the kernel
 * sets use that it has, so every result says which machine gave it. */
static void cpu_desc(char *model, size_t nm, char *isa, size_t ni) {
    snprintf(model, nm, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            const char *c = strchr(line, ':');
            if (strncmp(line, "model name", 10) || !c) continue;
            snprintf(model, nm, "%s", c + 1 + (c[1] == ' '));
            model[strcspn(model, "\n")] = 0;
            break;
        }
        fclose(f);
    }
    isa[0] = 0;
#if defined(__x86_64__) || defined(__i386__)
    static const char *const names[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512bf16"};
    __builtin_cpu_init();
    const int has[] = {__builtin_cpu_supports("avx2"), __builtin_cpu_supports("fma"), __builtin_cpu_supports("avx512f"),
                       __builtin_cpu_supports("avx512bw"), __builtin_cpu_supports("avx512dq"),
                       __builtin_cpu_supports("avx512vl"), __builtin_cpu_supports("avx512bf16")};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (has[i]) snprintf(isa + strlen(isa), ni - strlen(isa), "%s%s", isa[0] ? " " : "", names[i]);
#endif
    if (!isa[0]) snprintf(isa, ni, "none");
}

/* Peak resident set size in MB (10^6 bytes, like file_mb): VmHWM from /proc when available, else getrusage. */
static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kb = -1;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmHWM:", 6)) {
                kb = strtol(line + 6, NULL, 10);
                break;
            }
        fclose(f);
        if (kb >= 0) return kb * 1024.0 / 1e6;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1;
    return ru.ru_maxrss * 1024.0 / 1e6; /* kilobytes on Linux */
}

/* Uniform pixels in [0, 1] normalized with the model's mean and std, from a fixed xorshift seed. */
static void random_input(float *x, int n, int chans, int size, const vitc_preprocess_params *p) {
    uint64_t s = 0x9E3779B97F4A7C15ull;
    size_t plane = (size_t)size * size;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < chans; c++) {
            float mean = p->mean[c < 3 ? c : 2], std = p->std[c < 3 ? c : 2];
            float *dst = x + ((size_t)b * chans + c) * plane;
            for (size_t i = 0; i < plane; i++) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                float u = (float)(s >> 40) / (float)(1u << 24);
                dst[i] = (u - mean) / std;
            }
        }
}

int cmd_bench(int argc, char **argv) {
    vt_model_opts mo;
    int batch = 1, iters = 10, warmup = 2, json = 0, bf16 = 0;
    enum { N_OPTS = VT_MODEL_OPTS_COUNT + 5 };
    vt_option opts[N_OPTS];
    vt_model_opts_bind(&mo, opts);
    opts[VT_MODEL_OPTS_COUNT + 0] = (vt_option){"batch", VT_OPT_INT, &batch, "images per forward pass (default 1)", 0};
    opts[VT_MODEL_OPTS_COUNT + 1] = (vt_option){"iters", VT_OPT_INT, &iters, "timed forward passes (default 10)", 0};
    opts[VT_MODEL_OPTS_COUNT + 2] =
        (vt_option){"warmup", VT_OPT_INT, &warmup, "untimed forward passes first (default 2)", 0};
    opts[VT_MODEL_OPTS_COUNT + 3] = (vt_option){"json", VT_OPT_FLAG, &json, "print one JSON object", 0};
    opts[VT_MODEL_OPTS_COUNT + 4] =
        (vt_option){"bf16", VT_OPT_FLAG, &bf16, "the blocks' products in bfloat16 (AVX512-BF16 CPUs)", 0};
    const char *pos[1];
    int npos;
    int r = vt_parse_args("bench",
                          "vitc bench MODEL [--batch N] [--threads N] [--iters N] [--warmup N] [--size N] [--bf16] [--json]\n"
                          "Times the forward pass on random normalized input (a model without a classifier: up to its pooled\n"
                          "output, as vitc embed); reports the median over --iters.",
                          argc, argv, opts, N_OPTS, pos, 1, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "vitc bench: needs exactly one MODEL (see vitc bench --help)\n");
        return 2;
    }
    if (batch <= 0 || batch > 4096) {
        fprintf(stderr, "vitc bench: --batch must be between 1 and 4096\n");
        return 2;
    }
    if (iters <= 0 || iters > 1000000) {
        fprintf(stderr, "vitc bench: --iters must be between 1 and 1000000\n");
        return 2;
    }
    if (warmup < 0 || warmup > 1000000) {
        fprintf(stderr, "vitc bench: --warmup must be between 0 and 1000000\n");
        return 2;
    }
    if (opts[4].seen && (mo.size <= 0 || mo.size > 8192)) {
        fprintf(stderr, "vitc bench: --size must be between 1 and 8192\n");
        return 2;
    }

    double t0 = now_ms();
    vitc_model *m = vt_model_opts_load("bench", pos[0], &mo, opts);
    if (!m) return 1;
    double load_ms = now_ms() - t0;

    vitc_model_info info;
    vitc_model_get_info(m, &info);
    vitc_preprocess_params pp; /* the model's preprocessing with --size/--mean/--std applied */
    if (vt_model_opts_preprocess("bench", m, &mo, opts, &pp)) {
        vitc_model_free(m);
        return 2;
    }
    int size = pp.size;
    if (size % info.patch_size) {
        fprintf(stderr, "vitc bench: --size %d is not a multiple of the patch size %d\n", size, info.patch_size);
        vitc_model_free(m);
        return 2;
    }
    int embed = info.num_classes <= 0; /* a feature model (CLIP, SigLIP, DINOv2 towers): its pooled output */
    if (opts[3].seen) vitc_model_set_threads(m, mo.threads);
    if (bf16 && vitc_model_set_bf16(m, 1)) {
        fprintf(stderr, "vitc bench: %s\n", vitc_last_error());
        vitc_model_free(m);
        return 1;
    }

    size_t in_floats = (size_t)batch * info.in_chans * size * size;
    float *input = malloc(sizeof(float) * in_floats);
    float *logits = malloc(sizeof(float) * (size_t)batch * (size_t)(embed ? info.dim : info.num_classes));
    double *times = malloc(sizeof(double) * (size_t)iters);
    if (!input || !logits || !times) {
        fprintf(stderr, "vitc bench: out of memory for batch %d at %dx%d\n", batch, size, size);
        free(input), free(logits), free(times);
        vitc_model_free(m);
        return 1;
    }
    random_input(input, batch, info.in_chans, size, &pp);

    int rc = 0;
    for (int i = 0; i < warmup + iters && !rc; i++) {
        double s = now_ms();
        vitc_status st = embed ? vitc_model_embed(m, input, batch, size, size, logits)
                               : vitc_model_classify(m, input, batch, size, size, logits);
        if (st != VITC_OK) {
            fprintf(stderr, "vitc bench: %s: %s\n", pos[0], vitc_last_error());
            rc = 1;
            break;
        }
        if (i >= warmup) times[i - warmup] = now_ms() - s;
    }
    if (!rc) {
        double total = 0, best = times[0];
        for (int i = 0; i < iters; i++) {
            total += times[i];
            if (times[i] < best) best = times[i];
        }
        double mean_ms = total / iters;
        double med = median(times, iters); /* sorts times */
        double ms_img = med / batch;
        double flops = vitc_model_flops(m, size, size);
        double gflops = flops * batch / (med * 1e-3) / 1e9;
        double ips = 1e3 / ms_img;
        double rss = peak_rss_mb();
        struct stat st;
        double file_mb = stat(pos[0], &st) == 0 ? st.st_size / 1e6 : -1;
        int threads = vt_get_threads(); /* the forward pass applied the model's thread count */
        char kernel[32];
        snprintf(kernel, sizeof kernel, "%s%s", vt_kernels_name(),
                 bf16 ? "+bf16" : vitc_model_int8_attention(m) ? "+int8+int8attn" : vitc_model_int8(m) ? "+int8" : "");
        char cpu[160], isa[96];
        cpu_desc(cpu, sizeof cpu, isa, sizeof isa);
        if (json) {
            vt_strbuf b = {0};
            vt_strbuf_append(&b, "{\"model\":", 9);
            vt_strbuf_json_string(&b, pos[0]);
            vt_strbuf_append(&b, ",\"name\":", 8);
            vt_strbuf_json_string(&b, info.name);
            vt_strbuf_append(&b, ",\"kernel\":", 10);
            vt_strbuf_json_string(&b, kernel);
            vt_strbuf_append(&b, ",\"cpu\":", 7);
            vt_strbuf_json_string(&b, cpu);
            vt_strbuf_append(&b, ",\"isa\":", 7);
            vt_strbuf_json_string(&b, isa);
            vt_strbuf_printf(&b,
                             ",\"size\":%d,\"batch\":%d,\"threads\":%d,\"iters\":%d,\"warmup\":%d,\"load_ms\":%.3f,"
                             "\"ms_per_image\":%.4f,\"ms_per_image_min\":%.4f,\"ms_per_image_mean\":%.4f,"
                             "\"ms_per_batch\":%.4f,\"images_per_second\":%.3f,\"flops_per_image\":%.6g,"
                             "\"gflops\":%.3f,\"peak_rss_mb\":%.2f,\"params\":%lld,\"params_f32_mb\":%.2f,"
                             "\"file_mb\":%.2f}",
                             size, batch, threads, iters, warmup, load_ms, ms_img, best / batch, mean_ms / batch, med,
                             ips, flops, gflops, rss, (long long)info.num_params, info.num_params * 4.0 / 1e6,
                             file_mb);
            if (!b.failed) printf("%s\n", b.data);
            else rc = 1, fprintf(stderr, "vitc bench: out of memory\n");
            vt_strbuf_free(&b);
        } else {
            printf("model:        %s (%s, %.2f M parameters)\n", pos[0], info.name, info.num_params / 1e6);
            printf("kernels:      %s, %d thread%s\n", kernel, threads, threads == 1 ? "" : "s");
            printf("cpu:          %s (%s)\n", cpu, isa);
            printf("input:        batch %d x %d x %d x %d, %d warm-up + %d timed passes\n", batch, info.in_chans, size,
                   size, warmup, iters);
            printf("load:         %.1f ms\n", load_ms);
            printf("latency:      %.3f ms per image (median; min %.3f, mean %.3f)\n", ms_img, best / batch,
                   mean_ms / batch);
            printf("throughput:   %.2f images/s, %.2f GFLOP/s (%.3f GFLOP per image)\n", ips, gflops, flops / 1e9);
            printf("peak RSS:     %.1f MB (parameters %.1f MB as f32)\n", rss, info.num_params * 4.0 / 1e6);
        }
    }
    free(input), free(logits), free(times);
    vitc_model_free(m);
    return rc;
}
