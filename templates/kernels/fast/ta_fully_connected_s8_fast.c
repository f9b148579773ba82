/* FULLY_CONNECTED int8, fast form (see the header). Bit-exact with TFLM: the
 * input offset lives in the folded bias (weights are symmetric int8).
 *
 * Each weight is used once, so unpacking it is unavoidable; the inputs are
 * unpacked once per step and shared by four channels. Per eight inputs: 2 LDR
 * + 4 SXTB16 for the inputs, then per channel one LDRD, 4 SXTB16 and 4 SMLAD:
 * 44 instructions for 32 MACs. With split weights (see the header) the raw
 * weight words meet the even inputs unconverted and one SXTB16 ROR 8 per four
 * weights serves the odd ones: 2 LDR, 2 SXTB16, 2 REV16 and 2 EOR for the
 * inputs, per channel one LDRD, 2 SXTB16 and 4 SMLAD: 36 for 32 MACs. Where
 * the generator gives it scratch (`staged`: 2 bytes per input, when that at most
 * doubles what the layer holds), the inputs are unpacked once per row instead of
 * once per pass: two LDRD and the channels' 28, 30 for 32 MACs. */
#include "ta_fully_connected_s8_fast.h"
#include "ta_dsp.h"

/* Eight weights of one channel against the unpacked inputs: x02/x13 hold
 * inputs (0,2)/(1,3) and x46/x57 inputs (4,6)/(5,7) as int16 pairs, the
 * order SXTB16 and SXTB16 ROR 8 make of the weight bytes. */
#define TA_FC_CHANNEL(acc)                                  \
    do {                                                    \
        int32_t wa, wb;                                     \
        TA_LOAD_PAIR_INC(w, wa, wb);                        \
        (acc) = ta_smlad(ta_sxtb16(wa), x02, (acc));        \
        (acc) = ta_smlad(ta_sxtb16_ror8(wa), x13, (acc));   \
        (acc) = ta_smlad(ta_sxtb16(wb), x46, (acc));        \
        (acc) = ta_smlad(ta_sxtb16_ror8(wb), x57, (acc));   \
    } while (0)

/* The same with split weights: x02/x46 as above, y13/y57 the odd inputs as
 * (-(x1 + 129 + 256 x0), -(x3 + 129 + 256 x2)) (REV16 then EOR), against the raw
 * weight words and their odd bytes (SXTB16 ROR 8). */
#define TA_FC_CHANNEL_SPLIT(acc)                            \
    do {                                                    \
        int32_t wa, wb;                                     \
        TA_LOAD_PAIR_INC(w, wa, wb);                        \
        (acc) = ta_smlad(wa, x02, (acc));                   \
        (acc) = ta_smlad(ta_sxtb16_ror8(wa), y13, (acc));   \
        (acc) = ta_smlad(wb, x46, (acc));                   \
        (acc) = ta_smlad(ta_sxtb16_ror8(wb), y57, (acc));   \
    } while (0)

#define SPLIT_ODD_MASK ((int32_t)0xFF7FFF7Fu)   /* ~(REV16(v) ^ 0x00800080) == REV16(v) ^ this */

/* a ^ mask with the mask in a register: 0xFF7FFF7F is no Thumb-2 immediate, and GCC
 * would otherwise spend two EORs per word. */
TA_INLINE int32_t eor_reg(int32_t a, int32_t mask) {
#if TA_HAVE_DSP
    int32_t result;
    __asm__("eor %0, %1, %2" : "=r"(result) : "r"(a), "r"(mask));
    return result;
#else
    return a ^ mask;
#endif
}

#define TA_FC_STEP_SPLIT(lo, hi)                                                \
    do {                                                                        \
        const int32_t x02 = ta_sxtb16(lo), y13 = eor_reg(ta_rev16(lo), mask);  \
        const int32_t x46 = ta_sxtb16(hi), y57 = eor_reg(ta_rev16(hi), mask);  \
        TA_FC_CHANNEL_SPLIT(a0);                                                \
        TA_FC_CHANNEL_SPLIT(a1);                                                \
        TA_FC_CHANNEL_SPLIT(a2);                                                \
        TA_FC_CHANNEL_SPLIT(a3);                                                \
    } while (0)

/* Split weights: -128 times the sum of the row's even inputs, added to every
 * channel's accumulator (the raw even weight bytes are e + 128). */
static int32_t split_correction(const int8_t *row, int32_t full, const int8_t *last) {
    const int32_t ones = 0x00010001;
    int32_t sum = 0;
    for (int32_t g = 0; g < full; ++g, row += 8) {
        sum = ta_smlad(ta_sxtb16(ta_load32(row)), ones, sum);
        sum = ta_smlad(ta_sxtb16(ta_load32(row + 4)), ones, sum);
    }
    sum = ta_smlad(ta_sxtb16(ta_load32(last)), ones, sum);
    sum = ta_smlad(ta_sxtb16(ta_load32(last + 4)), ones, sum);
    return -128 * sum;
}

/* One step: eight inputs (the words lo, hi) into the four channels' sums. */
#define TA_FC_STEP(lo, hi)                                                      \
    do {                                                                        \
        const int32_t x02 = ta_sxtb16(lo), x13 = ta_sxtb16_ror8(lo);            \
        const int32_t x46 = ta_sxtb16(hi), x57 = ta_sxtb16_ror8(hi);            \
        TA_FC_CHANNEL(a0);                                                      \
        TA_FC_CHANNEL(a1);                                                      \
        TA_FC_CHANNEL(a2);                                                      \
        TA_FC_CHANNEL(a3);                                                      \
    } while (0)

/* The whole row for the four channels of a pass: `full` steps read in place, then
 * the zero-padded tail in `last`. */
#define TA_FC_ROW(STEP)                                                         \
    do {                                                                        \
        for (int32_t g = 0; g < full; ++g) {                                    \
            const int32_t lo = ta_load32(x), hi = ta_load32(x + 4);             \
            x += 8;                                                             \
            STEP(lo, hi);                                                       \
        }                                                                       \
        if (tail) {                                                             \
            const int32_t lo = ta_load32(last), hi = ta_load32(last + 4);       \
            STEP(lo, hi);                                                       \
        }                                                                       \
    } while (0)

/* Staged inputs (split weights only): each step's four input words x02 y13 x46 y57
 * made once per row into `staged` instead of once per pass, so a step is two LDRD
 * and the four channels' 28 instructions. */
static const int32_t *stage_inputs(const int8_t *row, int32_t full, const int8_t *last, int32_t *staged) {
    const int32_t mask = SPLIT_ODD_MASK;
    int32_t *s = staged;
    for (int32_t g = 0; g <= full; ++g, row += 8, s += 4) {
        const int8_t *src = g < full ? row : last;
        const int32_t lo = ta_load32(src), hi = ta_load32(src + 4);
        s[0] = ta_sxtb16(lo);
        s[1] = eor_reg(ta_rev16(lo), mask);
        s[2] = ta_sxtb16(hi);
        s[3] = eor_reg(ta_rev16(hi), mask);
    }
    return s;
}

#if TA_HAVE_DSP
/* One channel of a staged split step: 7 instructions for 8 MACs. */
#define TA_FC_SPLIT_ASM(A)                          \
    "ldrd %[wa], %[wb], [%[w]], #8\n\t"             \
    "smlad %[" A "], %[wa], %[x02], %[" A "]\n\t"  \
    "sxtb16 %[wa], %[wa], ror #8\n\t"               \
    "smlad %[" A "], %[wa], %[y13], %[" A "]\n\t"  \
    "smlad %[" A "], %[wb], %[x46], %[" A "]\n\t"  \
    "sxtb16 %[wb], %[wb], ror #8\n\t"               \
    "smlad %[" A "], %[wb], %[y57], %[" A "]\n\t"

/* A staged split step in assembly: GCC, left to schedule the four channels, hoists their
 * weight loads together and spills. 30 instructions for 32 MACs. */
#define TA_FC_STEP_SPLIT_STAGED()                                                           \
    do {                                                                                    \
        int32_t x02, y13, x46, y57, wa, wb;                                                 \
        __asm__("ldrd %[x02], %[y13], [%[s]], #8\n\t"                                       \
                "ldrd %[x46], %[y57], [%[s]], #8\n\t"                                       \
                TA_FC_SPLIT_ASM("a0") TA_FC_SPLIT_ASM("a1") TA_FC_SPLIT_ASM("a2")            \
                TA_FC_SPLIT_ASM("a3")                                                       \
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [s] "+r"(s),   \
                  [w] "+r"(w), [x02] "=&r"(x02), [y13] "=&r"(y13), [x46] "=&r"(x46),         \
                  [y57] "=&r"(y57), [wa] "=&r"(wa), [wb] "=&r"(wb)                           \
                :                                                                           \
                : "memory");                                                                \
    } while (0)
#else
#define TA_FC_STEP_SPLIT_STAGED()                                                           \
    do {                                                                                    \
        int32_t x02, y13, x46, y57;                                                         \
        TA_LOAD_PAIR_INC(s, x02, y13);                                                      \
        TA_LOAD_PAIR_INC(s, x46, y57);                                                      \
        TA_FC_CHANNEL_SPLIT(a0);                                                            \
        TA_FC_CHANNEL_SPLIT(a1);                                                            \
        TA_FC_CHANNEL_SPLIT(a2);                                                            \
        TA_FC_CHANNEL_SPLIT(a3);                                                            \
    } while (0)
#endif

/* The usual layer on its own (staged split inputs, one set of constants with the short
 * requantization, int8's whole activation range, whole passes): a function with few live
 * values, so the constants are read once per pass rather than once per output. */
typedef struct {
    int32_t mult, right, round;
} shared_requant;

__attribute__((noinline)) static void passes_staged(const int32_t *bias, int32_t corr, const void *w,
                                                    const int32_t *staged, const void *staged_end, int8_t *out,
                                                    int8_t *out_end, const shared_requant *rq) {
    for (; out != out_end; out += 4, bias += 4) {
        int32_t a0 = bias[0] + corr, a1 = bias[1] + corr, a2 = bias[2] + corr, a3 = bias[3] + corr;
        for (const void *s = staged; s != staged_end;) {
            TA_FC_STEP_SPLIT_STAGED();
        }
        const int32_t mult = rq->mult, right = rq->right, round = rq->round;
        out[0] = (int8_t)ta_ssat8(ta_requantize_fast_acc(a0, mult, right, round));
        out[1] = (int8_t)ta_ssat8(ta_requantize_fast_acc(a1, mult, right, round));
        out[2] = (int8_t)ta_ssat8(ta_requantize_fast_acc(a2, mult, right, round));
        out[3] = (int8_t)ta_ssat8(ta_requantize_fast_acc(a3, mult, right, round));
    }
}

/* Requantize and store the n (1..4) outputs of one pass; `c` indexes the
 * constants (channel o, or 0 when one set serves every channel). */
static void store_outputs(const ta_fully_connected_fast_params *p, const int32_t *acc, int32_t n, int32_t c,
                          int32_t step, int8_t *out) {
    const int32_t lo = p->act_min, hi = p->act_max;
    if (p->fast_requant) {
        for (int32_t k = 0; k < n; ++k, c += step) {
            out[k] = (int8_t)ta_clamp_s8(ta_requantize_fast(acc[k], p->multiplier[c], p->shift[c], p->round[c]),
                                         lo, hi);
        }
        return;
    }
    for (int32_t k = 0; k < n; ++k, c += step) {
        const int32_t y = ta_requantize(acc[k], p->multiplier[c], p->shift[c]) + p->output_offset;
        out[k] = (int8_t)ta_clamp32(y, lo, hi);
    }
}

ta_status ta_fully_connected_s8_fast(const ta_fully_connected_fast_params *p, const int8_t *input,
                                     const int8_t *weights, int8_t *output, int32_t *staged) {
    const int32_t depth = p->input_depth, out_d = p->output_depth;
    const int32_t full = depth >> 3;                 /* steps read straight from the input */
    const int32_t tail = depth & 7;                  /* inputs left over, zero-padded */
    const int32_t step = p->per_channel ? 1 : 0;
    /* One set of constants and the short requantization (the usual per-tensor case): kept in
     * registers for the whole layer, the four outputs of a pass stored straight from the sums. */
    const int shared = p->fast_requant && !p->per_channel && p->multiplier[0] >= 0;
    const int full_range = p->act_min == -128 && p->act_max == 127;
    const int32_t mult = p->multiplier[0], right = p->shift[0], round = p->round[0];
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *row = input + (size_t)b * depth;
        int8_t last[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int32_t i = 0; i < tail; ++i) {
            last[i] = row[8 * full + i];
        }
        int8_t *out = output + (size_t)b * out_d;
        const void *w = weights;
        const int32_t corr = p->split_weights ? split_correction(row, full, last) : 0;
        const int32_t mask = SPLIT_ODD_MASK;
        const void *staged_end = NULL;
        if (staged) {
            TA_TAKES(TA_PATH_FC_STAGED);
            staged_end = stage_inputs(row, full, last, staged);
            if (!tail) {
                staged_end = (const int32_t *)staged_end - 4;   /* the zero step is not run */
            }
        }
        int32_t o = 0;
        if (staged && shared && full_range) {
            TA_TAKES(TA_PATH_FC_STAGED_PASSES);
            const shared_requant rq = {mult, right, round};
            o = out_d & ~3;
            passes_staged(p->bias, corr, w, staged, staged_end, out, out + o, &rq);
            w = (const int8_t *)w + (size_t)o * p->row_len;
        }
        for (; o < out_d; o += 4) {
            int32_t a0 = p->bias[o] + corr, a1 = p->bias[o + 1] + corr, a2 = p->bias[o + 2] + corr,
                    a3 = p->bias[o + 3] + corr;
            const int8_t *x = row;
            if (staged) {
                for (const void *s = staged; s != staged_end;) {
                    TA_FC_STEP_SPLIT_STAGED();
                }
            } else if (p->split_weights) {
                TA_FC_ROW(TA_FC_STEP_SPLIT);
            } else {
                TA_FC_ROW(TA_FC_STEP);
            }
            if (shared && o + 4 <= out_d) {
                /* The three-instruction form (multiplier >= 0, see ta_dsp.h); SSAT alone when the
                 * activation range is int8's. */
                int32_t y0 = ta_ssat8(ta_requantize_fast_acc(a0, mult, right, round));
                int32_t y1 = ta_ssat8(ta_requantize_fast_acc(a1, mult, right, round));
                int32_t y2 = ta_ssat8(ta_requantize_fast_acc(a2, mult, right, round));
                int32_t y3 = ta_ssat8(ta_requantize_fast_acc(a3, mult, right, round));
                if (!full_range) {
                    y0 = ta_clamp_s8(y0, lo, hi);
                    y1 = ta_clamp_s8(y1, lo, hi);
                    y2 = ta_clamp_s8(y2, lo, hi);
                    y3 = ta_clamp_s8(y3, lo, hi);
                }
                out[o] = (int8_t)y0;
                out[o + 1] = (int8_t)y1;
                out[o + 2] = (int8_t)y2;
                out[o + 3] = (int8_t)y3;
                continue;
            }
            const int32_t acc[4] = {a0, a1, a2, a3};
            store_outputs(p, acc, out_d - o < 4 ? out_d - o : 4, o * step, step, out + o);
        }
    }
    return TA_OK;
}
