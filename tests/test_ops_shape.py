"""Bit-exactness of the resize and data-movement ops against TFLM.

RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, PAD/PADV2, CONCATENATION,
STRIDED_SLICE, SPLIT/SPLIT_V, TRANSPOSE and DEPTH_TO_SPACE: each case is a small int8 model
made by the real TFLite converter; the generated C is built with
AddressSanitizer + UBSan and must match TFLM on every one of 100 inputs.
"""
import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite


def _function_model(fn):
    def build(tf):
        @tf.function
        def model(x):
            return fn(tf, x)
        return model
    return build


# (input HWC, output HW, align_corners, half_pixel_centers)
NEAREST_CASES = [
    ((5, 7, 3), (10, 14), False, False),
    ((5, 7, 3), (11, 9), False, True),
    ((6, 5, 2), (13, 7), True, False),
]


@pytest.mark.parametrize("hwc,size,align,half", NEAREST_CASES)
def test_resize_nearest(tmp_path, hwc, size, align, half):
    def fn(tf, x):
        return tf.compat.v1.image.resize_nearest_neighbor(x, size, align_corners=align, half_pixel_centers=half)
    tflite = int8_tflite(_function_model(fn), [(1, *hwc)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["RESIZE_NEAREST_NEIGHBOR"])


BILINEAR_CASES = [
    ((5, 7, 3), (10, 14), False, False),
    ((5, 7, 3), (11, 9), False, True),
    ((6, 5, 2), (13, 7), True, False),
    ((9, 8, 5), (4, 3), False, True),
]


@pytest.mark.parametrize("hwc,size,align,half", BILINEAR_CASES)
def test_resize_bilinear(tmp_path, hwc, size, align, half):
    def fn(tf, x):
        return tf.compat.v1.image.resize_bilinear(x, size, align_corners=align, half_pixel_centers=half)
    tflite = int8_tflite(_function_model(fn), [(1, *hwc)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["RESIZE_BILINEAR"])


@pytest.mark.parametrize("paddings,value", [
    ([[0, 0], [1, 2], [2, 1], [0, 0]], None),
    ([[0, 0], [0, 3], [0, 0], [1, 2]], None),
    ([[0, 0], [2, 0], [1, 1], [0, 0]], 0.5),
])
def test_pad(tmp_path, paddings, value):
    def fn(tf, x):
        if value is None:
            return tf.pad(x, paddings)
        return tf.pad(x, paddings, constant_values=value)
    tflite = int8_tflite(_function_model(fn), [(1, 5, 7, 3)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["PAD" if value is None else "PADV2"])


@pytest.mark.parametrize("axis", [-1, 1])
def test_concatenation_of_branches(tmp_path, axis):
    """Two convolution branches of one input, concatenated: the converter gives them the output's range."""
    def build(tf):
        x = tf.keras.Input((6, 7, 3), batch_size=1)
        a = tf.keras.layers.Conv2D(3 if axis != -1 else 5, 3, padding="same")(x)
        b = tf.keras.layers.Conv2D(3, 1)(x)
        return tf.keras.Model(x, tf.keras.layers.Concatenate(axis=axis)([a, b]))
    assert_bit_exact(int8_tflite(build, [(1, 6, 7, 3)]), tmp_path, expect_ops=["CONCATENATION"])


def test_concatenation_rejects_mixed_quantization():
    """TFLM's int8 CONCATENATION refuses inputs quantized differently from the output; so do we."""
    from types import MappingProxyType

    from tinyattend.codegen.ops import concatenation
    from tinyattend.ir.graph import Graph, Op, QuantParams, Tensor

    tensors = (Tensor(0, "a", (1, 2, 2, 3), "int8", QuantParams((0.1,), (0,))),
               Tensor(1, "b", (1, 2, 2, 3), "int8", QuantParams((0.2,), (3,))),
               Tensor(2, "y", (1, 2, 2, 6), "int8", QuantParams((0.1,), (0,))))
    op = Op(0, "CONCATENATION", (0, 1), (2,), MappingProxyType({"axis": 3, "fused_activation_function": "NONE"}))
    graph = Graph("g", tensors, (op,), (0,), (2,))
    reasons = concatenation.check(op, graph, None)
    assert len(reasons) == 1 and "input 1" in reasons[0] and "TFLM" in reasons[0]
    same = Graph("g", tensors[:1] + (tensors[0].__class__(1, "b", (1, 2, 2, 3), "int8", QuantParams((0.1,), (0,))),) + tensors[2:],
                 (op,), (0,), (2,))
    assert concatenation.check(op, same, None) == []


@pytest.mark.parametrize("slicer", [
    lambda x: x[:, 1:6:2, ::2, :],
    lambda x: x[:, 2, 1:-1, 1:4],
    lambda x: x[:, ::-2, 3:0:-1, :],
])
def test_strided_slice(tmp_path, slicer):
    tflite = int8_tflite(_function_model(lambda tf, x: slicer(x)), [(1, 7, 8, 5)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["STRIDED_SLICE"])


def test_split_then_add(tmp_path):
    """SPLIT along channels into two halves, both consumed by an ADD."""
    def fn(tf, x):
        a, b = tf.split(x, 2, axis=-1)
        return a + b
    tflite = int8_tflite(_function_model(fn), [(1, 5, 7, 6)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["SPLIT", "ADD"])


def test_split_v_then_concat_swapped(tmp_path):
    """SPLIT_V along H into unequal parts, concatenated back in the other order."""
    def fn(tf, x):
        a, b, c = tf.split(x, [2, 4, 1], axis=1)
        return tf.concat([c, a, b], axis=1)
    tflite = int8_tflite(_function_model(fn), [(1, 7, 5, 3)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["SPLIT_V", "CONCATENATION"])


@pytest.mark.parametrize("shape,perm", [
    ((1, 5, 7, 3), (0, 2, 1, 3)),
    ((1, 5, 7, 3), (0, 3, 1, 2)),
    ((1, 6, 9), (0, 2, 1)),
])
def test_transpose(tmp_path, shape, perm):
    tflite = int8_tflite(_function_model(lambda tf, x: tf.transpose(x, perm)), [shape])
    assert_bit_exact(tflite, tmp_path, expect_ops=["TRANSPOSE"])


@pytest.mark.parametrize("shape,block", [((1, 3, 4, 8), 2), ((2, 2, 3, 18), 3)])
def test_depth_to_space(tmp_path, shape, block):
    tflite = int8_tflite(_function_model(lambda tf, x: tf.nn.depth_to_space(x, block)), [shape])
    report = assert_bit_exact(tflite, tmp_path, expect_ops=["DEPTH_TO_SPACE"])
    assert report["ops"] == ["DEPTH_TO_SPACE"]


@pytest.mark.parametrize("indices,axis", [([2, 0, 0, 1, 4], -1), ([[3, 1], [0, 2]], 1)])
def test_gather_constant_indices(tmp_path, indices, axis):
    def fn(tf, x):
        return tf.gather(x, tf.constant(indices, dtype=tf.int32), axis=axis)
    tflite = int8_tflite(_function_model(fn), [(1, 4, 6, 5)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["GATHER"])
