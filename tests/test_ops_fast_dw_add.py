"""The fast DEPTHWISE_CONV_2D and ADD kernels against TFLM, path by path and tail by tail, on the host.

Depthwise 3x3 (stride 1 or 2) takes the paired-output path with an odd-width tail, tall narrow
maps seen transposed; other windows and strides the generic path. ADD takes the four-per-step same-shape loop (with its
scalar tail), with or without the rounding's sign correction and the activation clamp, and the
broadcast path.
"""
import pytest

from op_harness import assert_bit_exact, int8_tflite

DW_CASES = [
    # hwc, depth multiplier, kernel, stride, padding, activation
    ((1, 1, 1), 1, 3, 1, "same", None),        # 1x1 map, one channel: only padding around it
    ((3, 3, 3), 1, 3, 1, "same", None),        # 3x3 map, odd width: one pair + tail per row
    ((3, 3, 5), 1, 3, 2, "same", "relu"),      # 3x3 -> 2x2, stride 2, clamped range
    ((5, 7, 8), 1, 3, 1, "valid", None),       # valid padding, odd width 5
    ((6, 6, 64), 1, 3, 1, "same", "relu6"),    # VWW-like small map, many channels, relu6
    ((7, 9, 3), 2, 3, 2, "valid", None),       # depth multiplier 2, stride 2, odd widths
    ((8, 8, 1), 3, 3, 1, "same", None),        # depth multiplier 3, one input channel
    ((25, 5, 8), 1, 3, 1, "same", None),       # KWS-like: tall, odd width (seen transposed)
    ((13, 3, 4), 1, 3, 2, "same", None),       # tall, stride 2, transposed
    ((9, 4, 5), 2, 3, 1, "same", "relu6"),     # tall, depth multiplier 2, transposed
    ((12, 7, 3), 1, 3, (1, 3), "same", None),  # stride (1, 3): transposed it is stride (3, 1)
    ((12, 13, 5), 1, 3, 2, "valid", "relu"),   # stride 2, odd input width
    ((6, 5, 3), 1, 5, 1, "same", None),        # generic 5x5
    ((9, 8, 4), 1, (1, 3), 1, "same", None),   # generic 1x3
    ((10, 11, 5), 1, 3, 3, "same", None),      # 3x3 stride 3: generic path
    ((7, 7, 4), 2, 2, 2, "valid", "relu6"),    # generic 2x2 stride 2, multiplier 2
]


@pytest.mark.parametrize("hwc,multiplier,kernel,stride,padding,activation", DW_CASES)
def test_depthwise_fast_paths(tmp_path, hwc, multiplier, kernel, stride, padding, activation):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                                                    depth_multiplier=multiplier,
                                                                    activation=activation)])
    report = assert_bit_exact(int8_tflite(build, [(1, *hwc)], low=-2.0, high=2.0), tmp_path,
                              expect_ops=["DEPTHWISE_CONV_2D"], kernels="fast")
    assert report["scratch_bytes"] > 0, "the fast depthwise kernel should have been chosen"
    model_c = next(tmp_path.rglob("model.c")).read_text()
    if kernel == 3 and stride in (1, 2):
        assert ".taps3x3 = 1," in model_c
    elif kernel != 3:
        assert ".taps3x3 = 0," in model_c


ADD_CASES = [
    # shape (no batch), activation, input ranges (scale of input 2 relative to input 1)
    ((5, 7, 6), None, 1.0),          # 210 elements: four per step
    ((3, 5, 3), "relu", 3.0),        # 45: scalar tail of 1, clamped range
    ((1, 1, 1), None, 0.5),          # a single element: tail only
    ((2, 3, 1), "relu", 1.0),        # 6: one step + tail of 2
    ((4, 4, 16), None, 7.0),         # ResNet-like residual, very different scales
    ((1, 1, 3), "relu6", 2.0),       # tail of 3, relu6
]


@pytest.mark.parametrize("shape,activation,ratio", ADD_CASES)
def test_add_fast_same_shape(tmp_path, shape, activation, ratio):
    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        a = tf.keras.layers.Lambda(lambda t: t * ratio)(x)
        b = tf.keras.layers.Conv2D(shape[-1], 1)(x)
        y = tf.keras.layers.Add()([a, b])
        if activation == "relu":
            y = tf.keras.layers.ReLU()(y)
        elif activation == "relu6":
            y = tf.keras.layers.ReLU(6.0)(y)
        return tf.keras.Model(x, y)
    assert_bit_exact(int8_tflite(build, [(1, *shape)], low=-3.0, high=3.0), tmp_path, expect_ops=["ADD"],
                     kernels="fast")
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_add_s8_fast(" in model_c and ".broadcast = 0," in model_c


def test_add_fast_sign_fix_and_exact_fallback(tmp_path, monkeypatch):
    """Force the generation-time check both ways: the sign-corrected short form, then TFLM's
    long form (the check failing for every form)."""
    import numpy as np

    import tinyattend.codegen.ops.add as add_module

    def build(tf):
        x = tf.keras.Input((4, 5, 3), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Add()([x, tf.keras.layers.Conv2D(3, 1)(x)]))
    tflite = int8_tflite(build, [(1, 4, 5, 3)])
    real = add_module._fast_output
    monkeypatch.setattr(add_module, "_fast_output",
                        lambda sums2, *args: real(sums2, *args) + (0 if args[3] else np.int64(1 << 40)))
    assert_bit_exact(tflite, tmp_path / "fix", expect_ops=["ADD"], kernels="fast")
    assert ".sign_fix = 1," in next((tmp_path / "fix").rglob("model.c")).read_text()
    monkeypatch.setattr(add_module, "_fast_output", lambda sums2, *args: real(sums2, *args) + np.int64(1 << 40))
    assert_bit_exact(tflite, tmp_path / "exact", expect_ops=["ADD"], kernels="fast")
    assert ".fast_requant = 0," in next((tmp_path / "exact").rglob("model.c")).read_text()
