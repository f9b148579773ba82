/* DEQUANTIZE int8 -> float32, as TFLM's reference Dequantize computes it:
 *   x = (float)(scale * (q - zero_point)) */
#ifndef TA_DEQUANTIZE_S8_F32_H
#define TA_DEQUANTIZE_S8_F32_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* elements */
    float scale;                  /* the input's scale */
    int32_t zero_point;           /* the input's zero point */
} ta_dequantize_s8_f32_params;

ta_status ta_dequantize_s8_f32(const ta_dequantize_s8_f32_params *p, const int8_t *input, float *output);

#endif
