"""The Helium (MVE) kernel set (templates/kernels/mve/) against TFLM, shape by shape.

Each model chains many layer shapes (odd channel counts that take the tail-predicated paths,
K not a multiple of 16, strides, dilation, same and valid padding, depth multipliers, FC
tails), per-channel and per-tensor quantized. On the emulated Cortex-M55 (QEMU mps3-an547)
the kernels run as MVE intrinsics; on the host as the plain C beside them, on the same
generation-time constants. Both must equal TFLM bit for bit.
"""
import shutil

import numpy as np
import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite, with_output_quantization

on_qemu = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm") and shutil.which("make")),
    reason="arm-none-eabi-gcc, make and qemu-system-arm are needed (make setup installs them)")

MVE_FUNCTIONS = ("ta_conv2d_s8_mve(", "ta_depthwise_conv2d_s8_mve(", "ta_fully_connected_s8_mve(")


def _convs(tf):
    """K = 27 (3 channels), im2col of 5 channels, 1x1 on whole vectors read in place, odd channel counts,
    stride 2, dilation, a rectangular valid window after an asymmetric PAD, an odd pixel count, FC tails
    (K 54, 13 outputs)."""
    L = tf.keras.layers
    x = tf.keras.Input((11, 9, 3), batch_size=1)
    y = L.Conv2D(5, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(16, 1, activation="relu")(y)
    y = L.Conv2D(32, 1)(y)                                           # in place: 16 channels, 1x1
    y = L.Conv2D(7, 3, strides=2, padding="same", activation="relu6")(y)
    y = L.Conv2D(9, 3, dilation_rate=2, padding="same")(y)
    y = L.ZeroPadding2D(((0, 1), (1, 0)))(y)                         # a PAD folded into the next conv
    y = L.Conv2D(6, (3, 2), padding="valid", activation="relu")(y)   # 5 x 5 map from 7 x 6
    y = L.Conv2D(4, 1, strides=2)(y)                                 # 3 x 3 map, 6 channels: im2col
    y = L.Flatten()(y)
    y = L.Dense(13, activation="relu")(y)
    return tf.keras.Model(x, L.Dense(5)(y))


def _depthwise(tf):
    """Depthwise 3x3 over 8 channels (whole groups; a 10-wide map: two four-pixel steps and two single
    pixels), over 7 (a tail group of 3 in both paths), stride 2 with multiplier 2 (gathered input, 14
    channels: a tail of 2), a valid window after an asymmetric PAD, a 5x5 dilated window, multiplier 3 on 7 channels (21: a tail
    of 1) with a rectangular window and stride (1, 2), average pooling."""
    L = tf.keras.layers
    x = tf.keras.Input((13, 10, 8), batch_size=1)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    y = L.Conv2D(7, 1, activation="relu")(y)
    y = L.DepthwiseConv2D(3, padding="same")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(y)
    y = L.ZeroPadding2D(((1, 0), (0, 1)))(y)                         # a PAD folded into the next depthwise
    y = L.DepthwiseConv2D(3, padding="valid", activation="relu")(y)
    y = L.Conv2D(7, 1)(y)
    y = L.DepthwiseConv2D(5, padding="same", dilation_rate=2, activation="relu")(y)
    y = L.DepthwiseConv2D((3, 2), strides=(1, 2), padding="same", depth_multiplier=3)(y)
    y = L.AveragePooling2D((3, 2))(y)                                 # 21 channels: whole groups, a tail of 1
    y = L.Flatten()(y)
    return tf.keras.Model(x, L.Dense(3)(y))


def _narrow(tf):
    """A tall narrow map (KWS-like) the depthwise kernel walks transposed: 3x3 same, then stride 2 (2 x 1
    after the transpose) with multiplier 2 and a (3, 1) window, odd channel counts."""
    L = tf.keras.layers
    x = tf.keras.Input((21, 5, 12), batch_size=1)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    y = L.Conv2D(5, 1)(y)
    y = L.AveragePooling2D(3, strides=1, padding="same")(y)          # border windows of 4 and 6: tail of 1
    y = L.DepthwiseConv2D((3, 1), strides=(2, 1), padding="valid", depth_multiplier=2)(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="same")(y)
    y = L.Flatten()(y)
    return tf.keras.Model(x, L.Dense(6)(y))


def _residual(tf):
    """Residual ADDs of same-shape maps (798 elements: a tail of 2), one with a fused ReLU; a 3x3 stride-2 same
    max pool (19 channels: a whole vector and a tail of 3; border windows cut by the image)."""
    L = tf.keras.layers
    x = tf.keras.Input((6, 7, 19), batch_size=1)
    a = L.Conv2D(19, 3, padding="same", activation="relu")(x)
    y = L.ReLU()(L.Add()([a, x]))
    b = L.Conv2D(19, 1)(y)
    return tf.keras.Model(x, L.MaxPooling2D(3, strides=2, padding="same")(L.Add()([y, b])))


def _kws_first(tf):
    """KWS's first layer shape: a 10x4 window on one channel, stride 2, 64 filters (columns gathered, one
    vector per window row where the window is inside), two filters of 3 channels (rows in place, padded)."""
    L = tf.keras.layers
    x = tf.keras.Input((20, 10, 1), batch_size=1)
    y = L.Conv2D(64, (10, 4), strides=2, padding="same", activation="relu")(x)
    y = L.Conv2D(3, 1)(y)
    y = L.Conv2D(5, (3, 2), padding="same")(y)
    return tf.keras.Model(x, L.Dense(4)(L.Flatten()(y)))


def _clamped(tf):
    """Ends in a 1x1 conv and a depthwise whose output zero point is rewritten (see below)."""
    L = tf.keras.layers
    x = tf.keras.Input((6, 7, 20), batch_size=1)
    y = L.Conv2D(11, 3, padding="same", activation="relu")(x)
    return tf.keras.Model(x, L.DepthwiseConv2D(3, padding="same", activation="relu")(y))


MODELS = {"convs": (_convs, (1, 11, 9, 3)), "depthwise": (_depthwise, (1, 13, 10, 8)),
          "clamped": (_clamped, (1, 6, 7, 20)), "narrow": (_narrow, (1, 21, 5, 12)),
          "residual": (_residual, (1, 6, 7, 19)), "kws_first": (_kws_first, (1, 20, 10, 1))}


def helium_tflite(name: str, per_channel: bool) -> bytes:
    build, shape = MODELS[name]
    tflite = int8_tflite(build, [shape], per_channel=per_channel, per_channel_dense=per_channel)
    if name == "clamped":        # act_min -90 for the ReLU: the requantized lanes are clamped on both sides
        tflite = with_output_quantization(tflite, None, -90)
    return tflite


@pytest.fixture
def helium_depthwise_everywhere(monkeypatch):
    """The Helium depthwise kernel on every layer it can run: by default narrower rows, other windows and
    strides take the DSP fast kernel, which is cheaper there (codegen/helium/depthwise_conv_2d._pays)."""
    from tinyattend.codegen.helium import depthwise_conv_2d
    monkeypatch.setattr(depthwise_conv_2d, "_pays", lambda op, graph: True)


def _assert_mve_kernels(out_dir, name):
    model_c = next(out_dir.rglob("model.c")).read_text()
    pool = ("ta_avg_pool_s8_mve(",)
    expected = {"convs": MVE_FUNCTIONS[::2], "depthwise": MVE_FUNCTIONS + pool, "clamped": MVE_FUNCTIONS[:2],
                "narrow": MVE_FUNCTIONS + pool, "residual": ("ta_conv2d_s8_mve(", "ta_add_s8_mve(", "ta_max_pool_s8_mve("),
                "kws_first": MVE_FUNCTIONS[::2]}[name]
    for function in expected:
        assert function in model_c, f"{function} should have been generated"
    if name in ("convs", "depthwise"):      # every convolution on the MVE kernels, the PADs folded into them
        assert "_s8_fast(" not in model_c and "ta_pad_s8(" not in model_c


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_helium_kernels_on_host(tmp_path, helium_depthwise_everywhere, name):
    """The plain-C side of each kernel (what `tinyattend verify` builds), under AddressSanitizer and UBSan;
    per-channel weights (per-tensor ones are the same constants repeated: the emulated M55 runs both)."""
    report = assert_bit_exact(helium_tflite(name, True), tmp_path, kernels="helium", samples=30)
    assert report["kernels"] == "helium"
    _assert_mve_kernels(tmp_path, name)


@on_qemu
@pytest.mark.slow
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_helium_kernels_on_emulated_m55(tmp_path, helium_depthwise_everywhere, name, per_channel):
    """The MVE intrinsics on QEMU's Cortex-M55, four inputs per model (all -128, all 127, two random)."""
    report = assert_bit_exact_on_board(helium_tflite(name, per_channel), tmp_path, board="cortex-m55",
                                       kernels="auto", samples=4)
    assert report["kernels"] == "helium", "auto should take the Helium kernels on the M55"
    _assert_mve_kernels(tmp_path, name)


def test_requantization_constants_split_the_shift():
    """Each group of four lanes: bias, multiplier, left shift (>= 0), minus the right shift (<= 0)."""
    import numpy as np

    from tinyattend.codegen.helium._tables import lane_table
    table = lane_table(np.array([1, -2, 3, 4]), np.array([1 << 30] * 4), np.array([2, 0, -3, -31]))
    assert table.tolist() == [1, -2, 3, 4, *[1 << 30] * 4, 2, 0, 0, 0, 0, 0, -3, -31]


def test_depthwise_takes_the_cheaper_kernel(tmp_path, monkeypatch):
    """A 3x3 stride-1 layer with 24-pixel rows takes the Helium kernel, and so does a narrow one without a clamp
    inside int8 (the one-piece 3x3 path); a stride-2 one the DSP fast kernel (fewer instructions there on the
    M55); all bit-exact. Fusion off: it would band a layer
    (issue 17's banded depthwise), which is another kernel choice than this test's."""
    monkeypatch.setenv("TINYATTEND_FUSION", "off")
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((24, 24, 8), batch_size=1)
        y = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        y = L.DepthwiseConv2D(3, strides=2, padding="same")(y)
        return tf.keras.Model(x, L.DepthwiseConv2D(3, padding="same")(y))
    assert_bit_exact(int8_tflite(build, [(1, 24, 24, 8)]), tmp_path, kernels="helium", samples=10)
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert model_c.count("ta_depthwise_conv2d_s8_mve(") == 2
    assert model_c.count("ta_depthwise_conv2d_s8_fast(") == 1


def _left_shift_tflite() -> tuple[bytes, np.ndarray]:
    """A conv whose output scale is rewritten just below input scale x weight scale: requantization
    shifts left (TFLite's shift > 0), the Helium conv's VSHL path. Random inputs saturate such a layer,
    so also inputs at the zero point but for one element one step off: each output is one weight
    rescaled, inside int8."""
    from tinyattend.ir.tflite_reader import read_tflite

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((5, 6, 16), batch_size=1),
                                    tf.keras.layers.Conv2D(6, 3, padding="same")])
    tflite = int8_tflite(build, [(1, 5, 6, 16)])
    graph = read_tflite(tflite)
    conv = next(op for op in graph.ops if op.type == "CONV_2D")
    x, w = graph.tensor(conv.inputs[0]), graph.tensor(conv.inputs[1])
    rng = np.random.default_rng(1)
    near = np.full((12, 1, 5, 6, 16), x.zero_point, np.int8)
    for sample in near:
        sample.flat[rng.integers(sample.size)] += rng.choice([-1, 1])
    return with_output_quantization(tflite, float(x.scale * max(w.quant.scale) / 1.05), 3), near


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", pytest.param("cortex-m55", marks=on_qemu)])
def test_helium_conv_left_shift(tmp_path, board):
    tflite, near = _left_shift_tflite()
    if board == "host":
        assert_bit_exact(tflite, tmp_path, kernels="helium", samples=20, extra_inputs=near)
    else:
        assert_bit_exact_on_board(tflite, tmp_path, board=board, kernels="helium", samples=2, extra_inputs=near)
    assert ".left_shift = 1," in next(tmp_path.rglob("model.c")).read_text()


def _add_pairs_tflite() -> tuple[bytes, np.ndarray]:
    """ADD of a 256 x 256 map and its transpose rescaled (x -0.37 + 0.05: another scale and zero point): with
    row i all int8 value i - 128, one inference adds every int8 value of the first input to every value the
    second takes. (Rounding ties of ADD's rescales are rare: none here on the inputs' side; the sign
    fix-up is the conv's, whose tests catch its removal.)"""
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((256, 256, 1), batch_size=1)
        scaled = L.Rescaling(-0.37, offset=0.05)(L.Permute((2, 1, 3))(x))
        return tf.keras.Model(x, L.Add()([x, scaled]))
    rows = np.repeat((np.arange(256) - 128).astype(np.int8)[:, None], 256, axis=1)
    return int8_tflite(build, [(1, 256, 256, 1)]), rows.reshape(1, 1, 256, 256, 1)


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", pytest.param("cortex-m55", marks=on_qemu)])
def test_helium_add_every_input_pair(tmp_path, board):
    tflite, pairs = _add_pairs_tflite()
    if board == "host":
        assert_bit_exact(tflite, tmp_path, kernels="helium", samples=2, extra_inputs=pairs)
    else:
        assert_bit_exact_on_board(tflite, tmp_path, board=board, kernels="helium", samples=1, extra_inputs=pairs)
    assert "ta_add_s8_mve(" in next(tmp_path.rglob("model.c")).read_text()


def _depthwise_left_shift_tflite() -> tuple[bytes, np.ndarray]:
    """A 3x3 depthwise (13 channels, rows of 6: a tail of 2 in the tail-predicated loop) whose output scale is
    rewritten below input scale x weight scale: requantization shifts left, which the one-piece 3x3 path
    applies to the nine weights and the bias. Inputs at the zero point but for one element one step off, as
    for the conv above, and random ones (saturating: the narrowing clamp)."""
    from tinyattend.ir.tflite_reader import read_tflite

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((7, 6, 13), batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(3, padding="same")])
    tflite = int8_tflite(build, [(1, 7, 6, 13)])
    graph = read_tflite(tflite)
    dw = next(op for op in graph.ops if op.type == "DEPTHWISE_CONV_2D")
    x, w = graph.tensor(dw.inputs[0]), graph.tensor(dw.inputs[1])
    rng = np.random.default_rng(2)
    near = np.full((12, 1, 7, 6, 13), x.zero_point, np.int8)
    for sample in near:
        sample.flat[rng.integers(sample.size)] += rng.choice([-1, 1])
    return with_output_quantization(tflite, float(x.scale * max(w.quant.scale) / 1.05), -5), near


@pytest.mark.slow
@pytest.mark.parametrize("board", ["host", pytest.param("cortex-m55", marks=on_qemu)])
def test_helium_depthwise_left_shift(tmp_path, board):
    tflite, near = _depthwise_left_shift_tflite()
    if board == "host":
        assert_bit_exact(tflite, tmp_path, kernels="helium", samples=20, extra_inputs=near)
    else:
        assert_bit_exact_on_board(tflite, tmp_path, board=board, kernels="helium", samples=3, extra_inputs=near)
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_depthwise_conv2d_s8_mve(" in model_c
    assert ".act_min = -128," in model_c and ".act_max = 127," in model_c   # the one-piece path
    data = next(tmp_path.rglob("model_data.c")).read_text()
    table = data.split("_channel[")[1].split("{")[1].split("}")[0]
    left = [int(v) for v in table.replace("\n", " ").split(",") if v.strip()][2::4]
    assert max(left) > 0 and min(left) == 0, "some channels should shift left, some not"


@on_qemu
@pytest.mark.slow
def test_helium_depthwise_upper_clamp_on_emulated_m55(tmp_path):
    """A ReLU6 depthwise whose output scale is rewritten so that 6.0 is int8 72: the one-piece 3x3 path's
    upper-bound clamp (VMIN on int16 lanes); 11 channels, rows of 7 (a tail of 3). ("clamped" above takes
    its lower-bound one.)"""
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((5, 7, 11), batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")])
    tflite = with_output_quantization(int8_tflite(build, [(1, 5, 7, 11)]), 6.0 / 200, -128)
    assert_bit_exact_on_board(tflite, tmp_path, board="cortex-m55", kernels="helium", samples=6)
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_depthwise_conv2d_s8_mve(" in model_c and ".act_max = 72," in model_c
