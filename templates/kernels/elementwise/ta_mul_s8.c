/* MUL int8 as TFLM computes it: the product of the zero-point-corrected
 * inputs (at most 255 * 255 in magnitude, so it fits int32) is rescaled once
 * to the output and clamped to the fused activation's range. */
#include "ta_mul_s8.h"
#include "ta_broadcast.h"

TA_INLINE int8_t mul_one(const ta_mul_params *p, int32_t a, int32_t b) {
    const int32_t product = (a + p->input1_offset) * (b + p->input2_offset);
    const int32_t out = ta_requantize(product, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ta_clamp32(out, p->act_min, p->act_max);
}

ta_status ta_mul_s8(const ta_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = mul_one(p, input1[i], input2[i]);
        }
        return TA_OK;
    }
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, output[i] = mul_one(p, input1[off1], input2[off2]));
    return TA_OK;
}
