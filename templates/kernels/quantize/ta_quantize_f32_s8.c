/* float32 -> int8 quantization, bit-exact with TFLM's AffineQuantize.
 *
 * TFLM: static_cast<int32_t>(TfLiteRound(x / static_cast<float>(scale))) + zero_point, clamped.
 * The quotient is the same float32 division here. TfLiteRound is roundf (ties away from
 * zero); it is done without libm: q minus its truncation is exact in float32, so comparing
 * that fraction with +-0.5 rounds exactly as roundf does. The quotient is first limited to
 * +-512, which changes no result (any |round(q)| >= 256 saturates whatever the zero point)
 * and keeps the float -> int32 conversion defined. Where TFLM's own conversion is undefined
 * (|q| >= 2^31, infinities) this saturates; a NaN gives -128, as TFLM's host build does. */
#include "ta_quantize_f32_s8.h"

ta_status ta_quantize_f32_s8(const ta_quantize_f32_s8_params *p, const float *input, int8_t *output) {
    const float scale = p->scale;
    const int32_t zero_point = p->zero_point;
    for (int32_t i = 0; i < p->size; ++i) {
        float q = input[i] / scale;
        if (!(q > -512.0f)) {         /* also NaN */
            q = -512.0f;
        } else if (q > 512.0f) {
            q = 512.0f;
        }
        int32_t rounded = (int32_t)q;   /* truncation toward zero */
        const float fraction = q - (float)rounded;
        if (fraction >= 0.5f) {
            ++rounded;
        } else if (fraction <= -0.5f) {
            --rounded;
        }
        output[i] = (int8_t)ta_clamp32(rounded + zero_point, -128, 127);
    }
    return TA_OK;
}
