/* DEPTHWISE_CONV_2D fast form, part 3: one channel in C (3x3, tap pairs, any
 * window) and the choice of path per channel.
 * Internal to ta_depthwise_conv2d_s8_fast.c, which includes it once, after the previous part: static helpers only. */
#ifndef TA_DW_FAST_CHANNEL_H
#define TA_DW_FAST_CHANNEL_H

#include "ta_depthwise_conv2d_s8_fast.h"
#include "ta_dsp.h"

TA_INLINE void channel_3x3(const ta_depthwise_fast_params *p, const int16_t *plane, const int32_t *w,
                           const dw_channel *k, int8_t *output, int stride2, int full) {
    const int32_t out_w = p->output.w, out_h = p->output.h, step = p->out_x_stride, pw = p->plane_w;
    const int32_t row_step = p->stride_h * pw;
    const int32_t w01a = w[0], w12a = w[1], w01b = w[2], w12b = w[3], w01c = w[4], w12c = w[5];
    const dw_channel kk = *k;      /* a local copy: the byte stores could alias *k */
    const int32_t bias = kk.bias, lo = p->act_min, hi = p->act_max;
    const int32_t pairs = out_w >> 1;
    const int16_t *x = plane;
    for (int32_t oy = 0; oy < out_h; ++oy, x += row_step) {
        const int16_t *r0 = x, *r1 = x + pw, *r2 = x + 2 * pw;
        int8_t *out = output + (size_t)oy * p->out_y_stride;
        for (int32_t i = pairs; i > 0; --i) {
            int32_t a0 = bias, a1 = bias;
            if (stride2) {
                DW_ROW_S2(r0, w01a, w12a);
                DW_ROW_S2(r1, w01b, w12b);
                DW_ROW_S2(r2, w01c, w12c);
            } else {
                DW_ROW_S1(r0, w01a, w12a);
                DW_ROW_S1(r1, w01b, w12b);
                DW_ROW_S1(r2, w01c, w12c);
            }
            out[0] = finish(a0, &kk, full, lo, hi);
            out[step] = finish(a1, &kk, full, lo, hi);
            out += 2 * step;
        }
        if (out_w & 1) {
            int32_t a0 = bias;
            DW_ROW_ONE(r0, w01a, w12a);
            DW_ROW_ONE(r1, w01b, w12b);
            DW_ROW_ONE(r2, w01c, w12c);
            out[0] = finish(a0, &kk, full, lo, hi);
        }
    }
}

/* Windows other than 3x3 at stride_w 1 or 2 (sx): four outputs per step, one SMLAD per pair
 * of taps. Output ox's taps in a plane row start at column ox * sx; its pair j is the word at
 * column ox * sx + 2 * j (unaligned for odd columns at stride 1: an LDR all the same), against
 * weight word j of the filter row. An odd filter_w's last weight word has a zero high half, so
 * the plane value past the window (inside the plane: plane_w allows for it) adds nothing.
 * J: weight words per filter row; a constant where it is inlined with one, so the pair loop
 * unrolls and the loads shared between neighbouring outputs at stride 2 are made once. */
/* Pair j of four neighbouring outputs (the loads at equal addresses are made once). */
#define DW_PAIRS_QUAD(j)                                                   \
    do {                                                                   \
        const int32_t wj = wr[j];                                          \
        a0 = ta_smlad(ta_load32(r + 2 * (j)), wj, a0);                     \
        a1 = ta_smlad(ta_load32(r + sx + 2 * (j)), wj, a1);                \
        a2 = ta_smlad(ta_load32(r + 2 * sx + 2 * (j)), wj, a2);            \
        a3 = ta_smlad(ta_load32(r + 3 * sx + 2 * (j)), wj, a3);            \
    } while (0)
TA_INLINE void channel_pairs(const ta_depthwise_fast_params *p, const int16_t *plane, const int32_t *w,
                             const dw_channel *k, int8_t *output, int32_t sx, int full, int32_t J) {
    const int32_t out_w = p->output.w, step = p->out_x_stride, pw = p->plane_w, fh = p->filter_h;
    const int32_t row_step = p->stride_h * pw;
    const dw_channel kk = *k;      /* a local copy: the byte stores could alias *k */
    const int32_t bias = kk.bias, lo = p->act_min, hi = p->act_max;
    for (int32_t oy = 0; oy < p->output.h; ++oy) {
        const int16_t *x = plane + oy * row_step;
        int8_t *out = output + (size_t)oy * p->out_y_stride;
        int32_t ox = out_w;
        for (; ox >= 4; ox -= 4, x += 4 * sx) {
            int32_t a0 = bias, a1 = bias, a2 = bias, a3 = bias;
            const int16_t *r = x;
            const int32_t *wr = w;
            for (int32_t ky = fh; ky > 0; --ky, r += pw, wr += J) {
                if (J == 3) {     /* written out: GCC -O2 keeps a three-trip loop (and its loads) */
                    DW_PAIRS_QUAD(0);
                    DW_PAIRS_QUAD(1);
                    DW_PAIRS_QUAD(2);
                    continue;
                }
                for (int32_t j = 0; j < J; ++j) {
                    DW_PAIRS_QUAD(j);
                }
            }
            out[0] = finish(a0, &kk, full, lo, hi);
            out[step] = finish(a1, &kk, full, lo, hi);
            out[2 * step] = finish(a2, &kk, full, lo, hi);
            out[3 * step] = finish(a3, &kk, full, lo, hi);
            out += 4 * step;
        }
        for (; ox > 0; --ox, x += sx) {
            int32_t a0 = bias;
            const int16_t *r = x;
            const int32_t *wr = w;
            for (int32_t ky = fh; ky > 0; --ky, r += pw, wr += J) {
                for (int32_t j = 0; j < J; ++j) {
                    a0 = ta_smlad(ta_load32(r + 2 * j), wr[j], a0);
                }
            }
            *out = finish(a0, &kk, full, lo, hi);
            out += step;
        }
    }
}

/* channel_pairs with three weight words per filter row (5x5, 6x6 windows) unrolled, per stride, when
 * the activation range is the full int8 range; other layers with the pair loop (less code). Not inlined: the 3x3 layers' channel loop
 * keeps its registers. */
__attribute__((noinline)) static void channel_pairs_any(const ta_depthwise_fast_params *p, const int16_t *plane, const int32_t *w,
                              const dw_channel *k, int8_t *output) {
    const int32_t sx = p->stride_w, full = p->full_range;
    if (p->pair_words == 3 && full) {
        if (sx == 2) {
            channel_pairs(p, plane, w, k, output, 2, 1, 3);
        } else {
            channel_pairs(p, plane, w, k, output, 1, 1, 3);
        }
        return;
    }
    channel_pairs(p, plane, w, k, output, sx, 0, p->pair_words);
}

/* Any window and stride: one output at a time, one tap at a time. */
static void channel_generic(const ta_depthwise_fast_params *p, const int16_t *plane, const int16_t *w,
                            const dw_channel *k, int8_t *output) {
    const int32_t out_w = p->output.w, pw = p->plane_w;
    for (int32_t oy = 0; oy < p->output.h; ++oy) {
        for (int32_t ox = 0; ox < out_w; ++ox) {
            const int16_t *x = plane + oy * p->stride_h * pw + ox * p->stride_w;
            int32_t acc = k->bias;
            for (int32_t ky = 0; ky < p->filter_h; ++ky) {
                for (int32_t kx = 0; kx < p->filter_w; ++kx) {
                    acc = ta_smlabb(x[ky * pw + kx], w[ky * p->filter_w + kx], acc);
                }
            }
            output[(size_t)oy * p->out_y_stride + (size_t)ox * p->out_x_stride] =
                finish(acc, k, 0, p->act_min, p->act_max);
        }
    }
}

static void channel(const ta_depthwise_fast_params *p, const int16_t *plane, const void *weights, int32_t oc,
                    int8_t *output) {
    const dw_channel *k = (const dw_channel *)(const void *)(p->channel + 4 * oc);
    output += oc;
    if (p->pair_words) {
        TA_TAKES(TA_PATH_DW_PAIRS);
        channel_pairs_any(p, plane, (const int32_t *)weights + p->filter_h * p->pair_words * oc, k, output);
        return;
    }
    if (!p->taps3x3) {
        TA_TAKES(TA_PATH_DW_GENERIC);
        const int32_t per_channel = (p->filter_h * p->filter_w + 1) & ~1;
        channel_generic(p, plane, (const int16_t *)weights + per_channel * oc, k, output);
        return;
    }
    /* In assembly builds only layers with a narrower activation range come here. */
    TA_TAKES(!DW_ASM || TA_PATH_DW_3X3_C);
    const int32_t *w = (const int32_t *)weights + 6 * oc;
    if (p->stride_w == 2) {
        if (p->full_range) {
            channel_3x3(p, plane, w, k, output, 1, 1);
        } else {
            channel_3x3(p, plane, w, k, output, 1, 0);
        }
    } else if (p->full_range) {
        channel_3x3(p, plane, w, k, output, 0, 1);
    } else {
        channel_3x3(p, plane, w, k, output, 0, 0);
    }
}

#endif /* TA_DW_FAST_CHANNEL_H */
