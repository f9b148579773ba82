/* AVERAGE_POOL_2D int8 for Helium (MVE): four channels per vector (input and output share scale and
 * zero point; the portable kernel's parameters). */
#ifndef TA_AVG_POOL_S8_MVE_H
#define TA_AVG_POOL_S8_MVE_H

#include "ta_pool.h"

ta_status ta_avg_pool_s8_mve(const ta_pool_params *p, const int8_t *input, int8_t *output);

#endif /* TA_AVG_POOL_S8_MVE_H */
