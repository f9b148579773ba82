/* MAX_POOL_2D int8, fast form (see the header). The same window as TFLM's
 * reference (taps outside the image are skipped, not padded), the maximum
 * taken four channels at a time: SSUB8 sets one GE flag per byte, SEL keeps
 * the larger byte. Channels beyond a multiple of four are done one by one. */
#include "ta_max_pool_s8_fast.h"
#include "ta_dsp.h"

/* Byte-wise signed maximum (larger = 1) or minimum (larger = 0) of two words. */
TA_INLINE int32_t pick_s8x4(int32_t a, int32_t b, int larger) {
#if TA_HAVE_DSP
    int32_t result, difference;
    if (larger) {
        __asm__("ssub8 %1, %2, %3\n\tsel %0, %2, %3" : "=r"(result), "=&r"(difference) : "r"(a), "r"(b) : "cc");
    } else {
        __asm__("ssub8 %1, %2, %3\n\tsel %0, %3, %2" : "=r"(result), "=&r"(difference) : "r"(a), "r"(b) : "cc");
    }
    (void)difference;
    return result;
#else
    uint32_t result = 0;
    for (int lane = 0; lane < 4; ++lane) {
        const int8_t x = (int8_t)((uint32_t)a >> (8 * lane)), y = (int8_t)((uint32_t)b >> (8 * lane));
        result |= (uint32_t)(uint8_t)((x > y) == (larger != 0) ? x : y) << (8 * lane);
    }
    return (int32_t)result;
#endif
}

TA_INLINE int32_t max_s8x4(int32_t a, int32_t b) { return pick_s8x4(a, b, 1); }
TA_INLINE int32_t min_s8x4(int32_t a, int32_t b) { return pick_s8x4(a, b, 0); }

TA_INLINE int32_t splat_s8(int32_t v) { return (int32_t)((uint32_t)(uint8_t)v * 0x01010101u); }

ta_status ta_max_pool_s8_fast(const ta_pool_params *p, const int8_t *input, int8_t *output) {
    const int32_t in_h = p->input.h, in_w = p->input.w, depth = p->input.c;
    const int32_t words = depth >> 2;
    const int clamp = p->act_min > -128 || p->act_max < 127;
    const int32_t lo4 = splat_s8(p->act_min), hi4 = splat_s8(p->act_max);
    const size_t row = (size_t)in_w * depth;
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *image = input + (size_t)b * in_h * row;
        for (int32_t oy = 0; oy < p->output.h; ++oy) {
            const int32_t y_origin = oy * p->stride_h - p->pad_top;
            const int32_t y0 = ta_max32(0, -y_origin), y1 = ta_min32(p->filter_h, in_h - y_origin);
            for (int32_t ox = 0; ox < p->output.w; ++ox) {
                const int32_t x_origin = ox * p->stride_w - p->pad_left;
                const int32_t x0 = ta_max32(0, -x_origin), x1 = ta_min32(p->filter_w, in_w - x_origin);
                const int8_t *first = image + (size_t)(y_origin + y0) * row + (size_t)(x_origin + x0) * depth;
                for (int32_t w = 0; w < words; ++w) {
                    const int8_t *tap_row = first + 4 * w;
                    int32_t best = ta_load32(tap_row);
                    for (int32_t ky = y0; ky < y1; ++ky, tap_row += row) {
                        const int8_t *tap = tap_row;
                        for (int32_t kx = x0; kx < x1; ++kx, tap += depth) {
                            best = max_s8x4(best, ta_load32(tap));
                        }
                    }
                    if (clamp) {
                        best = min_s8x4(max_s8x4(best, lo4), hi4);
                    }
                    ta_store32(output + 4 * w, best);
                }
                for (int32_t c = 4 * words; c < depth; ++c) {
                    const int8_t *tap_row = first + c;
                    int32_t best = -128;
                    for (int32_t ky = y0; ky < y1; ++ky, tap_row += row) {
                        for (int32_t kx = 0; kx < x1 - x0; ++kx) {
                            best = ta_max32(best, tap_row[kx * depth]);
                        }
                    }
                    output[c] = (int8_t)ta_clamp32(best, p->act_min, p->act_max);
                }
                output += depth;
            }
        }
    }
    return TA_OK;
}
