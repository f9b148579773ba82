/* MUL int8, fast form (see the header). Bit-exact with TFLM's MUL: the
 * product of the zero-point-corrected inputs is at most 255 * 255 in
 * magnitude, far below the 2^30 the short requantization needs; the generator
 * checked the right shift. Output may alias either input (element i is read
 * before it is written). */
#include "ta_mul_s8_fast.h"
#include "ta_dsp.h"

ta_status ta_mul_s8_fast(const ta_mul_fast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    const int32_t o1 = p->input1_offset, o2 = p->input2_offset;
    const int32_t mult = p->output_multiplier, right = p->output_right_shift, round = p->output_round;
    const int32_t lo = p->act_min, hi = p->act_max;
    const int32_t n = p->size;
    if (lo == -128 && hi == 127) {      /* no fused activation: SSAT alone clamps */
        for (int32_t i = 0; i < n; ++i) {
            const int32_t product = (input1[i] + o1) * (input2[i] + o2);
            output[i] = (int8_t)ta_clamp_s8(ta_requantize_fast(product, mult, right, round), -128, 127);
        }
        return TA_OK;
    }
    for (int32_t i = 0; i < n; ++i) {
        const int32_t product = (input1[i] + o1) * (input2[i] + o2);
        output[i] = (int8_t)ta_clamp_s8(ta_requantize_fast(product, mult, right, round), lo, hi);
    }
    return TA_OK;
}
