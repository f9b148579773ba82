/* CONV_2D fast form, part 3: the channel-pair loop in assembly (requantization and
 * clamp inline) and the choice between it and TFLM's exact requantization.
 * Internal to ta_conv2d_s8_fast.c, which includes it once, after the previous part: static helpers only. */
#ifndef TA_CONV2D_FAST_PAIRS_H
#define TA_CONV2D_FAST_PAIRS_H

#include "ta_conv2d_s8_fast.h"
#include "ta_dsp.h"

#if TA_HAVE_DSP
/* ta_requantize_fast_acc and SSAT on register `a`, with `t` as a temporary. */
#define TA_ASM_REQUANT(a, m, r, e, t) \
    "add %[" t "], %[" r "], %[" a "], asr #31\n\t" \
    "lsl %[" a "], %[" a "], #1\n\t" \
    "smmlar %[" a "], %[" a "], %[" m "], %[" t "]\n\t" \
    "asr %[" a "], %[" a "], %[" e "]\n\t" \
    "ssat %[" a "], #8, %[" a "]\n\t"

/* The same for an accumulator that is already 2 * acc (FORM_WIDE: weights and bias stored
 * doubled), one instruction less. Exact: the generator keeps 2 * acc within int32 (|acc| < 2^30,
 * or _requant_left's bound on the scaled accumulator), so the value SMMLAR multiplies is the one
 * the LSL above would make, and 2 * acc has acc's sign, which is all the ADD takes from it. */
#define TA_ASM_REQUANT_DOUBLED(a, m, r, e, t) \
    "add %[" t "], %[" r "], %[" a "], asr #31\n\t" \
    "smmlar %[" a "], %[" a "], %[" m "], %[" t "]\n\t" \
    "asr %[" a "], %[" a "], %[" e "]\n\t" \
    "ssat %[" a "], #8, %[" a "]\n\t"

/* The six accumulators from the pair's head, bias0 bias1 three times: a00 < a01 < a10 < a11
 * < a20 < a21 are registers in increasing order (channels_fast pins them). */
#define TA_ASM_INIT_BIAS \
    "ldmia.w %[w]!, {%[a00], %[a01], %[a10], %[a11], %[a20], %[a21]}\n\t"

/* FORM_SPLIT's head, bias0 bias1 once, plus each pixel's correction. */
#define TA_ASM_INIT_CORR \
    "ldrd %[a00], %[a01], [%[w]], #8\n\t" \
    "ldrd %[lo], %[hi], %[corr01]\n\t" \
    "ldr %[x], %[corr2]\n\t" \
    "add %[a10], %[a00], %[hi]\n\t" \
    "add %[a20], %[a00], %[x]\n\t" \
    "add %[a00], %[a00], %[lo]\n\t" \
    "add %[a11], %[a01], %[hi]\n\t" \
    "add %[a21], %[a01], %[x]\n\t" \
    "add %[a01], %[a01], %[lo]\n\t"

/* No activation clamp: SSAT's int8 range is the output range. */
#define TA_ASM_NO_CLAMP ""

/* A narrower activation range on the three packed channel pairs (bytes 0 and 1
 * of a00, a10, a20): SSUB8 sets a GE flag per byte lane where the first operand
 * is at least the second, SEL picks per lane; limits holds act_min and act_max
 * repeated in every byte. max, then min: 13 instructions per pair and tile. */
#define TA_ASM_CLAMP_ONE(a) \
    "ssub8 %[x], %[" a "], %[wa]\n\t" \
    "sel %[" a "], %[" a "], %[wa]\n\t" \
    "ssub8 %[x], %[" a "], %[wb]\n\t" \
    "sel %[" a "], %[wb], %[" a "]\n\t"
#define TA_ASM_CLAMP \
    "ldrd %[wa], %[wb], %[limits]\n\t" \
    TA_ASM_CLAMP_ONE("a00") \
    TA_ASM_CLAMP_ONE("a10") \
    TA_ASM_CLAMP_ONE("a20")

/* What the pair loop reads from the stack (sp-relative operands: all 14
 * allocatable registers are busy). */
typedef struct {
    const int32_t *col, *col_end;
    const int8_t *stream_end;  /* after the last whole pair */
    uint32_t entry;            /* address of the tile loop's first step for groups % 4, Thumb bit set */
    int8_t *out;               /* pixel 0's output for this pair; advanced by 2 per pair */
    int32_t step[2];           /* pixels 1 and 2 relative to pixel 0, bytes */
    int32_t limits[2];         /* output_range.limits: stack-relative, no register is free */
    int32_t corr[3];           /* output_range.corr (FORM_SPLIT) */
} pair_loop_state;

/* One step of the tile is 20 32-bit instructions (LDRD, SXTB16 and SMLAD have no
 * 16-bit encodings): the loop holds TA_TILE_UNROLL steps and is entered
 * (TA_TILE_UNROLL - groups % TA_TILE_UNROLL) % TA_TILE_UNROLL steps in. Sixteen: the
 * 3-instruction loop test then runs once per 16 steps (256-320 instructions); from 8,
 * 6 instructions less per pair and tile of a 128-deep layer (about 1% of it), for about
 * 600 bytes more per loop linked. */
#define TA_TILE_UNROLL 16
#define TA_ASM_STEP_BYTES 80
#define TA_ASM_STEP_WIDE_BYTES 64
#define TA_ASM_STEP_SPLIT_BYTES 72
/* The tile loop's test: back to the first step until the columns are used up; or nothing
 * where groups <= TA_TILE_UNROLL (the steps run once: 3 instructions less per pair and tile). */
#define TA_ASM_TILE_LOOP \
    "ldr %[lo], %[end]\n\t" \
    "cmp %[x], %[lo]\n\t" \
    "bne 1b\n\t"
#define TA_ASM_TILE_ONCE ""
#define TA_PAIR_LOOP_ASM(STEP, STEP_BYTES, INIT, LOOP, REQUANT, CLAMP) \
        __asm__ volatile( \
            "adr %[x], 1f\n\t" \
            "ldr %[lo], %[skip]\n\t" \
            "add %[x], %[x], %[lo]\n\t" \
            "orr %[x], %[x], #1\n\t" \
            "str %[x], %[entry]\n\t" \
            "0:\n\t" \
            INIT \
            "ldr %[x], %[col]\n\t" \
            "ldr %[lo], %[entry]\n\t" \
            "bx %[lo]\n\t" \
            ".p2align 2\n\t" \
            "1:\n\t" \
            STEP \
            "5:\n\t" \
            ".if (5b - 1b) - " TA_STR(STEP_BYTES) "\n\t" \
            ".error \"a tile step is not " TA_STR(STEP_BYTES) " bytes long\"\n\t" \
            ".endif\n\t" \
            STEP STEP STEP STEP STEP STEP STEP \
            STEP STEP STEP STEP STEP STEP STEP STEP \
            LOOP \
            "ldmia.w %[w]!, {%[al], %[wa], %[bl], %[wb], %[lo], %[hi]}\n\t" \
            REQUANT("a00", "al", "bl", "lo", "x") \
            REQUANT("a10", "al", "bl", "lo", "x") \
            REQUANT("a20", "al", "bl", "lo", "x") \
            REQUANT("a01", "wa", "wb", "hi", "x") \
            REQUANT("a11", "wa", "wb", "hi", "x") \
            REQUANT("a21", "wa", "wb", "hi", "x") \
            "bfi %[a00], %[a01], #8, #8\n\t" \
            "bfi %[a10], %[a11], #8, #8\n\t" \
            "bfi %[a20], %[a21], #8, #8\n\t" \
            CLAMP \
            "ldr %[x], %[out]\n\t" \
            "ldrd %[lo], %[hi], %[step]\n\t" \
            "strh %[a20], [%[x], %[hi]]\n\t" \
            "strh %[a10], [%[x], %[lo]]\n\t" \
            "strh %[a00], [%[x]], #2\n\t" \
            "str %[x], %[out]\n\t" \
            "ldr %[lo], %[stream_end]\n\t" \
            "cmp %[w], %[lo]\n\t" \
            "bne 0b\n\t" \
            : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [a20] "=&r"(a20), \
              [a21] "=&r"(a21), [w] "+r"(w), [x] "=&r"(x), [wa] "=&r"(wa), [wb] "=&r"(wb), [al] "=&r"(al), \
              [bl] "=&r"(bl), [lo] "=&r"(lo), [hi] "=&r"(hi), [out] "+m"(st.out), [entry] "=m"(st.entry) \
            : [col] "m"(st.col), [end] "m"(st.col_end), [stream_end] "m"(st.stream_end), \
              [step] "m"(*(const ta_pair *)st.step), [skip] "m"(skip), \
              [limits] "m"(*(const ta_pair *)st.limits), [corr01] "m"(*(const ta_pair *)st.corr), \
              [corr2] "m"(st.corr[2]) \
            : "cc", "memory");
#define TA_STR_(x) #x
#define TA_STR(x) TA_STR_(x)
#endif

/* Every tile of one image with the fast requantization: the gather, then the whole
 * channel-pair loop in one block of assembly, walking the pair stream with one pointer
 * (its state set once per image). Per pair and tile, besides the tile
 * steps (20, 16 or 18 instructions per 24 MACs for int8, int16 and split weights)
 * and the requantization (24, 30 for int8 and split weights): 1 to start the
 * accumulators (9 with split weights), 3 to enter the tile loop and 3 per sixteen
 * steps to loop, 1 for the constants, 3 to pack the channel pairs, 6 to store,
 * 3 to loop; 13 more for a narrower activation range (ReLU6, or a ReLU whose
 * zero point is above -128). */
static void tiles_fast(const gather_geometry *g, const tile_walk *t, const int8_t *pairs, int8_t *out,
                       output_range *range) {
#if TA_HAVE_DSP
    const int32_t pixels = t->pixels, out_c = t->out_c, groups = t->groups, form = t->form;
    const int32_t npairs = out_c >> 1;
    /* The loop's state, set once per image: per tile only the outputs (and the split
     * corrections) change. */
    pair_loop_state st;
    st.col = t->col;
    st.col_end = t->col + GROUP_WORDS * groups;
    st.stream_end = pairs + npairs * (PAIR_HEAD_BYTES(form) + PAIR_TAIL_BYTES + (form == FORM_WIDE ? 16 : 8) * groups);
    const int32_t step_bytes = form == FORM_WIDE ? TA_ASM_STEP_WIDE_BYTES
                               : form == FORM_SPLIT ? TA_ASM_STEP_SPLIT_BYTES : TA_ASM_STEP_BYTES;
    const int32_t skip = ((TA_TILE_UNROLL - (groups & (TA_TILE_UNROLL - 1))) & (TA_TILE_UNROLL - 1)) * step_bytes;
    const int clamp = range->mode != 0, once = groups <= TA_TILE_UNROLL;
    /* Which of the eight loops: decided once (bit 0 the clamp). */
    const int loop = (form == FORM_SPLIT ? 0 : form == FORM_INT8 ? 2 : once ? 4 : 6) | clamp;
    st.limits[0] = range->limits[0];
    st.limits[1] = range->limits[1];
    st.step[0] = out_c;
    st.step[1] = 2 * out_c;
    int8_t *o0 = out;
    for (int32_t i = 0; i < pixels; i += TILE_PIXELS, o0 += TILE_PIXELS * out_c) {
        int32_t i1 = i + 1, i2 = i + 2;
        if (i2 >= pixels) {         /* a short last tile repeats its last pixel */
            i1 = i1 < pixels ? i1 : pixels - 1;
            i2 = pixels - 1;
            st.step[0] = (i1 - i) * out_c;
            st.step[1] = (i2 - i) * out_c;
        }
        gather_tile(g, t, i, i1, i2);
        if (form == FORM_SPLIT) {
            split_columns(t->col, groups, range->corr);
            st.corr[0] = range->corr[0];
            st.corr[1] = range->corr[1];
            st.corr[2] = range->corr[2];
        }
        if (i + 1 == pixels) {
            channels_1px(pairs, t->col, groups, form, out_c, o0, range);
            break;
        }
        const int8_t *stream = pairs;
        if (npairs > 0) {
            st.out = o0;
            /* All 14 allocatable registers, pinned: the LDMs (a wide step's four weight words, the
             * pair's six constants mult0 mult1 round0 round1 right0 right1, the six accumulators)
             * fill registers in increasing order, so al < wa < bl < wb < lo < hi and
             * a00 < a01 < a10 < a11 < a20 < a21. */
            register const void *w __asm__("r12") = pairs;
            register const void *x __asm__("lr");
            register int32_t al __asm__("r1"), wa __asm__("r2"), bl __asm__("r3"), wb __asm__("r4");
            register int32_t lo __asm__("r5"), hi __asm__("r6");
            register int32_t a00 __asm__("r0"), a01 __asm__("r7"), a10 __asm__("r8"), a11 __asm__("r9");
            register int32_t a20 __asm__("r10"), a21 __asm__("r11");
            /* Eight loops of about 1,300 bytes each: a model links those its layers take (ta_paths.h). */
            switch (loop) {
            case 0:
                TA_TAKES(TA_PATH_CONV_SPLIT);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_SPLIT, TA_ASM_STEP_SPLIT_BYTES, TA_ASM_INIT_CORR, TA_ASM_TILE_LOOP,
                                 TA_ASM_REQUANT, TA_ASM_NO_CLAMP);
                break;
            case 1:
                TA_TAKES(TA_PATH_CONV_SPLIT_CLAMP);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_SPLIT, TA_ASM_STEP_SPLIT_BYTES, TA_ASM_INIT_CORR, TA_ASM_TILE_LOOP,
                                 TA_ASM_REQUANT, TA_ASM_CLAMP);
                break;
            case 2:
                TA_TAKES(TA_PATH_CONV_INT8);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP, TA_ASM_STEP_BYTES, TA_ASM_INIT_BIAS, TA_ASM_TILE_LOOP, TA_ASM_REQUANT,
                                 TA_ASM_NO_CLAMP);
                break;
            case 3:
                TA_TAKES(TA_PATH_CONV_INT8_CLAMP);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP, TA_ASM_STEP_BYTES, TA_ASM_INIT_BIAS, TA_ASM_TILE_LOOP, TA_ASM_REQUANT,
                                 TA_ASM_CLAMP);
                break;
            case 4:
                TA_TAKES(TA_PATH_CONV_WIDE_SHORT);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_WIDE, TA_ASM_STEP_WIDE_BYTES, TA_ASM_INIT_BIAS, TA_ASM_TILE_ONCE,
                                 TA_ASM_REQUANT_DOUBLED, TA_ASM_NO_CLAMP);
                break;
            case 5:
                TA_TAKES(TA_PATH_CONV_WIDE_SHORT_CLAMP);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_WIDE, TA_ASM_STEP_WIDE_BYTES, TA_ASM_INIT_BIAS, TA_ASM_TILE_ONCE,
                                 TA_ASM_REQUANT_DOUBLED, TA_ASM_CLAMP);
                break;
            case 6:
                TA_TAKES(TA_PATH_CONV_WIDE);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_WIDE, TA_ASM_STEP_WIDE_BYTES, TA_ASM_INIT_BIAS, TA_ASM_TILE_LOOP,
                                 TA_ASM_REQUANT_DOUBLED, TA_ASM_NO_CLAMP);
                break;
            default:
                TA_TAKES(TA_PATH_CONV_WIDE_CLAMP);
                TA_PAIR_LOOP_ASM(TA_ASM_STEP_WIDE, TA_ASM_STEP_WIDE_BYTES, TA_ASM_INIT_BIAS, TA_ASM_TILE_LOOP,
                                 TA_ASM_REQUANT_DOUBLED, TA_ASM_CLAMP);
                break;
            }
            stream = (const int8_t *)w;
        }
        if (out_c & 1) {
            pair_3x2(&stream, t->col, groups, form, o0 + 2 * npairs, o0 + st.step[0] + 2 * npairs,
                     o0 + st.step[1] + 2 * npairs, range,
                     range->mode, 0);
        }
    }
#else
    tiles_c(g, t, pairs, out, range);
#endif
}

/* TFLM's requantization (accumulators not proven below 2^30): plain C. */
static void tiles_exact(const gather_geometry *g, const tile_walk *t, const int8_t *pairs, int8_t *out,
                        output_range *range) {
    TA_TAKES(TA_PATH_CONV_EXACT);
    tiles_c(g, t, pairs, out, range);
}

#endif /* TA_CONV2D_FAST_PAIRS_H */
