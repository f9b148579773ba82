/* FULLY_CONNECTED int8 for Helium (MVE): four output channels per pass over the input row, sixteen
 * inputs per VMLADAVA, per-tensor or per-channel quantization. */
#ifndef TA_FULLY_CONNECTED_S8_MVE_H
#define TA_FULLY_CONNECTED_S8_MVE_H

#include "ta_common.h"

typedef struct {
    int32_t batches;
    int32_t input_depth;
    int32_t row_len;            /* input_depth rounded up to 16 */
    int32_t output_depth;
    int32_t output_offset;
    int32_t act_min, act_max;
} ta_fully_connected_mve_params;

/* weights: per group of four output channels (zero rows pad the last), the four rows in blocks of
 *   sixteen: [row_len / 16][4][16] int8, zeros past input_depth.
 * channel: per group, 16 int32: bias - input_zero_point * sum(w), then the requantization rows of
 *   ta_mve.h. */
ta_status ta_fully_connected_s8_mve(const ta_fully_connected_mve_params *p, const int8_t *input,
                                    const int8_t *weights, const int32_t *channel, int8_t *output);

#endif /* TA_FULLY_CONNECTED_S8_MVE_H */
