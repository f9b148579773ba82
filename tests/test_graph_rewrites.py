"""Graph rewrites (codegen/graph_rewrites.py), each exact against TFLM: PAD folded into the convolution that reads
it (one tensor fewer); TRANSPOSE_CONV as CONV_2D + DEPTH_TO_SPACE (the fast conv kernel instead of the portable
scatter)."""
import numpy as np
import pytest

from op_harness import assert_bit_exact, int8_tflite, padded_conv_model


@pytest.mark.parametrize("conv", ["depthwise", "conv"])
@pytest.mark.parametrize("pads,stride", [(((0, 1), (0, 1)), 2), (((1, 2), (2, 1)), 1), (((2, 0), (1, 3)), 2)])
@pytest.mark.parametrize("kernels", ["portable", "fast"])
def test_pad_folds_into_convolution(tmp_path, conv, pads, stride, kernels):
    tflite = int8_tflite(lambda tf: padded_conv_model(tf, conv, pads, stride, filters=6), [(1, 11, 10, 8)])
    report = assert_bit_exact(tflite, tmp_path, kernels=kernels, samples=30, expect_ops=["PAD"])
    assert "PAD" not in report["ops"] and report["folded_ops"] == 1
    assert [layer["index"] for layer in report["layers"]] == list(range(len(report["ops"])))
    assert "ta_pad_s8" not in (tmp_path / "model" / "model.c").read_text()


@pytest.mark.parametrize("kernels", ["portable", "fast"])
def test_pad_after_the_image_folds_into_a_pointwise_convolution(tmp_path, kernels):
    """A PAD that adds only rows and columns after the image, folded into a 1x1 conv: the conv's
    output is larger than its input, so the fast kernel must not read it as pixel i -> pixel i
    (that read past the input, caught by ASan)."""
    def build(tf):
        L = tf.keras.layers
        x = tf.keras.Input((5, 6, 8), batch_size=1)
        y = L.ZeroPadding2D(((0, 1), (0, 2)))(L.Conv2D(8, 1, activation="relu")(x))
        return tf.keras.Model(x, L.Conv2D(4, 1)(y))
    report = assert_bit_exact(int8_tflite(build, [(1, 5, 6, 8)]), tmp_path, kernels=kernels, samples=20,
                              expect_ops=["PAD"])
    assert "PAD" not in report["ops"] and report["folded_ops"] == 1


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


# TRANSPOSE_CONV as CONV_2D (+ DEPTH_TO_SPACE + crop), end to end against TFLM; the geometry over many
# more shapes is test_transpose_conv_rewrite_sums_the_same_products. Layers are chained, one model per
# case, to keep the conversions and builds few. A layer: (filters, kernel, stride, padding,
# crop ((top, bottom), (left, right)) or None, fused activation, bias), and the ops it should become.
TCONV_CHAINS = {
    # (input HWC, kernel set, layers)
    "lowformer": ((4, 4, 8), "fast", [
        ((6, 4, 2, "valid", ((1, 1), (1, 1)), None, True), ["CONV_2D", "DEPTH_TO_SPACE", "STRIDED_SLICE"]),
        ((8, 3, 1, "valid", ((1, 1), (1, 1)), None, True), ["CONV_2D"]),          # the crop folds into the conv
    ]),
    "edges": ((3, 4, 4), "fast", [
        ((3, 5, 2, "same", None, None, False), ["CONV_2D", "DEPTH_TO_SPACE", "STRIDED_SLICE"]),   # grid cropped
        ((5, 4, 2, "valid", ((0, 2), (0, 2)), "relu6", True), ["CONV_2D", "DEPTH_TO_SPACE"]),     # grid = crop
        ((4, 2, 3, "valid", None, None, True), ["CONV_2D", "DEPTH_TO_SPACE"]),     # a phase has no taps
        ((4, (3, 2), 1, "valid", ((3, 0), (0, 1)), "relu", True), ["CONV_2D", "STRIDED_SLICE"]),  # grid higher
        # a 1x1 phase conv larger than its input (the fast conv's pointwise path must not take it)
        ((5, 2, 2, "valid", ((2, 1), (0, 3)), None, True), ["CONV_2D", "DEPTH_TO_SPACE", "STRIDED_SLICE"]),
    ]),
    "portable": ((5, 6, 3), "portable", [
        ((4, 3, 2, "same", None, "relu", True), ["CONV_2D", "DEPTH_TO_SPACE"]),
    ]),
}


def _tconv_tflite(chain: str) -> bytes:
    hwc, _, layers = TCONV_CHAINS[chain]

    def build(tf):
        L = tf.keras.layers
        x = y = tf.keras.Input(hwc, batch_size=1)
        for (filters, kernel, stride, padding, crop, activation, bias), _ in layers:
            y = L.Conv2DTranspose(filters, kernel, strides=stride, padding=padding, activation=activation,
                                  use_bias=bias, bias_initializer="random_normal")(y)
            if crop is not None:
                y = L.Cropping2D(crop)(y)
        return tf.keras.Model(x, y)
    return int8_tflite(build, [(1, *hwc)])


def _assert_rewritten(report: dict, out_dir, chain: str) -> None:
    layers = TCONV_CHAINS[chain][2]
    assert report["ops"] == [op for _, ops in layers for op in ops]
    assert report["rewritten_transpose_convs"] == len(layers)
    assert "ta_transpose_conv_s8(" not in (out_dir / "model" / "model.c").read_text()
    assert [layer["index"] for layer in report["layers"]] == list(range(len(report["ops"])))


@pytest.mark.parametrize("chain", list(TCONV_CHAINS))
def test_transpose_conv_becomes_conv(tmp_path, chain):
    tflite = _tconv_tflite(chain)
    report = assert_bit_exact(tflite, tmp_path, kernels=TCONV_CHAINS[chain][1], samples=30,
                              expect_ops=["TRANSPOSE_CONV"])
    _assert_rewritten(report, tmp_path, chain)


def test_transpose_conv_becomes_conv_on_board(tmp_path):
    import shutil
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm and arm-none-eabi-gcc are needed")
    from op_harness import assert_bit_exact_on_board
    report = assert_bit_exact_on_board(_tconv_tflite("lowformer"), tmp_path, kernels="fast", samples=4)
    _assert_rewritten(report, tmp_path, "lowformer")


def test_transpose_conv_unequal_strides_stays(tmp_path):
    """DEPTH_TO_SPACE has one block size: strides (1, 2) keep the portable TRANSPOSE_CONV kernel."""
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((4, 5, 3), batch_size=1),
                                    tf.keras.layers.Conv2DTranspose(4, 3, strides=(1, 2), padding="same")])
    report = assert_bit_exact(int8_tflite(build, [(1, 4, 5, 3)]), tmp_path, kernels="fast", samples=20)
    assert report["ops"] == ["TRANSPOSE_CONV"] and report["rewritten_transpose_convs"] == 0


def _random_tconv_graph(rng):
    """A TRANSPOSE_CONV (any stride, kernel, padding, output a little larger than TFLite's own size),
    optionally followed by a STRIDED_SLICE cropping rows and columns."""
    from types import MappingProxyType

    from tinyattend.ir.graph import Graph, Op, QuantParams, Tensor
    s = int(rng.integers(1, 5))
    k = tuple(int(v) for v in rng.integers(1, 7, 2))
    hw = tuple(int(v) for v in rng.integers(1, 6, 2))
    padding = str(rng.choice(["SAME", "VALID"]))
    c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    extra = tuple(int(v) for v in rng.integers(0, s, 2))      # Keras' output_padding
    out = [(d - 1) * s + kk + e if padding == "VALID" else d * s + e for d, kk, e in zip(hw, k, extra)]
    tensors = []

    def add(shape, dtype, quant=None, data=None):
        tensors.append(Tensor(len(tensors), f"t{len(tensors)}", tuple(shape), dtype, quant,
                              None if data is None else np.asarray(data).tobytes()))
        return len(tensors) - 1

    x = add((1, *hw, c_in), "int8", QuantParams((0.05,), (3,)))
    shape = add((4,), "int32", None, np.array([1, *out, c_out], "<i4"))
    w = add((c_out, *k, c_in), "int8", QuantParams(tuple(rng.uniform(0.01, 0.02, c_out)), (0,) * c_out, 0),
            rng.integers(-127, 128, (c_out, *k, c_in)).astype(np.int8))
    b = add((c_out,), "int32", QuantParams((1e-3,) * c_out, (0,) * c_out, 0),
            rng.integers(-999, 999, c_out).astype("<i4"))
    y = add((1, *out, c_out), "int8", QuantParams((0.1,), (-2,)))
    options = {"padding": padding, "stride_h": s, "stride_w": s, "fused_activation_function": "NONE"}
    ops = [Op(0, "TRANSPOSE_CONV", (shape, w, x, b), (y,), MappingProxyType(options))]
    result = y
    if rng.random() < 0.6:
        top, left = (int(rng.integers(0, d)) for d in out)
        height, width = (int(rng.integers(1, d - start + 1)) for d, start in zip(out, (top, left)))
        consts = [add((4,), "int32", None, np.array(v, "<i4")) for v in
                  ((0, top, left, 0), (1, top + height, left + width, c_out), (1, 1, 1, 1))]
        result = add((1, height, width, c_out), "int8", QuantParams((0.1,), (-2,)))
        slice_options = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                         "shrink_axis_mask": 0, "offset": False}
        ops.append(Op(1, "STRIDED_SLICE", (y, *consts), (result,), MappingProxyType(slice_options)))
    return Graph("random_tconv", tuple(tensors), tuple(ops), (x,), (result,))


def _accumulators(graph, x: np.ndarray) -> np.ndarray:
    """The graph's output before requantization: every (transpose) convolution leaves
    bias + sum((x - zero point) * w) in int64; data movement moves those."""
    from tinyattend.codegen.ops.strided_slice import resolve
    from tinyattend.codegen.ops.transpose_conv import transpose_padding
    values = {graph.inputs[0]: x.astype(np.int64) - graph.tensor(graph.inputs[0]).zero_point}
    for op in graph.ops:
        o, out_shape = op.options, graph.tensor(op.outputs[0]).shape
        if op.type == "TRANSPOSE_CONV":                 # TFLM's scatter
            v, w = values[op.inputs[2]], graph.tensor(op.inputs[1]).array().astype(np.int64)
            _, fh, fw, _ = w.shape
            s = o["stride_h"]
            pad_h, pad_w = transpose_padding(o["padding"], out_shape[1], out_shape[2], fh, fw, s, s)
            acc = np.zeros(out_shape, np.int64) + graph.tensor(op.inputs[3]).array()
            for iy, ix, ky, kx in np.ndindex(v.shape[1], v.shape[2], fh, fw):
                oy, ox = iy * s - pad_h + ky, ix * s - pad_w + kx
                if 0 <= oy < out_shape[1] and 0 <= ox < out_shape[2]:
                    acc[0, oy, ox] += w[:, ky, kx, :] @ v[0, iy, ix]
        elif op.type == "CONV_2D":                      # stride 1, explicit padding: padding adds 0
            v, w = values[op.inputs[0]], graph.tensor(op.inputs[1]).array().astype(np.int64)
            acc = np.zeros(out_shape, np.int64) + graph.tensor(op.inputs[2]).array()
            for oy, ox, j, i in np.ndindex(out_shape[1], out_shape[2], w.shape[1], w.shape[2]):
                iy, ix = oy - o["pad_top"] + j, ox - o["pad_left"] + i
                if 0 <= iy < v.shape[1] and 0 <= ix < v.shape[2]:
                    acc[0, oy, ox] += w[:, j, i, :] @ v[0, iy, ix]
        elif op.type == "DEPTH_TO_SPACE":
            v, bs = values[op.inputs[0]], o["block_size"]
            n, h, w_, c = v.shape
            acc = v.reshape(n, h, w_, bs, bs, c // bs // bs).transpose(0, 1, 3, 2, 4, 5).reshape(out_shape)
        else:
            assert op.type == "STRIDED_SLICE"
            axes, _ = resolve(op, graph)
            acc = values[op.inputs[0]][np.ix_(*[start + stride * np.arange(count) for start, stride, count in axes])]
        assert acc.shape == tuple(out_shape)
        values[op.outputs[0]] = acc
    return values[graph.outputs[0]]


def test_transpose_conv_rewrite_sums_the_same_products():
    """Random strides 1-4, kernels 1-6, SAME/VALID, larger outputs and crops: the rewritten graph
    leaves the same int32 accumulator (bias included) in every output element as TFLM's transpose
    conv, before the (unchanged, per-channel) requantization."""
    from tinyattend.codegen.graph_rewrites import transpose_conv_to_conv
    rng = np.random.default_rng(3)
    rewritten = 0
    for _ in range(150):
        graph = _random_tconv_graph(rng)
        new = transpose_conv_to_conv(graph)
        x = rng.integers(-128, 128, graph.tensor(graph.inputs[0]).shape)
        np.testing.assert_array_equal(_accumulators(new, x), _accumulators(graph, x))
        assert "TRANSPOSE_CONV" not in [op.type for op in new.ops]
        assert [op.index for op in new.ops] == list(range(len(new.ops)))
        rewritten += 1
    assert rewritten == 150
