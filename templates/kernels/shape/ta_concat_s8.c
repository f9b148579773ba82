/* CONCATENATION int8: for each outer index, each input's block in turn. */
#include <stdarg.h>
#include <string.h>

#include "ta_concat_s8.h"

#define TA_CONCAT_MAX_INPUTS 64

ta_status ta_concat_s8(const ta_concat_params *p, int8_t *output, ...) {
    const int8_t *inputs[TA_CONCAT_MAX_INPUTS];
    if (p->num_inputs < 1 || p->num_inputs > TA_CONCAT_MAX_INPUTS) {
        return TA_ERROR;
    }
    va_list args;
    va_start(args, output);
    for (int32_t i = 0; i < p->num_inputs; ++i) {
        inputs[i] = va_arg(args, const int8_t *);
    }
    va_end(args);
    int8_t *out = output;
    for (int32_t k = 0; k < p->outer; ++k) {
        for (int32_t i = 0; i < p->num_inputs; ++i) {
            const int32_t size = p->copy_sizes[i];
            memcpy(out, inputs[i] + k * size, (size_t)size);
            out += size;
        }
    }
    return TA_OK;
}
