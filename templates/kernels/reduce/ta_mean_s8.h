/* MEAN (and REDUCE_MAX) over a contiguous block of axes, int8.
 * The input is viewed as [outer, reduced, inner]; the output is [outer, inner]. */
#ifndef TA_MEAN_S8_H
#define TA_MEAN_S8_H

#include "ta_common.h"

typedef struct {
    int32_t outer, reduced, inner;
    int32_t zero_point_sum;       /* input zero point * reduced */
    int32_t multiplier, shift;    /* input/output scale with 1/reduced folded in, as TFLM does */
    int32_t output_offset;
} ta_mean_params;

ta_status ta_mean_s8(const ta_mean_params *p, const int8_t *input, int8_t *output);

#endif
