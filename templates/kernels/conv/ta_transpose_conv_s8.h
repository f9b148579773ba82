/* TRANSPOSE_CONV, int8 activations, per-channel int8 weights, optional int32 bias. */
#ifndef TA_TRANSPOSE_CONV_S8_H
#define TA_TRANSPOSE_CONV_S8_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input;            /* NHWC */
    ta_shape4 output;           /* NHWC */
    int32_t filter_h, filter_w; /* weights are [output.c][filter_h][filter_w][input.c] */
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t input_offset;       /* -input zero point */
    int32_t output_offset;      /* +output zero point */
    int32_t act_min, act_max;
    const int32_t *multiplier;  /* per output channel */
    const int32_t *shift;       /* per output channel, TFLite sign convention */
} ta_transpose_conv_params;

/* scratch: output.n * output.h * output.w * output.c int32 accumulators. */
ta_status ta_transpose_conv_s8(const ta_transpose_conv_params *p, const int8_t *input, const int8_t *weights,
                               const int32_t *bias, int8_t *output, int32_t *scratch);

#endif
