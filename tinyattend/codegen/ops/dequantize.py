"""DEQUANTIZE int8 -> float32: TFLM's reference Dequantize, `scale * (q - zero_point)`.

It is what a float32 model output comes out of last (the `ta_dequantize_s8_f32` kernel).
"""
from __future__ import annotations

import math

import numpy as np

from ..lowering import KernelCall, TensorArg, unsupported
from ._lut import same_size

OP_TYPES = ("DEQUANTIZE",)


def check(op, graph, target) -> list[str]:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.dtype != "int8" or y.dtype != "float32":
        return [f"DEQUANTIZE from {x.dtype} to {y.dtype}: only int8 -> float32 is supported"]
    reasons = []
    if op.outputs[0] not in graph.outputs:
        reasons.append("DEQUANTIZE int8 -> float32 is supported only as a model output "
                       "(float tensors inside the model are not)")
    elif x.quant is None or len(x.quant.scale) != 1:
        reasons.append("DEQUANTIZE needs per-tensor quantization on its input")
    elif not math.isfinite(float(np.float32(x.scale))):
        reasons.append(f"DEQUANTIZE: input scale {x.scale} is not a finite float32")
    elif not -128 <= x.zero_point <= 127:
        reasons.append(f"DEQUANTIZE: input zero point {x.zero_point} is outside -128..127")
    reasons.append(same_size(op, graph))
    return unsupported(reasons)


def lower(op, graph, target):
    x = graph.tensor(op.inputs[0])
    return KernelCall(
        function="ta_dequantize_s8_f32",
        sources=("quantize/ta_dequantize_s8_f32.c", "quantize/ta_dequantize_s8_f32.h"),
        params_type="ta_dequantize_s8_f32_params",
        params=(("size", x.num_elements), ("scale", float(np.float32(x.scale))),
                ("zero_point", int(x.zero_point))),
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])),
    )
