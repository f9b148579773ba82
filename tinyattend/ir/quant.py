"""Fixed-point quantization arithmetic, as TFLite and TFLM compute it.

These functions run at generation time; the C kernels receive their results
as constants. They follow TFLite's `QuantizeMultiplier` and TFLM's default
(double-rounding) `MultiplyByQuantizedMultiplier`, so that generated code and
TFLM agree bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
MAX_LEFT_SHIFT = 31         # the most an int32 can be shifted left in C without undefined behaviour


class MultiplierOutOfRange(ValueError):
    """A rescale factor of 2^31 or more. The requantization would shift an int32 left by 32 bits or more:
    undefined behaviour in C (TFLM's `x * (1 << shift)` included, whose result then depends on the CPU).
    No real model has one; a corrupt scale does. codegen.generate reports it naming the op."""


def quantize_multiplier(real: float) -> tuple[int, int]:
    """real -> (multiplier Q0.31 in [2^30, 2^31), shift) with real ~= multiplier * 2^(shift-31)."""
    if real == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real)
    q = int(math.floor(abs(mantissa) * (1 << 31) + 0.5)) * (1 if mantissa >= 0 else -1)
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        shift, q = 0, 0
    if shift > MAX_LEFT_SHIFT:
        raise MultiplierOutOfRange(f"a requantization factor of {real:.3g} (2^{shift - 1} or more) cannot be "
                                   f"applied in int32 arithmetic: a quantization scale is out of range")
    return q, shift


def quantize_multiplier_array(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, dtype=np.float64).ravel()]
    return (np.array([p[0] for p in pairs], dtype=np.int32), np.array([p[1] for p in pairs], dtype=np.int32))


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    # C++ integer division truncates toward zero.
    total = ab + nudge
    q = abs(total) >> 31
    return q if total >= 0 else -q


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLM's default MultiplyByQuantizedMultiplier (double rounding), on Python ints."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(_wrap32(x * (1 << left)), multiplier), right)


def _wrap32(x: int) -> int:
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def activation_range(activation: str, scale: float, zero_point: int, qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for a fused activation.

    TFLite divides in single precision and rounds with std::round on a float.
    """
    def quantize(value: float) -> int:
        return zero_point + int(round_half_away(float(np.float32(value) / np.float32(scale))))
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(f"fused activation {activation} is not supported")


def effective_scale(input_scale: float, weight_scale: float, output_scale: float) -> float:
    """TFLM's per-channel (and FC per-tensor) rescale: float32 scales, product in double."""
    return float(np.float32(input_scale)) * float(np.float32(weight_scale)) / float(np.float32(output_scale))


def round_half_away(value: float) -> float:
    """std::round: halves away from zero (Python's round() rounds half to even)."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)
