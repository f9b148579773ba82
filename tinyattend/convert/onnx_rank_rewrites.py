"""ONNX -> ONNX rewrites that keep every tensor at rank 4 or below, applied to the copy onnx2tf reads (see
onnx_rewrites). Each keeps the model's function: only views (Reshape) and copies (Transpose, Split, Slice,
Gather, Concat) are rewritten, so the values stay exactly the same.

Why: the code generator's TRANSPOSE, STRIDED_SLICE and element-wise kernels, and the layout onnx2tf gives a
tensor, are 4-D. Transformers write rank-5/6 permutes around their attention: the qkv split
`reshape(B, N, 3, heads, d).permute(2, 0, 3, 1, 4).unbind(0)` (MobileViT, EdgeNeXt) and the patch unfold
`reshape(B, C, nh, ph, nw, pw).permute(0, 1, 3, 5, 2, 4)` (MobileViTv2). They are data movement only:

* A Split of a rank > 4 permute's output (attention's unbind) moves before the permute: split along the
  permute's source axis, then permute each part (the parts' size-1 axes drop out, so each is rank 4).
* Transpose. Axes of size 1 can go anywhere, and axes that stay next to each other in the same order (a
  group) move as one, so a permute is one on the merged dimensions (rank = number of groups). One that
  still has more than 4 groups is a sequence of block swaps: bring the axes the output wants next to the
  front of the unsorted part, one run at a time; each swap has at most 4 groups (the sorted prefix, the two
  swapped blocks, the rest). A rank-r permute takes at most r - 1 swaps (2 for those above).
* Split, Slice (one axis), Gather (one axis) and Concat along axis a of a rank > 4 tensor are the same op
  along axis 1 of the rank-3 view [prod(dims before a), dims[a], prod(dims after a)].
* Chains of Reshape/Squeeze/Unsqueeze/Flatten with static shapes collapse into one Reshape, so the rank-5/6
  views between the rewritten ops disappear, and a Reshape to the shape it already has is dropped.
"""
from __future__ import annotations

import numpy as np

from .onnx_norm_rewrites import _Names, _attr, _drop_dead, _ranks, _replace_nodes

MAX_RANK = 4
VIEW_OPS = ("Reshape", "Squeeze", "Unsqueeze", "Flatten")


def merged_permute(shape, perm) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The smallest-rank (view shape, permutation) that moves the same elements as Transpose(perm) of a
    tensor of `shape`: size-1 axes dropped, axes that stay adjacent and in order merged."""
    keep = [a for a in range(len(shape)) if shape[a] != 1]
    renumber = {a: i for i, a in enumerate(keep)}
    dims = [shape[a] for a in keep]
    order = [renumber[a] for a in perm if a in renumber]
    if not order:
        return (1,), (0,)
    groups = [[order[0]]]                     # in output order
    for axis in order[1:]:
        if axis == groups[-1][-1] + 1:
            groups[-1].append(axis)
        else:
            groups.append([axis])
    by_input = sorted(range(len(groups)), key=lambda g: groups[g][0])
    view = tuple(int(np.prod([dims[a] for a in groups[g]])) for g in by_input)
    position = {g: i for i, g in enumerate(by_input)}
    return view, tuple(position[g] for g in range(len(groups)))


def transpose_steps(shape, perm, max_rank: int = MAX_RANK) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Transpose(perm) of a tensor of `shape` as a list of (view shape, permutation) steps of rank <= max_rank
    (max_rank >= 4), each applied to the previous step's result (reshaped to its view)."""
    view, order = merged_permute(shape, perm)
    if len(view) <= max_rank:
        return [(view, order)]
    steps = []
    current = list(range(len(perm)))          # current[i]: the source axis now at position i
    for target in range(len(perm)):
        found = current.index(perm[target])
        if found == target:
            continue
        run = 1                               # move the longest run the output wants next in one swap
        while found + run < len(perm) and target + run < len(perm) and current[found + run] == perm[target + run]:
            run += 1
        local = [*range(target), *range(found, found + run), *range(target, found), *range(found + run, len(perm))]
        steps.append(merged_permute([shape[a] for a in current], local))
        current = [current[a] for a in local]
    return steps


def _int64(graph, names, hint, values) -> str:
    from onnx import numpy_helper
    name = names(hint)
    graph.initializer.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
    return name


def lower_ranks(model, max_rank: int = MAX_RANK):
    """`model` (in place) with every Transpose, Split, one-axis Slice/Gather and Concat on a static tensor of
    rank > max_rank rewritten on views of rank <= max_rank, and view chains collapsed (see the module doc)."""
    graph = model.graph
    if not any(node.op_type in ("Transpose", "Split", "Slice", "Gather", "Concat") for node in graph.node):
        return model
    import onnx.helper as helper
    make_node = helper.make_node

    split_before_transpose(model, max_rank)
    shapes = _ranks(model)
    names = _Names(graph)

    def static(name):
        shape = shapes.get(name)
        return shape if shape is not None and None not in shape else None

    def reshape(x, shape, out=None):
        out = out or names("view")
        return out, make_node("Reshape", [x, _int64(graph, names, "shape", shape)], [out], name=names("reshape"))

    replaced = {}
    for i, node in enumerate(graph.node):
        if node.domain not in ("", "ai.onnx") or not node.input:
            continue
        shape = static(node.input[0])
        outputs = [static(o) for o in node.output]
        if shape is None or any(o is None for o in outputs):
            continue
        rank = max([len(shape), *(len(o) for o in outputs)])
        if node.op_type == "Concat":
            inputs = [static(x) for x in node.input]
            if any(s is None for s in inputs):
                continue
            rank = max(rank, *(len(s) for s in inputs))
        if rank <= max_rank:
            continue
        new = None
        if node.op_type == "Transpose":
            perm = [int(a) for a in _attr(node, "perm", list(reversed(range(len(shape)))))]
            if sorted(perm) != list(range(len(shape))) or tuple(shape[a] for a in perm) != tuple(outputs[0]):
                continue         # an invalid model: left for the checks that name the problem
            new, x = [], node.input[0]
            for view, order in transpose_steps(shape, perm, max_rank):
                x, view_node = reshape(x, view)
                moved = names("moved")
                new += [view_node, make_node("Transpose", [x], [moved], name=names("transpose"), perm=list(order))]
                x = moved
            new.append(reshape(x, outputs[0], node.output[0])[1])
        elif node.op_type in ("Split", "Slice", "Gather", "Concat"):
            try:
                new = _one_axis(node, shape, outputs, [static(x) for x in node.input], graph, names, reshape)
            except (IndexError, ValueError, TypeError):
                new = None       # attributes that do not fit the shapes (an invalid model): left as it is
        if new is not None:
            replaced[i] = new
    _replace_nodes(graph, replaced)
    return collapse_views(model) if replaced else model


def split_before_transpose(model, max_rank: int = MAX_RANK):
    """`model` (in place) with each Transpose(perm) of rank > max_rank read only by Splits along axis a as those
    Splits along axis perm[a] of the Transpose's input, each part then permuted. Attention's qkv unbind
    (Transpose(2, 0, 3, 1, 4), Split on axis 0, Squeeze) then permutes three size-1-axis parts, each a rank-4
    permute, instead of the whole rank-5 tensor in two steps."""
    import onnx.helper as helper
    from .onnx_graph import GraphIndex

    graph = model.graph
    index = GraphIndex(graph)
    outputs = {o.name for o in graph.output}
    names = _Names(graph)
    replaced = {}
    position = {id(node): i for i, node in enumerate(graph.node)}
    for i, node in enumerate(graph.node):
        perm = _attr(node, "perm")
        readers = index.consumers.get(node.output[0], []) if node.op_type == "Transpose" else []
        if perm is None or len(perm) <= max_rank or node.output[0] in outputs or not readers \
                or sorted(perm) != list(range(len(perm))) \
                or any(r.op_type != "Split" or r.input[0] != node.output[0] for r in readers):
            continue
        for split in readers:
            axis = int(_attr(split, "axis", 0)) % len(perm)
            parts = [names("unpermuted") for _ in split.output]
            moved = helper.make_node("Split", [node.input[0], *split.input[1:]], parts, name=split.name)
            moved.attribute.extend(a for a in split.attribute if a.name != "axis")   # sizes (opset < 13)
            moved.attribute.append(helper.make_attribute("axis", int(perm[axis])))
            replaced[position[id(split)]] = [moved] + [
                helper.make_node("Transpose", [part], [out], name=names("transpose"), perm=list(perm))
                for part, out in zip(parts, split.output)]
        replaced[i] = []
    _replace_nodes(graph, replaced)
    return model


def _one_axis(node, shape, outputs, input_shapes, graph, names, reshape):
    """Split/Slice/Gather/Concat along one axis of a high-rank tensor as the same op along axis 1 of the
    rank-3 view [before, axis, after]; None when the node is not of that form."""
    import onnx.helper as helper
    from .onnx_graph import GraphIndex

    constant = GraphIndex(graph).constant
    axis = int(_attr(node, "axis", 0))
    if node.op_type == "Slice":
        axes = constant(node.input[3]) if len(node.input) > 3 and node.input[3] else np.arange(len(shape))
        starts, ends = constant(node.input[1]), constant(node.input[2])
        steps = constant(node.input[4]) if len(node.input) > 4 and node.input[4] else None
        if axes is None or starts is None or ends is None or (len(node.input) > 4 and node.input[4] and steps is None):
            return None
        moved = [int(a) % len(shape) for a in np.asarray(axes).reshape(-1)]
        cut = [a for a in moved if outputs[0][a] != shape[a]]
        if len(set(cut)) > 1:
            return None
        if not cut:          # a Slice that keeps every element is a view
            return [reshape(node.input[0], outputs[0], node.output[0])[1]]
        axis = cut[0]
        pick = moved.index(axis)
        extra = [_int64(graph, names, what, [int(np.asarray(v).reshape(-1)[pick])])
                 for what, v in (("starts", starts), ("ends", ends))]
        extra.append(_int64(graph, names, "axes", [1]))
        if steps is not None:
            extra.append(_int64(graph, names, "steps", [int(np.asarray(steps).reshape(-1)[pick])]))
    elif node.op_type == "Gather":
        indices = constant(node.input[1])
        if indices is None:
            return None
        axis %= len(shape)
        index_name = _int64(graph, names, "indices", np.asarray(indices).reshape(-1))
        extra = [index_name]
    else:
        axis %= len(shape) if node.op_type != "Concat" else len(outputs[0])
        extra = list(node.input[1:]) if node.op_type == "Split" else []

    def view(dims):
        return (int(np.prod(dims[:axis])), int(dims[axis]) if axis < len(dims) else 1, int(np.prod(dims[axis + 1:])))

    new = []
    if node.op_type == "Concat":
        sources = []
        for x, dims in zip(node.input, input_shapes):
            name, view_node = reshape(x, view(dims))
            new.append(view_node)
            sources.append(name)
        joined = names("joined")
        new.append(helper.make_node("Concat", sources, [joined], name=names("concat"), axis=1))
        new.append(reshape(joined, outputs[0], node.output[0])[1])
        return new
    if node.op_type == "Gather":
        count = int(np.asarray(constant(node.input[1])).size)
        if int(np.prod(shape[:axis])) * count * int(np.prod(shape[axis + 1:])) != int(np.prod(outputs[0])):
            return None
    x, view_node = reshape(node.input[0], view(shape))
    new.append(view_node)
    parts = [names("part") for _ in node.output]
    attrs = {"axis": 1} if node.op_type in ("Split", "Gather") else {}
    rewritten = helper.make_node(node.op_type, [x, *extra], parts, name=names(node.op_type.lower()), **attrs)
    if node.op_type == "Split":     # its sizes are an attribute before opset 13
        rewritten.attribute.extend(a for a in node.attribute if a.name != "axis")
    new.append(rewritten)
    for part, out, dims in zip(parts, node.output, outputs):
        new.append(reshape(part, dims, out)[1])
    return new


def collapse_views(model):
    """`model` (in place) with each view op (Reshape/Squeeze/Unsqueeze/Flatten) of static output shape that
    reads another view op reading its source directly (one Reshape), and Reshapes to the input's own shape
    removed (their readers read the input)."""
    from onnx import numpy_helper
    import onnx.helper as helper

    graph = model.graph
    shapes = _ranks(model)
    outputs = {o.name for o in graph.output}
    producer = {out: node for node in graph.node for out in node.output}
    names = _Names(graph)
    rename: dict[str, str] = {}
    replaced = {}
    for i, node in enumerate(graph.node):
        if node.op_type not in VIEW_OPS or node.domain not in ("", "ai.onnx"):
            continue
        out_shape = shapes.get(node.output[0])
        if out_shape is None or None in out_shape:
            continue
        source = node.input[0]
        while source in producer and producer[source].op_type in VIEW_OPS \
                and producer[source].domain in ("", "ai.onnx"):
            source = producer[source].input[0]
        source = rename.get(source, source)
        if shapes.get(source) == out_shape and node.output[0] not in outputs:
            rename[node.output[0]] = source
            replaced[i] = []
        elif source != node.input[0]:
            shape_name = names("shape")
            graph.initializer.append(numpy_helper.from_array(np.asarray(out_shape, np.int64), shape_name))
            replaced[i] = [helper.make_node("Reshape", [source, shape_name], list(node.output), name=node.name)]
    for node in graph.node:
        node.input[:] = [rename.get(name, name) for name in node.input]
    _replace_nodes(graph, replaced)
    _drop_dead(graph)
    return model
