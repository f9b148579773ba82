/* CONV_2D int8, fast form (see the header). Bit-exact with TFLM's reference:
 * the input offset is folded into the bias at generation time and padding is
 * filled with the input zero point, so every tap contributes w * x_raw.
 *
 * Output pixels go in tiles of three, in increasing (n, y, x) order: the three
 * receptive fields are gathered (widened to int16) into scratch first, then every
 * channel pair's outputs for the three pixels are written. So while pixel p is
 * written, only input needed by pixels >= p is read afterwards, and the output
 * may overlap the part of the input already consumed.
 *
 * Costs on Cortex-M7 (instructions): the tile, 43 per 48 MACs with int8 weights
 * (37 with int16 weights); per channel pair and tile about 26 plus 5 per output
 * for requantization; gathering 4.5 per four input values per pixel. */
#include "ta_conv2d_s8_fast.h"
#include "ta_dsp.h"

#define TILE_PIXELS 3

/* How a layer's weights are stored (ta_conv2d_fast_params.weight_form). */
enum { FORM_INT8 = 0, FORM_WIDE = 1, FORM_SPLIT = 2 };
#define GROUP_WORDS (2 * TILE_PIXELS)   /* int32 words of one column group: 3 pixels x (lo, hi) */

/* The layer's geometry, copied out of the params struct once: int8 stores may
 * alias anything, which would otherwise make the compiler reload every field. */
typedef struct {
    const int8_t *input;                /* this batch's image */
    int32_t in_h, in_w, in_c;
    int32_t filter_h, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t run_taps, runs_per_row, run_len, run_groups, run_rest, rest_groups;
    int32_t span_h, span_w;             /* the receptive field's extent in the image */
    int32_t row_step, run_step;         /* bytes between filter rows and between runs of a row */
    int32_t zp, zp_pair;                /* the zero point, and twice as int16 */
    int32_t aligned;                    /* input.c % 4 == 0 and the input 4-byte aligned: LDRD */
    int32_t small_rows;                 /* one run per filter row, at most 15 values; then with
                                         * input.c % 4 != 0 the run stage holds all filter rows */
    int8_t *run_stage, *rest_stage;
} gather_geometry;

/* Four values (e0 e1 e2 e3) as the int16 pairs (e0, e2), (e1, e3) -- what SXTB16
 * and SXTB16 ROR 8 make of four weight bytes, so both meet in SMLAD unshuffled. */
TA_INLINE void widen_groups(const int8_t *src, int32_t groups, int32_t *out) {
    for (; groups >= 2; groups -= 2) {
        const int32_t a = ta_load32(src), b = ta_load32(src + 4);
        src += 8;
        TA_STORE_PAIR_STEP(out, ta_sxtb16(a), ta_sxtb16_ror8(a), 4 * GROUP_WORDS);
        TA_STORE_PAIR_STEP(out, ta_sxtb16(b), ta_sxtb16_ror8(b), 4 * GROUP_WORDS);
    }
    if (groups) {
        const int32_t a = ta_load32(src);
        out[0] = ta_sxtb16(a);
        out[1] = ta_sxtb16_ror8(a);
    }
}

/* The same from a 4-byte-aligned source: LDRD, 4.5 instructions per group. */
TA_INLINE void widen_groups_aligned(const int8_t *src, int32_t groups, int32_t *out) {
    const void *s = src;
    for (; groups >= 2; groups -= 2) {
        int32_t a, b;
        TA_LOAD_PAIR_INC(s, a, b);
        TA_STORE_PAIR_STEP(out, ta_sxtb16(a), ta_sxtb16_ror8(a), 4 * GROUP_WORDS);
        TA_STORE_PAIR_STEP(out, ta_sxtb16(b), ta_sxtb16_ror8(b), 4 * GROUP_WORDS);
    }
    if (groups) {
        const int32_t a = ta_load32(s);
        out[0] = ta_sxtb16(a);
        out[1] = ta_sxtb16_ror8(a);
    }
}

/* A run's last len % 4 values onto the remainder stage. */
TA_INLINE int8_t *copy_rest(const int8_t *src, int32_t count, int8_t *rest) {
    switch (count) {
    case 3:
        rest[2] = src[2];
        /* fall through */
    case 2:
        rest[1] = src[1];
        /* fall through */
    case 1:
        rest[0] = src[0];
        break;
    default:
        break;
    }
    return rest + count;
}

/* Interior pixels of layers with short runs (one run per filter row of at most
 * 15 values: first layers with 1 or 3 input channels): straight-line code per
 * row for each (groups, remainder) pair, chosen once per pixel. */
#define SMALL_ROW(G, R) \
    case 4 * (G) + (R): \
        do { \
            if ((G) >= 1) { const int32_t v = ta_load32(row); TA_STORE_PAIR_STEP(out, ta_sxtb16(v), ta_sxtb16_ror8(v), 4 * GROUP_WORDS); } \
            if ((G) >= 2) { const int32_t v = ta_load32(row + 4); TA_STORE_PAIR_STEP(out, ta_sxtb16(v), ta_sxtb16_ror8(v), 4 * GROUP_WORDS); } \
            if ((G) >= 3) { const int32_t v = ta_load32(row + 8); TA_STORE_PAIR_STEP(out, ta_sxtb16(v), ta_sxtb16_ror8(v), 4 * GROUP_WORDS); } \
            if ((R) >= 1) { rest[0] = row[4 * (G)]; } \
            if ((R) >= 2) { rest[1] = row[4 * (G) + 1]; } \
            if ((R) >= 3) { rest[2] = row[4 * (G) + 2]; } \
            rest += (R); \
            row += row_step; \
        } while (--rows); \
        break;

static int gather_small_rows(const gather_geometry *g, const int8_t *row, int32_t row_step, int32_t *out) {
    int8_t *rest = g->rest_stage;
    int32_t rows = g->filter_h;
    switch (g->run_len) {
    SMALL_ROW(0, 1) SMALL_ROW(0, 2) SMALL_ROW(0, 3)
    SMALL_ROW(1, 0) SMALL_ROW(1, 1) SMALL_ROW(1, 2) SMALL_ROW(1, 3)
    SMALL_ROW(2, 0) SMALL_ROW(2, 1) SMALL_ROW(2, 2) SMALL_ROW(2, 3)
    SMALL_ROW(3, 0) SMALL_ROW(3, 1) SMALL_ROW(3, 2) SMALL_ROW(3, 3)
    default:
        return 0;
    }
    if (g->rest_groups) {
        widen_groups(g->rest_stage, g->rest_groups, out);
    }
    return 1;
}

/* One output pixel's column into slot `out` (col + 2 * slot): each run read in
 * place when it lies inside the image, else staged with the zero point. The
 * remainders of all runs go to the remainder stage (its last word was zeroed once
 * per call of the kernel: the padding), widened after the runs' groups. */
static void gather_pixel(const gather_geometry *g, int32_t oy, int32_t ox, int32_t *out) {
    const int32_t y0 = oy * g->stride_h - g->pad_top;
    const int32_t x0 = ox * g->stride_w - g->pad_left;
    const int32_t in_c = g->in_c, run_groups = g->run_groups, run_rest = g->run_rest;
    int8_t *rest = g->rest_stage;
    if (y0 >= 0 && y0 + g->span_h <= g->in_h && x0 >= 0 && x0 + g->span_w <= g->in_w) {
        /* The whole receptive field inside the image: no checks per run. */
        const int8_t *row = g->input + ((size_t)y0 * g->in_w + x0) * in_c;
        const int32_t row_step = g->row_step;
        if (g->small_rows && gather_small_rows(g, row, row_step, out)) {
            return;
        }
        if (g->runs_per_row == 1) {
            if (g->aligned) {
                for (int32_t ky = g->filter_h; ky > 0; --ky, row += row_step) {
                    widen_groups_aligned(row, run_groups, out);
                    out += run_groups * GROUP_WORDS;
                }
                return;     /* no remainders: input.c % 4 == 0 */
            }
            for (int32_t ky = g->filter_h; ky > 0; --ky, row += row_step) {
                widen_groups(row, run_groups, out);
                out += run_groups * GROUP_WORDS;
                rest = copy_rest(row + 4 * run_groups, run_rest, rest);
            }
        } else {
            for (int32_t ky = g->filter_h; ky > 0; --ky, row += row_step) {
                const int8_t *src = row;
                for (int32_t r = g->runs_per_row; r > 0; --r, src += g->run_step) {
                    widen_groups(src, run_groups, out);
                    out += run_groups * GROUP_WORDS;
                    rest = copy_rest(src + 4 * run_groups, run_rest, rest);
                }
            }
        }
        if (g->rest_groups) {
            widen_groups(g->rest_stage, g->rest_groups, out);
        }
        return;
    }
    if (g->small_rows && (in_c & 3)) {
        /* Short runs at the border: the filter rows staged whole (zero point outside the
         * image), then the straight-line rows. */
        int8_t *stage = g->run_stage;
        const int32_t taps = g->run_taps;
        for (int32_t ky = 0; ky < g->filter_h; ++ky) {
            const int32_t y = y0 + ky * g->dilation_h;
            const int row_inside = y >= 0 && y < g->in_h;
            const int8_t *row = row_inside ? g->input + (size_t)y * g->in_w * in_c : g->input;
            for (int32_t x = x0; x < x0 + taps; ++x) {
                if (row_inside && x >= 0 && x < g->in_w) {
                    const int8_t *pixel = row + x * in_c;
                    for (int32_t c = 0; c < in_c; ++c) {
                        *stage++ = pixel[c];
                    }
                } else {
                    for (int32_t c = 0; c < in_c; ++c) {
                        *stage++ = (int8_t)g->zp;
                    }
                }
            }
        }
        if (gather_small_rows(g, g->run_stage, g->run_len, out)) {
            return;
        }
    }
    const int32_t run_step = g->run_taps * g->dilation_w;
    for (int32_t ky = 0; ky < g->filter_h; ++ky) {
        const int32_t y = y0 + ky * g->dilation_h;
        const int row_inside = y >= 0 && y < g->in_h;
        const int8_t *row = row_inside ? g->input + (size_t)y * g->in_w * in_c : g->input;
        int32_t xs = x0;
        for (int32_t r = 0; r < g->runs_per_row; ++r, xs += run_step) {
            const int8_t *src;
            if (row_inside && xs >= 0 && xs + g->run_taps <= g->in_w) {
                src = row + xs * in_c;
            } else if ((in_c & 3) == 0) {
                /* Whole groups per tap: widen the taps inside, the zero point elsewhere. */
                for (int32_t t = 0; t < g->run_taps; ++t) {
                    const int32_t x = xs + t;
                    if (row_inside && x >= 0 && x < g->in_w) {
                        widen_groups(row + x * in_c, in_c >> 2, out);
                        out += (in_c >> 2) * GROUP_WORDS;
                    } else {
                        for (int32_t c = 0; c < in_c; c += 4, out += GROUP_WORDS) {
                            out[0] = g->zp_pair;
                            out[1] = g->zp_pair;
                        }
                    }
                }
                continue;
            } else {
                /* Taps of the run step 1 apart (several taps) or it is one tap. */
                int8_t *stage = g->run_stage;
                for (int32_t t = 0; t < g->run_taps; ++t) {
                    const int32_t x = xs + t;
                    if (row_inside && x >= 0 && x < g->in_w) {
                        const int8_t *pixel = row + x * in_c;
                        for (int32_t c = 0; c < in_c; ++c) {
                            *stage++ = pixel[c];
                        }
                    } else {
                        for (int32_t c = 0; c < in_c; ++c) {
                            *stage++ = (int8_t)g->zp;
                        }
                    }
                }
                src = g->run_stage;
            }
            widen_groups(src, run_groups, out);
            out += run_groups * GROUP_WORDS;
            rest = copy_rest(src + 4 * run_groups, run_rest, rest);
        }
    }
    if (g->rest_groups) {
        widen_groups(g->rest_stage, g->rest_groups, out);
    }
}

/* Three pixels of one output row whose receptive fields all lie inside the image,
 * for the two common layouts (whole groups from an aligned input, short runs):
 * one call instead of three. Returns 0 when it does not apply. */
__attribute__((noinline)) static int gather_interior3(const gather_geometry *g, int32_t oy, int32_t ox, int32_t *col) {
    const int32_t y0 = oy * g->stride_h - g->pad_top;
    const int32_t x0 = ox * g->stride_w - g->pad_left;
    const int32_t pixel_step = g->stride_w * g->in_c;
    if (y0 < 0 || y0 + g->span_h > g->in_h || x0 < 0 || x0 + 2 * g->stride_w + g->span_w > g->in_w) {
        return 0;
    }
    const int8_t *row = g->input + ((size_t)y0 * g->in_w + x0) * g->in_c;
    if (g->runs_per_row == 1 && g->aligned) {
        const int32_t groups = g->run_groups, row_step = g->row_step;
        for (int32_t ky = g->filter_h; ky > 0; --ky, row += row_step) {
            widen_groups_aligned(row, groups, col);
            widen_groups_aligned(row + pixel_step, groups, col + 2);
            widen_groups_aligned(row + 2 * pixel_step, groups, col + 4);
            col += groups * GROUP_WORDS;
        }
        return 1;
    }
    if (g->small_rows) {
        const int32_t row_step = g->row_step;
        return gather_small_rows(g, row, row_step, col) && gather_small_rows(g, row + pixel_step, row_step, col + 2) &&
               gather_small_rows(g, row + 2 * pixel_step, row_step, col + 4);
    }
    return 0;
}

/* 1x1 filter, no padding, input.c % 4 == 0: the three columns are the three
 * pixels' input values, widened (14 instructions per group of four). */
__attribute__((noinline)) static void gather_pointwise3(const int8_t *s0, const int8_t *s1, const int8_t *s2, int32_t in_c, int32_t *out) {
    for (int32_t c = in_c >> 2; c > 0; --c) {
        const int32_t a = ta_load32(s0), b = ta_load32(s1), d = ta_load32(s2);
        s0 += 4;
        s1 += 4;
        s2 += 4;
        TA_STORE_PAIR_STEP(out, ta_sxtb16(a), ta_sxtb16_ror8(a), 8);
        TA_STORE_PAIR_STEP(out, ta_sxtb16(b), ta_sxtb16_ror8(b), 8);
        TA_STORE_PAIR_STEP(out, ta_sxtb16(d), ta_sxtb16_ror8(d), 8);
    }
}

/* Where a 1x1 filter's input for output pixel i starts. */
TA_INLINE const int8_t *pointwise_source(const gather_geometry *g, int32_t i, int32_t out_w) {
    if (g->stride_w == 1 && g->stride_h == 1 && out_w == g->in_w) {    /* pixel i of the output is pixel i of the input */
        return g->input + (size_t)i * g->in_c;
    }
    const int32_t oy = i / out_w, ox = i - oy * out_w;
    return g->input + ((size_t)oy * g->stride_h * g->in_w + (size_t)ox * g->stride_w) * g->in_c;
}

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
/* The twelve SMLAD of one step: three pixels' columns (LDRD each) against the
 * two channels' weights in al/wa (channel 0) and bl/wb (channel 1). */
#define TA_ASM_STEP_MACS \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smlad %[a00], %[al], %[lo], %[a00]\n\t" \
    "smlad %[a00], %[wa], %[hi], %[a00]\n\t" \
    "smlad %[a01], %[bl], %[lo], %[a01]\n\t" \
    "smlad %[a01], %[wb], %[hi], %[a01]\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smlad %[a10], %[al], %[lo], %[a10]\n\t" \
    "smlad %[a10], %[wa], %[hi], %[a10]\n\t" \
    "smlad %[a11], %[bl], %[lo], %[a11]\n\t" \
    "smlad %[a11], %[wb], %[hi], %[a11]\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smlad %[a20], %[al], %[lo], %[a20]\n\t" \
    "smlad %[a20], %[wa], %[hi], %[a20]\n\t" \
    "smlad %[a21], %[bl], %[lo], %[a21]\n\t" \
    "smlad %[a21], %[wb], %[hi], %[a21]\n\t"

#define TA_ASM_STEP \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t" \
    "sxtb16 %[al], %[wa]\n\t" \
    "sxtb16 %[wa], %[wa], ror #8\n\t" \
    "sxtb16 %[bl], %[wb]\n\t" \
    "sxtb16 %[wb], %[wb], ror #8\n\t" \
    TA_ASM_STEP_MACS

#define TA_ASM_STEP_WIDE \
    "ldrd %[al], %[wa], [%[w]], #8\n\t" \
    "ldrd %[bl], %[wb], [%[w]], #8\n\t" \
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

#define PAIR_HEAD_BYTES 8      /* bias0 bias1 */
#define PAIR_TAIL_BYTES 24     /* mult0 mult1 round0 round1 right0 right1 (or shifts) */

/* One output from its accumulator in the requantization form `mode` (a constant
 * at each call): 0 fast, int8 range; 1 fast, narrower range; 2 TFLM's (r holds
 * TFLite's signed shift, e is unused). */
TA_INLINE int32_t requant_one(int32_t a, int32_t m, int32_t r, int32_t e, const output_range *range, int mode) {
    if (mode == 2) {
        return clamp_range(ta_requantize(a, m, r) + range->output_offset, range->act_min, range->act_max);
    }
    const int32_t y = ta_ssat8(ta_requantize_fast_acc(a, m, e, r));
    return mode == 1 ? clamp_range(y, range->act_min, range->act_max) : y;
}

/* One channel pair for three pixels, from its part of the pair stream (see the
 * header): the tile, then requantization and stores.
 * `both` 0: an odd last channel paired with itself, whose second value is not stored. */
TA_INLINE void pair_3x2(const int8_t **stream, const int32_t *col, int32_t groups, int form, int8_t *o0,
                        int8_t *o1, int8_t *o2, const output_range *range, int mode, int both) {
    int32_t b0, b1;
    TA_LOAD_PAIR(*stream, b0, b1);
    const int8_t *weights = *stream + PAIR_HEAD_BYTES;
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
    o2[0] = (int8_t)requant_one(a20, m0, r0, e0, range, mode);
    o1[0] = (int8_t)requant_one(a10, m0, r0, e0, range, mode);
    o0[0] = (int8_t)requant_one(a00, m0, r0, e0, range, mode);
    if (both) {
        o2[1] = (int8_t)requant_one(a21, m1, r1, e1, range, mode);
        o1[1] = (int8_t)requant_one(a11, m1, r1, e1, range, mode);
        o0[1] = (int8_t)requant_one(a01, m1, r1, e1, range, mode);
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
        const void *w = stream + PAIR_HEAD_BYTES;
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
        out[c] = (int8_t)requant_one(a0, m0, r0, e0, range, mode);
        if (c + 1 < out_c) {
            out[c + 1] = (int8_t)requant_one(a1, m1, r1, e1, range, mode);
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

#if TA_HAVE_DSP
/* ta_requantize_fast_acc and SSAT on register `a`, with `t` as a temporary. */
#define TA_ASM_REQUANT(a, m, r, e, t) \
    "add %[" t "], %[" r "], %[" a "], asr #31\n\t" \
    "lsl %[" a "], %[" a "], #1\n\t" \
    "smmlar %[" a "], %[" a "], %[" m "], %[" t "]\n\t" \
    "asr %[" a "], %[" a "], %[" e "]\n\t" \
    "ssat %[" a "], #8, %[" a "]\n\t"

/* The six accumulators from the pair's biases (in a00, a01). */
#define TA_ASM_INIT_BIAS \
    "mov %[a10], %[a00]\n\t" \
    "mov %[a20], %[a00]\n\t" \
    "mov %[a11], %[a01]\n\t" \
    "mov %[a21], %[a01]\n\t"

/* The same plus each pixel's correction (FORM_SPLIT). */
#define TA_ASM_INIT_CORR \
    "ldrd %[lo], %[hi], %[corr01]\n\t" \
    "ldr %[x], %[corr2]\n\t" \
    "add %[a10], %[a00], %[hi]\n\t" \
    "add %[a20], %[a00], %[x]\n\t" \
    "add %[a00], %[a00], %[lo]\n\t" \
    "add %[a11], %[a01], %[hi]\n\t" \
    "add %[a21], %[a01], %[x]\n\t" \
    "add %[a01], %[a01], %[lo]\n\t"

/* No activation clamp: SSAT's int8 range is the output range. */
#define TA_ASM_NO_CLAMP ""

/* A narrower activation range on the three packed channel pairs (bytes 0 and 1
 * of a00, a10, a20): SSUB8 sets a GE flag per byte lane where the first operand
 * is at least the second, SEL picks per lane; limits holds act_min and act_max
 * repeated in every byte. max, then min: 13 instructions per pair and tile. */
#define TA_ASM_CLAMP_ONE(a) \
    "ssub8 %[x], %[" a "], %[wa]\n\t" \
    "sel %[" a "], %[" a "], %[wa]\n\t" \
    "ssub8 %[x], %[" a "], %[wb]\n\t" \
    "sel %[" a "], %[wb], %[" a "]\n\t"
#define TA_ASM_CLAMP \
    "ldrd %[wa], %[wb], %[limits]\n\t" \
    TA_ASM_CLAMP_ONE("a00") \
    TA_ASM_CLAMP_ONE("a10") \
    TA_ASM_CLAMP_ONE("a20")

/* What the pair loop reads from the stack (sp-relative operands: all 14
 * allocatable registers are busy). */
typedef struct {
    const int32_t *col, *col_end;
    const int8_t *stream_end;  /* after the last whole pair */
    uint32_t entry;            /* address of the tile loop's first step for groups % 4, Thumb bit set */
    int8_t *out;               /* pixel 0's output for this pair; advanced by 2 per pair */
    int32_t step[2];           /* pixels 1 and 2 relative to pixel 0, bytes */
    int32_t limits[2];         /* output_range.limits: stack-relative, no register is free */
    int32_t corr[3];           /* output_range.corr (FORM_SPLIT) */
} pair_loop_state;

/* One step of the tile is 20 32-bit instructions (LDRD, SXTB16 and SMLAD have no
 * 16-bit encodings): the loop is entered (4 - groups % 4) % 4 steps in. */
#define TA_ASM_STEP_BYTES 80
#define TA_ASM_STEP_WIDE_BYTES 68
#define TA_ASM_STEP_SPLIT_BYTES 72
#define TA_PAIR_LOOP_ASM(STEP, STEP_BYTES, INIT, CLAMP) \
        __asm__ volatile( \
            "adr %[x], 1f\n\t" \
            "ldr %[lo], %[skip]\n\t" \
            "add %[x], %[x], %[lo]\n\t" \
            "orr %[x], %[x], #1\n\t" \
            "str %[x], %[entry]\n\t" \
            "0:\n\t" \
            "ldrd %[a00], %[a01], [%[w]], #8\n\t" \
            INIT \
            "ldr %[x], %[col]\n\t" \
            "ldr %[lo], %[entry]\n\t" \
            "bx %[lo]\n\t" \
            ".p2align 2\n\t" \
            "1:\n\t" \
            STEP \
            "5:\n\t" \
            ".if (5b - 1b) - " TA_STR(STEP_BYTES) "\n\t" \
            ".error \"a tile step is not " TA_STR(STEP_BYTES) " bytes long\"\n\t" \
            ".endif\n\t" \
            STEP \
            STEP \
            STEP \
            "ldr %[lo], %[end]\n\t" \
            "cmp %[x], %[lo]\n\t" \
            "bne 1b\n\t" \
            "ldrd %[wa], %[wb], [%[w]], #8\n\t" \
            "ldrd %[al], %[bl], [%[w]], #8\n\t" \
            "ldrd %[lo], %[hi], [%[w]], #8\n\t" \
            TA_ASM_REQUANT("a00", "wa", "al", "lo", "x") \
            TA_ASM_REQUANT("a10", "wa", "al", "lo", "x") \
            TA_ASM_REQUANT("a20", "wa", "al", "lo", "x") \
            TA_ASM_REQUANT("a01", "wb", "bl", "hi", "x") \
            TA_ASM_REQUANT("a11", "wb", "bl", "hi", "x") \
            TA_ASM_REQUANT("a21", "wb", "bl", "hi", "x") \
            "bfi %[a00], %[a01], #8, #8\n\t" \
            "bfi %[a10], %[a11], #8, #8\n\t" \
            "bfi %[a20], %[a21], #8, #8\n\t" \
            CLAMP \
            "ldr %[x], %[out]\n\t" \
            "ldrd %[lo], %[hi], %[step]\n\t" \
            "strh %[a00], [%[x]]\n\t" \
            "strh %[a10], [%[x], %[lo]]\n\t" \
            "strh %[a20], [%[x], %[hi]]\n\t" \
            "add %[x], %[x], #2\n\t" \
            "str %[x], %[out]\n\t" \
            "ldr %[lo], %[stream_end]\n\t" \
            "cmp %[w], %[lo]\n\t" \
            "bne 0b\n\t" \
            : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [a20] "=&r"(a20), \
              [a21] "=&r"(a21), [w] "+r"(w), [x] "=&r"(x), [wa] "=&r"(wa), [wb] "=&r"(wb), [al] "=&r"(al), \
              [bl] "=&r"(bl), [lo] "=&r"(lo), [hi] "=&r"(hi), [out] "+m"(st.out), [entry] "=m"(st.entry) \
            : [col] "m"(st.col), [end] "m"(st.col_end), [stream_end] "m"(st.stream_end), \
              [step] "m"(*(const ta_pair *)st.step), [skip] "m"(skip), \
              [limits] "m"(*(const ta_pair *)st.limits), [corr01] "m"(*(const ta_pair *)st.corr), \
              [corr2] "m"(st.corr[2]) \
            : "cc", "memory");
#define TA_STR_(x) #x
#define TA_STR(x) TA_STR_(x)
#endif

/* Fast requantization: the whole channel-pair loop in one block of assembly,
 * walking the pair stream with one pointer. Per pair, besides the tile (43
 * instructions per 48 MACs) and the 30 of the requantization: 8 to start, 5 to
 * enter and leave the tile loop, 3 constants, 3 to pack the channel pairs, 8 to
 * store, 3 to loop; 13 more for a narrower activation range (ReLU6, or a ReLU
 * whose zero point is above -128). */
static void channels_fast(const int8_t *stream, const int32_t *col, int32_t groups, int form, int32_t out_c,
                          int8_t *o0, int8_t *o1, int8_t *o2, const output_range *range) {
#if TA_HAVE_DSP
    const int32_t pairs = out_c >> 1;
    if (pairs > 0) {
        pair_loop_state st;
        st.col = col;
        st.col_end = col + GROUP_WORDS * groups;
        st.stream_end = stream + pairs * (PAIR_HEAD_BYTES + PAIR_TAIL_BYTES + (form == FORM_WIDE ? 16 : 8) * groups);
        st.out = o0;
        st.step[0] = (int32_t)(o1 - o0);
        st.step[1] = (int32_t)(o2 - o0);
        const int32_t step_bytes = form == FORM_WIDE ? TA_ASM_STEP_WIDE_BYTES
                                   : form == FORM_SPLIT ? TA_ASM_STEP_SPLIT_BYTES : TA_ASM_STEP_BYTES;
        const int32_t skip = ((4 - (groups & 3)) & 3) * step_bytes;
        const void *w = stream;
        const void *x;
        int32_t a00, a01, a10, a11, a20, a21, wa, wb, al, bl, lo, hi;
        const int clamp = range->mode;
        if (clamp) {
            st.limits[0] = range->limits[0];
            st.limits[1] = range->limits[1];
        }
        /* Six loops of about 750 bytes each: a model links those its layers take (ta_paths.h). */
        if (form == FORM_SPLIT) {
            st.corr[0] = range->corr[0];
            st.corr[1] = range->corr[1];
            st.corr[2] = range->corr[2];
            if (clamp) {
                TA_TAKES(TA_PATH_CONV_SPLIT_CLAMP);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_SPLIT, TA_ASM_STEP_SPLIT_BYTES, TA_ASM_INIT_CORR, TA_ASM_CLAMP);
            } else {
                TA_TAKES(TA_PATH_CONV_SPLIT);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_SPLIT, TA_ASM_STEP_SPLIT_BYTES, TA_ASM_INIT_CORR, TA_ASM_NO_CLAMP);
            }
        } else if (form == FORM_WIDE && clamp) {
            TA_TAKES(TA_PATH_CONV_WIDE_CLAMP);
            TA_PAIR_LOOP_ASM(TA_ASM_STEP_WIDE, TA_ASM_STEP_WIDE_BYTES, TA_ASM_INIT_BIAS, TA_ASM_CLAMP);
        } else if (form == FORM_WIDE) {
            TA_TAKES(TA_PATH_CONV_WIDE);
            TA_PAIR_LOOP_ASM(TA_ASM_STEP_WIDE, TA_ASM_STEP_WIDE_BYTES, TA_ASM_INIT_BIAS, TA_ASM_NO_CLAMP);
        } else if (clamp) {
            TA_TAKES(TA_PATH_CONV_INT8_CLAMP);
            TA_PAIR_LOOP_ASM(TA_ASM_STEP, TA_ASM_STEP_BYTES, TA_ASM_INIT_BIAS, TA_ASM_CLAMP);
        } else {
            TA_TAKES(TA_PATH_CONV_INT8);
            TA_PAIR_LOOP_ASM(TA_ASM_STEP, TA_ASM_STEP_BYTES, TA_ASM_INIT_BIAS, TA_ASM_NO_CLAMP);
        }
        stream = (const int8_t *)w;
        o0 += 2 * pairs;
        o1 += 2 * pairs;
        o2 += 2 * pairs;
    }
    if (out_c & 1) {
        pair_3x2(&stream, col, groups, form, o0, o1, o2, range, range->mode, 0);
    }
#else
    channels_3x2(stream, col, groups, form, out_c, o0, o1, o2, range, range->mode);
#endif
}

/* TFLM's requantization (accumulators not proven below 2^30): plain C. */
static void channels_general(const int8_t *stream, const int32_t *col, int32_t groups, int form, int32_t out_c,
                             int8_t *o0, int8_t *o1, int8_t *o2, const output_range *range) {
    TA_TAKES(TA_PATH_CONV_EXACT);
    channels_3x2(stream, col, groups, form, out_c, o0, o1, o2, range, range->mode);
}

/* FORM_SPLIT: each gathered group's second word (x1, x3) becomes
 * (-(x1 + 129 + 256 * x0), -(x3 + 129 + 256 * x2)), which fits int16 for any int8
 * values (computed with wrapping 16-bit lanes), and each pixel's correction is
 * -128 times the sum of its first words' values (see the header). */
__attribute__((noinline)) static void split_columns(int32_t *col, int32_t groups, int32_t corr[3]) {
    const int32_t minus129 = (int32_t)0xFF7FFF7Fu, ones = 0x00010001;
    int32_t s0 = 0, s1 = 0, s2 = 0;
    for (int32_t g = groups; g > 0; --g, col += GROUP_WORDS) {
        int32_t lo, hi;
        TA_LOAD_PAIR(col, lo, hi);
        col[1] = ta_ssub16(minus129, ta_sadd16((int32_t)(((uint32_t)lo << 8) & 0xFF00FF00u), hi));
        s0 = ta_smlad(lo, ones, s0);
        TA_LOAD_PAIR(col + 2, lo, hi);
        col[3] = ta_ssub16(minus129, ta_sadd16((int32_t)(((uint32_t)lo << 8) & 0xFF00FF00u), hi));
        s1 = ta_smlad(lo, ones, s1);
        TA_LOAD_PAIR(col + 4, lo, hi);
        col[5] = ta_ssub16(minus129, ta_sadd16((int32_t)(((uint32_t)lo << 8) & 0xFF00FF00u), hi));
        s2 = ta_smlad(lo, ones, s2);
    }
    corr[0] = -128 * s0;
    corr[1] = -128 * s1;
    corr[2] = -128 * s2;
}

ta_status ta_conv2d_s8_fast(const ta_conv2d_fast_params *p, const int8_t *input, const int8_t *pairs,
                            int8_t *output, int16_t *scratch) {
    const int32_t out_w = p->output.w, out_c = p->output.c, in_c = p->input.c;
    const int32_t pixels = p->output.h * out_w;
    const int32_t row_len = p->row_len, groups = row_len >> 2;
    int32_t *col = (int32_t *)(void *)scratch;
    gather_geometry g;
    g.in_h = p->input.h;
    g.in_w = p->input.w;
    g.in_c = in_c;
    g.filter_h = p->filter_h;
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.dilation_h = p->dilation_h;
    g.dilation_w = p->dilation_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.run_taps = p->run_taps;
    g.runs_per_row = p->filter_w / p->run_taps;
    g.run_len = p->run_taps * in_c;
    g.run_groups = g.run_len >> 2;
    g.run_rest = g.run_len & 3;
    g.rest_groups = (p->filter_h * g.runs_per_row * g.run_rest + 3) >> 2;
    g.span_h = (p->filter_h - 1) * p->dilation_h + 1;
    g.span_w = (p->filter_w - 1) * p->dilation_w + 1;
    g.row_step = p->dilation_h * p->input.w * in_c;
    g.run_step = p->run_taps * p->dilation_w * in_c;
    g.zp = p->input_zero_point;
    g.small_rows = g.runs_per_row == 1 && g.run_len < 16;
    g.zp_pair = (int32_t)(((uint32_t)(uint16_t)g.zp << 16) | (uint16_t)g.zp);
    g.run_stage = (int8_t *)scratch + 6 * row_len;
    /* The run stage is only needed when input.c % 4 != 0 (border taps are staged). */
    const int32_t staged = (in_c & 3) == 0 ? 0 : (g.small_rows ? p->filter_h * g.run_len : g.run_len);
    g.rest_stage = g.run_stage + ((staged + 3) & ~3);
    const int clamp = p->act_min > -128 || p->act_max < 127;
    output_range range = {p->output_offset, p->act_min, p->act_max, !p->fast_requant ? 2 : (clamp ? 1 : 0),
                          {(int32_t)((uint32_t)(uint8_t)p->act_min * 0x01010101u),
                           (int32_t)((uint32_t)(uint8_t)p->act_max * 0x01010101u)},
                          {0, 0, 0}};
    const int form = p->weight_form;
    void (*channels)(const int8_t *, const int32_t *, int32_t, int, int32_t, int8_t *, int8_t *, int8_t *,
                     const output_range *) = p->fast_requant ? channels_fast : channels_general;
    /* 1x1, every output pixel's input inside the image (a folded PAD may add rows and
     * columns after it: those pixels take the general gather, which fills the zero point). */
    const int pointwise = p->filter_h == 1 && p->filter_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                          (in_c & 3) == 0 && (p->output.h - 1) * p->stride_h < p->input.h &&
                          (p->output.w - 1) * p->stride_w < p->input.w;
    if (g.rest_groups) {
        ta_store32(g.rest_stage + 4 * (g.rest_groups - 1), 0);     /* the remainders' padding */
    }
    for (int32_t b = 0; b < p->output.n; ++b) {
        int8_t *out = output + (size_t)b * pixels * out_c;
        g.input = input + (size_t)b * p->input.h * p->input.w * in_c;
        g.aligned = (in_c & 3) == 0 && ((uintptr_t)(const void *)g.input & 3) == 0;
        for (int32_t i = 0; i < pixels; i += TILE_PIXELS) {
            /* A short last tile repeats its last pixel: the same values go to the same place. */
            const int32_t i1 = i + 1 < pixels ? i + 1 : pixels - 1;
            const int32_t i2 = i + 2 < pixels ? i + 2 : pixels - 1;
            const int32_t oy = i / out_w, ox = i - oy * out_w;
            if (pointwise) {
                gather_pointwise3(pointwise_source(&g, i, out_w), pointwise_source(&g, i1, out_w),
                                  pointwise_source(&g, i2, out_w), in_c, col);
            } else if (ox + 2 < out_w && gather_interior3(&g, oy, ox, col)) {
                /* done */
            } else {
                gather_pixel(&g, i / out_w, i % out_w, col);
                gather_pixel(&g, i1 / out_w, i1 % out_w, col + 2);
                gather_pixel(&g, i2 / out_w, i2 % out_w, col + 4);
            }
            if (form == FORM_SPLIT) {
                split_columns(col, groups, range.corr);
            }
            if (i + 1 == pixels) {
                channels_1px(pairs, col, groups, form, out_c, out + (size_t)i * out_c, &range);
            } else {
                channels(pairs, col, groups, form, out_c, out + (size_t)i * out_c,
                         out + (size_t)i1 * out_c, out + (size_t)i2 * out_c, &range);
            }
        }
    }
    return TA_OK;
}
