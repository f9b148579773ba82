/* DEPTHWISE_CONV_2D int8 for Helium (MVE). See ta_depthwise_conv2d_s8_mve.h for the layouts.
 *
 * The input rows an output row reads are staged in scratch channel-planar, split by column phase
 * (column j of the zero-point-padded row goes to plane j % stride_w at j / stride_w), so the input
 * of four neighbouring output pixels for one channel and tap is four consecutive bytes: one
 * widening VLDRB.S32, and one VMLA.S32 by the tap's weight as a scalar. Padding is the zero point,
 * whose product with the weights is in the bias, so border pixels take the same path. With dilation_h
 * 1 the filter_h slots roll: each output row stages only the rows it newly needs. Staging reads a
 * channel's pixels with a 16-bit-lane byte gather (eight per instruction), outside the tap loop.
 * Results are requantized four pixels at once (VQRDMULH and VRSHL by the channel's scalar constants)
 * and stored with a byte scatter, the last partial group tail-predicated. */
#include "ta_depthwise_conv2d_s8_mve.h"
#include "ta_mve.h"

/* Stage input row iy (all channels and phases) into slot dst; rows outside the image are the zero point. */
static void ta_dw_mve_stage(const ta_depthwise_mve_params *p, const int8_t *image, int32_t iy, int8_t *dst) {
    const int32_t sw = p->stride_w, plane_w = p->plane_w;
    const int32_t slot_bytes = p->in_c * sw * plane_w;
    const int8_t zp = (int8_t)p->input_zero_point;
    ta_mve_fill(dst, zp, slot_bytes);
    if (iy < 0 || iy >= p->in_h) {
        return;
    }
    const int8_t *row = image + iy * p->in_y_stride;
    for (int32_t r = 0; r < sw; r++) {
        /* plane entries idx with 0 <= idx * sw + r - pad_left < in_w */
        int32_t lo = p->pad_left - r > 0 ? (p->pad_left - r + sw - 1) / sw : 0;
        int32_t hi = (p->in_w + p->pad_left - r + sw - 1) / sw;
        hi = hi < plane_w ? hi : plane_w;
        if (hi <= lo) {
            continue;
        }
        const int32_t step = sw * p->in_x_stride;       /* bytes between a plane's neighbouring entries */
        const int8_t *first = row + (lo * sw + r - p->pad_left) * p->in_x_stride;
        for (int32_t c = 0; c < p->in_c; c++) {
            int8_t *plane = dst + (c * sw + r) * plane_w;
#if TA_MVE
            const uint16x8_t offsets = vmulq_n_u16(vidupq_n_u16(0u, 1), (uint16_t)step);
            const int8_t *src = first + c;
            for (int32_t idx = lo; idx < hi; idx += 8, src += 8 * step) {
                const mve_pred16_t pred = vctp16q((uint32_t)(hi - idx));
                vstrbq_p_u16((uint8_t *)plane + idx, vldrbq_gather_offset_z_u16((const uint8_t *)src, offsets, pred),
                             pred);
            }
#else
            for (int32_t idx = lo; idx < hi; idx++) {
                plane[idx] = first[(idx - lo) * step + c];
            }
#endif
        }
    }
}

#define TA_DW_MVE_MAX_TAPS 64      /* filter_h * filter_w (the generator checks it) */

#if TA_MVE
/* Requantize four pixels of one channel by its scalar constants and store them (lanes past out_w off). */
TA_INLINE void ta_dw_mve_store(int32x4_t acc, int32_t mult, int32_t left, int32_t right, int32x4_t fix_mask,
                               int32_t output_offset, int32x4_t lo, int32x4_t hi, int8_t *out, uint32x4_t lanes,
                               int32_t left_pixels) {
    int32x4_t x = vqrdmulhq_n_s32(vshlq_r_s32(acc, left), mult);
    x = vqaddq_s32(x, vandq_s32(vshrq_n_s32(x, 31), fix_mask));
    x = vaddq_n_s32(vrshlq_n_s32(x, right), output_offset);
    x = vminq_s32(vmaxq_s32(x, lo), hi);
    vstrbq_scatter_offset_p_s32(out, lanes, x, vctp32q((uint32_t)left_pixels));
}
#endif

#if TA_MVE
/* 3x3 at stride 1 without dilation, one channel over a whole output row: acc[g] = the sums (no bias)
 * of the four pixels of group g. r0..r2: the channel's plane in the three slots at pixel 0; w: the
 * nine weights. Assembly because the nine weights, three row pointers, the sum pointer and the count
 * must all stay in registers (VMLA takes its scalar from one): compiled from intrinsics, GCC spills
 * the weights and the loop takes 70 instructions instead of 21. groups >= 1. */
TA_INLINE void ta_dw_mve_sums_3x3(const int8_t *r0, const int8_t *r1, const int8_t *r2, const int8_t *w,
                                  int32_t *acc, int32_t groups) {
    const void *args[6] = {r0, r1, r2, w, acc, (const void *)(intptr_t)groups};
    __asm__ volatile(
        "push   {r4-r11, lr}\n\t"
        "ldr    r3, [%[args], #20]\n\t"
        "ldm    %[args], {r0, r1, r2, r12, lr}\n\t"
        "ldrsb  r4, [r12, #0]\n\t"
        "ldrsb  r5, [r12, #1]\n\t"
        "ldrsb  r6, [r12, #2]\n\t"
        "ldrsb  r7, [r12, #3]\n\t"
        "ldrsb  r8, [r12, #4]\n\t"
        "ldrsb  r9, [r12, #5]\n\t"
        "ldrsb  r10, [r12, #6]\n\t"
        "ldrsb  r11, [r12, #7]\n\t"
        "ldrsb  r12, [r12, #8]\n\t"
        "1:\n\t"
        "vldrb.s32 q1, [r0, #1]\n\t"
        "vldrb.s32 q2, [r0, #2]\n\t"
        "vldrb.s32 q0, [r0], #4\n\t"
        "vmul.i32 q3, q0, r4\n\t"
        "vmla.s32 q3, q1, r5\n\t"
        "vmla.s32 q3, q2, r6\n\t"
        "vldrb.s32 q1, [r1, #1]\n\t"
        "vldrb.s32 q2, [r1, #2]\n\t"
        "vldrb.s32 q0, [r1], #4\n\t"
        "vmla.s32 q3, q0, r7\n\t"
        "vmla.s32 q3, q1, r8\n\t"
        "vmla.s32 q3, q2, r9\n\t"
        "vldrb.s32 q1, [r2, #1]\n\t"
        "vldrb.s32 q2, [r2, #2]\n\t"
        "vldrb.s32 q0, [r2], #4\n\t"
        "vmla.s32 q3, q0, r10\n\t"
        "vmla.s32 q3, q1, r11\n\t"
        "vmla.s32 q3, q2, r12\n\t"
        "vstrw.32 q3, [lr], #16\n\t"
        "subs   r3, r3, #1\n\t"
        "bne    1b\n\t"
        "pop    {r4-r11, lr}\n\t"
        :
        : [args] "r"(args)
        : "r0", "r1", "r2", "r3", "r12", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "memory", "cc");
}
#endif

#if TA_MVE
/* 3x3 at stride 1 without dilation, depth multiplier 1 and at most one bound of the clamp inside int8:
 * a whole output row, every channel, in one piece of assembly. Per channel the nine weights (shifted left by
 * the channel's left shift, as its bias is: (acc + bias) << left exactly, in int32 as TFLM computes it) sit
 * in r4..r12 and the requantization constants in q2 (bias), q4 (multiplier), q5 (minus the right shift);
 * per four pixels: nine widening loads and VMUL/VMLA by the scalar weights, then ta_mve_requantize's steps
 * (VQRDMULH, sign fix-up, VRSHL), + offset and the clamp (TA_DW_MVE_CLAMP_*, saturating narrowings to
 * the bottom byte of each lane) and one byte scatter at the pixels' output offsets (q6, moved along by
 * q1). The pixel loop is tail-predicated (DLSTP/LETP): no scalar tail. 30 instructions per four outputs
 * (32 with a bound inside int8), 37 per channel. Compiled from intrinsics GCC spills the weights.
 * st: 0 row0, 4 row1, 8 row2 (channel 0's planes), 12 out (channel 0, pixel 0), 16 weights, 20 channel
 * constants, 24 pixels, 28 channels, 32 plane_w, 36 output offset (and bound), 40 four pixels' output bytes, 48..60 the
 * four lanes' output offsets. The assembly moves 0 ... 20 along. */
enum { TA_DW_MVE_FUSED_STATE = 16 };

/* The clamp after VRSHL, by the output range. No clamp inside int8: + offset (q7, int32), then int32 ->
 * int16 -> int8 saturating narrowings. A lower bound above -128 (ReLU with its zero point above -128) or
 * an upper one below 127 (ReLU6): q7 holds the offset in its even int16 lanes and the bound in the odd
 * ones; the sum is narrowed to int16 first and offset with saturation there (exact: a value saturated at
 * +-32767 stays beyond the bound), the bound swapped into the even lanes (VREV32.16) for VMAX/VMIN, and
 * the int8 narrowing does the other side. Two instructions more per four outputs. */
#define TA_DW_MVE_CLAMP_NONE \
    "vadd.i32 q3, q3, q7\n\t" \
    "vqmovnb.s32 q3, q3\n\t" \
    "vqmovnb.s16 q3, q3\n\t"
#define TA_DW_MVE_CLAMP_BOUND(OP) \
    "vqmovnb.s32 q3, q3\n\t" \
    "vqadd.s16 q3, q3, q7\n\t" \
    "vrev32.16 q0, q7\n\t" \
    OP " q3, q3, q0\n\t" \
    "vqmovnb.s16 q3, q3\n\t"

#define TA_DW_MVE_FUSED_FN(NAME, CLAMP) \
TA_INLINE void NAME(int32_t *st) { \
    __asm__ volatile( \
        "push   {r4-r11, lr}\n\t" \
        "sub    sp, sp, #12\n\t" \
        "str    %[st], [sp]\n\t" \
        "mov    r12, %[st]\n\t" \
        "ldrd   r0, r1, [r12, #24]\n\t" \
        "strd   r0, r1, [sp, #4]\n\t" \
        "ldrd   r0, r1, [r12, #36]\n\t" \
        "vdup.32 q7, r0\n\t" \
        "vdup.32 q1, r1\n\t" \
        "4:\n\t" \
        "ldr    r12, [sp]\n\t" \
        "ldm    r12, {r0-r3}\n\t" \
        "ldr    r4, [r12, #32]\n\t" \
        "add    r5, r0, r4\n\t" \
        "add    r6, r1, r4\n\t" \
        "add    r7, r2, r4\n\t" \
        "add    r8, r3, #1\n\t" \
        "stm    r12, {r5-r8}\n\t" \
        "ldrd   r5, r6, [r12, #16]\n\t" \
        "add    r7, r5, #9\n\t" \
        "add    r8, r6, #16\n\t" \
        "strd   r7, r8, [r12, #16]\n\t" \
        "vldrw.32 q6, [r12, #48]\n\t" \
        "ldrd   r7, r8, [r6]\n\t" \
        "ldrd   lr, r10, [r6, #8]\n\t" \
        "lsl    r7, r7, lr\n\t" \
        "vdup.32 q2, r7\n\t" \
        "vdup.32 q4, r8\n\t" \
        "vdup.32 q5, r10\n\t" \
        "ldrsb  r4, [r5, #0]\n\t" \
        "ldrsb  r6, [r5, #2]\n\t" \
        "ldrsb  r7, [r5, #3]\n\t" \
        "ldrsb  r8, [r5, #4]\n\t" \
        "ldrsb  r9, [r5, #5]\n\t" \
        "ldrsb  r10, [r5, #6]\n\t" \
        "ldrsb  r11, [r5, #7]\n\t" \
        "ldrsb  r12, [r5, #8]\n\t" \
        "ldrsb  r5, [r5, #1]\n\t" \
        "cmp    lr, #0\n\t" \
        "beq    6f\n\t" \
        "lsl    r4, r4, lr\n\t" \
        "lsl    r5, r5, lr\n\t" \
        "lsl    r6, r6, lr\n\t" \
        "lsl    r7, r7, lr\n\t" \
        "lsl    r8, r8, lr\n\t" \
        "lsl    r9, r9, lr\n\t" \
        "lsl    r10, r10, lr\n\t" \
        "lsl    r11, r11, lr\n\t" \
        "lsl    r12, r12, lr\n\t" \
        "6:\n\t" \
        "ldr    lr, [sp, #4]\n\t" \
        "dlstp.32 lr, lr\n\t" \
        "1:\n\t" \
        "vldrb.s32 q0, [r0, #1]\n\t" \
        "vmul.i32 q3, q0, r5\n\t" \
        "vldrb.s32 q0, [r0, #2]\n\t" \
        "vmla.s32 q3, q0, r6\n\t" \
        "vldrb.s32 q0, [r0], #4\n\t" \
        "vmla.s32 q3, q0, r4\n\t" \
        "vldrb.s32 q0, [r1, #1]\n\t" \
        "vmla.s32 q3, q0, r8\n\t" \
        "vldrb.s32 q0, [r1, #2]\n\t" \
        "vmla.s32 q3, q0, r9\n\t" \
        "vldrb.s32 q0, [r1], #4\n\t" \
        "vmla.s32 q3, q0, r7\n\t" \
        "vldrb.s32 q0, [r2, #1]\n\t" \
        "vmla.s32 q3, q0, r11\n\t" \
        "vldrb.s32 q0, [r2, #2]\n\t" \
        "vmla.s32 q3, q0, r12\n\t" \
        "vldrb.s32 q0, [r2], #4\n\t" \
        "vmla.s32 q3, q0, r10\n\t" \
        "vadd.i32 q3, q3, q2\n\t" \
        "vqrdmulh.s32 q3, q3, q4\n\t" \
        "vand   q0, q3, q5\n\t" \
        "vshr.s32 q0, q0, #31\n\t" \
        "vqadd.s32 q3, q3, q0\n\t" \
        "vrshl.s32 q3, q3, q5\n\t" \
        CLAMP \
        "vstrb.32 q3, [r3, q6]\n\t" \
        "vadd.i32 q6, q6, q1\n\t" \
        "letp   lr, 1b\n\t" \
        "ldr    lr, [sp, #8]\n\t" \
        "subs   lr, lr, #1\n\t" \
        "str    lr, [sp, #8]\n\t" \
        "bne    4b\n\t" \
        "add    sp, sp, #12\n\t" \
        "pop    {r4-r11, lr}\n\t" \
        : \
        : [st] "r"(st) \
        : "r0", "r1", "r2", "r3", "r12", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", \
          "d11", "d12", "d13", "d14", "d15", "memory", "cc"); \
}

TA_DW_MVE_FUSED_FN(ta_dw_mve_fused_3x3, TA_DW_MVE_CLAMP_NONE)
TA_DW_MVE_FUSED_FN(ta_dw_mve_fused_3x3_min, TA_DW_MVE_CLAMP_BOUND("vmax.s16"))
TA_DW_MVE_FUSED_FN(ta_dw_mve_fused_3x3_max, TA_DW_MVE_CLAMP_BOUND("vmin.s16"))
#endif

/* One output row from the staged slots (rows[ky] is the slot of filter row ky); tap[t] is where tap t
 * reads in a channel's planes, relative to the output pixel. */
static void ta_dw_mve_row(const ta_depthwise_mve_params *p, int8_t *const *rows, const int32_t *tap,
                          const int8_t *weights, const int32_t *channel, int8_t *out, int32_t *sums) {
    const int32_t sw = p->stride_w, plane_w = p->plane_w, fh = p->filter_h, fw = p->filter_w;
    const int32_t out_w = p->out_w, dm = p->depth_multiplier, oxs = p->out_x_stride;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
#if TA_MVE
    const uint32x4_t lanes = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)oxs);
    const int32x4_t lo = vdupq_n_s32(act_min), hi = vdupq_n_s32(act_max);
    /* 3x3, stride 1, no dilation: the taps of a row at +0, +1, +2, weights held in registers */
    const int32_t taps3 = fh == 3 && fw == 3 && sw == 1 && p->dilation_w == 1;
#endif
#if TA_MVE
    if (taps3 && dm == 1 && (act_min == -128 || act_max == 127)) {
        /* the offset alone, or beside the one bound inside int8 (see TA_DW_MVE_CLAMP_BOUND) */
        const int32_t bound = act_min != -128 ? act_min : act_max;
        const int32_t packed = act_min == -128 && act_max == 127
                                   ? output_offset
                                   : (int32_t)(((uint32_t)bound << 16) | ((uint32_t)output_offset & 0xFFFFu));
        int32_t st[TA_DW_MVE_FUSED_STATE] = {
            (int32_t)(intptr_t)rows[0], (int32_t)(intptr_t)rows[1], (int32_t)(intptr_t)rows[2],
            (int32_t)(intptr_t)out, (int32_t)(intptr_t)weights, (int32_t)(intptr_t)channel, out_w, p->out_c,
            plane_w, packed, 4 * oxs, 0, 0, oxs, 2 * oxs, 3 * oxs};
        if (act_min != -128) {
            ta_dw_mve_fused_3x3_min(st);
        } else if (act_max != 127) {
            ta_dw_mve_fused_3x3_max(st);
        } else {
            ta_dw_mve_fused_3x3(st);
        }
        return;
    }
#endif
    for (int32_t oc = 0; oc < p->out_c; oc++, weights += fh * fw, channel += 4) {
        const int32_t plane0 = (oc / dm) * sw * plane_w;
        const int32_t bias = channel[0], mult = channel[1], left = channel[2], right = channel[3];
#if TA_MVE
        const int32x4_t fix_mask = vdupq_n_s32(right < 0 ? -1 : 0);
        if (taps3) {
            ta_dw_mve_sums_3x3(rows[0] + plane0, rows[1] + plane0, rows[2] + plane0, weights, sums, (out_w + 3) / 4);
            const int32x4_t vbias = vdupq_n_s32(bias);
            for (int32_t ox = 0; ox < out_w; ox += 4) {
                ta_dw_mve_store(vaddq_s32(vldrwq_s32(sums + ox), vbias), mult, left, right, fix_mask, output_offset,
                                lo, hi, out + ox * oxs + oc, lanes, out_w - ox);
            }
            continue;
        }
        for (int32_t ox = 0; ox < out_w; ox += 4) {
            int32x4_t acc = vdupq_n_s32(bias);
            const int8_t *w = weights;
            const int32_t *t = tap;
            for (int32_t ky = 0; ky < fh; ky++) {
                const int8_t *row = rows[ky] + plane0 + ox;
                for (int32_t kx = 0; kx < fw; kx++) {
                    acc = vmlaq_n_s32(acc, vldrbq_s32(row + *t++), *w++);
                }
            }
            ta_dw_mve_store(acc, mult, left, right, fix_mask, output_offset, lo, hi, out + ox * oxs + oc, lanes,
                            out_w - ox);
        }
#else
        (void)sw;
        (void)sums;
        for (int32_t ox = 0; ox < out_w; ox++) {
            uint32_t acc = (uint32_t)bias;
            const int8_t *w = weights;
            const int32_t *t = tap;
            for (int32_t ky = 0; ky < fh; ky++) {
                for (int32_t kx = 0; kx < fw; kx++) {
                    acc += (uint32_t)(rows[ky][plane0 + ox + *t++] * *w++);
                }
            }
            const int32_t y = ta_requantize((int32_t)acc, mult, left + right) + output_offset;
            out[ox * oxs + oc] = (int8_t)ta_clamp32(y, act_min, act_max);
        }
#endif
    }
}

ta_status ta_depthwise_conv2d_s8_mve(const ta_depthwise_mve_params *p, const int8_t *input, const int8_t *weights,
                                     const int32_t *channel, int8_t *output, int8_t *scratch) {
    const int32_t fh = p->filter_h;
    const int32_t slot_bytes = p->in_c * p->stride_w * p->plane_w;
    int32_t *staged = (int32_t *)(void *)scratch;          /* which input row each slot holds */
    int32_t *sums = (int32_t *)(void *)(scratch + 16 * ((fh + 3) / 4));   /* a row of sums, 3x3 path */
    int8_t *slots = scratch + 16 * ((fh + 3) / 4) + 4 * ((p->out_w + 3) / 4 * 4);
    int8_t *rows[16];
    int32_t tap[TA_DW_MVE_MAX_TAPS];
    for (int32_t t = 0; t < p->filter_h * p->filter_w; t++) {
        const int32_t j = (t % p->filter_w) * p->dilation_w;        /* padded column of the tap, pixel 0 */
        tap[t] = (j % p->stride_w) * p->plane_w + j / p->stride_w;
    }
    /* rolling slots (row iy in slot iy mod fh) need the rows of one output row to be distinct mod fh */
    const int32_t rolling = p->dilation_h == 1 && fh <= 16;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *image = input + b * p->image_bytes;
        int8_t *out_image = output + b * p->out_image_bytes;
        for (int32_t s = 0; s < fh; s++) {
            staged[s] = INT32_MIN;
        }
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            for (int32_t ky = 0; ky < fh; ky++) {
                const int32_t iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
                const int32_t slot = rolling ? ((iy % fh) + fh) % fh : ky;
                if (!rolling || staged[slot] != iy) {
                    ta_dw_mve_stage(p, image, iy, slots + slot * slot_bytes);
                    staged[slot] = iy;
                }
                if (ky < 16) {
                    rows[ky] = slots + slot * slot_bytes;
                }
            }
            ta_dw_mve_row(p, rows, tap, weights, channel, out_image + oy * p->out_y_stride, sums);
        }
    }
    return TA_OK;
}
