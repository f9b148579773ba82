/* AVERAGE_POOL_2D, int8 (input and output share scale and zero point). */
#ifndef TA_AVG_POOL_S8_H
#define TA_AVG_POOL_S8_H

#include "ta_pool.h"

ta_status ta_avg_pool_s8(const ta_pool_params *p, const int8_t *input, int8_t *output);

#endif
