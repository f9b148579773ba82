"""ONNX -> ONNX rewrites applied to the copy of the model that onnx2tf reads (never to the model that
ONNX Runtime checks it against): each keeps the model's function and removes a form onnx2tf mishandles.

Constant nodes become initializers (onnx2tf 1.29)
-------------------------------------------------
torch's exporter writes scalars (`q * 0.176`, `x + 1e-5`, the GELU's 0.5 and 1/sqrt 2) as Constant nodes.
onnx2tf turns a scalar Constant node into a Python float; where its Mul/Add handler then checks its own
broadcast against ONNX Runtime (output shapes with a repeated dimension, e.g. LowFormer's attention
`q * scale` on [1, heads, T, d] with T == d), it builds a Keras model whose outputs include that float and
stops with "Output tensors of a Functional model must be the output of a TensorFlow `Layer` ... Found:
0.1767...". As initializers, the same values reach onnx2tf as numpy arrays, which it handles (onnxsim
does the same folding; it is not a dependency here).

Identity nodes over initializers become initializers (onnx2tf 2.6.9)
--------------------------------------------------------------------
torch's exporter stores an initializer once and gives its other users an Identity of it (RepViT's folded
conv weights and batch-norm statistics when two blocks hold equal values). onnx2tf takes a Conv whose
weight comes from a node for a run-time weight, and builds the wrong convolution: RepViT's second
channel-mixer conv (96 -> 48) comes out with 96 channels and its bias add fails ("Dimensions must be
equal, but are 96 and 48"). As initializers of their own, the weights reach onnx2tf as constants.

torch's exact GELU in the operand order that the TFLite converter fuses
-----------------------------------------------------------------------
torch exports nn.GELU as (x * (1 + erf(x / sqrt 2))) * 0.5. onnx2tf lowers that op by op, and the TFLite
converter fuses only (x * 0.5) * (1 + erf(x / sqrt 2)) into its GELU builtin (which has an int8 kernel);
any other order keeps a float Erf and the int8 conversion fails. The rewrite moves the 0.5 onto x.
"""
from __future__ import annotations


def for_onnx2tf(model, reorder_gelu: bool = True):
    """The copy of `model` that onnx2tf converts: every rewrite of this module, then those of
    onnx_layout_rewrites (shape folding first), onnx_norm_rewrites and onnx_rank_rewrites (last: the
    rewrites before it match the exporter's rank-5 forms, e.g. the channel shuffle). `reorder_gelu=False`
    for onnx2tf's direct writer, which fuses torch's own GELU order into the GELU builtin itself."""
    from .onnx_layout_rewrites import fold_shapes, for_onnx2tf as layout_rewrites
    from .onnx_norm_rewrites import for_onnx2tf as normalisation_rewrites
    from .onnx_rank_rewrites import lower_ranks
    model = identities_to_initializers(constants_to_initializers(model))
    if reorder_gelu:
        model = reorder_torch_gelu(model)
    return lower_ranks(layout_rewrites(normalisation_rewrites(fold_shapes(model))))


def constants_to_initializers(model):
    """A copy of `model` in which every Constant node holding a tensor (`value`) is an initializer of the
    same name. Other Constant forms (value_float, sparse_value, ...) are left as nodes."""
    import onnx
    import onnx.helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    graph_outputs = {o.name for o in graph.output}
    keep = []
    for node in graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and set(attrs) == {"value"} \
                and node.output[0] not in graph_outputs:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(onnx.helper.get_attribute_value(attrs["value"]))
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            keep.append(node)
    if len(keep) != len(graph.node):
        del graph.node[:]
        graph.node.extend(keep)
    return out


def identities_to_initializers(model):
    """`model` (changed in place) in which every Identity node whose input is an initializer (and whose
    output is not a graph output) is replaced by an initializer with the output's name."""
    import onnx

    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    keep = []
    for node in graph.node:
        if node.op_type == "Identity" and node.domain in ("", "ai.onnx") and node.input[0] in initializers \
                and node.output[0] not in graph_outputs:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(initializers[node.input[0]])
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
            initializers[tensor.name] = tensor
        else:
            keep.append(node)
    if len(keep) != len(graph.node):
        del graph.node[:]
        graph.node.extend(keep)
    return model


def reorder_torch_gelu(model):
    """`model` (changed in place) with every exact GELU in torch's order rewritten to (x * 0.5) * (1 + erf(.)):
    the Mul that read x and (1 + erf) now reads x and the 0.5, the last Mul reads that and (1 + erf)."""
    from .onnx_graph import GraphIndex
    from .onnx_op_rules import match_exact_gelu

    graph = GraphIndex(model.graph)
    for node in model.graph.node:
        if node.op_type != "Erf":
            continue
        gelu = match_exact_gelu(node, graph)
        if gelu is None or gelu.final is None:
            continue
        product, final = gelu.product, gelu.final
        half = final.input[1] if final.input[0] == product.output[0] else final.input[0]
        product.input[:] = [gelu.x, half]
        final.input[:] = [product.output[0], gelu.plus_one.output[0]]
    return model
