/* TRANSPOSE, int8, up to 4 dimensions (the permutation is folded into strides). */
#ifndef TA_TRANSPOSE_S8_H
#define TA_TRANSPOSE_S8_H

#include "ta_common.h"

typedef struct {
    int32_t out_dims[4];          /* output shape, padded on the left with 1s */
    int32_t in_strides[4];        /* input element stride of each output dimension */
} ta_transpose_params;

ta_status ta_transpose_s8(const ta_transpose_params *p, const int8_t *input, int8_t *output);

#endif
