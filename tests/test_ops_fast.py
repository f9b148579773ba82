"""The fast kernel set (templates/kernels/fast) against TFLM, shape by shape, on the host.

On the host the DSP operations are plain C (same results); tests/test_fast_qemu.py
runs the same kernels with the real instructions on the emulated cores.
"""
import pytest

from op_harness import assert_bit_exact, int8_tflite

CONV_CASES = [
    ((9, 11, 3), 5, 3, 1, "same", 1),      # odd everything, 3 input channels (generic im2col)
    ((10, 10, 8), 7, 3, 2, "same", 1),     # C % 4 == 0 path, odd output channels
    ((8, 7, 16), 16, 1, 1, "valid", 1),    # pointwise
    ((12, 12, 4), 6, 5, 2, "valid", 1),
    ((11, 9, 4), 3, 3, 1, "same", 2),      # dilation
    ((7, 13, 1), 9, (3, 1), 1, "same", 1),
]


@pytest.mark.parametrize("hwc,filters,kernel,stride,padding,dilation", CONV_CASES)
def test_conv2d_fast(tmp_path, hwc, filters, kernel, stride, padding, dilation):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                                           dilation_rate=dilation, activation="relu")])
    report = assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["CONV_2D"], kernels="fast")
    assert report["scratch_bytes"] > 0, "the fast conv kernel should have been chosen"


DW_CASES = [
    ((9, 11, 3), 1, 3, 1, "same"),     # odd sizes, 3x3 stride 1 (paired outputs + odd tail)
    ((10, 10, 8), 1, 3, 2, "same"),    # 3x3 stride 2
    ((9, 12, 5), 2, 3, 2, "valid"),    # depth multiplier 2
    ((7, 6, 4), 1, 5, 1, "same"),      # generic window
    ((8, 9, 6), 1, (3, 1), 2, "valid"),
]


@pytest.mark.parametrize("hwc,multiplier,kernel,stride,padding", DW_CASES)
def test_depthwise_fast(tmp_path, hwc, multiplier, kernel, stride, padding):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                                                    depth_multiplier=multiplier, activation="relu6")])
    report = assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["DEPTHWISE_CONV_2D"],
                              kernels="fast")
    assert report["scratch_bytes"] > 0, "the fast depthwise kernel should have been chosen"


# The last three have staged inputs (split weights, 2 * row_len <= in + out): full steps only, an input tail
# with batches, and AD's 128 -> 128.
FC_SHAPES = [(17, 5, 1), (64, 10, 1), (3, 1, 1), (8, 4, 1), (23, 9, 3), (640, 128, 1), (16, 40, 1), (13, 30, 2),
             (128, 128, 1)]


@pytest.mark.parametrize("split,per_channel,features_in,features_out,rows,activation",
                         [(True, per_channel, *shape, "relu") for per_channel in (True, False) for shape in FC_SHAPES]
                         + [(False, per_channel, *shape, "relu") for per_channel in (True, False)
                            for shape in ((17, 5, 1), (23, 9, 3))]
                         + [(True, False, *shape, None) for shape in ((16, 40, 1), (13, 30, 2), (128, 129, 1))])
def test_fully_connected_fast(tmp_path, monkeypatch, split, per_channel, features_in, features_out, rows,
                              activation):
    """Four channels per pass, eight inputs per step: input tails of 1-7, channel tails of 1-3, batches;
    split int8 weights (the usual form) and plain ones (taken when an odd weight is -128); per-tensor
    weights without an activation take the whole-pass function for staged inputs (and the general
    pass for a channel tail)."""
    if not split:
        from tinyattend.codegen.ops import fully_connected
        monkeypatch.setattr(fully_connected, "splittable", lambda rows: False)
    def build(tf):
        shape = (features_in,) if rows == 1 else (rows, features_in)
        return tf.keras.Sequential([tf.keras.Input(shape, batch_size=1),
                                    tf.keras.layers.Dense(features_out, activation=activation)])
    shape = (1, features_in) if rows == 1 else (1, rows, features_in)
    tflite = int8_tflite(build, [shape], per_channel_dense=per_channel)
    report = assert_bit_exact(tflite, tmp_path, expect_ops=["FULLY_CONNECTED"], kernels="fast")
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert "ta_fully_connected_s8_fast(" in model_c and f".split_weights = {int(split)}," in model_c
    row_len = (features_in + 7) // 8 * 8
    staged = split and 2 * row_len <= features_in + features_out
    assert report["scratch_bytes"] == (2 * row_len + 16 if staged else 0), "inputs staged only where it pays"


def test_split_form_needs_odd_weights_above_minus_128():
    """-(-128) does not fit int8; even positions may hold -128 (stored as 0)."""
    import numpy as np

    from tinyattend.codegen.ops._fast import split_bias, split_bytes, splittable
    rows = np.array([[-128, 5, 127, -127], [0, -1, -128, 2]], np.int8)
    assert splittable(rows)
    assert split_bytes(rows).view(np.uint8).tolist() == [[0, 251, 255, 127], [128, 1, 0, 254]]
    assert split_bias(np.array([10, 0]), rows).tolist() == [10 - 129 * (5 - 127), -129 * (-1 + 2)]
    rows[1, 3] = -128
    assert not splittable(rows)


@pytest.mark.parametrize("layer", ["conv", "dense"])
def test_fast_kernels_exact_requantization_fallback(tmp_path, monkeypatch, layer):
    """When the short requantization cannot be proven exact, the fast kernels fall back to
    TFLM's; force that branch (normally taken only for extreme weights) and check it too."""
    import tinyattend.codegen.ops._fast as fast_module
    monkeypatch.setattr(fast_module, "fast_requant_ok", lambda *args: False)

    def build(tf):
        if layer == "conv":
            return tf.keras.Sequential([tf.keras.Input((9, 7, 4), batch_size=1),
                                        tf.keras.layers.Conv2D(5, 3, padding="same", activation="relu")])
        return tf.keras.Sequential([tf.keras.Input((19,), batch_size=1), tf.keras.layers.Dense(7)])
    shape = (1, 9, 7, 4) if layer == "conv" else (1, 19)
    assert_bit_exact(int8_tflite(build, [shape]), tmp_path, kernels="fast")
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert ".fast_requant = 0," in model_c, "the exact requantization branch should have been generated"


@pytest.mark.parametrize("const_shape", [None, (1, 1, 1, 6), (1, 5, 1, 1)])
def test_add_fast(tmp_path, const_shape):
    """ADD by two rescaling tables: residual (same shape) and broadcast constants."""
    import numpy as np

    def build(tf):
        if const_shape is None:
            x = tf.keras.Input((5, 7, 6), batch_size=1)
            a = tf.keras.layers.Conv2D(6, 3, padding="same")(x)
            return tf.keras.Model(x, tf.keras.layers.ReLU()(tf.keras.layers.Add()([a, x])))
        constant = tf.constant(np.random.default_rng(2).uniform(-2, 2, const_shape).astype("float32"))

        @tf.function
        def model(x):
            return tf.add(x, constant)
        return model
    assert_bit_exact(int8_tflite(build, [(1, 5, 7, 6)]), tmp_path, expect_ops=["ADD"], kernels="fast")
    assert "ta_add_s8_fast(" in (tmp_path / "model" / "model.c").read_text()


@pytest.mark.parametrize("op", ["conv", "depthwise", "dense"])
def test_dead_channels_keep_fast_requantization(tmp_path, op):
    """A channel with all-zero weights and a bias gets a tiny weight scale from the converter, so its
    int32 bias is near +-2^30 (VWW has 3-123 such channels per layer). Its output is a constant: the
    generator must produce TFLM's constant exactly and keep the fast requantization for the layer."""
    import numpy as np

    def build(tf):
        if op == "dense":
            layer = tf.keras.layers.Dense(6)
            shape = (12,)
        elif op == "depthwise":
            layer = tf.keras.layers.DepthwiseConv2D(3, padding="same")
            shape = (6, 7, 6)
        else:
            layer = tf.keras.layers.Conv2D(6, 3, padding="same")
            shape = (6, 7, 4)
        model = tf.keras.Sequential([tf.keras.Input(shape, batch_size=1), layer])
        kernel, bias = layer.get_weights()
        rng = np.random.default_rng(3)
        kernel = rng.normal(0, 0.3, kernel.shape).astype(np.float32)
        channels = kernel[:, :, :, 0] if op == "depthwise" else kernel    # output channels last
        channels[..., 1] = 0.0                   # channel 1: dead, with a positive bias
        channels[..., 4] = 0.0                   # channel 4: dead, with a negative bias
        bias = rng.normal(0, 0.1, bias.shape).astype(np.float32)
        bias[1], bias[4] = 0.7, -0.4
        layer.set_weights([kernel, bias])
        return model

    shape = {"dense": (1, 12), "depthwise": (1, 6, 7, 6), "conv": (1, 6, 7, 4)}[op]
    assert_bit_exact(int8_tflite(build, [shape]), tmp_path, kernels="fast")
    c_source = next(tmp_path.rglob("model.c")).read_text()
    assert "fast_requant = 0" not in c_source
    assert "_s8_fast(" in c_source, "the fast kernel should have been chosen"


def test_optimize_goal_steers_auto(tmp_path):
    """--kernels auto: `size` takes the portable kernels (least flash), `balanced` the fast ones; both exact."""
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((10, 10, 8), batch_size=1),
                                    tf.keras.layers.Conv2D(12, 3, padding="same", activation="relu"),
                                    tf.keras.layers.DepthwiseConv2D(3, padding="same"),
                                    tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)])
    tflite = int8_tflite(build, [(1, 10, 10, 8)])
    sizes = {}
    for goal in ("size", "balanced"):
        assert_bit_exact(tflite, tmp_path / goal, kernels="auto", optimize=goal, samples=20)
        model_c = (tmp_path / goal / "model" / "model.c").read_text()
        assert ("_s8_fast(" in model_c) == (goal != "size"), goal
        sizes[goal] = (tmp_path / goal / "model" / "model_data.c").stat().st_size
    assert sizes["size"] < sizes["balanced"]


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("shape", [(6, 7, 5), (64,)])
def test_mul_fast(tmp_path, activation, shape):
    """Same-shape MUL (an attention condenser's gating: features x sigmoid map) in the fast form."""
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input(shape, batch_size=1)
        gate = L.Activation("sigmoid")(L.Dense(shape[-1])(x))
        y = L.Multiply()([x, gate])
        return tf.keras.Model(x, L.Activation(activation)(y) if activation else y)
    assert_bit_exact(int8_tflite(build, [(1, *shape)], low=-3, high=3), tmp_path, expect_ops=["MUL"], kernels="fast")
    assert "ta_mul_s8_fast_shift" in (tmp_path / "model" / "model.c").read_text()


@pytest.mark.parametrize("hwc,pool,stride,padding,relu6", [
    ((9, 11, 5), 3, 2, "same", False),      # one word of channels and a single-channel tail, edge windows
    ((8, 7, 16), 2, 2, "valid", False),     # the condensers' 2x2 pooling
    ((10, 9, 8), (2, 3), (1, 2), "valid", True),
    ((7, 6, 12), 3, 1, "same", True),       # fused clamp on every word
])
def test_max_pool_fast(tmp_path, hwc, pool, stride, padding, relu6):
    def build(tf):
        L = tf.keras.layers
        layers = [tf.keras.Input(hwc, batch_size=1), L.Conv2D(hwc[-1], 1),
                  L.MaxPooling2D(pool, strides=stride, padding=padding)]
        return tf.keras.Sequential(layers + ([L.ReLU(6.0)] if relu6 else []))
    assert_bit_exact(int8_tflite(build, [(1, *hwc)], low=-4.0, high=4.0), tmp_path, expect_ops=["MAX_POOL_2D"],
                     kernels="fast")
    assert "ta_max_pool_s8_fast(" in (tmp_path / "model" / "model.c").read_text()


@pytest.mark.parametrize("hwc,pool,stride,padding,relu6", [
    ((9, 11, 23), 3, 2, "same", False),     # 16 + 4 channels and a tail of 3, edge windows counting fewer taps
    ((8, 7, 16), 2, 2, "valid", True),      # 16 channels, fused clamp
    ((25, 5, 64), (25, 5), 1, "valid", False),      # KWS's global mean: 125 taps
    ((6, 7, 5), (2, 3), (1, 2), "same", False),     # one word and a tail; even counts round ties away from zero
    ((17, 16, 4), (17, 16), 1, "valid", False),     # 272 taps: past 16-bit lanes, the portable kernel
])
def test_avg_pool_fast(tmp_path, hwc, pool, stride, padding, relu6):
    def build(tf):
        L = tf.keras.layers
        layers = [tf.keras.Input(hwc, batch_size=1), L.Conv2D(hwc[-1], 1),
                  L.AveragePooling2D(pool, strides=stride, padding=padding)]
        return tf.keras.Sequential(layers + ([L.ReLU(6.0)] if relu6 else []))
    assert_bit_exact(int8_tflite(build, [(1, *hwc)], low=-4.0, high=4.0), tmp_path, expect_ops=["AVERAGE_POOL_2D"],
                     kernels="fast")
    fast = pool[0] * pool[1] <= 256 if isinstance(pool, tuple) else True
    model_c = (tmp_path / "model" / "model.c").read_text()
    assert ("ta_avg_pool_s8_fast(" in model_c) == fast and ("ta_avg_pool_s8(" in model_c) != fast


@pytest.mark.parametrize("hwc,stride", [((10, 10, 8), 1), ((9, 12, 4), 2)])
def test_depthwise_fast_one_plane(tmp_path, monkeypatch, hwc, stride):
    """The fusion policy's narrow planes (depthwise_conv_2d.NARROW_PLANES) on channels that could go four at a
    time: one channel widened per plane. The option key is pointed at one every depthwise op has."""
    from tinyattend.codegen.ops import depthwise_conv_2d
    monkeypatch.setattr(depthwise_conv_2d, "NARROW_PLANES", "stride_h")

    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(3, strides=stride, padding="same",
                                                                    activation="relu")])
    assert_bit_exact(int8_tflite(build, [(1, *hwc)]), tmp_path, expect_ops=["DEPTHWISE_CONV_2D"], kernels="fast")
    assert ".fill_group = 1," in (tmp_path / "model" / "model.c").read_text()


@pytest.mark.parametrize("multiplier,shift", [(1 << 30, -3), (1518500250, -7), (1876499845, -10)])
def test_depthwise_sign_correction_left_out_only_at_zero_point_minus_128(multiplier, shift):
    """The 3x3 assembly's requantization, SMMLAR(2 acc, m, round) [+ (2 acc) >> 31] >> e then SSAT, against TFLM's
    over accumulators with ties: without the sign correction (sign_free) it is TFLM's when the output zero point is
    -128 and not otherwise, which is why the generator sets sign_free only there."""
    import numpy as np
    from tinyattend.ir.quant import multiply_by_quantized_multiplier
    e = -shift
    acc = np.arange(-3 << (e + 2), 3 << (e + 2), dtype=np.int64)
    for zero_point in (-128, 0, -100):
        round_ = (1 << (e - 1)) + zero_point * (1 << e)
        x = ((2 * acc * multiplier + (1 << 31)) >> 32) + round_
        tflm = np.clip([multiply_by_quantized_multiplier(int(a), multiplier, shift) + zero_point for a in acc], -128, 127)
        assert (np.clip((x + ((2 * acc) >> 31)) >> e, -128, 127) == tflm).all()
        assert (np.clip(x >> e, -128, 127) == tflm).all() == (zero_point == -128)
