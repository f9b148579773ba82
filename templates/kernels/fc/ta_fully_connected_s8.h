/* FULLY_CONNECTED, int8, per-tensor or per-channel int8 weights. */
#ifndef TA_FULLY_CONNECTED_S8_H
#define TA_FULLY_CONNECTED_S8_H

#include "ta_common.h"

typedef struct {
    int32_t batches;
    int32_t input_depth;        /* weights are [output_depth][input_depth] */
    int32_t output_depth;
    int32_t input_offset;       /* -input zero point */
    int32_t weights_offset;     /* -weights zero point (0 for symmetric int8) */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t per_channel;        /* 1: multiplier/shift have output_depth entries, else 1 */
    const int32_t *multiplier;
    const int32_t *shift;
} ta_fully_connected_params;

ta_status ta_fully_connected_s8(const ta_fully_connected_params *p, const int8_t *input,
                                const int8_t *weights, const int32_t *bias, int8_t *output);

#endif
