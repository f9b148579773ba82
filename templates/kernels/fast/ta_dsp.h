/* tinyattend fast kernels: the few Armv7E-M DSP operations they are built on.
 *
 * On a core with the DSP extension (Cortex-M4/M7/M33/M55) these are the ACLE
 * intrinsics, one instruction each. Elsewhere (the host, Cortex-M0/M3) they are
 * plain C with exactly the same results, so the same kernel source is tested
 * on the host under sanitizers and on the emulated cores.
 */
#ifndef TA_DSP_H
#define TA_DSP_H

#include <string.h>

#include "ta_common.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define TA_HAVE_DSP 1
/* Two signed 8-bit lanes (bytes 0 and 2) sign-extended to 16-bit halves. */
TA_INLINE int32_t ta_sxtb16(int32_t x) { return (int32_t)__sxtb16((uint32_t)x); }
/* The same for bytes 1 and 3 (SXTB16 with ROR #8). */
TA_INLINE int32_t ta_sxtb16_ror8(int32_t x) {
    int32_t result;   /* one instruction: GCC does not fold a rotate into __sxtb16 */
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(x));
    return result;
}
/* acc + lo(a)*lo(b) + hi(a)*hi(b), 16-bit halves. */
TA_INLINE int32_t ta_smlad(int32_t a, int32_t b, int32_t acc) { return __smlad((int16x2_t)a, (int16x2_t)b, acc); }
/* acc + lo(a)*lo(b). */
TA_INLINE int32_t ta_smlabb(int32_t a, int32_t b, int32_t acc) { return __smlabb(a, b, acc); }
/* acc + hi(a)*lo(b). */
TA_INLINE int32_t ta_smlatb(int32_t a, int32_t b, int32_t acc) { return __smlatb(a, b, acc); }
/* Most significant word of a*b, rounded: (a*b + 2^31) >> 32. */
TA_INLINE int32_t ta_smmulr(int32_t a, int32_t b) {
    int32_t result;
    __asm__("smmulr %0, %1, %2" : "=r"(result) : "r"(a), "r"(b));
    return result;
}
/* a * b + (acc << 32), most significant word, rounded: acc + ((a*b + 2^31) >> 32). */
TA_INLINE int32_t ta_smmlar(int32_t a, int32_t b, int32_t acc) {
    int32_t result;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(result) : "r"(a), "r"(b), "r"(acc));
    return result;
}
/* Saturate to int8 (one SSAT). */
TA_INLINE int32_t ta_ssat8(int32_t x) { return __ssat(x, 8); }
/* Bytes swapped within each 16-bit half (REV16). */
TA_INLINE int32_t ta_rev16(int32_t x) {
    int32_t result;   /* GCC 12's arm_acle.h has no __rev16 */
    __asm__("rev16 %0, %1" : "=r"(result) : "r"(x));
    return result;
}
/* Two 16-bit lanes added / subtracted, each wrapping (SADD16 / SSUB16). */
TA_INLINE int32_t ta_sadd16(int32_t a, int32_t b) { return (int32_t)__sadd16((int16x2_t)a, (int16x2_t)b); }
TA_INLINE int32_t ta_ssub16(int32_t a, int32_t b) { return (int32_t)__ssub16((int16x2_t)a, (int16x2_t)b); }
/* acc + the sign-extended bytes 0 and 2 of x, per 16-bit half (SXTAB16). */
TA_INLINE int32_t ta_sxtab16(int32_t acc, int32_t x) { return (int32_t)__sxtab16((int16x2_t)acc, (int8x4_t)x); }
/* The same for bytes 1 and 3 (SXTAB16 with ROR #8). */
TA_INLINE int32_t ta_sxtab16_ror8(int32_t acc, int32_t x) {
    int32_t result;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(result) : "r"(acc), "r"(x));
    return result;
}
/* Low half of a, low half of b as the high half (PKHBT ... LSL #16). */
TA_INLINE int32_t ta_pack_lo16(int32_t a, int32_t b) {
    int32_t result;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(result) : "r"(a), "r"(b));
    return result;
}
/* High half of a as the low half, high half of b (PKHTB ... ASR #16). */
TA_INLINE int32_t ta_pack_hi16(int32_t a, int32_t b) {
    int32_t result;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(result) : "r"(b), "r"(a));
    return result;
}
/* Inline assembly shared by the fast conv's tile and the Winograd sums: the twelve SMLAD of one
 * step of the 3-column x 2-channel tile, three columns' (lo, hi) (LDRD each, from %[x]) against the
 * two channels' int16 weights in al/wa (channel 0) and bl/wb (channel 1); accumulators a<column><channel>. */
#define TA_ASM_STEP_MACS \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smlad %[a00], %[al], %[lo], %[a00]\n\t" \
    "smlad %[a00], %[wa], %[hi], %[a00]\n\t" \
    "smlad %[a01], %[bl], %[lo], %[a01]\n\t" \
    "smlad %[a01], %[wb], %[hi], %[a01]\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smlad %[a10], %[al], %[lo], %[a10]\n\t" \
    "smlad %[a10], %[wa], %[hi], %[a10]\n\t" \
    "smlad %[a11], %[bl], %[lo], %[a11]\n\t" \
    "smlad %[a11], %[wb], %[hi], %[a11]\n\t" \
    "ldrd %[lo], %[hi], [%[x]], #8\n\t" \
    "smlad %[a20], %[al], %[lo], %[a20]\n\t" \
    "smlad %[a20], %[wa], %[hi], %[a20]\n\t" \
    "smlad %[a21], %[bl], %[lo], %[a21]\n\t" \
    "smlad %[a21], %[wb], %[hi], %[a21]\n\t"

#else
#define TA_HAVE_DSP 0
TA_INLINE int32_t ta_pack16(int32_t lo, int32_t hi) { return (int32_t)(((uint32_t)hi << 16) | ((uint32_t)lo & 0xFFFFu)); }
TA_INLINE int32_t ta_lo16(int32_t x) { return (int16_t)(x & 0xFFFF); }
TA_INLINE int32_t ta_hi16(int32_t x) { return (int16_t)((uint32_t)x >> 16); }
TA_INLINE int32_t ta_sxtb16(int32_t x) {
    return ta_pack16((int8_t)(x & 0xFF), (int8_t)(((uint32_t)x >> 16) & 0xFF));
}
TA_INLINE int32_t ta_sxtb16_ror8(int32_t x) {
    return ta_pack16((int8_t)(((uint32_t)x >> 8) & 0xFF), (int8_t)(((uint32_t)x >> 24) & 0xFF));
}
TA_INLINE int32_t ta_smlad(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(ta_lo16(a) * ta_lo16(b)) + (uint32_t)(ta_hi16(a) * ta_hi16(b)));
}
TA_INLINE int32_t ta_smlabb(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(ta_lo16(a) * ta_lo16(b)));
}
TA_INLINE int32_t ta_smlatb(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)(ta_hi16(a) * ta_lo16(b)));
}
TA_INLINE int32_t ta_smmulr(int32_t a, int32_t b) {
    return (int32_t)(((int64_t)a * (int64_t)b + (1LL << 31)) >> 32);
}
TA_INLINE int32_t ta_smmlar(int32_t a, int32_t b, int32_t acc) {
    return (int32_t)((uint32_t)acc + (uint32_t)ta_smmulr(a, b));
}
TA_INLINE int32_t ta_ssat8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
TA_INLINE int32_t ta_rev16(int32_t x) {
    const uint32_t u = (uint32_t)x;
    return (int32_t)(((u & 0x00FF00FFu) << 8) | ((u >> 8) & 0x00FF00FFu));
}
TA_INLINE int32_t ta_sadd16(int32_t a, int32_t b) { return ta_pack16(ta_lo16(a) + ta_lo16(b), ta_hi16(a) + ta_hi16(b)); }
TA_INLINE int32_t ta_ssub16(int32_t a, int32_t b) { return ta_pack16(ta_lo16(a) - ta_lo16(b), ta_hi16(a) - ta_hi16(b)); }
TA_INLINE int32_t ta_sxtab16(int32_t acc, int32_t x) {
    return ta_pack16(ta_lo16(acc) + (int8_t)(x & 0xFF), ta_hi16(acc) + (int8_t)(((uint32_t)x >> 16) & 0xFF));
}
TA_INLINE int32_t ta_sxtab16_ror8(int32_t acc, int32_t x) {
    return ta_pack16(ta_lo16(acc) + (int8_t)(((uint32_t)x >> 8) & 0xFF), ta_hi16(acc) + (int8_t)(((uint32_t)x >> 24) & 0xFF));
}
TA_INLINE int32_t ta_pack_lo16(int32_t a, int32_t b) { return ta_pack16(ta_lo16(a), ta_lo16(b)); }
TA_INLINE int32_t ta_pack_hi16(int32_t a, int32_t b) { return ta_pack16(ta_hi16(a), ta_hi16(b)); }
#endif

/* Unaligned 32-bit load (one LDR on Cortex-M; memcpy keeps C free of UB). */
TA_INLINE int32_t ta_load32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

TA_INLINE void ta_store32(void *p, int32_t v) { memcpy(p, &v, 4); }

/* Two words from an 8-byte-aligned address: one LDRD on Cortex-M (a single
 * 64-bit access on the M7's bus, so no multi-register transfer is hidden). */
#if TA_HAVE_DSP
typedef struct { int32_t word[2]; } ta_pair;
#define TA_LOAD_PAIR(ptr, lo, hi) __asm__("ldrd %0, %1, %2" : "=r"(lo), "=r"(hi) : "m"(*(const ta_pair *)(const void *)(ptr)))
/* The same, advancing the pointer by 8 bytes (post-indexed LDRD). */
#define TA_LOAD_PAIR_INC(ptr, lo, hi) \
    __asm__("ldrd %0, %1, [%2], #8" : "=r"(lo), "=r"(hi), "+r"(ptr) : "m"(*(const ta_pair *)(const void *)(ptr)))
/* Two words to an 8-byte-aligned address, then ptr += step bytes (post-indexed STRD). */
#define TA_STORE_PAIR_STEP(ptr, lo, hi, step) \
    __asm__("strd %2, %3, [%0], %4" : "+r"(ptr), "=m"(*(ta_pair *)(void *)(ptr)) : "r"(lo), "r"(hi), "i"(step))
#else
#define TA_STORE_PAIR_STEP(ptr, lo, hi, step) do { \
        const int32_t lo_ = (lo), hi_ = (hi); \
        memcpy((ptr), &lo_, 4); memcpy((int8_t *)(ptr) + 4, &hi_, 4); \
        (ptr) = (void *)((int8_t *)(ptr) + (step)); \
    } while (0)
#define TA_LOAD_PAIR(ptr, lo, hi) do { memcpy(&(lo), (ptr), 4); memcpy(&(hi), (const int8_t *)(ptr) + 4, 4); } while (0)
#define TA_LOAD_PAIR_INC(ptr, lo, hi) do { TA_LOAD_PAIR(ptr, lo, hi); (ptr) = (const void *)((const int8_t *)(ptr) + 8); } while (0)
#endif

/* Requantization, fast form. Valid when the generator proved, for this
 * channel, that the multiplier needs a right shift of at least one and that
 * |acc| < 2^30. Then TFLM's SaturatingRoundingDoublingHighMul(acc, m) equals
 * SMMULR(2*acc, m), and RoundingDivideByPOT(x, e) + output_offset equals
 *   (x + (x < 0 ? -1 : 0) + round) >> e   with round = 2^(e-1) + offset * 2^e
 * (adding offset * 2^e before an arithmetic shift adds exactly offset after it).
 * `round` comes precomputed per channel. */
TA_INLINE int32_t ta_requantize_fast(int32_t acc, int32_t multiplier, int32_t right, int32_t round) {
    int32_t x = ta_smmulr((int32_t)((uint32_t)acc << 1), multiplier);
    x = x + (x >> 31) + round;
    return x >> right;
}

/* ta_requantize_fast in three instructions (LSL, ADD, SMMLAR) before the shift,
 * under the same conditions, for a multiplier >= 0. The sign correction is
 * taken from acc instead of from x = SMMULR(2*acc, m): they differ only when
 * acc < 0 and x == 0, and then (round - 1) >> right == round >> right because
 * round = 2^(right-1) + offset * 2^right. (A zero multiplier with acc < 0 is the
 * same case; the generator's dead channels have acc == 0.) Channels whose TFLite
 * shift is >= 0 use the same instructions with an accumulator the generator made
 * non-negative (offset bias, and scaled weights where they are int16) and a right
 * shift that may be 0: see tinyattend/codegen/ops/_requant_left.py. */
TA_INLINE int32_t ta_requantize_fast_acc(int32_t acc, int32_t multiplier, int32_t right, int32_t round) {
    const int32_t x = ta_smmlar((int32_t)((uint32_t)acc << 1), multiplier, round + (acc >> 31));
    return x >> right;
}

/* Saturate to int8 (one SSAT on DSP cores), then apply the activation range. */
TA_INLINE int32_t ta_clamp_s8(int32_t x, int32_t act_min, int32_t act_max) {
#if TA_HAVE_DSP
    x = __ssat(x, 8);
#else
    x = x < -128 ? -128 : (x > 127 ? 127 : x);
#endif
    x = x < act_min ? act_min : x;
    return x > act_max ? act_max : x;
}

#endif /* TA_DSP_H */
