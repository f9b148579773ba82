/* DEPTHWISE_CONV_2D int8, fast form (see the header). Bit-exact with TFLM:
 * padding holds the input zero point and the bias absorbs the input offset,
 * so every tap contributes w * x_raw; requantization is ta_requantize_fast. */
#include "ta_depthwise_conv2d_s8_fast.h"
#include "ta_dsp.h"

/* The plane's border (everything outside the image) holds the input zero
 * point; it is the same for every channel, so it is written once per layer. */
static void fill_border(const ta_depthwise_fast_params *p, int16_t *plane) {
    const int16_t zp = (int16_t)p->input_zero_point;
    const int32_t x_end = p->pad_left + p->input.w;
    for (int32_t py = 0; py < p->plane_h; ++py) {
        int16_t *row = plane + py * p->plane_w;
        const int32_t iy = py - p->pad_top;
        const int inside_row = iy >= 0 && iy < p->input.h;
        for (int32_t px = 0; px < p->plane_w; ++px) {
            if (!inside_row || px < p->pad_left || px >= x_end) {
                row[px] = zp;
            }
        }
    }
}

/* Widen channel c of the image into the plane's interior. */
static void fill_interior(const ta_depthwise_fast_params *p, const int8_t *input, int32_t c, int16_t *plane) {
    const int32_t in_w = p->input.w, in_c = p->input.c;
    const int32_t rows = ta_min32(p->input.h, p->plane_h - p->pad_top);
    const int32_t cols = ta_min32(in_w, p->plane_w - p->pad_left);
    for (int32_t iy = 0; iy < rows; ++iy) {
        int16_t *dst = plane + (iy + p->pad_top) * p->plane_w + p->pad_left;
        const int8_t *src = input + (size_t)iy * in_w * in_c + c;
        int32_t n = cols;
        for (; n >= 4; n -= 4) {
            dst[0] = src[0];
            dst[1] = src[in_c];
            dst[2] = src[2 * in_c];
            dst[3] = src[3 * in_c];
            dst += 4;
            src += 4 * in_c;
        }
        for (; n > 0; --n) {
            *dst++ = *src;
            src += in_c;
        }
    }
}

TA_INLINE int8_t finish(int32_t acc, int32_t mult, int32_t right, int32_t round, int32_t lo, int32_t hi) {
    return (int8_t)ta_clamp_s8(ta_requantize_fast(acc, mult, right, round), lo, hi);
}

/* 3x3, stride 1 or 2: two outputs per step. Per row, with P0 = (x0,x1),
 * P1 = (x2,x3) and the weight words W01 = (w0,w1), W2 = (w2, 0):
 *   stride 1: out0 += P0.W01 + x2*w2            out1 += (x1,x2).W01 + x3*w2
 *   stride 2: out0 += P0.W01 + x2*w2            out1 += P1.W01 + x4*w2
 * The rows are written out by hand: a loop over them keeps arrays on the stack. */
#define TA_DW_ROW_S1(r, w01, w2)                                         \
    do {                                                                 \
        const int32_t p0 = ta_load32(r), p1 = ta_load32((r) + 2);        \
        a0 = ta_smlabb(p1, (w2), ta_smlad(p0, (w01), a0));               \
        a1 = ta_smlatb(p1, (w2), ta_smlad(ta_load32((r) + 1), (w01), a1)); \
    } while (0)
#define TA_DW_ROW_S2(r, w01, w2)                                         \
    do {                                                                 \
        const int32_t p1 = ta_load32((r) + 2);                           \
        a0 = ta_smlabb(p1, (w2), ta_smlad(ta_load32(r), (w01), a0));     \
        a1 = ta_smlabb(ta_load32((r) + 4), (w2), ta_smlad(p1, (w01), a1)); \
    } while (0)

static void channel_3x3(const ta_depthwise_fast_params *p, const int16_t *plane, const int32_t *w, int32_t oc,
                        int8_t *output) {
    const int32_t out_w = p->output.w, out_c = p->output.c, pw = p->plane_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t w01a = w[0], w2a = w[1], w01b = w[2], w2b = w[3], w01c = w[4], w2c = w[5];
    const int32_t bias = p->bias[oc], mult = p->multiplier[oc], right = p->shift[oc], round = p->round[oc];
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t pairs = out_w >> 1;
    for (int32_t oy = 0; oy < p->output.h; ++oy) {
        const int16_t *x = plane + oy * sh * pw;
        int8_t *out = output + (size_t)oy * out_w * out_c + oc;
        if (sw == 1) {
            for (int32_t i = 0; i < pairs; ++i, x += 2) {
                int32_t a0 = bias, a1 = bias;
                TA_DW_ROW_S1(x, w01a, w2a);
                TA_DW_ROW_S1(x + pw, w01b, w2b);
                TA_DW_ROW_S1(x + 2 * pw, w01c, w2c);
                out[0] = finish(a0, mult, right, round, lo, hi);
                out[out_c] = finish(a1, mult, right, round, lo, hi);
                out += 2 * out_c;
            }
        } else {
            for (int32_t i = 0; i < pairs; ++i, x += 4) {
                int32_t a0 = bias, a1 = bias;
                TA_DW_ROW_S2(x, w01a, w2a);
                TA_DW_ROW_S2(x + pw, w01b, w2b);
                TA_DW_ROW_S2(x + 2 * pw, w01c, w2c);
                out[0] = finish(a0, mult, right, round, lo, hi);
                out[out_c] = finish(a1, mult, right, round, lo, hi);
                out += 2 * out_c;
            }
        }
        if (out_w & 1) {
            int32_t a0 = bias;
            a0 = ta_smlabb(x[2], w2a, ta_smlad(ta_load32(x), w01a, a0));
            a0 = ta_smlabb(x[pw + 2], w2b, ta_smlad(ta_load32(x + pw), w01b, a0));
            a0 = ta_smlabb(x[2 * pw + 2], w2c, ta_smlad(ta_load32(x + 2 * pw), w01c, a0));
            out[0] = finish(a0, mult, right, round, lo, hi);
        }
    }
}

/* Any window and stride: one output at a time, one tap at a time. */
static void channel_generic(const ta_depthwise_fast_params *p, const int16_t *plane, const int16_t *w, int32_t oc,
                            int8_t *output) {
    const int32_t out_w = p->output.w, out_c = p->output.c, pw = p->plane_w;
    const int32_t bias = p->bias[oc], mult = p->multiplier[oc], right = p->shift[oc], round = p->round[oc];
    for (int32_t oy = 0; oy < p->output.h; ++oy) {
        for (int32_t ox = 0; ox < out_w; ++ox) {
            const int16_t *x = plane + oy * p->stride_h * pw + ox * p->stride_w;
            int32_t acc = bias;
            for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                    acc = ta_smlabb(x[ky * pw + kx], w[ky * p->filter_w + kx], acc);
                }
            }
            output[((size_t)oy * out_w + ox) * out_c + oc] = finish(acc, mult, right, round, p->act_min, p->act_max);
        }
    }
}

ta_status ta_depthwise_conv2d_s8_fast(const ta_depthwise_fast_params *p, const int8_t *input,
                                      const void *weights, int8_t *output, int16_t *scratch) {
    const int32_t in_c = p->input.c, mult = p->depth_multiplier;
    const int32_t taps = p->filter_h * p->filter_w;
    const int32_t generic_stride = (taps + 1) & ~1;
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *in = input + (size_t)b * p->input.h * p->input.w * in_c;
        int8_t *out = output + (size_t)b * p->output.h * p->output.w * p->output.c;
        fill_border(p, scratch);
        for (int32_t c = 0; c < in_c; ++c) {
            fill_interior(p, in, c, scratch);
            for (int32_t m = 0; m < mult; ++m) {
                const int32_t oc = c * mult + m;
                if (p->taps3x3) {
                    channel_3x3(p, scratch, (const int32_t *)weights + 6 * oc, oc, out);
                } else {
                    channel_generic(p, scratch, (const int16_t *)weights + generic_stride * oc, oc, out);
                }
            }
        }
    }
    return TA_OK;
}
