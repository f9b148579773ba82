/* DEPTHWISE_CONV_2D, int8, per-channel weights, any depth multiplier. */
#ifndef TA_DEPTHWISE_CONV2D_S8_H
#define TA_DEPTHWISE_CONV2D_S8_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input;            /* NHWC */
    ta_shape4 output;           /* NHWC, output.c == input.c * depth_multiplier */
    int32_t filter_h, filter_w; /* weights are [1][filter_h][filter_w][output.c] */
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    const int32_t *multiplier;  /* per output channel */
    const int32_t *shift;
} ta_depthwise_conv2d_params;

ta_status ta_depthwise_conv2d_s8(const ta_depthwise_conv2d_params *p, const int8_t *input,
                                 const int8_t *weights, const int32_t *bias, int8_t *output);

#endif
