/* CONV_2D reference-order int8 kernel (portable C99).
 *
 * Accumulates sum((x + input_offset) * w) over the receptive field, skipping
 * padding (which is why the offset is added per element here), adds the bias,
 * requantizes per output channel and clamps. Grouped convolution is handled
 * when input.c is a multiple of the weights' input depth.
 */
#include "ta_conv2d_s8.h"

ta_status ta_conv2d_s8(const ta_conv2d_params *p, const int8_t *input, const int8_t *weights,
                       const int32_t *bias, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t out_c = p->output.c;
    const int32_t filter_depth = p->filter_depth_per_group;
    const int32_t groups = in_c / filter_depth;
    const int32_t out_c_per_group = out_c / groups;

    for (int32_t b = 0; b < p->output.n; ++b) {
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_top;
            for (int32_t ox = 0; ox < p->output.w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->output.h + oy) * p->output.w + ox) * out_c;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int32_t group = oc / out_c_per_group;
                    const int8_t *w = weights + (size_t)oc * p->filter_h * p->filter_w * filter_depth;
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
                            const int8_t *x = input + ((b * in_h + in_y) * in_w + in_x) * in_c + group * filter_depth;
                            const int8_t *wk = w + (ky * p->filter_w + kx) * filter_depth;
                            for (int32_t ic = 0; ic < filter_depth; ++ic) {
                                acc += (x[ic] + p->input_offset) * wk[ic];
                            }
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
    return TA_OK;
}
