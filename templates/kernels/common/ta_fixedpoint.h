/* tinyattend: Q-format fixed-point helpers beyond ta_common.h.
 *
 * A "Qm" value is an int32 with m integer bits and 31 - m fractional bits;
 * Q0 covers [-1, 1) and stands for 1.0 with INT32_MAX. These helpers give
 * the same integers as the gemmlowp routines TFLM's reference kernels use.
 * Sums wrap through uint32 so that no path has signed-overflow UB.
 */
#ifndef TA_FIXEDPOINT_H
#define TA_FIXEDPOINT_H

#include "ta_common.h"

TA_INLINE int32_t ta_fp_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
TA_INLINE int32_t ta_fp_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

/* Leading zero bits of a 32-bit word (32 for zero). */
TA_INLINE int ta_fp_clz32(uint32_t x) {
    if (x == 0u) {
        return 32;
    }
#if defined(__GNUC__)
    return __builtin_clz(x);
#else
    int n = 0;
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* x * 2^exponent for 0 < exponent < 31, saturating to the int32 range. */
TA_INLINE int32_t ta_fp_saturating_shl(int32_t x, int exponent) {
    const int32_t limit = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > limit) {
        return INT32_MAX;
    }
    if (x < -limit) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* (a + b) / 2, nearest, ties away from zero. */
TA_INLINE int32_t ta_fp_half_sum(int32_t a, int32_t b) {
    const int64_t total = (int64_t)a + (int64_t)b;
    return (int32_t)((total + (total >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + a) in Q0 for a in Q0, 0 <= a < 1: Newton-Raphson on the half
 * denominator d in [1/2, 1), starting from 48/17 - 32/17 d, three steps, in Q2. */
TA_INLINE int32_t ta_fp_one_over_one_plus_x(int32_t a) {
    const int32_t d = ta_fp_half_sum(a, INT32_MAX);
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = ta_fp_add(1515870810, ta_doubling_high_mul(d, -1010580540));
    for (int step = 0; step < 3; ++step) {
        const int32_t error = ta_fp_sub(one_q2, ta_doubling_high_mul(d, x));
        x = ta_fp_add(x, ta_fp_saturating_shl(ta_doubling_high_mul(x, error), 2));
    }
    /* x/2 in Q2 has x's raw bits in Q1; Q1 -> Q0 doubles with saturation. */
    return ta_fp_saturating_shl(x, 1);
}

/* Reciprocal of a positive Q`integer_bits` value x: returns a Q0 scale s and
 * sets *bits_over_unit so that 1/x ~= s * 2^-(*bits_over_unit). */
TA_INLINE int32_t ta_fp_reciprocal(int32_t x, int integer_bits, int *bits_over_unit) {
    const int headroom_plus_one = ta_fp_clz32((uint32_t)x);
    *bits_over_unit = integer_bits - headroom_plus_one;
    const int32_t shifted_minus_one = (int32_t)(((uint32_t)x << headroom_plus_one) - 0x80000000u);
    return ta_fp_one_over_one_plus_x(shifted_minus_one);
}

#endif /* TA_FIXEDPOINT_H */
