/* DEPTHWISE_CONV_2D fast form, part 1: requantization helpers and the int16 planes
 * (zero-point border, interior filled from the int8 input, in C or assembly).
 * Internal to ta_depthwise_conv2d_s8_fast.c, which includes it once, after the previous part: static helpers only. */
#ifndef TA_DW_FAST_PLANES_H
#define TA_DW_FAST_PLANES_H

#include "ta_depthwise_conv2d_s8_fast.h"
#include "ta_dsp.h"

/* The assembly channel needs 14 free registers: not at -O0, where r7 is the frame pointer. */
#if TA_HAVE_DSP && defined(__OPTIMIZE__)
#define DW_ASM 1
#else
#define DW_ASM 0
#endif

#if TA_HAVE_DSP
/* acc + lo(a) * hi(b). */
TA_INLINE int32_t dw_smlabt(int32_t a, int32_t b, int32_t acc) { return __smlabt(a, b, acc); }
/* acc + (a * b + 2^31) / 2^32, rounded on the 64-bit sum acc * 2^32 + a * b. */
TA_INLINE int32_t dw_smmlar(int32_t a, int32_t b, int32_t acc) {
    int32_t result;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
    return result;
}
TA_INLINE int32_t dw_ssat8(int32_t x) { return __ssat(x, 8); }
/* Two words at ptr (word aligned), then ptr += bytes: one post-indexed LDRD. */
#define DW_LOAD_PAIR_INC(ptr, lo, hi, bytes)                                              \
    __asm__("ldrd %0, %1, [%2], #" #bytes : "=r"(lo), "=r"(hi), "+r"(ptr)                   \
            : "m"(*(const ta_pair *)(const void *)(ptr)))
#else
TA_INLINE int32_t dw_smlabt(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(ta_lo16(a) * ta_hi16(b)));
}
TA_INLINE int32_t dw_smmlar(int32_t a, int32_t b, int32_t acc) {
    /* acc + floor((a * b + 2^31) / 2^32), wrapping like the instruction */
    return (int32_t)((uint32_t)acc + (uint32_t)(((int64_t)a * (int64_t)b + (1LL << 31)) >> 32));
}
TA_INLINE int32_t dw_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
#define DW_LOAD_PAIR_INC(ptr, lo, hi, bytes)                                              \
    do {                                                                                  \
        (lo) = ta_load32(ptr);                                                            \
        (hi) = ta_load32((const int8_t *)(const void *)(ptr) + 4);                       \
        (ptr) = (const int16_t *)(const void *)((const int8_t *)(const void *)(ptr) + (bytes)); \
    } while (0)
#endif

/* Per output channel constants (see the header). */
typedef struct {
    int32_t bias, multiplier, round, right;
} dw_channel;

TA_INLINE int32_t requantize(int32_t acc2, const dw_channel *k) {
    int32_t x = dw_smmlar(acc2, k->multiplier, k->round);
    x += acc2 >> 31;
    return x >> k->right;
}

/* full: act range is the whole int8 range (a constant at every call, so it folds away). */
TA_INLINE int8_t finish(int32_t acc2, const dw_channel *k, int full, int32_t lo, int32_t hi) {
    const int32_t y = requantize(acc2, k);
    return (int8_t)(full ? dw_ssat8(y) : ta_clamp_s8(y, lo, hi));
}

#if !DW_ASM
/* The plane's border (everything outside the image) holds the input zero
 * point; it is the same for every channel, so it is written once per layer. */
static void fill_border(const ta_depthwise_fast_params *p, int16_t *plane) {
    const int16_t zp = (int16_t)p->input_zero_point;
    const int32_t pw = p->plane_w, x_end = ta_min32(p->pad_left + p->input.w, pw);
    for (int32_t py = 0; py < p->plane_h; ++py) {
        int16_t *row = plane + py * pw;
        const int32_t iy = py - p->pad_top;
        const int inside_row = iy >= 0 && iy < p->input.h;
        for (int32_t px = inside_row ? x_end : 0; px < pw; ++px) {
            row[px] = zp;
        }
        for (int32_t px = inside_row ? ta_min32(p->pad_left, pw) : 0; px > 0; --px) {
            row[px - 1] = zp;
        }
    }
}
#endif

#if DW_ASM
/* On DSP cores the whole of the planes is set to the input zero point instead (four STRD of two
 * words per step: cheaper than the border's short runs; the interior is written later).
 * words: int32 words of scratch (plane_w is even), scratch word aligned. */
static void fill_zero_point_asm(int16_t *planes, int32_t words, int32_t zp) {
    int32_t zz = (int32_t)((uint32_t)(uint16_t)zp * 0x10001u), zz2 = zz, n;
    __asm__ volatile(
        "lsrs %[n], %[words], #3\n\t"
        "beq 2f\n\t"
        "1:\n\t"
        "strd %[zz], %[zz2], [%[dst]], #8\n\t"
        "strd %[zz], %[zz2], [%[dst]], #8\n\t"
        "strd %[zz], %[zz2], [%[dst]], #8\n\t"
        "strd %[zz], %[zz2], [%[dst]], #8\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        "2:\n\t"
        "ands %[words], %[words], #7\n\t"
        "beq 4f\n\t"
        "3:\n\t"
        "str %[zz], [%[dst]], #4\n\t"
        "subs %[words], %[words], #1\n\t"
        "bne 3b\n\t"
        "4:\n\t"
        : [dst] "+r"(planes), [words] "+r"(words), [n] "=&r"(n)
        : [zz] "r"(zz), [zz2] "r"(zz2)
        : "cc", "memory");
}
#endif

/* Where the image goes in the plane; computed once per layer. */
typedef struct {
    int32_t rows, cols;          /* image rows and columns that land in the plane */
    int32_t in_c;                /* byte stride between horizontal neighbours (in_x_stride) */
    int32_t src_skip;            /* bytes from a row's last used pixel to the next row */
    int32_t dst_skip;            /* int16 from a plane row's last interior value to the next row's first */
    int32_t dst_first;           /* int16 offset of the first interior value */
    int32_t asm_k[6];            /* fill_interior_asm's constants */
} dw_fill;

static dw_fill fill_layout(const ta_depthwise_fast_params *p) {
    dw_fill f;
    f.rows = ta_min32(p->input.h, p->plane_h - p->pad_top);
    f.cols = ta_min32(p->input.w, p->plane_w - p->pad_left);
    f.in_c = p->in_x_stride;
    f.src_skip = p->in_y_stride - f.cols * f.in_c;
    f.dst_skip = p->plane_w - f.cols;
    f.dst_first = p->pad_top * p->plane_w + p->pad_left;
    f.asm_k[0] = f.rows;
    f.asm_k[1] = f.cols >> 2;
    f.asm_k[2] = f.cols & 3;
    f.asm_k[3] = f.in_c;
    f.asm_k[4] = f.src_skip;
    f.asm_k[5] = 2 * f.dst_skip;
    return f;
}

#if DW_ASM
/* The fill in assembly: per row, four values per step (LDRSB x4, PKHBT x2, two post-indexed
 * word stores), then two, then one. k = {rows, quads per row, cols % 4, in_c, src_skip bytes,
 * dst_skip bytes}; rows >= 1. */
static void fill_interior_asm(const int32_t *k, const int8_t *src, int16_t *dst) {
    int32_t rows, n, c1, c2, c3, x0, x1, x2, x3;
    __asm__ volatile(
        "ldr %[c1], [%[k], #12]\n\t"
        "add %[c2], %[c1], %[c1]\n\t"
        "add %[c3], %[c2], %[c1]\n\t"
        "ldr %[rows], [%[k], #0]\n\t"
        "1:\n\t"
        "ldr %[n], [%[k], #4]\n\t"
        "cmp %[n], #0\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        "ldrsb %[x0], [%[src]]\n\t"
        "ldrsb %[x1], [%[src], %[c1]]\n\t"
        "ldrsb %[x2], [%[src], %[c2]]\n\t"
        "ldrsb %[x3], [%[src], %[c3]]\n\t"
        "add %[src], %[src], %[c1], lsl #2\n\t"
        "pkhbt %[x0], %[x0], %[x1], lsl #16\n\t"
        "pkhbt %[x2], %[x2], %[x3], lsl #16\n\t"
        "str %[x0], [%[dst]], #4\n\t"
        "str %[x2], [%[dst]], #4\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        "ldr %[n], [%[k], #8]\n\t"
        "tst %[n], #2\n\t"
        "beq 4f\n\t"
        "ldrsb %[x0], [%[src]]\n\t"
        "ldrsb %[x1], [%[src], %[c1]]\n\t"
        "add %[src], %[src], %[c2]\n\t"
        "pkhbt %[x0], %[x0], %[x1], lsl #16\n\t"
        "str %[x0], [%[dst]], #4\n\t"
        "4:\n\t"
        "tst %[n], #1\n\t"
        "beq 5f\n\t"
        "ldrsb %[x0], [%[src]]\n\t"
        "add %[src], %[src], %[c1]\n\t"
        "strh %[x0], [%[dst]], #2\n\t"
        "5:\n\t"
        "ldrd %[n], %[x0], [%[k], #16]\n\t"
        "add %[src], %[src], %[n]\n\t"
        "add %[dst], %[dst], %[x0]\n\t"
        "subs %[rows], %[rows], #1\n\t"
        "bne 1b\n\t"
        : [src] "+r"(src), [dst] "+r"(dst), [rows] "=&r"(rows), [n] "=&r"(n), [c1] "=&r"(c1), [c2] "=&r"(c2),
          [c3] "=&r"(c3), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3)
        : [k] "r"(k)
        : "cc", "memory");
}
#endif

#if DW_ASM
/* Four channels at once (src 4-channel aligned in a pixel): per row, four pixels per step, each
 * pair of pixels as two word loads, PKHBT/PKHTB (channels 0,1 | 2,3 of both pixels), four SXTB16
 * and four post-indexed word stores (planes 0..3 are ps bytes apart), then a pair and a single
 * pixel. k as in fill_interior_asm; rows >= 1. */
#define DW_FILL4_PAIR(LA, LB)                    \
    "ldr %[a], [%[src]" LA "]\n\t"              \
    "ldr %[b], [%[src], " LB "]\n\t"            \
    "pkhbt %[x], %[a], %[b], lsl #16\n\t"       \
    "pkhtb %[b], %[b], %[a], asr #16\n\t"       \
    "sxtb16 %[a], %[x], ror #8\n\t"             \
    "sxtb16 %[x], %[x]\n\t"                     \
    "sxtb16 %[t], %[b], ror #8\n\t"             \
    "sxtb16 %[b], %[b]\n\t"                     \
    "str %[a], [%[dst], %[ps]]\n\t"             \
    "str %[x], [%[dst]], #4\n\t"                \
    "str %[t], [%[dst2], %[ps]]\n\t"            \
    "str %[b], [%[dst2]], #4\n\t"
static void fill4_interior_asm(const int32_t *k, const int8_t *src, int16_t *dst, int32_t ps) {
    int16_t *dst2 = (int16_t *)(void *)((int8_t *)(void *)dst + 2 * ps);
    int32_t rows, n, c1, c2, c3, a, b, x, t;
    __asm__ volatile(
        "ldr %[c1], [%[k], #12]\n\t"
        "add %[c2], %[c1], %[c1]\n\t"
        "add %[c3], %[c2], %[c1]\n\t"
        "ldr %[rows], [%[k], #0]\n\t"
        "1:\n\t"
        "ldr %[n], [%[k], #4]\n\t"
        "cmp %[n], #0\n\t"
        "beq 3f\n\t"
        "2:\n\t"
        DW_FILL4_PAIR("", "%[c1]")
        DW_FILL4_PAIR(", %[c2]", "%[c3]")
        "add %[src], %[src], %[c1], lsl #2\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        "ldr %[n], [%[k], #8]\n\t"
        "lsls %[n], %[n], #31\n\t"           /* C: a pair, N: a single (no flags are set until 5:) */
        "bcc 4f\n\t"
        DW_FILL4_PAIR("", "%[c1]")
        "add %[src], %[src], %[c2]\n\t"
        "4:\n\t"
        "bpl 5f\n\t"
        "ldr %[a], [%[src]]\n\t"
        "add %[src], %[src], %[c1]\n\t"
        "sxtb16 %[x], %[a]\n\t"
        "sxtb16 %[a], %[a], ror #8\n\t"
        "strh %[a], [%[dst], %[ps]]\n\t"
        "strh %[x], [%[dst]], #2\n\t"
        "lsr %[a], %[a], #16\n\t"
        "lsr %[x], %[x], #16\n\t"
        "strh %[a], [%[dst2], %[ps]]\n\t"
        "strh %[x], [%[dst2]], #2\n\t"
        "5:\n\t"
        "ldrd %[n], %[x], [%[k], #16]\n\t"
        "add %[src], %[src], %[n]\n\t"
        "add %[dst], %[dst], %[x]\n\t"
        "add %[dst2], %[dst2], %[x]\n\t"
        "subs %[rows], %[rows], #1\n\t"
        "bne 1b\n\t"
        : [src] "+r"(src), [dst] "+r"(dst), [dst2] "+r"(dst2), [rows] "=&r"(rows), [n] "=&r"(n),
          [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3), [a] "=&r"(a), [b] "=&r"(b), [x] "=&r"(x),
          [t] "=&r"(t)
        : [k] "r"(k), [ps] "r"(ps)
        : "cc", "memory");
}
#endif

/* Widen one channel of the image (src points at its first value) into the plane's interior. */
static void fill_interior(const dw_fill *f, const int8_t *src, int16_t *plane) {
#if DW_ASM
    if (f->rows > 0) {
        fill_interior_asm(f->asm_k, src, plane + f->dst_first);
    }
    return;
#endif
    const int32_t in_c = f->in_c, cols = f->cols;
    int16_t *dst = plane + f->dst_first;
    for (int32_t iy = f->rows; iy > 0; --iy) {
        int32_t n = cols;
        for (; n >= 4; n -= 4) {
            const int16_t x0 = src[0], x1 = src[in_c], x2 = src[2 * in_c], x3 = src[3 * in_c];
            src += 4 * in_c;
            dst[0] = x0;
            dst[1] = x1;
            dst[2] = x2;
            dst[3] = x3;
            dst += 4;
        }
        if (n & 2) {
            const int16_t x0 = src[0], x1 = src[in_c];
            src += 2 * in_c;
            dst[0] = x0;
            dst[1] = x1;
            dst += 2;
        }
        if (n & 1) {
            *dst++ = *src;
            src += in_c;
        }
        src += f->src_skip;
        dst += f->dst_skip;
    }
}

#endif /* TA_DW_FAST_PLANES_H */
