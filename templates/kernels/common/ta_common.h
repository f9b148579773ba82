/* tinyattend portable int8 kernels: shared types and fixed-point arithmetic.
 *
 * The arithmetic reproduces TensorFlow Lite Micro's reference kernels in their
 * default (double-rounding) mode, so generated code is bit-exact with TFLM:
 *   y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x << left, m), right)
 * Shifts follow TFLite's sign convention: shift > 0 is a left shift.
 */
#ifndef TA_COMMON_H
#define TA_COMMON_H

#include <stdint.h>
#include <stddef.h>

#if defined(__GNUC__)
#define TA_ALIGNED(n) __attribute__((aligned(n)))
#define TA_INLINE static inline __attribute__((always_inline))
#else
#define TA_ALIGNED(n)
#define TA_INLINE static inline
#endif

typedef enum { TA_OK = 0, TA_ERROR = 1 } ta_status;

/* Kernel paths (TA_PATH_* macros) this model's layers take: the generator writes ta_paths.h with
 * each path the included kernels name set to 1 when some layer takes it, else 0. A kernel opens
 * such a path's code with TA_TAKES(path): with the path off the compiler drops the code after it,
 * and reaching it anyway (the generator and a kernel disagreeing) traps instead of computing garbage. */
#include "ta_paths.h"
#if defined(__GNUC__)
#define TA_TAKES(path) do { if (!(path)) { __builtin_trap(); } } while (0)
#else
#include <stdlib.h>
#define TA_TAKES(path) do { if (!(path)) { abort(); } } while (0)
#endif

TA_INLINE int32_t ta_max32(int32_t a, int32_t b) { return a > b ? a : b; }
TA_INLINE int32_t ta_min32(int32_t a, int32_t b) { return a < b ? a : b; }

/* Where matrix (b0, b1, b2) of a batched operand starts: elements, with stride 0 where it broadcasts. */
TA_INLINE int32_t ta_batch_offset(const int32_t stride[3], int32_t b0, int32_t b1, int32_t b2) {
    return b0 * stride[0] + b1 * stride[1] + b2 * stride[2];
}

TA_INLINE int32_t ta_clamp32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Round-to-nearest high half of 2*a*b, saturating the single overflow case. */
TA_INLINE int32_t ta_doubling_high_mul(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t product = (int64_t)a * (int64_t)b;
    const int64_t nudge = product >= 0 ? (1LL << 30) : (1LL - (1LL << 30));
    /* C division truncates toward zero, as TFLite's does. */
    return (int32_t)((product + nudge) / (1LL << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
TA_INLINE int32_t ta_rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM's MultiplyByQuantizedMultiplier. The left shift wraps like TFLM's
 * int32 multiply would, without signed-overflow undefined behaviour. */
TA_INLINE int32_t ta_requantize(int32_t x, int32_t multiplier, int32_t shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return ta_rounding_divide_by_pot(ta_doubling_high_mul(shifted, multiplier), right);
}

/* Shapes are NHWC; `ta_shape4` names the four dimensions. */
typedef struct {
    int32_t n, h, w, c;
} ta_shape4;

/* The same in 16 bits, for parameter structs stored once per layer: half their flash. The
 * generator takes the kernel using them only when every value fits. */
typedef struct {
    uint16_t n, h, w, c;
} ta_shape4_u16;

#endif /* TA_COMMON_H */
