/* PRELU, int8: x for x >= 0, alpha * x below, alpha broadcast over the input (per channel, say). */
#ifndef TA_PRELU_S8_H
#define TA_PRELU_S8_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* output elements */
    int32_t broadcast;            /* 0: alpha has the input's shape */
    int32_t out_dims[4];          /* output shape, padded on the left with 1s */
    int32_t in1_strides[4];       /* input element strides (the input has the output's shape) */
    int32_t in2_strides[4];       /* alpha element strides, 0 along broadcast dims */
    int32_t input_offset, alpha_offset, output_offset;
    int32_t identity_multiplier, identity_shift;   /* input_scale / output_scale, for x >= 0 */
    int32_t alpha_multiplier, alpha_shift;         /* input_scale * alpha_scale / output_scale, for x < 0 */
} ta_prelu_params;

/* Safe in place (output == input). */
ta_status ta_prelu_s8(const ta_prelu_params *p, const int8_t *input, const int8_t *alpha, int8_t *output);

#endif
