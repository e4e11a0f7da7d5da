/* vitc serve's HTTP side on libmicrohttpd: routing, request bodies (raw image bytes or
 * multipart/form-data), limits, the JSON / PNG answers, and draining on shutdown. */
#ifndef VT_CLI_SERVE_HTTP_H
#define VT_CLI_SERVE_HTTP_H

#include "cli/serve_batch.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;

typedef struct vt_server {
    vt_served_model *models; /* the first is the default of ?model= */
    int n_models;
    size_t max_body;         /* bytes */
    uint64_t max_pixels;     /* width x height an image may declare */
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;    /* guards the counters below */
    pthread_cond_t idle;     /* in_flight fell to 0 */
    int in_flight, draining;
    int64_t requests, client_errors, server_errors;
} vt_server;

/* Listens on host:port (numeric or a name; port 0: any free one, *bound_port says which).
 * Returns 0, or -1 after a one-line message on stderr. */
int vt_http_start(vt_server *srv, const char *host, int port, int *bound_port);
/* Stops accepting connections, waits until the requests in flight are answered (at most
 * timeout seconds), then stops the daemon. */
void vt_http_drain_stop(vt_server *srv, double timeout);

#endif
