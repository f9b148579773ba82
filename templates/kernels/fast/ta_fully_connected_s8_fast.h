/* FULLY_CONNECTED int8, fast form: four output channels per pass over the
 * input row, eight inputs per step. Scratch is optional: `staged` (NULL, or
 * with split weights 16 * (row_len / 8 + 1) bytes, 8-byte aligned) holds the
 * row's inputs unpacked once instead of once per pass. */
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
    const int32_t *shift;       /* fast: right shift (>= 1; 0 for a TFLite shift of 0, whose
                                 * channel's bias the generator offset to keep acc >= 0);
                                 * else TFLite's signed shift */
    const int32_t *round;       /* fast: 2^(shift-1) + output_offset * 2^shift */
    int32_t split_weights;      /* 1: weights split as below, bias lowered by 129 * (sum of odd weights) */
} ta_fully_connected_fast_params;

/* weights: for each group of four output channels (zero rows pad the last
 * group) and each group of eight inputs, the four channels' eight int8
 * weights in input order (zeros pad the row to row_len); with split_weights
 * each four (e0 e1 e2 e3) stored as the bytes (e0 + 128, -e1, e2 + 128, -e3),
 * as for the fast conv (ta_conv2d_s8_fast.h): one SMLAD of the raw word with
 * (x0, x2) and one of its odd bytes with (-(x1 + 129 + 256 x0), ...) sum
 * x.e + 128 (x0 + x2) + 129 (e1 + e3); the kernel subtracts 128 * (sum of the
 * even inputs) once per row, the bias holds -129 * (sum of the odd weights). */
ta_status ta_fully_connected_s8_fast(const ta_fully_connected_fast_params *p, const int8_t *input,
                                     const int8_t *weights, int8_t *output, int32_t *staged);

#endif
