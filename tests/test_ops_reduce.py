"""Bit-exactness of MEAN and REDUCE_MAX (int8) against TFLM.

One-op models from the real TFLite converter; generated C built with
AddressSanitizer + UBSan must match TFLM on 100 inputs, all -128 and all 127
among them. Shapes have odd sizes and channel counts that are not multiples
of 4; calibration ranges differ so that the input and output scales differ.
"""
import pytest

from op_harness import assert_bit_exact, int8_tflite


def _reduce(kind, axes, keepdims):
    def build(tf):
        function = tf.reduce_mean if kind == "MEAN" else tf.reduce_max

        @tf.function
        def model(x):
            return function(x, axis=axes, keepdims=keepdims)
        return model
    return build


MEAN_CASES = [
    # (input shape, axes, keep_dims, calibration range)
    ((1, 5, 7, 3), [1, 2], False, (-4.0, 4.0)),
    ((1, 5, 7, 3), [1, 2], True, (-1.0, 3.0)),
    ((1, 8, 8, 13), [1, 2], True, (-0.5, 0.25)),
    ((1, 3, 11, 6), [2, 1], False, (-6.0, 2.0)),
    ((1, 9, 10), [1], False, (-2.0, 2.0)),            # mean over tokens
    ((1, 4, 17), [-1], True, (-3.0, 5.0)),            # last axis
    ((1, 3, 3, 5), [1, 2], False, (-1.0, 1.0)),       # small counts, where TFLM's folded 1/count
    ((1, 3, 7), [1], True, (-2.0, 1.0)),              # multiplier differs most from the exact one
]


@pytest.mark.parametrize("shape,axes,keepdims,value_range", MEAN_CASES)
def test_mean(tmp_path, shape, axes, keepdims, value_range):
    tflite = int8_tflite(_reduce("MEAN", axes, keepdims), [shape], low=value_range[0], high=value_range[1])
    assert_bit_exact(tflite, tmp_path, expect_ops=["MEAN"])


@pytest.mark.parametrize("shape,axes,keepdims", [((1, 5, 7, 3), [1, 2], False), ((1, 6, 5, 9), [1, 2], True)])
def test_reduce_max(tmp_path, shape, axes, keepdims):
    tflite = int8_tflite(_reduce("MAX", axes, keepdims), [shape], low=-2.0, high=3.0)
    assert_bit_exact(tflite, tmp_path, expect_ops=["REDUCE_MAX"])
