/* MUL int8, fast form (see the header). Bit-exact with TFLM's MUL: the
 * product p of the zero-point-corrected inputs is at most 255 * 255 in
 * magnitude, far below the 2^30 the short requantization needs, and the
 * generator checked the right shift e (and every input pair):
 *   out = SSAT8(SMMLAR(2p, multiplier, round + (p >> 31)) >> e), then the activation range.
 * Input 2 may be shorter than input 1 and the output, repeating every
 * input2_period elements (a constant broadcast, laid out by the generator).
 * The output may be input 1, or input 2 when they have the same size: each
 * element (each word, in the assembly) is read before it is written. */
#include "ta_mul_s8_fast.h"
#include "ta_dsp.h"

/* Element by element: the tail, and everything on cores without the DSP extension
 * (one copy for all the entry points). */
static void mul_elements(const ta_mul_fast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output,
                         int32_t n, int32_t right) {
    const int32_t o1 = p->input1_offset, o2 = p->input2_offset;
    const int32_t mult = p->output_multiplier, round = p->output_round;
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t product = (input1[i] + o1) * (input2[i] + o2);
        output[i] = (int8_t)ta_clamp_s8(ta_requantize_fast_acc(product, mult, right, round), lo, hi);
    }
}

#if TA_HAVE_DSP && defined(__OPTIMIZE__)
/* Four elements: one word of each input, 28 instructions. SXTAB16 sign-extends
 * bytes 0 and 2 (then, rotated, 1 and 3) and adds the offset pair; SADD16 doubles
 * input 1's halves so SMULBB/SMULTT give 2p; per element ADD (rounding constant
 * and sign of p), SMMLAR, SSAT with the shift; BFI packs the bytes for one STR. */
#define MUL_ASM_QUAD(E, CLAMP) \
    "ldr %[a], [%[in1]], #4\n\t" \
    "ldr %[b], [%[in2]], #4\n\t" \
    "sxtab16 %[x], %[o1], %[a]\n\t" \
    "sxtab16 %[y], %[o2], %[b]\n\t" \
    "sadd16 %[x], %[x], %[x]\n\t" \
    "smulbb %[t], %[x], %[y]\n\t" \
    "smultt %[x], %[x], %[y]\n\t" \
    "add %[y], %[r], %[t], asr #31\n\t" \
    "smmlar %[y], %[t], %[m], %[y]\n\t" \
    "ssat %[y], #8, %[y], asr #" #E "\n\t" \
    "add %[t], %[r], %[x], asr #31\n\t" \
    "smmlar %[t], %[x], %[m], %[t]\n\t" \
    "ssat %[t], #8, %[t], asr #" #E "\n\t" \
    "bfi %[y], %[t], #16, #8\n\t" \
    "sxtab16 %[a], %[o1], %[a], ror #8\n\t" \
    "sxtab16 %[b], %[o2], %[b], ror #8\n\t" \
    "sadd16 %[a], %[a], %[a]\n\t" \
    "smulbb %[t], %[a], %[b]\n\t" \
    "smultt %[a], %[a], %[b]\n\t" \
    "add %[b], %[r], %[t], asr #31\n\t" \
    "smmlar %[b], %[t], %[m], %[b]\n\t" \
    "ssat %[b], #8, %[b], asr #" #E "\n\t" \
    "bfi %[y], %[b], #8, #8\n\t" \
    "add %[t], %[r], %[a], asr #31\n\t" \
    "smmlar %[t], %[a], %[m], %[t]\n\t" \
    "ssat %[t], #8, %[t], asr #" #E "\n\t" \
    "bfi %[y], %[t], #24, #8\n\t" \
    CLAMP \
    "str %[y], [%[out]], #4\n\t"
/* A narrower activation range on the four packed bytes: SSUB8 sets a GE flag per
 * byte, SEL picks (bounds: the low and high limits in every byte). */
#define MUL_ASM_CLAMP \
    "ldrd %[a], %[b], %[bounds]\n\t" \
    "ssub8 %[t], %[y], %[a]\n\t" \
    "sel %[y], %[y], %[a]\n\t" \
    "ssub8 %[t], %[y], %[b]\n\t" \
    "sel %[y], %[b], %[y]\n\t"
/* Eight elements a step; the pointers are left after the last one. */
#define MUL_ASM_LOOP(E, CLAMP) \
    __asm__ volatile("1:\n\t" MUL_ASM_QUAD(E, CLAMP) MUL_ASM_QUAD(E, CLAMP) \
                     "subs %[n], %[n], #1\n\t" \
                     "bne 1b\n\t" \
                     : [in1] "+r"(in1), [in2] "+r"(in2), [out] "+r"(out), [n] "+r"(steps), \
                       [a] "=&r"(a), [b] "=&r"(b), [x] "=&r"(x), [y] "=&r"(y), [t] "=&r"(t) \
                     : [o1] "r"(o1), [o2] "r"(o2), [m] "r"(mult), [r] "r"(round), \
                       [bounds] "m"(bounds) \
                     : "cc", "memory")
/* Both 16-bit halves of a word set to v. */
TA_INLINE int32_t mul_offset_pair(int32_t v) { return (int32_t)(((uint32_t)v & 0xFFFFu) * 0x10001u); }
/* Every byte of a word set to v. */
TA_INLINE int32_t mul_bytes4(int32_t v) { return (int32_t)(((uint32_t)v & 0xFFu) * 0x01010101u); }
#define MUL_ASM_CONSTANTS \
    const int32_t o1 = mul_offset_pair(p->input1_offset), o2 = mul_offset_pair(p->input2_offset); \
    const int32_t mult = p->output_multiplier, round = p->output_round; \
    const ta_pair bounds = {{mul_bytes4(p->act_min), mul_bytes4(p->act_max)}}; \
    const int full_range = p->act_min == -128 && p->act_max == 127;
/* The whole steps of eight elements of n (advancing in1, in2, out); leaves n % 8. */
#define MUL_STEPS(E) do { \
        int32_t steps = n >> 3; \
        if (steps > 0) { \
            int32_t a, b, x, y, t; \
            if (full_range) { \
                MUL_ASM_LOOP(E, ""); \
            } else { \
                MUL_ASM_LOOP(E, MUL_ASM_CLAMP); \
            } \
            n &= 7; \
        } \
    } while (0)
#else
#define MUL_ASM_CONSTANTS
#define MUL_STEPS(E) ((void)0)
#endif

/* Runs of input2_period elements, each against the whole of input 2. */
#define TA_MUL_S8_FAST_DEFINE(e) \
    ta_status ta_mul_s8_fast_shift##e(const ta_mul_fast_params *p, const int8_t *input1, const int8_t *input2, \
                                      int8_t *output) { \
        MUL_ASM_CONSTANTS \
        const int8_t *in1 = input1; \
        int8_t *out = output; \
        for (int32_t runs = p->size / p->input2_period; runs > 0; --runs) { \
            const int8_t *in2 = input2; \
            int32_t n = p->input2_period; \
            MUL_STEPS(e); \
            if (n > 0) { \
                mul_elements(p, in1, in2, out, n, e); \
                in1 += n; \
                out += n; \
            } \
        } \
        return TA_OK; \
    }
TA_MUL_S8_FAST_SHIFTS(TA_MUL_S8_FAST_DEFINE)
