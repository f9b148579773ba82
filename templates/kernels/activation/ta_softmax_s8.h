/* SOFTMAX over the last axis, int8 in, int8 out (scale 1/256, zero point -128). */
#ifndef TA_SOFTMAX_S8_H
#define TA_SOFTMAX_S8_H

#include "ta_common.h"

typedef struct {
    int32_t rows;                 /* product of all but the last dimension */
    int32_t depth;                /* last dimension, the one normalised */
    /* exp_table[d] = exp(-d * input_scale * beta) in Q0 for d = max - x in
     * [0, 255], as TFLM's fixed-point exp computes it; 0 where TFLM leaves
     * the term out (differences below its diff_min). */
    const int32_t *exp_table;
} ta_softmax_params;

ta_status ta_softmax_s8(const ta_softmax_params *p, const int8_t *input, int8_t *output);

#endif
