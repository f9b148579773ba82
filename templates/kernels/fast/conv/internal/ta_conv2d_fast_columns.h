/* CONV_2D fast form, part 1: the weight forms, the layer's gather geometry and the
 * columns (receptive fields widened to int16 pairs, three pixels per tile).
 * Internal to ta_conv2d_s8_fast.c, which includes it once, after the previous part: static helpers only. */
#ifndef TA_CONV2D_FAST_COLUMNS_H
#define TA_CONV2D_FAST_COLUMNS_H

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

/* The padded copy (ta_conv2d_fast_params.padded_copy: small first layers whose padding
 * would send many pixels to gather_pixel's byte-by-byte staging): this batch's image copied
 * once into `stage` with the zero point around it, as far as the output's receptive fields
 * reach, and g made to read it as an image without padding. Every pixel then takes the
 * interior gathers; the values are those the staging would fill in. */
static void stage_padded(gather_geometry *g, const ta_conv2d_fast_params *p, int8_t *stage) {
    const int32_t h = (p->output.h - 1) * g->stride_h + g->span_h;
    const int32_t w = (p->output.w - 1) * g->stride_w + g->span_w;
    const int32_t c = g->in_c, row_bytes = w * c;
    const int32_t fill = (int32_t)((uint32_t)(uint8_t)g->zp * 0x01010101u);
    for (int32_t i = 0; i < h * row_bytes; i += 4) {
        ta_store32(stage + i, fill);         /* the generator rounds the stage up to 4 bytes */
    }
    const int32_t rows = p->input.h < h - g->pad_top ? p->input.h : h - g->pad_top;
    const int32_t cols = p->input.w < w - g->pad_left ? p->input.w : w - g->pad_left;
    const int8_t *src = g->input;
    int8_t *dst = stage + ((size_t)g->pad_top * w + g->pad_left) * c;
    for (int32_t y = 0; y < rows; ++y, src += p->input.w * c, dst += row_bytes) {
        memcpy(dst, src, (size_t)(cols * c));
    }
    g->input = stage;
    g->in_h = h;
    g->in_w = w;
    g->pad_top = 0;
    g->pad_left = 0;
    g->row_step = g->dilation_h * row_bytes;
    g->aligned = 0;     /* taken only for input.c % 4 != 0 */
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

/* What the tile walk (tiles_fast, tiles_exact) needs besides the gather geometry. */
typedef struct {
    int32_t *col;                       /* the three pixels' columns (scratch) */
    int32_t pixels, out_w, out_c, groups, form;
    int32_t pointwise;                  /* 1x1, no padding, input.c % 4 == 0: gather_pointwise3 */
} tile_walk;

/* The columns of the tile whose first pixel is i (pixels i1 and i2 after it: a short last
 * tile repeats its last pixel). */
__attribute__((noinline)) static void gather_tile(const gather_geometry *g, const tile_walk *t, int32_t i,
                                                  int32_t i1, int32_t i2) {
    const int32_t out_w = t->out_w, oy = i / out_w, ox = i - oy * out_w;
    int32_t *col = t->col;
    if (t->pointwise) {
        gather_pointwise3(pointwise_source(g, i, out_w), pointwise_source(g, i1, out_w),
                          pointwise_source(g, i2, out_w), g->in_c, col);
    } else if (ox + 2 < out_w && gather_interior3(g, oy, ox, col)) {
        /* done */
    } else {
        gather_pixel(g, oy, ox, col);
        gather_pixel(g, i1 / out_w, i1 % out_w, col + 2);
        gather_pixel(g, i2 / out_w, i2 % out_w, col + 4);
    }
}

#endif /* TA_CONV2D_FAST_COLUMNS_H */
