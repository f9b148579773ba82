/* BATCH_MATMUL int8 as TFLM's reference kernel computes it:
 *   out(b, i, j) = clamp(requantize(sum_k (lhs(b, i, k) + lhs_offset) * (rhs(b, k, j) + rhs_offset)) + zp)
 * with one multiplier for the whole tensor. adj_x / adj_y are folded into
 * the operands' strides, so neither operand is copied or transposed. */
#include "ta_batch_matmul_s8.h"

ta_status ta_batch_matmul_s8(const ta_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                             int8_t *output) {
    int8_t *out = output;
    for (int32_t b0 = 0; b0 < p->batch[0]; ++b0) {
        for (int32_t b1 = 0; b1 < p->batch[1]; ++b1) {
            for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + ta_batch_offset(p->lhs_batch_stride, b0, b1, b2);
                const int8_t *r = rhs + ta_batch_offset(p->rhs_batch_stride, b0, b1, b2);
                for (int32_t i = 0; i < p->rows; ++i) {
                    const int8_t *l_row = l + i * p->lhs_row_stride;
                    for (int32_t j = 0; j < p->cols; ++j) {
                        const int8_t *r_col = r + j * p->rhs_col_stride;
                        int32_t acc = 0;
                        for (int32_t k = 0; k < p->depth; ++k) {
                            acc += (l_row[k * p->lhs_depth_stride] + p->lhs_offset)
                                   * (r_col[k * p->rhs_depth_stride] + p->rhs_offset);
                        }
                        acc = ta_requantize(acc, p->multiplier, p->shift) + p->output_offset;
                        *out++ = (int8_t)ta_clamp32(acc, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return TA_OK;
}
