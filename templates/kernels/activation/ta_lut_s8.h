/* Element-wise int8 -> int8 functions as a 256-entry table.
 * LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, LEAKY_RELU and int8 QUANTIZE all
 * lower to this one kernel; their tables are computed at generation time with
 * TFLM's integer arithmetic, so the lookup is bit-exact by construction. */
#ifndef TA_LUT_S8_H
#define TA_LUT_S8_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* elements */
    const int8_t *table;          /* table[x + 128] is the output for input x */
} ta_lut_params;

ta_status ta_lut_s8(const ta_lut_params *p, const int8_t *input, int8_t *output);

#endif
