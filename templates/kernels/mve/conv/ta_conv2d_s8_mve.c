/* CONV_2D int8 for Helium (MVE). See ta_conv2d_s8_mve.h for the layouts.
 *
 * Output pixels go two at a time: their columns (the input window, padding filled with the input
 * zero point, [filter_h][filter_w][c], copied as whole vectors) are gathered into scratch, or read
 * in place for a 1x1 filter without padding. Then for each group of four output channels a 2 x 4
 * tile sums eight dot products with VMLADAVA.S8 on 16 int8 lanes: per 16 inputs two column loads,
 * four weight loads and eight VMLADAVA (128 MACs in 16 instructions with the loop's SUBS and BNE).
 * The input offset is in the bias, so the sums are of raw int8 values. Each pixel's four results
 * are requantized as one vector and stored with a tail predicate on the last channel group. The
 * loads are single VLDRB.8/VLDRW.32 (no VLDM, no VLD4x). */
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
#if TA_MVE
    /* the whole window inside the image, each row one vector (KWS's 10x4 window on one channel): a load and
     * a store per row */
    const int32_t iy0 = oy * p->stride_h - p->pad_top, last = iy0 + (p->filter_h - 1) * p->dilation_h;
    if (whole_row && run <= 16 && iy0 >= 0 && last < p->input.h
        && image + (last * p->input.w + ix0) * c + 16 <= end) {
        const int8_t *src = image + (iy0 * p->input.w + ix0) * c;
        const int32_t step = p->dilation_h * p->input.w * c, pitch = p->row_pitch;
        for (int32_t ky = p->filter_h; ky > 0; ky--, src += step, dst += pitch) {
            vstrbq_s8(dst, vldrbq_s8(src));
        }
        return;
    }
#endif
    for (int32_t ky = 0; ky < p->filter_h; ky++, dst += p->row_pitch) {
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
    /* the host reads every byte: clear what the runs did not write (row padding, the tail) */
    for (int32_t ky = 0; ky < p->filter_h; ky++) {
        const int32_t end_of_row = ky + 1 < p->filter_h ? (ky + 1) * p->row_pitch : p->col_len;
        memset(col + ky * p->row_pitch + run, 0, (size_t)(end_of_row - ky * p->row_pitch - run));
    }
#endif
}

/* How a column is laid out where it is read: `count` runs of `blocks` whole vectors, `skip` bytes apart
 * (one contiguous run for a gathered column; a window's rows in place for a pixel inside the image). */
typedef struct {
    int32_t blocks, count, skip;
} ta_conv2d_mve_segments;

#if TA_MVE
/* Every channel group of two output pixels, in assembly: per group of four channels the 2 x 4 tile (two
 * column loads, four weight loads through one register, eight VMLADAVA.S8 per 16 inputs, the first
 * block VMLADAV; the eight accumulators in the even registers r0 ... r12 and lr, which VMLADAVA needs,
 * so lr is no loop counter and the loop is SUBS + BNE; compiled from intrinsics GCC spills them), then
 * both pixels' four sums requantized as ta_mve_requantize does (VSHL only when a shift is to the left,
 * VQRDMULH, the sign fix-up, VRSHL, offset, clamp) and stored tail-predicated (VCTP on the channels
 * left). The state between groups lives in `st`, so nothing is spilled around the tile. Pixel 1 may be
 * pixel 0 again (col1 == col0, out1 == out0: the same bytes written twice). Two variants: contiguous
 * columns, and columns as segments (a window's rows in place), which costs three instructions more per
 * group and segment. */
#define TA_CONV2D_MVE_START \
    "push   {r4-r11, lr}\n\t" \
    "mov    r11, %[st]\n\t" \
    "ldr    r5, [r11, #12]\n\t" \
    "ldrd   r0, r1, [r11, #36]\n\t" \
    "vdup.32 q6, r0\n\t" \
    "vdup.32 q7, r1\n\t" \
    "4:\n\t" \
    "ldm    r11, {r1, r3, r9}\n\t"

#define TA_CONV2D_MVE_TILE \
    "vldrb.8 q2, [r1], #16\n\t" \
    "vldrb.8 q3, [r3], #16\n\t" \
    "vldrb.8 q4, [r5], #64\n\t" \
    "vmladav.s8 r0, q2, q4\n\t" \
    "vmladav.s8 r2, q3, q4\n\t" \
    "vldrb.8 q4, [r5, #-48]\n\t" \
    "vmladav.s8 r4, q2, q4\n\t" \
    "vmladav.s8 r6, q3, q4\n\t" \
    "vldrb.8 q4, [r5, #-32]\n\t" \
    "vmladav.s8 r8, q2, q4\n\t" \
    "vmladav.s8 r10, q3, q4\n\t" \
    "vldrb.8 q4, [r5, #-16]\n\t" \
    "vmladav.s8 r12, q2, q4\n\t" \
    "vmladav.s8 lr, q3, q4\n\t" \
    "subs   r9, r9, #1\n\t" \
    "beq    5f\n\t" \
    "1:\n\t" \
    "vldrb.8 q2, [r1], #16\n\t" \
    "vldrb.8 q3, [r3], #16\n\t" \
    "vldrb.8 q4, [r5], #64\n\t" \
    "vmladava.s8 r0, q2, q4\n\t" \
    "vmladava.s8 r2, q3, q4\n\t" \
    "vldrb.8 q4, [r5, #-48]\n\t" \
    "vmladava.s8 r4, q2, q4\n\t" \
    "vmladava.s8 r6, q3, q4\n\t" \
    "vldrb.8 q4, [r5, #-32]\n\t" \
    "vmladava.s8 r8, q2, q4\n\t" \
    "vmladava.s8 r10, q3, q4\n\t" \
    "vldrb.8 q4, [r5, #-16]\n\t" \
    "vmladava.s8 r12, q2, q4\n\t" \
    "vmladava.s8 lr, q3, q4\n\t" \
    "subs   r9, r9, #1\n\t" \
    "bne    1b\n\t" \
    "5:\n\t"

#define TA_CONV2D_MVE_SEGMENT \
    "subs   r7, r7, #1\n\t" \
    "beq    2f\n\t" \
    "ldr    r9, [r11, #52]\n\t" \
    "add    r1, r1, r9\n\t" \
    "add    r3, r3, r9\n\t" \
    "ldr    r9, [r11, #8]\n\t" \
    "b      1b\n\t" \
    "2:\n\t"

#define TA_CONV2D_MVE_FINISH \
    "vmov   q0[2], q0[0], r0, r8\n\t" \
    "vmov   q0[3], q0[1], r4, r12\n\t" \
    "vmov   q1[2], q1[0], r2, r10\n\t" \
    "vmov   q1[3], q1[1], r6, lr\n\t" \
    "ldr    r0, [r11, #16]\n\t" \
    "vldrw.32 q2, [r0], #16\n\t" \
    "vadd.i32 q0, q0, q2\n\t" \
    "vadd.i32 q1, q1, q2\n\t" \
    "vldrw.32 q3, [r0], #16\n\t" \
    "vldrw.32 q4, [r0], #16\n\t" \
    "vldrw.32 q2, [r0], #16\n\t" \
    "str    r0, [r11, #16]\n\t" \
    "ldr    r7, [r11, #44]\n\t" \
    "cbz    r7, 3f\n\t" \
    "vshl.s32 q0, q0, q4\n\t" \
    "vshl.s32 q1, q1, q4\n\t" \
    "3:\n\t" \
    "vqrdmulh.s32 q0, q0, q3\n\t" \
    "vqrdmulh.s32 q1, q1, q3\n\t" \
    "vand   q3, q0, q2\n\t" \
    "vshr.s32 q3, q3, #31\n\t" \
    "vqadd.s32 q0, q0, q3\n\t" \
    "vand   q3, q1, q2\n\t" \
    "vshr.s32 q3, q3, #31\n\t" \
    "vqadd.s32 q1, q1, q3\n\t" \
    "vrshl.s32 q0, q0, q2\n\t" \
    "vrshl.s32 q1, q1, q2\n\t" \
    "ldr    r7, [r11, #32]\n\t" \
    "vadd.i32 q0, q0, r7\n\t" \
    "vadd.i32 q1, q1, r7\n\t" \
    "vmax.s32 q0, q0, q6\n\t" \
    "vmax.s32 q1, q1, q6\n\t" \
    "vmin.s32 q0, q0, q7\n\t" \
    "vmin.s32 q1, q1, q7\n\t" \
    "ldrd   r0, r2, [r11, #20]\n\t" \
    "ldr    r4, [r11, #28]\n\t" \
    "vctp.32 r4\n\t" \
    "vpstt\n\t" \
    "vstrbt.32 q0, [r0]\n\t" \
    "vstrbt.32 q1, [r2]\n\t" \
    "adds   r0, r0, #4\n\t" \
    "adds   r2, r2, #4\n\t" \
    "strd   r0, r2, [r11, #20]\n\t" \
    "subs   r4, r4, #4\n\t" \
    "str    r4, [r11, #28]\n\t" \
    "bgt    4b\n\t" \
    "pop    {r4-r11, lr}\n\t"

#define TA_CONV2D_MVE_CLOBBERS "r0", "r1", "r2", "r3", "r12", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", \
    "d9", "d10", "d11", "d12", "d13", "d14", "d15", "memory", "cc"

/* st: 0 x0, 4 x1, 8 blocks per segment, 12 weights, 16 channel constants, 20 out0, 24 out1, 28 channels
 * left, 32 output offset, 36 act_min, 40 act_max, 44 any left shift, 48 segments, 52 bytes from a
 * segment's end to the next one's start. The kernel fills the layer's fields once; per pixel pair it sets
 * 0, 4, 16, 20, 24, 28 (the assembly moves 16 ... 28 along as it goes). */
enum { TA_CONV2D_MVE_STATE = 14 };

static void ta_conv2d_mve_pixels(int32_t *st, const int8_t *col0, const int8_t *col1, const int32_t *channel,
                                 int8_t *out, int8_t *out1, int32_t out_c, int32_t segmented) {
    st[0] = (int32_t)(intptr_t)col0;
    st[1] = (int32_t)(intptr_t)col1;
    st[4] = (int32_t)(intptr_t)channel;
    st[5] = (int32_t)(intptr_t)out;
    st[6] = (int32_t)(intptr_t)out1;
    st[7] = out_c;
    if (!segmented) {
        __asm__ volatile(TA_CONV2D_MVE_START TA_CONV2D_MVE_TILE TA_CONV2D_MVE_FINISH
                         : : [st] "r"(st) : TA_CONV2D_MVE_CLOBBERS);
    } else {
        __asm__ volatile(TA_CONV2D_MVE_START "ldr    r7, [r11, #48]\n\t" TA_CONV2D_MVE_TILE TA_CONV2D_MVE_SEGMENT
                         TA_CONV2D_MVE_FINISH
                         : : [st] "r"(st) : TA_CONV2D_MVE_CLOBBERS);
    }
}
#else
/* Every channel group of two output pixels (pixel 1 is pixel 0 again when `two` is 0), as plain C. */
static void ta_conv2d_mve_pixels(const ta_conv2d_mve_params *p, const ta_conv2d_mve_segments *seg,
                                 const int8_t *col0, const int8_t *col1, const int8_t *weights,
                                 const int32_t *channel, int8_t *out, int32_t two) {
    const int32_t out_c = p->output.c, col_len = p->col_len, seg_len = 16 * seg->blocks;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    for (int32_t oc = 0; oc < out_c; oc += 4, channel += 16, weights += 4 * col_len) {
        for (int32_t lane = 0; lane < 8; lane++) {
            const int32_t pixel = lane / 4, ch = lane % 4;
            if ((pixel && !two) || oc + ch >= out_c) {
                continue;
            }
            const int8_t *col = pixel ? col1 : col0;
            uint32_t acc = (uint32_t)channel[ch];
            for (int32_t k = 0; k < col_len; k++) {
                const int32_t at = (k / seg_len) * (seg_len + seg->skip) + k % seg_len;
                acc += (uint32_t)(col[at] * weights[(k / 16) * 64 + ch * 16 + k % 16]);
            }
            out[pixel * out_c + oc + ch] = (int8_t)ta_mve_requantize_lane((int32_t)acc, channel + 4, ch,
                                                                          output_offset, act_min, act_max);
        }
    }
}
#endif

/* Whether pixel (oy, ox)'s window rows can be read in place (p->rows_in_place): all inside the image,
 * and the last row's whole vectors (row_pitch bytes: past a row's run they meet zero weights) not past
 * the image's end. */
TA_INLINE int32_t ta_conv2d_mve_inside(const ta_conv2d_mve_params *p, const int8_t *image, const int8_t *end,
                                       int32_t oy, int32_t ox) {
    const int32_t iy = oy * p->stride_h - p->pad_top, ix = ox * p->stride_w - p->pad_left;
    const int32_t last = iy + (p->filter_h - 1) * p->dilation_h;
    return iy >= 0 && last < p->input.h && ix >= 0 && ix + p->filter_w <= p->input.w
           && image + (last * p->input.w + ix) * p->input.c + p->row_pitch <= end;
}

/* Where pixel (oy, ox)'s column starts: in place (a 1x1 window without padding, unless its whole
 * vectors would run past the image; `rows`: the window's first row, every row inside) or gathered
 * into col. */
TA_INLINE const int8_t *ta_conv2d_mve_source(const ta_conv2d_mve_params *p, const int8_t *image, const int8_t *end,
                                             int32_t oy, int32_t ox, int8_t *col, int32_t rows) {
    if (p->direct || rows) {
        const int8_t *pixel = image + ((oy * p->stride_h - p->pad_top) * p->input.w
                                       + ox * p->stride_w - p->pad_left) * p->input.c;
        if (rows || pixel + p->col_len <= end) {
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
    const ta_conv2d_mve_segments gathered = {p->col_len / 16, 1, 0};
    const ta_conv2d_mve_segments in_place = {p->row_pitch / 16, p->filter_h,
                                             p->dilation_h * p->input.w * p->input.c - p->row_pitch};
    int8_t *col1 = scratch != NULL ? scratch + p->col_len + 16 : NULL;     /* NULL: every column in place */
#if TA_MVE
    int32_t st[TA_CONV2D_MVE_STATE] = {0, 0, 0, (int32_t)(intptr_t)weights, 0, 0, 0, 0, p->output_offset,
                                       p->act_min, p->act_max, p->left_shift, 1, 0};
#endif
    for (int32_t b = 0; b < p->input.n; b++) {
        const int8_t *image = input + b * image_bytes;
        const int8_t *end = image + image_bytes;
        int8_t *out = output + b * pixels * out_c;
        int32_t oy = 0, ox = 0;
        for (int32_t i = 0; i < pixels; i += 2, out += 2 * out_c) {
            const int32_t two = i + 1 < pixels;
            const int32_t oy1 = ox + 1 < out_w ? oy : oy + 1, ox1 = ox + 1 < out_w ? ox + 1 : 0;
            /* both pixels' rows in place, or both columns contiguous */
            const int32_t rows = p->rows_in_place && ta_conv2d_mve_inside(p, image, end, oy, ox)
                                 && (!two || ta_conv2d_mve_inside(p, image, end, oy1, ox1));
            const int8_t *x0 = ta_conv2d_mve_source(p, image, end, oy, ox, scratch, rows);
            const int8_t *x1 = two ? ta_conv2d_mve_source(p, image, end, oy1, ox1, col1, rows) : x0;
            const ta_conv2d_mve_segments *seg = rows ? &in_place : &gathered;
#if TA_MVE
            st[2] = seg->blocks;
            st[12] = seg->count;
            st[13] = seg->skip;
            ta_conv2d_mve_pixels(st, x0, x1, channel, out, two ? out + out_c : out, out_c, rows);
#else
            ta_conv2d_mve_pixels(p, seg, x0, x1, weights, channel, out, two);
#endif
            for (ox += 2; ox >= out_w; ox -= out_w) {
                oy++;
            }
        }
    }
    return TA_OK;
}
