/* The NEON int8 tile (see int8.h) for CPUs with the dot-product extension (SDOT, Armv8.2+): signed
 * x_q times signed w_q, four products summed into each int32 lane, exact. Built for aarch64 with
 * +dotprod for this file only; chosen at run time when the CPU reports it (HWCAP_ASIMDDP). */
#include "kernels/int8.h"

#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

int vt_q8_neon_dotprod_supported(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

void vt_q8_tile_neon(const int8_t *x, size_t ldx, const int8_t *w, size_t ldw, int Kp, int32_t out[2][4]) {
    int32x4_t acc[2][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = vdupq_n_s32(0);
    for (int k = 0; k < Kp; k += 16) {
        int8x16_t s0 = vld1q_s8(x + k), s1 = vld1q_s8(x + ldx + k);
        for (int j = 0; j < 4; j++) {
            int8x16_t wv = vld1q_s8(w + j * ldw + k);
            acc[0][j] = vdotq_s32(acc[0][j], s0, wv);
            acc[1][j] = vdotq_s32(acc[1][j], s1, wv);
        }
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) out[i][j] = vaddvq_s32(acc[i][j]);
}
