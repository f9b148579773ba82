/* AVERAGE_POOL_2D int8, fast form (see the header). The same window as TFLM's
 * reference (only the taps inside the image count), the sums taken four
 * channels per word: SXTAB16 adds bytes 0 and 2, SXTAB16 ROR #8 bytes 1 and 3,
 * into two 16-bit lanes each. A window has at most 256 taps (checked by the
 * generator), so no lane wraps and every lane holds the exact sum. Each sum is
 * then divided as TFLM does: to nearest, ties away from zero, then clamped to
 * the activation range. Channels beyond a multiple of four go one by one. */
#include "ta_avg_pool_s8_fast.h"
#include "ta_dsp.h"

typedef struct {
    int32_t count, half, act_min, act_max;
} window_mean;

/* TFLM's rounded division of one channel's sum by the window's count. */
TA_INLINE int8_t mean_of(int32_t sum, const window_mean *m) {
    const int32_t q = (sum > 0 ? sum + m->half : sum - m->half) / m->count;
    return (int8_t)ta_clamp32(q, m->act_min, m->act_max);
}

/* Four channels' means from the lanes of even (channels 0, 2) and odd (1, 3). */
TA_INLINE void store_means(int8_t *out, int32_t even, int32_t odd, const window_mean *m) {
    out[0] = mean_of((int16_t)even, m);
    out[1] = mean_of((int16_t)odd, m);
    out[2] = mean_of(even >> 16, m);
    out[3] = mean_of(odd >> 16, m);
}

/* Sixteen channels: four words per tap, eight lane accumulators. */
static void mean_of_16(const int8_t *tap, int32_t rows, int32_t taps, size_t depth, size_t next_row,
                       int8_t *out, const window_mean *m) {
    int32_t e0 = 0, o0 = 0, e1 = 0, o1 = 0, e2 = 0, o2 = 0, e3 = 0, o3 = 0;
    for (int32_t ky = 0; ky < rows; ++ky, tap += next_row) {
        for (int32_t kx = 0; kx < taps; ++kx, tap += depth) {
            const int32_t w0 = ta_load32(tap), w1 = ta_load32(tap + 4);
            const int32_t w2 = ta_load32(tap + 8), w3 = ta_load32(tap + 12);
            e0 = ta_sxtab16(e0, w0); o0 = ta_sxtab16_ror8(o0, w0);
            e1 = ta_sxtab16(e1, w1); o1 = ta_sxtab16_ror8(o1, w1);
            e2 = ta_sxtab16(e2, w2); o2 = ta_sxtab16_ror8(o2, w2);
            e3 = ta_sxtab16(e3, w3); o3 = ta_sxtab16_ror8(o3, w3);
        }
    }
    store_means(out, e0, o0, m);
    store_means(out + 4, e1, o1, m);
    store_means(out + 8, e2, o2, m);
    store_means(out + 12, e3, o3, m);
}

/* Four channels: one word per tap. */
static void mean_of_4(const int8_t *tap, int32_t rows, int32_t taps, size_t depth, size_t next_row,
                      int8_t *out, const window_mean *m) {
    int32_t even = 0, odd = 0;
    for (int32_t ky = 0; ky < rows; ++ky, tap += next_row) {
        for (int32_t kx = 0; kx < taps; ++kx, tap += depth) {
            const int32_t w = ta_load32(tap);
            even = ta_sxtab16(even, w);
            odd = ta_sxtab16_ror8(odd, w);
        }
    }
    store_means(out, even, odd, m);
}

ta_status ta_avg_pool_s8_fast(const ta_pool_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const size_t row = (size_t)in_w * depth;
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *image = input + (size_t)b * in_h * row;
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t y_origin = oy * p->stride_h - p->pad_top;
            const int32_t y0 = ta_max32(0, -y_origin), y1 = ta_min32(p->filter_h, in_h - y_origin);
            for (int32_t ox = 0; ox < p->output.w; ++ox) {
                const int32_t x_origin = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ta_max32(0, -x_origin), x1 = ta_min32(p->filter_w, in_w - x_origin);
                const int32_t rows = y1 - y0, taps = x1 - x0;
                if (rows <= 0 || taps <= 0) {
                    return TA_ERROR;
                }
                const window_mean m = {rows * taps, rows * taps / 2, p->act_min, p->act_max};
                const int8_t *first = image + (size_t)(y_origin + y0) * row + (size_t)(x_origin + x0) * depth;
                const size_t next_row = row - (size_t)taps * depth;    /* from past a row's last tap to the next row */
                int32_t c = 0;
                for (; c + 16 <= depth; c += 16) {
                    mean_of_16(first + c, rows, taps, (size_t)depth, next_row, output + c, &m);
                }
                for (; c + 4 <= depth; c += 4) {
                    mean_of_4(first + c, rows, taps, (size_t)depth, next_row, output + c, &m);
                }
                for (; c < depth; ++c) {
                    const int8_t *tap = first + c;
                    int32_t sum = 0;
                    for (int32_t ky = 0; ky < rows; ++ky, tap += next_row) {
                        for (int32_t kx = 0; kx < taps; ++kx, tap += depth) {
                            sum += *tap;
                        }
                    }
                    output[c] = mean_of(sum, &m);
                }
                output += depth;
            }
        }
    }
    return TA_OK;
}
