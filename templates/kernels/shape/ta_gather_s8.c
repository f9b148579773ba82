/* GATHER int8: for each outer index, the inner blocks the indices name. */
#include <string.h>

#include "ta_gather_s8.h"

ta_status ta_gather_s8(const ta_gather_params *p, const int8_t *input, int8_t *output) {
    int8_t *out = output;
    for (int32_t k = 0; k < p->outer; ++k) {
        const int8_t *block = input + k * p->axis_size * p->inner;
        for (int32_t i = 0; i < p->num_indices; ++i) {
            const int32_t index = p->indices[i];
            if (index < 0 || index >= p->axis_size) {
                return TA_ERROR;
            }
            memcpy(out, block + index * p->inner, (size_t)p->inner);
            out += p->inner;
        }
    }
    return TA_OK;
}
