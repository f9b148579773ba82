"""Integer fixed-point arithmetic of TFLM's int8 activation kernels, in Python.

Generation-time ports: the op modules use them to build look-up tables and
constants, so the C kernels need none of this. Every function works on Python
ints and reproduces the C++ integer semantics it stands for (two's-complement
wrap-around of int32/int16 sums, truncating division, arithmetic shifts).

Notation: a "Qm" value is a raw int32 with m integer bits and 31 - m
fractional bits (so Q0 holds [-1, 1) and its 1.0 is INT32_MAX).
"""
from __future__ import annotations

import math

from ...ir.quant import multiply_by_quantized_multiplier, quantize_multiplier

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def wrap(x: int, bits: int = 32) -> int:
    """Two's-complement truncation to `bits` bits."""
    half = 1 << (bits - 1)
    return (x + half) % (1 << bits) - half


def trunc_div(a: int, b: int) -> int:
    """C integer division (toward zero) for b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def high_mul(a: int, b: int, bits: int = 32) -> int:
    """Rounding doubling high multiply (ARM SQRDMULH), saturating min*min."""
    lo = -(1 << (bits - 1))
    if a == b == lo:
        return -lo - 1
    product = a * b
    nudge = (1 << (bits - 2)) if product >= 0 else 1 - (1 << (bits - 2))
    return wrap(trunc_div(product + nudge, 1 << (bits - 1)), bits)


def high_mul_truncating(a: int, b: int, bits: int = 16) -> int:
    """Doubling high multiply rounding toward zero (ARM SQDMULH), saturating min*min."""
    lo = -(1 << (bits - 1))
    if a == b == lo:
        return -lo - 1
    return wrap(trunc_div(a * b, 1 << (bits - 1)), bits)


def shift_right_rounded(x: int, exponent: int, bits: int = 32) -> int:
    """x / 2^exponent, nearest, ties away from zero, computed in a `bits`-wide integer
    (the mask is truncated to that width, which matters for exponents >= bits)."""
    mask = wrap((1 << exponent) - 1, bits)
    remainder = wrap(x & mask, bits)
    threshold = wrap((mask >> 1) + (1 if x < 0 else 0), bits)
    return wrap((x >> exponent) + (1 if remainder > threshold else 0), bits)


def scale_by_pot(x: int, exponent: int) -> int:
    """Multiply an int32 by 2^exponent: saturating when exponent > 0, rounding when < 0."""
    if exponent == 0:
        return x
    if exponent < 0:
        return shift_right_rounded(x, -exponent)
    limit = (1 << (31 - exponent)) - 1
    if x > limit:
        return INT32_MAX
    if x < -limit:
        return INT32_MIN
    return wrap(x << exponent)


def half_sum(a: int, b: int) -> int:
    """(a + b) / 2 rounded to nearest, ties away from zero, for int32 a and b."""
    total = a + b
    return trunc_div(total + (1 if total >= 0 else -1), 2)


def _add(a: int, b: int) -> int:
    return wrap(a + b)


def _sub(a: int, b: int) -> int:
    return wrap(a - b)


# Q0 constants (raw values): exp(-1/8), 1/3, and exp(-2^k) for k = -2..4.
_EXP_MINUS_ONE_EIGHTH = 1895147668
_ONE_THIRD = 715827883
_EXP_STEPS = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
              (2, 39332535), (3, 720401), (4, 242))
# Q2 constants for the Newton-Raphson reciprocal: 48/17 and -32/17.
_48_OVER_17 = 1515870810
_NEG_32_OVER_17 = -1010580540
_ONE_Q2 = 1 << 29


def _exp_near_zero(a: int) -> int:
    """exp(a) for a Q0 value a in [-1/4, 0): 4th-order Taylor series around -1/8."""
    x = _add(a, 1 << 28)
    x2 = high_mul(x, x)
    x3 = high_mul(x2, x)
    x4 = high_mul(x2, x2)
    x4_over_4 = scale_by_pot(x4, -2)
    poly = scale_by_pot(_add(high_mul(_add(x4_over_4, x3), _ONE_THIRD), x2), -1)
    return _add(_EXP_MINUS_ONE_EIGHTH, high_mul(_EXP_MINUS_ONE_EIGHTH, _add(x, poly)))


def exp_negative(a: int, integer_bits: int) -> int:
    """exp(a) as Q0 for a Q`integer_bits` value a <= 0."""
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    reduced = _sub(a & (quarter - 1), quarter)           # a mod 1/4, minus 1/4: in [-1/4, 0)
    result = _exp_near_zero(scale_by_pot(reduced, integer_bits))
    remainder = _sub(reduced, a)                          # the multiple of 1/4 taken off
    for k, multiplier in _EXP_STEPS:
        if integer_bits > k and remainder & (1 << (fractional + k)):
            result = high_mul(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return INT32_MAX if a == 0 else result


def _newton_reciprocal_q2(half_denominator: int) -> int:
    """1 / half_denominator in Q2 by three Newton-Raphson steps (half_denominator in Q0, [1/2, 1))."""
    x = _add(_48_OVER_17, high_mul(half_denominator, _NEG_32_OVER_17))
    for _ in range(3):
        error = _sub(_ONE_Q2, high_mul(half_denominator, x))
        x = _add(x, scale_by_pot(high_mul(x, error), 2))
    return x


def one_over_one_plus_x(a: int) -> int:
    """1 / (1 + a) as Q0 for a Q0 value a in [0, 1)."""
    x = _newton_reciprocal_q2(half_sum(a, INT32_MAX))
    return scale_by_pot(x, 1)          # x / 2 in Q2 is the same raw value as x in Q1; Q1 -> Q0


def one_minus_x_over_one_plus_x(a: int) -> int:
    """(1 - a) / (1 + a) as Q0 for a Q0 value a in [0, 1)."""
    x = _newton_reciprocal_q2(half_sum(a, INT32_MAX))
    return scale_by_pot(_sub(x, _ONE_Q2), 2)


def logistic(a: int, integer_bits: int) -> int:
    """1 / (1 + exp(-a)) as Q0 for a Q`integer_bits` value a."""
    if a == 0:
        return 1 << 30
    magnitude = a if a > 0 else wrap(-a)
    positive = one_over_one_plus_x(exp_negative(wrap(-magnitude), integer_bits))
    return positive if a > 0 else _sub(INT32_MAX, positive)


def tanh(a: int, integer_bits: int) -> int:
    """tanh(a) as Q0 for a Q`integer_bits` value a."""
    if a == 0:
        return 0
    negative = a if a < 0 else wrap(-a)
    # exp(2 * negative): the same raw value read with one more integer bit.
    t = one_minus_x_over_one_plus_x(exp_negative(negative, integer_bits + 1))
    return wrap(-t) if a < 0 else t


def count_leading_zeros32(x: int) -> int:
    x &= 0xFFFFFFFF
    return 32 - x.bit_length()


def reciprocal(x: int, integer_bits: int) -> tuple[int, int]:
    """TFLM's GetReciprocal: (Q0 scale, bits over unit) with 1/x ~= scale * 2^-bits_over_unit."""
    headroom_plus_one = count_leading_zeros32(x)
    bits_over_unit = integer_bits - headroom_plus_one
    shifted_minus_one = wrap(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    return one_over_one_plus_x(shifted_minus_one), bits_over_unit


def input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """TFLM's CalculateInputRadius (floating-point variant)."""
    value = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_bits - integer_bits)) / (1 << left_shift)
    return int(math.floor(value))


def requantize(x: int, multiplier: int, shift: int) -> int:
    """TFLM's (double-rounding) MultiplyByQuantizedMultiplier for an int32 x, with its int32 wrap."""
    return multiply_by_quantized_multiplier(x, multiplier, shift)


__all__ = [
    "wrap", "high_mul", "high_mul_truncating", "shift_right_rounded", "scale_by_pot", "exp_negative",
    "one_over_one_plus_x", "one_minus_x_over_one_plus_x", "logistic", "tanh", "reciprocal",
    "input_radius", "requantize", "quantize_multiplier", "count_leading_zeros32",
]
