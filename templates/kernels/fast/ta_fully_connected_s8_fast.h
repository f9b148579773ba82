/* FULLY_CONNECTED int8, fast form: four output channels per pass over the
 * input row, eight inputs per step, no scratch memory. */
#ifndef TA_FULLY_CONNECTED_S8_FAST_H
#define TA_FULLY_CONNECTED_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t batches;
    int32_t input_depth;
    int32_t row_len;            /* input_depth rounded up to a multiple of 8 */
    int32_t output_depth;
    int32_t act_min, act_max;
    int32_t output_offset;
    int32_t fast_requant;       /* 1: ta_requantize_fast is exact for every channel */
    const int32_t *bias;        /* bias - input_zero_point * sum(weights); output_depth rounded up to 4 */
    int32_t per_channel;        /* 0: multiplier, shift and round hold one value for all channels */
    const int32_t *multiplier;  /* per output channel, or one */
    const int32_t *shift;       /* fast: right shift >= 1; else TFLite's signed shift */
    const int32_t *round;       /* fast: 2^(shift-1) + output_offset * 2^shift */
} ta_fully_connected_fast_params;

/* weights: for each group of four output channels (zero rows pad the last
 * group) and each group of eight inputs, the four channels' eight int8
 * weights in input order (zeros pad the row to row_len). */
ta_status ta_fully_connected_s8_fast(const ta_fully_connected_fast_params *p, const int8_t *input,
                                     const int8_t *weights, int8_t *output);

#endif
