/* DEPTHWISE_CONV_2D int8, fast form: input channels are widened into zero-point-padded
 * int16 planes (the only scratch: fill_group planes of plane_h * plane_w int16; with
 * fill_group 4 four channels are widened together from word loads); 3x3 windows (stride 1
 * or 2) then produce four outputs per step from shared loads with SMLAD/SMLABT/SMLATB
 * (Thumb-2 assembly on DSP cores when the activation range is the full int8 range, several
 * channels per call, the row's steps and tails fixed per layer; C otherwise); other windows
 * at stride_w 1 or 2 four outputs per step, one SMLAD per pair of taps (a word load of two
 * plane values, unaligned for odd columns at stride 1), other strides one tap at a time. Input channels c .. c + fill_group - 1 are read whole before those
 * output channels are written, so with depth multiplier 1 the output may overwrite the
 * input (the planner's in_place). */
#ifndef TA_DEPTHWISE_CONV2D_S8_FAST_H
#define TA_DEPTHWISE_CONV2D_S8_FAST_H

#include "ta_common.h"

typedef struct {
    /* Shapes, padding and strides as the plane sees the layer: when the generator found it
     * cheaper (tall, narrow maps), the layer is seen transposed (h and w swapped, weights
     * transposed); the tensors stay NHWC and the strides below say where pixels are.
     * 16-bit fields (68 bytes a layer instead of 124): the generator takes this kernel only when
     * every value fits. */
    ta_shape4_u16 input, output;
    uint16_t filter_h, filter_w;
    uint16_t depth_multiplier;
    uint16_t stride_h, stride_w;
    uint16_t pad_top, pad_left;
    uint16_t plane_h, plane_w;  /* one padded int16 plane: scratch holds fill_group of them */
    uint16_t fill_group;        /* channels widened together: 1, or 4 (input.c % 4 == 0) */
    uint16_t pair_words;        /* other windows with stride_w 1 or 2: (filter_w + 1) / 2 tap pairs
                                 * per filter row (the pair layout below); 0: one tap at a time */
    int16_t input_zero_point;
    int16_t act_min, act_max;
    uint8_t full_range;         /* 1: act_min = -128 and act_max = 127 (saturation is the only clamp) */
    uint8_t taps3x3;            /* 1: 3x3 window, stride_w 1 or 2: weights are the 3x3 pair layout */
    uint8_t rows_program;       /* taps3x3 in assembly: the row loop for output.w (0 any, 1 w % 4 == 0,
                                 * 2 w % 4 == 1, 3 w == 6, 4 w == 3; the first that fits) */
    uint8_t sign_free;          /* taps3x3 in assembly: output zero point -128, so the requantization's
                                 * sign correction is left out (ta_dw_fast_rows.h says why it is exact) */
    int32_t in_x_stride, in_y_stride;    /* bytes between input pixels adjacent along a plane row / column */
    int32_t out_x_stride, out_y_stride;  /* the same for output pixels */
    /* Per output channel, 4 int32: 2 * (bias - input_zero_point * sum(weights)), multiplier,
     * rounding constant 2^(e-1) + output_offset * 2^e, right shift e >= 1 (the generator
     * proved the short requantization exact). Channels whose TFLite shift is >= 0 come scaled
     * instead: S * folded bias + K with their weights times S (a power of two up to 256), K
     * keeping the accumulator >= 0, and a rounding constant and e >= 0 chosen so the same
     * arithmetic is TFLM's (tinyattend/codegen/ops/_requant_left.py). */
    const int32_t *channel;
} ta_depthwise_fast_params;

/* weights are doubled (2 * w, so the accumulator is already the 2 * acc the requantization
 * multiplies; S * w for the scaled channels above), per output channel: taps3x3: for each row (w0 | w1 << 16, w1 | w2 << 16) as
 * int32, 6 words; pair_words: for each row (w0 | w1 << 16, w2 | w3 << 16, ...) as int32,
 * pair_words words, the last half zero for an odd filter_w; otherwise filter_h * filter_w
 * int16 values padded to an even count. */
ta_status ta_depthwise_conv2d_s8_fast(const ta_depthwise_fast_params *p, const int8_t *input,
                                      const void *weights, int8_t *output, int16_t *scratch);

#endif
