"""SQUARED_DIFFERENCE, int8, with broadcasting (up to 4 dimensions): (x1 - x2)^2 as TFLM computes it.

It is the variance step of a LayerNorm/GroupNorm/InstanceNorm after onnx2tf and the int8 converter
(MEAN, SQUARED_DIFFERENCE, MEAN, ADD, RSQRT, ...). TFLM (kernels/squared_difference.cc): both inputs
are shifted left by 7 and brought to half the larger input scale, subtracted, squared in int32
(at most (255 * 2^7)^2 < 2^31), then rescaled by (2 * max scale)^2 / (2^14 * output scale). Its
multipliers come from the float32 scales widened to double; there is no fused activation.
"""
from __future__ import annotations

import numpy as np

from ...ir.quant import quantize_multiplier
from ..lowering import KernelCall, TensorArg, unsupported
from ._broadcast import MAX_RANK, arithmetic_reasons, broadcast_fields, is_broadcast  # noqa: F401 - MAX_RANK

OP_TYPES = ("SQUARED_DIFFERENCE",)
LEFT_SHIFT = 7


def quant_params(x1, x2, y) -> tuple[int, int, int, int, int, int]:
    """(input1 multiplier, shift, input2 multiplier, shift, output multiplier, shift), TFLM's PrepareQuantized."""
    s1, s2, so = (float(np.float32(t.scale)) for t in (x1, x2, y))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max * twice_max / ((1 << (2 * LEFT_SHIFT)) * so))
    return m1, sh1, m2, sh2, mo, sho


def check(op, graph, target) -> list[str]:
    reasons = arithmetic_reasons(op, graph)
    if not reasons:
        tensors = [graph.tensor(i) for i in (*op.inputs, op.outputs[0])]
        if any(t.quant.per_channel for t in tensors):
            reasons.append("per-channel quantization is not supported")
        elif any(t.scale <= 0 for t in tensors):
            reasons.append("scales must be positive")
        elif quant_params(*tensors)[5] > 31:
            reasons.append("the output scale is too small for TFLM's rescaling")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = quant_params(x1, x2, y)
    return KernelCall(
        function="ta_squared_difference_s8",
        sources=("elementwise/ta_squared_difference_s8.c", "elementwise/ta_squared_difference_s8.h",
                 "elementwise/ta_broadcast.h"),
        params_type="ta_squared_difference_params",
        params=(
            *broadcast_fields(x1, x2, y),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point), ("output_offset", y.zero_point),
            ("input1_multiplier", m1), ("input1_shift", s1), ("input2_multiplier", m2), ("input2_shift", s2),
            ("output_multiplier", mo), ("output_shift", so),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        in_place=not is_broadcast(x1, x2, y),
        macs=y.num_elements,
    )
