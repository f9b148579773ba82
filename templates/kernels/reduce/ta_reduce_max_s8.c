#include "ta_reduce_max_s8.h"

ta_status ta_reduce_max_s8(const ta_reduce_max_params *p, const int8_t *input, int8_t *output) {
    const int32_t stride = p->inner;
    for (int32_t o = 0; o < p->outer; ++o) {
        const int8_t *block = input + o * p->reduced * stride;
        for (int32_t i = 0; i < p->inner; ++i) {
            int32_t top = INT8_MIN;
            for (int32_t r = 0; r < p->reduced; ++r) {
                top = ta_max32(top, block[r * stride + i]);
            }
            output[o * p->inner + i] = (int8_t)top;
        }
    }
    return TA_OK;
}
