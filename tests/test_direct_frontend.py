"""The direct ONNX front end: onnx2tf's flatbuffer writer, TRANSPOSE pairs cancelled, TF's MLIR quantizer
without TensorFlow; and the fall-back to the TensorFlow path."""
from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import model_factory as mf
from tinyattend.cli import main
from tinyattend.convert.model_stats import model_stats
from tinyattend.progress import SILENT

ROOT = Path(__file__).resolve().parents[1]


def gated_model(seed: int = 5):
    """An attention-condenser-like block: sigmoid gate times a per-channel (1, C, 1, 1) scale, nearest
    upsampled, times the features; onnx2tf's direct writer runs the gate in NCHW between two TRANSPOSEs."""
    b = mf.OnnxBuilder([1, 3, 16, 16], "gated", seed=seed)
    v = b.relu(b.random_conv(b.input_name, 3, 8))
    gate = b.sigmoid(b.random_conv(b.maxpool(v), 8, 8, k=1))
    scale = b.const(np.linspace(0.5, 1.5, 8, dtype=np.float32).reshape(1, 8, 1, 1), "scale")
    x = b.mul(v, b.resize_nearest(b.mul(gate, scale), 2))
    return b.build(b.random_gemm(b.reduce_mean(x), 8, 4), [1, 4])


def layernorm_model():
    """Tokens (8 channels, 64 positions) through a LayerNorm written out as torch exports it below opset 17:
    onnx2tf's direct writer makes POW(variance + eps, -0.5), which has no int8 kernel anywhere."""
    b = mf.OnnxBuilder([1, 3, 16, 16], "tokens_ln", seed=7)
    x = b.relu(b.random_conv(b.input_name, 3, 8, stride=2))
    x = b.op("Reshape", [x, b.const(np.array([1, 8, 64], np.int64), "shape")])
    x = b.op("Transpose", [x], perm=[0, 2, 1])
    centred = b.op("Sub", [x, b.op("ReduceMean", [x], axes=[-1], keepdims=1)])
    variance = b.op("ReduceMean", [b.op("Mul", [centred, centred])], axes=[-1], keepdims=1)
    x = b.op("Div", [centred, b.op("Sqrt", [b.op("Add", [variance, b.const(np.array(1e-5, np.float32))])])])
    x = b.op("Add", [b.op("Mul", [x, b.const(np.linspace(0.5, 1.5, 8).astype(np.float32))]),
                     b.const(np.full(8, 0.1, np.float32))])
    return b.build(b.random_gemm(b.op("ReduceMean", [x], axes=[1], keepdims=0), 8, 4), [1, 4])


def channel_slice_model():
    """A slice of the channels between convolutions: onnx2tf's direct writer slices in NCHW between two
    TRANSPOSEs, and TF's quantizer writes the slice as SLICE, which has no int8 kernel of ours."""
    b = mf.OnnxBuilder([1, 3, 16, 16], "slices", seed=4)
    x = b.relu(b.random_conv(b.input_name, 3, 16, stride=2))
    x = b.op("Slice", [x, b.const(np.array([4], np.int64)), b.const(np.array([12], np.int64)),
                       b.const(np.array([1], np.int64))])
    return b.build(b.random_gemm(b.reduce_mean(b.relu(b.random_conv(x, 8, 8, k=1))), 8, 4), [1, 4])


def channel_shuffle_model():
    """ShuffleNetV2's unit: half the channels through a conv, concatenated back, channels shuffled. onnx2tf
    2.6.9's direct writer builds a CONCATENATION LiteRT cannot prepare (as for torchvision's ShuffleNetV2)."""
    b = mf.OnnxBuilder([1, 3, 16, 16], "shuffle", seed=9)
    x = b.relu(b.random_conv(b.input_name, 3, 16, stride=2))
    halves = [b.op("Slice", [x, b.const(np.array([start], np.int64)), b.const(np.array([start + 8], np.int64)),
                             b.const(np.array([1], np.int64))]) for start in (0, 8)]
    x = b.op("Concat", [halves[0], b.relu(b.random_conv(halves[1], 8, 8, k=1))], axis=1)
    x = b.op("Reshape", [x, b.const(np.array([1, 2, 8, 8, 8], np.int64))])
    x = b.op("Transpose", [x], perm=[0, 2, 1, 3, 4])
    x = b.relu(b.random_conv(b.op("Reshape", [x, b.const(np.array([1, 16, 8, 8], np.int64))]), 16, 16, k=1))
    return b.build(b.random_gemm(b.reduce_mean(x), 16, 4), [1, 4])


def _ops(tflite: bytes) -> dict:
    return model_stats(tflite)["op_histogram"]


def _run_float(tflite: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=tflite,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def direct_float():
    from tinyattend.convert.onnx_direct import direct_float_tflite
    from tinyattend.convert.onnx_checks import onnx_input

    model = gated_model()
    return direct_float_tflite(model, onnx_input(model, Path("gated.onnx"), None), SILENT)


def test_layout_transposes_sink_through_the_gate_and_into_the_mean(direct_float):
    from tinyattend.convert.tflite_transposes import without_transpose_pairs

    before = _ops(direct_float)
    # A pair around LOGISTIC + MUL by the (1, C, 1, 1) scale, and one before the global MEAN.
    assert before.get("TRANSPOSE", 0) == 3, f"the pattern this test is about changed in onnx2tf's output: {before}"
    after_model, removed = without_transpose_pairs(direct_float)
    after = _ops(after_model)
    assert removed == 3
    assert "TRANSPOSE" not in after
    assert {k: v for k, v in before.items() if k != "TRANSPOSE"} == after
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((1, 16, 16, 3)).astype(np.float32)
        # Elementwise chains give the same floats; the MEAN sums in another order (last bits may differ).
        np.testing.assert_allclose(_run_float(direct_float, x), _run_float(after_model, x), rtol=1e-5, atol=1e-6)


def test_lean_direct_writer_writes_the_same_model(direct_float, monkeypatch):
    """Without pass snapshots and progress threads (onnx2tf_lean) onnx2tf writes the very bytes it writes
    with them, and the installed onnx2tf has both attributes the patches replace (else they do nothing)."""
    import onnx2tf.tflite_builder as builder
    from onnx2tf.tflite_builder.core.model_ir_pass_state import ModelIRPassState

    from tinyattend.convert import onnx_direct
    from tinyattend.convert.onnx2tf_lean import lean_direct_writer
    from tinyattend.convert.onnx_checks import onnx_input

    snapshot, export = ModelIRPassState.snapshot, builder.export_tflite_model_flatbuffer_direct
    with lean_direct_writer() as patched:
        assert patched == 2
        assert ModelIRPassState.snapshot is not snapshot and builder.export_tflite_model_flatbuffer_direct is not export
    assert ModelIRPassState.snapshot is snapshot and builder.export_tflite_model_flatbuffer_direct is export

    @contextlib.contextmanager
    def unpatched():
        yield 0
    monkeypatch.setattr(onnx_direct, "lean_direct_writer", unpatched)
    model = gated_model()
    plain = onnx_direct.direct_float_tflite(model, onnx_input(model, Path("gated.onnx"), None), SILENT)
    assert plain == direct_float


def _python(code: str, env: dict | None = None) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT,
                            env={**clean, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_quantizer_without_tensorflow_writes_what_tfs_converter_call_writes(tmp_path, direct_float):
    """Our call of the MLIR quantizer (TensorFlow's Python package never imported) and TF's own
    `mlir_quantize` called as the TensorFlow path's Int8Converter calls it (TF converter defaults: per-channel,
    no variable quantization, default debug options) give the same bytes for the same calibrated model."""
    from tinyattend.convert.ranges import calibrated
    from tinyattend.convert.tflite_transposes import without_transpose_pairs

    model, _ = without_transpose_pairs(direct_float)
    samples = np.random.default_rng(1).standard_normal((20, 16, 16, 3)).astype(np.float32)
    (tmp_path / "calibrated.tflite").write_bytes(calibrated(model, samples))
    ours = _python(
        "import json, sys\n"
        "from tinyattend.convert.mlir_quantizer import quantize_calibrated\n"
        f"data = open({str(tmp_path / 'calibrated.tflite')!r}, 'rb').read()\n"
        f"open({str(tmp_path / 'ours.tflite')!r}, 'wb').write(quantize_calibrated(data))\n"
        "print(json.dumps({'tensorflow': 'tensorflow' in sys.modules}))\n")
    _python(
        "import json\n"
        "import tensorflow as tf\n"
        "from tensorflow.lite.python.convert import mlir_quantize\n"
        f"data = open({str(tmp_path / 'calibrated.tflite')!r}, 'rb').read()\n"
        "out = mlir_quantize(data, False, input_data_type=tf.int8, output_data_type=tf.int8,\n"
        "                    enable_variable_quantization=False, disable_per_channel_for_dense_layers=False,\n"
        "                    debug_options_str=b'')\n"
        f"open({str(tmp_path / 'theirs.tflite')!r}, 'wb').write(out)\n"
        "print(json.dumps({}))\n")
    assert ours["tensorflow"] is False
    ours_bytes, theirs = (tmp_path / "ours.tflite").read_bytes(), (tmp_path / "theirs.tflite").read_bytes()
    assert ours_bytes == theirs


@pytest.mark.slow
def test_onnx_converts_without_importing_tensorflow_and_verifies_bit_exact(tmp_path):
    model = mf.save(gated_model(), tmp_path / "gated.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(2).random((40, 3, 16, 16), dtype=np.float32))
    out = tmp_path / "out"
    result = _python(
        "import json, sys\n"
        "from tinyattend.cli import main\n"
        f"code = main(['convert', {str(model)!r}, '--board', 'host', '-o', {str(out)!r}, '--calib', {str(calib)!r}])\n"
        "print(json.dumps({'code': code, 'tensorflow': 'tensorflow' in sys.modules,\n"
        "                  'keras': 'tf_keras' in sys.modules or 'keras' in sys.modules}))\n")
    assert result == {"code": 0, "tensorflow": False, "keras": False}
    report = json.loads((out / "report.json").read_text())
    assert report["frontend"] == {"path": "direct", "why": None}
    assert "TRANSPOSE" not in report["op_histogram"]
    assert report["quantization_error"]["sqnr_db"] > 20
    assert main(["verify", str(out), "--samples", "4"]) == 0


@pytest.mark.slow
def test_forced_tensorflow_path_and_a_bad_frontend_name(tmp_path, monkeypatch, capsys):
    model = mf.save(gated_model(), tmp_path / "gated.onnx")
    out = tmp_path / "out"
    monkeypatch.setenv("TINYATTEND_ONNX_FRONTEND", "tensorflow")
    assert main(["convert", str(model), "--board", "host", "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frontend"] == {"path": "tensorflow", "why": "front end chosen: tensorflow"}
    assert "TRANSPOSE" not in report["op_histogram"]
    err = capsys.readouterr().err
    for stage in ("running onnx2tf (ONNX -> TensorFlow)",
                  "checking onnx2tf's graph against ONNX Runtime", "converting the TF graph to float TFLite",
                  "calibrating", "quantizing to int8"):
        assert re.search(rf"^\[convert\] {re.escape(stage)}.* \d+\.\d s$", err, re.M), (stage, err)
    monkeypatch.setenv("TINYATTEND_ONNX_FRONTEND", "fastest")
    assert main(["convert", str(model), "--board", "host", "-o", str(tmp_path / "bad")]) != 0
    err = capsys.readouterr().err
    assert "TINYATTEND_ONNX_FRONTEND='fastest'" in err and "auto, direct, tensorflow" in err
    assert "Traceback" not in err
    assert not (tmp_path / "bad").exists()


def _direct_and_bit_exact(model, tmp_path) -> dict:
    """Convert `model` for the host; it must take the direct path and verify bit-exact. Its op histogram."""
    out = tmp_path / "out"
    assert main(["convert", str(mf.save(model, tmp_path / f"{model.graph.name}.onnx")), "--board", "host",
                 "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frontend"]["path"] == "direct"
    assert main(["verify", str(out), "--samples", "3"]) == 0
    return report["op_histogram"]


@pytest.mark.slow
def test_layernorm_forms_convert_directly_and_verify(tmp_path):
    ops = _direct_and_bit_exact(layernorm_model(), tmp_path)
    assert ops.get("RSQRT") == 1 and "POW" not in ops


@pytest.mark.slow
def test_a_channel_slice_converts_directly_without_transposes_and_verifies(tmp_path):
    ops = _direct_and_bit_exact(channel_slice_model(), tmp_path)
    assert ops["STRIDED_SLICE"] == 1 and not {"TRANSPOSE", "SLICE", "RELU"} & set(ops), ops


@pytest.mark.slow
def test_shapes_the_quantizer_left_unknown_are_restored(tmp_path):
    """TF's quantizer can write an activation whose dimensions it did not infer as 1s with a -1 signature
    (mobilevitv2's SLICEs); the direct path writes the shapes LiteRT computes when it runs the model."""
    from tinyattend.convert import convert_model
    from tinyattend.convert.onnx_direct import with_static_shapes
    from tinyattend.convert.tflite_objects import read_model, write_model
    from tinyattend.ir.tflite_reader import read_tflite

    tflite = convert_model(mf.save(channel_slice_model(), tmp_path / "slices.onnx"), progress=False).tflite
    assert with_static_shapes(tflite) is tflite                   # nothing unknown: returned as it is
    model = read_model(tflite)
    graph = model.subgraphs[0]
    sliced = next(int(op.outputs[0]) for op in graph.operators
                  if model.operatorCodes[op.opcodeIndex].builtinCode == 45)          # STRIDED_SLICE
    true_shape = [int(d) for d in graph.tensors[sliced].shape]
    graph.tensors[sliced].shape = np.ones(4, np.int32)
    graph.tensors[sliced].shapeSignature = np.asarray([-1, -1, -1, 1], np.int32)
    broken = write_model(model)
    repaired = read_tflite(with_static_shapes(broken), "repaired")
    assert list(repaired.tensor(sliced).shape) == true_shape != [1, 1, 1, 1]


@pytest.mark.slow
def test_a_model_the_direct_writer_gets_wrong_falls_back_to_the_tensorflow_path(tmp_path, monkeypatch, capsys):
    model = mf.save(channel_shuffle_model(), tmp_path / "shuffle.onnx")
    out = tmp_path / "out"
    assert main(["convert", str(model), "--board", "host", "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frontend"]["path"] == "tensorflow"
    assert "LiteRT cannot run the direct float model" in report["frontend"]["why"]
    assert "direct front end: LiteRT cannot run" in capsys.readouterr().err
    assert main(["verify", str(out), "--samples", "3"]) == 0
    # That front end only (--frontend wins over the variable): a clear error.
    monkeypatch.setenv("TINYATTEND_ONNX_FRONTEND", "tensorflow")
    assert main(["convert", str(model), "--board", "host", "-o", str(tmp_path / "direct"), "--frontend", "direct"]) != 0
    err = capsys.readouterr().err
    assert "the direct ONNX front end cannot convert this model" in err and "CONCATENATION" in err
    assert "--frontend auto" in err
    assert "Traceback" not in err and not (tmp_path / "direct").exists()
