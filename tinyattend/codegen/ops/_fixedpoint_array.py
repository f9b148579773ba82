"""`_fixedpoint`'s logistic and tanh on numpy arrays: a whole 256-entry table in one pass.

The scalar functions in `_fixedpoint` are the reference (each mirrors one gemmlowp/TFLM routine); these
do the same integer steps element-wise on int64 arrays holding int32 values, so they give the same table
(tests/test_ops_activation.py compares them over many scales). Why: the scalar form takes ~12 ms a table
in Python, and EfficientNet-B0 has 65 LOGISTIC ops, ~0.8 s of code generation. Every product of two
int32 values fits int64 (|a * b| <= 2^62), so no step overflows before it wraps to 32 bits.
"""
from __future__ import annotations

import numpy as np

from ._fixedpoint import (_48_OVER_17, _EXP_MINUS_ONE_EIGHTH, _EXP_STEPS, _NEG_32_OVER_17, _ONE_Q2, _ONE_THIRD,
                          INT32_MAX, INT32_MIN)


def wrap(x: np.ndarray) -> np.ndarray:
    """Two's-complement truncation to 32 bits."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _trunc_div_pot(a: np.ndarray, exponent: int) -> np.ndarray:
    """C division (toward zero) by 2^exponent."""
    q = np.abs(a) >> exponent
    return np.where(a >= 0, q, -q)


def high_mul(a, b) -> np.ndarray:
    """Rounding doubling high multiply (SQRDMULH), saturating min*min (_fixedpoint.high_mul)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    product = a * b
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    result = wrap(_trunc_div_pot(product + nudge, 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, result)


def shift_right_rounded(x: np.ndarray, exponent: int) -> np.ndarray:
    """x / 2^exponent, nearest, ties away from zero, in 32 bits (_fixedpoint.shift_right_rounded)."""
    mask = int(wrap(np.int64((1 << exponent) - 1))) if exponent < 63 else -1
    remainder = wrap(x & mask)
    threshold = wrap((mask >> 1) + (x < 0))
    return wrap((x >> min(exponent, 63)) + (remainder > threshold))


def scale_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """x * 2^exponent: saturating when exponent > 0, rounding when < 0 (_fixedpoint.scale_by_pot)."""
    if exponent == 0:
        return x
    if exponent < 0:
        return shift_right_rounded(x, -exponent)
    limit = (1 << (31 - exponent)) - 1
    return np.where(x > limit, INT32_MAX, np.where(x < -limit, INT32_MIN, wrap(x << exponent)))


def _half_sum(a: np.ndarray, b: int) -> np.ndarray:
    total = a + b
    return _trunc_div_pot(total + np.where(total >= 0, 1, -1), 1)


def _exp_near_zero(a: np.ndarray) -> np.ndarray:
    x = wrap(a + (1 << 28))
    x2 = high_mul(x, x)
    x3 = high_mul(x2, x)
    x4 = high_mul(x2, x2)
    x4_over_4 = scale_by_pot(x4, -2)
    poly = scale_by_pot(wrap(high_mul(wrap(x4_over_4 + x3), _ONE_THIRD) + x2), -1)
    return wrap(_EXP_MINUS_ONE_EIGHTH + high_mul(_EXP_MINUS_ONE_EIGHTH, wrap(x + poly)))


def exp_negative(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """exp(a) as Q0 for Q`integer_bits` values a <= 0 (_fixedpoint.exp_negative)."""
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    reduced = wrap((a & (quarter - 1)) - quarter)
    result = _exp_near_zero(scale_by_pot(reduced, integer_bits))
    remainder = wrap(reduced - a)
    for k, multiplier in _EXP_STEPS:
        if integer_bits > k:
            result = np.where(remainder & (1 << (fractional + k)), high_mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal_q2(half_denominator: np.ndarray) -> np.ndarray:
    x = wrap(_48_OVER_17 + high_mul(half_denominator, _NEG_32_OVER_17))
    for _ in range(3):
        error = wrap(_ONE_Q2 - high_mul(half_denominator, x))
        x = wrap(x + scale_by_pot(high_mul(x, error), 2))
    return x


def logistic(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """1 / (1 + exp(-a)) as Q0 for Q`integer_bits` values a (_fixedpoint.logistic)."""
    a = np.asarray(a, np.int64)
    magnitude = np.where(a > 0, a, wrap(-a))
    positive = scale_by_pot(_newton_reciprocal_q2(_half_sum(exp_negative(wrap(-magnitude), integer_bits),
                                                            INT32_MAX)), 1)
    return np.where(a == 0, 1 << 30, np.where(a > 0, positive, wrap(INT32_MAX - positive)))


def tanh(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """tanh(a) as Q0 for Q`integer_bits` values a (_fixedpoint.tanh)."""
    a = np.asarray(a, np.int64)
    negative = np.where(a < 0, a, wrap(-a))
    x = _newton_reciprocal_q2(_half_sum(exp_negative(negative, integer_bits + 1), INT32_MAX))
    t = scale_by_pot(wrap(x - _ONE_Q2), 2)
    return np.where(a == 0, 0, np.where(a < 0, wrap(-t), t))


def requantize(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """TFLM's double-rounding MultiplyByQuantizedMultiplier (ir.quant.multiply_by_quantized_multiplier)."""
    left, right = max(shift, 0), max(-shift, 0)
    return shift_right_rounded(high_mul(wrap(np.asarray(x, np.int64) << left), multiplier), right)
