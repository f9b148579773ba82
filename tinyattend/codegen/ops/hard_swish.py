"""HARD_SWISH, int8: a table from a port of TFLM's reference HardSwish.

TFLM works in 16 bits: the input moves to a "hires" scale (x 128), one
int16 multiplier takes it to the output scale before the final shift and
another to a "reluish" value in [-1, 1] (that is, relu6(x + 3) / 6 * 2 - 1),
which is mapped to [0, 1] and multiplied in with a truncating high multiply.
"""
from __future__ import annotations

import numpy as np

from ..lowering import unsupported
from ._checks import int8_activations
from ._fixedpoint import high_mul, high_mul_truncating, quantize_multiplier, shift_right_rounded, wrap
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("HARD_SWISH",)


def _to_int16_multiplier(multiplier: int) -> int:
    """TFLM's DownScaleInt32ToInt16Multiplier."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def _saturating_shl16(value: int, amount: int) -> int:
    return max(-(1 << 15), min((1 << 15) - 1, value * (1 << amount)))


def params(input_scale: float, output_scale: float) -> tuple[int, int, int, int]:
    """(output_multiplier16, output_exponent, reluish_multiplier16, reluish_exponent), float32 as in TFLM."""
    f32 = np.float32
    hires_scale = f32(1.0 / 128.0) * f32(input_scale)
    reluish_scale = f32(3.0) / f32(32768.0)
    out_mult, out_exp = quantize_multiplier(float(hires_scale / f32(output_scale)))
    relu_mult, relu_exp = quantize_multiplier(float(hires_scale / reluish_scale))
    return _to_int16_multiplier(out_mult), out_exp, _to_int16_multiplier(relu_mult), relu_exp


def table(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int) -> np.ndarray:
    out_mult, out_exp, relu_mult, relu_exp = params(input_scale, output_scale)

    def one(q: int) -> int:
        hires = wrap(wrap(q - input_zero_point, 16) * 128, 16)
        preshift = high_mul(hires, out_mult, 16)
        reluish = hires
        if relu_exp > 0:
            reluish = _saturating_shl16(reluish, relu_exp - 1)
        reluish = high_mul(reluish, relu_mult, 16)
        if relu_exp > 0:
            reluish = _saturating_shl16(reluish, 1)
        if relu_exp < 0:
            reluish = shift_right_rounded(reluish, -relu_exp, 16)
        reluish = wrap((reluish + (1 << 15)) >> 1, 16)
        value = high_mul_truncating(reluish, preshift, 16)
        value = shift_right_rounded(value, -out_exp, 16)
        return clamp8(wrap(value + output_zero_point, 16))
    return build_table(one)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if reasons[0]:
        return unsupported(reasons)
    reasons.append(same_size(op, graph))
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if params(x.scale, y.scale)[1] > 0:
        reasons.append(f"output scale {y.scale:g} is too small for input scale {x.scale:g}: "
                       "TFLM's int8 HARD_SWISH needs input_scale / 128 <= output_scale")
    return unsupported(reasons)


def lower(op, graph, target):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    return lut_call(op, graph, target, table(x.scale, x.zero_point, y.scale, y.zero_point))
