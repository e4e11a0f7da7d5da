/* Exact minimum-cost assignment (the Hungarian method as shortest augmenting paths with
 * potentials, Jonker-Volgenant style, O(n_targets^2 x n_queries) in doubles): the matcher of
 * DETR-style detection training. No dependency on the model: plain arrays in and out. */
#ifndef VT_HUNGARIAN_H
#define VT_HUNGARIAN_H

#include "vitc.h"

/* Assigns every target (column) a distinct query (row) so that the summed cost is least.
 *   cost             n_queries x n_targets, row major (cost[q * n_targets + t]); finite values
 *   n_targets        0..n_queries (0: nothing is matched; more targets than queries: VITC_ERR_ARG)
 *   query_of_target  n_targets: the query given to each target (may be NULL)
 *   target_of_query  n_queries: the target of each query, -1 for unmatched queries (may be NULL)
 *   total            the least summed cost, added in target order (may be NULL)
 * Ties: targets enter in index order and each augmenting-path step takes the first query of
 * least reduced cost in index order, so the result depends on the matrix alone (among equal
 * optima it may differ from scipy's choice; the total is the same). VITC_ERR_ARG for a
 * non-finite cost or bad sizes, VITC_ERR_NOMEM when the workspace cannot be allocated. */
vitc_status vt_hungarian(const double *cost, int n_queries, int n_targets, int *query_of_target,
                         int *target_of_query, double *total);

#endif
