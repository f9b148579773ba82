"""SUB: int8 with broadcasting (up to 4 dimensions), TFLM's 20-bit headroom rescaling."""
from __future__ import annotations

import numpy as np

from ...ir.quant import activation_range, quantize_multiplier
from ..lowering import KernelCall, TensorArg, unsupported
from ._broadcast import MAX_RANK, arithmetic_reasons, broadcast_fields, is_broadcast  # noqa: F401 - MAX_RANK

OP_TYPES = ("SUB",)
LEFT_SHIFT = 20


def sub_quant_params(x1, x2, y):
    """TFLM's CalculateOpDataSub for int8, as the tflite-micro we test against computes it: the float32
    scales' ratios in double, as its ADD does (and LiteRT's SUB). TFLM's sources of Aug 2026 still
    divided in float32; the two differ in a multiplier's last bits, which decides a rounding tie (a ViT's
    LayerNorm x - mean: TFLM and LiteRT give -81 where the float32 ratios give -82)."""
    s1, s2, so = (float(np.float32(t.scale)) for t in (x1, x2, y))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    mo, sho = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * so))
    return m1, sh1, m2, sh2, mo, sho


def check(op, graph, target) -> list[str]:
    reasons = arithmetic_reasons(op, graph)
    if not reasons:
        if any(graph.tensor(i).quant.per_channel for i in (*op.inputs, op.outputs[0])):
            reasons.append("per-channel quantization is not supported")
        elif any(shift > 0 for shift in sub_quant_params(*(graph.tensor(i) for i in (*op.inputs, op.outputs[0])))[1::2]):
            reasons.append("the output scale is too small for TFLM's rescaling (multiplier above one)")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = sub_quant_params(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    return KernelCall(
        function="ta_sub_s8",
        sources=("elementwise/ta_sub_s8.c", "elementwise/ta_sub_s8.h", "elementwise/ta_broadcast.h"),
        params_type="ta_sub_params",
        params=(
            *broadcast_fields(x1, x2, y),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point), ("output_offset", y.zero_point),
            ("left_shift", LEFT_SHIFT),
            ("input1_multiplier", m1), ("input1_shift", s1), ("input2_multiplier", m2), ("input2_shift", s2),
            ("output_multiplier", mo), ("output_shift", so),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        in_place=not is_broadcast(x1, x2, y),
    )
