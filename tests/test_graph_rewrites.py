"""PAD folded into the convolution that reads it (codegen/graph_rewrites.py): exact, and one tensor fewer."""
import pytest

from op_harness import assert_bit_exact, int8_tflite


def _padded_model(tf, conv: str, pads, stride: int):
    L = tf.keras.layers
    x = tf.keras.Input((11, 10, 8), batch_size=1)
    y = L.Conv2D(8, 1, activation="relu")(x)                  # the PAD reads an intermediate tensor
    y = L.ZeroPadding2D(pads)(y)
    if conv == "depthwise":
        y = L.DepthwiseConv2D(3, strides=stride, padding="valid", activation="relu6")(y)
    else:
        y = L.Conv2D(6, 3, strides=stride, padding="valid")(y)
    return tf.keras.Model(x, L.Conv2D(4, 1)(y))


@pytest.mark.parametrize("conv", ["depthwise", "conv"])
@pytest.mark.parametrize("pads,stride", [(((0, 1), (0, 1)), 2), (((1, 2), (2, 1)), 1), (((2, 0), (1, 3)), 2)])
@pytest.mark.parametrize("kernels", ["portable", "fast"])
def test_pad_folds_into_convolution(tmp_path, conv, pads, stride, kernels):
    tflite = int8_tflite(lambda tf: _padded_model(tf, conv, pads, stride), [(1, 11, 10, 8)])
    report = assert_bit_exact(tflite, tmp_path, kernels=kernels, samples=30, expect_ops=["PAD"])
    assert "PAD" not in report["ops"] and report["folded_ops"] == 1
    assert [layer["index"] for layer in report["layers"]] == list(range(len(report["ops"])))
    assert "ta_pad_s8" not in (tmp_path / "model" / "model.c").read_text()


def test_pad_with_other_readers_stays(tmp_path):
    """A PAD whose output is also read elsewhere (here: a graph output path) is kept."""
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((8, 8, 4), batch_size=1)
        p = L.ZeroPadding2D(((0, 1), (0, 1)))(L.Conv2D(4, 1)(x))
        a = L.DepthwiseConv2D(3, strides=2, padding="valid")(p)
        b = L.MaxPooling2D(2, strides=2)(p)
        return tf.keras.Model(x, L.Add()([a, b]))
    report = assert_bit_exact(int8_tflite(build, [(1, 8, 8, 4)]), tmp_path, kernels="fast", samples=20)
    assert "PAD" in report["ops"] and report["folded_ops"] == 0
