"""Fast requantization for channels whose TFLite shift is >= 0 (effective scale >= 0.5).

Trained models get such channels (a small output range after an attention condenser); the fast
depthwise kernel used to leave the whole layer to the portable kernel for one of them (17.7x the
instructions). The generator now scales those channels' taps and offsets their accumulator
(codegen/ops/_requant_left.py). Checked here: the arithmetic against TFLM's
MultiplyByQuantizedMultiplier over whole accumulator ranges, and depthwise layers whose channels
have shifts 0, 1, 2, 3 beside usual channels, per channel and per tensor, bit-exact with TFLM
on the host (ASan/UBSan) and on the emulated Cortex-M7; the same for CONV_2D with int16 weights.
"""
import shutil

import numpy as np
import pytest

from op_harness import assert_bit_exact, assert_bit_exact_on_board, int8_tflite, with_output_quantization

# Effective scales (input scale * weight scale / output scale) per channel: TFLite shifts 0 (0.75 has
# rounding ties at acc = 2 mod 4; 0.5 is the multiplier 2^30), 1 (1.5), 2 (2.2), 3 (6.5, ties at odd acc),
# beside usual scales well below 0.5.
SCALES = [0.75, 6.5, 0.004, 1.5, 0.01, 2.2, 0.5, 0.02, 0.6, 0.003, 0.75, 0.005]
SCALES_0 = [0.75, 0.004, 0.5, 0.01, 0.6, 0.002, 0.93, 0.003]      # shift 0 beside usual channels


def test_left_channel_matches_tflm_over_whole_ranges():
    from tinyattend.codegen.ops._requant_left import left_channel
    from tinyattend.ir.quant import multiply_by_quantized_multiplier

    rng = np.random.default_rng(5)
    cases = [(3 << 29, 0), (1 << 30, 0), (5 << 28, 3), (13 << 27, 3), (1288490189, 1), (2147483647, 0)]
    cases += [(int(rng.integers(1 << 30, 1 << 31)), int(s)) for s in rng.integers(0, 6, 6)]
    for multiplier, shift in cases:
        for zero_point, (low, high), even in [(-128, (-3000, 2500), False), (7, (-40000, 41), True),
                                              (127, (0, 900), False), (-5, (-900, 5000), True)]:
            form = left_channel(low, high, 127, multiplier, shift, zero_point, even_offset=even)
            assert form is not None, (multiplier, shift)
            scale, offset, rounding, right = form
            assert offset % 2 == 0 or not even
            acc = np.arange(low, high + 1, dtype=object)
            a = scale * acc + offset
            assert a.min() >= 0 and a.max() < 1 << 31
            x = rounding + (a * multiplier + (1 << 31)) // (1 << 32) + (a >> 31)   # the kernel's SMMLAR form
            ours = x >> right
            tflm = [multiply_by_quantized_multiplier(int(v), multiplier, shift) + zero_point for v in acc]
            assert ours.tolist() == tflm, (multiplier, shift, zero_point)
    assert left_channel(-10, 10, 127, 3 << 29, 8, 0) is None      # 2^9 * 127 beyond int16 taps: no fast form


def _depthwise_with_scales(hwc, kernel, stride, multiplier, activation, scales, per_channel, seed=0):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                                                    depth_multiplier=multiplier,
                                                                    activation=activation)])
    return _with_scales(int8_tflite(build, [(1, *hwc)], per_channel=per_channel), scales, per_channel, -1, seed)


def _conv_with_scales(hwc, filters, kernel, activation, scales, seed=0):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input(hwc, batch_size=1),
                                    tf.keras.layers.Conv2D(filters, kernel, padding="same", activation=activation)])
    return _with_scales(int8_tflite(build, [(1, *hwc)]), scales, True, 0, seed)


def _with_scales(tflite, scales, per_channel, axis, seed):
    """The converted layer with weight scales `scales` per output channel (weights' `axis`) and the
    output scale set equal to the input scale, so they are the effective scales; small taps on the
    channels scaled >= 0.5 so their outputs are not all saturated."""
    rng = np.random.default_rng(seed)

    def edit(op, model, schema):
        tensors = model.subgraphs[0].tensors
        input_scale = float(tensors[op.inputs[0]].quantization.scale[0])
        w, b = tensors[op.inputs[1]], tensors[op.inputs[2]]
        shape = [int(v) for v in w.shape]
        out_c = shape[axis]
        weight_scales = np.array([scales[c % len(scales)] for c in range(out_c)], np.float32)
        taps = np.moveaxis(rng.integers(-127, 128, size=shape), axis, -1).reshape(-1, out_c)
        small = weight_scales >= 0.5
        taps[:, small] = rng.integers(-2, 3, size=(taps.shape[0], int(small.sum()))) \
            * (rng.random((taps.shape[0], int(small.sum()))) < 0.4)
        taps = np.moveaxis(taps.reshape([*np.delete(shape, axis % len(shape)), out_c]), -1, axis)
        if not per_channel:
            weight_scales = weight_scales[:1]
        w.quantization.scale = weight_scales
        w.quantization.zeroPoint = np.zeros(len(weight_scales), np.int64)
        model.buffers[w.buffer].data = taps.astype(np.int8).view(np.uint8).ravel()
        b.quantization.scale = (weight_scales.astype(np.float64) * input_scale).astype(np.float32)
        b.quantization.zeroPoint = np.zeros(len(weight_scales), np.int64)
        bias = rng.integers(-300, 300, size=out_c).astype(np.int32)
        model.buffers[b.buffer].data = bias.view(np.uint8)
        tensors[op.outputs[0]].quantization.scale = np.array([input_scale], np.float32)
    return with_output_quantization(tflite, zero_point=5, edit_op=edit)


def _near_zero_point(tflite, shape, count=6, seed=1):
    """Inputs within a few steps of the input zero point: the large-scale channels' unsaturated outputs."""
    from tinyattend.ir.tflite_reader import read_tflite
    graph = read_tflite(tflite)
    zero_point = graph.tensor(graph.inputs[0]).zero_point
    values = zero_point + np.random.default_rng(seed).integers(-6, 7, size=(count, *shape))
    return np.clip(values, -128, 127).astype(np.int8)


def _shifts(tflite):
    """The layer's TFLite shifts, as the generator computes them."""
    from tinyattend.codegen.ops._conv_quant import channel_multipliers
    from tinyattend.ir.tflite_reader import read_tflite
    graph = read_tflite(tflite)
    (op,) = graph.ops
    return channel_multipliers(graph, op, graph.tensor(op.outputs[0]).shape[-1])[1].tolist()


DW_CASES = [
    # hwc, kernel, stride, depth multiplier, activation, per channel
    ((6, 7, 12), 3, 1, 1, None, True),        # 3x3 stride 1, four channels widened together
    ((7, 9, 6), 3, 2, 2, "relu", True),       # 3x3 stride 2, multiplier 2, clamped range (C path)
    ((6, 5, 4), 5, 1, 1, None, True),         # 5x5: tap pairs
    ((10, 11, 3), 3, 3, 1, None, True),       # stride 3: one tap at a time
    ((6, 7, 8), 3, 1, 1, "relu6", False),     # per tensor: every channel shift 0 (0.75)
]


@pytest.mark.parametrize("hwc,kernel,stride,multiplier,activation,per_channel", DW_CASES)
def test_depthwise_left_shift_channels_fast_and_exact(tmp_path, hwc, kernel, stride, multiplier, activation,
                                                      per_channel):
    tflite = _depthwise_with_scales(hwc, kernel, stride, multiplier, activation, SCALES, per_channel)
    shape = (1, *hwc)
    shifts = _shifts(tflite)
    assert ({0, 3} <= set(shifts) and min(shifts) < 0) if per_channel else set(shifts) == {0}
    assert_bit_exact(tflite, tmp_path, kernels="fast", expect_ops=["DEPTHWISE_CONV_2D"],
                     extra_inputs=_near_zero_point(tflite, shape))
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_depthwise_conv2d_s8_fast(" in model_c, "shift >= 0 channels should keep the fast kernel"


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="arm-none-eabi-gcc and qemu-system-arm are needed (make setup installs them)")
@pytest.mark.parametrize("layer", ["depthwise", "conv_wide", "conv_int8"])
def test_left_shift_channels_on_m7(tmp_path, monkeypatch, layer):
    """The depthwise 3x3 assembly channel loop (full int8 range) and the conv's assembly pair loop
    (int16 weights: shifts 0..3; int8: shift 0) with shift >= 0 channels, on the emulated M7."""
    if layer == "depthwise":
        tflite, shape = _depthwise_with_scales((8, 8, 12), 3, 1, 1, None, SCALES, True), (1, 8, 8, 12)
    else:
        from tinyattend.codegen.ops import _winograd, conv_2d
        monkeypatch.setattr(_winograd, "eligible", lambda op, graph: False)     # the direct kernel's loop
        lower_fast = conv_2d._lower_fast
        wide = layer == "conv_wide"
        monkeypatch.setattr(conv_2d, "_lower_fast", lambda *args, wide: lower_fast(*args, wide=wide_form))
        wide_form = wide
        tflite, shape = _conv_with_scales((6, 7, 8), 12, 3, None, SCALES if wide else SCALES_0), (1, 6, 7, 8)
    assert_bit_exact_on_board(tflite, tmp_path, board="cortex-m7", samples=3,
                              extra_inputs=_near_zero_point(tflite, shape, count=2))
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "_s8_fast(" in model_c and "fast_requant = 0" not in model_c


@pytest.mark.parametrize("wide,scales,fast", [(True, SCALES, True), (True, SCALES_0, True), (False, SCALES, False),
                                             (False, SCALES_0, True)])
def test_conv_left_shift_channels(tmp_path, monkeypatch, wide, scales, fast):
    """CONV_2D with int16 (widened) weights scales them as the depthwise kernel does (its accumulator
    is doubled, so the offsets are even). int8 weights cannot be scaled: shift 0 channels still take
    the fast form (an offset in the bias), shifts >= 1 the conv kernel's exact requantization.
    (The direct kernel: test_ops_winograd.py runs the same layers through Winograd.)"""
    from tinyattend.codegen.ops import _winograd, conv_2d
    monkeypatch.setattr(_winograd, "eligible", lambda op, graph: False)
    lower_fast = conv_2d._lower_fast
    monkeypatch.setattr(conv_2d, "_lower_fast", lambda *args, wide: lower_fast(*args, wide=wide_form))
    wide_form = wide
    tflite = _conv_with_scales((6, 7, 8), 12, 3, None, scales)
    assert set(_shifts(tflite)) >= ({0, 1, 2, 3} if scales is SCALES else {0})
    assert_bit_exact(tflite, tmp_path, kernels="fast", extra_inputs=_near_zero_point(tflite, (1, 6, 7, 8)))
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_conv2d_s8_fast(" in model_c
    assert (".fast_requant = 1," in model_c) == fast


@pytest.mark.parametrize("per_channel", [True, False])
def test_fully_connected_shift0_channels(tmp_path, per_channel):
    """FULLY_CONNECTED (int8 weights): shift 0 channels keep the fast requantization, per channel and
    per tensor (one scale, offsets per channel: the constants then come per channel)."""
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((40,), batch_size=1),
                                    tf.keras.layers.Dense(12, bias_initializer="ones")])
    tflite = _with_scales(int8_tflite(build, [(1, 40)], per_channel_dense=per_channel), SCALES_0, per_channel, 0, 0)
    shifts = _shifts(tflite)
    assert (0 in shifts and min(shifts) < 0) if per_channel else set(shifts) == {0}
    assert_bit_exact(tflite, tmp_path, kernels="fast", extra_inputs=_near_zero_point(tflite, (1, 40)))
    model_c = next(tmp_path.rglob("model.c")).read_text()
    assert "ta_fully_connected_s8_fast(" in model_c and ".fast_requant = 1," in model_c
