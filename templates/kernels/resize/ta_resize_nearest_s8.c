/* RESIZE_NEAREST_NEIGHBOR int8: each output pixel copies the channels of
 * the source pixel the tables name (TFLM's index arithmetic, done at
 * generation time). */
#include <string.h>

#include "ta_resize_nearest_s8.h"

ta_status ta_resize_nearest_s8(const ta_resize_nearest_params *p, const int8_t *input, int8_t *output) {
    const int32_t ch = p->channels;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * p->in_h * p->in_w * ch;
        for (int32_t y = 0; y < p->out_h; ++y) {
            const int32_t sy = p->src_rows[y];
            if (sy < 0 || sy >= p->in_h) {
                return TA_ERROR;
            }
            for (int32_t x = 0; x < p->out_w; ++x) {
                const int32_t sx = p->src_cols[x];
                if (sx < 0 || sx >= p->in_w) {
                    return TA_ERROR;
                }
                memcpy(out, image + (sy * p->in_w + sx) * ch, (size_t)ch);
                out += ch;
            }
        }
    }
    return TA_OK;
}
