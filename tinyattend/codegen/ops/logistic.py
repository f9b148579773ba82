"""LOGISTIC and TANH, int8: tables from a port of TFLM's integer reference.

TFLM rescales `x - zero_point` into a Q4.27 value (inputs beyond the radius
saturate), evaluates gemmlowp's fixed-point logistic or tanh and rounds the
Q0 result to 8 bits: logistic with output zero point -128, tanh with 0.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.quant import round_half_away
from ..lowering import unsupported
from ._checks import int8_activations
from . import _fixedpoint_array as fixed
from ._fixedpoint import input_radius, logistic, requantize, shift_right_rounded, tanh
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("LOGISTIC", "TANH")
INPUT_INTEGER_BITS = 4


def input_scaling(input_scale: float) -> tuple[int, int, int]:
    """(multiplier, left_shift, radius) as TFLM's LOGISTIC and TANH prepare them for int8."""
    real = float(np.float32(input_scale)) * float(1 << (31 - INPUT_INTEGER_BITS))
    mantissa, shift = math.frexp(real)
    multiplier = int(round_half_away(mantissa * (1 << 31)))
    return multiplier, shift, input_radius(INPUT_INTEGER_BITS, shift)


def table(op_type: str, input_scale: float, input_zero_point: int) -> np.ndarray:
    """The 256 outputs for inputs -128..127, computed on arrays (_fixedpoint_array): reference_table's
    values in one pass."""
    multiplier, shift, radius = input_scaling(input_scale)
    x = np.arange(-128, 128, dtype=np.int64) - input_zero_point
    q4 = fixed.requantize(np.clip(x, -radius, radius), multiplier, shift)   # clipped: those saturate below
    if op_type == "LOGISTIC":
        values = fixed.shift_right_rounded(fixed.logistic(q4, INPUT_INTEGER_BITS), 31 - 8) - 128
    else:
        values = fixed.shift_right_rounded(fixed.tanh(q4, INPUT_INTEGER_BITS), 31 - 7)
    values = np.where(x <= -radius, -128, np.where(x >= radius, 127, np.clip(values, -128, 127)))
    return values.astype(np.int8)


def reference_table(op_type: str, input_scale: float, input_zero_point: int) -> np.ndarray:
    """`table` entry by entry with the scalar port of TFLM's arithmetic (_fixedpoint): the reference
    the array form is tested against."""
    multiplier, shift, radius = input_scaling(input_scale)

    def one(q: int) -> int:
        x = q - input_zero_point
        if x <= -radius:
            return -128
        if x >= radius:
            return 127
        q4 = requantize(x, multiplier, shift)
        if op_type == "LOGISTIC":
            return clamp8(shift_right_rounded(logistic(q4, INPUT_INTEGER_BITS), 31 - 8) - 128)
        return clamp8(shift_right_rounded(tanh(q4, INPUT_INTEGER_BITS), 31 - 7))
    return build_table(one)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if reasons[0]:
        return unsupported(reasons)
    reasons.append(same_size(op, graph))
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if op.type == "LOGISTIC" and y.zero_point != -128:
        reasons.append(f"output zero point is {y.zero_point}; TFLM requires -128 for int8 LOGISTIC")
    multiplier, shift, _ = input_scaling(x.scale)
    if multiplier >= 1 << 31 or shift < 0 or shift > 31 + INPUT_INTEGER_BITS:
        reasons.append(f"input scale {x.scale:g} is outside the range TFLM's int8 {op.type} handles")
    return unsupported(reasons)


def lower(op, graph, target):
    x = graph.tensor(op.inputs[0])
    return lut_call(op, graph, target, table(op.type, x.scale, x.zero_point))
