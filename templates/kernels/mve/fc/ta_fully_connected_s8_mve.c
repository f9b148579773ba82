/* FULLY_CONNECTED int8 for Helium (MVE). See ta_fully_connected_s8_mve.h for the layouts.
 *
 * Per group of four output channels: one input load, four weight loads and four VMLADAVA.S8 per
 * sixteen inputs; the input row's last partial vector is a tail-predicated load (its weights are
 * zero). The input offset is in the bias. The four sums are requantized as one vector and stored
 * with a tail predicate on the last group. */
#include "ta_fully_connected_s8_mve.h"
#include "ta_mve.h"

ta_status ta_fully_connected_s8_mve(const ta_fully_connected_mve_params *p, const int8_t *input,
                                    const int8_t *weights, const int32_t *channel, int8_t *output) {
    /* locals: the output stores could alias *p, which would reload these every group */
    const int32_t depth = p->input_depth, out_depth = p->output_depth;
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    for (int32_t b = 0; b < p->batches; b++, input += depth, output += out_depth) {
        const int8_t *w = weights;
        const int32_t *q = channel;
        for (int32_t oc = 0; oc < out_depth; oc += 4, q += 16) {
#if TA_MVE
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            const int8_t *x = input;
            int32_t k = depth;
            for (; k >= 16; k -= 16, x += 16, w += 64) {
                const int8x16_t v = vldrbq_s8(x);
                a0 = vmladavaq_s8(a0, v, vldrbq_s8(w));
                a1 = vmladavaq_s8(a1, v, vldrbq_s8(w + 16));
                a2 = vmladavaq_s8(a2, v, vldrbq_s8(w + 32));
                a3 = vmladavaq_s8(a3, v, vldrbq_s8(w + 48));
            }
            if (k > 0) {
                const int8x16_t v = vldrbq_z_s8(x, vctp8q((uint32_t)k));
                a0 = vmladavaq_s8(a0, v, vldrbq_s8(w));
                a1 = vmladavaq_s8(a1, v, vldrbq_s8(w + 16));
                a2 = vmladavaq_s8(a2, v, vldrbq_s8(w + 32));
                a3 = vmladavaq_s8(a3, v, vldrbq_s8(w + 48));
                w += 64;
            }
            int32x4_t acc = vdupq_n_s32(a0);
            acc = vsetq_lane_s32(a1, acc, 1);
            acc = vsetq_lane_s32(a2, acc, 2);
            acc = vsetq_lane_s32(a3, acc, 3);
            acc = vaddq_s32(acc, vldrwq_s32(q));
            const int32x4_t y = ta_mve_requantize(acc, q + 4, output_offset, act_min, act_max);
            vstrbq_p_s32(output + oc, y, vctp32q((uint32_t)(out_depth - oc)));
#else
            for (int32_t lane = 0; lane < 4; lane++) {
                uint32_t acc = (uint32_t)q[lane];
                for (int32_t k = 0; k < depth; k++) {
                    acc += (uint32_t)(input[k] * w[(k / 16) * 64 + lane * 16 + k % 16]);
                }
                if (oc + lane < out_depth) {
                    output[oc + lane] = (int8_t)ta_mve_requantize_lane((int32_t)acc, q + 4, lane, output_offset,
                                                                       act_min, act_max);
                }
            }
            w += 4 * p->row_len;
#endif
        }
    }
    return TA_OK;
}
