/* Data-parallel training across processes: the only place vitc talks to MPI. Built with -DVITC_MPI
 * (build/vitc-mpi, linked with Open MPI) it uses MPI_COMM_WORLD; built without (build/vitc) every
 * call is the single-process case: rank 0 of 1, sums are the identity, nothing is sent.
 *
 * Sums are in a fixed order, so every rank gets the same bits and a run repeats exactly: the owner
 * of each slice of a buffer receives that slice from every rank (MPI_Alltoallv), adds them up in
 * rank order 0, 1, ..., N-1, and the sums go back to every rank (MPI_Allgatherv). That moves the
 * same bytes as a ring all-reduce (2 (N-1)/N of the buffer per rank) and needs one more buffer.
 *
 * Errors: a command's setup errors go through vt_dist_error and vt_dist_agree, so that an error on
 * any rank stops every rank with one line (rank 0's error if it has one, else the first failing
 * rank's, naming it); an error inside the training loop on one rank ends the job (vt_dist_abort).
 * When mpirun stops the job because a process died, rank 0 prints one line (SIGTERM) and exits;
 * checkpoints are written with SIGTERM held (vt_dist_hold_signals), so none is half-written. */
#ifndef VT_DIST_H
#define VT_DIST_H

#include <stdint.h>

/* Starts MPI (once; later calls do nothing). On ranks other than 0 of a job of several processes,
 * standard output is silenced, and so is standard error until the first vt_dist_agree. */
void vt_dist_init(int *argc, char ***argv);
int vt_dist_rank(void);
int vt_dist_size(void);
/* Ends MPI (after init; later calls do nothing). */
void vt_dist_finalize(void);
/* x[0..n) = sum over ranks of weight * x_r, in rank order; the same bits on every rank. N = 1: x
 * is left alone (weight is not applied). */
void vt_dist_sum_floats(float *x, int64_t n, float weight);
/* The same sums, overlapped with the backward pass that makes x: sum_begin(x, n, weight) before the
 * pass, sum_ready(ctx, lo, hi) as soon as x[lo, hi) is final (a trainer's grad_ready hook: every
 * rank reports the same ranges in the same order), sum_end after it: the rest of x, then waits. x
 * then holds the same bits as vt_dist_sum_floats(x, n, weight) gives, since every element is
 * still added up in rank order. The ranges' sums run on a communication thread (MPI_Ialltoallv,
 * the rank-order adds, MPI_Iallgatherv, polled every 50 us) while the backward pass goes on.
 * VITC_MPI_OVERLAP=0 in the environment: sum_ready does nothing and sum_end does it all. */
void vt_dist_sum_begin(float *x, int64_t n, float weight);
void vt_dist_sum_ready(void *ctx, int64_t lo, int64_t hi);
void vt_dist_sum_end(void);
/* v[0..k) = sum over ranks of v_r, in rank order (k <= 16). */
void vt_dist_sum_doubles(double *v, int k);
/* x[0..n) = sum over ranks of x_r (integers: exact, in any order). */
void vt_dist_sum_int64(int64_t *x, int64_t n);
/* all[0..total) on every rank = every rank's x[0..n) one after another in rank order; *all is
 * malloc'ed (the caller frees it; NULL when total is 0), *total their sum. Non-zero (on every
 * rank) when the memory is missing on one; one process: a copy of x. */
int vt_dist_gather_floats(const float *x, int64_t n, float **all, int64_t *total);
/* An error of the command `cmd` (e.g. "vitc train"): one process: printed now. Several, before the
 * first vt_dist_agree: rank 0 prints it now, other ranks keep it for vt_dist_agree; after that:
 * printed now, with "rank R: " before it on ranks other than 0. */
void vt_dist_error(const char *cmd, const char *msg);
/* Collective: every rank's status; returns the first non-zero one (0: all succeeded). The first
 * call prints the kept error of the first failing rank when rank 0 has none. */
int vt_dist_agree(int rc);
/* vt_dist_agree the first time it is called, else rc (no collective): call it where setup ends
 * and again on the way out, so that a rank that failed early meets the others' first agreement. */
int vt_dist_start(int rc);
/* Where this rank's shard of every global batch of `batch` images lies: *per_rank = batch / N
 * images from *first = rank * per_rank. Ends setup (vt_dist_start): non-zero on every rank when
 * batch is not a multiple of N (rank 0 reports it) or another rank failed before. */
int vt_dist_shard(const char *cmd, int batch, int *per_rank, int *first);
/* This rank's contiguous share [*lo, *hi) of n items (n r / N .. n (r + 1) / N): eval and classify
 * split their images so. */
void vt_dist_share(int64_t n, int64_t *lo, int64_t *hi);
/* Per-image commands over several processes (classify): between capture_begin and capture_end
 * every rank's standard output and error go to temporary files; capture_end (collective) hands them
 * to rank 0, which prints the ranks' outputs in rank order up to the first rank whose rc is not 0,
 * then that rank's errors: what one process working through all the images in order would print.
 * Returns that first non-zero rc (0: every rank succeeded), the same on every rank. One process:
 * nothing is captured and capture_end returns rc. */
int vt_dist_capture_begin(void);
int vt_dist_capture_end(int rc);
/* Ends every process of the job with this exit status (one process: exit). */
_Noreturn void vt_dist_abort(int code);
/* hold = 1: SIGTERM and SIGINT wait until hold = 0 (around checkpoint writes). */
void vt_dist_hold_signals(int hold);
/* Seconds the callers waited in vt_dist_sum_floats and vt_dist_sum_end so far: the gradient
 * all-reduce's time not hidden behind the backward pass (waiting for slower ranks included). */
double vt_dist_sum_seconds(void);
/* Seconds from each step's first range handed to the communication thread to its last sum done,
 * added up: the all-reduce's time in flight, overlapped or not. */
double vt_dist_sum_flight_seconds(void);
/* Test hook (several processes only): VITC_TEST_KILL_RANK=R and VITC_TEST_KILL_STEP=S make rank R
 * kill itself (SIGKILL, as a crash would) when step reaches S. */
void vt_dist_test_hook(int64_t step);

#endif
