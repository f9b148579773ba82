/* CONV_2D int8 for Helium (MVE): two output pixels by four output channels per step, sixteen
 * MACs per VMLADAVA. Any filter size, stride, dilation and padding; not grouped. */
#ifndef TA_CONV2D_S8_MVE_H
#define TA_CONV2D_S8_MVE_H

#include "ta_common.h"

typedef struct {
    ta_shape4 input, output;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t row_pitch;          /* bytes per filter row in a column: filter_w * input.c, or that rounded up to
                                 * 16 when the rows are read in place as whole vectors (rows_in_place) */
    int32_t col_len;            /* filter_h * row_pitch rounded up to 16 */
    int32_t direct;             /* 1: 1x1 filter, no padding: columns read in place */
    int32_t input_zero_point;   /* fills padding: its product with the weights is folded into the bias */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t left_shift;         /* 1: some channel's requantization shifts left (else VSHL is skipped) */
    int32_t rows_in_place;      /* 1: a window inside the image is read in place, row by row, row_pitch bytes
                                 * (whole vectors) each */
} ta_conv2d_mve_params;

/* Bytes of scratch the kernel needs: two columns with 16 bytes of slack each (a 1x1 layer copies
 * only the pixels whose whole vectors would run past the image). */
#define TA_CONV2D_S8_MVE_SCRATCH(col_len) (2 * ((col_len) + 16))

/* weights: per group of four output channels (zero rows pad the last), the rows in blocks of sixteen:
 *   [col_len / 16][4][16] int8, each row [filter_h][row_pitch]: [filter_w][c] as in TFLite, then zeros
 *   to row_pitch, zero-padded to col_len.
 * channel: per group, 16 int32: bias - input_zero_point * sum(w), then the requantization rows of
 *   ta_mve.h.
 * scratch: TA_CONV2D_S8_MVE_SCRATCH bytes. */
ta_status ta_conv2d_s8_mve(const ta_conv2d_mve_params *p, const int8_t *input, const int8_t *weights,
                           const int32_t *channel, int8_t *output, int8_t *scratch);

#endif /* TA_CONV2D_S8_MVE_H */
