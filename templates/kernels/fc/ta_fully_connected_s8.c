/* FULLY_CONNECTED reference-order int8 kernel (portable C99). */
#include "ta_fully_connected_s8.h"

ta_status ta_fully_connected_s8(const ta_fully_connected_params *p, const int8_t *input,
                                const int8_t *weights, const int32_t *bias, int8_t *output) {
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * p->input_depth;
        for (int32_t o = 0; o < p->output_depth; ++o) {
            const int8_t *w = weights + (size_t)o * p->input_depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < p->input_depth; ++d) {
                acc += (w[d] + p->weights_offset) * (x[d] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            const int32_t q = p->per_channel ? o : 0;
            acc = ta_requantize(acc, p->multiplier[q], p->shift[q]) + p->output_offset;
            output[(size_t)b * p->output_depth + o] = (int8_t)ta_clamp32(acc, p->act_min, p->act_max);
        }
    }
    return TA_OK;
}
