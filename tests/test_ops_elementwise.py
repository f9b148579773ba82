"""Bit-exactness of MUL and MAX_POOL_2D against TFLM, shape by shape.

Each case is a small int8 model made by the real TFLite converter; the
generated C is built with AddressSanitizer + UBSan and must match TFLM on
every one of 100 inputs.
"""
import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite


def test_mul_two_branches(tmp_path):
    """Same-shape MUL of two branches of one input (in place), with a fused ReLU after."""
    def build(tf):
        x = tf.keras.Input((7, 9, 5), batch_size=1)
        a = tf.keras.layers.Conv2D(5, 3, padding="same")(x)
        b = tf.keras.layers.Conv2D(5, 1, activation="relu6")(x)
        return tf.keras.Model(x, tf.keras.layers.ReLU()(tf.keras.layers.Multiply()([a, b])))
    assert_bit_exact(int8_tflite(build, [(1, 7, 9, 5)]), tmp_path, expect_ops=["MUL"])


def test_mul_self(tmp_path):
    """x * x: both operands the same tensor (the square's large products)."""
    def build(tf):
        @tf.function
        def model(x):
            return x * x
        return model
    assert_bit_exact(int8_tflite(build, [(1, 6, 5, 3)], low=-3.0, high=3.0), tmp_path, expect_ops=["MUL"])


@pytest.mark.parametrize("const_shape", [(1, 1, 1, 6), (1, 5, 1, 1), (), (1, 5, 7, 6)])
def test_mul_broadcast_constant(tmp_path, const_shape):
    def build(tf):
        value = np.random.default_rng(2).uniform(-2, 2, const_shape).astype("float32")
        if not const_shape:
            value = np.float32(-1.7)
        constant = tf.constant(value)

        @tf.function
        def model(x):
            return tf.multiply(x, constant)
        return model
    assert_bit_exact(int8_tflite(build, [(1, 5, 7, 6)]), tmp_path, expect_ops=["MUL"])


def test_mul_broadcast_rows_by_branch(tmp_path):
    """A [1,H,1,1] activation times a [1,H,W,C] one: the broadcast operand is not constant."""
    def build(tf):
        x = tf.keras.Input((6, 5, 3), batch_size=1)
        gate = tf.keras.layers.AveragePooling2D((1, 5))(x)
        gate = tf.keras.layers.Conv2D(1, 1)(gate)
        return tf.keras.Model(x, tf.keras.layers.Lambda(lambda ts: ts[0] * ts[1])([gate, x]))
    tflite = int8_tflite(build, [(1, 6, 5, 3)])
    assert_bit_exact(tflite, tmp_path, expect_ops=["MUL"])


@pytest.mark.parametrize("hwc,pool,stride,padding", [
    ((9, 11, 5), 3, 2, "same"),
    ((8, 7, 6), 3, 1, "same"),
    ((10, 9, 4), (2, 3), (1, 2), "valid"),
])
def test_max_pool(tmp_path, hwc, pool, stride, padding):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.MaxPooling2D(pool, strides=stride, padding=padding)])
    assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["MAX_POOL_2D"])


def test_max_pool_fused_relu6(tmp_path):
    """Conv, max pool and ReLU6: the converter may fuse the clamp into the pool."""
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((9, 9, 3), batch_size=1),
                                    tf.keras.layers.Conv2D(5, 3, padding="same"),
                                    tf.keras.layers.MaxPooling2D(3, strides=2, padding="same"),
                                    tf.keras.layers.ReLU(6.0)])
    assert_bit_exact(int8_tflite(build, [(1, 9, 9, 3)], low=-4.0, high=4.0), tmp_path, expect_ops=["MAX_POOL_2D"])
