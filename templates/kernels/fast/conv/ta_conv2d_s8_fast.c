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
#include "ta_conv2d_fast_columns.h"
#include "ta_conv2d_fast_tile.h"
#include "ta_conv2d_fast_pairs.h"

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
        if (p->padded_copy) {
            g.in_h = p->input.h;
            g.in_w = p->input.w;
            g.pad_top = p->pad_top;
            g.pad_left = p->pad_left;
            stage_padded(&g, p, g.rest_stage + 4 * g.rest_groups);
        }
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
