/* MAXIMUM / MINIMUM int8: TFLM compares the raw int8 values (the quantization is shared). */
#include "ta_maximum_minimum_s8.h"
#include "ta_broadcast.h"

static ta_status max_min(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                         int8_t *output, int is_max) {
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, {
        const int8_t a = input1[off1];
        const int8_t b = input2[off2];
        output[i] = is_max ? (a > b ? a : b) : (a < b ? a : b);
    });
    return TA_OK;
}

ta_status ta_maximum_s8(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output) {
    return max_min(p, input1, input2, output, 1);
}

ta_status ta_minimum_s8(const ta_maximum_minimum_params *p, const int8_t *input1, const int8_t *input2,
                        int8_t *output) {
    return max_min(p, input1, input2, output, 0);
}
