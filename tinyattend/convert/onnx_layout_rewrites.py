"""ONNX -> ONNX rewrites of layout-sensitive forms onnx2tf 2.6.9 mis-converts, applied to the copy it reads
(see onnx_rewrites). Each keeps the model's function.

Per-channel constants of lower rank (FastViT's and LeViT's layer scale, GroupNorm's affine)
-------------------------------------------------------------------------------------------
`x * gamma` with x [N, C, H, W] and gamma [C, 1, 1] fails in onnx2tf's Mul: it pads gamma to
[1, C, 1, 1] but does not move it to NHWC ("Dimensions must be equal, but are 16 and 48 ... input
shapes: [1,16,16,48], [1,48,1,1]"). A constant already of the activation's rank is moved like every
other NCHW constant, so the rewrite gives such constants their leading 1s.

Shape computations folded to constants
--------------------------------------
torch writes `x.chunk(2, dim=1)` and `view(b, g, c // g, h, w)` as Shape -> Gather -> Div -> Mul ->
Slice/Reshape chains. With a static input they are constants, but onnx2tf evaluates them on its
NHWC tensors and slices or reshapes the wrong axis (ShuffleNetV2: "Received groups=48, but the input
has 120 channels"). Every node whose inputs are all constant, Shape of a static tensor included, is
evaluated once (onnx's reference evaluator) and becomes an initializer, as onnxsim would do. That
includes the Identity nodes torch writes for weights shared between modules (FastViT's layer
scales): onnx2tf takes an Identity's output for an activation and never moves it to NHWC; and scalar
arithmetic such as the attention scale `q.shape[-1] ** -0.5` (Pow of two constants), which onnx2tf's
accuracy correction turns into a bare Python float ("Output tensors of a Functional model must be the
output of a TensorFlow `Layer` ... Found: 0.25").

Any other all-constant subgraph is folded too: EdgeNeXt's Fourier positional encoding depends on the input
size only (CumSum of ones, Sin, Cos, a Concat at rank 5, a 1x1 Conv), and CumSum, Sin and Cos have no
int8 TFLite kernel. A value computed from constants is folded up to DATA_FOLD_LIMIT elements; a shape op
applied to an initializer itself (a weight's Reshape or Transpose) only up to FOLD_LIMIT, so weights keep
the form onnx2tf knows.

Channel shuffle (ShuffleNetV2)
------------------------------
Reshape [N, C, H, W] -> [N, g, C/g, H, W], Transpose (0, 2, 1, 3, 4), Reshape back to [N, C, H, W]:
onnx2tf takes the 5-D tensor for NCDHW, moves its "channels" and breaks the convolution that follows.
The three nodes are a fixed permutation of the channels: a Gather on axis 1 with constant indices,
which onnx2tf turns into a GATHER on the NHWC channel axis (an exact int8 copy).
"""
from __future__ import annotations

import numpy as np

from .onnx_norm_rewrites import _Names, _drop_dead, _ranks, _replace_nodes

ELEMENTWISE = ("Add", "Sub", "Mul", "Div", "PRelu")


MAX_FOLD_ROUNDS = 8


def fold_shapes(model):
    """`model` (changed in place) with shape computations folded: see fold_shape_computations. Again while
    a round folded something: a node whose shape input a round folded (a Reshape's target, an Expand's
    shape) has a static output only for the next round's shape inference (EfficientViT-M0's attention:
    78 Shape nodes, 48 left after one round, none after two; left in, onnx2tf's direct writer emits SHAPE,
    EQUAL and SELECT; a ViT's class token Expand(cls, Concat(Shape(x)[0], 1, C)) folds in round two)."""
    for _ in range(MAX_FOLD_ROUNDS):
        before = len(model.graph.node)
        model = fold_shape_computations(model)
        if len(model.graph.node) == before:
            return model
    return model


def for_onnx2tf(model):
    """`model` (changed in place) with the layout rewrites of this module applied (after fold_shapes)."""
    model = channel_shuffle_as_gather(model)
    return constants_to_full_rank(model)


# Ops whose all-constant instances are folded: shape arithmetic only (small int64 tensors in practice).
FOLDABLE = {"Shape", "Gather", "Div", "Mul", "Add", "Sub", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast",
            "Reshape", "ConstantOfShape", "Range", "Equal", "Where", "Floor", "Ceil", "Identity", "Size",
            "Pow", "Sqrt", "Reciprocal", "Neg", "Transpose"}
FOLD_LIMIT = 4096       # elements: bigger results of shape ops on initializers stay computed (weights)
DATA_FOLD_LIMIT = 1 << 20   # elements: a value computed from constants (a positional encoding), folded
# Ops never folded: their results differ run to run, or they hold subgraphs.
NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
              "If", "Loop", "Scan", "Constant"}


def fold_shape_computations(model):
    """`model` (in place) with every node whose inputs are constants (or, for Shape/Size, a tensor of static
    shape) replaced by an initializer holding its value: ops of FOLDABLE up to FOLD_LIMIT elements, any
    other op, or one that reads a folded value, up to DATA_FOLD_LIMIT."""
    import onnx.helper as helper
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    shapes = _ranks(model)
    outputs = {o.name for o in graph.output}
    known = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    computed: set[str] = set()           # values folded here (data), as opposed to the model's initializers
    opset = [helper.make_opsetid(o.domain, o.version) for o in model.opset_import]
    folded = set()
    for i, node in enumerate(graph.node):
        if node.op_type in NOT_FOLDED or node.domain not in ("", "ai.onnx") or any(o in outputs for o in node.output):
            continue
        if node.op_type in ("Shape", "Size"):
            shape = shapes.get(node.input[0])
            if shape is None or None in shape:
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            full = np.array(shape, np.int64)
            values = [np.array(full[attrs.get("start", 0):attrs.get("end", len(shape))], np.int64)
                      if node.op_type == "Shape" else np.array(int(np.prod(full)), np.int64)]
        elif all((not name) or name in known for name in node.input):
            if node.op_type not in FOLDABLE and not all(
                    shapes.get(o) is not None and None not in shapes[o] and np.prod(shapes[o]) <= DATA_FOLD_LIMIT
                    for o in node.output):
                continue         # evaluated only when its result is known to be small (a hostile model's Tile)
            inputs = [name for name in node.input if name]
            one = helper.make_graph(
                [node], "fold", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(known[n].dtype),
                                                               known[n].shape) for n in dict.fromkeys(inputs)],
                [helper.make_tensor_value_info(o, 0, None) for o in node.output])
            try:
                values = ReferenceEvaluator(helper.make_model(one, opset_imports=opset)).run(
                    None, {n: known[n] for n in inputs})
            except Exception:    # noqa: BLE001 - anything the evaluator cannot do stays in the graph
                continue
        else:
            continue
        data = node.op_type not in FOLDABLE or any(name in computed for name in node.input)
        if any(np.asarray(v).size > (DATA_FOLD_LIMIT if data else FOLD_LIMIT) for v in values):
            continue
        for name, value in zip(node.output, values):
            known[name] = np.asarray(value)
            graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
            computed.add(name)
        folded.add(i)
    _replace_nodes(graph, {i: [] for i in folded})
    _drop_dead_initializers(graph)
    return model


def _drop_dead_initializers(graph) -> None:
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    keep = [init for init in graph.initializer if init.name in used]
    if len(keep) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(keep)


def constants_to_full_rank(model):
    """`model` (in place) with each initializer of rank 2..r-1 that an element-wise op broadcasts against a
    rank-r (3 to 5) activation reshaped to rank r (leading 1s). An initializer other nodes read too is copied."""
    from onnx import numpy_helper

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    candidates = [node for node in graph.node if node.op_type in ELEMENTWISE
                  and any(name in initializers for name in node.input)]
    if not candidates:
        return model
    shapes = _ranks(model)
    names = _Names(graph)
    padded: dict[tuple[str, int], str] = {}
    for node in candidates:
        ranks = [len(shapes[name]) for name in node.input if name not in initializers and name in shapes]
        if not ranks:
            continue
        rank = max(ranks)
        if not 3 <= rank <= 5:
            continue
        for position, name in enumerate(node.input):
            init = initializers.get(name)
            if init is None or not 2 <= len(init.dims) < rank:
                continue
            key = (name, rank)
            if key not in padded:
                value = numpy_helper.to_array(init)
                new_name = names("full_rank")
                graph.initializer.append(numpy_helper.from_array(
                    value.reshape((1,) * (rank - value.ndim) + value.shape), new_name))
                padded[key] = new_name
            node.input[position] = padded[key]
    return model


def channel_shuffle_as_gather(model):
    """`model` (in place) with Reshape -> Transpose(0, 2, 1, 3, 4) -> Reshape channel shuffles as one Gather on
    axis 1 (the output keeps the last Reshape's name)."""
    import onnx.helper as helper
    from onnx import numpy_helper

    from .onnx_graph import GraphIndex

    graph = model.graph
    if not any(node.op_type == "Transpose" for node in graph.node):
        return model
    index = GraphIndex(graph)
    shapes = _ranks(model)
    names = _Names(graph)
    position = {node.output[0]: i for i, node in enumerate(graph.node)}   # protobuf wrappers have no stable id()
    replaced = {}
    for transpose in graph.node:
        perm = [a.ints for a in transpose.attribute if a.name == "perm"]
        if transpose.op_type != "Transpose" or not perm or list(perm[0]) != [0, 2, 1, 3, 4]:
            continue
        split = index.producer.get(transpose.input[0])
        merge = index.only_consumer(transpose.output[0])
        if split is None or split.op_type != "Reshape" or merge is None or merge.op_type != "Reshape" \
                or index.only_consumer(split.output[0]) is None:
            continue
        x = split.input[0]
        shape, grouped, out = shapes.get(x), shapes.get(split.output[0]), shapes.get(merge.output[0])
        # x is often a Concat of dynamically sliced halves with no inferred dimensions: its rank and
        # whatever dimensions are known must agree with the restored shape
        if shape is not None and out is not None and len(shape) == len(out) \
                and all(d is None or d == o for d, o in zip(shape, out)):
            shape = out
        if shape is None or len(shape) != 4 or None in shape or out != shape or grouped is None \
                or len(grouped) != 5 or tuple(grouped[:1] + grouped[3:]) != (shape[0], shape[2], shape[3]) \
                or grouped[1] * grouped[2] != shape[1]:
            continue
        groups, per_group = grouped[1], grouped[2]
        # output channel j = k * groups + g reads input channel g * per_group + k
        # int32: TFLM's GATHER takes int32 indices (int64 ones stay int64 through onnx2tf)
        order = np.arange(shape[1]).reshape(groups, per_group).T.reshape(-1).astype(np.int32)
        order_name = names("shuffle_order")
        graph.initializer.append(numpy_helper.from_array(order, order_name))
        replaced[position[merge.output[0]]] = [helper.make_node("Gather", [x, order_name], [merge.output[0]],
                                                          name=names("channel_shuffle"), axis=1)]
        replaced[position[transpose.output[0]]] = []
        replaced[position[split.output[0]]] = []
    _replace_nodes(graph, replaced)
    _drop_dead(graph)
    return model
