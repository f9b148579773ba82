/* CONV_2D int8 for Helium (MVE). See ta_conv2d_s8_mve.h for the layouts.
 *
 * Output pixels go two at a time: their columns (the input window, padding filled with the input
 * zero point, [filter_h][filter_w][c], copied as whole vectors) are gathered into scratch, or read
 * in place for a 1x1 filter without padding. Then for each group of four output channels the 2 x 4
 * tile (ta_mve_dot_2x4) sums eight dot products with VMLADAVA.S8 on 16 int8 lanes: per 16 inputs
 * two column loads, four weight loads and eight VMLADAVA (128 MACs in 16 instructions with the
 * loop's SUBS and BNE). The input offset is in the bias, so the sums are of raw int8 values. Each
 * pixel's four results are requantized as one vector and stored with a tail predicate on the
 * last channel group. */
#include "ta_conv2d_s8_mve.h"
#include "ta_mve.h"

/* n bytes from src to dst as whole vectors: up to 15 bytes past both ends are read or written. Past dst
 * end is the next part of the column (written after) or the slack after it; past n, a column only
 * meets zero weights. Reads stop at `end`: the last vector before it is tail-predicated. */
TA_INLINE void ta_conv2d_mve_run(int8_t *dst, const int8_t *src, int32_t n, const int8_t *end) {
#if TA_MVE
    if (src + ((n + 15) & ~15) > end) {
        ta_mve_copy(dst, src, n);
        return;
    }
    for (; n > 0; n -= 16, src += 16, dst += 16) {
        vstrbq_s8(dst, vldrbq_s8(src));
    }
#else
    (void)end;
    memcpy(dst, src, (size_t)n);
#endif
}

TA_INLINE void ta_conv2d_mve_zp(int8_t *dst, int8_t zp, int32_t n) {
#if TA_MVE
    const int8x16_t v = vdupq_n_s8(zp);
    for (; n > 0; n -= 16, dst += 16) {
        vstrbq_s8(dst, v);
    }
#else
    memset(dst, zp, (size_t)n);
#endif
}

/* The column of output pixel (oy, ox) of one batch image (which ends at end), into col (col_len + 16
 * bytes). Past filter_h * filter_w * c the column holds whatever the runs left there: the weights are
 * zero (the host build, which reads it as plain C, clears it). */
static void ta_conv2d_mve_column(const ta_conv2d_mve_params *p, const int8_t *image, const int8_t *end,
                                 int32_t oy, int32_t ox, int8_t *col) {
    const int32_t c = p->input.c;
    const int32_t run = p->filter_w * c;
    const int8_t zp = (int8_t)p->input_zero_point;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t whole_row = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->filter_w <= p->input.w;
    int8_t *dst = col;
    for (int32_t ky = 0; ky < p->filter_h; ky++, dst += run) {
        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
        if (iy < 0 || iy >= p->input.h) {
            ta_conv2d_mve_zp(dst, zp, run);
            continue;
        }
        const int8_t *row = image + iy * p->input.w * c;
        if (whole_row) {
            ta_conv2d_mve_run(dst, row + ix0 * c, run, end);
            continue;
        }
        for (int32_t kx = 0; kx < p->filter_w; kx++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (ix < 0 || ix >= p->input.w) {
                ta_conv2d_mve_zp(dst + kx * c, zp, c);
            } else {
                ta_conv2d_mve_run(dst + kx * c, row + ix * c, c, end);
            }
        }
    }
#if !TA_MVE
    const int32_t used = p->filter_h * run;
    memset(col + used, 0, (size_t)(p->col_len - used));
#endif
}

/* Every channel group of two output pixels (pixel 1 is pixel 0 again when `two` is 0); `left`: some
 * channel's requantization shifts left (a constant where it is inlined). */
TA_INLINE void ta_conv2d_mve_pixels_with(const ta_conv2d_mve_params *p, const int8_t *col0, const int8_t *col1,
                                         const int8_t *weights, const int32_t *channel, int8_t *out, int32_t two,
                                         const int left) {
    /* locals: the output stores could alias *p, which would reload these every group */
    const int32_t out_c = p->output.c, col_len = p->col_len;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
#if TA_MVE
    const int32_t blocks = col_len / 16;
    int8_t *out1 = two ? out + out_c : NULL;
    for (int32_t oc = 0; oc < out_c; oc += 4, channel += 16, weights += 4 * col_len) {
        int32x4_t acc0, acc1;
        ta_mve_dot_2x4(col0, col1, weights, blocks, &acc0, &acc1);
        const int32x4_t bias = vldrwq_s32(channel);
        const int32x4_t y0 = left ? ta_mve_requantize(vaddq_s32(acc0, bias), channel + 4, output_offset, act_min, act_max)
                                  : ta_mve_requantize_right(vaddq_s32(acc0, bias), channel + 4, output_offset, act_min,
                                                            act_max);
        const int32x4_t y1 = left ? ta_mve_requantize(vaddq_s32(acc1, bias), channel + 4, output_offset, act_min, act_max)
                                  : ta_mve_requantize_right(vaddq_s32(acc1, bias), channel + 4, output_offset, act_min,
                                                            act_max);
        if (oc + 4 <= out_c) {
            vstrbq_s32(out + oc, y0);
            if (out1) {
                vstrbq_s32(out1 + oc, y1);
            }
        } else {
            const mve_pred16_t tail = vctp32q((uint32_t)(out_c - oc));
            vstrbq_p_s32(out + oc, y0, tail);
            if (out1) {
                vstrbq_p_s32(out1 + oc, y1, tail);
            }
        }
    }
#else
    (void)left;
    for (int32_t oc = 0; oc < out_c; oc += 4, channel += 16, weights += 4 * col_len) {
        for (int32_t lane = 0; lane < 8; lane++) {
            const int32_t pixel = lane / 4, ch = lane % 4;
            if ((pixel && !two) || oc + ch >= out_c) {
                continue;
            }
            const int8_t *col = pixel ? col1 : col0;
            uint32_t acc = (uint32_t)channel[ch];
            for (int32_t k = 0; k < col_len; k++) {
                acc += (uint32_t)(col[k] * weights[(k / 16) * 64 + ch * 16 + k % 16]);
            }
            out[pixel * out_c + oc + ch] = (int8_t)ta_mve_requantize_lane((int32_t)acc, channel + 4, ch,
                                                                          output_offset, act_min, act_max);
        }
    }
#endif
}

static void ta_conv2d_mve_pixels(const ta_conv2d_mve_params *p, const int8_t *col0, const int8_t *col1,
                                 const int8_t *weights, const int32_t *channel, int8_t *out, int32_t two) {
    if (p->left_shift) {
        ta_conv2d_mve_pixels_with(p, col0, col1, weights, channel, out, two, 1);
    } else {
        ta_conv2d_mve_pixels_with(p, col0, col1, weights, channel, out, two, 0);
    }
}

/* Where pixel (oy, ox)'s column is: in place (a 1x1 window without padding, unless its whole vectors
 * would run past the image) or gathered into col. */
TA_INLINE const int8_t *ta_conv2d_mve_source(const ta_conv2d_mve_params *p, const int8_t *image, const int8_t *end,
                                             int32_t oy, int32_t ox, int8_t *col) {
    if (p->direct) {
        const int8_t *pixel = image + (oy * p->stride_h * p->input.w + ox * p->stride_w) * p->input.c;
        if (pixel + p->col_len <= end) {
            return pixel;
        }
    }
    ta_conv2d_mve_column(p, image, end, oy, ox, col);
    return col;
}

ta_status ta_conv2d_s8_mve(const ta_conv2d_mve_params *p, const int8_t *input, const int8_t *weights,
                           const int32_t *channel, int8_t *output, int8_t *scratch) {
    const int32_t out_w = p->output.w, out_c = p->output.c;
    const int32_t pixels = p->output.h * out_w;
    const int32_t image_bytes = p->input.h * p->input.w * p->input.c;
    int8_t *col1 = scratch != NULL ? scratch + p->col_len + 16 : NULL;     /* NULL: every column in place */
    for (int32_t b = 0; b < p->input.n; b++) {
        const int8_t *image = input + b * image_bytes;
        const int8_t *end = image + image_bytes;
        int8_t *out = output + b * pixels * out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t i = 0; i < pixels; i += 2, out += 2 * out_c) {
            const int8_t *x0 = ta_conv2d_mve_source(p, image, end, oy, ox, scratch);
            const int8_t *x1 = x0;
            const int32_t two = i + 1 < pixels;
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
            if (two) {
                x1 = ta_conv2d_mve_source(p, image, end, oy, ox, col1);
                if (++ox == out_w) {
                    ox = 0;
                    oy++;
                }
            }
            ta_conv2d_mve_pixels(p, x0, x1, weights, channel, out, two);
        }
    }
    return TA_OK;
}
