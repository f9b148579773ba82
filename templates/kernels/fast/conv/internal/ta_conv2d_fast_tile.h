/* CONV_2D fast form, part 2: the 3-pixel x 2-channel SMLAD tile, its requantization and
 * the plain-C channel loops.
 * Internal to ta_conv2d_s8_fast.c, which includes it once, after the previous part: static helpers only. */
#ifndef TA_CONV2D_FAST_TILE_H
#define TA_CONV2D_FAST_TILE_H

#include "ta_conv2d_s8_fast.h"
#include "ta_dsp.h"

/* The twelve SMLAD of a tile step: three pixels' column values (one LDRD each) against
 * the two channels' weight halves a_lo_/a_hi_ and b_lo_/b_hi_ of the enclosing step. */
#define TILE_MACS(x, a00, a01, a10, a11, a20, a21) do { \
        int32_t lo_, hi_; \
        TA_LOAD_PAIR_INC(x, lo_, hi_); \
        a00 = ta_smlad(a_lo_, lo_, a00); a00 = ta_smlad(a_hi_, hi_, a00); \
        a01 = ta_smlad(b_lo_, lo_, a01); a01 = ta_smlad(b_hi_, hi_, a01); \
        TA_LOAD_PAIR_INC(x, lo_, hi_); \
        a10 = ta_smlad(a_lo_, lo_, a10); a10 = ta_smlad(a_hi_, hi_, a10); \
        a11 = ta_smlad(b_lo_, lo_, a11); a11 = ta_smlad(b_hi_, hi_, a11); \
        TA_LOAD_PAIR_INC(x, lo_, hi_); \
        a20 = ta_smlad(a_lo_, lo_, a20); a20 = ta_smlad(a_hi_, hi_, a20); \
        a21 = ta_smlad(b_lo_, lo_, a21); a21 = ta_smlad(b_hi_, hi_, a21); \
    } while (0)

/* The tile for one channel pair: 3 pixels x 2 channels, four column values per
 * step: one LDRD of the pair's weights, four SXTB16, three LDRD of the columns
 * and twelve SMLAD (20 instructions for 24 MACs). a<pixel><channel>. */
#define TILE_STEP(w, x, a00, a01, a10, a11, a20, a21) do { \
        int32_t wa_, wb_; \
        TA_LOAD_PAIR_INC(w, wa_, wb_); \
        const int32_t a_lo_ = ta_sxtb16(wa_), a_hi_ = ta_sxtb16_ror8(wa_); \
        const int32_t b_lo_ = ta_sxtb16(wb_), b_hi_ = ta_sxtb16_ror8(wb_); \
        TILE_MACS(x, a00, a01, a10, a11, a20, a21); \
    } while (0)

/* The same with int16 weights (FORM_WIDE): two LDRD instead of LDRD + four SXTB16. */
#define TILE_STEP_WIDE(w, x, a00, a01, a10, a11, a20, a21) do { \
        int32_t a_lo_, a_hi_, b_lo_, b_hi_; \
        TA_LOAD_PAIR_INC(w, a_lo_, a_hi_); \
        TA_LOAD_PAIR_INC(w, b_lo_, b_hi_); \
        TILE_MACS(x, a00, a01, a10, a11, a20, a21); \
    } while (0)

/* Split int8 weights (see the header): the raw word of a channel's four weights meets
 * the first column word unshuffled, one SXTB16 ROR 8 gives the odd weights for the
 * second: 18 instructions for 24 MACs. */
#define TILE_STEP_SPLIT(w, x, a00, a01, a10, a11, a20, a21) do { \
        int32_t a_lo_, b_lo_; \
        TA_LOAD_PAIR_INC(w, a_lo_, b_lo_); \
        const int32_t a_hi_ = ta_sxtb16_ror8(a_lo_), b_hi_ = ta_sxtb16_ror8(b_lo_); \
        TILE_MACS(x, a00, a01, a10, a11, a20, a21); \
    } while (0)

#if TA_HAVE_DSP
/* GCC keeps neither the weight pointer nor the loop bound in a register with
 * six accumulators live, so the loop is written out: all 14 allocatable
 * registers, two groups per turn, the bound read from the stack (3 of 43). */
/* TA_ASM_STEP_MACS (ta_dsp.h): the twelve SMLAD of one step. */
#define TA_ASM_STEP \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t" \
    "sxtb16 %[al], %[wa]\n\t" \
    "sxtb16 %[wa], %[wa], ror #8\n\t" \
    "sxtb16 %[bl], %[wb]\n\t" \
    "sxtb16 %[wb], %[wb], ror #8\n\t" \
    TA_ASM_STEP_MACS

/* One LDM for the four weight words: al, wa, bl, wb are registers in increasing
 * order (channels_fast pins them), which is the order LDM fills from memory. */
#define TA_ASM_STEP_WIDE \
    "ldmia.w %[w]!, {%[al], %[wa], %[bl], %[wb]}\n\t" \
    TA_ASM_STEP_MACS

#define TA_ASM_STEP_SPLIT \
    "ldrd %[al], %[bl], [%[w]], #8\n\t" \
    "sxtb16 %[wa], %[al], ror #8\n\t" \
    "sxtb16 %[wb], %[bl], ror #8\n\t" \
    TA_ASM_STEP_MACS
#endif

/* groups >= 1. Plain C (the host, and the paths that are not the hot one). */
TA_INLINE void tile_pair(const int8_t **weights, const int32_t *col, int32_t groups, int form, int32_t *a00,
                         int32_t *a01, int32_t *a10, int32_t *a11, int32_t *a20, int32_t *a21) {
    const void *w = *weights;
    const void *x = col;
    int32_t c00 = *a00, c01 = *a01, c10 = *a10, c11 = *a11, c20 = *a20, c21 = *a21;
    if (form == FORM_WIDE) {
        for (int32_t g = 0; g < groups; ++g) {
            TILE_STEP_WIDE(w, x, c00, c01, c10, c11, c20, c21);
        }
    } else if (form == FORM_SPLIT) {
        for (int32_t g = 0; g < groups; ++g) {
            TILE_STEP_SPLIT(w, x, c00, c01, c10, c11, c20, c21);
        }
    } else {
        for (int32_t g = 0; g < groups; ++g) {
            TILE_STEP(w, x, c00, c01, c10, c11, c20, c21);
        }
    }
    *weights = (const int8_t *)w;
    *a00 = c00; *a01 = c01; *a10 = c10; *a11 = c11; *a20 = c20; *a21 = c21;
}

typedef struct {
    int32_t output_offset, act_min, act_max;
    int mode;      /* 0 fast requantization, int8 range; 1 fast, narrower range; 2 TFLM's */
    int32_t limits[2];         /* act_min and act_max, each repeated in all four bytes (SSUB8/SEL) */
    int32_t corr[3];           /* FORM_SPLIT: the three pixels' accumulator corrections, else 0 */
} output_range;

TA_INLINE int32_t clamp_range(int32_t y, int32_t lo, int32_t hi) {
    y = y < lo ? lo : y;
    return y > hi ? hi : y;
}

/* bias0 bias1, three times (one per tile pixel: one LDM starts the six accumulators),
 * once with FORM_SPLIT (its per-pixel corrections are added anyway). */
#define PAIR_HEAD_BYTES(form) ((form) == FORM_SPLIT ? 8 : 24)
#define PAIR_TAIL_BYTES 24     /* mult0 mult1 round0 round1 right0 right1 (or shifts) */

/* ta_requantize_fast_acc for an accumulator that is already 2 * acc (FORM_WIDE with the fast
 * requantization: weights and bias stored doubled): the same value, as the generator keeps
 * 2 * acc within int32 and its sign is acc's (see TA_ASM_REQUANT_DOUBLED). */
TA_INLINE int32_t requantize_doubled(int32_t acc2, int32_t multiplier, int32_t right, int32_t round) {
    return ta_smmlar(acc2, multiplier, round + (acc2 >> 31)) >> right;
}

/* One output from its accumulator in the requantization form `mode` (a constant
 * at each call): 0 fast, int8 range; 1 fast, narrower range; 2 TFLM's (r holds
 * TFLite's signed shift, e is unused). With the fast forms a FORM_WIDE accumulator
 * is already doubled. */
TA_INLINE int32_t requant_one(int32_t a, int32_t m, int32_t r, int32_t e, const output_range *range, int mode,
                              int form) {
    if (mode == 2) {
        return clamp_range(ta_requantize(a, m, r) + range->output_offset, range->act_min, range->act_max);
    }
    const int32_t y = ta_ssat8(form == FORM_WIDE ? requantize_doubled(a, m, e, r) : ta_requantize_fast_acc(a, m, e, r));
    return mode == 1 ? clamp_range(y, range->act_min, range->act_max) : y;
}

/* One channel pair for three pixels, from its part of the pair stream (see the
 * header): the tile, then requantization and stores.
 * `both` 0: an odd last channel paired with itself, whose second value is not stored. */
TA_INLINE void pair_3x2(const int8_t **stream, const int32_t *col, int32_t groups, int form, int8_t *o0,
                        int8_t *o1, int8_t *o2, const output_range *range, int mode, int both) {
    int32_t b0, b1;
    TA_LOAD_PAIR(*stream, b0, b1);
    const int8_t *weights = *stream + PAIR_HEAD_BYTES(form);
    const int32_t *c = range->corr;
    int32_t a00 = b0 + c[0], a10 = b0 + c[1], a20 = b0 + c[2], a01 = b1 + c[0], a11 = b1 + c[1], a21 = b1 + c[2];
    tile_pair(&weights, col, groups, form, &a00, &a01, &a10, &a11, &a20, &a21);
    const int8_t *k = weights;
    *stream = weights + PAIR_TAIL_BYTES;
    int32_t m0, m1, r0, r1, e0, e1;
    TA_LOAD_PAIR(k, m0, m1);
    TA_LOAD_PAIR(k + 8, r0, r1);
    TA_LOAD_PAIR(k + 16, e0, e1);
    /* Pixel 2 first: a short last tile repeats a pixel, and its stores are identical. */
    o2[0] = (int8_t)requant_one(a20, m0, r0, e0, range, mode, form);
    o1[0] = (int8_t)requant_one(a10, m0, r0, e0, range, mode, form);
    o0[0] = (int8_t)requant_one(a00, m0, r0, e0, range, mode, form);
    if (both) {
        o2[1] = (int8_t)requant_one(a21, m1, r1, e1, range, mode, form);
        o1[1] = (int8_t)requant_one(a11, m1, r1, e1, range, mode, form);
        o0[1] = (int8_t)requant_one(a01, m1, r1, e1, range, mode, form);
    }
}

/* Every channel of one output pixel: the last pixel of a layer whose pixel count
 * is 1 more than a multiple of three (16 of a 4x4 map, all of a 1x1 one), which
 * the tile would compute three times. Per channel pair and four column values:
 * one weight load, four SXTB16 (none with int16 weights, one more load), one
 * column load, four SMLAD. */
static void channels_1px(const int8_t *stream, const int32_t *col, int32_t groups, int form, int32_t out_c,
                         int8_t *out, const output_range *range) {
    const int mode = range->mode;
    for (int32_t c = 0; c < out_c; c += 2) {
        int32_t b0, b1;
        TA_LOAD_PAIR(stream, b0, b1);
        const void *w = stream + PAIR_HEAD_BYTES(form);
        const int32_t *x = col;
        int32_t a0 = b0 + range->corr[0], a1 = b1 + range->corr[0];
        if (form == FORM_WIDE) {
            for (int32_t g = groups; g > 0; --g, x += GROUP_WORDS) {
                int32_t a_lo, a_hi, b_lo, b_hi, lo, hi;
                TA_LOAD_PAIR_INC(w, a_lo, a_hi);
                TA_LOAD_PAIR_INC(w, b_lo, b_hi);
                TA_LOAD_PAIR(x, lo, hi);
                a0 = ta_smlad(a_lo, lo, a0);
                a0 = ta_smlad(a_hi, hi, a0);
                a1 = ta_smlad(b_lo, lo, a1);
                a1 = ta_smlad(b_hi, hi, a1);
            }
        } else if (form == FORM_SPLIT) {
            for (int32_t g = groups; g > 0; --g, x += GROUP_WORDS) {
                int32_t wa, wb, lo, hi;
                TA_LOAD_PAIR_INC(w, wa, wb);
                TA_LOAD_PAIR(x, lo, hi);
                a0 = ta_smlad(wa, lo, a0);
                a0 = ta_smlad(ta_sxtb16_ror8(wa), hi, a0);
                a1 = ta_smlad(wb, lo, a1);
                a1 = ta_smlad(ta_sxtb16_ror8(wb), hi, a1);
            }
        } else {
            for (int32_t g = groups; g > 0; --g, x += GROUP_WORDS) {
                int32_t wa, wb, lo, hi;
                TA_LOAD_PAIR_INC(w, wa, wb);
                TA_LOAD_PAIR(x, lo, hi);
                a0 = ta_smlad(ta_sxtb16(wa), lo, a0);
                a0 = ta_smlad(ta_sxtb16_ror8(wa), hi, a0);
                a1 = ta_smlad(ta_sxtb16(wb), lo, a1);
                a1 = ta_smlad(ta_sxtb16_ror8(wb), hi, a1);
            }
        }
        const int8_t *k = (const int8_t *)w;
        stream = k + PAIR_TAIL_BYTES;
        int32_t m0, m1, r0, r1, e0, e1;
        TA_LOAD_PAIR(k, m0, m1);
        TA_LOAD_PAIR(k + 8, r0, r1);
        TA_LOAD_PAIR(k + 16, e0, e1);
        out[c] = (int8_t)requant_one(a0, m0, r0, e0, range, mode, form);
        if (c + 1 < out_c) {
            out[c + 1] = (int8_t)requant_one(a1, m1, r1, e1, range, mode, form);
        }
    }
}

/* All channel pairs for three pixels (the tile's columns are gathered). */
TA_INLINE void channels_3x2(const int8_t *stream, const int32_t *col, int32_t groups, int form, int32_t out_c,
                            int8_t *o0, int8_t *o1, int8_t *o2, const output_range *range, int mode) {
    for (int32_t pairs = out_c >> 1; pairs > 0; --pairs, o0 += 2, o1 += 2, o2 += 2) {
        pair_3x2(&stream, col, groups, form, o0, o1, o2, range, mode, 1);
    }
    if (out_c & 1) {
        pair_3x2(&stream, col, groups, form, o0, o1, o2, range, mode, 0);
    }
}

/* Every tile of one image in plain C (the host; TFLM's requantization): gather, then all
 * channel pairs' outputs for the three pixels, or for the last pixel alone. */
static void tiles_c(const gather_geometry *g, const tile_walk *t, const int8_t *pairs, int8_t *out,
                    output_range *range) {
    const int32_t pixels = t->pixels, out_c = t->out_c;
    for (int32_t i = 0; i < pixels; i += TILE_PIXELS) {
        const int32_t i1 = i + 1 < pixels ? i + 1 : pixels - 1;
        const int32_t i2 = i + 2 < pixels ? i + 2 : pixels - 1;
        gather_tile(g, t, i, i1, i2);
        if (t->form == FORM_SPLIT) {
            split_columns(t->col, t->groups, range->corr);
        }
        if (i + 1 == pixels) {
            channels_1px(pairs, t->col, t->groups, t->form, out_c, out + (size_t)i * out_c, range);
        } else {
            channels_3x2(pairs, t->col, t->groups, t->form, out_c, out + (size_t)i * out_c,
                         out + (size_t)i1 * out_c, out + (size_t)i2 * out_c, range, range->mode);
        }
    }
}

#endif /* TA_CONV2D_FAST_TILE_H */
