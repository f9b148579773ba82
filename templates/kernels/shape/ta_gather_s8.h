/* GATHER, int8, constant indices along one axis (batch_dims 0). */
#ifndef TA_GATHER_S8_H
#define TA_GATHER_S8_H

#include "ta_common.h"

typedef struct {
    int32_t outer;                /* product of the dimensions before the axis */
    int32_t axis_size;
    int32_t inner;                /* product of the dimensions after the axis */
    int32_t num_indices;
    const int32_t *indices;       /* each in [0, axis_size) */
} ta_gather_params;

ta_status ta_gather_s8(const ta_gather_params *p, const int8_t *input, int8_t *output);

#endif
