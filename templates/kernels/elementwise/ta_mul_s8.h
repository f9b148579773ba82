/* MUL, int8, with broadcasting over up to 4 dimensions. */
#ifndef TA_MUL_S8_H
#define TA_MUL_S8_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* output elements */
    int32_t broadcast;            /* 0: both inputs have the output's shape */
    int32_t out_dims[4];          /* output shape, padded on the left with 1s */
    int32_t in1_strides[4];       /* element strides, 0 along broadcast dims */
    int32_t in2_strides[4];
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift;   /* input1_scale * input2_scale / output_scale */
    int32_t act_min, act_max;
} ta_mul_params;

/* Safe in place (output == input1 or input2) when not broadcasting. */
ta_status ta_mul_s8(const ta_mul_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif
