/* SPLIT / SPLIT_V, int8, any axis. */
#ifndef TA_SPLIT_S8_H
#define TA_SPLIT_S8_H

#include "ta_common.h"

typedef struct {
    int32_t num_outputs;
    int32_t outer;                /* product of the dimensions before the axis */
    const int32_t *copy_sizes;    /* per output: its axis size times the inner size */
} ta_split_params;

/* After `input` come `num_outputs` output pointers (int8_t *), in order. */
ta_status ta_split_s8(const ta_split_params *p, const int8_t *input, ...);

#endif
