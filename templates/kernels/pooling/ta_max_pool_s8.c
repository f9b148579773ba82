/* MAX_POOL_2D int8: the largest in-image element of each window (padding
 * never wins: a window with no in-image element gives -128), then the fused
 * activation's clamp, as TFLM computes it. */
#include "ta_max_pool_s8.h"

ta_status ta_max_pool_s8(const ta_pool_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, ch = p->input.c;
    int8_t *out = output;
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *image = input + b * in_h * in_w * ch;
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ky_start = ta_max32(0, -y0);
            const int32_t ky_end = ta_min32(p->filter_h, in_h - y0);
            for (int32_t ox = 0; ox < p->output.w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t kx_start = ta_max32(0, -x0);
                const int32_t kx_end = ta_min32(p->filter_w, in_w - x0);
                for (int32_t c = 0; c < ch; ++c) {
                    int32_t best = INT8_MIN;
                    for (int32_t ky = ky_start; ky < ky_end; ++ky) {
                        const int8_t *row = image + ((y0 + ky) * in_w + x0) * ch + c;
                        for (int32_t kx = kx_start; kx < kx_end; ++kx) {
                            const int32_t v = row[kx * ch];
                            best = v > best ? v : best;
                        }
                    }
                    *out++ = (int8_t)ta_clamp32(best, p->act_min, p->act_max);
                }
            }
        }
    }
    return TA_OK;
}
