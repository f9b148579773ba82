/* RESIZE_NEAREST_NEIGHBOR, int8: source rows and columns come precomputed. */
#ifndef TA_RESIZE_NEAREST_S8_H
#define TA_RESIZE_NEAREST_S8_H

#include "ta_common.h"

typedef struct {
    int32_t batches, in_h, in_w, channels;
    int32_t out_h, out_w;
    const int32_t *src_rows;      /* out_h entries, each in [0, in_h) */
    const int32_t *src_cols;      /* out_w entries, each in [0, in_w) */
} ta_resize_nearest_params;

ta_status ta_resize_nearest_s8(const ta_resize_nearest_params *p, const int8_t *input, int8_t *output);

#endif
