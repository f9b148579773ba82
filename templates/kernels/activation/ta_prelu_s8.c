/* PRELU int8 as TFLM computes it: the zero-point-corrected input is rescaled to the
 * output by one multiplier where it is >= 0, and its product with the corrected
 * alpha (at most 255 * 255 in magnitude) by another where it is negative. */
#include "ta_prelu_s8.h"
#include "ta_broadcast.h"

TA_INLINE int8_t prelu_one(const ta_prelu_params *p, int32_t x, int32_t alpha) {
    const int32_t value = x + p->input_offset;
    const int32_t out = value >= 0
        ? ta_requantize(value, p->identity_multiplier, p->identity_shift)
        : ta_requantize(value * (alpha + p->alpha_offset), p->alpha_multiplier, p->alpha_shift);
    return (int8_t)ta_clamp32(out + p->output_offset, -128, 127);
}

ta_status ta_prelu_s8(const ta_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *output) {
    if (!p->broadcast) {
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = prelu_one(p, input[i], alpha[i]);
        }
        return TA_OK;
    }
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, output[i] = prelu_one(p, input[off1], alpha[off2]));
    return TA_OK;
}
