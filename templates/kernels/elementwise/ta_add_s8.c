/* ADD int8 as TFLM computes it: both inputs are brought to a common scale
 * with 20 bits of headroom, summed, and rescaled to the output. */
#include "ta_add_s8.h"
#include "ta_broadcast.h"

TA_INLINE int8_t add_one(const ta_add_params *p, int32_t a, int32_t b) {
    const int32_t x1 = (int32_t)((uint32_t)(a + p->input1_offset) << p->left_shift);
    const int32_t x2 = (int32_t)((uint32_t)(b + p->input2_offset) << p->left_shift);
    const int32_t s1 = ta_requantize(x1, p->input1_multiplier, p->input1_shift);
    const int32_t s2 = ta_requantize(x2, p->input2_multiplier, p->input2_shift);
    const int32_t out = ta_requantize(s1 + s2, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ta_clamp32(out, p->act_min, p->act_max);
}

ta_status ta_add_s8(const ta_add_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = add_one(p, input1[i], input2[i]);
        }
        return TA_OK;
    }
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, output[i] = add_one(p, input1[off1], input2[off2]));
    return TA_OK;
}
