"""The fast kernel set on the emulated cores, with the real DSP instructions.

tests/test_ops_fast*.py check every kernel path shape by shape on the host, where
ta_dsp.h's operations are plain C. Here small models that chain those paths
(odd channel counts, K not a multiple of 4, stride 2, dilation, depth
multipliers, residual ADD, FC tails) are built with arm-none-eabi-gcc and run on
QEMU, so the intrinsics and inline assembly are checked against TFLM too.
"""
import shutil

import pytest

from op_harness import assert_bit_exact_on_board, int8_tflite

pytestmark = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm") and shutil.which("make")),
    reason="arm-none-eabi-gcc, make and qemu-system-arm are needed (make setup installs them)")


def _odd_shapes(tf):
    """Generic im2col (3 channels), odd channels, pointwise, stride 2, depthwise with multiplier, FC tails."""
    L = tf.keras.layers
    x = tf.keras.Input((11, 9, 3), batch_size=1)
    y = L.Conv2D(5, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 1, activation="relu")(y)
    y = L.Conv2D(7, 3, strides=2, padding="same")(y)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="valid", depth_multiplier=2)(y)
    y = L.Flatten()(y)
    y = L.Dense(13, activation="relu")(y)
    y = L.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) * (1.0 / 6.0))(y)     # HARD_SWISH: 13 lookups, a tail of 1
    return tf.keras.Model(x, L.Dense(5)(y))


def _residual(tf):
    """ResNet-like: 3x3 16->16 pair with a residual ADD, 1x1 stride-2 shortcut, dilation, 5x5 depthwise,
    max and average pooling."""
    L = tf.keras.layers
    x = tf.keras.Input((12, 12, 16), batch_size=1)
    a = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    a = L.Conv2D(16, 3, padding="same")(a)
    y = L.ReLU()(L.Add()([a, x]))
    b = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(y)
    s = L.Conv2D(32, 1, strides=2)(y)
    y = L.ReLU()(L.Add()([b, s]))
    y = L.Conv2D(9, 3, dilation_rate=2, padding="same")(y)
    y = L.DepthwiseConv2D(5, padding="same")(y)
    y = L.MaxPooling2D(2, strides=1, padding="same")(y)       # 9 channels: two SIMD words and a tail
    y = L.AveragePooling2D(3, strides=2, padding="same")(y)   # edge windows of 4 and 6 taps, a word and a tail
    y = L.GlobalAveragePooling2D()(y)
    return tf.keras.Model(x, L.Dense(3)(y))


def _mobilenet(tf):
    """VWW/KWS-like: small-K first layers (1 and 3 channels), depthwise-separable blocks down to 3x3 maps,
    a sigmoid gate (MUL)."""
    L = tf.keras.layers
    x = tf.keras.Input((20, 12, 1), batch_size=1)
    y = L.Conv2D(24, (10, 4), strides=2, padding="same", activation="relu")(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu")(y)
    y = L.Conv2D(24, 1, activation="relu")(y)
    y = L.Conv2D(3, 1)(y)
    y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(y)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6")(y)
    y = L.Conv2D(64, 1, activation="relu6")(y)
    y = L.Multiply()([y, L.Conv2D(64, 1, activation="sigmoid")(y)])      # attention-condenser style gating
    y = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(y)
    y = L.Conv2D(128, 1, activation="relu6")(y)
    y = L.AveragePooling2D(2, strides=1, padding="same")(y)   # 128 channels, 16 per pass; windows of 4, 2, 1
    y = L.GlobalAveragePooling2D()(y)
    return tf.keras.Model(x, L.Dense(4)(y))


def _autoencoder(tf):
    """AD-like dense stack: inputs staged in assembly (24 -> 64 whole steps, 64 -> 64, 13 -> 40 with an input
    tail) and read in place (64 -> 13)."""
    L = tf.keras.layers
    x = tf.keras.Input((24,), batch_size=1)
    y = L.Dense(64, activation="relu")(x)
    y = L.Dense(64, activation="relu")(y)
    y = L.Dense(13, activation="relu")(y)
    return tf.keras.Model(x, L.Dense(40)(y))


MODELS = {"odd_shapes": (_odd_shapes, (1, 11, 9, 3)), "residual": (_residual, (1, 12, 12, 16)),
          "mobilenet": (_mobilenet, (1, 20, 12, 1)), "autoencoder": (_autoencoder, (1, 24))}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("board,optimize", [("cortex-m7", "balanced"), ("cortex-m7", "size"),
                                            ("cortex-m55", "balanced")])
def test_fast_kernels_bit_exact_on_emulated_core(tmp_path, name, board, optimize):
    """--kernels fast: `balanced` widens these small models' conv weights to int16 (within its budget),
    `size` keeps them int8, so both forms of the conv tile run on the core."""
    build, shape = MODELS[name]
    # The autoencoder's weights per tensor, as AD's: its staged layers then share one set of constants (the
    # unactivated last one takes the kernel's whole-pass function).
    tflite = int8_tflite(build, [shape], per_channel_dense=name != "autoencoder")
    report = assert_bit_exact_on_board(tflite, tmp_path, board=board, kernels="fast", samples=5, optimize=optimize)
    assert bool(report["wide_weight_ops"]) == (optimize == "balanced" and name != "autoencoder")
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert "_s8_fast(" in model_c, "the fast kernels should have been generated"
    if name == "mobilenet":
        assert "ta_mul_s8_fast_shift" in model_c
    if name == "odd_shapes":
        # the 3x3 assembly without the requantization's sign correction (ReLU6 whose range is all of int8: output
        # zero point -128) and with it (no activation)
        assert ".sign_free = 1," in model_c and ".sign_free = 0," in model_c
    if name == "residual":
        assert "ta_max_pool_s8_fast(" in model_c
    if name in ("residual", "mobilenet"):
        assert "ta_avg_pool_s8_fast(" in model_c
    if name == "odd_shapes":
        assert "ta_lut_s8_fast(" in model_c
    if name == "autoencoder":
        staged = model_c.count("ta_fully_connected_s8_fast(") - model_c.count(", NULL);")
        assert staged == (3 if optimize != "size" else 0), "inputs staged where it pays, not with --optimize size"
    assert report["board"] == board


@pytest.mark.parametrize("board,name,dsp", [("cortex-m33", "mobilenet", True), ("cortex-m3", "odd_shapes", False)])
def test_fast_kernels_bit_exact_on_m33_and_m3(tmp_path, board, name, dsp):
    """The M33 (QEMU mps2-an505, Armv8-M with the DSP extension) runs the fast kernels' SMLAD/SXTB16; the
    M3 (mps2-an385, no DSP) runs the same kernels with ta_dsp.h's plain-C operations. Both bit-exact."""
    import subprocess
    build, shape = MODELS[name]
    assert_bit_exact_on_board(int8_tflite(build, [shape]), tmp_path, board=board, kernels="fast", samples=3)
    elf = next((tmp_path / "firmware").glob("build/firmware.elf"), None) or next(tmp_path.glob("firmware*/build/firmware.elf"))
    code = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True, check=True).stdout
    assert ("smlad" in code and "sxtb16" in code) == dsp
