/* Fused 1x1 expansion + depthwise convolution, band by band (see the header). Portable C99;
 * the sub-kernels are the layers' own (TA_PATH_FUSED_* compiles in the ones this model uses). */
#include <string.h>

#include "ta_fused_expand_dw_s8.h"
#if TA_PATH_FUSED_EXPAND_PORTABLE
#include "ta_conv2d_s8.h"
#endif
#if TA_PATH_FUSED_EXPAND_FAST
#include "ta_conv2d_s8_fast.h"
#endif
#if TA_PATH_FUSED_DW_PORTABLE
#include "ta_depthwise_conv2d_s8.h"
#endif
#if TA_PATH_FUSED_DW_FAST
#include "ta_depthwise_conv2d_s8_fast.h"
#endif
#if TA_PATH_FUSED_PROJECT_PORTABLE && !TA_PATH_FUSED_EXPAND_PORTABLE
#include "ta_conv2d_s8.h"
#endif
#if TA_PATH_FUSED_PROJECT_FAST && !TA_PATH_FUSED_EXPAND_FAST
#include "ta_conv2d_s8_fast.h"
#endif
#if TA_PATH_FUSED_ADD_PORTABLE
#include "ta_add_s8.h"
#endif
#if TA_PATH_FUSED_ADD_FAST
#include "ta_add_s8_fast.h"
#endif

/* A 1x1 conv of `input` rows (the expansion, or the projection: `fast` and `portable` say which
 * kernels this model compiles in for that role). */
static ta_status conv_rows(int fast, int fast_in, int portable_in, const ta_fused_stage *stage,
                           const int8_t *input, int8_t *rows, int16_t *scratch) {
    (void)stage; (void)input; (void)rows; (void)scratch; (void)fast_in; (void)portable_in;
    if (fast) {
#if TA_PATH_FUSED_EXPAND_FAST || TA_PATH_FUSED_PROJECT_FAST
        if (fast_in) {
            return ta_conv2d_s8_fast((const ta_conv2d_fast_params *)stage->params, input,
                                     (const int8_t *)stage->weights, rows, scratch);
        }
#endif
    } else {
#if TA_PATH_FUSED_EXPAND_PORTABLE || TA_PATH_FUSED_PROJECT_PORTABLE
        if (portable_in) {
            return ta_conv2d_s8((const ta_conv2d_params *)stage->params, input, (const int8_t *)stage->weights,
                                stage->bias, rows);
        }
#endif
    }
    return TA_ERROR;            /* a kernel the generator did not include */
}

static ta_status expand_rows(const ta_fused_expand_dw_params *p, const ta_fused_stage *stage,
                             const int8_t *input, int8_t *rows, int16_t *scratch) {
    return conv_rows(p->expand_fast, TA_PATH_FUSED_EXPAND_FAST, TA_PATH_FUSED_EXPAND_PORTABLE, stage, input,
                     rows, scratch);
}

static ta_status residual_add(const ta_fused_expand_dw_params *p, const ta_fused_stage *stage,
                              const int8_t *in1, const int8_t *in2, int8_t *output) {
    (void)stage; (void)in1; (void)in2; (void)output;
    if (p->residual_fast) {
#if TA_PATH_FUSED_ADD_FAST
        return ta_add_s8_fast((const ta_add_fast_params *)stage->params, in1, in2, output);
#endif
    } else {
#if TA_PATH_FUSED_ADD_PORTABLE
        return ta_add_s8((const ta_add_params *)stage->params, in1, in2, output);
#endif
    }
    return TA_ERROR;
}

/* The band's depthwise output (rows in scratch) -> projection -> residual ADD -> output rows. */
static ta_status project_band(const ta_fused_expand_dw_params *p, int kind, const int8_t *dw_rows,
                              const int8_t *input_rows, int8_t *output_rows, int8_t *scratch, int16_t *sub) {
    int8_t *projected = p->has_residual ? scratch + p->project_band_offset : output_rows;
    if (conv_rows(p->project_fast, TA_PATH_FUSED_PROJECT_FAST, TA_PATH_FUSED_PROJECT_PORTABLE, &p->project[kind],
                  dw_rows, projected, sub) != TA_OK) {
        return TA_ERROR;
    }
    if (!p->has_residual) {
        return TA_OK;
    }
    return p->residual_first ? residual_add(p, &p->residual[kind], input_rows, projected, output_rows)
                             : residual_add(p, &p->residual[kind], projected, input_rows, output_rows);
}

static ta_status depthwise_band(const ta_fused_expand_dw_params *p, const ta_fused_stage *stage,
                                const int8_t *rows, int8_t *output, int16_t *scratch) {
    (void)stage; (void)rows; (void)output; (void)scratch;
    if (p->depthwise_fast) {
#if TA_PATH_FUSED_DW_FAST
        return ta_depthwise_conv2d_s8_fast((const ta_depthwise_fast_params *)stage->params, rows, stage->weights,
                                           output, scratch);
#endif
    } else {
#if TA_PATH_FUSED_DW_PORTABLE
        return ta_depthwise_conv2d_s8((const ta_depthwise_conv2d_params *)stage->params, rows,
                                      (const int8_t *)stage->weights, stage->bias, output);
#endif
    }
    return TA_ERROR;
}

ta_status ta_fused_expand_dw_s8(const ta_fused_expand_dw_params *p, const int8_t *input, int8_t *output,
                                void *scratch) {
    int8_t *buffer = (int8_t *)scratch;
    int16_t *sub_scratch = (int16_t *)(void *)((int8_t *)scratch + p->sub_scratch_offset);
    int8_t *dw_band = (int8_t *)scratch + p->band_bytes;
    const int32_t mid = p->mid_row_bytes;
    const int32_t bands = (p->out_h + p->band_rows - 1) / p->band_rows;
    int32_t first = 0, next = 0;        /* the buffer holds expanded rows [first, next) */
    for (int32_t band = 0; band < bands; ++band) {
        const int kind = band == 0 ? 0 : (band == bands - 1 ? 2 : 1);
        const int32_t oy = band * p->band_rows;
        const int32_t rows = ta_min32(p->band_rows, p->out_h - oy);
        /* the expanded rows this band's window reaches (padding rows are not stored) */
        const int32_t lo = ta_max32(oy * p->stride_h - p->pad_top, 0);
        const int32_t hi = ta_min32((oy + rows - 1) * p->stride_h - p->pad_top + p->filter_h, p->in_h);
        const int8_t *rows_at = buffer;
        if (p->no_expansion) {
            rows_at = input + (size_t)lo * p->in_row_bytes;
        } else {
            if (lo < next) {
                /* rows the previous band computed that this one reads again: to the top */
                if (lo != first) {
                    memmove(buffer, buffer + (size_t)(lo - first) * mid, (size_t)(next - lo) * mid);
                }
            } else {
                next = lo;
            }
            first = lo;
            if (hi > next) {
                if (expand_rows(p, &p->expand[kind], input + (size_t)next * p->in_row_bytes,
                                buffer + (size_t)(next - lo) * mid, sub_scratch) != TA_OK) {
                    return TA_ERROR;
                }
                next = hi;
            }
        }
        int8_t *out_rows = output + (size_t)oy * p->out_row_bytes;
        if (depthwise_band(p, &p->depthwise[kind], rows_at, p->has_project ? dw_band : out_rows,
                           sub_scratch) != TA_OK) {
            return TA_ERROR;
        }
        if (p->has_project && project_band(p, kind, dw_band, input + (size_t)oy * p->in_row_bytes, out_rows,
                                           (int8_t *)scratch, sub_scratch) != TA_OK) {
            return TA_ERROR;
        }
    }
    return TA_OK;
}
