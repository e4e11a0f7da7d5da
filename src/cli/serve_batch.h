/* vitc serve's batching queue: one worker thread per loaded model takes the requests queued for it
 * and runs them through the C API. Classify and embed requests of one model that arrive within the
 * batch window (or until max_batch are waiting) go through one batched forward pass, and so do
 * segment requests (each image preprocessed to the model's size, the scores mapped back onto it);
 * detect requests keep each image's own aspect (YOLOS' resize), so their inputs differ in size and
 * they run one by one.
 * The HTTP threads decode and preprocess, submit, and block until their job is done. */
#ifndef VT_CLI_SERVE_BATCH_H
#define VT_CLI_SERVE_BATCH_H

#include "vitc.h"

#include <pthread.h>
#include <stdint.h>

typedef enum vt_job_kind { VT_JOB_CLASSIFY, VT_JOB_EMBED, VT_JOB_SEGMENT, VT_JOB_DETECT } vt_job_kind;

typedef struct vt_job {
    vt_job_kind kind;
    const float *x;         /* classify / embed: the preprocessed 3 x size x size input */
    float *out;             /* classify: num_classes logits; embed: dim features */
    const vitc_image *img;  /* segment / detect */
    uint8_t *mask;          /* segment: width x height class indices */
    float threshold;        /* detect */
    vitc_detection *dets;   /* detect: room for max_dets */
    int max_dets, n_dets;
    vitc_status status;     /* the C API's result, with its message in error */
    char error[256];
    double queued;          /* when it was submitted (monotonic seconds) */
    int done;
    struct vt_job *next;
} vt_job;

typedef struct vt_served_model {
    const char *name, *path;
    vitc_model *model;
    vitc_model_info info;
    vitc_preprocess_params pp;
    int max_batch;
    double window;          /* seconds the first job of a batch waits for more */
    pthread_mutex_t lock;
    pthread_cond_t work;    /* a job arrived, or stop */
    pthread_cond_t done;    /* a batch finished */
    vt_job *head, *tail;
    int stop, started;
    pthread_t thread;
    float *batch_in, *batch_out; /* max_batch inputs and outputs of one forward pass */
    float *batch_grid;           /* segmentation models: max_batch jobs' per-patch scores, else NULL */
    int64_t passes, images; /* forward passes run and the images in them (classify, embed, segment) */
} vt_served_model;

/* Allocates the batch buffers and starts the worker; returns 0, or -1 (nothing started). */
int vt_served_start(vt_served_model *s);
/* Queues the job and waits until it is done (job->status). */
void vt_served_submit(vt_served_model *s, vt_job *job);
/* The worker finishes every queued job, then stops; the buffers are freed (the model is not). */
void vt_served_stop(vt_served_model *s);
/* passes and images read under the lock. */
void vt_served_stats(vt_served_model *s, int64_t *passes, int64_t *images);

#endif
