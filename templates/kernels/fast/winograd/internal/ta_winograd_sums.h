/* Winograd CONV_2D, part 2: for one output channel pair, the 16 positions' sums over the input
 * channels for three tiles (M = U . V summed over channels): a 3-tile x 2-channel SMLAD tile per
 * position, written out as six int32 per position.
 * Internal to ta_conv2d_s8_winograd.c, which includes it once: static helpers only. */
#ifndef TA_WINOGRAD_SUMS_H
#define TA_WINOGRAD_SUMS_H

#include "ta_dsp.h"

#define WINO_POSITIONS 16
#define WINO_TILES 3
#define WINO_GROUP_WORDS (2 * WINO_TILES)      /* int32 words of one channel group: 3 tiles x (lo, hi) */
#define WINO_SUMS (WINO_POSITIONS * 2 * WINO_TILES)

#if TA_HAVE_DSP
/* What the loop reads from the stack (sp-relative operands: all 14 allocatable registers are busy). */
typedef struct {
    const int32_t *v_end;       /* after the last position's columns */
    int32_t *sums;              /* where the next position's six sums go */
    int32_t span;               /* bytes of one position's columns: 24 * groups */
    const int32_t *position_end;
    uint32_t entry;             /* address of the first step to run for groups % 8, Thumb bit set */
} sums_state;

/* One step: four input channels of the three tiles against the pair's weights for this position:
 * one LDM of the two channels' four int16 weights each (the registers are pinned in increasing
 * order: al < wa < bl < wb), LDRD of each tile's (lo, hi), twelve SMLAD: 16 instructions for 24
 * multiplies. */
#define WINO_ASM_STEP \
    "ldmia.w %[w]!, {%[al], %[wa], %[bl], %[wb]}\n\t" \
    TA_ASM_STEP_MACS
/* The first step of a position: SMUAD starts the six sums, so nothing is cleared. */
#define WINO_ASM_FIRST \
    "ldmia.w %[w]!, {%[al], %[wa], %[bl], %[wb]}\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smuad %[a00], %[al], %[lo]\n\t" \
    "smlad %[a00], %[wa], %[hi], %[a00]\n\t" \
    "smuad %[a01], %[bl], %[lo]\n\t" \
    "smlad %[a01], %[wb], %[hi], %[a01]\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smuad %[a10], %[al], %[lo]\n\t" \
    "smlad %[a10], %[wa], %[hi], %[a10]\n\t" \
    "smuad %[a11], %[bl], %[lo]\n\t" \
    "smlad %[a11], %[wb], %[hi], %[a11]\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smuad %[a20], %[al], %[lo]\n\t" \
    "smlad %[a20], %[wa], %[hi], %[a20]\n\t" \
    "smuad %[a21], %[bl], %[lo]\n\t" \
    "smlad %[a21], %[wb], %[hi], %[a21]\n\t"
#define WINO_STEP_BYTES 64
#define WINO_UNROLL 8
#define WINO_STR_(x) #x
#define WINO_STR(x) WINO_STR_(x)
#endif

/* Input channel counts of 8, 16 and 32 (the common ones) take a loop with the position's steps
 * written out: per position 16 per step, 3 to store the sums (one STM) and 3 to go on (against 6 to
 * clear, 5 to enter and 3 per 8 steps more in the general loop). STEPS is the steps after the first. */
#define WINO_SUMS_UNROLLED(STEPS) \
    __asm__ volatile( \
        "0:\n\t" \
        WINO_ASM_FIRST \
        STEPS \
        "ldr %[lo], %[sums]\n\t" \
        "stmia.w %[lo]!, {%[a00], %[a01], %[a10], %[a11], %[a20], %[a21]}\n\t" \
        "str %[lo], %[sums]\n\t" \
        "ldr %[lo], %[v_end]\n\t" \
        "cmp %[x], %[lo]\n\t" \
        "bne 0b\n\t" \
        : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [a20] "=&r"(a20), \
          [a21] "=&r"(a21), [w] "+r"(w), [x] "+r"(x), [wa] "=&r"(wa), [wb] "=&r"(wb), [al] "=&r"(al), \
          [bl] "=&r"(bl), [lo] "=&r"(lo), [hi] "=&r"(hi), [sums] "+m"(st.sums) \
        : [v_end] "m"(st.v_end) \
        : "cc", "memory")
#define WINO_STEPS_1 WINO_ASM_STEP
#define WINO_STEPS_3 WINO_ASM_STEP WINO_ASM_STEP WINO_ASM_STEP
#define WINO_STEPS_7 WINO_STEPS_3 WINO_STEPS_3 WINO_ASM_STEP

/* sums[position][tile][channel] for one pair; returns the weights after the pair's positions.
 * groups = input.c / 4 >= 1. */
__attribute__((noinline)) static const int8_t *position_sums(const int8_t *weights, const int32_t *v, int32_t groups,
                                                             int32_t *sums) {
#if TA_HAVE_DSP
    sums_state st;
    st.v_end = v + WINO_POSITIONS * WINO_GROUP_WORDS * groups;
    st.sums = sums;
    st.span = 4 * WINO_GROUP_WORDS * groups;
    /* All 14 allocatable registers, pinned so that the LDM and STM lists are in increasing order. */
    register const void *w __asm__("r12") = weights;
    register const void *x __asm__("lr") = v;
    register int32_t al __asm__("r1"), wa __asm__("r2"), bl __asm__("r3"), wb __asm__("r4");
    register int32_t lo __asm__("r5"), hi __asm__("r6");
    register int32_t a00 __asm__("r0"), a01 __asm__("r7"), a10 __asm__("r8"), a11 __asm__("r9");
    register int32_t a20 __asm__("r10"), a21 __asm__("r11");
    if (groups == 2 || groups == 4 || groups == 8) {
        if (groups == 2) {
            TA_TAKES(TA_PATH_WINOGRAD_SUMS_2);
            WINO_SUMS_UNROLLED(WINO_STEPS_1);
        } else if (groups == 4) {
            TA_TAKES(TA_PATH_WINOGRAD_SUMS_4);
            WINO_SUMS_UNROLLED(WINO_STEPS_3);
        } else {
            TA_TAKES(TA_PATH_WINOGRAD_SUMS_8);
            WINO_SUMS_UNROLLED(WINO_STEPS_7);
        }
        return (const int8_t *)w;
    }
    TA_TAKES(TA_PATH_WINOGRAD_SUMS_ANY);
    const int32_t skip = ((WINO_UNROLL - (groups & (WINO_UNROLL - 1))) & (WINO_UNROLL - 1)) * WINO_STEP_BYTES;
    /* Per position, besides the steps: 6 to clear, 5 to enter, 3 per 8 steps to loop, 3 to store,
     * 3 to go on. */
    __asm__ volatile(
        "adr %[lo], 1f\n\t"
        "ldr %[hi], %[skip]\n\t"
        "add %[lo], %[lo], %[hi]\n\t"
        "orr %[lo], %[lo], #1\n\t"
        "str %[lo], %[entry]\n\t"
        "0:\n\t"
        "mov %[a00], #0\n\t"
        "mov %[a01], #0\n\t"
        "mov %[a10], #0\n\t"
        "mov %[a11], #0\n\t"
        "mov %[a20], #0\n\t"
        "mov %[a21], #0\n\t"
        "ldr %[lo], %[span]\n\t"
        "add %[lo], %[x], %[lo]\n\t"
        "str %[lo], %[position_end]\n\t"
        "ldr %[lo], %[entry]\n\t"
        "bx %[lo]\n\t"
        ".p2align 2\n\t"
        "1:\n\t"
        WINO_ASM_STEP
        "5:\n\t"
        ".if (5b - 1b) - " WINO_STR(WINO_STEP_BYTES) "\n\t"
        ".error \"a Winograd step is not " WINO_STR(WINO_STEP_BYTES) " bytes long\"\n\t"
        ".endif\n\t"
        WINO_ASM_STEP
        WINO_ASM_STEP
        WINO_ASM_STEP
        WINO_ASM_STEP
        WINO_ASM_STEP
        WINO_ASM_STEP
        WINO_ASM_STEP
        "ldr %[lo], %[position_end]\n\t"
        "cmp %[x], %[lo]\n\t"
        "bne 1b\n\t"
        "ldr %[lo], %[sums]\n\t"
        "stmia.w %[lo]!, {%[a00], %[a01], %[a10], %[a11], %[a20], %[a21]}\n\t"
        "str %[lo], %[sums]\n\t"
        "ldr %[lo], %[v_end]\n\t"
        "cmp %[x], %[lo]\n\t"
        "bne 0b\n\t"
        : [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10), [a11] "=&r"(a11), [a20] "=&r"(a20),
          [a21] "=&r"(a21), [w] "+r"(w), [x] "+r"(x), [wa] "=&r"(wa), [wb] "=&r"(wb), [al] "=&r"(al),
          [bl] "=&r"(bl), [lo] "=&r"(lo), [hi] "=&r"(hi), [sums] "+m"(st.sums), [entry] "=m"(st.entry),
          [position_end] "=m"(st.position_end)
        : [v_end] "m"(st.v_end), [span] "m"(st.span), [skip] "m"(skip)
        : "cc", "memory");
    return (const int8_t *)w;
#else
    const int16_t *u = (const int16_t *)(const void *)weights;
    for (int32_t k = 0; k < WINO_POSITIONS; ++k, sums += 2 * WINO_TILES) {
        int32_t acc[2 * WINO_TILES] = {0};
        for (int32_t g = 0; g < groups; ++g, u += 8, v += WINO_GROUP_WORDS) {
            for (int32_t t = 0; t < WINO_TILES; ++t) {
                const int32_t lo = v[2 * t], hi = v[2 * t + 1];
                for (int32_t ch = 0; ch < 2; ++ch) {
                    const int16_t *wc = u + 4 * ch;    /* c0 c2 c1 c3 */
                    acc[2 * t + ch] = ta_smlad(ta_pack16(wc[0], wc[1]), lo, acc[2 * t + ch]);
                    acc[2 * t + ch] = ta_smlad(ta_pack16(wc[2], wc[3]), hi, acc[2 * t + ch]);
                }
            }
        }
        memcpy(sums, acc, sizeof acc);
    }
    return (const int8_t *)(const void *)u;
#endif
}

#endif /* TA_WINOGRAD_SUMS_H */
