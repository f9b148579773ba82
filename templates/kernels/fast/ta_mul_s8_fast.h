/* MUL int8, fast form: same-shape inputs (the attention condensers' gating) or
 * a constant second input repeating along the output (a scalar, a per-channel
 * vector), the short requantization proven exact at generation time. */
#ifndef TA_MUL_S8_FAST_H
#define TA_MUL_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t size;                       /* output elements (and input 1's) */
    int32_t input2_period;              /* input 2's elements, repeated along the output; divides size */
    int32_t input1_offset, input2_offset;
    int32_t output_multiplier;
    int32_t output_round;               /* 2^(e-1) + output_offset * 2^e, e the entry point's right shift */
    int32_t act_min, act_max;
} ta_mul_fast_params;

/* One entry point per right shift e = 1..31, ta_mul_s8_fast_shift<e>: the inner loop
 * takes e as an immediate (SSAT's ASR). The generator calls the one for the op's
 * multiplier and the linker (--gc-sections) drops the others. The output may be
 * input1, or input2 when input2_period == size (in place). */
#define TA_MUL_S8_FAST_SHIFTS(X) \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
    X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31)
#define TA_MUL_S8_FAST_DECLARE(e) \
    ta_status ta_mul_s8_fast_shift##e(const ta_mul_fast_params *p, const int8_t *input1, const int8_t *input2, \
                                      int8_t *output);
TA_MUL_S8_FAST_SHIFTS(TA_MUL_S8_FAST_DECLARE)
#undef TA_MUL_S8_FAST_DECLARE

#endif
