/* MAX_POOL_2D int8 for Helium (MVE). The same window as TFLM's reference (taps outside the image are
 * skipped, not padded); per output pixel and group of sixteen channels the window's maximum with one
 * VLDRB.8 and one VMAX.S8 per tap (the last group tail-predicated: lanes off are neither read nor
 * written), then the activation clamp (VMAX/VMIN) where it is inside int8. */
#include "ta_max_pool_s8_mve.h"
#include "ta_mve.h"

ta_status ta_max_pool_s8_mve(const ta_pool_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t row = in_w * depth;
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *image = input + b * in_h * row;
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t y_origin = oy * p->stride_h - p->pad_top;
            const int32_t y0 = ta_max32(0, -y_origin), y1 = ta_min32(p->filter_h, in_h - y_origin);
            for (int32_t ox = 0; ox < p->output.w; ++ox, output += depth) {
                const int32_t x_origin = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ta_max32(0, -x_origin), x1 = ta_min32(p->filter_w, in_w - x_origin);
                const int8_t *first = image + (y_origin + y0) * row + (x_origin + x0) * depth;
#if TA_MVE
                const int32_t clamp = act_min > -128 || act_max < 127;
                const int8x16_t lo = vdupq_n_s8((int8_t)act_min), hi = vdupq_n_s8((int8_t)act_max);
                for (int32_t c = 0; c < depth; c += 16) {
                    const mve_pred16_t pred = vctp8q((uint32_t)(depth - c));
                    const int8_t *tap_row = first + c;
                    int8x16_t best = vldrbq_z_s8(tap_row, pred);
                    for (int32_t ky = y0; ky < y1; ++ky, tap_row += row) {
                        const int8_t *tap = tap_row;
                        for (int32_t kx = x0; kx < x1; ++kx, tap += depth) {
                            best = vmaxq_s8(best, vldrbq_z_s8(tap, pred));
                        }
                    }
                    if (clamp) {
                        best = vminq_s8(vmaxq_s8(best, lo), hi);
                    }
                    vstrbq_p_s8(output + c, best, pred);
                }
#else
                for (int32_t c = 0; c < depth; ++c) {
                    int32_t best = -128;
                    for (int32_t ky = y0; ky < y1; ++ky) {
                        for (int32_t kx = x0; kx < x1; ++kx) {
                            best = ta_max32(best, first[(ky - y0) * row + (kx - x0) * depth + c]);
                        }
                    }
                    output[c] = (int8_t)ta_clamp32(best, act_min, act_max);
                }
#endif
            }
        }
    }
    return TA_OK;
}
