/* tinyattend Helium (MVE) kernels: what they share.
 *
 * With integer MVE (arm-none-eabi-gcc -mcpu=cortex-m55) the kernels use arm_mve.h intrinsics;
 * elsewhere (the host build that `tinyattend verify` and the tests run) the same kernels run
 * as plain C on the same re-laid-out constants, so both builds compute TFLM's results.
 *
 * Requantization constants come per group of four output lanes as three int32x4 rows,
 * written at generation time (codegen/helium/_requant.py):
 *   q[0..3] multiplier, q[4..7] left shift (>= 0), q[8..11] minus the right shift (<= 0).
 * ta_mve_requantize is TFLM's MultiplyByQuantizedMultiplier (double rounding) on four
 * lanes: VQRDMULH is SaturatingRoundingDoublingHighMul exactly; VRSHL by a negative
 * amount rounds ties upwards, so negative values are first lowered by one when the
 * right shift is non-zero, which turns it into RoundingDivideByPOT's ties away from zero.
 */
#ifndef TA_MVE_H
#define TA_MVE_H

#include <string.h>

#include "ta_common.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define TA_MVE 1
#else
#define TA_MVE 0
#endif

/* Lanes per requantization group, int32 words per group of constants (multiplier, left, right). */
#define TA_MVE_LANES 4
#define TA_MVE_QWORDS 12

#if TA_MVE
TA_INLINE int32x4_t ta_mve_requantize(int32x4_t acc, const int32_t *q, int32_t output_offset,
                                      int32_t act_min, int32_t act_max) {
    const int32x4_t right = vldrwq_s32(q + 8);
    int32x4_t x = vshlq_s32(acc, vldrwq_s32(q + 4));
    x = vqrdmulhq_s32(x, vldrwq_s32(q));
    /* sign bit of (x & right): x < 0 and a right shift to do; then -1 before the rounding shift */
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
    x = vrshlq_s32(vqaddq_s32(x, fixup), right);
    x = vaddq_n_s32(x, output_offset);
    x = vmaxq_s32(x, vdupq_n_s32(act_min));
    return vminq_s32(x, vdupq_n_s32(act_max));
}

/* The same for a layer none of whose shifts is to the left (q[4..7] all zero): no VSHL. */
TA_INLINE int32x4_t ta_mve_requantize_right(int32x4_t acc, const int32_t *q, int32_t output_offset,
                                            int32_t act_min, int32_t act_max) {
    const int32x4_t right = vldrwq_s32(q + 8);
    int32x4_t x = vqrdmulhq_s32(acc, vldrwq_s32(q));
    /* sign bit of (x & right): x < 0 and a right shift to do; then -1 before the rounding shift */
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, right), 31);
    x = vrshlq_s32(vqaddq_s32(x, fixup), right);
    x = vaddq_n_s32(x, output_offset);
    x = vmaxq_s32(x, vdupq_n_s32(act_min));
    return vminq_s32(x, vdupq_n_s32(act_max));
}

/* n bytes from src to dst: whole vectors, then one tail-predicated vector. */
TA_INLINE void ta_mve_copy(int8_t *dst, const int8_t *src, int32_t n) {
    for (; n >= 16; n -= 16, src += 16, dst += 16) {
        vstrbq_s8(dst, vldrbq_s8(src));
    }
    if (n > 0) {
        const mve_pred16_t p = vctp8q((uint32_t)n);
        vstrbq_p_s8(dst, vldrbq_z_s8(src, p), p);
    }
}

TA_INLINE void ta_mve_fill(int8_t *dst, int8_t value, int32_t n) {
    const int8x16_t v = vdupq_n_s8(value);
    for (; n >= 16; n -= 16, dst += 16) {
        vstrbq_s8(dst, v);
    }
    if (n > 0) {
        vstrbq_p_s8(dst, v, vctp8q((uint32_t)n));
    }
}
#else
TA_INLINE void ta_mve_copy(int8_t *dst, const int8_t *src, int32_t n) { memcpy(dst, src, (size_t)n); }
TA_INLINE void ta_mve_fill(int8_t *dst, int8_t value, int32_t n) { memset(dst, value, (size_t)n); }
#endif

/* One lane of the above, in plain C: the host build's requantization. */
TA_INLINE int32_t ta_mve_requantize_lane(int32_t acc, const int32_t *q, int lane, int32_t output_offset,
                                         int32_t act_min, int32_t act_max) {
    const int32_t y = ta_requantize(acc, q[lane], q[4 + lane] + q[8 + lane]) + output_offset;
    return ta_clamp32(y, act_min, act_max);
}

#endif /* TA_MVE_H */
