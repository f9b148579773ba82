/* CONV_2D int8, fast form: the receptive fields of three output pixels are
 * gathered and widened to int16 (SXTB16 lane order), then a 3-pixel x
 * 2-channel SMLAD tile runs over int8 weights for every output channel pair.
 *
 * Column order. The receptive field is read as contiguous runs of the input:
 * one run per filter row of filter_w * input.c bytes when dilation_w == 1,
 * else one run per tap of input.c bytes. Each run's first 4 * (len / 4)
 * values come in order, run after run; the last len % 4 values of every run
 * follow at the end, then zeros up to row_len (a multiple of 4). The
 * generator lays the weights out in the same order. */
#ifndef TA_CONV2D_S8_FAST_H
#define TA_CONV2D_S8_FAST_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t run_taps;           /* taps per run: filter_w when dilation_w == 1, else 1 */
    int32_t row_len;            /* column length, a multiple of 4 (see above) */
    int32_t input_zero_point;   /* padding is filled with it; the bias absorbs the offset */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t fast_requant;       /* 1: every channel satisfies ta_requantize_fast's conditions */
    int32_t wide_weights;       /* 1: the weights in `pairs` are int16 (see below) */
} ta_conv2d_fast_params;

/* pairs: for each output channel pair (an odd last channel paired with itself), in order:
 *   int32 bias0 bias1 (bias - input_zero_point * sum(w));
 *   the two channels' weights, [row_len/4][2][4] int8: per group of four column values,
 *     channel 0's four then channel 1's four; with wide_weights the same as int16, each
 *     four (e0 e1 e2 e3) in SXTB16 lane order e0 e2 e1 e3;
 *   int32 mult0 mult1 round0 round1 right0 right1 (fast_requant: ta_requantize_fast's
 *     multiplier, rounding constant and right shift), or mult0 mult1 shift0 shift1 0 0
 *     (TFLite's signed shifts).
 * scratch (bytes): 6 * row_len (three pixels' int16 columns, interleaved group by group),
 * then (only when input.c % 4 != 0) one run, or all filter_h runs when there is one run per
 * filter row of at most 15 values, rounded up to 4, then the remainders of all runs, rounded
 * up to 4. */
ta_status ta_conv2d_s8_fast(const ta_conv2d_fast_params *p, const int8_t *input, const int8_t *pairs,
                            int8_t *output, int16_t *scratch);

#endif
