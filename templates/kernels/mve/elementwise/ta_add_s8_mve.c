/* ADD int8 for Helium (MVE), same-shape inputs. Per four elements, as TFLM's reference: each input
 * (x + offset) << 20 in one VMLA by a scalar (from a vector of offset << 20), rescaled with VQRDMULH and
 * a rounding right shift (VRSHL, negative values lowered by one first: ties away from zero), the two
 * summed and rescaled the same way, offset, clamped and narrowed into the store. The input with the
 * larger scale has no right shift (its multiplier is 1/2): its sign fix-up is masked off; the output's
 * shift is to the right (the generator checks it). The last vector is tail-predicated. */
#include "ta_add_s8_mve.h"
#include "ta_mve.h"

ta_status ta_add_s8_mve(const ta_add_mve_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    const int32_t n = p->size;
#if TA_MVE
    const int32_t scale = 1 << p->left_shift;
    const int32x4_t scales = vdupq_n_s32(scale);
    const int32_t base1 = p->input1_offset * scale, base2 = p->input2_offset * scale;
    const int32_t m1 = p->input1_multiplier, s1 = p->input1_shift, m2 = p->input2_multiplier, s2 = p->input2_shift;
    const int32_t mo = p->output_multiplier, so = p->output_shift, offset = p->output_offset;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    const int32x4_t fix1 = vdupq_n_s32(s1 < 0 ? -1 : 0), fix2 = vdupq_n_s32(s2 < 0 ? -1 : 0);
    /* (x + offset) << left_shift as x * 2^left_shift + offset << left_shift: one VMLAS */
#define TA_ADD_MVE_STEP(x1, x2)                                                                   \
    int32x4_t a = vqrdmulhq_n_s32(vmlasq_n_s32((x1), scales, base1), m1);                         \
    int32x4_t b = vqrdmulhq_n_s32(vmlasq_n_s32((x2), scales, base2), m2);                         \
    a = vrshlq_n_s32(vqaddq_s32(a, vandq_s32(vshrq_n_s32(a, 31), fix1)), s1);                     \
    b = vrshlq_n_s32(vqaddq_s32(b, vandq_s32(vshrq_n_s32(b, 31), fix2)), s2);                     \
    int32x4_t y = vqrdmulhq_n_s32(vaddq_s32(a, b), mo);                                           \
    y = vaddq_n_s32(vrshlq_n_s32(vqaddq_s32(y, vshrq_n_s32(y, 31)), so), offset);                 \
    y = vminq_s32(vmaxq_s32(y, lo), hi)
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        TA_ADD_MVE_STEP(vldrbq_s32(input1 + i), vldrbq_s32(input2 + i));
        vstrbq_s32(output + i, y);
    }
    if (i < n) {
        const mve_pred16_t pred = vctp32q((uint32_t)(n - i));
        TA_ADD_MVE_STEP(vldrbq_z_s32(input1 + i, pred), vldrbq_z_s32(input2 + i, pred));
        vstrbq_p_s32(output + i, y, pred);
    }
#undef TA_ADD_MVE_STEP
#else
    for (int32_t i = 0; i < n; i++) {
        const int32_t a = ta_requantize((int32_t)((uint32_t)(input1[i] + p->input1_offset) << p->left_shift),
                                        p->input1_multiplier, p->input1_shift);
        const int32_t b = ta_requantize((int32_t)((uint32_t)(input2[i] + p->input2_offset) << p->left_shift),
                                        p->input2_multiplier, p->input2_shift);
        const int32_t y = ta_requantize(a + b, p->output_multiplier, p->output_shift) + p->output_offset;
        output[i] = (int8_t)ta_clamp32(y, p->act_min, p->act_max);
    }
#endif
    return TA_OK;
}
