"""RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1 and LEAKY_RELU, int8, as 256-entry tables.

TFLM's RELU and LEAKY_RELU requantize `x - input_zero_point` to the output
scale (LEAKY_RELU with a second multiplier that includes alpha for x < 0);
TFLM's RELU6 clamps the input bytes to [zero point, quantized 6] without any
requantization. RELU_N1_TO_1 and RELU_0_TO_1 (what the TFLite converter makes of
a hard sigmoid, ONNX HardSigmoid) have no TFLM kernel; they follow LiteRT's int8
kernel, RELU's requantization clamped to the quantized [-1, 1] or [0, 1].
"""
from __future__ import annotations

import numpy as np

from ...ir.quant import round_half_away
from ..lowering import unsupported
from ._checks import int8_activations
from ._fixedpoint import quantize_multiplier, requantize
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU")
# No TFLM kernel: bit-exact means equal to LiteRT's reference kernel (see codegen.oracle).
LITERT_ONLY = ("RELU_N1_TO_1", "RELU_0_TO_1")
f32 = np.float32


def _quantized(value: float, scale: float, zero_point: int) -> int:
    """zero_point + round(value / scale), the division and rounding in float32 (roundf)."""
    return zero_point + int(round_half_away(float(f32(value) / f32(scale))))


def relu_table(x_scale, x_zp, y_scale, y_zp, low: float | None, high: float | None) -> np.ndarray:
    multiplier, shift = quantize_multiplier(float(f32(x_scale) / f32(y_scale)))
    act_min = -128 if low is None else max(-128, _quantized(low, y_scale, y_zp))
    act_max = 127 if high is None else min(127, _quantized(high, y_scale, y_zp))
    return build_table(lambda q: max(act_min, min(act_max, y_zp + requantize(q - x_zp, multiplier, shift))))


def relu6_table(x_scale, x_zp) -> np.ndarray:
    """TFLM's RELU6: the input itself, clamped to [x_zp, quantized 6.0] in the input's quantization."""
    six = clamp8(_quantized(6.0, x_scale, x_zp))
    return build_table(lambda q: six if q > six else (x_zp if q < x_zp else q))


def leaky_relu_table(x_scale, x_zp, y_scale, y_zp, alpha: float) -> np.ndarray:
    alpha_mult, alpha_shift = quantize_multiplier(float(f32(x_scale) * f32(alpha) / f32(y_scale)))
    id_mult, id_shift = quantize_multiplier(float(f32(x_scale) / f32(y_scale)))
    negative_alpha = alpha_mult < 0

    def one(q: int) -> int:
        x = q - x_zp
        if x >= 0:
            return clamp8(y_zp + requantize(x, id_mult, id_shift))
        scaled = requantize(x, -alpha_mult if negative_alpha else alpha_mult, alpha_shift)
        return clamp8(y_zp + (-scaled if negative_alpha else scaled))
    return build_table(one)


def table(op, graph) -> np.ndarray:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if op.type == "RELU":
        return relu_table(x.scale, x.zero_point, y.scale, y.zero_point, 0.0, None)
    if op.type == "RELU_N1_TO_1":
        return relu_table(x.scale, x.zero_point, y.scale, y.zero_point, -1.0, 1.0)
    if op.type == "RELU_0_TO_1":
        return relu_table(x.scale, x.zero_point, y.scale, y.zero_point, 0.0, 1.0)
    if op.type == "RELU6":
        return relu6_table(x.scale, x.zero_point)
    return leaky_relu_table(x.scale, x.zero_point, y.scale, y.zero_point, float(op.options.get("alpha", 0.2)))


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if reasons[0]:
        return unsupported(reasons)
    reasons.append(same_size(op, graph))
    return unsupported(reasons)


def lower(op, graph, target):
    return lut_call(op, graph, target, table(op, graph))
