/* OpenMP threads that spin while waiting steal the CPU from the threads doing work whenever the
 * machine has other load (measured: a small training run 20x slower on a busy 2-core machine).
 * Long-running commands call this first: unless the user chose OMP_WAIT_POLICY, it is set to
 * PASSIVE and the program re-executes itself so that the OpenMP runtime reads it at start-up.
 * Re-measured with the fused training step (dim 128, depth 6, batch 128, 2 threads): on a lightly
 * loaded machine a bounded spin (GOMP_SPINCOUNT 10k-200k) was 0-7 % faster than PASSIVE, under other
 * load the 200k spin ran at a third of PASSIVE's speed; PASSIVE stays the default. */
#include "cli/commands.h"

#include <stdlib.h>
#include <unistd.h>

void vt_cli_passive_omp(char **full_argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1)) return;
    execv("/proc/self/exe", full_argv); /* returns only on failure: carry on as we are */
}
