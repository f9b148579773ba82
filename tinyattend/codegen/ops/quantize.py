"""QUANTIZE int8 -> int8 (a requantization), as a 256-entry table.

TFLM's Requantize: `x - input_zero_point` times input_scale / output_scale
(one QuantizeMultiplier, double precision), plus the output zero point,
clamped. float32 <-> int8 edges are not supported: the generated API is
int8 in and out, and the converter puts float QUANTIZE/DEQUANTIZE only there.
"""
from __future__ import annotations

import numpy as np

from ..lowering import unsupported
from ._fixedpoint import quantize_multiplier, requantize
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("QUANTIZE",)


def table(x_scale, x_zp, y_scale, y_zp) -> np.ndarray:
    multiplier, shift = quantize_multiplier(float(np.float32(x_scale)) / float(np.float32(y_scale)))
    return build_table(lambda q: clamp8(requantize(q - x_zp, multiplier, shift) + y_zp))


def check(op, graph, target) -> list[str]:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.dtype != "int8" or y.dtype != "int8":
        return [f"QUANTIZE from {x.dtype} to {y.dtype}: only int8 -> int8 requantization is supported "
                "(float inputs and outputs belong at the model's edges; convert with int8 input and output)"]
    reasons = []
    if x.quant is None or y.quant is None or x.quant.per_channel or y.quant.per_channel:
        reasons.append("QUANTIZE needs per-tensor quantization on its input and output")
    reasons.append(same_size(op, graph))
    return unsupported(reasons)


def lower(op, graph, target):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    return lut_call(op, graph, table(x.scale, x.zero_point, y.scale, y.zero_point))
