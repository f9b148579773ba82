/* MAX_POOL_2D, int8 (input and output share scale and zero point). */
#ifndef TA_MAX_POOL_S8_H
#define TA_MAX_POOL_S8_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} ta_max_pool_params;

ta_status ta_max_pool_s8(const ta_max_pool_params *p, const int8_t *input, int8_t *output);

#endif
