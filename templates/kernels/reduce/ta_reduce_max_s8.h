/* REDUCE_MAX over a contiguous block of axes, int8, same quantization in and out.
 * The input is viewed as [outer, reduced, inner]; the output is [outer, inner]. */
#ifndef TA_REDUCE_MAX_S8_H
#define TA_REDUCE_MAX_S8_H

#include "ta_common.h"

typedef struct {
    int32_t outer, reduced, inner;
} ta_reduce_max_params;

ta_status ta_reduce_max_s8(const ta_reduce_max_params *p, const int8_t *input, int8_t *output);

#endif
