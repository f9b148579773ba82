"""ADD -> arm_elementwise_add_s8 (same shapes only; broadcasting stays portable, as in TFLM)."""
from __future__ import annotations

from ...ir.quant import activation_range
from ..lowering import TensorArg, shape4, unsupported
from ..ops import add as portable
from ._structs import call

OP_TYPES = ("ADD",)


def check(op, graph, target) -> list[str]:
    reasons = portable.check(op, graph, target)
    if reasons:
        return reasons
    a, b, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    if not shape4(a.shape) == shape4(b.shape) == shape4(y.shape):
        return [f"broadcasting {list(a.shape)} + {list(b.shape)} is not in arm_elementwise_add_s8"]
    return unsupported([])


def lower(op, graph, target):
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    m1, s1, m2, s2, mo, so = portable.add_quant_params(x1, x2, y)
    act_min, act_max = activation_range(op.options.get("fused_activation_function", "NONE"), y.scale, y.zero_point)
    return call(
        "arm_elementwise_add_s8",
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True),
              -x1.zero_point, m1, s1, -x2.zero_point, m2, s2, portable.LEFT_SHIFT,
              TensorArg(op.outputs[0]), y.zero_point, mo, so, act_min, act_max, y.num_elements),
    )
