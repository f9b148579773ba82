/* CONCATENATION, int8, any axis; all inputs share the output's quantization. */
#ifndef TA_CONCAT_S8_H
#define TA_CONCAT_S8_H

#include "ta_common.h"

typedef struct {
    int32_t num_inputs;
    int32_t outer;                /* product of the dimensions before the axis */
    const int32_t *copy_sizes;    /* per input: its axis size times the inner size */
} ta_concat_params;

/* After `output` come `num_inputs` input pointers (const int8_t *), in order. */
ta_status ta_concat_s8(const ta_concat_params *p, int8_t *output, ...);

#endif
