/* BATCH_MATMUL int8, fast form: each operand matrix widened once to int16 with
 * its offset added, depth-contiguous (the right one transposed unless adj_y),
 * then 2 x 2 output tiles of SMLADs over the widened rows. */
#ifndef TA_BATCH_MATMUL_S8_FAST_H
#define TA_BATCH_MATMUL_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t batch[3];              /* output batch dims (rank-5 shapes, left-padded with 1s) */
    int32_t lhs_batch_stride[3];   /* element strides of each operand's matrices, 0 where broadcast */
    int32_t rhs_batch_stride[3];
    int32_t rows, cols, depth;     /* output matrix rows x cols, accumulation depth */
    int32_t padded_depth;          /* depth rounded up to 4: int16 values per widened row */
    int32_t lhs_row_stride, lhs_depth_stride;   /* lhs(i, k) = lhs[i * row_stride + k * depth_stride] */
    int32_t rhs_col_stride, rhs_depth_stride;   /* rhs(k, j) = rhs[k * depth_stride + j * col_stride] */
    int32_t lhs_offset, rhs_offset;             /* -zero points */
    int32_t output_offset;                      /* +output zero point */
    int32_t fast_requant;          /* 1: ta_requantize_fast_acc is exact (|acc| < 2^30, right shift) */
    int32_t multiplier;
    int32_t shift;                 /* fast: the right shift (>= 1); else TFLite's signed shift */
    int32_t round;                 /* fast: 2^(shift-1) + output_offset * 2^shift */
} ta_batch_matmul_fast_params;

/* Scratch bytes the kernel needs: rows and cols each rounded up to 2, times padded_depth int16. */
#define TA_BATCH_MATMUL_S8_FAST_SCRATCH(rows, cols, padded_depth) \
    ((((rows) + 1) / 2 * 2 + ((cols) + 1) / 2 * 2) * (padded_depth) * 2)

/* scratch: TA_BATCH_MATMUL_S8_FAST_SCRATCH bytes, 4-byte aligned. Output [batch][rows][cols]. */
ta_status ta_batch_matmul_s8_fast(const ta_batch_matmul_fast_params *p, const int8_t *lhs, const int8_t *rhs,
                                  int8_t *output, void *scratch);

#endif
