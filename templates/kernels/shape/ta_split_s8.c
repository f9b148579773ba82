/* SPLIT int8: for each outer index, consecutive blocks of the input go to
 * each output in turn. */
#include <stdarg.h>
#include <string.h>

#include "ta_split_s8.h"

#define TA_SPLIT_MAX_OUTPUTS 64

ta_status ta_split_s8(const ta_split_params *p, const int8_t *input, ...) {
    int8_t *outputs[TA_SPLIT_MAX_OUTPUTS];
    if (p->num_outputs < 1 || p->num_outputs > TA_SPLIT_MAX_OUTPUTS) {
        return TA_ERROR;
    }
    va_list args;
    va_start(args, input);
    for (int32_t i = 0; i < p->num_outputs; ++i) {
        outputs[i] = va_arg(args, int8_t *);
    }
    va_end(args);
    const int8_t *in = input;
    for (int32_t k = 0; k < p->outer; ++k) {
        for (int32_t i = 0; i < p->num_outputs; ++i) {
            const int32_t size = p->copy_sizes[i];
            memcpy(outputs[i] + k * size, in, (size_t)size);
            in += size;
        }
    }
    return TA_OK;
}
