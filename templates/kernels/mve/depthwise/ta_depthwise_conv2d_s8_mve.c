/* DEPTHWISE_CONV_2D int8 for Helium (MVE). See ta_depthwise_conv2d_s8_mve.h for the layouts.
 *
 * For each output row the filter_h input rows it reads are staged in scratch, with the zero point
 * where the window leaves the image (above, below, left, right), so every output pixel sees a
 * whole window and the input offset can live in the bias. Then per group of four channels, four
 * output pixels at a time: each tap is one widening weight load (VLDRB.S32) shared by four
 * widening input loads, four VMUL.S32 and four VADD.S32 (MVE has no vector-by-vector VMLA); the sums are requantized four channels at once
 * (ta_mve.h). A depth multiplier above 1 reads the input channels with a byte gather; a last group
 * of fewer than four channels is tail-predicated. */
#include "ta_depthwise_conv2d_s8_mve.h"
#include "ta_mve.h"

/* Stage the input rows of output row oy into scratch. */
static void ta_dw_mve_rows(const ta_depthwise_mve_params *p, const int8_t *image, int32_t oy, int8_t *scratch) {
    const int32_t c = p->input.c;
    const int32_t row_bytes = p->span_w * c;
    const int8_t zp = (int8_t)p->input_zero_point;
    const int32_t first = p->pad_left > 0 ? p->pad_left : 0;                   /* first staged column from the image */
    int32_t last = p->input.w + p->pad_left;                                     /* one past it */
    last = last < p->span_w ? last : p->span_w;
    for (int32_t ky = 0; ky < p->filter_h; ky++) {
        int8_t *dst = scratch + ky * row_bytes;
        const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
        if (iy < 0 || iy >= p->input.h || last <= first) {
            ta_mve_fill(dst, zp, row_bytes);
            continue;
        }
        ta_mve_fill(dst, zp, first * c);
        ta_mve_copy(dst + first * c, image + (iy * p->input.w + first - p->pad_left) * c, (last - first) * c);
        ta_mve_fill(dst + last * c, zp, (p->span_w - last) * c);
    }
}

#if TA_MVE
/* One input vector of four channels: contiguous (multiplier 1) or gathered; predicated on a tail. */
#define TA_DW_LOAD(ptr) (gather ? (tail ? vldrbq_gather_offset_z_s32((ptr), offsets, pred) \
                                        : vldrbq_gather_offset_s32((ptr), offsets)) \
                                : (tail ? vldrbq_z_s32((ptr), pred) : vldrbq_s32(ptr)))

/* Four output pixels (ox .. ox + 3) of one channel group. base: the staged rows at column ox *
 * stride_w and the group's first input channel; w: the weights at the group's first channel. */
TA_INLINE void ta_dw_mve_four(const ta_depthwise_mve_params *p, const int8_t *base, const int8_t *w,
                              const int32_t *q, int8_t *out, uint32x4_t offsets, mve_pred16_t pred,
                              const int gather, const int tail) {
    const int32_t c = p->input.c;
    const int32_t step = p->stride_w * c, tap_step = p->dilation_w * c, row_bytes = p->span_w * c;
    int32x4_t a0 = vldrwq_s32(q), a1 = a0, a2 = a0, a3 = a0;
    for (int32_t ky = 0; ky < p->filter_h; ky++) {
        const int8_t *x = base + ky * row_bytes;
        for (int32_t kx = 0; kx < p->filter_w; kx++, x += tap_step, w += p->channels) {
            const int32x4_t wv = vldrbq_s32(w);
            a0 = vaddq_s32(a0, vmulq_s32(TA_DW_LOAD(x), wv));
            a1 = vaddq_s32(a1, vmulq_s32(TA_DW_LOAD(x + step), wv));
            a2 = vaddq_s32(a2, vmulq_s32(TA_DW_LOAD(x + 2 * step), wv));
            a3 = vaddq_s32(a3, vmulq_s32(TA_DW_LOAD(x + 3 * step), wv));
        }
    }
    const int32_t oc = p->output.c;
    const mve_pred16_t store = tail ? pred : 0xFFFF;
    vstrbq_p_s32(out, ta_mve_requantize(a0, q + 4, p->output_offset, p->act_min, p->act_max), store);
    vstrbq_p_s32(out + oc, ta_mve_requantize(a1, q + 4, p->output_offset, p->act_min, p->act_max), store);
    vstrbq_p_s32(out + 2 * oc, ta_mve_requantize(a2, q + 4, p->output_offset, p->act_min, p->act_max), store);
    vstrbq_p_s32(out + 3 * oc, ta_mve_requantize(a3, q + 4, p->output_offset, p->act_min, p->act_max), store);
}

TA_INLINE void ta_dw_mve_one(const ta_depthwise_mve_params *p, const int8_t *base, const int8_t *w,
                             const int32_t *q, int8_t *out, uint32x4_t offsets, mve_pred16_t pred,
                             const int gather, const int tail) {
    const int32_t c = p->input.c;
    const int32_t tap_step = p->dilation_w * c, row_bytes = p->span_w * c;
    int32x4_t a0 = vldrwq_s32(q);
    for (int32_t ky = 0; ky < p->filter_h; ky++) {
        const int8_t *x = base + ky * row_bytes;
        for (int32_t kx = 0; kx < p->filter_w; kx++, x += tap_step, w += p->channels) {
            a0 = vaddq_s32(a0, vmulq_s32(TA_DW_LOAD(x), vldrbq_s32(w)));
        }
    }
    vstrbq_p_s32(out, ta_mve_requantize(a0, q + 4, p->output_offset, p->act_min, p->act_max), tail ? pred : 0xFFFF);
}

/* One output row: whole channel groups, then the predicated tail group. */
TA_INLINE void ta_dw_mve_row(const ta_depthwise_mve_params *p, const int8_t *rows, const int8_t *weights,
                             const int32_t *channel, int8_t *out, const int gather) {
    const int32_t oc = p->output.c, c = p->input.c, dm = p->depth_multiplier;
    const int32_t whole = oc / 4 * 4;
    for (int32_t c0 = 0; c0 < oc; c0 += 4) {
        const int tail = c0 >= whole;
        const mve_pred16_t pred = vctp32q((uint32_t)(oc - c0));
        /* gather offsets: lane i reads input channel (c0 + i) / dm, relative to c0 / dm */
        uint32_t lanes[4];
        for (int32_t i = 0; i < 4; i++) {
            lanes[i] = (uint32_t)((c0 + i) / dm - c0 / dm);
        }
        const uint32x4_t offsets = vldrwq_u32(lanes);
        const int8_t *w = weights + c0;
        const int32_t *q = channel + c0 * 4;
        const int8_t *base = rows + c0 / dm;
        int32_t ox = 0;
        if (tail) {
            for (; ox + 4 <= p->output.w; ox += 4) {
                ta_dw_mve_four(p, base + ox * p->stride_w * c, w, q, out + ox * oc + c0, offsets, pred, gather, 1);
            }
            for (; ox < p->output.w; ox++) {
                ta_dw_mve_one(p, base + ox * p->stride_w * c, w, q, out + ox * oc + c0, offsets, pred, gather, 1);
            }
        } else {
            for (; ox + 4 <= p->output.w; ox += 4) {
                ta_dw_mve_four(p, base + ox * p->stride_w * c, w, q, out + ox * oc + c0, offsets, pred, gather, 0);
            }
            for (; ox < p->output.w; ox++) {
                ta_dw_mve_one(p, base + ox * p->stride_w * c, w, q, out + ox * oc + c0, offsets, pred, gather, 0);
            }
        }
    }
}
#else
static void ta_dw_c_row(const ta_depthwise_mve_params *p, const int8_t *rows, const int8_t *weights,
                        const int32_t *channel, int8_t *out) {
    const int32_t c = p->input.c, oc = p->output.c;
    for (int32_t ox = 0; ox < p->output.w; ox++) {
        for (int32_t o = 0; o < oc; o++) {
            const int32_t *q = channel + (o / 4) * 16;
            uint32_t acc = (uint32_t)q[o % 4];
            for (int32_t ky = 0; ky < p->filter_h; ky++) {
                for (int32_t kx = 0; kx < p->filter_w; kx++) {
                    const int32_t x = rows[(ky * p->span_w + ox * p->stride_w + kx * p->dilation_w) * c
                                           + o / p->depth_multiplier];
                    acc += (uint32_t)(x * weights[(ky * p->filter_w + kx) * p->channels + o]);
                }
            }
            out[ox * oc + o] = (int8_t)ta_mve_requantize_lane((int32_t)acc, q + 4, o % 4, p->output_offset,
                                                              p->act_min, p->act_max);
        }
    }
}
#endif

ta_status ta_depthwise_conv2d_s8_mve(const ta_depthwise_mve_params *p, const int8_t *input, const int8_t *weights,
                                     const int32_t *channel, int8_t *output, int8_t *scratch) {
    const int32_t image_bytes = p->input.h * p->input.w * p->input.c;
    const int32_t out_row = p->output.w * p->output.c;
    for (int32_t b = 0; b < p->input.n; b++) {
        for (int32_t oy = 0; oy < p->output.h; oy++) {
            int8_t *out = output + (b * p->output.h + oy) * out_row;
            ta_dw_mve_rows(p, input + b * image_bytes, oy, scratch);
#if TA_MVE
            if (p->depth_multiplier == 1) {
                ta_dw_mve_row(p, scratch, weights, channel, out, 0);
            } else {
                ta_dw_mve_row(p, scratch, weights, channel, out, 1);
            }
#else
            ta_dw_c_row(p, scratch, weights, channel, out);
#endif
        }
    }
    return TA_OK;
}
