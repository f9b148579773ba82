/* AVERAGE_POOL_2D int8: the mean over the window's in-image elements,
 * rounded to nearest with ties away from zero, as TFLM does. */
#include "ta_avg_pool_s8.h"

ta_status ta_avg_pool_s8(const ta_pool_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, ch = p->input.c;
    for (int32_t b = 0; b < p->output.n; ++b) {
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t y0 = oy * p->stride_h - p->pad_top;
            const int32_t ky_start = ta_max32(0, -y0);
            const int32_t ky_end = ta_min32(p->filter_h, in_h - y0);
            for (int32_t ox = 0; ox < p->output.w; ++ox) {
                const int32_t x0 = ox * p->stride_w - p->pad_left;
                const int32_t kx_start = ta_max32(0, -x0);
                const int32_t kx_end = ta_min32(p->filter_w, in_w - x0);
                const int32_t count = (ky_end - ky_start) * (kx_end - kx_start);
                int8_t *out = output + ((b * p->output.h + oy) * p->output.w + ox) * ch;
                for (int32_t c = 0; c < ch; ++c) {
                    int32_t acc = 0;
                    for (int32_t ky = ky_start; ky < ky_end; ++ky) {
                        for (int32_t kx = kx_start; kx < kx_end; ++kx) {
                            acc += input[((b * in_h + y0 + ky) * in_w + x0 + kx) * ch + c];
                        }
                    }
                    if (count <= 0) {
                        return TA_ERROR;
                    }
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    out[c] = (int8_t)ta_clamp32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return TA_OK;
}
