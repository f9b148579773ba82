"""Calibration (tinyattend.convert.ranges): every activation's min/max over the samples, linear in their number."""
from __future__ import annotations

import numpy as np
import pytest

import model_factory as mf
from tinyattend.convert import convert_model


class CountingBar:
    """Stands where the progress bar goes: `update(n)` is called once per forward pass, with its samples."""

    def __init__(self):
        self.passes, self.samples = 0, 0
        self.threads = set()

    def update(self, n: int = 1) -> None:
        import threading
        self.passes += 1
        self.samples += n
        self.threads.add(threading.current_thread().name)


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    """The float TFLite a real conversion quantized (ops model: conv, depthwise, pools, condenser, FC)."""
    work = tmp_path_factory.mktemp("ranges")
    path = mf.save(mf.ops_model(), work / "ops_model.onnx")
    calib = work / "calib.npy"
    np.save(calib, np.random.default_rng(1).random((8, 3, 32, 32), dtype=np.float32))
    result = convert_model(path, calib=str(calib), progress=False)
    assert result.float_tflite is not None
    return result.float_tflite


def _model(float_tflite: bytes):
    from tensorflow.lite.tools import flatbuffer_utils
    return flatbuffer_utils.read_model_from_bytearray(bytearray(float_tflite))


def _samples(count: int) -> np.ndarray:
    return np.random.default_rng(count).random((count, 32, 32, 3), dtype=np.float32)


def test_forward_passes_grow_linearly(float_model):
    """N and 2N samples: every sample is run exactly once, in twice the forward passes."""
    from tinyattend.convert.ranges import activation_ranges, activation_tensors

    tensors = activation_tensors(_model(float_model))
    passes = {}
    for count in (48, 96):
        bar = CountingBar()
        activation_ranges(float_model, _samples(count), tensors, bar)
        assert bar.samples == count
        passes[count] = bar.passes
    assert passes[96] == 2 * passes[48], passes


def test_batched_ranges_equal_one_sample_at_a_time(float_model):
    """Several samples per invoke (where the graph takes a batch) give the ranges of one at a time."""
    from tinyattend.convert.ranges import activation_ranges, activation_tensors

    model = _model(float_model)
    tensors = activation_tensors(model)
    samples = _samples(40)
    batched = activation_ranges(float_model, samples, tensors, batch=8)
    single = activation_ranges(float_model, samples, tensors, batch=1)
    assert batched.keys() == single.keys() and len(single) >= 10
    for index, (low, high) in single.items():
        assert batched[index] == pytest.approx((low, high), rel=1e-5, abs=1e-6), index
    # the input's range is the samples' own
    assert single[int(model.subgraphs[0].inputs[0])] == pytest.approx((float(samples.min()), float(samples.max())))


def test_two_threads_give_the_ranges_of_one_exactly(float_model):
    """Calibration shares its invokes out over two threads (both cores): the same groups of samples, so
    the same ranges bit for bit, the same forward passes, and both threads really take part."""
    from tinyattend.convert.ranges import activation_ranges, activation_tensors

    tensors = activation_tensors(_model(float_model))
    samples = _samples(85)                     # 10 batches of 8 and 5 single samples
    runs = {}
    for workers in (1, 2):
        bar = CountingBar()
        runs[workers] = activation_ranges(float_model, samples, tensors, bar, batch=8, workers=workers), bar
    (one, one_bar), (two, two_bar) = runs[1], runs[2]
    assert two == one and len(one) >= 10
    assert (two_bar.passes, two_bar.samples) == (one_bar.passes, one_bar.samples) == (15, 85)
    assert len(one_bar.threads) == 1 and len(two_bar.threads) == 2, two_bar.threads


@pytest.mark.slow
def test_maxpool_padding_sentinel_stays_out_of_the_ranges(tmp_path):
    """onnx2tf pads a padded MaxPool with the lowest float32 (PADV2). That value must not set the range:
    the int8 scales stay those of the data (a 1e36 scale made LiteRT and TFLM abort on ResNet-18), and LiteRT
    runs the int8 model for the error measurement."""
    from tinyattend.ir.tflite_reader import read_tflite

    b = mf.OnnxBuilder([1, 3, 16, 16])
    x = b.relu(b.random_conv(b.input_name, 3, 8))
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    path = mf.save(b.build(b.reduce_mean(x), [1, 8]), tmp_path / "padded_pool.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((16, 3, 16, 16), dtype=np.float32))
    result = convert_model(path, calib=str(calib), progress=False)
    graph = read_tflite(result.tflite, "padded_pool")
    assert "PADV2" in [op.type for op in graph.ops] or "MAX_POOL_2D" in [op.type for op in graph.ops]
    scales = [max(t.quant.scale) for t in graph.tensors
              if t.quant is not None and not t.is_constant and t.dtype == "int8"]
    assert scales and max(scales) < 1.0, scales
    assert result.report["quantization_error"] is not None, result.report["warnings"]
    from tinyattend.report.layer_error import layer_errors
    rows = layer_errors(result.float_tflite, result.tflite, result.held_out_nhwc)
    assert rows and all(r["channel_sqnr_db"] is None or r["channel_sqnr_db"] > 10 for r in rows), rows


_TFLM_RUN = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read())
it.set_input(np.zeros(it.get_input_details(0)["shape"], np.int8), 0)
it.invoke()
print("RAN")
"""


@pytest.mark.parametrize("through_transpose", [False, True])
def test_softmax_of_near_constant_logits_runs_in_tflm(tmp_path, through_transpose):
    """Logits within ~1e-6 of each other (a randomly initialised LeViT's attention) gave the softmax input an
    int8 scale under 2^-26, on which TFLM's softmax aborts the process (QuantizeMultiplierGreaterThanOne) and
    verify died without a word. The calibration widens a softmax input's range (and that of the TRANSPOSE before
    it): TFLM prepares and runs it."""
    import subprocess
    import sys

    from tinyattend.convert.ranges import SOFTMAX_MIN_SPAN
    from tinyattend.ir.tflite_reader import read_tflite

    b = mf.OnnxBuilder([1, 3, 8, 8])
    logits = b.conv(b.input_name, np.full((8, 3, 1, 1), 1e-8, np.float32) * np.arange(1, 9).reshape(8, 1, 1, 1))
    if through_transpose:     # EfficientViT: the softmax reads a TRANSPOSE, which keeps its input's scale
        tokens = b.op("Reshape", [logits, b.const(np.array([1, 8, 64], np.int64), "shape")])
        probs, shape = b.op("Softmax", [b.op("Transpose", [tokens], perm=[0, 2, 1])], axis=-1), [1, 64, 8]
    else:
        probs, shape = b.op("Softmax", [logits], axis=1), [1, 8, 8, 8]
    path = mf.save(b.build(probs, shape), tmp_path / "flat_softmax.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((16, 3, 8, 8), dtype=np.float32))
    result = convert_model(path, calib=str(calib), progress=False)
    graph = read_tflite(result.tflite, "flat_softmax")
    [softmax] = [op for op in graph.ops if op.type == "SOFTMAX"]
    scale = max(graph.tensors[softmax.inputs[0]].quant.scale)
    assert scale >= SOFTMAX_MIN_SPAN / 255 * 0.99, scale
    model = tmp_path / "model.tflite"
    model.write_bytes(result.tflite)
    run = subprocess.run([sys.executable, "-c", _TFLM_RUN, str(model)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "RAN" in run.stdout, (run.returncode, run.stderr[-800:])
