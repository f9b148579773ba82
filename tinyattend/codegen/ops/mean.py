"""MEAN and REDUCE_MAX, int8, over a contiguous block of axes (e.g. H and W of NHWC), keep_dims either way.

TFLM's int8 MEAN sums the raw inputs in int32, subtracts zero point times the
count, and requantizes once: QuantizeMultiplier(input_scale / output_scale)
with 1/count folded into the multiplier (shifted up by floor(log2(count)),
at most 32 and at most 31 + shift, then divided by count in int64).
REDUCE_MAX requires equal input and output quantization and takes the max.
"""
from __future__ import annotations

import numpy as np

from ..lowering import KernelCall, TensorArg, unsupported
from ._checks import constant_input, int8_activations
from ._fixedpoint import quantize_multiplier

OP_TYPES = ("MEAN", "REDUCE_MAX")


def reduced_axes(op, graph) -> list[int]:
    x = graph.tensor(op.inputs[0])
    rank = len(x.shape)
    axes = sorted({int(a) + rank if int(a) < 0 else int(a) for a in graph.tensor(op.inputs[1]).array().ravel()})
    return axes


def blocks(shape, axes) -> tuple[int, int, int]:
    """(outer, reduced, inner) element counts for contiguous `axes`."""
    outer = int(np.prod(shape[:axes[0]], dtype=np.int64))
    reduced = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    inner = int(np.prod(shape[axes[-1] + 1:], dtype=np.int64))
    return outer, reduced, inner


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << extra) // count, shift - extra


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "axis")]
    if any(reasons):
        return unsupported(reasons)
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    rank = len(x.shape)
    raw = [int(a) for a in graph.tensor(op.inputs[1]).array().ravel()]
    if not raw or any(not -rank <= a < rank for a in raw):
        return [f"axes {raw} are not valid for a rank-{rank} input"]
    axes = reduced_axes(op, graph)
    if axes != list(range(axes[0], axes[-1] + 1)):
        reasons.append(f"axes {axes} are not contiguous; only a contiguous block of axes (such as H, W) is supported")
    elif x.num_elements == 0:
        reasons.append("the input is empty")
    elif y.num_elements != x.num_elements // blocks(x.shape, axes)[1]:
        reasons.append(f"output shape {list(y.shape)} does not match reducing {list(x.shape)} over {axes}")
    elif blocks(x.shape, axes)[1] * 256 >= 1 << 31:
        reasons.append("too many elements per mean for an int32 sum")
    if op.type == "REDUCE_MAX" and (x.scale != y.scale or x.zero_point != y.zero_point):
        reasons.append("input and output quantization differ; TFLM's int8 REDUCE_MAX requires them equal")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    outer, reduced, inner = blocks(x.shape, reduced_axes(op, graph))
    args = (TensorArg(op.inputs[0]), TensorArg(op.outputs[0]))
    if op.type == "REDUCE_MAX":
        return KernelCall(
            function="ta_reduce_max_s8",
            sources=("reduce/ta_reduce_max_s8.c", "reduce/ta_reduce_max_s8.h"),
            params_type="ta_reduce_max_params",
            params=(("outer", outer), ("reduced", reduced), ("inner", inner)),
            args=args,
        )
    multiplier, shift = mean_multiplier(x.scale, y.scale, reduced)
    return KernelCall(
        function="ta_mean_s8",
        sources=("reduce/ta_mean_s8.c", "reduce/ta_mean_s8.h"),
        params_type="ta_mean_params",
        params=(("outer", outer), ("reduced", reduced), ("inner", inner),
                ("zero_point_sum", x.zero_point * reduced), ("multiplier", multiplier), ("shift", shift),
                ("output_offset", y.zero_point)),
        args=args,
        macs=x.num_elements,
    )
