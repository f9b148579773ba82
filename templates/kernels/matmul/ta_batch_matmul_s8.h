/* BATCH_MATMUL, int8 x int8 -> int8, per-tensor quantization, broadcast batch dims. */
#ifndef TA_BATCH_MATMUL_S8_H
#define TA_BATCH_MATMUL_S8_H

#include "ta_common.h"

typedef struct {
    int32_t batch[3];              /* output batch dims (rank-5 shapes, left-padded with 1s) */
    int32_t lhs_batch_stride[3];   /* element strides of each operand's matrices, 0 where broadcast */
    int32_t rhs_batch_stride[3];
    int32_t rows, cols, depth;     /* output matrix rows x cols, accumulation depth */
    int32_t lhs_row_stride, lhs_depth_stride;   /* lhs(i, k) = lhs[i * row_stride + k * depth_stride] */
    int32_t rhs_depth_stride, rhs_col_stride;   /* rhs(k, j) = rhs[k * depth_stride + j * col_stride] */
    int32_t lhs_offset, rhs_offset;             /* -zero points */
    int32_t output_offset;                      /* +output zero point */
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} ta_batch_matmul_params;

ta_status ta_batch_matmul_s8(const ta_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                             int8_t *output);

#endif
