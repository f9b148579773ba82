/* Winograd CONV_2D, part 1: the input transform (B^T d B of three tiles' 4x4 patches, four input
 * channels at a time in int16 lanes) and the output transform with requantization.
 * Internal to ta_conv2d_s8_winograd.c, which includes it once: static helpers only. */
#ifndef TA_WINOGRAD_TRANSFORMS_H
#define TA_WINOGRAD_TRANSFORMS_H

#include "ta_conv2d_s8_winograd.h"
#include "ta_dsp.h"
#include "ta_winograd_sums.h"

/* B^T x on four int16-lane words (a column or a row of the patch), in place. */
#define WINO_BT(x0, x1, x2, x3) do { \
        const int32_t t0_ = ta_ssub16(x0, x2), t1_ = ta_sadd16(x1, x2); \
        const int32_t t2_ = ta_ssub16(x2, x1), t3_ = ta_ssub16(x1, x3); \
        x0 = t0_; x1 = t1_; x2 = t2_; x3 = t3_; \
    } while (0)

/* One tile's transformed patch for four input channels: words[16] are the 4x4 input words
 * (four channels each, row-major). The columns' B^T (both lanes: channels c0 c2 and c1 c3) go
 * to e[lane][row][column]; then each row's B^T, stored to v[position * step] (position 4 * row +
 * column, this tile's and lane's slot). About 14 instructions per input word. */
static void transform_tile(const int32_t words[16], int32_t *v, int32_t step) {
    int32_t e[2][16];
    for (int j = 0; j < 4; ++j) {
        const int32_t d0 = words[j], d1 = words[4 + j], d2 = words[8 + j], d3 = words[12 + j];
        int32_t a0 = ta_sxtb16(d0), a1 = ta_sxtb16(d1), a2 = ta_sxtb16(d2), a3 = ta_sxtb16(d3);
        WINO_BT(a0, a1, a2, a3);
        e[0][j] = a0; e[0][4 + j] = a1; e[0][8 + j] = a2; e[0][12 + j] = a3;
        a0 = ta_sxtb16_ror8(d0); a1 = ta_sxtb16_ror8(d1); a2 = ta_sxtb16_ror8(d2); a3 = ta_sxtb16_ror8(d3);
        WINO_BT(a0, a1, a2, a3);
        e[1][j] = a0; e[1][4 + j] = a1; e[1][8 + j] = a2; e[1][12 + j] = a3;
    }
    for (int lane = 0; lane < 2; ++lane) {
        int32_t *out = v + lane;
        for (int i = 0; i < 4; ++i) {
            int32_t r0 = e[lane][4 * i], r1 = e[lane][4 * i + 1], r2 = e[lane][4 * i + 2], r3 = e[lane][4 * i + 3];
            WINO_BT(r0, r1, r2, r3);
            out[0] = r0;
            out[step] = r1;
            out[2 * step] = r2;
            out[3 * step] = r3;
            out += 4 * step;
        }
    }
}

/* The 4x4 input words of the tile whose top-left input pixel is (y0, x0), channels c .. c+3:
 * the zero point outside the image. */
static void load_patch(const ta_conv2d_winograd_params *p, const int8_t *image, int32_t y0, int32_t x0,
                       int32_t c, int32_t zp4, int32_t words[16]) {
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    if (y0 >= 0 && y0 + 4 <= in_h && x0 >= 0 && x0 + 4 <= in_w) {
        const int8_t *row = image + ((size_t)y0 * in_w + x0) * in_c + c;
        for (int i = 0; i < 4; ++i, row += (size_t)in_w * in_c) {
            words[4 * i] = ta_load32(row);
            words[4 * i + 1] = ta_load32(row + in_c);
            words[4 * i + 2] = ta_load32(row + 2 * in_c);
            words[4 * i + 3] = ta_load32(row + 3 * in_c);
        }
        return;
    }
    for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
            const int32_t y = y0 + i, x = x0 + j;
            words[4 * i + j] = (y >= 0 && y < in_h && x >= 0 && x < in_w)
                               ? ta_load32(image + ((size_t)y * in_w + x) * in_c + c) : zp4;
        }
    }
}

/* A^T m A for one tile and channel: m[position * 6] (the sums' layout), y = 4 * acc without
 * the bias, in the order (0,0) (0,1) (1,0) (1,1). */
TA_INLINE void output_transform(const int32_t *m, int32_t y[4]) {
    const int32_t s = 2 * WINO_TILES;
    const int32_t t00 = m[0] + m[4 * s] + m[8 * s], t10 = m[4 * s] - m[8 * s] - m[12 * s];
    const int32_t t01 = m[s] + m[5 * s] + m[9 * s], t11 = m[5 * s] - m[9 * s] - m[13 * s];
    const int32_t t02 = m[2 * s] + m[6 * s] + m[10 * s], t12 = m[6 * s] - m[10 * s] - m[14 * s];
    const int32_t t03 = m[3 * s] + m[7 * s] + m[11 * s], t13 = m[7 * s] - m[11 * s] - m[15 * s];
    y[0] = t00 + t01 + t02;
    y[1] = t01 - t02 - t03;
    y[2] = t10 + t11 + t12;
    y[3] = t11 - t12 - t13;
}

typedef struct {
    int32_t output_offset, act_min, act_max;
    int mode;                   /* 0 fast, int8 range; 1 fast, narrower range; 2 TFLM's requantization */
} wino_range;

/* One output from y = 4 * (acc - bias). Fast forms: bias2 = 2 * bias and (y >> 1) + bias2 = 2 * acc
 * (y is a multiple of 4), the value ta_requantize_fast_acc shifts left; TFLM's: bias2 = bias. */
TA_INLINE int32_t requant_y(int32_t y, int32_t bias2, int32_t m, int32_t r, int32_t e, const wino_range *range,
                            int mode) {
    if (mode == 2) {
        const int32_t acc = (y >> 2) + bias2;
        return ta_clamp_s8(ta_requantize(acc, m, r) + range->output_offset, range->act_min, range->act_max);
    }
    const int32_t acc2 = (y >> 1) + bias2;
    const int32_t x = ta_ssat8(ta_smmlar(acc2, m, r + (acc2 >> 31)) >> e);
    if (mode == 1) {
        return x < range->act_min ? range->act_min : (x > range->act_max ? range->act_max : x);
    }
    return x;
}

#endif /* TA_WINOGRAD_TRANSFORMS_H */
