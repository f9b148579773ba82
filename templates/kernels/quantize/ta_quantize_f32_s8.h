/* QUANTIZE float32 -> int8, as TFLM's reference AffineQuantize computes it:
 *   q = clamp(round(x / scale) + zero_point, -128, 127)
 * with the division in float32 (x / (float)scale) and round half away from zero. */
#ifndef TA_QUANTIZE_F32_S8_H
#define TA_QUANTIZE_F32_S8_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* elements */
    float scale;                  /* the output's scale, > 0 */
    int32_t zero_point;           /* the output's zero point */
} ta_quantize_f32_s8_params;

/* May run in place (output at the start of the input's bytes). */
ta_status ta_quantize_f32_s8(const ta_quantize_f32_s8_params *p, const float *input, int8_t *output);

#endif
