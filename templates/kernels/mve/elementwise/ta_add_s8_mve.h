/* ADD int8 for Helium (MVE), same-shape inputs: four elements per vector, TFLM's arithmetic. */
#ifndef TA_ADD_S8_MVE_H
#define TA_ADD_S8_MVE_H

#include "ta_common.h"

typedef struct {
    int32_t size;                       /* elements */
    int32_t input1_offset, input2_offset;
    int32_t left_shift;                 /* TFLM's 20 bits of headroom */
    int32_t input1_multiplier, input1_shift;    /* shifts <= 0; output_shift < 0 (the generator checks it) */
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} ta_add_mve_params;

ta_status ta_add_s8_mve(const ta_add_mve_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif /* TA_ADD_S8_MVE_H */
