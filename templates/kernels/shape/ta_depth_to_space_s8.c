/* DEPTH_TO_SPACE int8 in output order. For one input pixel and one block row dy,
 * the input's channels [dy*b*C, (dy+1)*b*C) are the output's b pixels
 * (h*b + dy, w*b .. w*b + b - 1), already in NHWC order: one memcpy each. */
#include <string.h>

#include "ta_depth_to_space_s8.h"

ta_status ta_depth_to_space_s8(const ta_depth_to_space_params *p, const int8_t *input, int8_t *output) {
    const int32_t b = p->block_size, in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const size_t run = (size_t)(in_c / b);   /* b output pixels of in_c / (b*b) channels */
    int8_t *out = output;
    for (int32_t n = 0; n < p->input.n; ++n) {
        for (int32_t h = 0; h < in_h; ++h) {
            const int8_t *row = input + (size_t)(n * in_h + h) * in_w * in_c;
            for (int32_t dy = 0; dy < b; ++dy) {
                for (int32_t w = 0; w < in_w; ++w) {
                    memcpy(out, row + (size_t)w * in_c + (size_t)dy * run, run);
                    out += run;
                }
            }
        }
    }
    return TA_OK;
}
