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
 *
 * With a projection (a 1x1 conv of the depthwise output) the depthwise band goes to scratch and
 * the projection writes the band's output rows; with a residual ADD of this op's input, the
 * projection's band goes to scratch too and the ADD writes them. Each band's output is written
 * after the band's reads, so the output may start a few rows below the input and overlap it
 * (the generator's lead, fusion/expand_depthwise.py overlap_lead).
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
    int32_t dw_row_bytes;       /* bytes of one depthwise output row */
    int32_t out_row_bytes;      /* bytes of one output row (the projection's or ADD's if any) */
    int32_t band_bytes;         /* scratch: the expanded rows' buffer (16-byte multiple), then the
                                 * depthwise band (with a projection) */
    int32_t project_band_offset;    /* scratch offset of the projection's band (with a residual) */
    int32_t sub_scratch_offset;     /* scratch offset of the sub-kernels' own scratch */
    uint8_t no_expansion;       /* 1: a depthwise layer alone, run band by band over its own input
                                 * rows (no buffer; in_row_bytes == mid_row_bytes) */
    uint8_t expand_fast;        /* 1: ta_conv2d_s8_fast, 0: ta_conv2d_s8 */
    uint8_t depthwise_fast;     /* 1: ta_depthwise_conv2d_s8_fast, 0: ta_depthwise_conv2d_s8 */
    uint8_t has_project, project_fast;      /* a 1x1 projection conv; its kernel as expand_fast */
    uint8_t has_residual, residual_fast;    /* an ADD of this op's input; 1: ta_add_s8_fast */
    uint8_t residual_first;     /* 1: the op's input is the ADD's first operand */
    ta_fused_stage expand[3];   /* by band kind: first, middle, last */
    ta_fused_stage depthwise[3];
    ta_fused_stage project[3];
    ta_fused_stage residual[3]; /* params only */
} ta_fused_expand_dw_params;

ta_status ta_fused_expand_dw_s8(const ta_fused_expand_dw_params *p, const int8_t *input, int8_t *output,
                                void *scratch);

#endif
