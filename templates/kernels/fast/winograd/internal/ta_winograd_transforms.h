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

/* Rows i0 and i1 of V for one lane: a = the lane's values of the input rows the row of B^T
 * combines (x0 - x2 for row 0, ...), then B^T along the row. */
#define WINO_ROW_OUT(out, r0, r1, r2, r3, step) do { \
        int32_t q0_ = (r0), q1_ = (r1), q2_ = (r2), q3_ = (r3); \
        WINO_BT(q0_, q1_, q2_, q3_); \
        (out)[0] = q0_; (out)[(step)] = q1_; (out)[2 * (step)] = q2_; (out)[3 * (step)] = q3_; \
    } while (0)

/* The four words of one input row of the patch. */
#define WINO_LOAD_ROW(r, w0, w1, w2, w3) do { \
        w0 = ta_load32(r); w1 = ta_load32((r) + pixel); w2 = ta_load32((r) + 2 * pixel); \
        w3 = ta_load32((r) + 3 * pixel); \
    } while (0)

/* One lane (EXT: ta_sxtb16 or ta_sxtb16_ror8) of V rows from input rows a and b:
 * OP(a, b) per column, then B^T along the row, to v row `row`. */
#define WINO_LANE(EXT, OP, a0, a1, a2, a3, b0, b1, b2, b3, row, lane) \
    WINO_ROW_OUT(v + (row) * 4 * step + (lane), OP(EXT(a0), EXT(b0)), OP(EXT(a1), EXT(b1)), \
                 OP(EXT(a2), EXT(b2)), OP(EXT(a3), EXT(b3)), step)

#define WINO_SUB(x, y) ta_ssub16(x, y)
#define WINO_ADD(x, y) ta_sadd16(x, y)
#define WINO_RSUB(x, y) ta_ssub16(y, x)

/* One tile's transformed patch for four input channels: rows[i] points at input row i of the
 * patch (four words, `pixel` bytes apart); V[position] goes to v[position * step] for lane 0
 * (channels c0 c2) and v[position * step + 1] for lane 1 (c1 c3). The rows of B^T are
 * x0 - x2, x1 + x2, x2 - x1, x1 - x3: each row of V comes from two input rows, whose words are
 * loaded once for both lanes (rows 1 and 2 share theirs). Written out: about 9 instructions per
 * input word. step is a constant at each call. */
TA_INLINE void transform_tile(const int8_t *const rows[4], int32_t pixel, int32_t *v, int32_t step) {
    int32_t a0, a1, a2, a3, b0, b1, b2, b3;
    WINO_LOAD_ROW(rows[0], a0, a1, a2, a3);
    WINO_LOAD_ROW(rows[2], b0, b1, b2, b3);
    WINO_LANE(ta_sxtb16, WINO_SUB, a0, a1, a2, a3, b0, b1, b2, b3, 0, 0);
    WINO_LANE(ta_sxtb16_ror8, WINO_SUB, a0, a1, a2, a3, b0, b1, b2, b3, 0, 1);
    WINO_LOAD_ROW(rows[1], a0, a1, a2, a3);
    WINO_LANE(ta_sxtb16, WINO_ADD, a0, a1, a2, a3, b0, b1, b2, b3, 1, 0);
    WINO_LANE(ta_sxtb16_ror8, WINO_ADD, a0, a1, a2, a3, b0, b1, b2, b3, 1, 1);
    WINO_LANE(ta_sxtb16, WINO_RSUB, a0, a1, a2, a3, b0, b1, b2, b3, 2, 0);
    WINO_LANE(ta_sxtb16_ror8, WINO_RSUB, a0, a1, a2, a3, b0, b1, b2, b3, 2, 1);
    WINO_LOAD_ROW(rows[3], b0, b1, b2, b3);
    WINO_LANE(ta_sxtb16, WINO_SUB, a0, a1, a2, a3, b0, b1, b2, b3, 3, 0);
    WINO_LANE(ta_sxtb16_ror8, WINO_SUB, a0, a1, a2, a3, b0, b1, b2, b3, 3, 1);
}

/* Where the tile whose top-left input pixel is (y0, x0) reads channels c .. c+3: rows[i] and
 * `*pixel` (bytes between the patch's columns). Inside the image, the input itself; at the border,
 * a 4x4 stage of words with the zero point outside the image. */
static void patch_rows(const ta_conv2d_winograd_params *p, const int8_t *image, int32_t y0, int32_t x0, int32_t c,
                       int32_t zp4, int32_t stage[16], const int8_t *rows[4], int32_t *pixel) {
    const int32_t in_h = p->input.h, in_w = p->input.w, in_c = p->input.c;
    if (y0 >= 0 && y0 + 4 <= in_h && x0 >= 0 && x0 + 4 <= in_w) {
        const int8_t *row = image + ((size_t)y0 * in_w + x0) * in_c + c;
        for (int i = 0; i < 4; ++i, row += (size_t)in_w * in_c) {
            rows[i] = row;
        }
        *pixel = in_c;
        return;
    }
    for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
            const int32_t y = y0 + i, x = x0 + j;
            stage[4 * i + j] = (y >= 0 && y < in_h && x >= 0 && x < in_w)
                               ? ta_load32(image + ((size_t)y * in_w + x) * in_c + c) : zp4;
        }
        rows[i] = (const int8_t *)(const void *)(stage + 4 * i);
    }
    *pixel = 4;
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
