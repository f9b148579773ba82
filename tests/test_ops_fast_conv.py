"""The fast CONV_2D kernel (templates/kernels/fast/conv/) against TFLM, shape by shape.

The kernel gathers three output pixels' receptive fields as contiguous runs of the
input (whole runs in column order, each run's last len % 4 values at the end) and
runs a 3-pixel x 2-channel tile over every channel pair. The cases cover its paths:
the pointwise gather, runs read in place and staged at the border, run remainders,
short last tiles (pixels % 3 == 2; the last pixel alone when pixels % 3 == 1), odd channel counts, the three
requantization forms (fast int8 range, fast with a narrower activation range, TFLM's).

On the host the DSP operations and the inline assembly are replaced by plain C;
`test_conv2d_fast_on_cortex_m7` runs the same models on the emulated Cortex-M7.
"""
import shutil

import pytest

from op_harness import assert_bit_exact, int8_tflite, with_output_quantization


# (input hwc, filters, kernel, stride, padding, dilation, activation)
CASES = {
    "pointwise": ((7, 8, 16), 4, 1, 1, "valid", 1, "relu"),            # 56 pixels: last tile of 2
    "pointwise_odd_relu6": ((5, 5, 8), 5, 1, 1, "valid", 1, "relu6"),  # 25 pixels: last tile of 1; clamp
    "pointwise_stride2_c6": ((9, 9, 6), 8, 1, 2, "valid", 1, None),     # run remainder of 2 bytes
    "first_layer_c3": ((10, 9, 3), 16, 3, 1, "same", 1, "relu"),        # K = 27: remainders of 3 runs
    "first_layer_c3_s2": ((12, 11, 3), 8, 3, 2, "same", 1, "relu6"),
    "kws_like_c1": ((13, 7, 1), 9, (10, 4), 2, "same", 1, "relu"),      # K = 40, runs of 4 bytes
    "dilation_c5": ((9, 11, 5), 3, 3, 1, "same", 2, "relu"),            # one run per tap
    "dilation_h_only": ((11, 9, 4), 6, (3, 5), 1, "same", (2, 1), None),
    "one_channel": ((8, 8, 16), 1, 3, 1, "same", 1, "relu"),            # no whole pair
    "even_groups_valid": ((6, 7, 32), 2, 3, 2, "valid", 1, "relu"),
    "wide_row_c64": ((5, 4, 64), 7, 3, 1, "same", 1, None),             # K = 576: 144 groups
    "groups_mod4_1": ((7, 6, 4), 5, 3, 1, "same", 1, "relu"),           # 9 groups: tile loop entered last step
    "long_runs_c6": ((8, 7, 6), 5, 3, 1, "same", 1, "relu"),            # runs of 18: staged one by one at the border
    "single_pixel": ((1, 1, 40), 9, 1, 1, "valid", 1, "relu"),          # one pixel: only the one-pixel path
    "map_4x4_c3": ((4, 4, 12), 6, 3, 1, "same", 1, None),               # 16 pixels: five tiles and one pixel
    "groups_mod8_5": ((6, 5, 20), 6, 1, 1, "valid", 1, "relu"),         # 5 groups: the one entry (of 8) left
    "groups_mod16_13": ((5, 6, 52), 7, 1, 1, "valid", 1, "relu"),       # 13 groups: entered 3 steps into 16
    "padded_copy_c2_s2": ((9, 8, 2), 5, (5, 3), 2, "same", 1, "relu6"),  # padded copy: short runs of 6
}


# A narrower activation range than int8 reaches the kernel when the output's quantization
# leaves room outside it (the zoo's ReLU6 layers have act_min -5..-1): the output tensor's
# zero point and scale are rewritten in the flatbuffer; TFLM follows the same parameters.
# name -> (case, output zero point, output scale or None to keep it)
CLAMPED = {
    "pointwise_relu6_both_limits": ("pointwise_odd_relu6", -100, 6.0 / 200),   # act_min -100, act_max 100
    "pointwise_relu_lower_limit": ("pointwise", -90, None),                   # act_min -90
    "groups_mod4_relu_lower_limit": ("groups_mod4_1", -77, None),
    "kws_like_relu_lower_limit": ("kws_like_c1", -90, None),                 # padded copy with a clamp
    "even_groups_relu_lower_limit": ("even_groups_valid", -90, None),        # 72 groups: the looping clamp path
}


def conv_tflite(name: str) -> bytes:
    if name in CLAMPED:
        case, zero_point, scale = CLAMPED[name]
        return with_output_quantization(conv_tflite(case), scale, zero_point)
    hwc, filters, kernel, stride, padding, dilation, activation = CASES[name]

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                                           dilation_rate=dilation, activation=activation)])
    return int8_tflite(build, [(1, *hwc)])


@pytest.fixture(autouse=True)
def padded_copy_wherever_it_qualifies(monkeypatch):
    """These tests are about the kernel: a one-layer model's conv is its RAM peak, where the
    generator drops the padded input copy (lean.drop_copies_at_peak, tested below on its own);
    keep it wherever the layer qualifies, so the copy's paths run."""
    from tinyattend.codegen import generate
    monkeypatch.setattr(generate, "drop_copies_at_peak", lambda graph, target, built, build: (target, built))


@pytest.fixture
def wide_weights(monkeypatch):
    """Lower every fast conv as --optimize speed does (int16 weights); the harness builds
    with "balanced"."""
    from tinyattend.codegen.ops import conv_2d
    lower_fast = conv_2d._lower_fast
    monkeypatch.setattr(conv_2d, "_lower_fast", lambda *args, wide: lower_fast(*args, wide=True))


@pytest.fixture
def split_weights(monkeypatch):
    """Split int8 weights for every unwidened fast conv (normally only from SPLIT_MIN_CHANNELS on)."""
    from tinyattend.codegen.ops import conv_2d
    monkeypatch.setattr(conv_2d, "SPLIT_MIN_CHANNELS", 1)


@pytest.fixture
def exact_requantization(monkeypatch):
    """Force TFLM's requantization (normally taken only when the short form cannot be proven exact)."""
    import tinyattend.codegen.ops._fast as fast_module
    monkeypatch.setattr(fast_module, "fast_requant_ok", lambda *args: False)


@pytest.mark.parametrize("name", [*CASES, *CLAMPED])
def test_conv2d_fast_shapes(tmp_path, name):
    # int8 weights: --optimize size keeps them (balanced widens convolutions this small to int16).
    report = assert_bit_exact(conv_tflite(name), tmp_path, expect_ops=["CONV_2D"], kernels="fast", optimize="size")
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_conv2d_s8_fast(" in model_c, "the fast conv kernel should have been chosen"
    assert ".fast_requant = 1," in model_c and ".weight_form = 0," in model_c
    assert report["scratch_bytes"] > 0


@pytest.mark.parametrize("name", ["first_layer_c3", "pointwise_odd_relu6", "groups_mod4_1", "dilation_c5",
                                  "pointwise_relu6_both_limits"])
def test_conv2d_fast_wide_weights(tmp_path, wide_weights, name):
    assert_bit_exact(conv_tflite(name), tmp_path, kernels="fast")
    assert ".weight_form = 1," in next(tmp_path.rglob("model.c")).read_text()


@pytest.mark.parametrize("name", [*CASES, "pointwise_relu6_both_limits"])
def test_conv2d_fast_split_weights(tmp_path, split_weights, name):
    """Split int8 weights (e0 + 128, -e1, e2 + 128, -e3), the columns' second words rewritten and
    each pixel's accumulators corrected: every gather path, remainders, odd channel counts."""
    assert_bit_exact(conv_tflite(name), tmp_path, kernels="fast", optimize="size")
    assert ".weight_form = 2," in next(tmp_path.rglob("model.c")).read_text()


def test_split_weights_need_odd_weights_above_minus_128():
    """-(-128) does not fit int8: such a layer keeps plain int8 weights."""
    import numpy as np

    from tinyattend.codegen.ops.conv_2d import FORM_INT8, FORM_SPLIT, weight_form
    columns = np.ones((32, 8), np.int8)
    assert weight_form(columns, wide=False) == FORM_SPLIT
    columns[5, 0] = -128                     # an even position is fine
    assert weight_form(columns, wide=False) == FORM_SPLIT
    columns[7, 3] = -128
    assert weight_form(columns, wide=False) == FORM_INT8


@pytest.mark.parametrize("name", ["first_layer_c3_s2", "pointwise_odd_relu6", "dilation_c5"])
def test_conv2d_fast_exact_requantization(tmp_path, exact_requantization, name):
    assert_bit_exact(conv_tflite(name), tmp_path, kernels="fast")
    assert ".fast_requant = 0," in next(tmp_path.rglob("model.c")).read_text()


def test_column_order_matches_runs():
    """Weights are laid out run by run, remainders last, zero-padded to a multiple of 4."""
    import numpy as np

    from tinyattend.codegen.ops.conv_2d import column_order
    w = np.arange(2 * 2 * 3 * 3, dtype=np.int8).reshape(2, 2, 3, 3)      # [out_c][fh][fw][c]
    rows = column_order(w, run_taps=3)
    first = w[0].reshape(2, 9)
    expected = np.concatenate([first[0, :8], first[1, :8], [first[0, 8], first[1, 8]], [0, 0]])
    assert rows.shape == (2, 20)
    assert (rows[0] == expected).all()
    per_tap = column_order(w, run_taps=1)        # runs of 3 bytes: no whole group, all remainders
    assert per_tap.shape == (2, 20)
    assert (per_tap[0, :18] == w[0].ravel()).all() and not per_tap[:, 18:].any()


@pytest.mark.parametrize("name,padded", [("kws_like_c1", True), ("first_layer_c3", True), ("dilation_c5", True),
                                         ("first_layer_c3_s2", True), ("padded_copy_c2_s2", True),
                                         ("pointwise_stride2_c6", False), ("long_runs_c6", True)])
def test_conv2d_fast_padded_copy_taken(tmp_path, name, padded):
    """First layers (input.c % 4 != 0) whose receptive fields reach outside the image copy it,
    padded, into scratch (padding only after the image, as first_layer_c3_s2 has, counts too);
    the other layers do not."""
    assert_bit_exact(conv_tflite(name), tmp_path, expect_ops=["CONV_2D"], kernels="fast")
    assert f".padded_copy = {int(padded)}," in next(tmp_path.rglob("model.c")).read_text()


def test_padded_copy_bytes_limits():
    from tinyattend.codegen.ops.conv_2d import PADDED_COPY_MAX_BYTES, padded_copy_bytes
    o = {"stride_h": 2, "stride_w": 2, "dilation_h_factor": 1, "dilation_w_factor": 1}
    # KWS's first layer: 49x10x1, 10x4 filter, stride 2, output 25x5, pads 4 and 1
    assert padded_copy_bytes((1, 49, 10, 1), (1, 25, 5, 64), (10, 4), o, 4, 1) == 58 * 12
    assert padded_copy_bytes((1, 49, 10, 4), (1, 25, 5, 64), (10, 4), o, 4, 1) == 0       # whole groups
    # VWW's: 96x96x3, 3x3 stride 2, output 48x48, padding after the image only: beyond the limit
    assert 97 * 97 * 3 > PADDED_COPY_MAX_BYTES
    assert padded_copy_bytes((1, 96, 96, 3), (1, 48, 48, 8), (3, 3), o, 0, 0) == 0
    assert padded_copy_bytes((1, 20, 20, 3), (1, 10, 10, 8), (3, 3), o, 0, 0) == 21 * 21 * 3
    assert padded_copy_bytes((1, 21, 21, 3), (1, 10, 10, 8), (3, 3), o, 0, 0) == 0        # VALID


def test_conv_paths():
    """int16 weights of at most 16 groups (the assembly loop's steps) take the loop without its test."""
    from tinyattend.codegen.ops.conv_2d import FORM_INT8, FORM_SPLIT, FORM_WIDE, _conv_path
    assert _conv_path(FORM_WIDE, True, -128, 127, 64) == "TA_PATH_CONV_WIDE_SHORT"
    assert _conv_path(FORM_WIDE, True, -90, 127, 64) == "TA_PATH_CONV_WIDE_SHORT_CLAMP"
    assert _conv_path(FORM_WIDE, True, -128, 127, 68) == "TA_PATH_CONV_WIDE"
    assert _conv_path(FORM_WIDE, True, -128, 100, 68) == "TA_PATH_CONV_WIDE_CLAMP"
    assert _conv_path(FORM_SPLIT, True, -128, 127, 16) == "TA_PATH_CONV_SPLIT"
    assert _conv_path(FORM_INT8, True, -128, 127, 16) == "TA_PATH_CONV_INT8"
    assert _conv_path(FORM_WIDE, False, -128, 127, 16) == "TA_PATH_CONV_EXACT"


def test_doubled_requantization_is_tflms():
    """FORM_WIDE stores weights and bias doubled, and the kernel requantizes 2 * acc with
    SMMLAR(2 acc, m, round + (2 acc >> 31)) >> e (no LSL): the LSL form's value (the sign of 2 * acc
    is acc's) and TFLM's wherever |acc| < 2^30 and the sum SMMLAR forms fits int32."""
    import random

    from tinyattend.ir.quant import multiply_by_quantized_multiplier

    def smmlar(a, b, acc):                       # (acc << 32) + a * b, rounded, top 32 bits (wrapping)
        value = (((acc << 32) + a * b + (1 << 31)) >> 32) & 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value

    rng = random.Random(16)
    edges = [0, 1, -1, 2, -2, (1 << 30) - 1, -(1 << 30) + 1, 12345, -12345]
    for _ in range(3000):
        m = rng.choice([1 << 30, (1 << 31) - 1, rng.randrange(1 << 30, 1 << 31)])
        e = rng.randrange(1, 32)
        zp = rng.randrange(-128, 128)
        acc = rng.choice(edges + [rng.randrange(-(1 << 30) + 1, 1 << 30), rng.randrange(-4096, 4096)])
        round_ = (1 << (e - 1)) + zp * (1 << e)
        if abs(round_) + abs(acc) >= 1 << 31:      # |SMMLAR's product term| <= |acc| as m < 2^31
            continue
        acc2 = 2 * acc
        doubled = smmlar(acc2, m, round_ + (acc2 >> 31)) >> e
        assert doubled == smmlar(acc << 1, m, round_ + (acc >> 31)) >> e
        assert doubled == multiply_by_quantized_multiplier(acc, m, -e) + zp, (acc, m, e, zp)


# "size" with --kernels fast: the fast kernels with int8 weights; "speed": int16 weights; "split": split
# int8 weights (size, with the split form forced for these small layers).
QEMU_CASES = [(name, "size", False) for name in CASES] + [
    ("first_layer_c3", "speed", False), ("groups_mod4_1", "speed", False), ("groups_mod16_13", "speed", False),
    ("kws_like_c1", "speed", False), ("padded_copy_c2_s2", "speed", False), ("kws_like_relu_lower_limit", "speed", False),
    ("dilation_c5", "speed", True), ("groups_mod16_13", "split", False), ("even_groups_relu_lower_limit", "speed", False), ("groups_mod8_5", "speed", False), ("pointwise_odd_relu6", "speed", False),
    ("even_groups_valid", "speed", False), ("dilation_c5", "size", True), ("pointwise", "speed", True),
    *[(name, "size", False) for name in CLAMPED], ("pointwise_relu6_both_limits", "speed", False),
    *[(name, "split", False) for name in ("pointwise", "first_layer_c3_s2", "wide_row_c64", "groups_mod4_1",
                                          "one_channel", "map_4x4_c3", "pointwise_relu6_both_limits")],
    ("dilation_c5", "split", True),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,optimize,exact", QEMU_CASES)
def test_conv2d_fast_on_cortex_m7(tmp_path, monkeypatch, name, optimize, exact):
    """The same models with the real DSP instructions and inline assembly, on QEMU (mps2-an500):
    every tile-loop entry (groups % 16), int8, int16 and split weights, the three requantization
    forms, the padded copy."""
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm and arm-none-eabi-gcc are needed")
    from op_harness import assert_bit_exact_on_board
    if exact:
        import tinyattend.codegen.ops._fast as fast_module
        monkeypatch.setattr(fast_module, "fast_requant_ok", lambda *args: False)
    form = {"size": 0, "speed": 1, "split": 2}[optimize]
    if optimize == "split":
        from tinyattend.codegen.ops import conv_2d
        monkeypatch.setattr(conv_2d, "SPLIT_MIN_CHANNELS", 1)
        optimize = "size"
    out = tmp_path / "out"
    assert_bit_exact_on_board(conv_tflite(name), out, board="cortex-m7", kernels="fast", optimize=optimize, samples=8)
    model_c = (out / "model" / "model.c").read_text()
    assert f".fast_requant = {int(not exact)}," in model_c
    assert f".weight_form = {form}," in model_c


def test_padded_copy_dropped_where_it_raises_the_arena(tmp_path, monkeypatch):
    """A one-layer model: the conv is the RAM peak and its padded copy would raise the arena, so the
    generator leaves the copy out (bit-exact either way); KWS keeps its first layer's copy (its peak
    is elsewhere)."""
    from conftest import mlperf_model
    monkeypatch.undo()
    report = assert_bit_exact(conv_tflite("kws_like_c1"), tmp_path / "one", expect_ops=["CONV_2D"], kernels="fast")
    assert ".padded_copy = 0," in next((tmp_path / "one").rglob("model.c")).read_text()
    from tinyattend.codegen import generate as gen
    monkeypatch.setattr(gen, "drop_copies_at_peak", lambda graph, target, built, build: (target, built))
    copied = assert_bit_exact(conv_tflite("kws_like_c1"), tmp_path / "copied", expect_ops=["CONV_2D"],
                              kernels="fast", samples=2)
    assert copied["arena_bytes"] > report["arena_bytes"]
    monkeypatch.undo()
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    kws = write_project(tmp_path / "kws", mlperf_model("kws_ref_model").read_bytes(), load_board("cortex-m7"),
                        kernels="fast", optimize="balanced", model_name="kws", measure_tflm_arena=False)
    assert kws["arena_bytes"] and ".padded_copy = 1," in next((tmp_path / "kws").rglob("model.c")).read_text()
