"""QUANTIZE: int8 -> int8 (a requantization, as a 256-entry table) and float32 -> int8.

int8 -> int8 is TFLM's Requantize: `x - input_zero_point` times input_scale / output_scale
(one QuantizeMultiplier, double precision), plus the output zero point, clamped.
float32 -> int8 is TFLM's AffineQuantize, `round(x / scale) + zero_point` clamped, in the
`ta_quantize_f32_s8` kernel; it is what a float32 model input goes through first.
"""
from __future__ import annotations

import math

import numpy as np

from ..lowering import KernelCall, TensorArg, unsupported
from ._fixedpoint import quantize_multiplier, requantize
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("QUANTIZE",)


def table(x_scale, x_zp, y_scale, y_zp) -> np.ndarray:
    multiplier, shift = quantize_multiplier(float(np.float32(x_scale)) / float(np.float32(y_scale)))
    return build_table(lambda q: clamp8(requantize(q - x_zp, multiplier, shift) + y_zp))


def per_tensor_int8(tensor) -> bool:
    return tensor.dtype == "int8" and tensor.quant is not None and len(tensor.quant.scale) == 1


def check(op, graph, target) -> list[str]:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.dtype not in ("int8", "float32") or y.dtype != "int8":
        return [f"QUANTIZE from {x.dtype} to {y.dtype}: only int8 -> int8 and float32 -> int8 are supported"]
    reasons = []
    if x.dtype == "int8":
        if not per_tensor_int8(x) or not per_tensor_int8(y):
            reasons.append("QUANTIZE needs per-tensor quantization on its input and output")
    elif op.inputs[0] not in graph.inputs:
        reasons.append("QUANTIZE float32 -> int8 is supported only on a model input "
                       "(float tensors inside the model are not)")
    elif not per_tensor_int8(y):
        reasons.append("QUANTIZE float32 -> int8 needs per-tensor quantization on its output")
    elif not (math.isfinite(y.scale) and y.scale > 0 and math.isfinite(float(np.float32(y.scale)))):
        reasons.append(f"QUANTIZE float32 -> int8: output scale {y.scale} is not a positive finite float32")
    elif not -128 <= y.zero_point <= 127:
        reasons.append(f"QUANTIZE float32 -> int8: output zero point {y.zero_point} is outside -128..127")
    reasons.append(same_size(op, graph))
    return unsupported(reasons)


def lower(op, graph, target):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.dtype == "float32":
        return KernelCall(
            function="ta_quantize_f32_s8",
            sources=("quantize/ta_quantize_f32_s8.c", "quantize/ta_quantize_f32_s8.h"),
            params_type="ta_quantize_f32_s8_params",
            params=(("size", x.num_elements), ("scale", float(np.float32(y.scale))),
                    ("zero_point", int(y.zero_point))),
            args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])),
            in_place=True,
        )
    return lut_call(op, graph, target, table(x.scale, x.zero_point, y.scale, y.zero_point))
