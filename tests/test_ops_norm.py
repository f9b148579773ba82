"""Bit-exactness of the normalisation ops (int8) against TFLM: RSQRT and SQUARED_DIFFERENCE, alone
and in the chain a LayerNorm becomes (MEAN, SQUARED_DIFFERENCE, MEAN, ADD, RSQRT, MUL, SUB, ...).

One-op models from the real TFLite converter; generated C built with AddressSanitizer + UBSan must
match TFLM's interpreter on 100 inputs (all -128 and all 127 among them); the RSQRT tests also run
every int8 input value; the LayerNorm chain also runs on the emulated Cortex-M7.
"""
import numpy as np
import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite


def _rsqrt(tf):
    @tf.function
    def model(x):
        return tf.math.rsqrt(x)
    return model


@pytest.mark.parametrize("value_range", [(0.05, 4.0), (1e-4, 0.02), (0.5, 300.0)])
def test_rsqrt_every_input(tmp_path, value_range):
    shape = (1, 16, 16)
    tflite = int8_tflite(_rsqrt, [shape], low=value_range[0], high=value_range[1])
    every = np.arange(-128, 128, dtype=np.int8).reshape((1,) + shape)
    assert_bit_exact(tflite, tmp_path, expect_ops=["RSQRT"], extra_inputs=every)


def _squared_difference(kind):
    def build(tf):
        @tf.function
        def model(x):
            if kind == "mean":        # LayerNorm's variance step: x against its mean, broadcast
                return tf.math.squared_difference(x, tf.reduce_mean(x, axis=-1, keepdims=True))
            if kind == "scaled":      # same shapes, different scales
                return tf.math.squared_difference(x, x * 3.0)
            return tf.math.squared_difference(tf.reduce_mean(x, axis=[1, 2], keepdims=True), x)
        return model
    return build


@pytest.mark.parametrize("kind,shape,value_range", [
    ("mean", (1, 5, 7, 13), (-3.0, 2.0)),
    ("mean", (1, 9, 24), (-0.5, 0.5)),
    ("scaled", (1, 4, 6, 5), (-1.0, 4.0)),
    ("spatial", (1, 6, 5, 3), (-2.0, 6.0)),
])
def test_squared_difference(tmp_path, kind, shape, value_range):
    tflite = int8_tflite(_squared_difference(kind), [shape], low=value_range[0], high=value_range[1])
    assert_bit_exact(tflite, tmp_path, expect_ops=["SQUARED_DIFFERENCE"])


def _layer_norm(axes):
    """The chain onnx2tf writes for LayerNormalization (Keras's own layer leaves a float NEG)."""
    def build(tf):
        rng = np.random.default_rng(1)
        gamma = tf.constant(rng.normal(size=12).astype(np.float32))
        beta = tf.constant(rng.normal(size=12).astype(np.float32))

        @tf.function
        def model(x):
            mean = tf.reduce_mean(x, axis=axes, keepdims=True)
            variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=axes, keepdims=True)
            return (x - mean) * tf.math.rsqrt(variance + 1e-5) * gamma + beta
        return model
    return build


@pytest.mark.parametrize("axes,value_range", [([-1], (-2.0, 2.0)), ([1, 2], (-1.0, 3.0)), ([1, 2, 3], (-0.2, 0.1))])
def test_layer_norm_chain(tmp_path, axes, value_range):
    tflite = int8_tflite(_layer_norm(axes), [(1, 6, 5, 12)], low=value_range[0], high=value_range[1])
    assert_bit_exact(tflite, tmp_path, expect_ops=["MEAN", "SQUARED_DIFFERENCE", "RSQRT"])


@pytest.mark.slow
def test_layer_norm_chain_on_cortex_m7(tmp_path):
    """The same chain built with arm-none-eabi-gcc and run on the emulated Cortex-M7 (QEMU), fast kernels
    where the ops have them (RSQRT's table as ta_lut_s8_fast)."""
    tflite = int8_tflite(_layer_norm([-1]), [(1, 6, 5, 12)], low=-2.0, high=2.0)
    assert_bit_exact_on_board(tflite, tmp_path, board="cortex-m7", kernels="fast", samples=4)
