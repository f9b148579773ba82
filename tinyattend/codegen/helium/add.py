"""ADD -> ta_add_s8_mve (templates/kernels/mve/elementwise): same-shape int8 inputs, four elements per vector."""
from __future__ import annotations

from ...ir.quant import activation_range
from ..lowering import KernelCall, TensorArg
from ..ops import add as portable
from ._tables import SOURCES_COMMON

OP_TYPES = ("ADD",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    x1, x2, y = (graph.tensor(i) for i in (*op.inputs[:2], op.outputs[0]))
    if tuple(x1.shape) != tuple(y.shape) or tuple(x2.shape) != tuple(y.shape):
        return ["broadcasting: the Helium ADD takes same-shape inputs"]
    if x1.is_constant or x2.is_constant:
        return ["a constant input"]
    _, s1, _, s2, _, so = portable.add_quant_params(x1, x2, y)
    if max(s1, s2) > 0 or so >= 0:
        return ["a rescale shifting left, or an output rescale without a right shift"]
    return []


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = portable.add_quant_params(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    return KernelCall(
        function="ta_add_s8_mve",
        sources=("mve/elementwise/ta_add_s8_mve.c", "mve/elementwise/ta_add_s8_mve.h", *SOURCES_COMMON),
        params_type="ta_add_mve_params",
        params=(
            ("size", y.num_elements),
            ("input1_offset", -x1.zero_point), ("input2_offset", -x2.zero_point),
            ("left_shift", portable.LEFT_SHIFT),
            ("input1_multiplier", m1), ("input1_shift", s1), ("input2_multiplier", m2), ("input2_shift", s2),
            ("output_multiplier", mo), ("output_shift", so), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max),
        ),
        args=(TensorArg(op.inputs[0]), TensorArg(op.inputs[1]), TensorArg(op.outputs[0])),
        in_place=True,
    )
