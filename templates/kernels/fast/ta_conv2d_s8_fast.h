/* CONV_2D int8, fast form: im2col of two output pixels into int16 (SXTB16
 * lane order), then a 2-pixel x 2-channel SMLAD tile over int8 weights. */
#ifndef TA_CONV2D_S8_FAST_H
#define TA_CONV2D_S8_FAST_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t row_len;            /* filter_h * filter_w * input.c, rounded up to a multiple of 4 */
    int32_t input_zero_point;   /* padding is filled with it; the bias absorbs the offset */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t fast_requant;       /* 1: every channel satisfies ta_requantize_fast's conditions */
    const int32_t *bias;        /* bias - input_zero_point * sum(weights), per output channel */
    const int32_t *multiplier;
    const int32_t *shift;       /* fast_requant: right shift (>= 1); else TFLite's signed shift */
    const int32_t *round;       /* fast_requant: 2^(shift-1) + output_offset * 2^shift, per channel */
} ta_conv2d_fast_params;

/* weights: channel pairs, [out_c/2][row_len/4][2][4] int8: for each group of four values
 * the pair's two rows (an odd last channel pairs with itself), natural [ky][kx][c] order.
 * scratch: 2 * row_len int16 (two pixels' lane-ordered rows, interleaved) + row_len bytes. */
ta_status ta_conv2d_s8_fast(const ta_conv2d_fast_params *p, const int8_t *input, const int8_t *weights,
                            int8_t *output, int16_t *scratch);

#endif
