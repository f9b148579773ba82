/* BATCH_MATMUL int8, fast form (see the header). Bit-exact with TFLM's reference:
 *   out(b, i, j) = clamp(requantize(sum_k (lhs(i, k) + lhs_offset) * (rhs(k, j) + rhs_offset)) + zp)
 * The sum is exact in int32 whatever the order of its terms, so the depth may be
 * visited in any order both operands agree on.
 *
 * Widening: each matrix becomes rows of padded_depth int16 values, offset added
 * (|value| <= 255), zeros past depth. Within each group of four the order is
 * k0, k2, k1, k3: what SXTAB16 and SXTAB16 ROR 8 make of one word of four
 * consecutive depths, so a depth-contiguous operand widens with one LDR, two
 * SXTAB16 and two STR per 4 values. A depth-strided operand (lhs with adj_x, rhs
 * without adj_y) is transposed 4 x 4 at a time: 4 LDR, 8 SXTAB16, 8 PKH and 8 STR
 * per 16 values. Depth and row remainders are widened one value at a time.
 *
 * Rows (and columns) are stored in pairs, word-interleaved, so the multiply walks
 * one pointer per operand: per 2 x 2 output tile and four depths, 4 LDRD and 8 SMLAD
 * for 16 MACs. */
#include "ta_batch_matmul_s8_fast.h"
#include "ta_dsp.h"

/* Rows are stored in pairs, word by word: word w (int16 values 2w and 2w + 1 of the
 * reordered depth) of row r is word (r / 2) * kp + 2 * w + r % 2, so one LDRD gives
 * the same two depths of both rows of a pair. */
TA_INLINE int32_t *word_at(int32_t *dst, int32_t r, int32_t w, int32_t kp) {
    return dst + (r >> 1) * kp + 2 * w + (r & 1);
}

/* Position of depth k within its widened row: bits 0 and 1 swapped (k0, k2, k1, k3). */
static int32_t slot(int32_t k) { return (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1); }

/* Widened row r (r < n_padded) = src(r, k) + offset for k < depth, zero after; rows n.. are zero. */
static void widen(const int8_t *src, int32_t row_stride, int32_t depth_stride, int32_t n, int32_t n_padded,
                  int32_t depth, int32_t kp, int32_t offset, int32_t *dst) {
    const int32_t offsets = (int32_t)(((uint32_t)offset << 16) | ((uint32_t)offset & 0xFFFFu));
    const int32_t groups = depth >> 2;
    int32_t done_rows = 0;              /* rows [0, done_rows) have their full groups filled */
    if (depth_stride == 1) {
        for (int32_t r = 0; r < n; ++r) {
            const int8_t *s = src + r * row_stride;
            int32_t *d = word_at(dst, r, 0, kp);
            for (int32_t g = 0; g < groups; ++g, s += 4, d += 4) {
                const int32_t w = ta_load32(s);
                d[0] = ta_sxtab16(offsets, w);
                d[2] = ta_sxtab16_ror8(offsets, w);
            }
        }
        done_rows = n;
    } else if (row_stride == 1) {
        const int32_t blocks = n >> 2;
        for (int32_t rb = 0; rb < blocks; ++rb) {
            const int8_t *s = src + 4 * rb;
            int32_t *d = word_at(dst, 4 * rb, 0, kp);      /* rows 4rb, 4rb + 1; rows + 2 at d + kp */
            for (int32_t g = 0; g < groups; ++g, s += 4 * depth_stride, d += 4) {
                const int32_t w0 = ta_load32(s), w1 = ta_load32(s + depth_stride);
                const int32_t w2 = ta_load32(s + 2 * depth_stride), w3 = ta_load32(s + 3 * depth_stride);
                /* a_q: rows 0 and 2 at depth 4g + q; b_q: rows 1 and 3. */
                const int32_t a0 = ta_sxtab16(offsets, w0), a1 = ta_sxtab16(offsets, w1);
                const int32_t a2 = ta_sxtab16(offsets, w2), a3 = ta_sxtab16(offsets, w3);
                const int32_t b0 = ta_sxtab16_ror8(offsets, w0), b1 = ta_sxtab16_ror8(offsets, w1);
                const int32_t b2 = ta_sxtab16_ror8(offsets, w2), b3 = ta_sxtab16_ror8(offsets, w3);
                d[0] = ta_pack_lo16(a0, a2);
                d[1] = ta_pack_lo16(b0, b2);
                d[2] = ta_pack_lo16(a1, a3);
                d[3] = ta_pack_lo16(b1, b3);
                d[kp] = ta_pack_hi16(a0, a2);
                d[kp + 1] = ta_pack_hi16(b0, b2);
                d[kp + 2] = ta_pack_hi16(a1, a3);
                d[kp + 3] = ta_pack_hi16(b1, b3);
            }
        }
        done_rows = 4 * blocks;
    }
    for (int32_t r = 0; r < n_padded; ++r) {
        for (int32_t k = r < done_rows ? 4 * groups : 0; k < kp; ++k) {
            const int32_t s = slot(k);
            const int16_t value = (int16_t)(r < n && k < depth ? src[r * row_stride + k * depth_stride] + offset : 0);
            memcpy((int8_t *)word_at(dst, r, s >> 1, kp) + 2 * (s & 1), &value, 2);   /* low half first */
        }
    }
}

/* One output, requantized as TFLM does: shift is the right shift and round folds in the
 * output offset (fast), or shift is TFLite's signed shift and round the output offset.
 * `fast` is a constant where this is inlined. */
TA_INLINE int8_t requantize(int32_t acc, int32_t multiplier, int32_t shift, int32_t round, int fast) {
    if (fast) {
        return (int8_t)ta_ssat8(ta_requantize_fast_acc(acc, multiplier, shift, round));
    }
    return (int8_t)ta_clamp32(ta_requantize(acc, multiplier, shift) + round, -128, 127);
}

/* Four depths of a row pair (x0, y0: depths 0 and 2 of rows a and b; x1, y1: depths 1 and 3)
 * against a column pair: two half steps, each one LDRD of the rows' words and of the columns'
 * and four SMLAD. */
#define TA_BMM_HALF_STEP()                                 \
    do {                                                   \
        int32_t x, y, u, v;                                \
        TA_LOAD_PAIR_INC(l, x, y);                         \
        TA_LOAD_PAIR_INC(r, u, v);                         \
        a00 = ta_smlad(x, u, a00);                         \
        a01 = ta_smlad(x, v, a01);                         \
        a10 = ta_smlad(y, u, a10);                         \
        a11 = ta_smlad(y, v, a11);                         \
    } while (0)
#define TA_BMM_STEP()                                      \
    do {                                                   \
        TA_BMM_HALF_STEP();                                \
        TA_BMM_HALF_STEP();                                \
    } while (0)

/* One batch: out[rows][cols] from the widened lhs and rhs row pairs. */
TA_INLINE void multiply(const ta_batch_matmul_fast_params *p, const int32_t *lhs32, const int32_t *rhs32,
                        int8_t *out, int fast) {
    const int32_t rows = p->rows, cols = p->cols, kp = p->padded_depth;
    const int32_t pair_bytes = kp * 4, twice = (kp >> 3) * 32;   /* a pair's bytes; those in double steps */
    /* Locals, not p->: the int8 output stores could alias *p and force reloads. */
    const int32_t mult = p->multiplier, shift = p->shift, round = fast ? p->round : p->output_offset;
    for (int32_t i = 0; i < rows; i += 2) {
        const int8_t *l_pair = (const int8_t *)lhs32 + (i >> 1) * pair_bytes;
        int8_t *o0 = out + i * cols;
        int8_t *o1 = o0 + cols;
        const int both_rows = i + 1 < rows;
        const void *r = rhs32;
        for (int32_t j = 0; j < cols; j += 2) {
            const void *l = l_pair;
            const void *l_twice = l_pair + twice;
            int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
            while (l != l_twice) {
                TA_BMM_STEP();
                TA_BMM_STEP();
            }
            if (kp & 4) {
                TA_BMM_STEP();
            }
            if (both_rows && j + 1 < cols) {
                o0[j] = requantize(a00, mult, shift, round, fast);
                o0[j + 1] = requantize(a01, mult, shift, round, fast);
                o1[j] = requantize(a10, mult, shift, round, fast);
                o1[j + 1] = requantize(a11, mult, shift, round, fast);
                continue;
            }
            o0[j] = requantize(a00, mult, shift, round, fast);      /* an odd last row or column */
            if (j + 1 < cols) {
                o0[j + 1] = requantize(a01, mult, shift, round, fast);
            }
            if (both_rows) {
                o1[j] = requantize(a10, mult, shift, round, fast);
            }
        }
    }
}

ta_status ta_batch_matmul_s8_fast(const ta_batch_matmul_fast_params *p, const int8_t *lhs, const int8_t *rhs,
                                  int8_t *output, void *scratch) {
    const int32_t rows = p->rows, cols = p->cols, kp = p->padded_depth;
    const int32_t rows_padded = (rows + 1) & ~1, cols_padded = (cols + 1) & ~1;
    int32_t *lhs32 = (int32_t *)scratch;                 /* kp / 2 words per row */
    int32_t *rhs32 = lhs32 + rows_padded * kp / 2;
    const int8_t *widened_l = NULL, *widened_r = NULL;   /* a broadcast operand is widened once */
    int8_t *out = output;
    for (int32_t b0 = 0; b0 < p->batch[0]; ++b0) {
        for (int32_t b1 = 0; b1 < p->batch[1]; ++b1) {
            for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + ta_batch_offset(p->lhs_batch_stride, b0, b1, b2);
                const int8_t *r = rhs + ta_batch_offset(p->rhs_batch_stride, b0, b1, b2);
                if (l != widened_l) {
                    widen(l, p->lhs_row_stride, p->lhs_depth_stride, rows, rows_padded, p->depth, kp,
                          p->lhs_offset, lhs32);
                    widened_l = l;
                }
                if (r != widened_r) {
                    widen(r, p->rhs_col_stride, p->rhs_depth_stride, cols, cols_padded, p->depth, kp,
                          p->rhs_offset, rhs32);
                    widened_r = r;
                }
                if (p->fast_requant) {
                    multiply(p, lhs32, rhs32, out, 1);
                } else {
                    multiply(p, lhs32, rhs32, out, 0);
                }
                out += rows * cols;
            }
        }
    }
    return TA_OK;
}
