"""Graph rewrites before lowering: pure functions from Graph to Graph.

fold_pad_into_conv: converters put an explicit PAD before convolutions whose padding TFLite's
SAME rule cannot express (asymmetric, as in stride-2 layers exported from PyTorch/ONNX). The
PAD materialises a second, larger copy of the image, and at the largest layers of a model that
copy sets peak RAM. Our CONV_2D and DEPTHWISE_CONV_2D kernels already treat everything outside
their input as the input zero point, so a PAD that adds only rows and columns of the zero point
can be folded into the convolution's own padding: same arithmetic, one tensor fewer.
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ..ir.graph import Graph, Op
from .ops.pad import pad_value

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def fold_pad_into_conv(graph: Graph) -> Graph:
    """The graph with every foldable PAD removed and its padding moved into the convolution
    reading it (options padding "EXPLICIT", pad_top, pad_left)."""
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
        folded[conv.index] = replace(conv, inputs=(op.inputs[0], *conv.inputs[1:]), options=MappingProxyType(options))
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
