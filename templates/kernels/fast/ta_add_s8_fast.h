/* ADD int8, fast form: each input's rescaling depends on one int8 value, so it
 * is a 256-entry int32 table made at generation time; per element that leaves
 * two look-ups, one add and the output requantization. */
#ifndef TA_ADD_S8_FAST_H
#define TA_ADD_S8_FAST_H

#include "ta_common.h"

typedef struct {
    int32_t size;                 /* output elements */
    int32_t broadcast;            /* 0: both inputs have the output's shape */
    int32_t out_dims[4];          /* see ta_broadcast.h */
    int32_t in1_strides[4];
    int32_t in2_strides[4];
    const int32_t *table1;        /* TFLM's scaled input 1 for each int8 value (index value + 128),
                                   * doubled when fast_requant */
    const int32_t *table2;
    int32_t output_multiplier;
    int32_t output_shift;         /* fast_requant: right shift >= 1; else TFLite's signed shift */
    int32_t output_round;         /* fast_requant: 2^(shift-1) + output_offset * 2^shift */
    int32_t output_offset;
    int32_t fast_requant;         /* 1: the generator checked the short requantization on all 65536 input pairs */
    int32_t sign_fix;             /* fast_requant: 1 when some pair needs the rounding's sign correction */
    int32_t full_range;           /* 1: act_min = -128 and act_max = 127 */
    int32_t act_min, act_max;
} ta_add_fast_params;

/* Safe in place (output == input1 or input2) when not broadcasting. */
ta_status ta_add_s8_fast(const ta_add_fast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output);

#endif
