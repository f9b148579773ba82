/* MUL int8, fast form: same-shape inputs (the attention condensers' gating),
 * the short requantization proven exact at generation time. */
#ifndef TA_MUL_S8_FAST_H
#define TA_MUL_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t size;                       /* elements */
    int32_t input1_offset, input2_offset;
    int32_t output_multiplier;
    int32_t output_right_shift;         /* >= 1 */
    int32_t output_round;               /* 2^(right-1) + output_offset * 2^right */
    int32_t act_min, act_max;
} ta_mul_fast_params;

ta_status ta_mul_s8_fast(const ta_mul_fast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif
