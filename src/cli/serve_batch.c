/* vitc serve's batching queue (see serve_batch.h). */
#include "cli/serve_batch.h"
#include "cli/cli_util.h"
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fail(vt_job *j, vitc_status s) {
    j->status = s;
    snprintf(j->error, sizeof j->error, "%s", vitc_last_error());
}

static size_t out_width(const vt_served_model *s, vt_job_kind k) {
    return k == VT_JOB_CLASSIFY ? (size_t)s->info.num_classes : (size_t)s->info.dim;
}

/* Takes up to max_batch queued jobs of kind k off the queue (in order) into jobs; returns how many. */
static int take(vt_served_model *s, vt_job_kind k, vt_job **jobs, int have) {
    vt_job **link = &s->head, *prev = NULL;
    while (*link && have < s->max_batch) {
        vt_job *j = *link;
        if (j->kind == k) {
            *link = j->next;
            if (s->tail == j) s->tail = prev;
            j->next = NULL;
            jobs[have++] = j;
        } else {
            prev = j;
            link = &j->next;
        }
    }
    return have;
}

static void abs_deadline(double from_now, struct timespec *ts) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    double sec = floor(from_now), ns = (from_now - sec) * 1e9;
    ts->tv_sec += (time_t)sec;
    ts->tv_nsec += (long)ns;
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

/* One batched forward pass of n classify or embed jobs (called without the lock). */
static void run_batch(vt_served_model *s, vt_job **jobs, int n) {
    int S = s->pp.size;
    size_t in = (size_t)3 * S * S, ow = out_width(s, jobs[0]->kind);
    for (int i = 0; i < n; i++) memcpy(s->batch_in + in * i, jobs[i]->x, sizeof(float) * in);
    vitc_status st = jobs[0]->kind == VT_JOB_CLASSIFY
                         ? vitc_model_classify(s->model, s->batch_in, n, S, S, s->batch_out)
                         : vitc_model_embed(s->model, s->batch_in, n, S, S, s->batch_out);
    for (int i = 0; i < n; i++) {
        if (st) fail(jobs[i], st);
        else memcpy(jobs[i]->out, s->batch_out + ow * i, sizeof(float) * ow);
    }
}

/* Segment jobs of a segmentation model: each image preprocessed as the model says into the batch, one
 * batched pass for the per-patch scores, then each image's scores mapped back onto it (what
 * vitc_model_segment_image does for one image). */
static void run_segment_batch(vt_served_model *s, vt_job **jobs, int n) {
    const vitc_preprocess_params *pp = &s->info.preprocess;
    int S = pp->size, P = s->info.patch_size, C = s->info.num_classes, k = 0;
    size_t in = (size_t)3 * S * S, cells = (size_t)C * (S / P) * (S / P);
    vt_job *ok[n];
    for (int i = 0; i < n; i++) {
        vitc_status st = vitc_preprocess(jobs[i]->img, pp, s->batch_in + in * k);
        if (st) fail(jobs[i], st);
        else ok[k++] = jobs[i];
    }
    if (!k) return;
    vitc_status st = vitc_model_segment_grid(s->model, s->batch_in, k, S, S, s->batch_grid);
    for (int i = 0; i < k; i++) {
        if (!st) {
            vitc_status sm = vt_segment_map_back(s->model, s->batch_grid + cells * i, vitc_image_width(ok[i]->img),
                                                 vitc_image_height(ok[i]->img), NULL, ok[i]->mask);
            if (sm) fail(ok[i], sm);
        } else {
            fail(ok[i], st);
        }
    }
}

static void run_single(vt_served_model *s, vt_job *j) {
    vitc_status st = j->kind == VT_JOB_SEGMENT
                         ? vitc_model_segment_image(s->model, j->img, NULL, j->mask)
                         : vitc_model_detect(s->model, j->img, j->threshold, j->dets, j->max_dets, &j->n_dets);
    if (st) fail(j, st);
}

static void *worker(void *arg) {
    vt_served_model *s = arg;
    vt_job *jobs[s->max_batch]; /* at most 256 (vitc serve checks --max-batch) */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stop) pthread_cond_wait(&s->work, &s->lock);
        if (!s->head) break; /* stopping, nothing left */
        vt_job *first = s->head;
        int n;
        if (first->kind == VT_JOB_CLASSIFY || first->kind == VT_JOB_EMBED || (first->kind == VT_JOB_SEGMENT && s->batch_grid)) {
            /* Wait for companions until the first job has waited `window` in all: under load the
             * queue already holds them and nobody waits. */
            n = take(s, first->kind, jobs, 0);
            while (n < s->max_batch && !s->stop) {
                double left = first->queued + s->window - vt_cli_now();
                if (left <= 0) break;
                struct timespec ts;
                abs_deadline(left, &ts);
                int rc = pthread_cond_timedwait(&s->work, &s->lock, &ts);
                n = take(s, first->kind, jobs, n);
                if (rc == ETIMEDOUT) break;
            }
            pthread_mutex_unlock(&s->lock);
            if (first->kind == VT_JOB_SEGMENT) run_segment_batch(s, jobs, n);
            else run_batch(s, jobs, n);
            pthread_mutex_lock(&s->lock);
            s->passes++;
            s->images += n;
        } else {
            s->head = first->next;
            if (!s->head) s->tail = NULL;
            jobs[0] = first;
            n = 1;
            pthread_mutex_unlock(&s->lock);
            run_single(s, first);
            pthread_mutex_lock(&s->lock);
        }
        for (int i = 0; i < n; i++) jobs[i]->done = 1;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int vt_served_start(vt_served_model *s) {
    size_t S = (size_t)s->pp.size, ow = (size_t)(s->info.num_classes > s->info.dim ? s->info.num_classes : s->info.dim);
    int seg = !strcmp(s->info.task, "segment") && s->info.patch_size > 0 && s->info.preprocess.size % s->info.patch_size == 0;
    if (seg && (size_t)s->info.preprocess.size > S) S = (size_t)s->info.preprocess.size; /* segment's own size */
    s->batch_in = malloc(sizeof(float) * 3 * S * S * (size_t)s->max_batch);
    s->batch_out = malloc(sizeof(float) * ow * (size_t)s->max_batch);
    s->batch_grid = NULL;
    if (seg) { /* per-patch scores of a batch of segment jobs */
        size_t g = (size_t)s->info.preprocess.size / (size_t)s->info.patch_size;
        if (!(s->batch_grid = malloc(sizeof(float) * (size_t)s->info.num_classes * g * g * (size_t)s->max_batch))) goto fail;
    }
    s->head = s->tail = NULL;
    s->stop = 0;
    s->passes = s->images = 0;
    if (!s->batch_in || !s->batch_out) goto fail;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the window is measured on vt_cli_now's clock */
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, &ca);
    pthread_cond_init(&s->done, NULL);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, worker, s)) {
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
        goto fail;
    }
    s->started = 1;
    return 0;
fail:
    free(s->batch_in);
    free(s->batch_out);
    free(s->batch_grid);
    s->batch_in = s->batch_out = s->batch_grid = NULL;
    return -1;
}

void vt_served_submit(vt_served_model *s, vt_job *job) {
    job->done = 0;
    job->status = VITC_OK;
    job->error[0] = 0;
    job->next = NULL;
    job->queued = vt_cli_now();
    pthread_mutex_lock(&s->lock);
    if (s->tail) s->tail->next = job;
    else s->head = job;
    s->tail = job;
    pthread_cond_signal(&s->work);
    while (!job->done) pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

void vt_served_stop(vt_served_model *s) {
    if (!s->started) return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    free(s->batch_in);
    free(s->batch_out);
    free(s->batch_grid);
    s->batch_in = s->batch_out = s->batch_grid = NULL;
    s->started = 0;
}

void vt_served_stats(vt_served_model *s, int64_t *passes, int64_t *images) {
    pthread_mutex_lock(&s->lock);
    *passes = s->passes;
    *images = s->images;
    pthread_mutex_unlock(&s->lock);
}
