/* Nearest-neighbour upsampling fused into MUL [and the residual ADD], a row at a time (see the header).
 * Portable C99. */
#include <string.h>

#include "ta_upsample_mul_s8.h"

/* The product row's offset in scratch, past the gathered row (as the generator sizes scratch). */
#define TA_UPSAMPLE_MUL_ROW_ALIGN 8u

ta_status ta_upsample_mul_s8(const ta_upsample_mul_params *p, const int8_t *small, const int8_t *full,
                             int8_t *output, int8_t *scratch) {
    const int32_t c = p->channels;
    const size_t row_bytes = (size_t)p->out_w * (size_t)c;
    int8_t *product = scratch + (row_bytes + TA_UPSAMPLE_MUL_ROW_ALIGN - 1u) / TA_UPSAMPLE_MUL_ROW_ALIGN
                                * TA_UPSAMPLE_MUL_ROW_ALIGN;
    int32_t gathered = -1;              /* the small map's row now in scratch */
    for (int32_t y = 0; y < p->out_h; ++y) {
        const int32_t src_row = p->src_rows[y];
        const int8_t *full_row = full + (size_t)y * row_bytes;
        int8_t *out_row = output + (size_t)y * row_bytes;
        if (src_row != gathered) {      /* upsampled rows repeat: gather each source row once */
            const int8_t *from = small + (size_t)src_row * (size_t)p->in_w * (size_t)c;
            for (int32_t x = 0; x < p->out_w; ++x) {
                memcpy(scratch + (size_t)x * (size_t)c, from + (size_t)p->src_cols[x] * (size_t)c, (size_t)c);
            }
            gathered = src_row;
        }
        if (p->add_row == NULL) {
            if (p->mul_row(scratch, full_row, out_row) != TA_OK) {
                return TA_ERROR;
            }
        } else if (p->mul_row(scratch, full_row, product) != TA_OK    /* V's row is read by both... */
                   || p->add_row(product, full_row, out_row) != TA_OK) { /* ...before the output row is written */
            return TA_ERROR;
        }
    }
    return TA_OK;
}
