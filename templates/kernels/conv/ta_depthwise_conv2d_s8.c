/* DEPTHWISE_CONV_2D reference-order int8 kernel (portable C99). */
#include "ta_depthwise_conv2d_s8.h"

ta_status ta_depthwise_conv2d_s8(const ta_depthwise_conv2d_params *p, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t out_c = p->output.c;
    for (int32_t b = 0; b < p->output.n; ++b) {
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->output.w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->output.h + oy) * p->output.w + ox) * out_c;
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    for (int32_t m = 0; m < p->depth_multiplier; ++m) {
                        const int32_t oc = ic * p->depth_multiplier + m;
                        int32_t acc = 0;
                        for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                            const int32_t in_y = in_y0 + ky * p->dilation_h;
                            if (in_y < 0 || in_y >= in_h) {
                                continue;
                            }
                            for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                                const int32_t in_x = in_x0 + kx * p->dilation_w;
                                if (in_x < 0 || in_x >= in_w) {
                                    continue;
                                }
                                const int32_t x = input[((b * in_h + in_y) * in_w + in_x) * in_c + ic];
                                const int32_t w = weights[(ky * p->filter_w + kx) * out_c + oc];
                                acc += (x + p->input_offset) * w;
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        acc = ta_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                        out[oc] = (int8_t)ta_clamp32(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return TA_OK;
}
