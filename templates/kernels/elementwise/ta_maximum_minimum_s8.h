/* MAXIMUM and MINIMUM, int8 (inputs and output share one quantization), broadcasting over 4 dims. */
#ifndef TA_MAXIMUM_MINIMUM_S8_H
#define TA_MAXIMUM_MINIMUM_S8_H

#include "ta_common.h"

typedef struct {
    int32_t out_dims[4];          /* output shape, padded on the left with 1s */
    int32_t in1_strides[4];       /* element strides, 0 along broadcast dims */
    int32_t in2_strides[4];
} ta_maximum_minimum_params;

ta_status ta_maximum_s8(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output);
ta_status ta_minimum_s8(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output);

#endif
