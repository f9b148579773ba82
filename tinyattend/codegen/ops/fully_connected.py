"""FULLY_CONNECTED: int8 with per-tensor or per-channel int8 weights."""
from __future__ import annotations

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, unsupported
from ._checks import constant_input, fused_activation, int8_activations
from ._conv_quant import channel_multipliers, output_range

OP_TYPES = ("FULLY_CONNECTED",)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "weights"), fused_activation(op)]
    if op.options.get("weights_format", 0) != 0:
        reasons.append("shuffled weights formats are not supported")
    if not reasons[1] and graph.tensor(op.inputs[1]).dtype != "int8":
        reasons.append("only int8 weights are supported")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    out_depth, in_depth = w.shape
    per_channel = w.quant.per_channel
    mult, shift = channel_multipliers(graph, op, out_depth if per_channel else 1)
    act_min, act_max = output_range(graph, op)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    return KernelCall(
        function="ta_fully_connected_s8",
        sources=("fc/ta_fully_connected_s8.c", "fc/ta_fully_connected_s8.h"),
        params_type="ta_fully_connected_params",
        params=(
            ("batches", x.num_elements // in_depth), ("input_depth", in_depth), ("output_depth", out_depth),
            ("input_offset", -x.zero_point), ("weights_offset", -w.zero_point), ("output_offset", y.zero_point),
            ("act_min", act_min), ("act_max", act_max), ("per_channel", int(per_channel)),
            ("multiplier", ConstRef("mult")), ("shift", ConstRef("shift")),
        ),
        args=(TensorArg(op.inputs[0]), TensorArg(op.inputs[1], const=True),
              TensorArg(bias, const=True) if bias is not None else "NULL", TensorArg(op.outputs[0])),
        constants=(ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift)),
        macs=(x.num_elements // in_depth) * in_depth * out_depth,
    )
