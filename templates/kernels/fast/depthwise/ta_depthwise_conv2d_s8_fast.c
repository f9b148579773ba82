/* DEPTHWISE_CONV_2D int8, fast form (see the header). Bit-exact with TFLM:
 * padding holds the input zero point and the bias absorbs the input offset,
 * so every tap contributes w * x_raw. Weights and bias come doubled, so the
 * accumulator is the 2 * acc that ta_requantize_fast would form, and the
 * requantization is
 *   x = SMMLAR(2 * acc, multiplier, round);  x += (2 * acc) >> 31;  x >>= e
 * i.e. ta_requantize_fast with its rounding constant folded into the multiply
 * (SMMLAR adds round * 2^32 before rounding, which adds exactly round) and the
 * sign of x taken from the accumulator: they differ only when x == 0, and
 * (round - 1) >> e == round >> e because round = 2^(e-1) + offset * 2^e. */
#include "ta_depthwise_conv2d_s8_fast.h"
#include "ta_dsp.h"
#include "ta_dw_fast_planes.h"
#include "ta_dw_fast_rows.h"
#include "ta_dw_fast_channel.h"

/* Widen channels c .. c + group - 1 (src points at channel c) into planes 0 .. group - 1. */
static void fill_group(const ta_depthwise_fast_params *p, const dw_fill *f, const int8_t *src,
                       int16_t *planes, int32_t plane_size) {
#if DW_ASM
    if (p->fill_group == 4) {
        if (f->rows > 0) {
            fill4_interior_asm(f->asm_k, src, planes + f->dst_first, 2 * plane_size);
        }
        return;
    }
#endif
    for (int32_t g = 0; g < p->fill_group; ++g) {
        fill_interior(f, src + g, planes + g * plane_size);
    }
}

ta_status ta_depthwise_conv2d_s8_fast(const ta_depthwise_fast_params *p, const int8_t *input,
                                      const void *weights, int8_t *output, int16_t *scratch) {
    const int32_t in_c = p->input.c, mult = p->depth_multiplier, group = p->fill_group;
    const int32_t plane_size = p->plane_h * p->plane_w;
    const dw_fill fill = fill_layout(p);
#if DW_ASM
    int32_t ctx[23] = {0};     /* the assembly channels' constants */
    layer_ctx(p, ctx);
#endif
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *in = input + (size_t)b * p->input.h * p->input.w * in_c;
        int8_t *out = output + (size_t)b * p->output.h * p->output.w * p->output.c;
#if DW_ASM
        fill_zero_point_asm(scratch, group * plane_size / 2, p->input_zero_point);
#else
        for (int32_t g = 0; g < group; ++g) {
            fill_border(p, scratch + g * plane_size);
        }
#endif
        for (int32_t c = 0; c < in_c; c += group) {
            fill_group(p, &fill, in + c, scratch, plane_size);
#if DW_ASM
            if (p->taps3x3 && p->full_range) {
                if (mult == 1) {
                    channels_asm(p, scratch, weights, c, group, out, ctx);
                } else {
                    for (int32_t g = 0; g < group; ++g) {
                        channels_asm(p, scratch + g * plane_size, weights, (c + g) * mult, mult, out, ctx);
                    }
                }
                continue;
            }
#endif
            for (int32_t g = 0; g < group; ++g) {
                for (int32_t m = 0; m < mult; ++m) {
                    channel(p, scratch + g * plane_size, weights, (c + g) * mult + m, out);
                }
            }
        }
    }
    return TA_OK;
}
