"""ONNX -> ONNX rewrites of normalisation forms, applied to the copy onnx2tf reads (see onnx_rewrites).

Each keeps the model's function and leaves a form that onnx2tf and the int8 converter turn into
int8 ops TFLM runs (MEAN, SQUARED_DIFFERENCE/MUL, ADD, RSQRT, SUB, MUL):

* 1 / sqrt(v) as a division (`a / Sqrt(v)`, `Reciprocal(Sqrt(v))`, the same with `Pow(v, 0.5)`):
  written by hand-made LayerNorms (timm's LayerNorm2d in some models, LowFormer's head). Left alone
  it becomes SQRT and DIV, and TFLM has no int8 SQRT. As `a * Pow(v, -0.5)` onnx2tf writes
  tf.math.rsqrt, which quantizes to RSQRT.
* GroupNorm, which torch exports as Reshape(x, [N, groups, -1]), InstanceNormalization (unit affine),
  Reshape back, then Mul/Add by the per-channel affine. After the rank-3 detour onnx2tf loses track of
  the layout and the affine Mul fails ("Incompatible shapes: [1,6,10,8] vs. [8,1,1]"). Rewritten on
  the 4-D tensor itself: per-channel means over H, W, averaged within each group by a 1x1 Conv with
  weights 1/(channels per group) (an int8 weight that is exact), so the channel axis never moves;
  one group reduces over C, H, W directly.
* InstanceNormalization elsewhere, written out as the same mean / variance / RSQRT chain over the
  spatial axes (onnx2tf's own lowering mis-handles some layouts).
* Expand feeding only element-wise Add/Sub/Mul/Div (MobileViTv2's `context.expand_as(v)`): those ops
  broadcast by themselves, and an explicit Expand would become BROADCAST_TO, which tinyattend has no
  kernel for. It is dropped where the result keeps its shape.
* F.normalize (EdgeNeXt's cross-covariance attention): x / Expand(Clip(ReduceL2(x), min=eps)). TFLite has
  no int8 L2 reduction or DIV; x / max(||x||, eps) = x * (max(sum x^2, eps^2))^-0.5, i.e. MUL, the sum
  below, MAXIMUM and RSQRT.
* ReduceSum (MobileViTv2's linear attention): TFLM's int8 SUM is not in tinyattend; a sum is a
  MEAN times the (static) count, and MUL by a constant is.
"""
from __future__ import annotations

import numpy as np


def for_onnx2tf(model):
    """`model` (changed in place) with every rewrite of this module applied."""
    model = group_norm_rank4(model)
    model = instance_norm_decomposed(model)
    model = rsqrt_for_sqrt_division(model)
    model = l2_normalize_as_rsqrt(model)
    model = reduce_sum_as_mean(model)
    return expand_into_broadcast(model)


class _Names:
    """Fresh tensor and node names with a prefix no exporter uses."""

    def __init__(self, graph):
        self.taken = {name for node in graph.node for name in (*node.input, *node.output, node.name)}
        self.taken |= {init.name for init in graph.initializer}
        self.count = 0

    def __call__(self, hint: str) -> str:
        while True:
            self.count += 1
            name = f"tinyattend_{hint}_{self.count}"
            if name not in self.taken:
                self.taken.add(name)
                return name


def _constant(graph, names, hint, value):
    from onnx import numpy_helper
    name = names(hint)
    graph.initializer.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
    return name


def _consumers(graph) -> dict[str, list]:
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def _replace_nodes(graph, replaced: dict[int, list]) -> None:
    """Put the node lists of `replaced` (node index -> new nodes) in place of those nodes, in order."""
    if not replaced:
        return
    nodes = []
    for index, node in enumerate(graph.node):
        nodes.extend(replaced.get(index, [node]))
    del graph.node[:]
    graph.node.extend(nodes)


def _drop_dead(graph) -> None:
    """Remove nodes (transitively) whose outputs nobody reads and that are not graph outputs."""
    outputs = {o.name for o in graph.output}
    while True:
        readers = _consumers(graph)
        dead = [i for i, node in enumerate(graph.node)
                if node.output and not any(o in readers or o in outputs for o in node.output)]
        if not dead:
            return
        _replace_nodes(graph, {i: [] for i in dead})


def rsqrt_for_sqrt_division(model):
    """`model` (in place) with a / sqrt(v) as a * Pow(v, -0.5) and Reciprocal(sqrt(v)) as Pow(v, -0.5)."""
    import onnx.helper as helper
    from .onnx_graph import GraphIndex

    graph = model.graph
    index = GraphIndex(graph)
    names = _Names(graph)

    def root_of(name):
        """v when tensor `name` is Sqrt(v) or Pow(v, 0.5), else None."""
        node = index.producer.get(name)
        if node is None:
            return None
        if node.op_type == "Sqrt":
            return node.input[0]
        if node.op_type == "Pow":
            exponent = index.constant(node.input[1])
            if exponent is not None and exponent.size == 1 and float(exponent.reshape(-1)[0]) == 0.5:
                return node.input[0]
        return None

    replaced = {}
    for i, node in enumerate(graph.node):
        if node.op_type not in ("Div", "Reciprocal"):
            continue
        v = root_of(node.input[-1])
        if v is None:
            continue
        half = _constant(graph, names, "minus_half", -0.5)
        if node.op_type == "Reciprocal":
            replaced[i] = [helper.make_node("Pow", [v, half], [node.output[0]], name=names("rsqrt"))]
        else:
            inv = names("rsqrt")
            replaced[i] = [helper.make_node("Pow", [v, half], [inv], name=inv),
                           helper.make_node("Mul", [node.input[0], inv], [node.output[0]], name=names("mul"))]
    _replace_nodes(graph, replaced)
    _drop_dead(graph)
    return model


def _attr(node, name, default=None):
    import onnx.helper
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _ranks(model) -> dict[str, tuple]:
    """Static shapes (None for unknown dimensions) of every tensor ONNX shape inference can type."""
    import onnx
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:    # noqa: BLE001 - inference is best effort; a rewrite then leaves the node
        return {}
    shapes = {}
    for info in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        dims = info.type.tensor_type.shape.dim
        if info.type.tensor_type.HasField("shape"):
            shapes[info.name] = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
    return shapes


def instance_norm_decomposed(model):
    """`model` (in place) with InstanceNormalization(x, scale, bias) written out over axes 2.. of x:
    d = x - mean(x); y = d * (mean(d * d) + epsilon)^-0.5 * scale + bias (the affine reshaped to
    [C, 1, ...], left out where it is 1 and 0, as GroupNorm's export has it)."""
    import onnx.helper as helper
    from .onnx_graph import GraphIndex

    graph = model.graph
    if not any(node.op_type == "InstanceNormalization" for node in graph.node):
        return model
    index = GraphIndex(graph)
    shapes = _ranks(model)
    names = _Names(graph)
    replaced = {}
    for i, node in enumerate(graph.node):
        if node.op_type != "InstanceNormalization":
            continue
        shape = shapes.get(node.input[0])
        if shape is None or len(shape) < 3:
            continue
        x, axes = node.input[0], list(range(2, len(shape)))
        epsilon = float(_attr(node, "epsilon", 1e-5))
        mean, diff, square, variance, shifted, inv, normed = (names(h) for h in (
            "in_mean", "in_diff", "in_square", "in_var", "in_var_eps", "in_rsqrt", "in_normed"))
        nodes = [
            helper.make_node("ReduceMean", [x], [mean], name=mean, axes=axes, keepdims=1),
            helper.make_node("Sub", [x, mean], [diff], name=diff),
            helper.make_node("Mul", [diff, diff], [square], name=square),
            helper.make_node("ReduceMean", [square], [variance], name=variance, axes=axes, keepdims=1),
            helper.make_node("Add", [variance, _constant(graph, names, "in_epsilon", epsilon)], [shifted],
                             name=shifted),
            helper.make_node("Pow", [shifted, _constant(graph, names, "minus_half", -0.5)], [inv], name=inv),
        ]
        scale, bias = index.constant(node.input[1]), index.constant(node.input[2])
        affine_shape = (-1,) + (1,) * (len(shape) - 2)
        identity_scale = scale is not None and np.all(scale == 1)
        identity_bias = bias is not None and np.all(bias == 0)
        out = node.output[0]
        scaled = out if identity_bias else names("in_scaled")
        if identity_scale:
            nodes.append(helper.make_node("Mul", [diff, inv], [scaled], name=names("in_mul")))
        else:
            nodes.append(helper.make_node("Mul", [diff, inv], [normed], name=normed))
            scale_name = (_constant(graph, names, "in_scale", scale.reshape(affine_shape)) if scale is not None
                          else node.input[1])
            nodes.append(helper.make_node("Mul", [normed, scale_name], [scaled], name=names("in_mul")))
        if not identity_bias:
            bias_name = (_constant(graph, names, "in_bias", bias.reshape(affine_shape)) if bias is not None
                         else node.input[2])
            nodes.append(helper.make_node("Add", [scaled, bias_name], [out], name=names("in_add")))
        if scale is None or bias is None:
            continue            # a run-time affine: its [C] shape would not broadcast; leave the node
        replaced[i] = nodes
    _replace_nodes(graph, replaced)
    return model


def group_norm_rank4(model):
    """`model` (in place) with each Reshape([N, C, H, W] -> [N, G, -1]) -> InstanceNormalization (scale 1,
    bias 0) -> Reshape(back to [N, C, H, W]) written on the 4-D tensor: m = group mean of x,
    d = x - m, y = d * (group mean of d * d + epsilon)^-0.5 (the output keeps the last Reshape's name)."""
    import onnx.helper as helper
    from onnx import numpy_helper
    from .onnx_graph import GraphIndex

    graph = model.graph
    if not any(node.op_type == "InstanceNormalization" for node in graph.node):
        return model
    index = GraphIndex(graph)
    shapes = _ranks(model)
    names = _Names(graph)
    position = {node.output[0]: i for i, node in enumerate(graph.node)}   # protobuf wrappers have no stable id()
    replaced = {}
    for norm in graph.node:
        if norm.op_type != "InstanceNormalization":
            continue
        to_groups = index.producer.get(norm.input[0])
        back = index.only_consumer(norm.output[0])
        if to_groups is None or to_groups.op_type != "Reshape" or back is None or back.op_type != "Reshape":
            continue
        x = to_groups.input[0]
        shape, grouped, restored = shapes.get(x), shapes.get(norm.input[0]), shapes.get(back.output[0])
        shape_of = index.producer.get(back.input[1])
        if shape_of is not None and shape_of.op_type == "Shape" and shape_of.input[0] == x and not shape_of.attribute:
            restored = shape                       # torch's GroupNorm: Reshape(normed, Shape(x))
        scale, bias = index.constant(norm.input[1]), index.constant(norm.input[2])
        if shape is None or len(shape) != 4 or None in shape or restored != shape or grouped is None \
                or len(grouped) != 3 or grouped[0] != shape[0] or scale is None or bias is None \
                or not np.all(scale == 1) or not np.all(bias == 0) or index.only_consumer(norm.input[0]) is None:
            continue
        channels, groups = shape[1], grouped[1]
        if groups < 1 or channels % groups or grouped[2] != channels // groups * shape[2] * shape[3]:
            continue
        epsilon = float(_attr(norm, "epsilon", 1e-5))

        def group_mean(source, hint):
            """The mean of `source` over each group's channels and H, W, broadcast to [N, C, 1, 1] (or
            [N, 1, 1, 1] for one group): the nodes and the result's name."""
            out = names(hint)
            if groups == 1:
                return [helper.make_node("ReduceMean", [source], [out], name=out, axes=[1, 2, 3], keepdims=1)], out
            per_channel = names(hint + "_hw")
            per_group = channels // groups
            weight = np.zeros((channels, channels, 1, 1), np.float32)
            for g in range(groups):
                weight[g * per_group:(g + 1) * per_group, g * per_group:(g + 1) * per_group] = 1.0 / per_group
            weight_name = names("gn_group_average")
            graph.initializer.append(numpy_helper.from_array(weight, weight_name))
            return [helper.make_node("ReduceMean", [source], [per_channel], name=per_channel, axes=[2, 3],
                                     keepdims=1),
                    helper.make_node("Conv", [per_channel, weight_name], [out], name=out, kernel_shape=[1, 1])], out
        mean_nodes, mean = group_mean(x, "gn_mean")
        diff, square, shifted, inv = (names(h) for h in ("gn_diff", "gn_square", "gn_var_eps", "gn_rsqrt"))
        var_nodes, variance = group_mean(square, "gn_var")
        nodes = [*mean_nodes,
                 helper.make_node("Sub", [x, mean], [diff], name=diff),
                 helper.make_node("Mul", [diff, diff], [square], name=square),
                 *var_nodes,
                 helper.make_node("Add", [variance, _constant(graph, names, "gn_epsilon", epsilon)], [shifted],
                                  name=shifted),
                 helper.make_node("Pow", [shifted, _constant(graph, names, "minus_half", -0.5)], [inv], name=inv),
                 helper.make_node("Mul", [diff, inv], [back.output[0]], name=names("gn_normed"))]
        replaced[position[back.output[0]]] = nodes
        replaced[position[norm.output[0]]] = []
        replaced[position[to_groups.output[0]]] = []
    _replace_nodes(graph, replaced)
    _drop_dead(graph)
    return model


def l2_normalize_as_rsqrt(model):
    """`model` (in place) with each F.normalize Div(x, Expand(Clip(ReduceL2(x, axes), eps))) as
    Mul(x, Pow(Max(ReduceSum(x * x, axes), eps^2), -0.5)) (the output keeps the Div's name)."""
    import onnx.helper as helper
    from .onnx_graph import GraphIndex
    from .onnx_op_rules import match_l2_normalize

    graph = model.graph
    if not any(node.op_type == "ReduceL2" for node in graph.node):
        return model
    index = GraphIndex(graph)
    names = _Names(graph)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    replaced = {}
    for i, node in enumerate(graph.node):
        found = match_l2_normalize(node, index)
        if found is None:
            continue
        square, total, floor, root = names("l2_square"), names("l2_sum"), names("l2_floor"), names("l2_rsqrt")
        if opset >= 13:         # ReduceSum's axes: an input from opset 13, an attribute before
            from onnx import numpy_helper
            axes_name = names("l2_axes")
            graph.initializer.append(numpy_helper.from_array(np.asarray(found.axes, np.int64), axes_name))
            reduce = helper.make_node("ReduceSum", [square, axes_name], [total], name=total, keepdims=1)
        else:
            reduce = helper.make_node("ReduceSum", [square], [total], name=total, axes=list(found.axes), keepdims=1)
        replaced[i] = [
            helper.make_node("Mul", [found.x, found.x], [square], name=square),
            reduce,
            helper.make_node("Max", [total, _constant(graph, names, "l2_eps_squared", found.eps ** 2)], [floor],
                             name=floor),
            helper.make_node("Pow", [floor, _constant(graph, names, "minus_half", -0.5)], [root], name=root),
            helper.make_node("Mul", [found.x, root], [node.output[0]], name=names("l2_normalized")),
        ]
    _replace_nodes(graph, replaced)
    _drop_dead(graph)
    return model


def reduce_sum_as_mean(model):
    """`model` (in place) with ReduceSum(x, axes) over static dimensions as Mul(ReduceMean(x, axes), count)."""
    import onnx.helper as helper
    from .onnx_graph import GraphIndex

    graph = model.graph
    if not any(node.op_type == "ReduceSum" for node in graph.node):
        return model
    index = GraphIndex(graph)
    shapes = _ranks(model)
    names = _Names(graph)
    replaced = {}
    for i, node in enumerate(graph.node):
        if node.op_type != "ReduceSum":
            continue
        shape = shapes.get(node.input[0])
        axes = index.constant(node.input[1]) if len(node.input) > 1 and node.input[1] else _attr(node, "axes")
        if shape is None or axes is None or len(np.asarray(axes).reshape(-1)) == 0:
            continue
        axes = sorted({int(a) % len(shape) for a in np.asarray(axes).reshape(-1)})
        if any(shape[a] is None for a in axes):
            continue
        count = int(np.prod([shape[a] for a in axes]))
        mean = names("sum_mean")
        replaced[i] = [
            helper.make_node("ReduceMean", [node.input[0]], [mean], name=mean, axes=axes,
                             keepdims=int(_attr(node, "keepdims", 1))),
            helper.make_node("Mul", [mean, _constant(graph, names, "sum_count", float(count))], [node.output[0]],
                             name=names("sum_mul")),
        ]
    _replace_nodes(graph, replaced)
    return model


BROADCASTING_OPS = ("Add", "Sub", "Mul", "Div")


def _broadcast(a, b):
    """numpy's broadcast of two static shapes, or None (unknown dimensions, or they do not broadcast)."""
    if a is None or b is None or None in a or None in b:
        return None
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        return None


def expand_into_broadcast(model):
    """`model` (in place) with Expand(x, shape) read only by Add/Sub/Mul/Div replaced by x itself, where each
    reader's output shape stays the same."""
    from .onnx_graph import GraphIndex

    graph = model.graph
    if not any(node.op_type == "Expand" for node in graph.node):
        return model
    index = GraphIndex(graph)
    shapes = _ranks(model)
    outputs = {o.name for o in graph.output}
    dropped = set()
    for i, node in enumerate(graph.node):
        if node.op_type != "Expand" or node.output[0] in outputs:
            continue
        x, expanded = node.input[0], node.output[0]
        target = index.constant(node.input[1])
        shape_of = index.producer.get(node.input[1])
        if target is not None:
            target = _broadcast(shapes.get(x), tuple(int(d) for d in target.reshape(-1)))
        elif shape_of is not None and shape_of.op_type == "Shape" and not shape_of.attribute:
            target = _broadcast(shapes.get(x), shapes.get(shape_of.input[0]))
        readers = index.consumers.get(expanded, [])
        if target is None or not readers or any(r.op_type not in BROADCASTING_OPS for r in readers):
            continue
        keeps_shape = True
        for reader in readers:
            others = [name for name in reader.input if name != expanded]
            other = shapes.get(others[0]) if others else target
            if _broadcast(other, shapes.get(x)) != _broadcast(other, target):
                keeps_shape = False
        if not keeps_shape:
            continue
        for reader in readers:
            reader.input[:] = [x if name == expanded else name for name in reader.input]
        dropped.add(i)
    _replace_nodes(graph, {i: [] for i in dropped})
    _drop_dead(graph)
    return model
