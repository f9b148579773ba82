/* Element-wise int8 -> int8 table lookup, fast form: the same 256 outputs as
 * ta_lut_s8 (activation/ta_lut_s8.h), indexed by the input byte read as
 * unsigned, so no index arithmetic; four elements per word. */
#ifndef TA_LUT_S8_FAST_H
#define TA_LUT_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* elements */
    const uint8_t *table;         /* table[(uint8_t)x] is the output for input x */
} ta_lut_fast_params;

ta_status ta_lut_s8_fast(const ta_lut_fast_params *p, const int8_t *input, int8_t *output);

#endif
