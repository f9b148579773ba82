"""RSQRT, int8: a 256-entry table from a port of TFLM's integer reference.

RSQRT is where a LayerNorm, GroupNorm or InstanceNorm ends up after onnx2tf and the int8
converter: MEAN, SQUARED_DIFFERENCE, MEAN, ADD (epsilon), RSQRT, then MUL/SUB/ADD.
TFLM (kernels/elementwise.cc) takes v = x - input_zero_point, computes 1/sqrt(v) as a
fixed-point multiplier and exponent (TFLite's GetInvSqrtQuantizedMultiplierExp: five
Newton-Raphson steps in Q3), applies it to 1 << 20, then rescales by
1 / (sqrt(input_scale) * output_scale) and 2^-20. v == 0 gives 127.

Inputs below the zero point (negative reals) make TFLM fail the whole invoke; the table
gives 127 for them (as for zero). The converter never produces them after an ADD of a
positive epsilon: the calibrated range starts at 0, so the zero point is -128.
"""
from __future__ import annotations

import math

import numpy as np

from ..lowering import unsupported
from ._checks import int8_activations
from ._fixedpoint import (INT32_MAX, count_leading_zeros32, high_mul, quantize_multiplier, requantize,
                          scale_by_pot, wrap)
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("RSQRT",)
HEADROOM_SHIFT = 20      # TFLM's kShift: 1 << 20 keeps the intermediate an integer
HALF_SQRT_2_Q0 = 1518500250


def inv_sqrt_multiplier_exp(value: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp(value, reverse_shift=-1) for value >= 0:
    (Q0 multiplier, left shift) with 1/sqrt(value) ~= multiplier * 2^(shift - 31)."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = (count_leading_zeros32(value) - 1) // 2 - 1
    shift -= pairs
    value <<= 2 * pairs                       # now in [2^27, 2^29): a Q3 value in [0.25, 1)
    half_input = scale_by_pot(value >> 1, -1)
    half_three = (1 << 28) + (1 << 27)        # 1.5 in Q3
    x = 1 << 28                               # 1.0 in Q3
    for _ in range(5):
        # x3 is a Q9 product brought back to Q3; the step's Q6 difference likewise.
        x3 = scale_by_pot(high_mul(high_mul(x, x), x), 6)
        x = scale_by_pot(wrap(high_mul(half_three, x) - high_mul(half_input, x3)), 3)
    x = high_mul(x, HALF_SQRT_2_Q0)
    if shift < 0:
        x, shift = wrap(x << -shift), 0
    return x, -shift


def output_multiplier(input_scale: float, output_scale: float) -> tuple[int, int]:
    """TFLM's SetRsqrtOutputMultiplier: the float32 scales widened to double."""
    real = 1.0 / (math.sqrt(float(np.float32(input_scale))) * float(np.float32(output_scale)))
    return quantize_multiplier(real)


def table(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int) -> np.ndarray:
    multiplier, shift = output_multiplier(input_scale, output_scale)

    def one(q: int) -> int:
        value = q - input_zero_point
        if value <= 0:
            return 127
        inv_multiplier, inv_shift = inv_sqrt_multiplier_exp(value)
        data = requantize(1, inv_multiplier, inv_shift + HEADROOM_SHIFT)
        return clamp8(requantize(data, multiplier, shift - HEADROOM_SHIFT) + output_zero_point)
    return build_table(one)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if reasons[0]:
        return unsupported(reasons)
    reasons.append(same_size(op, graph))
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.quant.per_channel or y.quant.per_channel:
        reasons.append("per-channel quantization is not supported")
    elif x.scale <= 0 or y.scale <= 0:
        reasons.append("scales must be positive")
    elif not -31 <= output_multiplier(x.scale, y.scale)[1] - HEADROOM_SHIFT <= 31:
        reasons.append(f"input scale {x.scale:g} and output scale {y.scale:g} are outside the range "
                       "TFLM's int8 RSQRT rescales")
    return unsupported(reasons)


def lower(op, graph, target):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    return lut_call(op, graph, target, table(x.scale, x.zero_point, y.scale, y.zero_point))
