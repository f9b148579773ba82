/* PAD / PADV2, int8, up to 4 dimensions. */
#ifndef TA_PAD_S8_H
#define TA_PAD_S8_H

#include "ta_common.h"

typedef struct {
    int32_t in_dims[4];           /* padded on the left with 1s */
    int32_t out_dims[4];
    int32_t before[4];            /* padding before the data, per dimension */
    int32_t pad_value;
} ta_pad_params;

ta_status ta_pad_s8(const ta_pad_params *p, const int8_t *input, int8_t *output);

#endif
