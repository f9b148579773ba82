/* A streamed attention-condenser tail (issue 17): RESIZE_NEAREST_NEIGHBOR of a small attention
 * map followed by MUL with a full-size tensor V, and optionally the residual ADD of V, as one pass
 * that never writes the upsampled map (nor, with the residual, the product V * A).
 *
 * Row by row: the row of the upsampled map is gathered from the small map into scratch (the
 * resize's source row and column tables, computed at generation time as TFLM computes them), then
 * the MUL layer's own kernel (portable or fast, called through a generated wrapper with the row's
 * shapes and the layer's requantization) multiplies it with V's row; with a residual, into a
 * second scratch row that the ADD layer's own kernel then adds to V's row. Same bytes as the
 * layers; the output may be V's own bytes (row y is written after row y of V is read).
 * Scratch: out_w * channels bytes, and with a residual another out_w * channels bytes from the
 * first multiple of 8 past them.
 */
#ifndef TA_UPSAMPLE_MUL_S8_H
#define TA_UPSAMPLE_MUL_S8_H

#include "ta_common.h"

/* The MUL of one row: `upsampled` and `full` in the MUL layer's own operand order (the wrapper
 * knows it), `w * c` bytes each. */
typedef ta_status (*ta_mul_row_fn)(const int8_t *upsampled, const int8_t *full, int8_t *output);

/* The residual ADD of one row: `product` (V * A's row) and `full` in the ADD layer's operand order. */
typedef ta_status (*ta_add_row_fn)(const int8_t *product, const int8_t *full, int8_t *output);

typedef struct {
    int32_t out_h, out_w, channels;
    int32_t in_w;               /* columns of the small map */
    const int32_t *src_rows;    /* per output row: the small map's row (TFLM's nearest index) */
    const int32_t *src_cols;    /* per output column: its column */
    ta_mul_row_fn mul_row;
    ta_add_row_fn add_row;      /* NULL: no residual */
} ta_upsample_mul_params;

ta_status ta_upsample_mul_s8(const ta_upsample_mul_params *p, const int8_t *small, const int8_t *full,
                             int8_t *output, int8_t *scratch);

#endif
