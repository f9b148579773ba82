/* DEPTHWISE_CONV_2D int8, fast form: each input channel is widened once into
 * a zero-point-padded int16 plane; 3x3 windows (stride 1 or 2) then produce
 * two outputs per step from shared loads with SMLAD/SMLABB/SMLATB. */
#ifndef TA_DEPTHWISE_CONV2D_S8_FAST_H
#define TA_DEPTHWISE_CONV2D_S8_FAST_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t plane_h, plane_w;   /* the padded int16 plane: scratch holds plane_h * plane_w int16 */
    int32_t input_zero_point;
    int32_t act_min, act_max;
    int32_t taps3x3;            /* 1: weights are the 3x3 pair layout, else one int16 per tap */
    const int32_t *bias;        /* bias - input_zero_point * sum(weights), per output channel */
    const int32_t *multiplier;
    const int32_t *shift;       /* right shift >= 1 (the generator proved ta_requantize_fast exact) */
    const int32_t *round;       /* 2^(shift-1) + output_offset * 2^shift */
} ta_depthwise_fast_params;

/* weights, per output channel: taps3x3: for each row (w0 | w1 << 16, w2) as int32, 6 words;
 * otherwise filter_h * filter_w int16 values padded to an even count. */
ta_status ta_depthwise_conv2d_s8_fast(const ta_depthwise_fast_params *p, const int8_t *input,
                                      const void *weights, int8_t *output, int16_t *scratch);

#endif
