/* DEPTHWISE_CONV_2D int8 for Helium (MVE): four output pixels of one channel per vector (int32
 * lanes), one VMLA (vector by scalar weight) per tap. Any filter size, stride, dilation, padding and
 * depth multiplier. The kernel walks the map as "rows" and "columns" given by strides, so a tall
 * narrow map (KWS: 25 x 5) can be given transposed, with long rows. */
#ifndef TA_DEPTHWISE_CONV2D_S8_MVE_H
#define TA_DEPTHWISE_CONV2D_S8_MVE_H

#include "ta_common.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;           /* as walked: in_w pixels along a row */
    int32_t out_h, out_w, out_c;
    int32_t in_x_stride, in_y_stride;   /* bytes between neighbouring input pixels along a row, a column */
    int32_t out_x_stride, out_y_stride;
    int32_t image_bytes, out_image_bytes;
    int32_t filter_h, filter_w;         /* as walked (the weights are transposed with the map) */
    int32_t depth_multiplier;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t plane_w;                    /* bytes per staged plane row: see ta_depthwise_conv2d_s8_mve.c */
    int32_t input_zero_point;           /* fills padding: its product with the weights is folded into the bias */
    int32_t output_offset;
    int32_t act_min, act_max;
} ta_depthwise_mve_params;

/* Scratch (16-byte aligned): slot bookkeeping (16 bytes per four filter rows), a row of int32 sums
 * (out_w rounded up to 4), then filter_h slots of in_c * stride_w planes of plane_w bytes. */
#define TA_DEPTHWISE_S8_MVE_SCRATCH(filter_h, out_w, in_c, stride_w, plane_w) \
    (16 * (((filter_h) + 3) / 4) + 16 * (((out_w) + 3) / 4) + (filter_h) * (in_c) * (stride_w) * (plane_w))

/* weights: [out_c][filter_h][filter_w] int8 (as walked).
 * channel: per output channel, 4 int32: bias - input_zero_point * sum(w), multiplier, left shift
 *   (>= 0), minus the right shift (<= 0). */
ta_status ta_depthwise_conv2d_s8_mve(const ta_depthwise_mve_params *p, const int8_t *input, const int8_t *weights,
                                     const int32_t *channel, int8_t *output, int8_t *scratch);

#endif /* TA_DEPTHWISE_CONV2D_S8_MVE_H */
