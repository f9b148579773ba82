/* MAXIMUM / MINIMUM int8: TFLM compares the raw int8 values (the quantization is shared). */
#include "ta_maximum_minimum_s8.h"

static ta_status max_min(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                         int8_t *output, int is_max) {
    int32_t i = 0;
    for (int32_t d0 = 0; d0 < p->out_dims[0]; ++d0) {
        for (int32_t d1 = 0; d1 < p->out_dims[1]; ++d1) {
            for (int32_t d2 = 0; d2 < p->out_dims[2]; ++d2) {
                const int32_t base1 = d0 * p->in1_strides[0] + d1 * p->in1_strides[1] + d2 * p->in1_strides[2];
                const int32_t base2 = d0 * p->in2_strides[0] + d1 * p->in2_strides[1] + d2 * p->in2_strides[2];
                for (int32_t d3 = 0; d3 < p->out_dims[3]; ++d3) {
                    const int8_t a = input1[base1 + d3 * p->in1_strides[3]];
                    const int8_t b = input2[base2 + d3 * p->in2_strides[3]];
                    output[i++] = is_max ? (a > b ? a : b) : (a < b ? a : b);
                }
            }
        }
    }
    return TA_OK;
}

ta_status ta_maximum_s8(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output) {
    return max_min(p, input1, input2, output, 1);
}

ta_status ta_minimum_s8(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output) {
    return max_min(p, input1, input2, output, 0);
}
