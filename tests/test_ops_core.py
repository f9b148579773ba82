"""Bit-exactness of the core portable kernels against TFLM, shape by shape.

Each case is a one- or two-op int8 model made by the real TFLite converter;
the generated C is built with AddressSanitizer + UBSan and must match TFLM
on every one of 100 inputs.
"""
import pytest

from op_harness import assert_bit_exact, int8_tflite

CONV_CASES = [
    # (input HWC, filters, kernel, stride, padding, dilation)
    ((9, 11, 3), 5, 3, 1, "same", 1),
    ((9, 11, 3), 8, 3, 2, "same", 1),
    ((10, 10, 6), 7, 3, 2, "valid", 1),
    ((8, 7, 5), 4, 1, 1, "valid", 1),
    ((12, 12, 4), 6, 5, 1, "same", 1),
    ((11, 9, 3), 3, 3, 1, "same", 2),
    ((7, 13, 2), 9, (3, 1), 1, "valid", 1),
]


@pytest.mark.parametrize("hwc,filters,kernel,stride,padding,dilation", CONV_CASES)
def test_conv2d(tmp_path, hwc, filters, kernel, stride, padding, dilation):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                                           dilation_rate=dilation, activation="relu")])
    assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["CONV_2D"])


def test_conv2d_relu6_no_bias(tmp_path):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((8, 8, 3), batch_size=1),
                                    tf.keras.layers.Conv2D(4, 3, padding="same", use_bias=False),
                                    tf.keras.layers.ReLU(6.0)])
    assert_bit_exact(int8_tflite(build, [(1, 8, 8, 3)]), tmp_path, expect_ops=["CONV_2D"])


DW_CASES = [
    ((9, 11, 3), 1, 3, 1, "same"),
    ((9, 11, 5), 2, 3, 2, "same"),
    ((10, 10, 8), 1, 3, 2, "valid"),
    ((7, 6, 4), 2, 5, 1, "same"),
]


@pytest.mark.parametrize("hwc,multiplier,kernel,stride,padding", DW_CASES)
def test_depthwise_conv2d(tmp_path, hwc, multiplier, kernel, stride, padding):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                                                    depth_multiplier=multiplier, activation="relu6")])
    assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["DEPTHWISE_CONV_2D"])


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("features_in,features_out", [(17, 5), (64, 10)])
def test_fully_connected(tmp_path, per_channel, features_in, features_out):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((features_in,), batch_size=1),
                                    tf.keras.layers.Dense(features_out)])
    tflite = int8_tflite(build, [(1, features_in)], per_channel_dense=per_channel)
    assert_bit_exact(tflite, tmp_path, expect_ops=["FULLY_CONNECTED"])


@pytest.mark.parametrize("hwc,pool,stride,padding", [((9, 11, 3), 2, 2, "valid"), ((9, 11, 3), 3, 2, "same"),
                                                     ((8, 8, 5), 8, 8, "valid")])
def test_average_pool(tmp_path, hwc, pool, stride, padding):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.AveragePooling2D(pool, strides=stride, padding=padding)])
    assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["AVERAGE_POOL_2D"])


def test_residual_add_and_reshape(tmp_path):
    """Two branches from one input, added (same shape), then a reshape: like ResNet-8's blocks."""
    def build(tf):
        x = tf.keras.Input((8, 8, 4), batch_size=1)
        a = tf.keras.layers.Conv2D(4, 3, padding="same")(x)
        b = tf.keras.layers.Conv2D(4, 1)(x)
        y = tf.keras.layers.Add()([a, b])
        y = tf.keras.layers.ReLU()(y)
        return tf.keras.Model(x, tf.keras.layers.Reshape((256,))(y))
    assert_bit_exact(int8_tflite(build, [(1, 8, 8, 4)]), tmp_path, expect_ops=["ADD", "RESHAPE"])


@pytest.mark.parametrize("const_shape", [(1, 1, 1, 6), (1, 5, 1, 1), (1, 5, 7, 6)])
def test_add_broadcast_constant(tmp_path, const_shape):
    import numpy as np

    def build(tf):
        constant = tf.constant(np.random.default_rng(1).uniform(-2, 2, const_shape).astype("float32"))

        @tf.function
        def model(x):
            return tf.add(x, constant)
        return model
    assert_bit_exact(int8_tflite(build, [(1, 5, 7, 6)]), tmp_path, expect_ops=["ADD"])
