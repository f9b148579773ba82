"""The ONNX rank rewrites (tinyattend/convert/onnx_rank_rewrites.py): rank-5/6 Transpose, Split, Slice, Gather
and Concat on rank <= 4 views. Each keeps the model's function exactly (ONNX Runtime: these are pure data
moves) and leaves no tensor above rank 4."""
from __future__ import annotations

import itertools

import numpy as np
import onnx.helper as helper
import pytest
from onnx import TensorProto, numpy_helper

from model_factory import rewrite_keeps_function
from tinyattend.convert.onnx_norm_rewrites import _ranks
from tinyattend.convert.onnx_rank_rewrites import lower_ranks, merged_permute, transpose_steps


def _apply(x, steps):
    for view, order in steps:
        x = np.transpose(x.reshape(view), order)
    return x


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 6), (1, 4, 3, 2, 5, 2), (2, 3, 1, 2, 3, 2)])
def test_every_permutation_is_rank_4_steps(shape):
    """All 120 rank-5 and 720 rank-6 permutations: each step has rank <= 4, at most rank - 1 steps, and the
    steps move every element where np.transpose does."""
    x = np.arange(int(np.prod(shape))).reshape(shape)
    for perm in itertools.permutations(range(len(shape))):
        steps = transpose_steps(shape, list(perm))
        assert all(len(view) <= 4 and sorted(order) == list(range(len(view))) for view, order in steps), (perm, steps)
        assert len(steps) <= len(shape) - 1, (perm, steps)
        np.testing.assert_array_equal(_apply(x, steps).reshape(-1), np.transpose(x, perm).reshape(-1), str(perm))


def test_adjacent_axes_merge():
    """MobileViTv2's unfold (0, 1, 3, 5, 2, 4) of [1, 64, 6, 2, 6, 2]: the batch and channel axes stay together."""
    assert merged_permute((1, 64, 6, 2, 6, 2), (0, 1, 2, 4, 3, 5)) == ((384, 2, 6, 2), (0, 2, 1, 3))
    assert merged_permute((1, 1, 1), (2, 0, 1)) == ((1,), (0,))
    assert len(transpose_steps((1, 64, 6, 2, 6, 2), [0, 1, 3, 5, 2, 4])) == 2


def _model(nodes, shape, initializers, opset=17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _check(model, shape):
    rewritten = rewrite_keeps_function(model, lower_ranks, shape)
    ranks = {name: len(s) for name, s in _ranks(rewritten).items() if s is not None}
    assert max(ranks.values()) <= 4, {k: v for k, v in ranks.items() if v > 4}
    return rewritten


def test_qkv_split_after_a_rank_5_permute():
    """timm's attention: reshape(B, N, 3, heads, d).permute(2, 0, 3, 1, 4), unbind(0) (Split + Squeeze),
    q @ k^T; with Slice and Gather as other exporters write the unbind."""
    shape = (4, 6, 24)
    nodes = [helper.make_node("Reshape", ["x", "qkv_shape"], ["qkv"]),
             helper.make_node("Transpose", ["qkv"], ["t"], perm=[2, 0, 3, 1, 4]),
             helper.make_node("Split", ["t", "three"], ["q5", "k5", "v5"], axis=0),
             helper.make_node("Squeeze", ["q5", "zero"], ["q"]),
             helper.make_node("Squeeze", ["k5", "zero"], ["k"]),
             helper.make_node("Gather", ["t", "two"], ["v"], axis=0),
             helper.make_node("Slice", ["t", "one", "two_1", "zero"], ["k_slice5"]),
             helper.make_node("Reshape", ["k_slice5", "head_shape"], ["k_slice"]),
             helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q", "kt"], ["a"]),
             helper.make_node("MatMul", ["a", "v"], ["av"]),
             helper.make_node("Add", ["av", "k_slice"], ["y"])]
    model = _model(nodes, shape, {"qkv_shape": np.array([4, 6, 3, 2, 4], np.int64),
                                  "three": np.array([1, 1, 1], np.int64), "zero": np.array([0], np.int64),
                                  "one": np.array([1], np.int64), "two_1": np.array([2], np.int64),
                                  "two": np.array(2, np.int64), "head_shape": np.array([4, 2, 6, 4], np.int64)})
    _check(model, shape)


def test_unfold_and_fold_around_a_rank_6_permute():
    """MobileViTv2: [B, C, H, W] -> [B, C, nh, ph, nw, pw] -> permute(0, 1, 3, 5, 2, 4) -> [B, C, P, N], and back;
    a Concat along a rank-5 axis too."""
    shape = (1, 5, 6, 4)
    nodes = [helper.make_node("Reshape", ["x", "split"], ["s"]),
             helper.make_node("Transpose", ["s"], ["t"], perm=[0, 1, 3, 5, 2, 4]),
             helper.make_node("Reshape", ["t", "patches"], ["p"]),
             helper.make_node("Relu", ["p"], ["r"]),
             helper.make_node("Reshape", ["r", "back"], ["b"]),
             helper.make_node("Transpose", ["b"], ["u"], perm=[0, 1, 4, 2, 5, 3]),
             helper.make_node("Reshape", ["u", "five"], ["f"]),
             helper.make_node("Concat", ["f", "f"], ["c"], axis=3),
             helper.make_node("Reshape", ["c", "out"], ["y"])]
    model = _model(nodes, shape, {"split": np.array([1, 5, 3, 2, 2, 2], np.int64),
                                  "patches": np.array([1, 5, 4, 6], np.int64),
                                  "back": np.array([1, 5, 2, 2, 3, 2], np.int64),
                                  "five": np.array([1, 5, 3, 2, 4], np.int64),
                                  "out": np.array([1, 5, 12, 4], np.int64)})
    rewritten = _check(model, shape)
    assert [n.op_type for n in rewritten.graph.node].count("Transpose") == 4


def test_qkv_unbind_splits_before_the_permute():
    """The unbind alone (Split on axis 0, Squeeze): split first along the permute's source axis, then one rank-4
    permute per part (each part has a size-1 axis), instead of two steps over the whole rank-5 tensor."""
    shape = (4, 6, 24)
    nodes = [helper.make_node("Reshape", ["x", "qkv_shape"], ["qkv"]),
             helper.make_node("Transpose", ["qkv"], ["t"], perm=[2, 0, 3, 1, 4]),
             helper.make_node("Split", ["t", "three"], ["q5", "k5", "v5"], axis=0),
             *[helper.make_node("Squeeze", [f"{n}5", "zero"], [n]) for n in "qkv"],
             helper.make_node("Concat", ["q", "k", "v"], ["y"], axis=3)]
    model = _model(nodes, shape, {"qkv_shape": np.array([4, 6, 3, 2, 4], np.int64),
                                  "three": np.array([1, 1, 1], np.int64), "zero": np.array([0], np.int64)})
    rewritten = _check(model, shape)
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops.count("Transpose") == 3 and ops.count("Split") == 1, ops


def test_split_sizes_as_an_attribute_are_kept():
    """Opset 11 writes Split's sizes as an attribute: unequal parts (1, 2) of a rank-5 permute keep them."""
    shape = (4, 6, 24)
    nodes = [helper.make_node("Reshape", ["x", "qkv_shape"], ["qkv"]),
             helper.make_node("Transpose", ["qkv"], ["t"], perm=[2, 0, 3, 1, 4]),
             helper.make_node("Split", ["t"], ["q5", "kv5"], axis=0, split=[1, 2]),
             helper.make_node("Reshape", ["kv5", "kv_shape"], ["kv"]),
             helper.make_node("Reshape", ["q5", "kv_shape_half"], ["q"]),
             helper.make_node("Concat", ["q", "kv"], ["y"], axis=0)]
    model = _model(nodes, shape, {"qkv_shape": np.array([4, 6, 3, 2, 4], np.int64),
                                  "kv_shape": np.array([32, 12], np.int64),
                                  "kv_shape_half": np.array([16, 12], np.int64)}, opset=11)
    _check(model, shape)
