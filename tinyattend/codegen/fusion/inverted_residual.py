"""Find 1x1 expansion CONV_2D -> DEPTHWISE_CONV_2D pairs and fuse them into one op (a pure pass).

In an inverted-residual block the 1x1 expansion writes a tensor several times wider than the
block's input, and the depthwise convolution after it reads it once; at the high-resolution
layers of a MobileNetV2-style network that tensor sets peak RAM (attendnext-micro: 64x64x48,
196,608 B, issue 17). Fused, the two run band by band (fusion/expand_depthwise.py) and the
expanded tensor never exists whole: only a few of its rows, in the op's scratch.

A pair is fused when the conv is 1x1, stride 1, ungrouped, its output has the depthwise as its
only reader and is no model output, and the depthwise (any stride, no dilation) has a window at
least as tall as its stride (so every expanded row is read; none is computed for nothing).
Which pairs are worth it, and the band height, the caller chooses (codegen/fusion/policy.py).
"""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from ...ir.graph import Graph, Op
from ..lowering import Target, renumbered
from .expand_depthwise import BANDED_TYPE, OP_TYPE, geometry, schedule


def candidates(graph: Graph) -> list[tuple[Op, Op]]:
    """Every fusable (expansion conv, depthwise) pair, in graph order."""
    pairs = []
    for dw in graph.ops:
        if dw.type != "DEPTHWISE_CONV_2D" or dw.inputs[0] is None:
            continue
        mid = dw.inputs[0]
        expand = graph.producer(mid)
        if expand is None or not _expansion(expand, graph) or mid in graph.outputs:
            continue
        if [op.index for op in graph.consumers(mid)] != [dw.index] or list(dw.inputs).count(mid) != 1:
            continue
        o = dw.options
        y = graph.tensor(dw.outputs[0])
        if (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)) != (1, 1) or len(y.shape) != 4 \
                or y.shape[0] != 1:
            continue
        g = geometry(dw, graph)
        if g.filter_h < g.stride or schedule(g, g.out_h) is None:
            continue
        pairs.append((expand, dw))
    return pairs


def _expansion(op: Op, graph: Graph) -> bool:
    """A 1x1, stride-1, ungrouped CONV_2D of a batch-1 NHWC tensor, without padding."""
    if op.type != "CONV_2D" or len(op.outputs) != 1 or op.inputs[1] is None:
        return False
    x, w, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    o = op.options
    return (len(x.shape) == 4 and x.shape[0] == 1 and len(w.shape) == 4 and w.shape[1:3] == (1, 1)
            and w.shape[3] == x.shape[3] and (o.get("stride_h", 1), o.get("stride_w", 1)) == (1, 1)
            and o.get("padding") in ("SAME", "VALID") and y.shape[:3] == x.shape[:3])


def fuse(graph: Graph, target: Target, band_rows: dict[int, int]) -> tuple[Graph, Target]:
    """The graph with each pair whose depthwise op index is a key of `band_rows` replaced by one
    FUSED_EXPAND_DEPTHWISE op (inputs: the expansion's input; output: the depthwise's), ops
    renumbered by position, and the target's wide_ops renumbered to match."""
    chosen = {dw.index: expand for expand, dw in candidates(graph) if dw.index in band_rows}
    if not chosen:
        return graph, target
    dropped = {expand.index for expand in chosen.values()}
    kept = []
    for op in graph.ops:
        if op.index in dropped:
            continue
        if op.index in chosen:
            expand = chosen[op.index]
            options = {"expand": expand, "depthwise": op, "band_rows": band_rows[op.index],
                       "expand_wide": expand.index in target.wide_ops}
            op = Op(op.index, OP_TYPE, (expand.inputs[0],), op.outputs, MappingProxyType(options))
        kept.append(op)
    ops = tuple(replace(op, index=position) for position, op in enumerate(kept))
    return replace(graph, ops=ops), renumbered(target, kept)


def bandable_depthwise(op: Op, graph: Graph) -> bool:
    """A DEPTHWISE_CONV_2D the banded kernel can run over its own input (BANDED_TYPE)."""
    if op.type != "DEPTHWISE_CONV_2D" or op.inputs[0] is None:
        return False
    o = op.options
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)) != (1, 1) or len(y.shape) != 4 \
            or y.shape[0] != 1 or len(x.shape) != 4:
        return False
    g = geometry(op, graph)
    return g.filter_h >= g.stride and schedule(g, g.out_h) is not None


def band_depthwise(graph: Graph, band_rows: dict[int, int]) -> Graph:
    """The graph with the DEPTHWISE_CONV_2D ops at the positions given replaced by BANDED_TYPE ops
    of that many output rows a band (same index, inputs and output: nothing is renumbered)."""
    ops = list(graph.ops)
    for position, rows in band_rows.items():
        dw = ops[position]
        options = {"expand": None, "depthwise": dw, "band_rows": rows, "expand_wide": False}
        ops[position] = Op(dw.index, BANDED_TYPE, (dw.inputs[0],), dw.outputs, MappingProxyType(options))
    return replace(graph, ops=tuple(ops))


def projections(graph: Graph) -> dict[int, tuple[Op, Op | None]]:
    """Position of a fused, banded or bandable depthwise op -> (projection, residual ADD or None)
    it can take in: the 1x1 conv that is its output's only reader (the inverted residual's
    projection), and the ADD of the projection with the op's own input that is the projection's
    only reader (the block's residual connection), same shapes, neither output a model output."""
    found = {}
    for position, op in enumerate(graph.ops):
        if op.type in (OP_TYPE, BANDED_TYPE):
            if op.options.get("project") is not None:
                continue
        elif not bandable_depthwise(op, graph):
            continue
        project = _only_reader(graph, op.outputs[0])
        if project is None or not _expansion(project, graph) or project.inputs[0] != op.outputs[0] \
                or len(project.inputs) < 2:
            continue
        residual = _only_reader(graph, project.outputs[0])
        x = op.inputs[0]
        if residual is None or residual.type != "ADD" or len(residual.inputs) != 2 \
                or sorted(residual.inputs, key=lambda t: t != x) != [x, project.outputs[0]] \
                or not (graph.tensor(x).shape == graph.tensor(project.outputs[0]).shape
                        == graph.tensor(residual.outputs[0]).shape):
            residual = None
        found[position] = (project, residual)
    return found


def _only_reader(graph: Graph, tensor: int) -> Op | None:
    readers = graph.consumers(tensor)
    if tensor in graph.outputs or len(readers) != 1 or list(readers[0].inputs).count(tensor) != 1:
        return None
    return readers[0]


def absorb_projections(graph: Graph, target: Target, chosen: dict[int, int]) -> tuple[Graph, Target]:
    """The graph with the op at each position of `chosen` (a key of projections()) taking in its
    projection and residual ADD: a depthwise layer not yet banded becomes BANDED_TYPE with
    chosen[position] rows a band (fused ops keep theirs). Ops renumbered by position, wide_ops too."""
    found = projections(graph)
    taken = {}
    for position in chosen:
        project, residual = found[position]
        taken[position] = (project, residual)
    dropped = {op.index for project, residual in taken.values() for op in (project, residual) if op is not None}
    kept = []
    for position, op in enumerate(graph.ops):
        if op.index in dropped:
            continue
        if position in taken:
            project, residual = taken[position]
            if op.type in (OP_TYPE, BANDED_TYPE):
                options = dict(op.options)
            else:
                options = {"expand": None, "depthwise": op, "band_rows": chosen[position], "expand_wide": False}
            options.update(project=project, residual=residual, project_wide=project.index in target.wide_ops)
            last = residual if residual is not None else project
            op = Op(op.index, BANDED_TYPE if op.type != OP_TYPE else OP_TYPE, op.inputs[:1], last.outputs,
                    MappingProxyType(options))
        kept.append(op)
    ops = tuple(replace(op, index=position) for position, op in enumerate(kept))
    return replace(graph, ops=ops), renumbered(target, kept)
