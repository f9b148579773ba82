/* DEPTH_TO_SPACE, int8, NHWC: output[n][h*b + dy][w*b + dx][c] = input[n][h][w][(dy*b + dx)*C + c]. */
#ifndef TA_DEPTH_TO_SPACE_S8_H
#define TA_DEPTH_TO_SPACE_S8_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input;              /* NHWC; input.c is a multiple of block_size squared */
    int32_t block_size;
} ta_depth_to_space_params;

ta_status ta_depth_to_space_s8(const ta_depth_to_space_params *p, const int8_t *input, int8_t *output);

#endif
