/* DEPTHWISE_CONV_2D int8 for Helium (MVE): four channels per vector (int32 lanes), four output
 * pixels per step sharing each weight load. Any filter size, stride, dilation, padding and depth
 * multiplier. */
#ifndef TA_DEPTHWISE_CONV2D_S8_MVE_H
#define TA_DEPTHWISE_CONV2D_S8_MVE_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t span_w;             /* input columns one output row reads: (output.w - 1) * stride_w + (filter_w - 1) * dilation_w + 1 */
    int32_t channels;           /* output.c rounded up to 4: the weights' row length */
    int32_t input_zero_point;   /* fills padding: its product with the weights is folded into the bias */
    int32_t output_offset;
    int32_t act_min, act_max;
} ta_depthwise_mve_params;

/* Scratch: filter_h input rows of span_w pixels, padding columns filled with the zero point. */
#define TA_DEPTHWISE_S8_MVE_SCRATCH(filter_h, span_w, in_c) ((filter_h) * (span_w) * (in_c))

/* weights: [filter_h * filter_w][channels] int8 (TFLite's order, zero channels to a multiple of 4).
 * channel: per group of four output channels, 16 int32: bias - input_zero_point * sum(w), then the
 *   requantization rows of ta_mve.h. */
ta_status ta_depthwise_conv2d_s8_mve(const ta_depthwise_mve_params *p, const int8_t *input, const int8_t *weights,
                                     const int32_t *channel, int8_t *output, int8_t *scratch);

#endif /* TA_DEPTHWISE_CONV2D_S8_MVE_H */
