"""The fast DEPTHWISE_CONV_2D and ADD kernels against TFLM, path by path and tail by tail, on the host.

Depthwise 3x3 (stride 1 or 2) takes the paired-output path with an odd-width tail, tall narrow
maps seen transposed; other windows and strides the generic path. ADD takes the four-per-step same-shape loop (with its
scalar tail), with or without the rounding's sign correction and the activation clamp, and the
broadcast path.
"""
import shutil

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
    # four channels widened together (input channels a multiple of 4): every fill tail
    ((4, 4, 12), 1, 3, 1, "same", "relu"),     # 4 columns: four-pixel steps only
    ((5, 9, 4), 2, 3, 2, "same", None),        # 9 columns: steps + single, multiplier 2
    ((6, 6, 8), 1, 3, 2, "valid", None),       # 6 columns: step + pair
    ((3, 7, 4), 1, 5, 1, "same", None),        # 7 columns: step + pair + single, generic window
    ((21, 3, 8), 1, 3, 1, "same", None),       # transposed, 21 columns in the plane
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


# The full-range 3x3 assembly and the four-channel fill in assembly run only on the DSP cores:
# every output tail (quads, pair, single) at both strides, fill tails, transposed, multiplier 2.
# Row programs: any width (7, 2), steps only (8, 4), steps + single (5, 25), one step + pair (6),
# pair + single (3).
BOARD_DW_CASES = [
    # hwc, depth multiplier, stride, padding
    ((7, 7, 8), 1, 1, "same"),      # 7 outputs: any (quad + pair + single); fill step + pair + single
    ((9, 10, 4), 1, 2, "same"),     # 5 outputs at stride 2: steps + single; 10 columns
    ((6, 6, 12), 1, 2, "valid"),    # 2 outputs: any (pair only) at stride 2
    ((25, 5, 8), 1, 1, "same"),     # tall narrow: transposed, 25 outputs a row: steps + single
    ((5, 6, 4), 2, 1, "same"),      # multiplier 2 from four-channel planes; 6 outputs: step + pair
    ((4, 5, 3), 1, 1, "same"),      # 3 channels: one plane at a time; 5 outputs
    ((8, 8, 8), 1, 1, "same"),      # 8 outputs: steps only
    ((8, 8, 8), 1, 2, "same"),      # 4 outputs at stride 2: steps only
    ((3, 3, 16), 1, 1, "same"),     # 3 outputs: pair + single
    ((6, 6, 4), 1, 2, "same"),      # 3 outputs at stride 2: pair + single
    ((12, 12, 8), 1, 2, "same"),    # 6 outputs at stride 2: step + pair
    ((4, 3, 8), 2, 2, "valid"),     # multiplier 2, 1 output a row: any (single only)
]


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
                         and shutil.which("make")), reason="arm-none-eabi-gcc, make and qemu-system-arm are needed")
@pytest.mark.parametrize("hwc,multiplier,stride,padding", BOARD_DW_CASES)
def test_depthwise_fast_assembly_on_cortex_m7(tmp_path, monkeypatch, hwc, multiplier, stride, padding):
    from op_harness import assert_bit_exact_on_board
    from tinyattend.codegen.fusion.policy import FORCE_VARIABLE
    # the layer whole, as the case says: at the peak of these one-layer models the fusion policy may give it
    # one plane or bands instead (tests/test_fused_expand_dw.py covers those)
    monkeypatch.setenv(FORCE_VARIABLE, "off")

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(3, strides=stride, padding=padding,
                                                                    depth_multiplier=multiplier)])
    assert_bit_exact_on_board(int8_tflite(build, [(1, *hwc)], low=-2.0, high=2.0), tmp_path, board="cortex-m7",
                              kernels="fast", samples=6)
    model_c = (tmp_path / "model.c").read_text() if (tmp_path / "model.c").exists() \
        else next(tmp_path.rglob("model.c")).read_text()
    assert ".full_range = 1," in model_c and ".taps3x3 = 1," in model_c
    assert f".fill_group = {4 if hwc[2] % 4 == 0 else 1}," in model_c


# Windows other than 3x3 at stride_w 1 or 2 take the tap-pair path (one SMLAD per pair of taps,
# four outputs per step, single outputs for the rest): several layers per model, so one build
# covers strides, paddings (a PAD folded into a VALID layer), depth multipliers, channel counts
# (one plane at a time, or four), tiny maps, both activation ranges and the pair loop (7x7, 1x4).
def _pair_chain(hwc, layers):
    def build(tf):
        model = tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1)])
        for kind, args in layers:
            if kind == "pad":
                model.add(tf.keras.layers.ZeroPadding2D(args))
            else:
                kernel, stride, padding, multiplier, activation = args
                model.add(tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                                          depth_multiplier=multiplier, activation=activation))
        return model
    return build


PAIR_CHAINS = [
    ((9, 11, 5), [("dw", (5, 1, "same", 1, None)),        # 11 columns: two quads and three singles, 5 channels
                  ("dw", (5, 2, "valid", 2, None)),       # stride 2, multiplier 2 -> 3x4x10
                  ("pad", 2),                             # folded: EXPLICIT padding
                  ("dw", (5, 2, "valid", 1, "relu6")),    # -> 2x2x10, clamped range
                  ("dw", (5, 1, "same", 1, None)),        # 2x2 map
                  ("dw", ((1, 4), 1, "same", 1, None))]), # 1x4: the pair loop, two words a row
    ((4, 4, 8), [("dw", (5, 1, "same", 1, "relu")),       # 4x4, four channels a fill, one quad a row
                 ("dw", (5, 2, "same", 1, None)),         # -> 2x2
                 ("dw", (7, 1, "same", 1, None)),         # 7x7 on 2x2: four words a row, the pair loop
                 ("dw", (2, 2, "valid", 1, None)),        # -> 1x1
                 ("dw", (5, 1, "same", 1, None))]),       # 1x1 map
]


@pytest.mark.parametrize("hwc,layers", PAIR_CHAINS)
def test_depthwise_fast_tap_pairs(tmp_path, hwc, layers):
    tflite = int8_tflite(_pair_chain(hwc, layers), [(1, *hwc)], low=-2.0, high=2.0)
    report = assert_bit_exact(tflite, tmp_path, expect_ops=["DEPTHWISE_CONV_2D"], kernels="fast")
    assert report["scratch_bytes"] > 0
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_depthwise_conv2d_s8(" not in model_c, "every layer should take the fast kernel"
    assert "ta_pad" not in model_c.lower(), "the PAD should have been folded into the depthwise layer"
    assert ".pair_words = 3," in model_c


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
                         and shutil.which("make")), reason="arm-none-eabi-gcc, make and qemu-system-arm are needed")
def test_depthwise_fast_tap_pairs_on_cortex_m7(tmp_path):
    """The first chain, with the real SMLAD and unaligned word loads."""
    from op_harness import assert_bit_exact_on_board

    hwc, layers = PAIR_CHAINS[0]
    tflite = int8_tflite(_pair_chain(hwc, layers), [(1, *hwc)], low=-2.0, high=2.0)
    assert_bit_exact_on_board(tflite, tmp_path, board="cortex-m7", kernels="fast", samples=4)
