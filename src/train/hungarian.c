/* Minimum-cost assignment by shortest augmenting paths (the classic O(n^2 m) Hungarian method
 * with row and column potentials). Targets are the rows of the algorithm and queries its
 * columns, so every row is assigned and n_targets <= n_queries columns suffice. */
#include "train/hungarian.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

typedef struct work {
    double *u, *v, *minv; /* potentials of targets (1..n) and queries (0..m), path minima */
    int *owner, *way;     /* owner[j]: target (1-based, 0 none) on query j; way: path back */
    char *used;
} work;

static void work_free(work *w) {
    free(w->u), free(w->v), free(w->minv), free(w->owner), free(w->way), free(w->used);
}

static int work_alloc(work *w, int n, int m) {
    w->u = calloc((size_t)n + 1, sizeof(double));
    w->v = calloc((size_t)m + 1, sizeof(double));
    w->minv = calloc((size_t)m + 1, sizeof(double));
    w->owner = calloc((size_t)m + 1, sizeof(int));
    w->way = calloc((size_t)m + 1, sizeof(int));
    w->used = calloc((size_t)m + 1, 1);
    return w->u && w->v && w->minv && w->owner && w->way && w->used;
}

/* Adds target i (1-based) to the assignment: a Dijkstra search on reduced costs from i to a
 * free query, then the augmentation along the path found. Column 0 is the search's root. */
static void augment(const double *cost, int n, int m, int i, work *w) {
    w->owner[0] = i;
    for (int j = 0; j <= m; j++) w->minv[j] = HUGE_VAL, w->used[j] = 0;
    int j0 = 0;
    do {
        w->used[j0] = 1;
        int i0 = w->owner[j0], j1 = 0;
        double delta = HUGE_VAL;
        for (int j = 1; j <= m; j++) {
            if (w->used[j]) continue;
            double cur = cost[(size_t)(j - 1) * n + (i0 - 1)] - w->u[i0] - w->v[j];
            if (cur < w->minv[j]) w->minv[j] = cur, w->way[j] = j0;
            if (w->minv[j] < delta) delta = w->minv[j], j1 = j; /* first least in index order */
        }
        for (int j = 0; j <= m; j++) {
            if (w->used[j]) w->u[w->owner[j]] += delta, w->v[j] -= delta;
            else w->minv[j] -= delta;
        }
        j0 = j1;
    } while (w->owner[j0] != 0);
    do { /* flip the path */
        int j1 = w->way[j0];
        w->owner[j0] = w->owner[j1];
        j0 = j1;
    } while (j0);
}

vitc_status vt_hungarian(const double *cost, int n_queries, int n_targets, int *query_of_target,
                         int *target_of_query, double *total) {
    if (n_queries < 0 || n_targets < 0)
        return vt_error(VITC_ERR_ARG, "assignment: negative size (%d queries, %d targets)", n_queries, n_targets);
    if (n_targets > n_queries)
        return vt_error(VITC_ERR_ARG, "assignment: %d targets but only %d queries (detection tokens)", n_targets,
                        n_queries);
    const int n = n_targets, m = n_queries;
    for (size_t k = 0; k < (size_t)n * m; k++)
        if (!isfinite(cost[k]))
            return vt_error(VITC_ERR_ARG, "assignment: cost of query %zu, target %zu is not finite", k / (size_t)n,
                            k % (size_t)n);
    if (target_of_query)
        for (int q = 0; q < m; q++) target_of_query[q] = -1;
    if (total) *total = 0.0;
    if (n == 0) return VITC_OK;
    work w = {0};
    if (!work_alloc(&w, n, m)) {
        work_free(&w);
        return vt_error(VITC_ERR_NOMEM, "assignment: out of memory (%d x %d)", m, n);
    }
    for (int i = 1; i <= n; i++) augment(cost, n, m, i, &w);
    int *qot = malloc(sizeof(int) * (size_t)n);
    if (!qot) {
        work_free(&w);
        return vt_error(VITC_ERR_NOMEM, "assignment: out of memory (%d x %d)", m, n);
    }
    for (int j = 1; j <= m; j++) {
        if (!w.owner[j]) continue;
        qot[w.owner[j] - 1] = j - 1;
        if (target_of_query) target_of_query[j - 1] = w.owner[j] - 1;
    }
    double sum = 0.0;
    for (int t = 0; t < n; t++) sum += cost[(size_t)qot[t] * n + t];
    if (total) *total = sum;
    if (query_of_target)
        for (int t = 0; t < n; t++) query_of_target[t] = qot[t];
    free(qot);
    work_free(&w);
    return VITC_OK;
}
