/* STRIDED_SLICE int8: a 4-D strided copy in output order; contiguous
 * innermost runs are copied with memcpy. */
#include <string.h>

#include "ta_strided_slice_s8.h"

ta_status ta_strided_slice_s8(const ta_strided_slice_params *p, const int8_t *input, int8_t *output) {
    int8_t *out = output;
    for (int32_t i0 = 0; i0 < p->count[0]; ++i0) {
        for (int32_t i1 = 0; i1 < p->count[1]; ++i1) {
            for (int32_t i2 = 0; i2 < p->count[2]; ++i2) {
                const int8_t *row = input + p->base + i0 * p->step[0] + i1 * p->step[1] + i2 * p->step[2];
                if (p->step[3] == 1) {
                    memcpy(out, row, (size_t)p->count[3]);
                    out += p->count[3];
                } else {
                    for (int32_t i3 = 0; i3 < p->count[3]; ++i3) {
                        *out++ = row[i3 * p->step[3]];
                    }
                }
            }
        }
    }
    return TA_OK;
}
