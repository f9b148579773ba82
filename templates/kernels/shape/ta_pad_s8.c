/* PAD int8: every output row along the innermost dimension is either all
 * padding or padding, one input row, padding. */
#include <string.h>

#include "ta_pad_s8.h"

ta_status ta_pad_s8(const ta_pad_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_c = p->in_dims[3], out_c = p->out_dims[3];
    const int32_t c0 = p->before[3];
    const int32_t c_after = out_c - c0 - in_c;
    const int value = (int)(int8_t)p->pad_value;
    if (c_after < 0) {
        return TA_ERROR;
    }
    int8_t *out = output;
    for (int32_t d0 = 0; d0 < p->out_dims[0]; ++d0) {
        const int32_t i0 = d0 - p->before[0];
        for (int32_t d1 = 0; d1 < p->out_dims[1]; ++d1) {
            const int32_t i1 = d1 - p->before[1];
            for (int32_t d2 = 0; d2 < p->out_dims[2]; ++d2) {
                const int32_t i2 = d2 - p->before[2];
                const int inside = i0 >= 0 && i0 < p->in_dims[0] && i1 >= 0 && i1 < p->in_dims[1] &&
                                   i2 >= 0 && i2 < p->in_dims[2];
                if (!inside) {
                    memset(out, value, (size_t)out_c);
                } else {
                    const int8_t *row = input + ((i0 * p->in_dims[1] + i1) * p->in_dims[2] + i2) * in_c;
                    memset(out, value, (size_t)c0);
                    memcpy(out + c0, row, (size_t)in_c);
                    memset(out + c0 + in_c, value, (size_t)c_after);
                }
                out += out_c;
            }
        }
    }
    return TA_OK;
}
