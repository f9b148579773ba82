/* DEPTHWISE_CONV_2D fast form, part 2: the 3x3 row steps and the assembly channel
 * programs (stride 1 and 2, by rows per step).
 * Internal to ta_depthwise_conv2d_s8_fast.c, which includes it once, after the previous part: static helpers only. */
#ifndef TA_DW_FAST_ROWS_H
#define TA_DW_FAST_ROWS_H

#include "ta_depthwise_conv2d_s8_fast.h"
#include "ta_dsp.h"

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
/* The requantization's sign correction (x += acc < 0 ? -1 : 0, see ta_depthwise_conv2d_s8_fast.c). Left
 * out (the *_sf row programs below) when the output zero point is -128: then for acc < 0 the product
 * 2 * acc * multiplier + 2^31 is at most 2^31 (multiplier >= 0), so SMMLAR's high word is at most
 * round, and (x - 1) >> e and x >> e are both at most the zero point: SSAT gives -128 either way.
 * For acc >= 0 the correction is 0. */
#define DW_SIGN_CORRECTION(A) "add %[p], %[p], %[" A "], asr #31\n\t"
#define DW_SIGN(A) DW_SIGN_CORRECTION(A)
#define DW_REQ(A)                                \
    "smmlar %[p], %[" A "], %[wa], %[wb]\n\t"   \
    DW_SIGN(A)                                   \
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
    DW_SIGN("a0")                                \
    "asr %[p], %[p], %[q]\n\t"                   \
    "ssat %[p], #8, %[p]\n\t"                    \
    "strb %[p], [%[out]]\n\t"                    \
    "add %[out], %[out], %[q], lsr #8\n\t"
/* Requantize a0..a3 into out, s, 2s and 3s (s = out_x_stride, kept in a0, 3s in a1), then
 * advance out by 4s: one instruction less than four DW_REQs. */
#define DW_REQ_AT(A, WHERE)                      \
    "smmlar %[p], %[" A "], %[wa], %[wb]\n\t"   \
    DW_SIGN(A)                                   \
    "asr %[p], %[p], %[q]\n\t"                  \
    "ssat %[p], #8, %[p]\n\t"                   \
    "strb %[p], [%[out]" WHERE "]\n\t"
#define DW_REQ_QUAD                              \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t"        \
    "ldr %[q], [%[k], #36]\n\t"                 \
    DW_REQ_AT("a0", "")                          \
    "lsr %[a0], %[q], #8\n\t"                   \
    "smmlar %[p], %[a1], %[wa], %[wb]\n\t"      \
    DW_SIGN("a1")                                \
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

/* The same row programs without the sign correction (sign_free; the macros expand here, with DW_SIGN empty). */
#undef DW_SIGN
#define DW_SIGN(A) ""
DW_CHANNELS_FN(s1_any_sf, DW_ROWS_ANY, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_steps_sf, DW_ROWS_STEPS, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_steps_one_sf, DW_ROWS_STEPS_ONE, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_six_sf, DW_ROWS_SIX, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s1_three_sf, DW_ROWS_THREE, DW_S1_QUAD, DW_S1_PAIR)
DW_CHANNELS_FN(s2_any_sf, DW_ROWS_ANY, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_steps_sf, DW_ROWS_STEPS, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_steps_one_sf, DW_ROWS_STEPS_ONE, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_six_sf, DW_ROWS_SIX, DW_S2_QUAD, DW_S2_PAIR)
DW_CHANNELS_FN(s2_three_sf, DW_ROWS_THREE, DW_S2_QUAD, DW_S2_PAIR)
#undef DW_SIGN

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
    /* Twenty row loops of 350 to 650 bytes: a model links those its layers take (ta_paths.h). */
    static const rows_fn programs[2][2][5] = {
        {{TA_PATH_DW_S1_ANY ? s1_any : NULL, TA_PATH_DW_S1_STEPS ? s1_steps : NULL,
          TA_PATH_DW_S1_STEPS_ONE ? s1_steps_one : NULL, TA_PATH_DW_S1_SIX ? s1_six : NULL,
          TA_PATH_DW_S1_THREE ? s1_three : NULL},
         {TA_PATH_DW_S2_ANY ? s2_any : NULL, TA_PATH_DW_S2_STEPS ? s2_steps : NULL,
          TA_PATH_DW_S2_STEPS_ONE ? s2_steps_one : NULL, TA_PATH_DW_S2_SIX ? s2_six : NULL,
          TA_PATH_DW_S2_THREE ? s2_three : NULL}},
        {{TA_PATH_DW_S1_ANY_SF ? s1_any_sf : NULL, TA_PATH_DW_S1_STEPS_SF ? s1_steps_sf : NULL,
          TA_PATH_DW_S1_STEPS_ONE_SF ? s1_steps_one_sf : NULL, TA_PATH_DW_S1_SIX_SF ? s1_six_sf : NULL,
          TA_PATH_DW_S1_THREE_SF ? s1_three_sf : NULL},
         {TA_PATH_DW_S2_ANY_SF ? s2_any_sf : NULL, TA_PATH_DW_S2_STEPS_SF ? s2_steps_sf : NULL,
          TA_PATH_DW_S2_STEPS_ONE_SF ? s2_steps_one_sf : NULL, TA_PATH_DW_S2_SIX_SF ? s2_six_sf : NULL,
          TA_PATH_DW_S2_THREE_SF ? s2_three_sf : NULL}},
    };
    const rows_fn rows = programs[p->sign_free != 0][p->stride_w == 2][ctx[22]];
    TA_TAKES(rows != NULL);
    rows(plane, output + oc, ctx, p->plane_w);
}
#endif

#endif /* TA_DW_FAST_ROWS_H */
