/* MEAN int8 as TFLM's reduce computes it: an exact int32 sum of the raw
 * inputs, minus zero point times count, requantized once with a multiplier
 * that already holds 1/count. */
#include "ta_mean_s8.h"

ta_status ta_mean_s8(const ta_mean_params *p, const int8_t *input, int8_t *output) {
    const int32_t stride = p->inner;
    for (int32_t o = 0; o < p->outer; ++o) {
        const int8_t *block = input + o * p->reduced * stride;
        for (int32_t i = 0; i < p->inner; ++i) {
            int32_t sum = 0;
            for (int32_t r = 0; r < p->reduced; ++r) {
                sum += block[r * stride + i];
            }
            const int32_t centred = (int32_t)((uint32_t)sum - (uint32_t)p->zero_point_sum);
            const int32_t q = ta_requantize(centred, p->multiplier, p->shift) + p->output_offset;
            output[o * p->inner + i] = (int8_t)ta_clamp32(q, INT8_MIN, INT8_MAX);
        }
    }
    return TA_OK;
}
