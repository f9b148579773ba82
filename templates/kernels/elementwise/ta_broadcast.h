/* Broadcasting of two inputs to one 4-D output, shared by the element-wise kernels.
 *
 * The params struct of such a kernel has `out_dims[4]` (the output shape, padded
 * on the left with 1s) and `in1_strides[4]`, `in2_strides[4]` (element strides
 * of each input, 0 along the dimensions it broadcasts), filled at generation time.
 */
#ifndef TA_BROADCAST_H
#define TA_BROADCAST_H

#include "ta_common.h"

/* Runs STATEMENT once per output element in order, with `i` the output index
 * and `off1`, `off2` the offsets of the two input elements it reads. A macro,
 * not a function taking a callback, so the per-element work stays inlined. */
#define TA_FOR_EACH_BROADCAST(p, i, off1, off2, STATEMENT)                                                \
    do {                                                                                                  \
        int32_t i = 0;                                                                                    \
        for (int32_t ta_d0 = 0; ta_d0 < (p)->out_dims[0]; ++ta_d0) {                                      \
            for (int32_t ta_d1 = 0; ta_d1 < (p)->out_dims[1]; ++ta_d1) {                                  \
                for (int32_t ta_d2 = 0; ta_d2 < (p)->out_dims[2]; ++ta_d2) {                              \
                    const int32_t ta_b1 = ta_d0 * (p)->in1_strides[0] + ta_d1 * (p)->in1_strides[1]      \
                                          + ta_d2 * (p)->in1_strides[2];                                  \
                    const int32_t ta_b2 = ta_d0 * (p)->in2_strides[0] + ta_d1 * (p)->in2_strides[1]      \
                                          + ta_d2 * (p)->in2_strides[2];                                  \
                    for (int32_t ta_d3 = 0; ta_d3 < (p)->out_dims[3]; ++ta_d3, ++i) {                     \
                        const int32_t off1 = ta_b1 + ta_d3 * (p)->in1_strides[3];                         \
                        const int32_t off2 = ta_b2 + ta_d3 * (p)->in2_strides[3];                         \
                        STATEMENT;                                                                        \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    } while (0)

#endif
