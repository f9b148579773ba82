/* CONV_2D int8, fast form (see the header). Bit-exact with TFLM's reference:
 * the input offset is folded into the bias at generation time and padding is
 * filled with the input zero point, so every tap contributes w * x_raw. */
#include "ta_conv2d_s8_fast.h"
#include "ta_dsp.h"

/* Lane order of the im2col rows: each group of four values (e0 e1 e2 e3) is
 * stored as the int16 pairs (e0, e2), (e1, e3) -- what SXTB16 and SXTB16 ROR 8
 * make of the four weight bytes, so both sides meet in SMLAD unshuffled. The
 * two pixels of a tile are interleaved group by group,
 *   col = [p0 (e0,e2)] [p0 (e1,e3)] [p1 (e0,e2)] [p1 (e1,e3)] ...,
 * so one pointer walks both. `which` (0 or 1) selects the pixel's slots. */
static void im2col_pixel(const ta_conv2d_fast_params *p, const int8_t *input, int32_t b, int32_t oy, int32_t ox,
                         int32_t *col, int32_t which, int8_t *stage) {
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    const int32_t y0 = oy * p->stride_h - p->pad_top;
    const int32_t x0 = ox * p->stride_w - p->pad_left;
    const int32_t zp = p->input_zero_point;
    if ((in_c & 3) == 0) {
        /* Whole groups per tap: one word in, two words out. */
        const int32_t zp_pair = (int32_t)(((uint32_t)(uint16_t)zp << 16) | (uint16_t)zp);
        int32_t *out = col + 2 * which;
        for (int32_t ky = 0; ky < p->filter_h; ++ky) {
            const int32_t y = y0 + ky * p->dilation_h;
            for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                const int32_t x = x0 + kx * p->dilation_w;
                if (y < 0 || y >= in_h || x < 0 || x >= in_w) {
                    for (int32_t c = 0; c < in_c; c += 4) {
                        out[0] = zp_pair;
                        out[1] = zp_pair;
                        out += 4;
                    }
                    continue;
                }
                const int8_t *src = input + ((b * in_h + y) * in_w + x) * in_c;
                for (int32_t c = 0; c < in_c; c += 4) {
                    const int32_t word = ta_load32(src + c);
                    out[0] = ta_sxtb16(word);
                    out[1] = ta_sxtb16_ror8(word);
                    out += 4;
                }
            }
        }
        for (int32_t g = (p->filter_h * p->filter_w * in_c) >> 2; g < (p->row_len >> 2); ++g) {
            out[0] = 0;
            out[1] = 0;
            out += 4;
        }
        return;
    }
    /* Any channel count: gather the receptive field as int8 (zero point where it
     * leaves the image, zeros in the padded tail), then widen it group by group. */
    int32_t flat = 0;
    for (int32_t ky = 0; ky < p->filter_h; ++ky) {
        const int32_t y = y0 + ky * p->dilation_h;
        for (int32_t kx = 0; kx < p->filter_w; ++kx) {
            const int32_t x = x0 + kx * p->dilation_w;
            if (y < 0 || y >= in_h || x < 0 || x >= in_w) {
                for (int32_t c = 0; c < in_c; ++c) {
                    stage[flat++] = (int8_t)zp;
                }
                continue;
            }
            const int8_t *src = input + ((b * in_h + y) * in_w + x) * in_c;
            for (int32_t c = 0; c < in_c; ++c) {
                stage[flat++] = src[c];
            }
        }
    }
    for (; flat < p->row_len; ++flat) {
        stage[flat] = 0;
    }
    int32_t *out = col + 2 * which;
    for (int32_t g = 0; g < (p->row_len >> 2); ++g) {
        const int32_t word = ta_load32(stage + 4 * g);
        out[0] = ta_sxtb16(word);
        out[1] = ta_sxtb16_ror8(word);
        out += 4;
    }
}

/* Requantization constants, copied out of the params struct once per layer:
 * output stores are int8 and may alias anything, which would otherwise make
 * the compiler reload every field after every store. */
typedef struct {
    const int32_t *bias, *multiplier, *shift, *round;
    int32_t output_offset, act_min, act_max, fast;
} requant_consts;

TA_INLINE int8_t requantize_one(const requant_consts *q, int32_t acc, int32_t oc) {
    if (q->fast) {
        return (int8_t)ta_clamp_s8(ta_requantize_fast(acc, q->multiplier[oc], q->shift[oc], q->round[oc]),
                                   q->act_min, q->act_max);
    }
    const int32_t y = ta_requantize(acc, q->multiplier[oc], q->shift[oc]) + q->output_offset;
    return (int8_t)ta_clamp32(y, q->act_min, q->act_max);
}

/* The tile: two pixels x two output channels, four input values per step:
 * one LDRD of the channel pair's weights (laid out pairwise at generation
 * time), two LDRD of the interleaved columns, four SXTB16 and eight SMLAD. */
static void matmul_pixels(const ta_conv2d_fast_params *p, const int8_t *weights, const int32_t *col,
                          int8_t *out0, int8_t *out1) {
    const requant_consts q = {p->bias, p->multiplier, p->shift, p->round, p->output_offset, p->act_min,
                              p->act_max, p->fast_requant};
    const int32_t out_c = p->output.c;
    const int32_t row_len = p->row_len;
    const int32_t groups = row_len >> 2;
    for (int32_t oc = 0; oc < out_c; oc += 2) {
        /* An odd last channel was paired with itself by the generator. */
        const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc;
        const void *w = weights + (size_t)oc * row_len;
        const void *x = col;
        int32_t a00 = q.bias[oc], a01 = a00, a10 = q.bias[oc1], a11 = a10;
        for (int32_t g = 0; g < groups; ++g) {
            int32_t wa, wb, x0, x1;
            TA_LOAD_PAIR_INC(w, wa, wb);
            TA_LOAD_PAIR_INC(x, x0, x1);
            const int32_t a_lo = ta_sxtb16(wa), a_hi = ta_sxtb16_ror8(wa);
            const int32_t b_lo = ta_sxtb16(wb), b_hi = ta_sxtb16_ror8(wb);
            a00 = ta_smlad(a_lo, x0, a00);
            a00 = ta_smlad(a_hi, x1, a00);
            a10 = ta_smlad(b_lo, x0, a10);
            a10 = ta_smlad(b_hi, x1, a10);
            TA_LOAD_PAIR_INC(x, x0, x1);
            a01 = ta_smlad(a_lo, x0, a01);
            a01 = ta_smlad(a_hi, x1, a01);
            a11 = ta_smlad(b_lo, x0, a11);
            a11 = ta_smlad(b_hi, x1, a11);
        }
        if (q.fast) {
            /* Each channel's constants are loaded once for its two outputs. */
            const int32_t m0 = q.multiplier[oc], r0 = q.shift[oc], k0 = q.round[oc];
            const int32_t m1 = q.multiplier[oc1], r1 = q.shift[oc1], k1 = q.round[oc1];
            const int32_t lo = q.act_min, hi = q.act_max;
            out0[oc] = (int8_t)ta_clamp_s8(ta_requantize_fast(a00, m0, r0, k0), lo, hi);
            out0[oc1] = (int8_t)ta_clamp_s8(ta_requantize_fast(a10, m1, r1, k1), lo, hi);
            if (out1 != NULL) {
                out1[oc] = (int8_t)ta_clamp_s8(ta_requantize_fast(a01, m0, r0, k0), lo, hi);
                out1[oc1] = (int8_t)ta_clamp_s8(ta_requantize_fast(a11, m1, r1, k1), lo, hi);
            }
            continue;
        }
        out0[oc] = requantize_one(&q, a00, oc);
        out0[oc1] = requantize_one(&q, a10, oc1);
        if (out1 != NULL) {
            out1[oc] = requantize_one(&q, a01, oc);
            out1[oc1] = requantize_one(&q, a11, oc1);
        }
    }
}

ta_status ta_conv2d_s8_fast(const ta_conv2d_fast_params *p, const int8_t *input, const int8_t *weights,
                            int8_t *output, int16_t *scratch) {
    const int32_t out_w = p->output.w, out_c = p->output.c;
    const int32_t pixels = p->output.h * out_w;
    int32_t *col = (int32_t *)scratch;
    int8_t *stage = (int8_t *)(scratch + 2 * p->row_len);   /* row_len bytes after the columns */
    for (int32_t b = 0; b < p->output.n; ++b) {
        int8_t *out = output + (size_t)b * pixels * out_c;
        for (int32_t i = 0; i < pixels; i += 2) {
            /* An odd last pixel runs the tile with itself twice. */
            const int32_t j = i + 1 < pixels ? i + 1 : i;
            im2col_pixel(p, input, b, i / out_w, i % out_w, col, 0, stage);
            im2col_pixel(p, input, b, j / out_w, j % out_w, col, 1, stage);
            matmul_pixels(p, weights, col, out + (size_t)i * out_c, j != i ? out + (size_t)j * out_c : NULL);
        }
    }
    return TA_OK;
}
