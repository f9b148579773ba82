/* CONV_2D int8, 3x3, stride 1, no dilation, by Winograd's minimal filtering F(2x2, 3x3):
 * each 2x2 block of output pixels (a "tile") from the 4x4 input patch under it, with 16
 * multiplies per input channel instead of 36.
 *
 * With the integer matrices (G' = 2G, so nothing is fractional)
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]      G' = [2 0 0; 1 1 1; 1 -1 1; 0 0 2]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * the identity A^T [ (G' g G'^T) . (B^T d B) ] A = 4 * (the 2x2 correlation of d with g) holds
 * exactly in integers. U = G' g G'^T (per output and input channel) is computed at generation time:
 * |U| <= 9 * 128 fits int16. V = B^T d B is computed here from the raw int8 input (padding holds the
 * input zero point; the bias absorbs the input offset, as in the direct fast kernel): |V| <= 4 * 128,
 * so SADD16/SSUB16 on int16 lanes are exact. The 16 products are summed over the input channels
 * with SMLAD; the generator checks that no sum can leave int32 (9 * 512 * sum |U| < 2^31 per output
 * channel). A^T M A is then 4 * acc exactly, and (A^T M A) >> 1 is the 2 * acc that the fast
 * requantization (ta_dsp.h) forms, so outputs equal TFLM's bit for bit.
 *
 * Order: tiles in raster order (tile rows top to bottom, each left to right), three at a time (a
 * short last group repeats the last tile: the same values go to the same place). For a group, every input value it
 * needs is read and transformed before any of its outputs is written, so the output may overlap the
 * part of the input already consumed (tinyattend/codegen/ops/_winograd.py computes the lead). */
#ifndef TA_CONV2D_S8_WINOGRAD_H
#define TA_CONV2D_S8_WINOGRAD_H

#include "ta_common.h"

typedef struct {
    ta_shape4_u16 input, output;
    uint16_t pad_top, pad_left;
    int16_t input_zero_point;   /* padding is filled with it; the bias absorbs the offset */
    int16_t output_offset;
    int16_t act_min, act_max;
    uint8_t fast_requant;       /* 1: every channel satisfies ta_requantize_fast's conditions */
} ta_conv2d_winograd_params;

/* pairs: for each output channel pair (an odd last channel paired with itself), in order:
 *   the pair's transformed weights: [16 positions][input.c / 4][2 channels][4] int16, each
 *     four input channels (c0 c1 c2 c3) in SXTB16 lane order c0 c2 c1 c3;
 *   int32 bias0 bias1 (2 * (bias - input_zero_point * sum(w)): the doubled accumulator's);
 *   int32 mult0 mult1 round0 round1 right0 right1 (fast_requant), or mult0 mult1 shift0 shift1 0 0
 *     (TFLite's signed shifts; the bias is then not doubled).
 * input.c is a multiple of 8. scratch (bytes): 96 * input.c (the three tiles' transformed
 * patches, int16 lanes) + 384 (their 16 x 6 sums for one channel pair). */
ta_status ta_conv2d_s8_winograd(const ta_conv2d_winograd_params *p, const int8_t *input, const int8_t *pairs,
                                int8_t *output, int32_t *scratch);

#endif
