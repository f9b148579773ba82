/* SOFTMAX int8 as TFLM's reference computes it: per row, the exps of the
 * differences to the row maximum (from the generated table) are summed with
 * 12 integer bits, the sum's reciprocal is taken in fixed point, and each exp
 * is scaled by it to 8 output bits. May run in place. */
#include "ta_softmax_s8.h"
#include "ta_fixedpoint.h"

#define TA_SOFTMAX_SUM_INTEGER_BITS 12

ta_status ta_softmax_s8(const ta_softmax_params *p, const int8_t *input, int8_t *output) {
    const int32_t *table = p->exp_table;
    for (int32_t row = 0; row < p->rows; ++row) {
        const int8_t *x = input + row * p->depth;
        int8_t *y = output + row * p->depth;
        int32_t top = INT8_MIN;
        for (int32_t c = 0; c < p->depth; ++c) {
            top = ta_max32(top, x[c]);
        }
        /* Q12 sum of Q0 exps; depth <= 4095 keeps it in range. */
        int32_t sum = 0;
        for (int32_t c = 0; c < p->depth; ++c) {
            sum += ta_rounding_divide_by_pot(table[top - x[c]], TA_SOFTMAX_SUM_INTEGER_BITS);
        }
        int bits_over_unit;
        const int32_t scale = ta_fp_reciprocal(sum, TA_SOFTMAX_SUM_INTEGER_BITS, &bits_over_unit);
        const int exponent = bits_over_unit + 31 - 8;
        if (exponent < 0 || exponent > 31) {
            return TA_ERROR;   /* TFLM rejects this row too */
        }
        for (int32_t c = 0; c < p->depth; ++c) {
            const int32_t e = table[top - x[c]];
            const int32_t q = ta_rounding_divide_by_pot(ta_doubling_high_mul(scale, e), exponent) + INT8_MIN;
            y[c] = (int8_t)ta_clamp32(q, INT8_MIN, INT8_MAX);
        }
    }
    return TA_OK;
}
