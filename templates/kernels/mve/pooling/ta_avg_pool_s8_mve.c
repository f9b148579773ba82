/* AVERAGE_POOL_2D int8 for Helium (MVE): per output pixel and group of four channels, the window's
 * in-image values summed with one widening VLDRB.S32 and one VADD per pixel (the last group
 * tail-predicated), then each lane divided as TFLM does: to nearest, ties away from zero (MVE has no
 * integer vector division; four scalar divisions per group, outside the window loop). */
#include "ta_avg_pool_s8_mve.h"
#include "ta_mve.h"

/* (acc + count / 2) / count away from zero, clamped: one output value. */
TA_INLINE int8_t ta_avg_pool_mve_mean(int32_t acc, int32_t count, int32_t act_min, int32_t act_max) {
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)ta_clamp32(acc, act_min, act_max);
}

ta_status ta_avg_pool_s8_mve(const ta_pool_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, ch = p->input.c;
    const int32_t act_min = p->act_min, act_max = p->act_max;
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
                if (count <= 0) {
                    return TA_ERROR;
                }
                int8_t *out = output + ((b * p->output.h + oy) * p->output.w + ox) * ch;
                const int8_t *window = input + ((b * in_h + y0 + ky_start) * in_w + x0 + kx_start) * ch;
                const int32_t cols = kx_end - kx_start, row_step = in_w * ch;
                for (int32_t c = 0; c < ch; c += 4) {
                    int32_t sums[4];
#if TA_MVE
                    const int32_t lanes = ch - c < 4 ? ch - c : 4;
                    const mve_pred16_t pred = vctp32q((uint32_t)lanes);
                    int32x4_t acc = vdupq_n_s32(0);
                    const int8_t *row = window + c;
                    for (int32_t ky = ky_start; ky < ky_end; ++ky, row += row_step) {
                        const int8_t *x = row;
                        if (lanes == 4) {
                            for (int32_t k = 0; k < cols; ++k, x += ch) {
                                acc = vaddq_s32(acc, vldrbq_s32(x));
                            }
                        } else {
                            for (int32_t k = 0; k < cols; ++k, x += ch) {
                                acc = vaddq_s32(acc, vldrbq_z_s32(x, pred));
                            }
                        }
                    }
                    vstrwq_s32(sums, acc);
#else
                    const int32_t lanes = ch - c < 4 ? ch - c : 4;
                    for (int32_t lane = 0; lane < lanes; ++lane) {
                        sums[lane] = 0;
                        for (int32_t ky = ky_start; ky < ky_end; ++ky) {
                            for (int32_t k = 0; k < cols; ++k) {
                                sums[lane] += window[(ky - ky_start) * row_step + k * ch + c + lane];
                            }
                        }
                    }
#endif
                    for (int32_t lane = 0; lane < lanes; ++lane) {
                        out[c + lane] = ta_avg_pool_mve_mean(sums[lane], count, act_min, act_max);
                    }
                }
            }
        }
    }
    return TA_OK;
}
