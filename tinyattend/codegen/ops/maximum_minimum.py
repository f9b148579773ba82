"""MAXIMUM and MINIMUM: int8, inputs and output with one quantization, broadcasting up to 4 dimensions."""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg, same_quant, shape4, unsupported
from ._broadcast import MAX_RANK, broadcast_reason, is_broadcast, strides, two_inputs_reason  # noqa: F401 - MAX_RANK
from ._checks import int8_activations

OP_TYPES = ("MAXIMUM", "MINIMUM")


def check(op, graph, target) -> list[str]:
    if two_inputs_reason(op):
        return [two_inputs_reason(op)]
    reasons = [int8_activations(op, graph, inputs=(0, 1))]
    if not reasons[0]:
        reasons.append(broadcast_reason(op, graph))
        if not (same_quant(graph, op.inputs[0], op.outputs[0]) and same_quant(graph, op.inputs[1], op.outputs[0])):
            reasons.append(f"{op.type} needs both inputs and the output to share one quantization "
                           "(TFLM compares the raw int8 values)")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x1, x2, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    return KernelCall(
        function="ta_maximum_s8" if op.type == "MAXIMUM" else "ta_minimum_s8",
        sources=("elementwise/ta_maximum_minimum_s8.c", "elementwise/ta_maximum_minimum_s8.h",
                 "elementwise/ta_broadcast.h"),
        params_type="ta_maximum_minimum_params",
        params=(("out_dims", shape4(y.shape)),
                ("in1_strides", strides(x1.shape, y.shape)), ("in2_strides", strides(x2.shape, y.shape))),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.inputs[1], const=True), TensorArg(op.outputs[0])),
        in_place=not is_broadcast(x1, x2, y),
    )
