/* SUB int8 as TFLM computes it: both inputs are brought to a common scale
 * with 20 bits of headroom, subtracted, and rescaled to the output. */
#include "ta_sub_s8.h"

TA_INLINE int8_t sub_one(const ta_sub_params *p, int32_t a, int32_t b) {
    const int32_t x1 = (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift);
    const int32_t x2 = (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift);
    const int32_t s1 = ta_requantize(x1, p->input1_multiplier, p->input1_shift);
    const int32_t s2 = ta_requantize(x2, p->input2_multiplier, p->input2_shift);
    const int32_t out = ta_requantize(s1 - s2, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ta_clamp32(out, p->act_min, p->act_max);
}

ta_status ta_sub_s8(const ta_sub_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = sub_one(p, input1[i], input2[i]);
        }
        return TA_OK;
    }
    int32_t i = 0;
    for (int32_t d0 = 0; d0 < p->out_dims[0]; ++d0) {
        for (int32_t d1 = 0; d1 < p->out_dims[1]; ++d1) {
            for (int32_t d2 = 0; d2 < p->out_dims[2]; ++d2) {
                const int32_t base1 = d0 * p->in1_strides[0] + d1 * p->in1_strides[1] + d2 * p->in1_strides[2];
                const int32_t base2 = d0 * p->in2_strides[0] + d1 * p->in2_strides[1] + d2 * p->in2_strides[2];
                for (int32_t d3 = 0; d3 < p->out_dims[3]; ++d3) {
                    output[i++] = sub_one(p, input1[base1 + d3 * p->in1_strides[3]],
                                          input2[base2 + d3 * p->in2_strides[3]]);
                }
            }
        }
    }
    return TA_OK;
}
