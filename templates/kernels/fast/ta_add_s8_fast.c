/* ADD int8, fast form (see the header). Bit-exact with TFLM's ADD: the tables
 * hold exactly the int32 values TFLM's per-input rescaling computes (doubled
 * for the short requantization, which the generator checked on every input
 * pair):  x = SMMLAR(2 * sum, multiplier, round) [+ (2 * sum) >> 31];  x >> shift. */
#include "ta_add_s8_fast.h"
#include "ta_broadcast.h"
#include "ta_dsp.h"

#if TA_HAVE_DSP
TA_INLINE int32_t add_smmlar(int32_t a, int32_t b, int32_t acc) {
    int32_t result;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
    return result;
}
TA_INLINE int32_t add_ssat8(int32_t x) { return __ssat(x, 8); }
#else
TA_INLINE int32_t add_smmlar(int32_t a, int32_t b, int32_t acc) {
    /* acc + floor((a * b + 2^31) / 2^32), wrapping like the instruction */
    return (int32_t)((uint32_t)acc + (uint32_t)(((int64_t)a * (int64_t)b + (1LL << 31)) >> 32));
}
TA_INLINE int32_t add_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
#endif

/* The short requantization of a doubled sum; sign_fix and full are constants at each call. */
TA_INLINE int32_t short_requant(int32_t sum2, int32_t mult, int32_t right, int32_t round, int sign_fix, int full,
                                int32_t lo, int32_t hi) {
    int32_t x = add_smmlar(sum2, mult, round);
    if (sign_fix) {
        x += sum2 >> 31;
    }
    x >>= right;
    return full ? add_ssat8(x) : ta_clamp_s8(x, lo, hi);
}

TA_INLINE int8_t add_one(const ta_add_fast_params *p, int32_t a, int32_t b) {
    const int32_t sum = p->table1[a + 128] + p->table2[b + 128];
    if (p->fast_requant) {
        return (int8_t)short_requant(sum, p->output_multiplier, p->output_shift, p->output_round, 1, 0,
                                     p->act_min, p->act_max);
    }
    const int32_t out = ta_requantize(sum, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int8_t)ta_clamp32(out, p->act_min, p->act_max);
}

#if TA_HAVE_DSP && defined(__OPTIMIZE__)
/* Four elements per step in assembly, full int8 output range: GCC's version spends five
 * instructions per step on pointer increments that post-indexed loads and stores make free.
 * Per element: LDRSB, LDRSB, LDR, LDR, ADD, SMMLAR, [ADD sign], ASR, SSAT, STRB. */
#define ADD_ASM_ELEMENT(SIGN)                    \
    "ldrsb %[x], [%[in1]], #1\n\t"               \
    "ldrsb %[y], [%[in2]], #1\n\t"               \
    "ldr %[x], [%[t1], %[x], lsl #2]\n\t"        \
    "ldr %[y], [%[t2], %[y], lsl #2]\n\t"        \
    "add %[x], %[x], %[y]\n\t"                   \
    "smmlar %[y], %[x], %[m], %[r]\n\t"          \
    SIGN                                         \
    "asr %[y], %[y], %[e]\n\t"                   \
    "ssat %[y], #8, %[y]\n\t"                    \
    "strb %[y], [%[out]], #1\n\t"
#define ADD_ASM_LOOP(SIGN)                                                                       \
    __asm__ volatile("1:\n\t" ADD_ASM_ELEMENT(SIGN) ADD_ASM_ELEMENT(SIGN) ADD_ASM_ELEMENT(SIGN)   \
                     ADD_ASM_ELEMENT(SIGN) "subs %[n], %[n], #1\n\t" "bne 1b\n\t"                \
                     : [in1] "+r"(input1), [in2] "+r"(input2), [out] "+r"(output), [n] "+r"(steps), \
                       [x] "=&r"(x), [y] "=&r"(y)                                                 \
                     : [t1] "r"(t1), [t2] "r"(t2), [m] "r"(mult), [r] "r"(round), [e] "r"(right)   \
                     : "cc", "memory")
#define ADD_ASM 1
#else
#define ADD_ASM 0
#endif

/* Same-shape inputs, four elements per step. Byte loads (post-indexed LDRSB) beat a word
 * load plus a field extract per element. */
TA_INLINE void add_same_shape(const ta_add_fast_params *p, const int8_t *input1, const int8_t *input2,
                              int8_t *output, int sign_fix, int full) {
    const int32_t *t1 = p->table1 + 128, *t2 = p->table2 + 128;
    const int32_t mult = p->output_multiplier, right = p->output_shift, round = p->output_round;
    const int32_t lo = p->act_min, hi = p->act_max;
    int32_t n = p->size;
#define TA_ADD_NEXT() (*output++ = (int8_t)short_requant(t1[*input1++] + t2[*input2++], mult, right, round, \
                                                          sign_fix, full, lo, hi))
#if ADD_ASM
    if (full && n >= 4) {
        int32_t steps = n >> 2, x, y;
        if (sign_fix) {
            ADD_ASM_LOOP("add %[y], %[y], %[x], asr #31\n\t");
        } else {
            ADD_ASM_LOOP("");
        }
        n &= 3;
    }
#endif
    for (; n >= 4; n -= 4) {
        TA_ADD_NEXT();
        TA_ADD_NEXT();
        TA_ADD_NEXT();
        TA_ADD_NEXT();
    }
    for (; n > 0; --n) {
        TA_ADD_NEXT();
    }
#undef TA_ADD_NEXT
}

ta_status ta_add_s8_fast(const ta_add_fast_params *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    if (!p->broadcast) {
        if (p->fast_requant) {
            if (p->full_range) {
                if (p->sign_fix) {
                    add_same_shape(p, input1, input2, output, 1, 1);
                } else {
                    add_same_shape(p, input1, input2, output, 0, 1);
                }
            } else if (p->sign_fix) {
                add_same_shape(p, input1, input2, output, 1, 0);
            } else {
                add_same_shape(p, input1, input2, output, 0, 0);
            }
            return TA_OK;
        }
        for (int32_t i = 0; i < p->size; ++i) {
            output[i] = add_one(p, input1[i], input2[i]);
        }
        return TA_OK;
    }
    TA_FOR_EACH_BROADCAST(p, i, off1, off2, output[i] = add_one(p, input1[off1], input2[off2]));
    return TA_OK;
}
