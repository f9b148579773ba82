/* RESIZE_BILINEAR int8 as TFLM's ResizeBilinearInteger computes it: source
 * positions in Q10, the four neighbours weighted in Q20 (int64), and the
 * sum divided by 2^20 rounding half away from zero. Input and output share
 * quantization, so there is no rescale. */
#include "ta_resize_bilinear_s8.h"

/* Position of output coordinate `v` in the input, Q10, and its two neighbours.
 * C division truncates toward zero, as TFLM's does; a negative position
 * (half-pixel centres near the edge) keeps its negative fraction. */
TA_INLINE void source_position(int32_t v, int32_t scale, int32_t half_pixel, int32_t in_size,
                               int32_t *pos, int32_t *lo, int32_t *hi) {
    const int32_t scaled = half_pixel ? v * scale + scale / 2 - (1 << 9) : v * scale;
    *pos = scaled;
    *lo = ta_max32(scaled / (1 << 10), 0);
    *hi = ta_min32((scaled + (1 << 10) - 1) / (1 << 10), in_size - 1);
}

ta_status ta_resize_bilinear_s8(const ta_resize_bilinear_params *p, const int8_t *input, int8_t *output) {
    const int32_t ch = p->channels;
    int8_t *out = output;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *image = input + b * p->in_h * p->in_w * ch;
        for (int32_t y = 0; y < p->out_h; ++y) {
            int32_t py, y0, y1;
            source_position(y, p->scale_h, p->half_pixel_centers, p->in_h, &py, &y0, &y1);
            const int64_t wy1 = py - (1 << 10) * y0;
            const int64_t wy0 = (1 << 10) - wy1;
            for (int32_t x = 0; x < p->out_w; ++x) {
                int32_t px, x0, x1;
                source_position(x, p->scale_w, p->half_pixel_centers, p->in_w, &px, &x0, &x1);
                const int64_t wx1 = px - (1 << 10) * x0;
                const int64_t wx0 = (1 << 10) - wx1;
                const int8_t *p00 = image + (y0 * p->in_w + x0) * ch;
                const int8_t *p10 = image + (y1 * p->in_w + x0) * ch;
                const int8_t *p01 = image + (y0 * p->in_w + x1) * ch;
                const int8_t *p11 = image + (y1 * p->in_w + x1) * ch;
                for (int32_t c = 0; c < ch; ++c) {
                    const int64_t sum = (int64_t)p00[c] * wy0 * wx0 + (int64_t)p10[c] * wy1 * wx0 +
                                        (int64_t)p01[c] * wy0 * wx1 + (int64_t)p11[c] * wy1 * wx1;
                    const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
                    *out++ = (int8_t)((sum + round) / (1 << 20));
                }
            }
        }
    }
    return TA_OK;
}
