/* vitc serve's HTTP side (see serve_http.h). libmicrohttpd runs one thread per connection, so a
 * handler may block while the model's worker runs its job; the decoding and preprocessing happen
 * in those threads, in parallel, and only the forward passes queue up on the workers. */
#include "cli/serve_http.h"
#include "cli/json_out.h"
#include "core/json.h"
#include "image/image.h"

#include <microhttpd.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum route { R_HEALTH, R_MODELS, R_CLASSIFY, R_EMBED, R_SEGMENT, R_DETECT };

typedef struct request {
    enum route route;
    int post;                 /* a POST route (the body is read) */
    int answered;             /* a response was queued at the first call (an early error) */
    uint8_t *body;            /* the raw body, or the multipart form's image part */
    size_t len, cap, raw;     /* raw: bytes received in all */
    int too_big, bad_form, nomem;
    struct MHD_PostProcessor *form;
    char *part_key, *filename;/* the form part taken as the image */
    int part_done;
} request;

static int append(request *r, const char *data, size_t n) {
    if (n > r->cap - r->len) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap - r->len < n) cap *= 2;
        uint8_t *b = realloc(r->body, cap);
        if (!b) return -1;
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 0;
}

/* ---------------------------------------------------------------- responses */

static enum MHD_Result send_buf(vt_server *srv, struct MHD_Connection *c, unsigned code, const char *type,
                                void *data, size_t len) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    pthread_mutex_lock(&srv->lock);
    if (code >= 500) srv->server_errors++;
    else if (code >= 400) srv->client_errors++;
    int draining = srv->draining;
    pthread_mutex_unlock(&srv->lock);
    if (draining) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(vt_server *srv, struct MHD_Connection *c, unsigned code, vt_strbuf *b) {
    if (b->failed || !b->data) {
        vt_strbuf_free(b);
        static const char oom[] = "{\"error\":\"out of memory\"}";
        return send_buf(srv, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", strdup(oom), sizeof oom - 1);
    }
    vt_strbuf_append(b, "\n", 1);
    return send_buf(srv, c, code, "application/json", b->data, b->len);
}

static enum MHD_Result send_error(vt_server *srv, struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(vt_server *srv, struct MHD_Connection *c, unsigned code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vt_strbuf b = {0};
    vt_strbuf_append(&b, "{\"error\":", 9);
    vt_strbuf_json_string(&b, msg);
    vt_strbuf_append(&b, "}", 1);
    return send_json(srv, c, code, &b);
}

/* The C API's message for a bad image, without the "<memory>: " name vitc_image_decode gives it. */
static const char *image_error(const char *msg) {
    static const char prefix[] = "<memory>: ";
    return strncmp(msg, prefix, sizeof prefix - 1) ? msg : msg + sizeof prefix - 1;
}

static unsigned status_code(vitc_status s) {
    switch (s) {
    case VITC_ERR_LIMIT: return MHD_HTTP_CONTENT_TOO_LARGE;
    case VITC_ERR_UNSUPPORTED: return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    case VITC_ERR_NOMEM:
    case VITC_ERR_IO: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    default: return MHD_HTTP_BAD_REQUEST;
    }
}

/* ---------------------------------------------------------------- GET routes */

static const char *task_noun(const char *task) {
    return !strcmp(task, "segment") ? "segmentation" : !strcmp(task, "detect") ? "detection" : "classification";
}

static enum MHD_Result get_models(vt_server *srv, struct MHD_Connection *c) {
    vt_strbuf b = {0};
    vt_strbuf_append(&b, "{\"models\":[", 11);
    for (int i = 0; i < srv->n_models; i++) {
        vt_served_model *s = &srv->models[i];
        int64_t passes, images;
        vt_served_stats(s, &passes, &images);
        vt_strbuf_printf(&b, "%s{\"name\":", i ? "," : "");
        vt_strbuf_json_string(&b, s->name);
        vt_strbuf_append(&b, ",\"path\":", 8);
        vt_strbuf_json_string(&b, s->path);
        vt_strbuf_append(&b, ",\"arch\":", 8);
        vt_strbuf_json_string(&b, s->info.name);
        vt_strbuf_append(&b, ",\"task\":", 8);
        vt_strbuf_json_string(&b, s->info.task);
        vt_strbuf_printf(&b, ",\"default\":%s,\"image_size\":%d,\"classes\":%d,\"dim\":%d,\"max_batch\":%d,"
                             "\"forward_passes\":%lld,\"batched_images\":%lld}",
                         i ? "false" : "true", s->info.image_size, s->info.num_classes, s->info.dim, s->max_batch,
                         (long long)passes, (long long)images);
    }
    vt_strbuf_append(&b, "]}", 2);
    return send_json(srv, c, MHD_HTTP_OK, &b);
}

static enum MHD_Result get_health(vt_server *srv, struct MHD_Connection *c) {
    vt_strbuf b = {0};
    pthread_mutex_lock(&srv->lock);
    vt_strbuf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\",\"models\":%d,\"in_flight\":%d,\"requests\":%lld,"
                         "\"client_errors\":%lld,\"server_errors\":%lld}",
                     vitc_version(), srv->n_models, srv->in_flight - 1 /* not this one */, (long long)srv->requests,
                     (long long)srv->client_errors, (long long)srv->server_errors);
    pthread_mutex_unlock(&srv->lock);
    return send_json(srv, c, MHD_HTTP_OK, &b);
}

/* ---------------------------------------------------------------- query arguments */

/* An integer argument in [lo, hi] (absent: fallback); -1 after answering 400. */
static int int_arg(vt_server *srv, struct MHD_Connection *c, const char *key, int lo, int hi, int fallback, int *out) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v) {
        *out = fallback;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        send_error(srv, c, MHD_HTTP_BAD_REQUEST, "?%s= must be an integer from %d to %d (got '%s')", key, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int float_arg(vt_server *srv, struct MHD_Connection *c, const char *key, float lo, float hi, float fallback,
                     float *out) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    if (!v) {
        *out = fallback;
        return 0;
    }
    char *end;
    float x = strtof(v, &end);
    if (!*v || *end || !(x >= lo && x <= hi)) {
        send_error(srv, c, MHD_HTTP_BAD_REQUEST, "?%s= must be a number from %g to %g (got '%s')", key, (double)lo,
                   (double)hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* The model ?model= names (default the first); NULL after answering 404. */
static vt_served_model *pick_model(vt_server *srv, struct MHD_Connection *c) {
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model");
    if (!name) return &srv->models[0];
    for (int i = 0; i < srv->n_models; i++)
        if (!strcmp(srv->models[i].name, name)) return &srv->models[i];
    send_error(srv, c, MHD_HTTP_NOT_FOUND, "unknown model '%s' (GET /v1/models lists them)", name);
    return NULL;
}

/* ---------------------------------------------------------------- POST routes */

static int wants_png(struct MHD_Connection *c) {
    const char *f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    if (f) return !strcmp(f, "png");
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    return accept && strstr(accept, "image/png");
}

static enum MHD_Result run_model(vt_server *srv, struct MHD_Connection *c, request *r) {
    vt_served_model *s = pick_model(srv, c);
    if (!s) return MHD_YES;
    const char *want = r->route == R_CLASSIFY ? "classify" : r->route == R_SEGMENT ? "segment"
                       : r->route == R_DETECT ? "detect" : NULL;
    if (want && strcmp(s->info.task, want))
        return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "model '%s' is a %s model, not a %s model (POST /v1/%s)",
                          s->name, task_noun(s->info.task), task_noun(want), s->info.task);
    if (r->route == R_CLASSIFY && !s->info.num_classes)
        return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "model '%s' has no classification head (use /v1/embed)",
                          s->name);
    if ((r->route == R_CLASSIFY || r->route == R_EMBED) && s->info.in_chans != 3)
        return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "model '%s' takes %d channels, not an RGB image", s->name,
                          s->info.in_chans);
    int top = 0;
    float threshold = 0.5f;
    /* top above the number of classes gives them all, as vitc classify --top does */
    if (r->route == R_CLASSIFY && int_arg(srv, c, "top", 1, 1 << 20, 5, &top))
        return MHD_YES;
    if (r->route == R_DETECT && (int_arg(srv, c, "top", 1, 10000, 100, &top) ||
                                 float_arg(srv, c, "threshold", 0.0f, 1.0f, 0.5f, &threshold)))
        return MHD_YES;
    if (r->form && !r->part_key)
        return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "multipart body without an image part (a file, or a field "
                                                       "named image)");
    if (!r->len) return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "empty body: POST the image's bytes");
    /* The declared size first: a small file can declare a huge image. */
    uint64_t w = 0, h = 0;
    if (!vt_image_dims(r->body, r->len, &w, &h) && w * h > srv->max_pixels)
        return send_error(srv, c, MHD_HTTP_CONTENT_TOO_LARGE, "image of %llux%llu pixels exceeds the limit of %llu "
                                                             "pixels (--max-pixels)",
                          (unsigned long long)w, (unsigned long long)h, (unsigned long long)srv->max_pixels);
    vitc_image *img = NULL;
    vitc_status st = vitc_image_decode(r->body, r->len, &img);
    if (st) return send_error(srv, c, status_code(st), "%s", image_error(vitc_last_error()));
    int W = vitc_image_width(img), H = vitc_image_height(img), S = s->pp.size;
    vt_job job = {0};
    job.kind = r->route == R_CLASSIFY ? VT_JOB_CLASSIFY : r->route == R_EMBED ? VT_JOB_EMBED
               : r->route == R_SEGMENT ? VT_JOB_SEGMENT : VT_JOB_DETECT;
    float *x = NULL;
    enum MHD_Result rc;
    if (job.kind == VT_JOB_CLASSIFY || job.kind == VT_JOB_EMBED) {
        x = malloc(sizeof(float) * 3 * (size_t)S * S);
        job.out = malloc(sizeof(float) * (size_t)(job.kind == VT_JOB_CLASSIFY ? s->info.num_classes : s->info.dim));
        if (!x || !job.out) st = VITC_ERR_NOMEM;
        else if ((st = vitc_preprocess(img, &s->pp, x))) snprintf(job.error, sizeof job.error, "%s", vitc_last_error());
        job.x = x;
    } else if (job.kind == VT_JOB_SEGMENT) {
        job.img = img;
        if (!(job.mask = malloc((size_t)W * H))) st = VITC_ERR_NOMEM;
    } else {
        job.img = img;
        job.threshold = threshold;
        job.max_dets = top;
        if (!(job.dets = malloc(sizeof *job.dets * (size_t)top))) st = VITC_ERR_NOMEM;
    }
    if (!st) {
        vt_served_submit(s, &job);
        st = job.status;
    }
    const char *file = r->filename;
    if (st) {
        rc = st == VITC_ERR_NOMEM && !job.error[0] ? send_error(srv, c, 500, "out of memory")
                                                   : send_error(srv, c, status_code(st), "%s", job.error);
    } else if (job.kind == VT_JOB_CLASSIFY) {
        vt_strbuf b = {0};
        vt_json_classify(&b, s->model, file, -1, job.out, s->info.num_classes, top,
                         MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "logits") != NULL);
        rc = send_json(srv, c, MHD_HTTP_OK, &b);
    } else if (job.kind == VT_JOB_EMBED) {
        vt_strbuf b = {0};
        vt_json_embed(&b, file, -1, job.out, s->info.dim, -1);
        rc = send_json(srv, c, MHD_HTTP_OK, &b);
    } else if (job.kind == VT_JOB_SEGMENT && wants_png(c)) {
        uint8_t *png;
        size_t len;
        if (vt_png_encode(W, H, 1, job.mask, &png, &len)) rc = send_error(srv, c, 500, "%s", vitc_last_error());
        else rc = send_buf(srv, c, MHD_HTTP_OK, "image/png", png, len);
    } else if (job.kind == VT_JOB_SEGMENT) {
        int C = s->info.num_classes;
        int64_t *area = calloc((size_t)C, sizeof *area);
        if (!area) rc = send_error(srv, c, 500, "out of memory");
        else {
            for (size_t p = 0; p < (size_t)W * H; p++) area[job.mask[p]]++;
            vt_strbuf b = {0};
            vt_json_segment(&b, s->model, file, W, H, NULL, NULL, area, C);
            rc = send_json(srv, c, MHD_HTTP_OK, &b);
            free(area);
        }
    } else {
        vt_strbuf b = {0};
        vt_json_detect(&b, s->model, file, W, H, NULL, job.dets, job.n_dets);
        rc = send_json(srv, c, MHD_HTTP_OK, &b);
    }
    free(x);
    free(job.out);
    free(job.mask);
    free(job.dets);
    vitc_image_free(img);
    return rc;
}

/* ---------------------------------------------------------------- multipart bodies */

/* The first part with a file name, or the field named "image" or "file", is the image. */
static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size) {
    request *r = cls;
    if (r->part_done) return MHD_YES;
    if (!r->part_key) {
        if (!(filename || !strcmp(key, "image") || !strcmp(key, "file"))) return MHD_YES;
        r->part_key = strdup(key);
        r->filename = filename ? strdup(filename) : NULL;
        if (!r->part_key || (filename && !r->filename)) {
            r->nomem = 1;
            return MHD_NO;
        }
    } else if (strcmp(key, r->part_key) || (off == 0 && r->len)) { /* the next part: the image is complete */
        r->part_done = 1;
        return MHD_YES;
    }
    if (size && append(r, data, size)) {
        r->nomem = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

/* ---------------------------------------------------------------- the handler */

static int route_of(const char *url, enum route *out) {
    static const struct {
        const char *path;
        enum route r;
    } routes[] = {{"/health", R_HEALTH},       {"/v1/models", R_MODELS}, {"/v1/classify", R_CLASSIFY},
                  {"/v1/embed", R_EMBED},      {"/v1/segment", R_SEGMENT}, {"/v1/detect", R_DETECT}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i].path)) {
            *out = routes[i].r;
            return 0;
        }
    return -1;
}

static enum MHD_Result method_not_allowed(vt_server *srv, struct MHD_Connection *c, const char *method,
                                          const char *url, const char *allow) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s is not allowed on %s (allowed: %s)", method, url, allow);
    vt_strbuf b = {0};
    vt_strbuf_append(&b, "{\"error\":", 9);
    vt_strbuf_json_string(&b, msg);
    vt_strbuf_append(&b, "}\n", 2);
    if (b.failed) {
        vt_strbuf_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        vt_strbuf_free(&b);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    pthread_mutex_lock(&srv->lock);
    srv->client_errors++;
    pthread_mutex_unlock(&srv->lock);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The first call sees the headers: the route, the method and the declared length are checked there,
 * and errors answered before any of the body is read. Later calls bring the body; the last (no data)
 * runs the request. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
    vt_server *srv = cls;
    request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *con_cls = r;
        pthread_mutex_lock(&srv->lock);
        srv->in_flight++;
        srv->requests++;
        pthread_mutex_unlock(&srv->lock);
        r->answered = 1; /* unless it turns out to need its body */
        if (route_of(url, &r->route))
            return send_error(srv, c, MHD_HTTP_NOT_FOUND, "no such route: %s (see GET /v1/models, POST /v1/classify, "
                                                         "/v1/embed, /v1/segment, /v1/detect)", url);
        int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
        if (r->route == R_HEALTH || r->route == R_MODELS) {
            if (!get) return method_not_allowed(srv, c, method, url, "GET, HEAD");
            return r->route == R_HEALTH ? get_health(srv, c) : get_models(srv, c);
        }
        if (strcmp(method, MHD_HTTP_METHOD_POST)) return method_not_allowed(srv, c, method, url, "POST");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > srv->max_body)
            return send_error(srv, c, MHD_HTTP_CONTENT_TOO_LARGE, "body of %s bytes exceeds the limit of %zu bytes "
                                                                 "(--max-body)", cl, srv->max_body);
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (type && !strncasecmp(type, "multipart/form-data", 19)) {
            r->form = MHD_create_post_processor(c, 65536, form_part, r);
            if (!r->form) return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "malformed multipart/form-data header");
        }
        r->answered = 0;
        r->post = 1;
        return MHD_YES;
    }
    if (r->answered) { /* an early error was sent: the rest of the body is dropped */
        *data_size = 0;
        return MHD_YES;
    }
    if (*data_size) {
        r->raw += *data_size;
        if (r->raw > srv->max_body) r->too_big = 1;
        else if (!r->too_big && !r->bad_form && !r->nomem) {
            if (r->form) {
                if (MHD_post_process(r->form, data, *data_size) != MHD_YES && !r->nomem) r->bad_form = 1;
            } else if (append(r, data, *data_size)) {
                r->nomem = 1;
            }
        }
        *data_size = 0;
        return MHD_YES;
    }
    r->answered = 1;
    if (r->too_big)
        return send_error(srv, c, MHD_HTTP_CONTENT_TOO_LARGE, "body exceeds the limit of %zu bytes (--max-body)",
                          srv->max_body);
    if (r->nomem) return send_error(srv, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (r->bad_form) return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "malformed multipart/form-data body");
    return run_model(srv, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    vt_server *srv = cls;
    request *r = *con_cls;
    if (!r) return;
    if (r->form) MHD_destroy_post_processor(r->form);
    free(r->body);
    free(r->part_key);
    free(r->filename);
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&srv->lock);
    if (--srv->in_flight == 0) pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->lock);
}

/* ---------------------------------------------------------------- start and stop */

int vt_http_start(vt_server *srv, const char *host, int port, int *bound_port) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    int e = getaddrinfo(host, ports, &hints, &ai);
    if (e) {
        fprintf(stderr, "vitc serve: cannot resolve --host %s: %s\n", host, gai_strerror(e));
        return -1;
    }
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->idle, NULL);
    srv->in_flight = srv->draining = 0;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                                   MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        fprintf(stderr, "vitc serve: cannot listen on %s:%d (%s)\n", host, port,
                errno ? strerror(errno) : "libmicrohttpd refused");
        pthread_mutex_destroy(&srv->lock);
        pthread_cond_destroy(&srv->idle);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : port;
    return 0;
}

void vt_http_drain_stop(vt_server *srv, double timeout) {
    int fd = MHD_quiesce_daemon(srv->daemon); /* no new connections from here on */
    if (fd >= 0) close(fd);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)timeout;
    pthread_mutex_lock(&srv->lock);
    srv->draining = 1;
    while (srv->in_flight > 0)
        if (pthread_cond_timedwait(&srv->idle, &srv->lock, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&srv->lock);
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->idle);
}
