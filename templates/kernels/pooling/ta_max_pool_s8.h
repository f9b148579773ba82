/* MAX_POOL_2D, int8 (input and output share scale and zero point). */
#ifndef TA_MAX_POOL_S8_H
#define TA_MAX_POOL_S8_H

#include "ta_pool.h"

ta_status ta_max_pool_s8(const ta_pool_params *p, const int8_t *input, int8_t *output);

#endif
