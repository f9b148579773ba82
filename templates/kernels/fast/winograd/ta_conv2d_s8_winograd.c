/* CONV_2D int8 3x3 stride 1 by Winograd F(2x2, 3x3) (see the header). Bit-exact with TFLM's
 * reference: the input offset is folded into the bias at generation time and padding is filled
 * with the input zero point, so every tap contributes w * x_raw, and the transforms are exact
 * integer arithmetic.
 *
 * Per group of three tiles: the 4x4 patches are loaded and transformed (V, int16 lanes, in
 * scratch), then for every output channel pair the 16 positions' sums over the input channels
 * (the SMLAD tile of ta_winograd_sums.h) and the output transform with requantization. */
#include "ta_conv2d_s8_winograd.h"
#include "ta_dsp.h"
#include "ta_winograd_sums.h"
#include "ta_winograd_transforms.h"

#define PAIR_TAIL_WORDS 8      /* bias0 bias1 mult0 mult1 round0 round1 right0 right1 (or shifts, 0 0) */

/* The transformed patches of a group's three tiles, every channel group, into v
 * (v[position][group][tile][lane]). */
TA_INLINE void transform_tiles(const ta_conv2d_winograd_params *p, const int8_t *image,
                               const int32_t tile_y[WINO_TILES], const int32_t tile_x[WINO_TILES], int32_t zp4,
                               int32_t groups, int32_t *v, int32_t step) {
    for (int32_t g = 0; g < groups; ++g) {
        for (int32_t t = 0; t < WINO_TILES; ++t) {
            int32_t stage[16];
            const int8_t *rows[4];
            int32_t pixel;
            patch_rows(p, image, 2 * tile_y[t] - p->pad_top, 2 * tile_x[t] - p->pad_left, 4 * g, zp4, stage, rows,
                       &pixel);
            transform_tile(rows, pixel, v + WINO_GROUP_WORDS * g + 2 * t, step);
        }
    }
}

/* The same with the position stride a constant where the channel count is a common one (the stores
 * then take immediate offsets). */
__attribute__((noinline)) static void transform_group(const ta_conv2d_winograd_params *p, const int8_t *image,
                                                      const int32_t tile_y[WINO_TILES],
                                                      const int32_t tile_x[WINO_TILES], int32_t zp4, int32_t groups,
                                                      int32_t *v) {
    switch (groups) {
    case 2:
        transform_tiles(p, image, tile_y, tile_x, zp4, 2, v, 2 * WINO_GROUP_WORDS);
        break;
    case 4:
        transform_tiles(p, image, tile_y, tile_x, zp4, 4, v, 4 * WINO_GROUP_WORDS);
        break;
    case 8:
        transform_tiles(p, image, tile_y, tile_x, zp4, 8, v, 8 * WINO_GROUP_WORDS);
        break;
    default:
        transform_tiles(p, image, tile_y, tile_x, zp4, groups, v, groups * WINO_GROUP_WORDS);
        break;
    }
}

/* Requantize and store channel `ch` (0 or 1) of a pair for a group's tiles. sums: the pair's
 * [position][tile][channel]; tail: the pair's constants (see the header), 4-byte aligned;
 * out: the pair's first channel in the output image; pixel[4 * tile + i]: the byte offset of the
 * tile's pixel i (0..3: (0,0) (0,1) (1,0) (1,1)), valid: whether it is inside the output.
 * `mode` is a constant at each call (see wino_range), `all_valid` 1 when every pixel is inside. */
TA_INLINE void store_channel(const int32_t *sums, const int8_t *tail, int ch, const int32_t *pixel,
                             const int8_t *valid, int8_t *out, const wino_range *range, int mode, int all_valid) {
    const int32_t bias2 = ta_load32(tail + 4 * ch), m = ta_load32(tail + 8 + 4 * ch);
    const int32_t r = ta_load32(tail + 16 + 4 * ch), e = ta_load32(tail + 24 + 4 * ch);
    out += ch;
    /* Tile 2 first: a short group repeats a tile, and its stores are identical. */
    for (int32_t t = WINO_TILES - 1; t >= 0; --t) {
        int32_t y[4];
        output_transform(sums + 2 * t + ch, y);
        const int32_t *at = pixel + 4 * t;
        const int8_t *inside = valid + 4 * t;
        /* written out: a loop here keeps y in memory */
        if (all_valid || inside[0]) {
            out[at[0]] = (int8_t)requant_y(y[0], bias2, m, r, e, range, mode);
        }
        if (all_valid || inside[1]) {
            out[at[1]] = (int8_t)requant_y(y[1], bias2, m, r, e, range, mode);
        }
        if (all_valid || inside[2]) {
            out[at[2]] = (int8_t)requant_y(y[2], bias2, m, r, e, range, mode);
        }
        if (all_valid || inside[3]) {
            out[at[3]] = (int8_t)requant_y(y[3], bias2, m, r, e, range, mode);
        }
    }
}

/* Every channel pair of a group of tiles whose patches are transformed in v. */
TA_INLINE void group_pairs(const int8_t *stream, const int32_t *v, int32_t *sums, int32_t groups, int32_t out_c,
                           const int32_t *pixel, const int8_t *valid, int8_t *out, const wino_range *range,
                           int mode, int all_valid) {
    for (int32_t c = 0; c < out_c; c += 2, out += 2) {
        const int8_t *tail = position_sums(stream, v, groups, sums);
        store_channel(sums, tail, 0, pixel, valid, out, range, mode, all_valid);
        if (c + 1 < out_c) {
            store_channel(sums, tail, 1, pixel, valid, out, range, mode, all_valid);
        }
        stream = tail + 4 * PAIR_TAIL_WORDS;
    }
}

/* The pair loop for a group in its requantization mode, with the all-valid stores where they apply. */
static void run_group(const int8_t *pairs, const int32_t *v, int32_t *sums, int32_t groups, int32_t out_c,
                      const int32_t *pixel, const int8_t *valid, int8_t *out, const wino_range *range, int all_valid) {
    if (range->mode == 0) {
        TA_TAKES(TA_PATH_WINOGRAD);
        if (all_valid) {
            group_pairs(pairs, v, sums, groups, out_c, pixel, valid, out, range, 0, 1);
        } else {
            group_pairs(pairs, v, sums, groups, out_c, pixel, valid, out, range, 0, 0);
        }
    } else if (range->mode == 1) {
        TA_TAKES(TA_PATH_WINOGRAD_CLAMP);
        group_pairs(pairs, v, sums, groups, out_c, pixel, valid, out, range, 1, 0);
    } else {
        TA_TAKES(TA_PATH_WINOGRAD_EXACT);
        group_pairs(pairs, v, sums, groups, out_c, pixel, valid, out, range, 2, 0);
    }
}

ta_status ta_conv2d_s8_winograd(const ta_conv2d_winograd_params *p, const int8_t *input, const int8_t *pairs,
                                int8_t *output, int32_t *scratch) {
    const int32_t in_c = p->input.c, out_c = p->output.c, out_h = p->output.h, out_w = p->output.w;
    const int32_t groups = in_c >> 2, tiles_w = (out_w + 1) >> 1;
    const int32_t tiles = ((out_h + 1) >> 1) * tiles_w;
    const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)p->input_zero_point * 0x01010101u);
    int32_t *v = scratch;
    int32_t *sums = scratch + WINO_POSITIONS * WINO_GROUP_WORDS * groups;
    const int clamp = p->act_min > -128 || p->act_max < 127;
    const wino_range range = {p->output_offset, p->act_min, p->act_max, !p->fast_requant ? 2 : (clamp ? 1 : 0)};
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *image = input + (size_t)b * p->input.h * p->input.w * in_c;
        int8_t *out_image = output + (size_t)b * out_h * out_w * out_c;
        for (int32_t t0 = 0; t0 < tiles; t0 += WINO_TILES) {
            /* Each tile's four output pixels (2x2): byte offsets, and whether they are inside the output. */
            int32_t pixel[WINO_TILES * 4];
            int8_t valid[WINO_TILES * 4];
            int32_t tile_y[WINO_TILES], tile_x[WINO_TILES];
            int all_valid = 1;
            for (int32_t t = 0; t < WINO_TILES; ++t) {
                const int32_t tile = t0 + t < tiles ? t0 + t : tiles - 1;
                tile_y[t] = tile / tiles_w;
                tile_x[t] = tile - tile_y[t] * tiles_w;
                for (int i = 0; i < 4; ++i) {
                    const int32_t y = 2 * tile_y[t] + (i >> 1), x = 2 * tile_x[t] + (i & 1);
                    valid[4 * t + i] = (int8_t)(y < out_h && x < out_w);
                    all_valid &= valid[4 * t + i];
                    pixel[4 * t + i] = ((y < out_h ? y : out_h - 1) * out_w + (x < out_w ? x : out_w - 1)) * out_c;
                }
            }
            transform_group(p, image, tile_y, tile_x, zp4, groups, v);
            run_group(pairs, v, sums, groups, out_c, pixel, valid, out_image, &range, all_valid);
        }
    }
    return TA_OK;
}
