/* The window of AVERAGE_POOL_2D and MAX_POOL_2D (input and output share quantization). */
#ifndef TA_POOL_H
#define TA_POOL_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;  /* TFLite's padding before the data; the rest goes after */
    int32_t act_min, act_max;
} ta_pool_params;

#endif
