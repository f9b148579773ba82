/* Winograd CONV_2D, part 1: the input transform (B^T d B of three tiles' 4x4 patches, four input
 * channels at a time in int16 lanes) and the output transform with requantization.
 * Internal to ta_conv2d_s8_winograd.c, which includes it once: static helpers only. */
#ifndef TA_WINOGRAD_TRANSFORMS_H
#define TA_WINOGRAD_TRANSFORMS_H

#include "ta_conv2d_s8_winograd.h"
#include "ta_dsp.h"
#include "ta_winograd_sums.h"

/* B^T x for one column of four words, in place (each word two int16 lanes). */
#define WINO_BT(x0, x1, x2, x3) do { \
        const int32_t t0_ = ta_ssub16(x0, x2), t1_ = ta_sadd16(x1, x2); \
        const int32_t t2_ = ta_ssub16(x2, x1), t3_ = ta_ssub16(x1, x3); \
        x0 = t0_; x1 = t1_; x2 = t2_; x3 = t3_; \
    } while (0)

/* Three tiles' transformed patches for input channels c .. c+3 into v (v[position][group][tile][2],
 * this group's slot). patch[t] holds tile t's 4x4 input words (four channels each, row-major). */
static void transform_group(const int32_t patch[WINO_TILES][16], int32_t groups, int32_t *v) {
    const int32_t position_step = WINO_GROUP_WORDS * groups;
    for (int32_t t = 0; t < WINO_TILES; ++t) {
        for (int lane = 0; lane < 2; ++lane) {
            int32_t d[16];
            for (int i = 0; i < 16; ++i) {
                d[i] = lane ? ta_sxtb16_ror8(patch[t][i]) : ta_sxtb16(patch[t][i]);
            }
            for (int j = 0; j < 4; ++j) {           /* columns: B^T d */
                WINO_BT(d[j], d[4 + j], d[8 + j], d[12 + j]);
            }
            for (int i = 0; i < 4; ++i) {           /* rows: (B^T d) B */
                WINO_BT(d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]);
            }
            int32_t *out = v + 2 * t + lane;
            for (int k = 0; k < WINO_POSITIONS; ++k, out += position_step) {
                *out = d[k];
            }
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

/* A^T m A for one tile and channel: m[position] with positions 4 * row + column, the sums'
 * stride between positions `step`; y = 4 * acc (without the bias). */
TA_INLINE void output_transform(const int32_t *m, int32_t step, int32_t y[4]) {
    int32_t t0[4], t1[4];
    for (int j = 0; j < 4; ++j) {
        const int32_t m0 = m[j * step], m1 = m[(4 + j) * step], m2 = m[(8 + j) * step], m3 = m[(12 + j) * step];
        t0[j] = m0 + m1 + m2;
        t1[j] = m1 - m2 - m3;
    }
    y[0] = t0[0] + t0[1] + t0[2];
    y[1] = t0[1] - t0[2] - t0[3];
    y[2] = t1[0] + t1[1] + t1[2];
    y[3] = t1[1] - t1[2] - t1[3];
}

typedef struct {
    int32_t output_offset, act_min, act_max;
    int mode;                   /* 0 fast, int8 range; 1 fast, narrower range; 2 TFLM's requantization */
} wino_range;

/* One output from y = 4 * (acc - bias). Fast forms: bias2 = 2 * bias and (y >> 1) + bias2 = 2 * acc
 * (y is a multiple of 4), the value ta_requantize_fast_acc shifts left; TFLM's: bias2 = bias. */
TA_INLINE int32_t requant_y(int32_t y, int32_t bias2, int32_t m, int32_t r, int32_t e, const wino_range *range) {
    if (range->mode == 2) {
        const int32_t acc = (y >> 2) + bias2;
        return ta_clamp_s8(ta_requantize(acc, m, r) + range->output_offset, range->act_min, range->act_max);
    }
    const int32_t acc2 = (y >> 1) + bias2;
    const int32_t x = ta_ssat8(ta_smmlar(acc2, m, r + (acc2 >> 31)) >> e);
    if (range->mode == 1) {
        return x < range->act_min ? range->act_min : (x > range->act_max ? range->act_max : x);
    }
    return x;
}

#endif /* TA_WINOGRAD_TRANSFORMS_H */
