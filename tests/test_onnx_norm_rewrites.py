"""The ONNX-level normalisation rewrites (tinyattend/convert/onnx_norm_rewrites.py): each removes the form
onnx2tf or TFLM cannot take and keeps the model's function (ONNX Runtime, float tolerance). The pre-check
accepts the forms the rewrites handle and refuses the rest with a reason."""
from __future__ import annotations

import numpy as np
import onnx
import onnx.helper as helper
import pytest
from onnx import TensorProto, numpy_helper

from tinyattend.convert import onnx_norm_rewrites as rewrites
from tinyattend.convert.onnx_checks import GraphIndex, node_problem

SHAPE = (1, 8, 6, 10)


def _model(nodes, initializers, shape=SHAPE, out_shape=None):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, np.float32) if k not in INT64 else np.asarray(v, np.int64), k)
         for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


INT64 = {"groups_shape", "sum_axes", "expand_shape"}


def _run(model, x):
    import onnxruntime as ort
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _check(model, rewrite, gone, present):
    x = np.random.default_rng(0).normal(1.0, 2.0, size=SHAPE).astype(np.float32)
    expected = _run(model, x)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    rewritten = rewrite(copy)
    ops = [node.op_type for node in rewritten.graph.node]
    assert not set(gone) & set(ops), ops
    assert set(present) <= set(ops), ops
    np.testing.assert_allclose(_run(rewritten, x), expected, rtol=1e-4, atol=1e-4)
    return ops


def _hand_layer_norm(divisor_op):
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[1]),
             helper.make_node("Sub", ["x", "m"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["d2"]),
             helper.make_node("ReduceMean", ["d2"], ["v"], axes=[1]),
             helper.make_node("Add", ["v", "eps"], ["ve"])]
    if divisor_op == "Sqrt":
        nodes += [helper.make_node("Sqrt", ["ve"], ["s"]), helper.make_node("Div", ["d", "s"], ["y"])]
    elif divisor_op == "Pow":
        nodes += [helper.make_node("Pow", ["ve", "half"], ["s"]), helper.make_node("Div", ["d", "s"], ["y"])]
    else:
        nodes += [helper.make_node("Sqrt", ["ve"], ["s"]), helper.make_node("Reciprocal", ["s"], ["r"]),
                  helper.make_node("Mul", ["d", "r"], ["y"])]
    return _model(nodes, {"two": 2.0, "eps": 1e-5, "half": 0.5})


@pytest.mark.parametrize("divisor_op", ["Sqrt", "Pow", "Reciprocal"])
def test_division_by_a_square_root_becomes_an_inverse_square_root(divisor_op):
    model = _hand_layer_norm(divisor_op)
    index = GraphIndex(model.graph)
    assert all(node_problem(node, index) is None for node in model.graph.node)
    ops = _check(model, rewrites.rsqrt_for_sqrt_division, {"Sqrt", "Div", "Reciprocal"}, {"Pow", "Mul"})
    assert ops.count("Pow") == 2          # d^2 stays, v^-0.5 is new


def _group_norm(groups, affine=True):
    """torch's export of nn.GroupNorm(groups, 8)."""
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Reshape", ["x", "groups_shape"], ["g"]),
             helper.make_node("InstanceNormalization", ["g", "ones", "zeros"], ["n"], epsilon=1e-5),
             helper.make_node("Shape", ["x"], ["xs"]),
             helper.make_node("Reshape", ["n", "xs"], ["r"]),
             helper.make_node("Mul", ["r", "w"], ["rw"]),
             helper.make_node("Add", ["rw", "b"], ["y"])]
    return _model(nodes, {"groups_shape": [1, groups, -1], "ones": np.ones(groups), "zeros": np.zeros(groups),
                          "w": 1 + 0.3 * rng.normal(size=(8, 1, 1)) if affine else np.ones((8, 1, 1)),
                          "b": 0.2 * rng.normal(size=(8, 1, 1))})


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_group_norm_stays_four_dimensional(groups):
    model = _group_norm(groups)
    assert all(node_problem(node, GraphIndex(model.graph)) is None for node in model.graph.node)
    ops = _check(model, rewrites.group_norm_rank4, {"InstanceNormalization", "Reshape", "Shape"},
                 {"ReduceMean", "Pow"})
    assert ("Conv" in ops) == (groups > 1), ops


def test_instance_norm_is_written_out():
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], epsilon=1e-3)]
    model = _model(nodes, {"scale": 1 + 0.3 * rng.normal(size=8), "bias": rng.normal(size=8)})
    _check(model, rewrites.instance_norm_decomposed, {"InstanceNormalization"}, {"ReduceMean", "Pow", "Add"})


@pytest.mark.parametrize("axes,keepdims", [([2, 3], 1), ([-1], 0), ([1], 1)])
def test_reduce_sum_is_a_scaled_mean(axes, keepdims):
    model = _model([helper.make_node("ReduceSum", ["x", "sum_axes"], ["y"], keepdims=keepdims)], {"sum_axes": axes})
    assert node_problem(model.graph.node[0], GraphIndex(model.graph)) is None
    _check(model, rewrites.reduce_sum_as_mean, {"ReduceSum"}, {"ReduceMean", "Mul"})


def test_expand_before_a_broadcasting_mul_is_dropped():
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3]),
             helper.make_node("Shape", ["x"], ["xs"]),
             helper.make_node("Expand", ["m", "xs"], ["e"]),
             helper.make_node("Mul", ["x", "e"], ["y"])]
    model = _model(nodes, {})
    assert all(node_problem(node, GraphIndex(model.graph)) is None for node in model.graph.node)
    _check(model, rewrites.expand_into_broadcast, {"Expand"}, {"Mul"})


def test_expand_that_sets_the_shape_stays():
    """Mul(Expand(m), m): without the Expand the product would be [1, 8, 1, 1]; the rewrite leaves it."""
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[2, 3]),
             helper.make_node("Expand", ["m", "expand_shape"], ["e"]),
             helper.make_node("Mul", ["m", "e"], ["y"])]
    model = _model(nodes, {"expand_shape": list(SHAPE)})
    _check(model, rewrites.expand_into_broadcast, set(), {"Expand"})


@pytest.mark.parametrize("op,make,reason", [
    ("Sqrt", lambda: [helper.make_node("Sqrt", ["x"], ["y"])], "no int8 SQRT"),
    ("Pow", lambda: [helper.make_node("Pow", ["x", "three"], ["y"])], "exponent 3"),
    ("Reciprocal", lambda: [helper.make_node("Reciprocal", ["x"], ["y"])], "only of a square root"),
    ("Expand", lambda: [helper.make_node("Expand", ["x", "expand_shape"], ["y"])], "BROADCAST_TO"),
])
def test_forms_without_an_int8_lowering_are_refused(op, make, reason):
    model = _model(make(), {"three": 3.0, "expand_shape": [2, 8, 6, 10]})
    problem = node_problem(model.graph.node[0], GraphIndex(model.graph))
    assert problem is not None and reason in problem, problem


def _l2_normalize(axis, expand=True):
    """torch's F.normalize(x, dim=axis): Div(x, Expand(Clip(ReduceL2(x), min=1e-12), Shape(x)))."""
    nodes = [helper.make_node("ReduceL2", ["x"], ["norm"], axes=[axis], keepdims=1),
             helper.make_node("Clip", ["norm", "eps"], ["floor"])]
    if expand:
        nodes += [helper.make_node("Shape", ["x"], ["xs"]), helper.make_node("Expand", ["floor", "xs"], ["e"])]
    return _model(nodes + [helper.make_node("Div", ["x", "e" if expand else "floor"], ["y"])], {"eps": 1e-12})


@pytest.mark.parametrize("axis,expand", [(-1, True), (1, True), (2, False)])
def test_l2_normalize_becomes_an_inverse_square_root(axis, expand):
    """F.normalize: the pre-check takes its ReduceL2 and Div; the rewrite leaves MUL, a sum (then a MEAN),
    MAXIMUM and RSQRT (Pow -0.5), no ReduceL2 or Div."""
    model = _l2_normalize(axis, expand)
    graph = GraphIndex(model.graph)
    assert all(node_problem(node, graph) is None for node in model.graph.node if node.op_type != "Clip")
    _check(model, rewrites.l2_normalize_as_rsqrt, {"ReduceL2", "Div", "Clip"}, {"ReduceSum", "Max", "Pow", "Mul"})


def test_l2_norm_outside_a_normalisation_is_refused():
    """A ReduceL2 read by something else than the normalising Div (here the norm is the output) has no int8
    lowering; neither has a Div by a norm of another tensor."""
    model = _model([helper.make_node("ReduceL2", ["x"], ["y"], axes=[1], keepdims=1)], {})
    problem = node_problem(model.graph.node[0], GraphIndex(model.graph))
    assert problem is not None and "converts only as the norm of x / max(||x||, eps)" in problem, problem
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("ReduceL2", ["r"], ["norm"], axes=[1], keepdims=1),
             helper.make_node("Clip", ["norm", "eps"], ["floor"]),
             helper.make_node("Div", ["x", "floor"], ["y"])]
    model = _model(nodes, {"eps": 1e-12})
    graph = GraphIndex(model.graph)
    assert "division by a computed tensor" in node_problem(model.graph.node[3], graph)
    assert node_problem(model.graph.node[1], graph) is not None
