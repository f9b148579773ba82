/* ADD int8, fast form (see the header). Bit-exact with TFLM's ADD: the tables
 * hold exactly the int32 values TFLM's per-input rescaling computes. */
#include "ta_add_s8_fast.h"
#include "ta_broadcast.h"
#include "ta_dsp.h"

TA_INLINE int8_t add_one(const ta_add_fast_params *p, int32_t a, int32_t b) {
    const int32_t sum = p->table1[a + 128] + p->table2[b + 128];
    if (p->fast_requant) {
        return (int8_t)ta_clamp_s8(ta_requantize_fast(sum, p->output_multiplier, p->output_shift, p->output_round),
                                   p->act_min, p->act_max);
    }
    const int32_t out = ta_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ta_clamp32(out, p->act_min, p->act_max);
}

ta_status ta_add_s8_fast(const ta_add_fast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    if (!p->broadcast) {
        const int32_t *t1 = p->table1 + 128, *t2 = p->table2 + 128;
        const int32_t mult = p->output_multiplier, right = p->output_shift, round = p->output_round;
        const int32_t lo = p->act_min, hi = p->act_max;
        if (p->fast_requant) {
            for (int32_t i = 0; i < p->size; ++i) {
                const int32_t sum = t1[input1[i]] + t2[input2[i]];
                output[i] = (int8_t)ta_clamp_s8(ta_requantize_fast(sum, mult, right, round), lo, hi);
            }
            return TA_OK;
        }
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = add_one(p, input1[i], input2[i]);
        }
        return TA_OK;
    }
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, output[i] = add_one(p, input1[off1], input2[off2]));
    return TA_OK;
}
