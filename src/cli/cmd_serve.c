/* vitc serve MODEL... : an HTTP server for the models (serve_http.c), their requests batched per
 * model (serve_batch.c). SIGTERM or SIGINT: no new connections, the requests in flight answered,
 * exit 0. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/model_opts.h"
#include "cli/serve_http.h"
#include "model/model.h"
#include "vitc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_MODELS = 16 };

int cmd_serve(int argc, char **argv) {
    vt_model_opts mo;
    const char *host = "127.0.0.1";
    int port = 8080, max_batch = 8, max_body = 16, max_mpix = 40;
    float window_ms = 3.0f;
    enum { OWN = 6 };
    vt_option opts[VT_MODEL_OPTS_COUNT + OWN];
    vt_model_opts_bind(&mo, opts);
    vt_option own[OWN] = {
        {"host", VT_OPT_STRING, &host, "address to listen on (default 127.0.0.1)", 0},
        {"port", VT_OPT_INT, &port, "TCP port (default 8080; 0: any free port, printed at start)", 0},
        {"max-batch", VT_OPT_INT, &max_batch, "most classify/embed requests of one model in one forward pass (default 8)", 0},
        {"batch-wait", VT_OPT_FLOAT, &window_ms, "milliseconds a request waits for others to share its batch (default 3)", 0},
        {"max-body", VT_OPT_INT, &max_body, "largest request body in MB (default 16)", 0},
        {"max-pixels", VT_OPT_INT, &max_mpix, "largest image in megapixels, checked on the header before decoding "
                                              "(default 40)", 0},
    };
    memcpy(opts + VT_MODEL_OPTS_COUNT, own, sizeof own);
    vt_cli_passive_omp(argv - 1); /* idle OpenMP threads must not spin between requests */
    const char *pos[MAX_MODELS + 1];
    int npos;
    int r = vt_parse_args("serve",
                          "vitc serve MODEL... [--host ADDR] [--port N] [--threads N] [--max-batch B] [--batch-wait MS]\n"
                          "           [--max-body MB] [--max-pixels MP]\n"
                          "An HTTP server for the models (the first is the default; ?model=NAME picks another by its\n"
                          "file name without .safetensors):\n"
                          "  POST /v1/classify [?top=K&logits=1]   POST /v1/embed   POST /v1/detect [?threshold=T&top=K]\n"
                          "  POST /v1/segment [?format=png or Accept: image/png for the class-index mask, else JSON]\n"
                          "  GET /v1/models   GET /health\n"
                          "The body is the image's bytes (JPEG, PNG or PNM) or a multipart/form-data form with the\n"
                          "image as a file. Answers are the JSON objects of the CLI's --json; errors {\"error\": ...}\n"
                          "with a 4xx status. SIGTERM or SIGINT drains the requests in flight and exits 0.\n"
                          "The model options (--threads, --labels, the preprocessing flags) apply to every MODEL.",
                          argc, argv, opts, VT_MODEL_OPTS_COUNT + OWN, pos, MAX_MODELS + 1, &npos);
    if (r) return r == 1 ? 0 : 2;
    if (npos < 1) {
        fprintf(stderr, "vitc serve: needs at least one MODEL (see vitc serve --help)\n");
        return 2;
    }
    if (npos > MAX_MODELS) {
        fprintf(stderr, "vitc serve: at most %d models\n", MAX_MODELS);
        return 2;
    }
    if (port < 0 || port > 65535 || max_batch < 1 || max_batch > 256 || max_body < 1 || max_body > 1024 ||
        max_mpix < 1 || max_mpix > 1024 || !(window_ms >= 0.0f && window_ms <= 1000.0f)) {
        fprintf(stderr, "vitc serve: --port 0..65535, --max-batch 1..256, --max-body 1..1024, --max-pixels 1..1024, "
                        "--batch-wait 0..1000\n");
        return 2;
    }
    /* Blocked before anything starts a thread (the kernels' pool may start while a model loads;
     * libmicrohttpd's and the workers' threads later): every thread inherits the mask, so SIGTERM
     * and SIGINT reach only sigwait below. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    vt_served_model models[MAX_MODELS];
    char names[MAX_MODELS][256];
    memset(models, 0, sizeof models);
    int n = 0, rc = 1;
    for (; n < npos; n++) {
        vt_served_model *s = &models[n];
        vt_cli_file_stem(pos[n], names[n], sizeof names[n]);
        for (int k = 0; k < n; k++)
            if (!strcmp(names[k], names[n])) {
                fprintf(stderr, "vitc serve: two models named '%s' (%s and %s): ?model= could not tell them apart\n",
                        names[n], pos[k], pos[n]);
                goto out;
            }
        s->name = names[n];
        s->path = pos[n];
        s->max_batch = max_batch;
        s->window = window_ms * 1e-3;
        if (!(s->model = vt_model_opts_load("serve", pos[n], &mo, opts))) goto out;
        /* segment and detect read the model's own preprocessing, classify and embed s->pp: both get the flags */
        if (vt_model_opts_preprocess("serve", s->model, &mo, opts, &s->model->pre)) {
            vitc_model_free(s->model);
            goto out;
        }
        vitc_model_get_info(s->model, &s->info);
        s->pp = s->model->pre;
    }
    int started = 0;
    for (; started < n; started++)
        if (vt_served_start(&models[started])) {
            fprintf(stderr, "vitc serve: %s: out of memory for batches of %d\n", models[started].path, max_batch);
            goto stop;
        }
    vt_server srv = {.models = models, .n_models = n, .max_body = (size_t)max_body << 20,
                     .max_pixels = (uint64_t)max_mpix * 1000000u};
    int bound;
    if (vt_http_start(&srv, host, port, &bound)) goto stop;
    printf("vitc serve: listening on http://%s:%d (%d model%s, default %s)\n", host, bound, n, n == 1 ? "" : "s",
           models[0].name);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "vitc serve: %s: finishing the requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    vt_http_drain_stop(&srv, 60.0);
    rc = 0;
stop:
    for (int i = 0; i < started; i++) vt_served_stop(&models[i]);
out:
    for (int i = 0; i < n; i++) vitc_model_free(models[i].model);
    return rc;
}
