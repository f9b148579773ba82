/* SQUARED_DIFFERENCE, int8, with broadcasting over up to 4 dimensions. */
#ifndef TA_SQUARED_DIFFERENCE_S8_H
#define TA_SQUARED_DIFFERENCE_S8_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* output elements */
    int32_t broadcast;            /* 0: both inputs have the output's shape */
    int32_t out_dims[4];          /* output shape, padded on the left with 1s */
    int32_t in1_strides[4];       /* element strides, 0 along broadcast dims */
    int32_t in2_strides[4];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t input1_multiplier, input1_shift;   /* shifts <= 0 (multipliers at most one half) */
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
} ta_squared_difference_params;

ta_status ta_squared_difference_s8(const ta_squared_difference_params *p, const int8_t *input1,
                                   const int8_t *input2, int8_t *output);

#endif
