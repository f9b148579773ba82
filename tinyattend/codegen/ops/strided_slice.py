"""STRIDED_SLICE: int8, up to 4-D, constant begin/end/strides, begin/end/shrink-axis masks.

Start and stop per axis are resolved at generation time with TFLM's rules
(negative indices, clamping, masks); the kernel is a 4-D strided copy.
"""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg, shape4, unsupported
from ._checks import constant_input, int8_activations, rank_at_most

OP_TYPES = ("STRIDED_SLICE",)
MAX_RANK = 4              # the highest tensor rank the kernel takes (the ONNX pre-check reads it too)


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else (lo if v < lo else v)


def resolve(op, graph):
    """Per axis of the input padded to 4-D: (start, stride, count). TFLM's StridedSliceStart/EndForAxis."""
    x = graph.tensor(op.inputs[0])
    rank = len(x.shape)
    pad = 4 - rank
    begin = [0] * pad + [int(v) for v in graph.tensor(op.inputs[1]).array().ravel()]
    end = [1] * pad + [int(v) for v in graph.tensor(op.inputs[2]).array().ravel()]
    strides = [1] * pad + [int(v) for v in graph.tensor(op.inputs[3]).array().ravel()]
    o = op.options
    begin_mask = (int(o.get("begin_mask", 0)) << pad) | ((1 << pad) - 1)
    end_mask = (int(o.get("end_mask", 0)) << pad) | ((1 << pad) - 1)
    shrink_mask = int(o.get("shrink_axis_mask", 0)) << pad
    dims = shape4(x.shape)
    out = []
    for axis in range(4):
        size, stride = dims[axis], strides[axis]
        start = begin[axis] + size if begin[axis] < 0 else begin[axis]
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink_mask & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = end[axis] + size if end[axis] < 0 else end[axis]
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
            if end_mask & (1 << axis):
                stop = size if stride > 0 else -1
        if stride > 0:
            count = max(0, -(-(stop - start) // stride))
        else:
            count = max(0, -(-(start - stop) // -stride))
        out.append((start, stride, count))
    return out, shrink_mask


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph), rank_at_most(op, graph, MAX_RANK)]
    if len(op.inputs) != 4:
        return unsupported(reasons + [f"STRIDED_SLICE has {len(op.inputs)} inputs; 4 expected"])
    for slot, what in ((1, "begin"), (2, "end"), (3, "strides")):
        reason = constant_input(op, graph, slot, what)
        if reason:
            reasons.append(reason)
        elif graph.tensor(op.inputs[slot]).dtype != "int32":
            reasons.append(f"the {what} is {graph.tensor(op.inputs[slot]).dtype}; TFLM reads it as int32")
        elif graph.tensor(op.inputs[slot]).num_elements != len(graph.tensor(op.inputs[0]).shape):
            reasons.append(f"the {what} has {graph.tensor(op.inputs[slot]).num_elements} values for a "
                           f"rank-{len(graph.tensor(op.inputs[0]).shape)} input")
    for mask in ("ellipsis_mask", "new_axis_mask"):
        if int(op.options.get(mask, 0)):
            reasons.append(f"{mask} is set, which TFLM does not support; rewrite the slice without "
                           "'...' or tf.newaxis (add a RESHAPE instead)")
    if op.options.get("offset", False):
        reasons.append("offset=True (end relative to begin) is not supported by TFLM; use absolute end indices")
    if unsupported(reasons):
        return unsupported(reasons)
    if any(int(s) == 0 for s in graph.tensor(op.inputs[3]).array().ravel()):
        return ["a stride is 0"]
    axes, shrink = resolve(op, graph)
    kept = tuple(count for axis, (_, _, count) in enumerate(axes)
                 if not shrink & (1 << axis) and axis >= 4 - len(graph.tensor(op.inputs[0]).shape))
    y = graph.tensor(op.outputs[0])
    if kept != tuple(y.shape):
        return [f"the slice gives shape {list(kept)} but the output is {list(y.shape)}"]
    return []


def lower(op, graph, target) -> KernelCall:
    x = graph.tensor(op.inputs[0])
    axes, _ = resolve(op, graph)
    dims = shape4(x.shape)
    elem_strides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1]
    base = sum(start * s for (start, _, count), s in zip(axes, elem_strides) if count > 0)
    return KernelCall(
        function="ta_strided_slice_s8",
        sources=("shape/ta_strided_slice_s8.c", "shape/ta_strided_slice_s8.h"),
        params_type="ta_strided_slice_params",
        params=(
            ("base", base),
            ("count", tuple(count for _, _, count in axes)),
            ("step", tuple(stride * s for (_, stride, _), s in zip(axes, elem_strides))),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
    )
