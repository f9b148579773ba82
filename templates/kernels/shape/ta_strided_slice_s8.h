/* STRIDED_SLICE, int8, up to 4 dimensions (start, stop and masks resolved at generation time). */
#ifndef TA_STRIDED_SLICE_S8_H
#define TA_STRIDED_SLICE_S8_H

#include "ta_common.h"

typedef struct {
    int32_t base;                 /* input element index of the first output element */
    int32_t count[4];             /* output elements per dimension */
    int32_t step[4];              /* input element step per dimension (stride times the input's stride) */
} ta_strided_slice_params;

ta_status ta_strided_slice_s8(const ta_strided_slice_params *p, const int8_t *input, int8_t *output);

#endif
