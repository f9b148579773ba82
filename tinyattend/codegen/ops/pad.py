"""PAD and PADV2: int8, constant paddings; the pad value is the output zero point or PADV2's constant."""
from __future__ import annotations

import numpy as np

from ..lowering import KernelCall, TensorArg, shape4, unsupported
from ._checks import constant_input, int8_activations, rank_at_most

OP_TYPES = ("PAD", "PADV2")
MAX_RANK = 4              # the highest tensor rank the kernel takes (the ONNX pre-check reads it too)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph), rank_at_most(op, graph, MAX_RANK), constant_input(op, graph, 1, "paddings")]
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if not reasons[2]:
        pads = graph.tensor(op.inputs[1])
        if pads.dtype != "int32":
            reasons.append(f"paddings are {pads.dtype}; TFLM reads them as int32 (re-export with int32 paddings)")
        elif pads.num_elements != 2 * len(y.shape):
            reasons.append(f"paddings have {pads.num_elements} values; {2 * len(y.shape)} expected")
        else:
            p = pads.array().reshape(-1, 2)
            if (p < 0).any():
                reasons.append("negative paddings are not supported")
            elif len(x.shape) != len(y.shape) or any(
                    int(a) + int(b) + int(d) != int(o) for (a, b), d, o in zip(p, x.shape, y.shape)):
                reasons.append(f"input {list(x.shape)} plus paddings {p.tolist()} is not the output {list(y.shape)}")
    if op.type == "PADV2" and len(op.inputs) > 2 and op.inputs[2] is not None:
        reason = constant_input(op, graph, 2, "constant value")
        if reason:
            reasons.append(reason)
        else:
            value = graph.tensor(op.inputs[2])
            if value.dtype != "int8" or value.num_elements != 1:
                reasons.append("the constant value must be one int8")
            elif value.quant is None or y.quant is None or (value.scale, value.zero_point) != (y.scale, y.zero_point):
                reasons.append("the constant value's quantization differs from the output's, which TFLM rejects")
    return unsupported(reasons)


def pad_value(op, graph) -> int:
    if op.type == "PADV2" and len(op.inputs) > 2 and op.inputs[2] is not None:
        return int(graph.tensor(op.inputs[2]).array().ravel()[0])
    return int(np.int8(np.uint8(graph.tensor(op.outputs[0]).zero_point & 0xFF)))


def lower(op, graph, target) -> KernelCall:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    pads = graph.tensor(op.inputs[1]).array().reshape(-1, 2)
    before = [0] * (4 - len(x.shape)) + [int(v) for v in pads[:, 0]]
    return KernelCall(
        function="ta_pad_s8",
        sources=("shape/ta_pad_s8.c", "shape/ta_pad_s8.h"),
        params_type="ta_pad_params",
        params=(
            ("in_dims", shape4(x.shape)), ("out_dims", shape4(y.shape)), ("before", tuple(before)),
            ("pad_value", pad_value(op, graph)),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
    )
