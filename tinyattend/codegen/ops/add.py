"""ADD: int8 with broadcasting (up to 4 dimensions), TFLM's 20-bit headroom rescaling."""
from __future__ import annotations

import numpy as np

from ...ir.quant import activation_range, quantize_multiplier
from ..lowering import KernelCall, TensorArg, unsupported
from ._broadcast import broadcast_fields, broadcast_reason, is_broadcast, two_inputs_reason
from ._checks import fused_activation, int8_activations

OP_TYPES = ("ADD",)
LEFT_SHIFT = 20


def check(op, graph, target) -> list[str]:
    if two_inputs_reason(op):
        return [two_inputs_reason(op)]
    reasons = [int8_activations(op, graph, inputs=(0, 1)), fused_activation(op)]
    if not reasons[0]:
        reasons.append(broadcast_reason(op, graph))
    return unsupported(reasons)


def add_quant_params(x1, x2, y):
    """TFLM's CalculateOpDataAdd for int8."""
    twice_max = 2.0 * float(max(np.float32(x1.scale), np.float32(x2.scale)))
    m1, s1 = quantize_multiplier(float(np.float32(x1.scale)) / twice_max)
    m2, s2 = quantize_multiplier(float(np.float32(x2.scale)) / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * float(np.float32(y.scale))))
    return m1, s1, m2, s2, mo, so


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = add_quant_params(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    return KernelCall(
        function="ta_add_s8",
        sources=("elementwise/ta_add_s8.c", "elementwise/ta_add_s8.h", "elementwise/ta_broadcast.h"),
        params_type="ta_add_params",
        params=(
            *broadcast_fields(x1, x2, y),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point), ("output_offset", y.zero_point),
            ("left_shift", LEFT_SHIFT),
            ("input1_multiplier", m1), ("input1_shift", s1), ("input2_multiplier", m2), ("input2_shift", s2),
            ("output_multiplier", mo), ("output_shift", so),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0], const=graph.tensor(op.inputs[0]).is_constant),
              TensorArg(op.inputs[1], const=graph.tensor(op.inputs[1]).is_constant), TensorArg(op.outputs[0])),
        in_place=not is_broadcast(x1, x2, y),
    )
