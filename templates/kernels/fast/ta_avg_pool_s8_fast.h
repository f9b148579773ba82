/* AVERAGE_POOL_2D int8, fast form: four channels per word summed in 16-bit lanes.
 * The generator takes it only for windows of at most TA_AVG_POOL_FAST_MAX_TAPS taps. */
#ifndef TA_AVG_POOL_S8_FAST_H
#define TA_AVG_POOL_S8_FAST_H

#include "ta_pool.h"

/* 256 taps of int8 sum to [-32768, 32512]: a 16-bit lane never wraps. */
#define TA_AVG_POOL_FAST_MAX_TAPS 256

ta_status ta_avg_pool_s8_fast(const ta_pool_params *p, const int8_t *input, int8_t *output);

#endif
