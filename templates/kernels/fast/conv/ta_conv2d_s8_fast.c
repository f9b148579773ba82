/* CONV_2D int8, fast form (see the header). Bit-exact with TFLM's reference:
 * the input offset is folded into the bias at generation time and padding is
 * filled with the input zero point, so every tap contributes w * x_raw.
 *
 * Output pixels go in tiles of three, in increasing (n, y, x) order: the three
 * receptive fields are gathered (widened to int16) into scratch first, then every
 * channel pair's outputs for the three pixels are written. So while pixel p is
 * written, only input needed by pixels >= p is read afterwards, and the output
 * may overlap the part of the input already consumed (with padded_copy the
 * input is copied first, and only the copy is read).
 *
 * Costs on Cortex-M7 (instructions): the tile, 20 per 24 MACs with int8 weights,
 * 18 split, 16 with int16 weights; per channel pair and tile about 20 plus 4 per
 * output for requantization (5 with int8 weights); gathering 4.5 per four input
 * values per pixel. */
#include "ta_conv2d_s8_fast.h"
#include "ta_dsp.h"
#include "ta_conv2d_fast_columns.h"
#include "ta_conv2d_fast_tile.h"
#include "ta_conv2d_fast_pairs.h"

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
    void (*tiles)(const gather_geometry *, const tile_walk *, const int8_t *, int8_t *, output_range *) =
        p->fast_requant ? tiles_fast : tiles_exact;
    /* 1x1, every output pixel's input inside the image (a folded PAD may add rows and
     * columns after it: those pixels take the general gather, which fills the zero point). */
    const int pointwise = p->filter_h == 1 && p->filter_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
                          (in_c & 3) == 0 && (p->output.h - 1) * p->stride_h < p->input.h &&
                          (p->output.w - 1) * p->stride_w < p->input.w;
    const tile_walk walk = {col, pixels, out_w, out_c, groups, p->weight_form, pointwise};
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
        tiles(&g, &walk, pairs, out, &range);
    }
    return TA_OK;
}
