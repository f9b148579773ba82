/* TRANSPOSE_CONV int8 in TFLM's reference order: every input element is
 * scattered, times the filter, into an int32 accumulator per output element
 * (the scratch buffer); then bias, per-channel requantization and clamping. */
#include "ta_transpose_conv_s8.h"

ta_status ta_transpose_conv_s8(const ta_transpose_conv_params *p, const int8_t *input, const int8_t *weights,
                               const int32_t *bias, int8_t *output, int32_t *scratch) {
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t out_h = p->output.h, out_w = p->output.w, out_c = p->output.c;
    const int32_t total = p->output.n * out_h * out_w * out_c;

    for (int32_t i = 0; i < total; ++i) {
        scratch[i] = 0;
    }
    for (int32_t b = 0; b < p->input.n; ++b) {
        for (int32_t iy = 0; iy < in_h; ++iy) {
            const int32_t oy0 = iy * p->stride_h - p->pad_top;
            for (int32_t ix = 0; ix < in_w; ++ix) {
                const int32_t ox0 = ix * p->stride_w - p->pad_left;
                const int8_t *x = input + ((b * in_h + iy) * in_w + ix) * in_c;
                for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                    const int32_t oy = oy0 + ky;
                    if (oy < 0 || oy >= out_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                        const int32_t ox = ox0 + kx;
                        if (ox < 0 || ox >= out_w) {
                            continue;
                        }
                        int32_t *acc = scratch + ((b * out_h + oy) * out_w + ox) * out_c;
                        for (int32_t oc = 0; oc < out_c; ++oc) {
                            const int8_t *w = weights + ((oc * p->filter_h + ky) * p->filter_w + kx) * in_c;
                            int32_t sum = 0;
                            for (int32_t ic = 0; ic < in_c; ++ic) {
                                sum += (x[ic] + p->input_offset) * w[ic];
                            }
                            acc[oc] += sum;
                        }
                    }
                }
            }
        }
    }
    for (int32_t i = 0; i < total; ++i) {
        const int32_t oc = i % out_c;
        int32_t acc = scratch[i];
        if (bias != NULL) {
            /* Wraps like TFLM's int32 addition would, without undefined behaviour. */
            acc = (int32_t)((uint32_t)acc + (uint32_t)bias[oc]);
        }
        acc = ta_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
        output[i] = (int8_t)ta_clamp32(acc, p->act_min, p->act_max);
    }
    return TA_OK;
}
