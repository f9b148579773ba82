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

/* 16-bit fields (62 bytes a layer instead of 96): the generator takes this kernel only when every
 * value fits. */
typedef struct {
    ta_shape4_u16 input, output;
    uint16_t filter_h, filter_w;
    uint16_t stride_h, stride_w;
    uint16_t dilation_h, dilation_w;
    uint16_t pad_top, pad_left;
    uint16_t run_taps;          /* taps per run: filter_w when dilation_w == 1, else 1 */
    uint16_t row_len;           /* column length, a multiple of 4 (see above) */
    int16_t input_zero_point;   /* padding is filled with it; the bias absorbs the offset */
    int16_t output_offset;
    int16_t act_min, act_max;
    uint8_t fast_requant;       /* 1: every channel satisfies ta_requantize_fast's conditions */
    uint8_t weight_form;        /* 0 int8, 1 int16 ("wide"), 2 split int8 (see below) */
    uint8_t padded_copy;        /* 1: the image is first copied into scratch with its padding */
} ta_conv2d_fast_params;

/* pairs: for each output channel pair (an odd last channel paired with itself), in order:
 *   int32 bias0 bias1 (bias - input_zero_point * sum(w)), three times (once with weight_form 2);
 *   the two channels' weights, [row_len/4][2][4] int8: per group of four column values,
 *     channel 0's four then channel 1's four; with weight_form 1 the same as int16, each
 *     four (e0 e1 e2 e3) in SXTB16 lane order e0 e2 e1 e3; with weight_form 2 ("split")
 *     the int8 bytes (e0 + 128, -e1, e2 + 128, -e3): read as two int16 halves they are
 *     e0 + 128 - 256 e1 and e2 + 128 - 256 e3, and meet the column's (x0, x2) in one SMLAD
 *     unconverted; SXTB16 ROR 8 gives (-e1, -e3) for the column's second word, which the
 *     kernel makes (-(x1 + 129 + 256 x0), -(x3 + 129 + 256 x2)). The two SMLAD then sum
 *     x.e + 128 (x0 + x2) + 129 (e1 + e3): the bias below includes -129 * (sum of the odd
 *     weights), and the kernel starts each pixel's accumulators -128 * (sum of its even
 *     column values) lower. Needs no odd weight of -128;
 *   int32 mult0 mult1 round0 round1 right0 right1 (fast_requant: ta_requantize_fast's
 *     multiplier, rounding constant and right shift; for a channel whose TFLite shift is >= 0
 *     the generator offsets the bias (and scales int16 weights) so the accumulator is never
 *     negative, and the right shift may be 0: tinyattend/codegen/ops/_requant_left.py), or
 *     mult0 mult1 shift0 shift1 0 0 (TFLite's signed shifts).
 * scratch (bytes): 6 * row_len (three pixels' int16 columns, interleaved group by group),
 * then (only when input.c % 4 != 0) one run, or all filter_h runs when there is one run per
 * filter row of at most 15 values, rounded up to 4, then the remainders of all runs, rounded
 * up to 4; then with padded_copy the padded image, ((output.h - 1) * stride_h + span_h) x
 * ((output.w - 1) * stride_w + span_w) x input.c bytes, rounded up to 4. */
ta_status ta_conv2d_s8_fast(const ta_conv2d_fast_params *p, const int8_t *input, const int8_t *pairs,
                            int8_t *output, int16_t *scratch);

#endif
