"""The ONNX-level layout rewrites (tinyattend/convert/onnx_layout_rewrites.py): shape computations folded,
channel shuffle as a Gather, per-channel constants at full rank. Each keeps the model's function (ONNX
Runtime: exact for these pure data moves) and removes the form onnx2tf mis-converts."""
from __future__ import annotations

import copy

import numpy as np
import onnx.helper as helper
from onnx import TensorProto, numpy_helper

from model_factory import rewrite_keeps_function
from tinyattend.convert import onnx_layout_rewrites as rewrites

SHAPE = (1, 8, 6, 10)


def _model(nodes, initializers):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _same_function(model, rewrite):
    return rewrite_keeps_function(model, rewrite, SHAPE)


def onnx_copy(model):
    return copy.deepcopy(model)


def _ops(model):
    return [node.op_type for node in model.graph.node]


def _torch_channel_shuffle(groups):
    """torch's export of x.view(b, g, c // g, h, w).transpose(1, 2).reshape(b, c, h, w), with its shape
    arithmetic (Shape, Gather, Div, Concat) instead of constant shapes."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "one"], ["c"], axis=0),
             helper.make_node("Div", ["c", "groups"], ["per_group"]),
             helper.make_node("Concat", ["batch", "groups", "per_group", "hw"], ["split_shape"], axis=0),
             helper.make_node("Reshape", ["x", "split_shape"], ["g"]),
             helper.make_node("Transpose", ["g"], ["t"], perm=[0, 2, 1, 3, 4]),
             helper.make_node("Reshape", ["t", "s"], ["y"])]
    return _model(nodes, {"one": np.array(1, np.int64), "groups": np.array([groups], np.int64),
                          "batch": np.array([1], np.int64), "hw": np.array(SHAPE[2:], np.int64)})


def test_shape_arithmetic_folds_to_constants():
    model = _same_function(_torch_channel_shuffle(2), rewrites.fold_shape_computations)
    assert _ops(model) == ["Reshape", "Transpose", "Reshape"], _ops(model)


def test_shape_of_a_reshape_with_computed_target_folds_in_a_second_round():
    """EfficientViT's attention: Reshape(x, Concat(Shape(x)[0], ...)) then Shape of that Reshape's output. Its
    shape is static only once the first round folded the target; fold_shapes goes round again."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "one", "two"], ["channels"]),
             helper.make_node("Div", ["channels", "heads"], ["per_head"]),      # no data propagation through Div
             helper.make_node("Concat", ["batch", "heads", "per_head", "tokens"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["r"]),
             helper.make_node("Shape", ["r"], ["rs"]),
             helper.make_node("Reshape", ["r", "rs"], ["y"])]
    model = _model(nodes, {"one": np.array([1], np.int64), "two": np.array([2], np.int64),
                           "heads": np.array([2], np.int64), "batch": np.array([1], np.int64),
                           "tokens": np.array([60], np.int64)})
    once = rewrites.fold_shape_computations(onnx_copy(model))
    assert "Shape" in _ops(once), "one round folds this already: the test no longer covers the second round"
    folded = _same_function(model, rewrites.fold_shapes)
    assert _ops(folded) == ["Reshape", "Reshape"], _ops(folded)


def test_channel_shuffle_becomes_a_channel_gather():
    for groups in (2, 4):
        model = _same_function(_torch_channel_shuffle(groups),
                               lambda m: rewrites.for_onnx2tf(rewrites.fold_shapes(m)))
        assert _ops(model) == ["Gather"], _ops(model)
        indices = {init.name: init for init in model.graph.initializer}[model.graph.node[0].input[1]]
        assert indices.data_type == TensorProto.INT32          # TFLM's GATHER takes int32 indices


def test_a_transpose_that_is_no_shuffle_stays():
    nodes = [helper.make_node("Reshape", ["x", "split_shape"], ["g"]),
             helper.make_node("Transpose", ["g"], ["t"], perm=[0, 1, 2, 4, 3]),
             helper.make_node("Reshape", ["t", "shape"], ["y"])]
    model = _model(nodes, {"split_shape": np.array([1, 2, 4, 6, 10], np.int64), "shape": np.array(SHAPE, np.int64)})
    assert _ops(_same_function(model, rewrites.channel_shuffle_as_gather)) == ["Reshape", "Transpose", "Reshape"]


def test_shared_weight_identity_folds_and_per_channel_constant_gets_full_rank():
    """FastViT's layer scale: Mul(x, Identity(gamma [C, 1, 1])) -> Mul(x, gamma' [1, C, 1, 1])."""
    gamma = np.random.default_rng(1).normal(size=(8, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Identity", ["gamma"], ["shared"]), helper.make_node("Mul", ["x", "shared"], ["y"])]
    model = _same_function(_model(nodes, {"gamma": gamma}),
                           lambda m: rewrites.for_onnx2tf(rewrites.fold_shapes(m)))
    assert _ops(model) == ["Mul"]
    constant = {init.name: tuple(init.dims) for init in model.graph.initializer}[model.graph.node[0].input[1]]
    assert constant == (1, 8, 1, 1)


def test_constant_subgraph_is_folded_at_any_size_a_weight_reshape_is_not():
    """EdgeNeXt's positional encoding (CumSum of ones, Sin, Cos, then data ops) depends on constants only: folded
    though its values exceed FOLD_LIMIT. A Transpose of a large weight initializer stays (weights keep their
    form for onnx2tf)."""
    side = 96
    big = np.random.default_rng(2).normal(size=(side, side)).astype(np.float32)
    nodes = [helper.make_node("CumSum", ["ones", "axis"], ["c"]),
             helper.make_node("Sin", ["c"], ["s"]),
             helper.make_node("Cos", ["c"], ["k"]),
             helper.make_node("Concat", ["s", "k"], ["sk"], axis=0),
             helper.make_node("Reshape", ["sk", "shape"], ["pos"]),
             helper.make_node("Transpose", ["weight"], ["wt"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "wt"], ["xw"]),
             helper.make_node("Add", ["xw", "pos"], ["y"])]
    shape = (1, 2, side, side)
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in {
            "ones": np.ones((side, side), np.float32), "axis": np.array(1, np.int64),
            "shape": np.array(shape, np.int64), "weight": big}.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert 2 * side * side > rewrites.FOLD_LIMIT
    import onnxruntime as ort
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    run = lambda m: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(  # noqa: E731
        None, {"x": x})[0]
    expected = run(model)
    folded = rewrites.fold_shapes(model)
    assert _ops(folded) == ["Transpose", "MatMul", "Add"], _ops(folded)
    np.testing.assert_allclose(run(folded), expected, rtol=1e-6, atol=1e-5)
