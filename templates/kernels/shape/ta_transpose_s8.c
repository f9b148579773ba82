/* TRANSPOSE int8: output elements in order, each read through the permuted
 * input strides. */
#include "ta_transpose_s8.h"

ta_status ta_transpose_s8(const ta_transpose_params *p, const int8_t *input, int8_t *output) {
    int8_t *out = output;
    for (int32_t i0 = 0; i0 < p->out_dims[0]; ++i0) {
        for (int32_t i1 = 0; i1 < p->out_dims[1]; ++i1) {
            for (int32_t i2 = 0; i2 < p->out_dims[2]; ++i2) {
                const int8_t *row = input + i0 * p->in_strides[0] + i1 * p->in_strides[1] + i2 * p->in_strides[2];
                for (int32_t i3 = 0; i3 < p->out_dims[3]; ++i3) {
                    *out++ = row[i3 * p->in_strides[3]];
                }
            }
        }
    }
    return TA_OK;
}
