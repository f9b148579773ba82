/* A fused inverted-residual front: 1x1 expansion CONV_2D -> DEPTHWISE_CONV_2D, run band by band
 * so that the expanded tensor never exists whole (issue 17).
 *
 * The depthwise output is produced in bands of `band_rows` rows. For each band the expansion
 * computes the expanded rows that band's window reaches and that are not in the buffer yet,
 * below the rows the previous band left for it (moved to the buffer's top), and the depthwise
 * runs over the buffer as over a short input. Both steps are the unfused layers' own kernels
 * (portable or fast), called with the band's shapes: every output value is computed with the
 * same arithmetic as the unfused layer (TFLM's), only the schedule changes. The generator gives
 * one parameter set per band kind (first, middle, last), checked against this loop's arithmetic
 * (codegen/fusion/expand_depthwise.py mirrors it).
 */
#ifndef TA_FUSED_EXPAND_DW_S8_H
#define TA_FUSED_EXPAND_DW_S8_H

#include "ta_common.h"

/* One call of a sub-kernel: its parameter struct (the layer's kernel's own type), its weights
 * (the fast forms: their re-laid-out stream) and, for the portable forms, the bias. */
typedef struct {
    const void *params;
    const void *weights;
    const int32_t *bias;        /* NULL: none (or folded into the fast form's constants) */
} ta_fused_stage;

typedef struct {
    int32_t in_h;               /* rows of the input and of the expanded tensor */
    int32_t out_h;              /* rows of the depthwise output */
    int32_t band_rows;          /* depthwise output rows per band; the last band may have fewer */
    int32_t stride_h, pad_top, filter_h;    /* the depthwise layer's */
    int32_t in_row_bytes;       /* bytes of one input row (w * c) */
    int32_t mid_row_bytes;      /* bytes of one expanded row */
    int32_t out_row_bytes;      /* bytes of one output row */
    int32_t band_bytes;         /* scratch: the expanded rows' buffer (16-byte multiple); the
                                 * sub-kernels' own scratch follows it */
    uint8_t no_expansion;       /* 1: a depthwise layer alone, run band by band over its own input
                                 * rows (no buffer; in_row_bytes == mid_row_bytes) */
    uint8_t expand_fast;        /* 1: ta_conv2d_s8_fast, 0: ta_conv2d_s8 */
    uint8_t depthwise_fast;     /* 1: ta_depthwise_conv2d_s8_fast, 0: ta_depthwise_conv2d_s8 */
    ta_fused_stage expand[3];   /* by band kind: first, middle, last */
    ta_fused_stage depthwise[3];
} ta_fused_expand_dw_params;

ta_status ta_fused_expand_dw_s8(const ta_fused_expand_dw_params *p, const int8_t *input, int8_t *output,
                                void *scratch);

#endif
