"""Graph rewrites before lowering: pure functions from Graph to Graph.

fold_pad_into_conv: converters put an explicit PAD before convolutions whose padding TFLite's
SAME rule cannot express (asymmetric, as in stride-2 layers exported from PyTorch/ONNX). The
PAD materialises a second, larger copy of the image, and at the largest layers of a model that
copy sets peak RAM. Our CONV_2D and DEPTHWISE_CONV_2D kernels already treat everything outside
their input as the input zero point, so a PAD that adds only rows and columns of the zero point
can be folded into the convolution's own padding: same arithmetic, one tensor fewer. CMSIS-NN's
convolutions pad with the input zero point too (`-input_offset`), so the cmsis-nn set folds them
as well, where the library kernel the conv dispatches to bounds-checks any padding
(cmsis_nn.folds_pad): TFLM's own graph keeps the PAD, and at the peak of a model its copy is
what put our plan, which otherwise is TFLM's, plus the stack above TFLM's arena (issue 17).

transpose_conv_to_conv: TRANSPOSE_CONV has only a portable scatter kernel (an int32 accumulator
per output element, every product added one at a time). Gathered per output phase it is an
ordinary stride-1 CONV_2D, followed for stride s > 1 by DEPTH_TO_SPACE, which the fast kernels
run (details and the exactness argument above the function).
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ..ir.graph import Graph, Op, QuantParams, Tensor
from .ops.pad import pad_value

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def fold_pad_into_conv(graph: Graph, accepts=None) -> Graph:
    """The graph with every foldable PAD removed and its padding moved into the convolution
    reading it (options padding "EXPLICIT", pad_top, pad_left). `accepts(conv, graph)`, given the
    rewritten conv, may refuse a fold (the kernel that will run it cannot take that padding)."""
    folded: dict[int, Op] = {}        # conv op index -> rewritten conv
    dropped: set[int] = set()         # PAD op indices
    for op in graph.ops:
        spatial = _spatial_padding(op, graph)
        if spatial is None:
            continue
        readers = graph.consumers(op.outputs[0])
        if len(readers) != 1 or op.outputs[0] in graph.outputs:
            continue
        conv = readers[0]
        if conv.type not in CONVOLUTIONS or conv.inputs[0] != op.outputs[0] or conv.options.get("padding") != "VALID":
            continue
        options = dict(conv.options)
        options.update(padding="EXPLICIT", pad_top=spatial[0], pad_left=spatial[1])
        rewritten = replace(conv, inputs=(op.inputs[0], *conv.inputs[1:]), options=MappingProxyType(options))
        if accepts is not None and not accepts(rewritten, graph):
            continue
        folded[conv.index] = rewritten
        dropped.add(op.index)
    if not dropped:
        return graph
    kept = [folded.get(op.index, op) for op in graph.ops if op.index not in dropped]
    # Ops are numbered by position again: layer numbers in the firmware, the report and the
    # per-layer benchmark all count positions in the generated order.
    return replace(graph, ops=tuple(replace(op, index=position) for position, op in enumerate(kept)))


def _spatial_padding(op: Op, graph: Graph) -> tuple[int, int] | None:
    """(top, left) for a PAD/PADV2 of a 4-D int8 tensor that pads only height and width, with the
    zero point, keeping the quantization; None for anything else."""
    if op.type not in ("PAD", "PADV2") or len(op.inputs) < 2 or op.inputs[1] is None:
        return None
    x, y, pads = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0]), graph.tensor(op.inputs[1])
    if (len(x.shape) != 4 or x.dtype != "int8" or not pads.is_constant or pads.dtype != "int32"
            or pads.num_elements != 8 or x.quant is None or y.quant is None):
        return None
    p = pads.array().reshape(4, 2).astype(np.int64)
    if (p < 0).any() or p[0].any() or p[3].any():
        return None
    if (x.scale, x.zero_point) != (y.scale, y.zero_point) or pad_value(op, graph) != y.zero_point:
        return None
    if any(int(a) + int(b) + d != o for (a, b), d, o in zip(p, x.shape, y.shape)):
        return None
    return int(p[1, 0]), int(p[2, 0])


# --- TRANSPOSE_CONV as CONV_2D (+ DEPTH_TO_SPACE) ---------------------------------------------
#
# TFLM's transpose convolution scatters: input row iy, tap ky adds into output row
# oy = iy*s - pad + ky (pad: TFLM's padding computed from the output size). Gathered instead,
# output row oy = origin + s*q + r (phase r, 0 <= r < s) receives taps ky = r - s*d, d <= 0,
# from input row iy = q + a + d, where a = (origin + pad) / s -- whole when origin = -pad mod s,
# the choice that needs the fewest kernel rows, ceil(fh / s). For one q, all s phases read the
# same input rows q + a + d, d in [first, 0], so one stride-1 CONV_2D with a kernel of
# 1 - first rows and s*s output channels per original channel, ordered (ry, rx, c), computes
# every phase; DEPTH_TO_SPACE (block s) then interleaves them into rows and columns, and a
# STRIDED_SLICE crops the grid to the rows wanted. The grid starts at the first row wanted, or up
# to s - 1 rows above it (whole strides more where the conv's padding would be negative). At
# stride 1 the conv alone is the whole rewrite (the kernel is the original flipped).
#
# Exact: a phase's weights are the original taps (zeros where a phase has none), so each output
# sums the same int32 products as TFLM (in another order: int32 sums are exact in any order);
# positions outside the input are the input zero point in our convolutions, contributing
# (zp - zp) * w = 0, as the taps TFLM skips; no more than the fh * fw * C_in products the
# transpose conv's check bounds meet in one accumulator. The bias is added before the per-channel
# requantization, whose multiplier depends only on the input, weight and output scales, all
# kept. Fused activations clamp the same output range. Rows or columns the grid computes beyond
# the output are cropped unread.

def transpose_conv_to_conv(graph: Graph) -> Graph:
    """The graph with every exact, supported TRANSPOSE_CONV replaced by a CONV_2D (padding
    "EXPLICIT"), followed for stride s > 1 by DEPTH_TO_SPACE and, where the phase grid is larger
    than the output, a STRIDED_SLICE. A STRIDED_SLICE that only crops the transpose conv's
    height and width, and is its only reader, is folded in: the conv computes just the rows and
    columns kept."""
    tensors = list(graph.tensors)
    replaced: dict[int, list[Op]] = {}   # TRANSPOSE_CONV op index -> the ops in its place
    dropped: set[int] = set()            # folded STRIDED_SLICE op indices
    for op in graph.ops:
        if op.type != "TRANSPOSE_CONV" or not _rewritable(op, graph):
            continue
        crop_op, window = _crop_reader(op, graph)
        axes = _phase_axes(op, graph, window)
        replaced[op.index] = _phase_conv_ops(op, graph, tensors, crop_op, axes)
        if crop_op is not None:
            dropped.add(crop_op.index)
    if not replaced:
        return graph
    kept = [new for op in graph.ops if op.index not in dropped for new in replaced.get(op.index, [op])]
    return replace(graph, tensors=tuple(tensors),
                   ops=tuple(replace(op, index=position) for position, op in enumerate(kept)))


def _rewritable(op: Op, graph: Graph) -> bool:
    """The portable kernel's conditions (ops/transpose_conv.py) and equal strides (DEPTH_TO_SPACE
    has one block size)."""
    from .ops import transpose_conv
    if transpose_conv.check(op, graph, None):
        return False
    o = op.options
    return int(o.get("stride_h", 1)) == int(o.get("stride_w", 1))


def _crop_reader(op: Op, graph: Graph):
    """(the STRIDED_SLICE, ((top, height), (left, width))) when the transpose conv's only reader
    is a slice that keeps a window of rows and columns, every batch and channel, with its
    quantization; else (None, the whole output)."""
    from .ops import strided_slice
    y = graph.tensor(op.outputs[0])
    whole = _whole(y)
    readers = graph.consumers(op.outputs[0])
    if len(readers) != 1 or op.outputs[0] in graph.outputs or readers[0].type != "STRIDED_SLICE":
        return None, whole
    crop = readers[0]
    if crop.inputs[0] != op.outputs[0] or crop.inputs.count(op.outputs[0]) != 1 \
            or strided_slice.check(crop, graph, None):
        return None, whole
    z = graph.tensor(crop.outputs[0])
    axes, shrink = strided_slice.resolve(crop, graph)
    (b0, s0, n0), (top, sh, height), (left, sw, width), (c0, s3, n3) = axes
    if (shrink or (b0, s0, n0) != (0, 1, y.shape[0]) or (c0, s3, n3) != (0, 1, y.shape[3])
            or (sh, sw) != (1, 1) or min(height, width) < 1 or z.shape != (y.shape[0], height, width, y.shape[3])
            or (y.scale, y.zero_point) != (z.scale, z.zero_point)):
        return None, whole
    return crop, ((top, height), (left, width))


def _whole(y: Tensor):
    return ((0, y.shape[1]), (0, y.shape[2]))


def _phase_axes(op: Op, graph: Graph, window) -> tuple[dict, dict]:
    """_phase_axis for height and width."""
    from .ops.transpose_conv import WEIGHTS, transpose_padding
    w, y = graph.tensor(op.inputs[WEIGHTS]), graph.tensor(op.outputs[0])
    _, fh, fw, _ = w.shape
    s = int(op.options.get("stride_h", 1))
    pad_h, pad_w = transpose_padding(op.options["padding"], y.shape[1], y.shape[2], fh, fw, s, s)
    (top, height), (left, width) = window
    ay = _phase_axis(fh, s, pad_h, top, height)
    ax = _phase_axis(fw, s, pad_w, left, width)
    return ay, ax


def _phase_axis(taps: int, stride: int, pad: int, begin: int, count: int) -> dict:
    """For one spatial axis, the conv producing output rows [begin, begin + count) of the
    transpose conv: first (the lowest d), kernel size, conv padding before, conv output size
    (phase rows per phase), and skip, the grid rows above `begin` (see the comment above)."""
    first = -((taps - 1) // stride)
    origin = begin - (begin + pad) % stride
    conv_pad = -((origin + pad) // stride + first)
    if conv_pad < 0:                     # start the grid higher instead of cropping the input
        origin += stride * conv_pad
        conv_pad = 0
    rows = -(-(begin + count - origin) // stride)
    return {"first": first, "kernel": 1 - first, "pad": conv_pad, "rows": rows, "skip": begin - origin}


def _phase_conv_ops(op: Op, graph: Graph, tensors: list, crop_op: Op | None, axes) -> list[Op]:
    """The ops replacing `op` (and the crop `crop_op`, when given), appending new tensors."""
    from .ops.transpose_conv import BIAS, INPUT, WEIGHTS
    w, y = graph.tensor(op.inputs[WEIGHTS]), graph.tensor(op.outputs[0])
    out_c, fh, fw, in_c = w.shape
    s = int(op.options.get("stride_h", 1))
    ay, ax = axes
    final = crop_op.outputs[0] if crop_op is not None else op.outputs[0]
    n = y.shape[0]
    grid = (n, ay["rows"] * s, ax["rows"] * s, out_c)
    cropped = (ay["skip"], ax["skip"]) != (0, 0) or grid != graph.tensor(final).shape

    def add_tensor(suffix: str, shape, dtype: str, quant, data: bytes | None = None) -> int:
        tensors.append(Tensor(len(tensors), f"{y.name}/{suffix}", tuple(int(v) for v in shape), dtype, quant, data))
        return len(tensors) - 1

    # Weights [(ry, rx, c)][jy][jx][in_c]: phase (ry, rx), kernel position (jy, jx) holds the
    # original tap (ry - s*(first + jy), rx - s*(first + jx)) when inside the filter, else 0.
    original = w.array()
    weights = np.zeros((s, s, out_c, ay["kernel"], ax["kernel"], in_c), np.int8)
    for ry in range(s):
        for jy in range(ay["kernel"]):
            ky = ry - s * (ay["first"] + jy)
            for rx in range(s):
                for jx in range(ax["kernel"]):
                    kx = rx - s * (ax["first"] + jx)
                    if 0 <= ky < fh and 0 <= kx < fw:
                        weights[ry, rx, :, jy, jx, :] = original[:, ky, kx, :]
    phases = s * s
    inputs = [op.inputs[INPUT],
              add_tensor("phase_weights", (phases * out_c, ay["kernel"], ax["kernel"], in_c), "int8",
                         _repeat_channels(w.quant, phases),
                         weights.reshape(phases * out_c, ay["kernel"], ax["kernel"], in_c).tobytes())]
    bias = op.inputs[BIAS] if len(op.inputs) > BIAS else None
    if bias is not None:
        b = graph.tensor(bias)
        inputs.append(add_tensor("phase_bias", (phases * out_c,), "int32", _repeat_channels(b.quant, phases),
                                 np.tile(b.array().astype("<i4"), phases).tobytes()))
    conv_out = final if s == 1 and not cropped else \
        add_tensor("phases", (n, ay["rows"], ax["rows"], phases * out_c), "int8", y.quant)
    options = {"padding": "EXPLICIT", "pad_top": ay["pad"], "pad_left": ax["pad"], "stride_h": 1, "stride_w": 1,
               "dilation_h_factor": 1, "dilation_w_factor": 1,
               "fused_activation_function": op.options.get("fused_activation_function", "NONE")}
    ops = [Op(op.index, "CONV_2D", tuple(inputs), (conv_out,), MappingProxyType(options))]
    grid_tensor = conv_out
    if s > 1:
        grid_tensor = final if not cropped else add_tensor("depth_to_space", grid, "int8", y.quant)
        ops.append(Op(op.index, "DEPTH_TO_SPACE", (conv_out,), (grid_tensor,), MappingProxyType({"block_size": s})))
    if cropped:
        z = graph.tensor(final)
        begin = (0, ay["skip"], ax["skip"], 0)
        end = (z.shape[0], ay["skip"] + z.shape[1], ax["skip"] + z.shape[2], z.shape[3])
        slice_inputs = [grid_tensor] + [add_tensor(f"crop_{what}", (4,), "int32", None, np.asarray(v, "<i4").tobytes())
                                        for what, v in (("begin", begin), ("end", end), ("strides", (1, 1, 1, 1)))]
        options = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0,
                   "offset": False}
        ops.append(Op(op.index, "STRIDED_SLICE", tuple(slice_inputs), (final,), MappingProxyType(options)))
    return ops


def _repeat_channels(quant: QuantParams | None, times: int) -> QuantParams | None:
    """Per-channel quantization for `times` copies of the channels, ordered (copy, channel)."""
    if quant is None or not quant.per_channel:
        return quant
    return QuantParams(tuple(quant.scale) * times, tuple(quant.zero_point) * times, quant.axis)
