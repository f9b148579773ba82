/* int8 -> float32 dequantization, bit-exact with TFLM's reference Dequantize.
 *
 * TFLM multiplies in double: static_cast<float>((double)scale * (q - zero_point)). With a
 * float32 scale (24-bit significand) and |q - zero_point| <= 255 (9 bits) that double
 * product is exact, so rounding it to float once equals the float32 product computed here,
 * which a single-precision FPU does in one instruction. */
#include "ta_dequantize_s8_f32.h"

ta_status ta_dequantize_s8_f32(const ta_dequantize_s8_f32_params *p, const int8_t *input, float *output) {
    const float scale = p->scale;
    const int32_t zero_point = p->zero_point;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = scale * (float)((int32_t)input[i] - zero_point);
    }
    return TA_OK;
}
