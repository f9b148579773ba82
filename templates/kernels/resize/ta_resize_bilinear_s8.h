/* RESIZE_BILINEAR, int8, TFLM's integer algorithm (no floating point). */
#ifndef TA_RESIZE_BILINEAR_S8_H
#define TA_RESIZE_BILINEAR_S8_H

#include "ta_common.h"

typedef struct {
    int32_t batches, in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t scale_h, scale_w;     /* input/output size ratio in Q10 */
    int32_t half_pixel_centers;
} ta_resize_bilinear_params;

ta_status ta_resize_bilinear_s8(const ta_resize_bilinear_params *p, const int8_t *input, int8_t *output);

#endif
