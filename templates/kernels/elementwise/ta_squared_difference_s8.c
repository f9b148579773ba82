/* SQUARED_DIFFERENCE int8 as TFLM computes it: both inputs are shifted left by 7 and brought
 * to a common scale, subtracted and squared in int32 (at most (255 * 2^7)^2, no overflow),
 * then rescaled to the output. */
#include "ta_squared_difference_s8.h"
#include "ta_broadcast.h"

#define TA_SQDIFF_LEFT_SHIFT 7

TA_INLINE int8_t squared_difference_one(const ta_squared_difference_params *p, int32_t a, int32_t b) {
    const int32_t x1 = (a + p->input1_offset) * (1 << TA_SQDIFF_LEFT_SHIFT);
    const int32_t x2 = (b + p->input2_offset) * (1 << TA_SQDIFF_LEFT_SHIFT);
    const int32_t diff = ta_requantize(x1, p->input1_multiplier, p->input1_shift)
                       - ta_requantize(x2, p->input2_multiplier, p->input2_shift);
    const int32_t out = ta_requantize(diff * diff, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ta_clamp32(out, -128, 127);
}

ta_status ta_squared_difference_s8(const ta_squared_difference_params *p, const int8_t *input1,
                                   const int8_t *input2, int8_t *output) {
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = squared_difference_one(p, input1[i], input2[i]);
        }
        return TA_OK;
    }
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, output[i] = squared_difference_one(p, input1[off1], input2[off2]));
    return TA_OK;
}
