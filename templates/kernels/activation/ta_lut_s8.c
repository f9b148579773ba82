/* Table lookup, one byte per element; may run in place (output == input). */
#include "ta_lut_s8.h"

ta_status ta_lut_s8(const ta_lut_params *p, const int8_t *input, int8_t *output) {
    const int8_t *table = p->table;
    for (int32_t i = 0; i < p->size; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
    return TA_OK;
}
