/* DEPTHWISE_CONV_2D int8, fast form (see the header). Bit-exact with TFLM:
 * padding holds the input zero point and the bias absorbs the input offset,
 * so every tap contributes w * x_raw. Weights and bias come doubled, so the
 * accumulator is the 2 * acc that ta_requantize_fast would form, and the
 * requantization is
 *   x = SMMLAR(2 * acc, multiplier, round);  x += (2 * acc) >> 31;  x >>= e
 * i.e. ta_requantize_fast with its rounding constant folded into the multiply
 * (SMMLAR adds round * 2^32 before rounding, which adds exactly round) and the
 * sign of x taken from the accumulator: they differ only when x == 0, and
 * (round - 1) >> e == round >> e because round = 2^(e-1) + offset * 2^e. */
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

/* 3x3, two outputs per step. Per plane row, with P01 = (x0,x1), P23 = (x2,x3),
 * P45 = (x4,x5) and the weight words W01 = (w0,w1), W12 = (w1,w2):
 *   stride 1: out0 += P01.W01 + lo(P23)*hi(W12)   out1 += hi(P01)*lo(W01) + P23.W12
 *   stride 2: out0 += P01.W01 + lo(P23)*hi(W12)   out1 += P23.W01 + lo(P45)*hi(W12)
 * The rows are written out by hand: a loop over them keeps arrays on the stack. */
#define DW_ROW_S1(r, w01, w12)                                   \
    do {                                                         \
        int32_t p01, p23;                                        \
        DW_LOAD_PAIR_INC(r, p01, p23, 4);                        \
        a0 = dw_smlabt(p23, (w12), ta_smlad(p01, (w01), a0));    \
        a1 = ta_smlad(p23, (w12), ta_smlatb(p01, (w01), a1));    \
    } while (0)
#define DW_ROW_S2(r, w01, w12)                                   \
    do {                                                         \
        int32_t p01, p23;                                        \
        const int32_t p45 = ta_load32((r) + 4);                  \
        DW_LOAD_PAIR_INC(r, p01, p23, 8);                        \
        a0 = dw_smlabt(p23, (w12), ta_smlad(p01, (w01), a0));    \
        a1 = dw_smlabt(p45, (w12), ta_smlad(p23, (w01), a1));    \
    } while (0)
#define DW_ROW_ONE(r, w01, w12) (a0 = dw_smlabt(ta_load32((r) + 2), (w12), ta_smlad(ta_load32(r), (w01), a0)))

#if DW_ASM
/* The whole 3x3 channel in assembly when the activation range is the full int8 range (GCC
 * spills the 13 live values of the C loop). Per row: four outputs per step, then a pair and a
 * single output for out_w % 4. ctx holds, as int32:
 *   0-5: W01, W12 of the three weight rows, 6: bias, 7: multiplier, 8: round,
 *   9: right | out_x_stride << 8,
 *   10: out_x_stride, 11: quads per row, 12: out_w % 4, 13: bytes from a row pointer's end
 *   to the next row, 14: bytes from a row's last output to the next row's first (0 unless
 *   the layer is seen transposed), 15: where out ends for this channel (set here), 16: bytes
 *   from a channel's first output to that end (output rows * out_y_stride),
 *   17, 18: the next channel's weights and dw_channel (advanced here), 19: bytes from the row
 *   pointers' end to the next channel's plane, 20: bytes from out's end to the next channel's
 *   first output, 21: channels left (counted down here), 22: the row program (params rows_program).
 * Several channels per call (consecutive output channels): words 0-9 are copied in at each
 * channel's start, so the per-channel cost is a few dozen instructions, not a C call.
 * 14 registers: three row pointers, out, ctx, a counter and eight temporaries.
 *   stride 1, per plane row (x0..x5):  o0 += P01.W01 + lo(P23)hi(W12)   o1 += hi(P01)lo(W01) + P23.W12
 *                                      o2 += P23.W01 + lo(P45)hi(W12)   o3 += hi(P23)lo(W01) + P45.W12
 *   stride 2, per plane row (x0..x8):  o_j += P(4j).W01 + lo(P(4j+2))hi(W12) */
#define DW_REQ(A)                                \
    "smmlar %[p], %[" A "], %[wa], %[wb]\n\t"   \
    "add %[p], %[p], %[" A "], asr #31\n\t"     \
    "asr %[p], %[p], %[q]\n\t"                  \
    "ssat %[p], #8, %[p]\n\t"                   \
    "strb %[p], [%[out]]\n\t"                   \
    "add %[out], %[out], %[q], lsr #8\n\t"
/* Requantize a0 (then a1..a3) and store them out_x_stride apart (q: right | out_x_stride << 8,
 * ASR by a register reads its low byte). */
#define DW_REQ_FIRST                             \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t"         \
    "ldr %[q], [%[k], #36]\n\t"                  \
    "smmlar %[p], %[a0], %[wa], %[wb]\n\t"       \
    "add %[p], %[p], %[a0], asr #31\n\t"         \
    "asr %[p], %[p], %[q]\n\t"                   \
    "ssat %[p], #8, %[p]\n\t"                    \
    "strb %[p], [%[out]]\n\t"                    \
    "add %[out], %[out], %[q], lsr #8\n\t"
/* Requantize a0..a3 into out, s, 2s and 3s (s = out_x_stride, kept in a0, 3s in a1), then
 * advance out by 4s: one instruction less than four DW_REQs. */
#define DW_REQ_AT(A, WHERE)                      \
    "smmlar %[p], %[" A "], %[wa], %[wb]\n\t"   \
    "add %[p], %[p], %[" A "], asr #31\n\t"     \
    "asr %[p], %[p], %[q]\n\t"                  \
    "ssat %[p], #8, %[p]\n\t"                   \
    "strb %[p], [%[out]" WHERE "]\n\t"
#define DW_REQ_QUAD                              \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t"        \
    "ldr %[q], [%[k], #36]\n\t"                 \
    DW_REQ_AT("a0", "")                          \
    "lsr %[a0], %[q], #8\n\t"                   \
    "smmlar %[p], %[a1], %[wa], %[wb]\n\t"      \
    "add %[p], %[p], %[a1], asr #31\n\t"        \
    "add %[a1], %[a0], %[a0], lsl #1\n\t"       \
    "asr %[p], %[p], %[q]\n\t"                  \
    "ssat %[p], #8, %[p]\n\t"                   \
    "strb %[p], [%[out], %[a0]]\n\t"            \
    DW_REQ_AT("a2", ", %[a0], lsl #1")           \
    DW_REQ_AT("a3", ", %[a1]")                   \
    "add %[out], %[out], %[a0], lsl #2\n\t"
#define DW_ROW_END(LAST)                         \
    "ldrd %[p], %[q], [%[k], #52]\n\t"           \
    "add %[r0], %[r0], %[p]\n\t"                 \
    "add %[r1], %[r1], %[p]\n\t"                 \
    "add %[r2], %[r2], %[p]\n\t"                 \
    "add %[out], %[out], %[q]\n\t"               \
    LAST
/* Rows end at the channel's last output: ctx 15 (programs with a step loop) or n (set once). */
#define DW_ROW_LAST                              \
    "ldr %[n], [%[k], #60]\n\t"                  \
    "cmp %[out], %[n]\n\t"                       \
    "bne 1b\n\t"
#define DW_ROW_LAST_N                            \
    "cmp %[out], %[n]\n\t"                       \
    "bne 1b\n\t"
/* Copy the channel's weights and constants into ctx 0-9 and note where its output ends. */
#define DW_CHANNEL_START                         \
    "0:\n\t"                                    \
    "ldr %[p], [%[k], #68]\n\t"                 \
    "ldrd %[a0], %[a1], [%[p]], #8\n\t"         \
    "strd %[a0], %[a1], [%[k], #0]\n\t"         \
    "ldrd %[a0], %[a1], [%[p]], #8\n\t"         \
    "strd %[a0], %[a1], [%[k], #8]\n\t"         \
    "ldrd %[a0], %[a1], [%[p]], #8\n\t"         \
    "strd %[a0], %[a1], [%[k], #16]\n\t"        \
    "str %[p], [%[k], #68]\n\t"                 \
    "ldr %[p], [%[k], #72]\n\t"                 \
    "ldrd %[a0], %[a1], [%[p]], #8\n\t"         \
    "strd %[a0], %[a1], [%[k], #24]\n\t"        \
    "ldrd %[a0], %[a1], [%[p]], #8\n\t"         \
    "ldr %[n], [%[k], #40]\n\t"                 \
    "orr %[a1], %[a1], %[n], lsl #8\n\t"        \
    "strd %[a0], %[a1], [%[k], #32]\n\t"        \
    "str %[p], [%[k], #72]\n\t"                 \
    "ldr %[n], [%[k], #64]\n\t"                 \
    "add %[n], %[n], %[out]\n\t"                \
    "str %[n], [%[k], #60]\n\t"
/* Move the row pointers to the next channel's plane and out to its first output. */
#define DW_CHANNEL_END                           \
    "ldrd %[p], %[q], [%[k], #76]\n\t"          \
    "add %[r0], %[r0], %[p]\n\t"                \
    "add %[r1], %[r1], %[p]\n\t"                \
    "add %[r2], %[r2], %[p]\n\t"                \
    "add %[out], %[out], %[q]\n\t"              \
    "ldr %[n], [%[k], #84]\n\t"                 \
    "subs %[n], %[n], #1\n\t"                   \
    "str %[n], [%[k], #84]\n\t"                 \
    "bne 0b\n\t"
#define DW_OPERANDS                                                                            \
    : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [out] "+r"(out), [n] "=&r"(n),               \
      [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [p] "=&r"(p), [q] "=&r"(q), \
      [wa] "=&r"(wa), [wb] "=&r"(wb)                                                           \
    : [k] "r"(ctx)                                                                             \
    : "cc", "memory"
/* One output from the row at R (not advanced); both strides. */
#define DW_ONE_ROW(R, WOFF)                      \
    "ldrd %[p], %[q], [%[" R "]]\n\t"            \
    "ldrd %[wa], %[wb], [%[k], #" WOFF "]\n\t"   \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"
/* One output (the row pointers stay). */
#define DW_ONE                                   \
    "ldr %[a0], [%[k], #24]\n\t"                 \
    DW_ONE_ROW("r0", "0") DW_ONE_ROW("r1", "8") DW_ONE_ROW("r2", "16") \
    DW_REQ_FIRST

#define DW_Q1_ROW(R, WOFF)                       \
    "ldrd %[p], %[q], [%[" R "]], #8\n\t"        \
    "ldrd %[wa], %[wb], [%[k], #" WOFF "]\n\t"   \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "smlatb %[a1], %[p], %[wa], %[a1]\n\t"       \
    "smlad %[a1], %[q], %[wb], %[a1]\n\t"        \
    "smlad %[a2], %[q], %[wa], %[a2]\n\t"        \
    "smlatb %[a3], %[q], %[wa], %[a3]\n\t"       \
    "ldr %[p], [%[" R "]]\n\t"                   \
    "smlabt %[a2], %[p], %[wb], %[a2]\n\t"       \
    "smlad %[a3], %[p], %[wb], %[a3]\n\t"
#define DW_P1_ROW(R, WOFF)                       \
    "ldrd %[p], %[q], [%[" R "]], #4\n\t"        \
    "ldrd %[wa], %[wb], [%[k], #" WOFF "]\n\t"   \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "smlatb %[a1], %[p], %[wa], %[a1]\n\t"       \
    "smlad %[a1], %[q], %[wb], %[a1]\n\t"

/* Four outputs, stride 1 (the first row's products start from the bias). */
#define DW_S1_QUAD                               \
    "ldr %[a0], [%[k], #24]\n\t"                 \
    "ldrd %[p], %[q], [%[r0]], #8\n\t"           \
    "ldrd %[wa], %[wb], [%[k], #0]\n\t"          \
    "smlad %[a2], %[q], %[wa], %[a0]\n\t"        \
    "smlatb %[a3], %[q], %[wa], %[a0]\n\t"       \
    "smlatb %[a1], %[p], %[wa], %[a0]\n\t"       \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "smlad %[a1], %[q], %[wb], %[a1]\n\t"        \
    "ldr %[p], [%[r0]]\n\t"                      \
    "smlabt %[a2], %[p], %[wb], %[a2]\n\t"       \
    "smlad %[a3], %[p], %[wb], %[a3]\n\t"        \
    DW_Q1_ROW("r1", "8") DW_Q1_ROW("r2", "16")   \
    DW_REQ_QUAD
/* Two outputs, stride 1. The flags of the tail dispatch survive (no instruction here sets them). */
#define DW_S1_PAIR                               \
    "ldr %[a0], [%[k], #24]\n\t"                 \
    "ldrd %[p], %[q], [%[r0]], #4\n\t"           \
    "ldrd %[wa], %[wb], [%[k], #0]\n\t"          \
    "smlatb %[a1], %[p], %[wa], %[a0]\n\t"       \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "smlad %[a1], %[q], %[wb], %[a1]\n\t"        \
    DW_P1_ROW("r1", "8") DW_P1_ROW("r2", "16")   \
    DW_REQ_FIRST DW_REQ("a1")

/* A channel's rows, as a row program chosen per layer (no per-row dispatch where the layer's
 * out_w allows): any width (steps of four while out_w / 4 lasts, then the tails out_w % 4 says),
 * steps only, steps and a single, one step and a pair (out_w 6), a pair and a single (out_w 3).
 * Labels: 0 channel, 1 row, 2 step loop, 3-5 tails. Without a step loop n keeps the channel's
 * end (DW_CHANNEL_START leaves it there). */
#define DW_ROWS_ANY(QUAD, PAIR)                  \
    "1:\n\t"                                    \
    "ldr %[n], [%[k], #44]\n\t"                 \
    "cmp %[n], #0\n\t"                          \
    "beq 3f\n\t"                                \
    "2:\n\t"                                    \
    QUAD                                         \
    "subs %[n], %[n], #1\n\t"                   \
    "bne 2b\n\t"                                \
    "3:\n\t"                                    \
    "ldr %[n], [%[k], #48]\n\t"                 \
    "lsls %[n], %[n], #31\n\t"                  \
    "bcc 4f\n\t"                                \
    PAIR                                         \
    "4:\n\t"                                    \
    "bpl 5f\n\t"                                \
    DW_ONE                                       \
    "5:\n\t"                                    \
    DW_ROW_END(DW_ROW_LAST)
#define DW_ROWS_STEPS(QUAD, PAIR)                \
    "1:\n\t"                                    \
    "ldr %[n], [%[k], #44]\n\t"                 \
    "2:\n\t"                                    \
    QUAD                                         \
    "subs %[n], %[n], #1\n\t"                   \
    "bne 2b\n\t"                                \
    DW_ROW_END(DW_ROW_LAST)
#define DW_ROWS_STEPS_ONE(QUAD, PAIR)            \
    "1:\n\t"                                    \
    "ldr %[n], [%[k], #44]\n\t"                 \
    "2:\n\t"                                    \
    QUAD                                         \
    "subs %[n], %[n], #1\n\t"                   \
    "bne 2b\n\t"                                \
    DW_ONE                                       \
    DW_ROW_END(DW_ROW_LAST)
#define DW_ROWS_SIX(QUAD, PAIR)                  \
    "1:\n\t"                                    \
    QUAD                                         \
    PAIR                                         \
    DW_ROW_END(DW_ROW_LAST_N)
#define DW_ROWS_THREE(QUAD, PAIR)                \
    "1:\n\t"                                    \
    PAIR                                         \
    DW_ONE                                       \
    DW_ROW_END(DW_ROW_LAST_N)

/* count channels (see DW_CHANNEL_START / END) with row program ROWS. */
#define DW_CHANNELS_FN(NAME, ROWS, QUAD, PAIR)                                         \
    static void NAME(const int16_t *r0, int8_t *out, int32_t *ctx, int32_t pw) {       \
        const int16_t *r1 = r0 + pw, *r2 = r0 + 2 * pw;                                \
        int32_t n, a0, a1, a2, a3, p, q, wa, wb;                                       \
        __asm__ volatile(DW_CHANNEL_START ROWS(QUAD, PAIR) DW_CHANNEL_END DW_OPERANDS); \
    }

DW_CHANNELS_FN(s1_any, DW_ROWS_ANY, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_steps, DW_ROWS_STEPS, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_steps_one, DW_ROWS_STEPS_ONE, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_six, DW_ROWS_SIX, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_three, DW_ROWS_THREE, DW_S1_QUAD, DW_S1_PAIR)

#define DW_Q2_ROW(R, WOFF)                       \
    "ldrd %[p], %[q], [%[" R "]], #16\n\t"       \
    "ldrd %[wa], %[wb], [%[k], #" WOFF "]\n\t"   \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "smlad %[a1], %[q], %[wa], %[a1]\n\t"        \
    "ldrd %[p], %[q], [%[" R "], #-8]\n\t"       \
    "smlabt %[a1], %[p], %[wb], %[a1]\n\t"       \
    "smlad %[a2], %[p], %[wa], %[a2]\n\t"        \
    "smlabt %[a2], %[q], %[wb], %[a2]\n\t"       \
    "smlad %[a3], %[q], %[wa], %[a3]\n\t"        \
    "ldr %[p], [%[" R "]]\n\t"                   \
    "smlabt %[a3], %[p], %[wb], %[a3]\n\t"
#define DW_P2_ROW(R, WOFF)                       \
    "ldrd %[p], %[q], [%[" R "]], #8\n\t"        \
    "ldrd %[wa], %[wb], [%[k], #" WOFF "]\n\t"   \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "smlad %[a1], %[q], %[wa], %[a1]\n\t"        \
    "ldr %[p], [%[" R "]]\n\t"                   \
    "smlabt %[a1], %[p], %[wb], %[a1]\n\t"

/* Four outputs, stride 2; (x4,x5), (x6,x7) sit in a2, a3 until those become sums. */
#define DW_S2_QUAD                               \
    "ldr %[a0], [%[k], #24]\n\t"                 \
    "ldrd %[p], %[q], [%[r0]], #16\n\t"          \
    "ldrd %[wa], %[wb], [%[k], #0]\n\t"          \
    "smlad %[a1], %[q], %[wa], %[a0]\n\t"        \
    "ldrd %[a2], %[a3], [%[r0], #-8]\n\t"        \
    "smlabt %[a1], %[a2], %[wb], %[a1]\n\t"      \
    "smlad %[a2], %[a2], %[wa], %[a0]\n\t"       \
    "smlabt %[a2], %[a3], %[wb], %[a2]\n\t"      \
    "smlad %[a3], %[a3], %[wa], %[a0]\n\t"       \
    "smlad %[a0], %[p], %[wa], %[a0]\n\t"        \
    "smlabt %[a0], %[q], %[wb], %[a0]\n\t"       \
    "ldr %[p], [%[r0]]\n\t"                      \
    "smlabt %[a3], %[p], %[wb], %[a3]\n\t"       \
    DW_Q2_ROW("r1", "8") DW_Q2_ROW("r2", "16")   \
    DW_REQ_QUAD
/* Two outputs, stride 2. */
#define DW_S2_PAIR                               \
    "ldr %[a0], [%[k], #24]\n\t"                 \
    "mov %[a1], %[a0]\n\t"                       \
    DW_P2_ROW("r0", "0") DW_P2_ROW("r1", "8") DW_P2_ROW("r2", "16") \
    DW_REQ_FIRST DW_REQ("a1")

DW_CHANNELS_FN(s2_any, DW_ROWS_ANY, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_steps, DW_ROWS_STEPS, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_steps_one, DW_ROWS_STEPS_ONE, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_six, DW_ROWS_SIX, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_three, DW_ROWS_THREE, DW_S2_QUAD, DW_S2_PAIR)

/* The per-layer words of ctx (10-14, 16, 19, 20). */
static void layer_ctx(const ta_depthwise_fast_params *p, int32_t *ctx) {
    const int32_t out_w = p->output.w, stride2 = p->stride_w == 2;
    const int32_t quads = out_w >> 2, rem = out_w & 3;
    const int32_t consumed = (stride2 ? 16 : 8) * quads + ((rem & 2) ? (stride2 ? 8 : 4) : 0);
    const int32_t rows_bytes = 2 * p->output.h * p->stride_h * p->plane_w;
    ctx[10] = p->out_x_stride;
    ctx[11] = quads;
    ctx[12] = rem;
    ctx[13] = 2 * p->stride_h * p->plane_w - consumed;
    ctx[14] = p->out_y_stride - out_w * p->out_x_stride;
    ctx[16] = p->output.h * p->out_y_stride;
    ctx[22] = p->rows_program;
    /* one output channel per plane: on to the next plane; otherwise the same plane again */
    ctx[19] = (p->depth_multiplier == 1 ? 2 * p->plane_h * p->plane_w : 0) - rows_bytes;
    ctx[20] = 1 - ctx[16];
}

/* count consecutive output channels from oc, the first on plane; see layer_ctx for the next planes. */
static void channels_asm(const ta_depthwise_fast_params *p, const int16_t *plane, const void *weights,
                         int32_t oc, int32_t count, int8_t *output, int32_t *ctx) {
    ctx[17] = (int32_t)(uintptr_t)((const int32_t *)weights + 6 * oc);
    ctx[18] = (int32_t)(uintptr_t)(p->channel + 4 * oc);
    ctx[21] = count;
    typedef void (*rows_fn)(const int16_t *, int8_t *, int32_t *, int32_t);
    /* Ten row loops of 350 to 650 bytes: a model links those its layers take (ta_paths.h). */
    static const rows_fn programs[2][5] = {
        {TA_PATH_DW_S1_ANY ? s1_any : NULL, TA_PATH_DW_S1_STEPS ? s1_steps : NULL,
         TA_PATH_DW_S1_STEPS_ONE ? s1_steps_one : NULL, TA_PATH_DW_S1_SIX ? s1_six : NULL,
         TA_PATH_DW_S1_THREE ? s1_three : NULL},
        {TA_PATH_DW_S2_ANY ? s2_any : NULL, TA_PATH_DW_S2_STEPS ? s2_steps : NULL,
         TA_PATH_DW_S2_STEPS_ONE ? s2_steps_one : NULL, TA_PATH_DW_S2_SIX ? s2_six : NULL,
         TA_PATH_DW_S2_THREE ? s2_three : NULL},
    };
    const rows_fn rows = programs[p->stride_w == 2][ctx[22]];
    TA_TAKES(rows != NULL);
    rows(plane, output + oc, ctx, p->plane_w);
}
#endif

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

/* Widen channels c .. c + group - 1 (src points at channel c) into planes 0 .. group - 1. */
static void fill_group(const ta_depthwise_fast_params *p, const dw_fill *f, const int8_t *src,
                       int16_t *planes, int32_t plane_size) {
#if DW_ASM
    if (p->fill_group == 4) {
        if (f->rows > 0) {
            fill4_interior_asm(f->asm_k, src, planes + f->dst_first, 2 * plane_size);
        }
        return;
    }
#endif
    for (int32_t g = 0; g < p->fill_group; ++g) {
        fill_interior(f, src + g, planes + g * plane_size);
    }
}

ta_status ta_depthwise_conv2d_s8_fast(const ta_depthwise_fast_params *p, const int8_t *input,
                                      const void *weights, int8_t *output, int16_t *scratch) {
    const int32_t in_c = p->input.c, mult = p->depth_multiplier, group = p->fill_group;
    const int32_t plane_size = p->plane_h * p->plane_w;
    const dw_fill fill = fill_layout(p);
#if DW_ASM
    int32_t ctx[23] = {0};     /* the assembly channels' constants */
    layer_ctx(p, ctx);
#endif
    for (int32_t b = 0; b < p->output.n; ++b) {
        const int8_t *in = input + (size_t)b * p->input.h * p->input.w * in_c;
        int8_t *out = output + (size_t)b * p->output.h * p->output.w * p->output.c;
#if DW_ASM
        fill_zero_point_asm(scratch, group * plane_size / 2, p->input_zero_point);
#else
        for (int32_t g = 0; g < group; ++g) {
            fill_border(p, scratch + g * plane_size);
        }
#endif
        for (int32_t c = 0; c < in_c; c += group) {
            fill_group(p, &fill, in + c, scratch, plane_size);
#if DW_ASM
            if (p->taps3x3 && p->full_range) {
                if (mult == 1) {
                    channels_asm(p, scratch, weights, c, group, out, ctx);
                } else {
                    for (int32_t g = 0; g < group; ++g) {
                        channels_asm(p, scratch + g * plane_size, weights, (c + g) * mult, mult, out, ctx);
                    }
                }
                continue;
            }
#endif
            for (int32_t g = 0; g < group; ++g) {
                for (int32_t m = 0; m < mult; ++m) {
                    channel(p, scratch + g * plane_size, weights, (c + g) * mult + m, out);
                }
            }
        }
    }
    return TA_OK;
}
