/* FULLY_CONNECTED int8, fast form: the input row widened once into SXTB16
 * lane order, then two output channels per pass with LDRD + SMLAD. */
#ifndef TA_FULLY_CONNECTED_S8_FAST_H
#define TA_FULLY_CONNECTED_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t batches;
    int32_t input_depth;
    int32_t row_len;            /* input_depth rounded up to a multiple of 4 */
    int32_t output_depth;
    int32_t act_min, act_max;
    int32_t output_offset;
    int32_t fast_requant;       /* 1: ta_requantize_fast is exact for every channel */
    const int32_t *bias;        /* bias - input_zero_point * sum(weights), per output channel */
    const int32_t *multiplier;  /* per output channel (a per-tensor scale is repeated) */
    const int32_t *shift;       /* fast: right shift >= 1; else TFLite's signed shift */
    const int32_t *round;       /* fast: 2^(shift-1) + output_offset * 2^shift */
} ta_fully_connected_fast_params;

/* weights: channel pairs as ta_conv2d_s8_fast's; scratch: row_len int16. */
ta_status ta_fully_connected_s8_fast(const ta_fully_connected_fast_params *p, const int8_t *input,
                                     const int8_t *weights, int8_t *output, int16_t *scratch);

#endif
