/* The calling thread's index and team size inside an OpenMP parallel region (0 and 1 without OpenMP). */
#ifndef VT_OMP_TEAM_H
#define VT_OMP_TEAM_H

#ifdef _OPENMP
#include <omp.h>
#endif

static inline int vt_omp_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline int vt_omp_team_size(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

#endif
