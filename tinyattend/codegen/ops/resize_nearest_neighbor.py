"""RESIZE_NEAREST_NEIGHBOR: int8 (any type of one byte); source rows and columns chosen at generation time.

TFLM picks the source index in single-precision float; we do the same float32
arithmetic here, once, and give the kernel the resulting index tables.
"""
from __future__ import annotations

import numpy as np

from ...ir.quant import round_half_away
from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, shape4, unsupported
from ._checks import constant_input, int8_activations

OP_TYPES = ("RESIZE_NEAREST_NEIGHBOR",)
MAX_RANK = 4              # NHWC only (the ONNX pre-check reads it too)


def check_resize(op, graph) -> list[str]:
    """What RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR share: 4-D int8, a constant int32 size."""
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "size")]
    x = graph.tensor(op.inputs[0])
    if len(x.shape) != 4:
        reasons.append(f"input has shape {list(x.shape)}; {op.type} needs 4-D NHWC (add a RESHAPE before it)")
    if not reasons[1]:
        size = graph.tensor(op.inputs[1])
        y = graph.tensor(op.outputs[0])
        if size.dtype != "int32" or size.num_elements != 2:
            reasons.append("the size must be two int32 values (height, width)")
        elif len(y.shape) == 4 and tuple(int(v) for v in size.array().ravel()) != tuple(y.shape[1:3]):
            reasons.append(f"the size {size.array().ravel().tolist()} disagrees with the output shape {list(y.shape)}")
    if not reasons[0] and len(x.shape) == 4:
        y = graph.tensor(op.outputs[0])
        if len(y.shape) != 4 or y.shape[0] != x.shape[0] or y.shape[3] != x.shape[3]:
            reasons.append(f"output shape {list(y.shape)} must keep the input's batch and channels {list(x.shape)}")
    return unsupported(reasons)


def check(op, graph, target) -> list[str]:
    return check_resize(op, graph)


def nearest_index(value: int, in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> int:
    """TFLM's GetNearestNeighbor, in float32 as TFLM computes it."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    position = (f32(value) + offset) * scale
    rounded = round_half_away(float(position)) if align_corners else float(np.floor(position))
    index = min(int(rounded), in_size - 1)
    if half_pixel_centers:
        index = max(0, index)
    return index


def lower(op, graph, target) -> KernelCall:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    n, in_h, in_w, c = shape4(x.shape)
    _, out_h, out_w, _ = shape4(y.shape)
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    rows = np.array([nearest_index(v, in_h, out_h, align, half) for v in range(out_h)], dtype=np.int32)
    cols = np.array([nearest_index(v, in_w, out_w, align, half) for v in range(out_w)], dtype=np.int32)
    return KernelCall(
        function="ta_resize_nearest_s8",
        sources=("resize/ta_resize_nearest_s8.c", "resize/ta_resize_nearest_s8.h"),
        params_type="ta_resize_nearest_params",
        params=(
            ("batches", n), ("in_h", in_h), ("in_w", in_w), ("channels", c), ("out_h", out_h), ("out_w", out_w),
            ("src_rows", ConstRef("rows")), ("src_cols", ConstRef("cols")),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
        constants=(ConstArray("rows", "int32_t", rows), ConstArray("cols", "int32_t", cols)),
    )
