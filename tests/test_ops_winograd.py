"""The Winograd F(2x2, 3x3) CONV_2D kernel (templates/kernels/fast/winograd/) against TFLM.

The generator's integer transform identity is checked exhaustively in numpy; the kernel bit for
bit on the host (plain C for the DSP operations, under ASan/UBSan) and on the emulated Cortex-M7
(the assembly). Cases cover odd output sizes (tiles cut at the bottom and right), a short last group
of tiles, odd channel counts, 'valid' and 'same' padding, a clamp and TFLM's requantization path.
"""
import shutil

import numpy as np
import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite, with_output_quantization

# (input hwc, filters, padding, activation)
CASES = {
    "same_16": ((8, 8, 16), 16, "same", "relu"),              # 16 tiles: five groups and a short one
    "odd_map_c8": ((7, 9, 8), 5, "same", None),               # tiles cut at the bottom and right; odd out_c
    "valid_c24": ((9, 6, 24), 7, "valid", "relu6"),           # 7x4 output; a clamp; 6 groups of channels
    "one_tile": ((4, 4, 8), 2, "valid", None),                # a single tile, repeated three times
    "wide_c64": ((6, 5, 64), 9, "same", "relu"),              # 16 groups of channels: two turns of the loop
    "c32_same": ((6, 7, 32), 4, "same", None),                # the written-out loop for 8 channel groups
}


def conv_tflite(name: str) -> bytes:
    hwc, filters, padding, activation = CASES[name]

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2D(filters, 3, padding=padding, activation=activation)])
    return int8_tflite(build, [(1, *hwc)])


def _functions(out_dir) -> str:
    return (out_dir / "model" / "model.c").read_text() if (out_dir / "model" / "model.c").exists() \
        else (out_dir / "firmware" / "model" / "model.c").read_text()


def test_transform_identity_is_exact():
    """A^T [(G' g G'^T) . (B^T d B)] A == 4 * correlation, for int8 extremes and random values."""
    from tinyattend.codegen.ops._winograd import AT, BT, G2
    rng = np.random.default_rng(1)
    filters = [np.full((3, 3), v) for v in (-128, 127)] + [rng.integers(-128, 128, (3, 3)) for _ in range(200)]
    patches = [np.full((4, 4), v) for v in (-128, 127)] + [rng.integers(-128, 128, (4, 4)) for _ in range(200)]
    for g, d in zip(filters, patches):
        y = AT @ ((G2 @ g @ G2.T) * (BT @ d @ BT.T)) @ AT.T
        direct = np.array([[(d[i:i + 3, j:j + 3] * g).sum() for j in range(2)] for i in range(2)])
        assert np.array_equal(y, 4 * direct)
        assert np.abs(G2 @ g @ G2.T).max() <= 9 * 128 and np.abs(BT @ d @ BT.T).max() <= 4 * 128


def test_overflow_bound_refuses_huge_channel_counts():
    from tinyattend.codegen.ops._winograd import fits_int32
    assert fits_int32(np.full((2, 3, 3, 256), -128, np.int8))
    assert not fits_int32(np.full((2, 3, 3, 512), -128, np.int8))    # 9 * 512 * 512 * 1152 > 2^31


@pytest.mark.parametrize("name", sorted(CASES))
def test_winograd_bit_exact_on_host(tmp_path, name):
    assert_bit_exact(conv_tflite(name), tmp_path, samples=12, kernels="fast", optimize="speed")
    assert "ta_conv2d_s8_winograd(" in _functions(tmp_path)


def test_winograd_exact_requantization_path(tmp_path):
    """An output scale whose multipliers fail the fast requantization's conditions (TFLite shift >= 0 with
    int8-only forms): TFLM's requantization inside the kernel."""
    tflite = with_output_quantization(conv_tflite("same_16"), 0.002, -3)
    assert_bit_exact(tflite, tmp_path, samples=8, kernels="fast", optimize="speed")
    assert "ta_conv2d_s8_winograd(" in _functions(tmp_path)


@pytest.mark.parametrize("scales", ["SCALES", "SCALES_0"])
def test_winograd_with_shift_zero_and_left_shift_channels(tmp_path, scales):
    """Channels with effective scales >= 0.5 (TFLite shift >= 0): shift 0 ones keep the fast form (an
    offset in the bias), larger ones the kernel's TFLM requantization, as for the direct int8 form."""
    import test_ops_fast_left_shift as left
    tflite = left._conv_with_scales((6, 7, 8), 12, 3, None, getattr(left, scales))
    assert_bit_exact(tflite, tmp_path, kernels="fast", optimize="speed",
                     extra_inputs=left._near_zero_point(tflite, (1, 6, 7, 8)))
    model_c = _functions(tmp_path)
    assert "ta_conv2d_s8_winograd(" in model_c
    assert (".fast_requant = 1," in model_c) == (scales == "SCALES_0")


def test_balanced_takes_winograd_for_large_maps(tmp_path):
    from op_harness import assert_bit_exact as check
    check(conv_tflite("same_16"), tmp_path, samples=4, kernels="fast", optimize="balanced")
    assert "ta_conv2d_s8_winograd(" in _functions(tmp_path)


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="arm-none-eabi-gcc and qemu-system-arm are needed (make setup installs them)")
@pytest.mark.parametrize("name", ["same_16", "odd_map_c8", "valid_c24", "wide_c64", "c32_same"])
def test_winograd_bit_exact_on_cortex_m7(tmp_path, name):
    assert_bit_exact_on_board(conv_tflite(name), tmp_path, board="cortex-m7", optimize="speed", samples=4)
    assert "ta_conv2d_s8_winograd(" in _functions(tmp_path)


def _clobbers(shape_in, out_c, pad_top, pad_left, lead) -> bool:
    """Simulate the kernel's order byte by byte (a group reads its tiles' whole patches, then writes
    their pixels): whether an output byte, placed `lead` bytes below the input, lands on an input
    byte that a later group still reads."""
    from tinyattend.codegen.ops._winograd import TILES
    n, h, w, c = shape_in
    out_h, out_w = (h, w) if pad_top else (h - 2, w - 2)
    tiles_w = (out_w + 1) // 2
    tiles = (out_h + 1) // 2 * tiles_w
    groups = []
    for b in range(n):
        for t0 in range(0, tiles, TILES):
            reads, writes = set(), set()
            for tile in range(t0, t0 + TILES):
                ty, tx = divmod(min(tile, tiles - 1), tiles_w)
                for i in range(4):
                    for j in range(4):
                        y, x = 2 * ty - pad_top + i, 2 * tx - pad_left + j
                        if 0 <= y < h and 0 <= x < w:
                            reads.update(range(((b * h + y) * w + x) * c, ((b * h + y) * w + x + 1) * c))
                for i in range(2):
                    for j in range(2):
                        y, x = 2 * ty + i, 2 * tx + j
                        if y < out_h and x < out_w:
                            start = ((b * out_h + y) * out_w + x) * out_c - lead
                            writes.update(range(start, start + out_c))
            groups.append((reads, writes))
    later = set()
    for reads, writes in reversed(groups):
        if writes & later:
            return True
        later |= reads
    return False


@pytest.mark.parametrize("shape_in,out_c,pad", [((1, 8, 8, 8), 8, 1), ((1, 7, 9, 8), 5, 1), ((1, 9, 6, 8), 7, 0),
                                                ((2, 6, 5, 8), 12, 1), ((1, 5, 5, 8), 2, 0), ((1, 10, 3, 8), 8, 1)])
def test_overlap_lead_is_safe_and_tight(shape_in, out_c, pad):
    from tinyattend.codegen.ops._winograd import overlap_lead
    n, h, w, _ = shape_in
    out_shape = (n, h if pad else h - 2, w if pad else w - 2, out_c)
    lead = overlap_lead(shape_in, out_shape, pad, pad)
    assert not _clobbers(shape_in, out_c, pad, pad, lead)
    assert _clobbers(shape_in, out_c, pad, pad, lead - 1), "a smaller lead is safe too: the lead is not tight"


def test_winograd_choice_follows_its_layer_through_fusion(tmp_path, monkeypatch):
    """Fusing an expansion into its depthwise renumbers the ops: the Winograd choice must stay with
    the 3x3 conv it was made for (an index left behind would name another layer)."""
    from tinyattend.codegen.lowering import Target, renumbered
    from tinyattend.ir.graph import Op
    kept = [Op(0, "CONV_2D", (), (), {}), Op(3, "FUSED_EXPAND_DEPTHWISE", (), (), {}), Op(4, "CONV_2D", (), (), {})]
    moved = renumbered(Target(board=None, wide_ops=frozenset({0}), winograd_ops=frozenset({4})), kept)
    assert moved.wide_ops == {0} and moved.winograd_ops == {2}

    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((12, 12, 8), batch_size=1)
        y = L.Conv2D(32, 1, activation="relu")(x)
        y = L.DepthwiseConv2D(3, padding="same", activation="relu")(y)
        y = L.Conv2D(16, 3, padding="same", activation="relu")(y)
        return tf.keras.Model(x, L.Conv2D(8, 3, padding="same")(y))
    monkeypatch.setenv("TINYATTEND_FUSION", "all")
    tflite = int8_tflite(build, [(1, 12, 12, 8)])
    assert_bit_exact(tflite, tmp_path, samples=6, kernels="fast", optimize="speed")
    model_c = _functions(tmp_path)
    assert "FUSED_EXPAND_DEPTHWISE" in model_c or "fused" in model_c
    assert model_c.count("ta_conv2d_s8_winograd(&") == 2
