/* MAX_POOL_2D int8 for Helium (MVE): sixteen channels per vector. */
#ifndef TA_MAX_POOL_S8_MVE_H
#define TA_MAX_POOL_S8_MVE_H

#include "ta_pool.h"

ta_status ta_max_pool_s8_mve(const ta_pool_params *p, const int8_t *input, int8_t *output);

#endif /* TA_MAX_POOL_S8_MVE_H */
