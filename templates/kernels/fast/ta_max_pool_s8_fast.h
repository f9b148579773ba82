/* MAX_POOL_2D int8, fast form: four channels per word with byte-wise SIMD max. */
#ifndef TA_MAX_POOL_S8_FAST_H
#define TA_MAX_POOL_S8_FAST_H

#include "ta_pool.h"

ta_status ta_max_pool_s8_fast(const ta_pool_params *p, const int8_t *input, int8_t *output);

#endif
