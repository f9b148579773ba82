/* FULLY_CONNECTED int8, fast form (see the header). Bit-exact with TFLM: the
 * input offset lives in the folded bias (weights are symmetric int8). */
#include "ta_fully_connected_s8_fast.h"
#include "ta_dsp.h"

/* The input row in lane order: (x0,x2), (x1,x3) per group of four, zero tail. */
static void widen_row(const int8_t *x, int32_t depth, int32_t row_len, int32_t *col) {
    int32_t d = 0;
    for (; d + 3 < depth; d += 4) {
        const int32_t word = ta_load32(x + d);
        *col++ = ta_sxtb16(word);
        *col++ = ta_sxtb16_ror8(word);
    }
    if (d < row_len) {
        int8_t tail[4] = {0, 0, 0, 0};
        for (int32_t i = 0; d + i < depth; ++i) {
            tail[i] = x[d + i];
        }
        const int32_t word = ta_load32(tail);
        col[0] = ta_sxtb16(word);
        col[1] = ta_sxtb16_ror8(word);
    }
}

TA_INLINE int8_t finish(const ta_fully_connected_fast_params *p, int32_t acc, int32_t o) {
    if (p->fast_requant) {
        return (int8_t)ta_clamp_s8(ta_requantize_fast(acc, p->multiplier[o], p->shift[o], p->round[o]),
                                   p->act_min, p->act_max);
    }
    const int32_t y = ta_requantize(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
    return (int8_t)ta_clamp32(y, p->act_min, p->act_max);
}

ta_status ta_fully_connected_s8_fast(const ta_fully_connected_fast_params *p, const int8_t *input,
                                     const int8_t *weights, int8_t *output, int16_t *scratch) {
    const int32_t groups = p->row_len >> 2;
    const int32_t out_d = p->output_depth;
    int32_t *col = (int32_t *)scratch;
    for (int32_t b = 0; b < p->batches; ++b) {
        widen_row(input + (size_t)b * p->input_depth, p->input_depth, p->row_len, col);
        int8_t *out = output + (size_t)b * out_d;
        for (int32_t o = 0; o < out_d; o += 2) {
            const int32_t o1 = o + 1 < out_d ? o + 1 : o;
            const void *w = weights + (size_t)o * p->row_len;
            const void *x = col;
            int32_t a0 = p->bias[o], a1 = p->bias[o1];
            for (int32_t g = 0; g < groups; ++g) {
                int32_t wa, wb, x02, x13;
                TA_LOAD_PAIR_INC(w, wa, wb);
                TA_LOAD_PAIR_INC(x, x02, x13);
                a0 = ta_smlad(ta_sxtb16(wa), x02, a0);
                a0 = ta_smlad(ta_sxtb16_ror8(wa), x13, a0);
                a1 = ta_smlad(ta_sxtb16(wb), x02, a1);
                a1 = ta_smlad(ta_sxtb16_ror8(wb), x13, a1);
            }
            out[o] = finish(p, a0, o);
            out[o1] = finish(p, a1, o1);
        }
    }
    return TA_OK;
}
