"""Converter stage: ONNX/Keras/.tflite -> full-integer int8 TFLite, with real TF, onnxruntime and LiteRT.

Converted models are shared through module-scoped fixtures; the whole file runs in a few minutes.
"""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")       # before the tests import Keras/TF themselves

import model_factory as mf
from conftest import mlperf_model
from tinyattend.convert import ConversionResult, convert_model
from tinyattend.convert.model_stats import model_stats, op_name, read_model
from tinyattend.errors import BadModelError, CalibrationDataError, UnsupportedOpError
from tinyattend.progress import Progress

ZOO_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "RESIZE_NEAREST_NEIGHBOR", "LOGISTIC", "MUL", "ADD", "MEAN",
           "FULLY_CONNECTED"}
QUIET = False        # progress=False: no step lines in the test output


def ops_of(tflite: bytes) -> list[tuple[str, object, object]]:
    model = read_model(tflite)
    subgraph = model.Subgraphs(0)
    return [(op_name(model, subgraph.Operators(i)), subgraph, subgraph.Operators(i))
            for i in range(subgraph.OperatorsLength())]


# --- fixtures: converted once per module -------------------------------------------------------------
@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("convert")


@pytest.fixture(scope="module")
def ops_onnx(workdir) -> Path:
    return mf.save(mf.ops_model(), workdir / "ops_model.onnx")


@pytest.fixture(scope="module")
def ops_calib(workdir) -> Path:
    path = workdir / "ops_calib.npy"
    np.save(path, np.random.default_rng(1).random((40, 3, 32, 32)))        # float64, NCHW: cast, fine
    return path


@pytest.fixture(scope="module")
def ops_progress() -> Progress:
    """The ops model's conversion reports its steps here (a string, not the test output)."""
    return Progress("convert", stream=io.StringIO())


@pytest.fixture(scope="module")
def ops_result(ops_onnx, ops_calib, ops_progress) -> ConversionResult:
    return convert_model(ops_onnx, calib=str(ops_calib), progress=ops_progress)


@pytest.fixture(scope="module")
def digits(workdir):
    """A small CNN trained on sklearn's digits (16x16x1), its ONNX export and held-out digits (NCHW)."""
    keras_model, accuracy = mf.train_digits_cnn(size=16)
    onnx_path = mf.save(mf.keras_cnn_to_onnx(keras_model), workdir / "digits_cnn.onnx")
    _, _, x_test, y_test = mf.digits_dataset(16)
    calib = workdir / "digits_test_nchw.npy"
    np.save(calib, x_test.transpose(0, 3, 1, 2))                             # 500 unseen digits
    keras_path = workdir / "digits_cnn.keras"
    keras_model.save(keras_path)
    return {"keras": keras_model, "accuracy": accuracy, "onnx": onnx_path, "calib": calib,
            "x_test": x_test, "y_test": y_test, "keras_path": keras_path}


# --- 1. ONNX -> int8 with the zoo's op families ---------------------------------------------------
def test_onnx_ops_model_becomes_full_int8(ops_result):
    tflite = ops_result.tflite
    names = {name for name, _, _ in ops_of(tflite)}
    assert ZOO_OPS <= names, f"missing {ZOO_OPS - names}"
    assert names & {"MAX_POOL_2D", "AVERAGE_POOL_2D"}
    assert "TILE" not in names and "DEQUANTIZE" not in names and "QUANTIZE" not in names

    model = read_model(tflite)
    subgraph = model.Subgraphs(0)
    assert subgraph.Tensors(subgraph.Inputs(0)).Type() == schema.TensorType.INT8
    assert subgraph.Tensors(subgraph.Outputs(0)).Type() == schema.TensorType.INT8
    checked = 0
    for name, sg, op in ops_of(tflite):
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        weight = sg.Tensors(op.Inputs(1))
        assert weight.Type() == schema.TensorType.INT8, name
        if op.Inputs(2) < 0:                                     # MatMul: a FULLY_CONNECTED without bias
            assert name == "FULLY_CONNECTED"
            continue
        bias = sg.Tensors(op.Inputs(2))
        assert bias.Type() == schema.TensorType.INT32, name
        if name != "FULLY_CONNECTED":
            shape = weight.ShapeAsNumpy()
            out_channels = shape[0] if name == "CONV_2D" else shape[3]
            assert weight.Quantization().ScaleLength() == out_channels, f"{name}: not per-channel"
            assert bias.Quantization().ScaleLength() == out_channels
            checked += 1
    assert checked >= 4


def test_onnx_report_contents(ops_result, ops_onnx):
    report = ops_result.report
    json.dumps(report)                                           # JSON-serialisable
    assert report["source"] == {"file": "ops_model.onnx", "path": str(ops_onnx), "format": "onnx"}
    assert report["input"]["shape"] == [1, 32, 32, 3]            # NCHW ONNX -> NHWC TFLite
    assert report["input"]["dtype"] == report["output"]["dtype"] == "int8"
    assert report["output"]["shape"] == [1, 10]
    assert report["params"] == mf.param_count(mf.ops_model())
    assert report["macs"] > 100_000 and report["weight_bytes"] >= report["params"]
    assert report["op_histogram"]["CONV_2D"] == 3 and report["op_histogram"]["FULLY_CONNECTED"] == 2
    assert report["calibration"] == {"source": report["calibration"]["source"], "samples": 30, "held_out": 10,
                                     "synthetic": False}
    q = report["quantization_error"]
    assert q["samples"] == 10 and q["top1_agreement"] >= 0.9 and 0 <= q["mean_abs_error"] <= q["max_abs_error"] < 0.1
    # Relative to the output: SQNR from the same outputs, and max |err| over the float output's range.
    low, high = q["output_range"]
    assert q["max_error_over_range"] == pytest.approx(q["max_abs_error"] / (high - low))
    assert 15 < q["sqnr_db"] < 100, q
    assert report["conversion_seconds"] > 0
    assert not any("SYNTHETIC" in w for w in report["warnings"])
    # Held-out inputs, int8 NHWC in the TFLite input quantization: they reproduce the float data.
    calib = ops_result.calibration
    assert calib.dtype == np.int8 and calib.shape == (10, 32, 32, 3)


def test_held_out_inputs_match_the_tflite_quantization(ops_result, ops_calib):
    data = np.load(ops_calib).transpose(0, 2, 3, 1)
    scale, zero = ops_result.report["input"]["scale"], ops_result.report["input"]["zero_point"]
    restored = (ops_result.calibration.astype(np.float32) - zero) * scale
    # every held-out sample is one of the calibration file's samples
    distances = np.abs(restored[:, None] - data[None]).reshape(len(restored), len(data), -1).max(-1)
    assert np.all(distances.min(1) <= scale)


def test_synthetic_calibration_warns_loudly(workdir, capsys):
    path = mf.save(mf.ops_model(size=16, seed=3), workdir / "ops16.onnx")
    result = convert_model(path, calib_samples=12, progress=Progress("convert"))
    err = capsys.readouterr().err
    assert "SYNTHETIC" in err and "NOT meaningful" in err
    assert "[convert] running onnx2tf" in err and "[convert] calibrating" in err
    assert "Traceback" not in err and "WARNING: All log messages" not in err
    assert result.calibration is None
    assert result.report["calibration"]["synthetic"] is True
    assert result.report["calibration"]["source"] == "synthetic"
    assert any("SYNTHETIC" in w for w in result.report["warnings"])


# --- 2. .tflite passthrough, float/hybrid rejected -------------------------------------------------
def test_int8_tflite_passthrough():
    path = mlperf_model("kws_ref_model")
    result = convert_model(path, progress=QUIET)
    assert result.tflite == path.read_bytes()
    report = result.report
    assert report["source"]["format"] == "tflite"
    assert report["quantization_error"] is None
    assert any("no float model" in w for w in report["warnings"])
    assert report["input"] == {"shape": [1, 49, 10, 1], "dtype": "int8", "scale": pytest.approx(0.5847, abs=1e-4),
                               "zero_point": 83}
    assert abs(report["macs"] - 2.66e6) / 2.66e6 < 0.01                  # MLPerf Tiny's figure
    assert report["op_histogram"]["DEPTHWISE_CONV_2D"] == 4
    assert result.calibration is None


def test_int8_tflite_passthrough_with_calibration_inputs(workdir):
    path = mlperf_model("kws_ref_model")
    calib = workdir / "kws_calib.npy"
    np.save(calib, np.random.default_rng(0).normal(0, 20, (5, 49, 10, 1)).astype(np.float32))
    result = convert_model(path, calib=str(calib), progress=QUIET)
    assert result.calibration.shape == (5, 49, 10, 1) and result.calibration.dtype == np.int8


@pytest.mark.parametrize("hybrid", [False, True], ids=["float", "hybrid"])
def test_float_or_hybrid_tflite_rejected(workdir, hybrid):
    path = workdir / f"{'hybrid' if hybrid else 'float'}.tflite"
    path.write_bytes(mf.float_tflite(hybrid=hybrid))
    with pytest.raises(BadModelError) as info:
        convert_model(path, progress=QUIET)
    message = str(info.value)
    assert ("hybrid (dynamic-range" in message) == hybrid
    assert "not full-integer int8" in message and "float32" in message
    assert "--calib" in info.value.fix and "ONNX" in info.value.fix


# --- 3. bad inputs: error types, messages, fixes ---------------------------------------------------
def _bad_models(workdir: Path) -> dict[str, tuple[Path, dict, type, str]]:
    text = workdir / "notes.onnx"
    text.write_text("this is not a model\n")
    corrupt = workdir / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07\x12\xff\xff\xff\xff\x0f" + bytes(range(256)))
    folder = workdir / "empty_dir"
    folder.mkdir(exist_ok=True)
    return {
        "missing": (workdir / "nope.onnx", {}, BadModelError, "no such file"),
        "folder": (folder, {}, BadModelError, "without saved_model.pb"),
        "suffix": (text.with_suffix(".txt"), {}, BadModelError, "no such file"),
        "text": (text, {}, BadModelError, "not a valid ONNX protobuf"),
        "corrupt": (corrupt, {}, BadModelError, "not a valid ONNX protobuf"),
        "dynamic": (mf.save(mf.dynamic_input_model(), workdir / "dynamic.onnx"), {}, BadModelError,
                    "dynamic shape [N,3,H,W]"),
        "two_inputs": (mf.save(mf.two_input_model(), workdir / "two.onnx"), {}, BadModelError, "2 inputs"),
        "unsupported": (mf.save(mf.unsupported_op_model(), workdir / "det.onnx"), {}, UnsupportedOpError,
                        "Det x1 (node 'det_2')"),
        "float_tflite": (workdir / "float.tflite", {}, BadModelError, "a float TFLite model"),
    }


@pytest.mark.parametrize("case", ["missing", "folder", "text", "corrupt", "dynamic", "two_inputs", "unsupported"])
def test_bad_model_errors(workdir, case):
    path, kwargs, error_type, text = _bad_models(workdir)[case]
    with pytest.raises(error_type) as info:
        convert_model(path, progress=QUIET, **kwargs)
    assert text in str(info.value)
    assert str(path) in str(info.value)
    assert info.value.fix


def test_dynamic_shape_with_input_shape_converts(workdir):
    path = mf.save(mf.dynamic_input_model(), workdir / "dynamic_ok.onnx")
    result = convert_model(path, input_shape=(1, 3, 16, 16), calib_samples=8, progress=QUIET)
    assert result.report["input"]["shape"] == [1, 16, 16, 3]
    with pytest.raises(BadModelError, match="has 3 dimensions"):
        convert_model(path, input_shape=(1, 16, 16), progress=QUIET)


def test_converter_leftover_float_op_is_named(workdir):
    path = mf.save(mf.cast_model(), workdir / "cast.onnx")
    with pytest.raises(UnsupportedOpError) as info:
        convert_model(path, calib_samples=8, progress=QUIET)
    assert "CAST" in str(info.value) and str(path) in str(info.value)
    assert info.value.ops and info.value.ops[0][0] == "CAST"


def test_wrong_onnx2tf_graph_is_caught_against_onnx_runtime(workdir):
    """onnx2tf 2.6.9 builds a wrong graph for a channel Slice with a negative step (it runs, with other
    numbers): the float model is checked against ONNX Runtime before calibration, so this is an error
    that says so, never a model that ships wrong outputs."""
    b = mf.OnnxBuilder([1, 3, 8, 8], "reverse_slice")
    y = b.op("Slice", [b.input_name, b.const(np.array([-1], np.int64)), b.const(np.array([-9], np.int64)),
                       b.const(np.array([1], np.int64)), b.const(np.array([-1], np.int64))])
    path = mf.save(b.build(b.reduce_mean(y), [1, 3]), workdir / "reverse_slice.onnx")
    with pytest.raises(UnsupportedOpError, match="disagrees with ONNX Runtime") as info:
        convert_model(path, calib_samples=8, progress=QUIET)
    assert str(path) in str(info.value) and info.value.fix


def test_onnx2tf_exception_names_the_node():
    """An exception raised inside one of onnx2tf's op handlers (they hold the node as `graph_node`) is
    reported with that node's op, name and output."""
    from types import SimpleNamespace

    from tinyattend.convert.onnx_to_tflite import _translate_onnx2tf_error

    def handler(graph_node):
        raise ValueError("Dimensions must be equal, but are 96 and 48\nmore detail")
    node = SimpleNamespace(op="Conv", name="conv_7", outputs=[SimpleNamespace(name="conv_7_out")])
    try:
        handler(node)
    except ValueError as err:
        error = _translate_onnx2tf_error(err, "", Path("m.onnx"))
    assert "onnx2tf cannot convert op Conv (node 'conv_7', output conv_7_out): Dimensions must be equal" in str(error)
    assert "more detail" not in str(error) and error.ops[0][:2] == ("Conv", "conv_7") and error.fix


def _calib_cases(workdir: Path) -> dict[str, tuple[object, dict, str]]:
    rng = np.random.default_rng(0)
    cases = {
        "shape": (rng.random((10, 3, 16, 16)), {}, "does not match the model input (1, 3, 32, 32)"),
        "nhwc": (rng.random((10, 32, 32, 3)), {}, "--layout nhwc"),
        "strings": (np.array([["a", "b"]] * 4), {}, "is not a real number type"),
        "complex": (rng.random((4, 3, 32, 32)) * 1j, {}, "complex128 is not a real number type"),
        "object": (np.array([None, 1], dtype=object), {}, "Python objects"),
        "zero": (np.zeros((0, 3, 32, 32), np.float32), {}, "0 samples"),
        "one": (np.zeros((1, 3, 32, 32), np.float32), {}, "1 sample(s); need at least 2"),
        "nan": (np.full((4, 3, 32, 32), np.nan, np.float32), {}, "NaN"),
    }
    out = {}
    for name, (array, kwargs, text) in cases.items():
        path = workdir / f"calib_{name}.npy"
        if array.dtype == object:
            np.save(path, array, allow_pickle=True)
        else:
            np.save(path, array)
        out[name] = (path, kwargs, text)
    return out


@pytest.mark.parametrize("case", ["shape", "nhwc", "strings", "complex", "object", "zero", "one", "nan"])
def test_bad_calibration_data(workdir, ops_onnx, case):
    path, kwargs, text = _calib_cases(workdir)[case]
    with pytest.raises(CalibrationDataError) as info:
        convert_model(ops_onnx, calib=str(path), progress=QUIET, **kwargs)
    assert text in str(info.value) + info.value.fix
    assert str(path) in str(info.value)


def test_nhwc_array_with_layout_flag_and_npz(workdir, ops_onnx):
    rng = np.random.default_rng(0)
    npz = workdir / "calib_nhwc.npz"
    np.savez(npz, other=np.zeros(3), x=rng.random((8, 32, 32, 3)).astype(np.float32))
    result = convert_model(ops_onnx, calib=str(npz), layout="nhwc", progress=QUIET)
    assert result.report["calibration"]["samples"] == 6 and result.calibration.shape == (2, 32, 32, 3)


def test_image_folder_calibration(workdir, ops_onnx):
    from PIL import Image
    folder = workdir / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    (folder / "readme.txt").write_text("not an image")
    result = convert_model(ops_onnx, calib=str(folder), mean=(128.0,), std=(64.0,), progress=QUIET)
    assert result.report["calibration"]["samples"] == 4 and result.report["calibration"]["held_out"] == 2
    # (0..255 - 128) / 64 spans about -2..2: the input scale follows
    assert 2.5 / 255 < result.report["input"]["scale"] < 4.5 / 255
    with pytest.raises(CalibrationDataError, match="--std: 2 values for a model with 3 input channels"):
        convert_model(ops_onnx, calib=str(folder), std=(1.0, 2.0), progress=QUIET)
    empty = workdir / "no_images"
    empty.mkdir()
    with pytest.raises(CalibrationDataError, match="no images"):
        convert_model(ops_onnx, calib=str(empty), progress=QUIET)


# --- 3b. the same errors through the CLI: message, fix, non-zero exit, no traceback ---------------------
def _cli_convert(capsys, model, *extra, out=None):
    from tinyattend.cli import main
    out = out or Path(model).parent / "cli_out"
    code = main(["convert", str(model), "--board", "host", "-o", str(out), *map(str, extra)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("case", ["missing", "suffix", "text", "corrupt", "dynamic", "two_inputs", "unsupported",
                                  "float_tflite"])
def test_cli_bad_model(workdir, capsys, case):
    path, _, _, text = _bad_models(workdir)[case]
    if case == "float_tflite" and not path.exists():
        path.write_bytes(mf.float_tflite())
    code, output = _cli_convert(capsys, path)
    assert code != 0
    assert text in output and "fix:" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("case", ["shape", "strings", "zero", "one"])
def test_cli_bad_calibration(workdir, ops_onnx, capsys, case):
    path, _, text = _calib_cases(workdir)[case]
    code, output = _cli_convert(capsys, ops_onnx, "--calib", path)
    assert code != 0 and text in output and "Traceback" not in output


def test_cli_converter_error_has_no_traceback_or_tf_noise(workdir, capfd):
    """capfd sees what TensorFlow's C++ side writes to fd 2 too."""
    path = mf.save(mf.cast_model(), workdir / "cast_cli.onnx")
    code, output = _cli_convert(capfd, path, "--calib-samples", 8)
    assert code != 0 and "CAST" in output and "fix:" in output
    assert "Traceback" not in output and "tensorflow/" not in output and "absl::" not in output


# --- 4. accuracy: a CNN trained on real digits ------------------------------------------------------
def test_digits_cnn_onnx_export_matches_keras(digits):
    import onnxruntime as ort
    assert digits["accuracy"] > 0.9
    session = ort.InferenceSession(str(digits["onnx"]), providers=["CPUExecutionProvider"])
    x = digits["x_test"][:50]
    expected = digits["keras"].predict(x, verbose=0)
    got = np.concatenate([session.run(None, {"input": s[None].transpose(0, 3, 1, 2)})[0] for s in x])
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_digits_cnn_int8_agrees_with_float(digits):
    result = convert_model(digits["onnx"], calib=str(digits["calib"]), calib_samples=500, progress=QUIET)
    q = result.report["quantization_error"]
    print(f"\ndigits CNN (ONNX): float test accuracy {digits['accuracy']:.3f}; int8 vs float on {q['samples']} "
          f"held-out digits: top-1 agreement {q['top1_agreement']:.4f}, max |err| {q['max_abs_error']:.4f}")
    assert q["samples"] == 125
    assert q["top1_agreement"] >= 0.99
    # The int8 model still classifies: accuracy on the held-out int8 inputs against their labels.
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=result.tflite)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert tuple(inp["shape"]) == (1, 16, 16, 1)
    predictions = []
    for sample in result.calibration:
        interpreter.set_tensor(inp["index"], sample[None])
        interpreter.invoke()
        predictions.append(int(np.argmax(interpreter.get_tensor(out["index"]))))
    scale, zero = inp["quantization"]
    restored = (result.calibration.astype(np.float32) - zero) * scale
    x_test = digits["x_test"]
    index = [int(np.argmin(np.abs(x_test - r).reshape(len(x_test), -1).max(1))) for r in restored]
    accuracy = np.mean(np.array(predictions) == digits["y_test"][index])
    assert accuracy > 0.85


def test_digits_cnn_from_keras_file(digits):
    calib = digits["calib"].parent / "digits_test_nhwc.npy"
    np.save(calib, digits["x_test"])
    result = convert_model(digits["keras_path"], calib=str(calib), progress=QUIET)
    q = result.report["quantization_error"]
    assert result.report["source"]["format"] == "keras"
    assert result.report["input"]["shape"] == [1, 16, 16, 1]
    assert q["samples"] == 50 and q["top1_agreement"] >= 0.98
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(result.report["op_histogram"])


def test_digits_cnn_from_saved_model(digits):
    saved = digits["calib"].parent / "digits_saved_model"
    digits["keras"].export(str(saved), verbose=False)
    calib = digits["calib"].parent / "digits_test_nhwc.npy"
    np.save(calib, digits["x_test"][:100])
    result = convert_model(saved, calib=str(calib), progress=QUIET)
    assert result.report["source"]["format"] == "saved_model"
    assert result.report["quantization_error"]["top1_agreement"] >= 0.96


# --- 5. conversion time of a ~0.5M-parameter model -------------------------------------------------
@pytest.mark.slow
def test_half_million_parameter_model_converts_in_time(workdir):
    onnx_model = mf.half_million_param_model()
    assert 450_000 <= mf.param_count(onnx_model) <= 550_000
    path = mf.save(onnx_model, workdir / "cnn_500k.onnx")
    calib = workdir / "cnn_500k_calib.npy"
    np.save(calib, np.random.default_rng(0).random((100, 3, 64, 64), dtype=np.float32))
    start = time.monotonic()
    result = convert_model(path, calib=str(calib), calib_samples=100, progress=QUIET)
    seconds = time.monotonic() - start
    print(f"\n~0.5M-parameter model ({result.report['params']:,} params, {result.report['macs'] / 1e6:.1f}M MACs): "
          f"converted in {seconds:.1f} s")
    assert result.report["params"] == mf.param_count(onnx_model)
    assert seconds < 60


def test_every_conversion_stage_prints_its_time(ops_result, ops_progress):
    """Each stage of an ONNX conversion (the direct front end; the TensorFlow path's stages:
    test_direct_frontend.py) prints `[convert] <stage>... N.N s` (or its bar with the seconds) and is kept
    in progress.timings (report.json's stage_seconds)."""
    import re

    text = ops_progress.stream.getvalue()
    stages = ["reading the ONNX model and checking its ops", "loading calibration data", "running onnx2tf",
              "sinking layout TRANSPOSEs", "checking the float TFLite model against ONNX Runtime",
              "calibrating", "quantizing to int8", "checking the int8 model",
              "quantization error on held-out samples"]
    for stage in stages:
        assert re.search(rf"^\[convert\] {re.escape(stage)}.* \d+\.\d s$", text, re.M), (stage, text)
        assert any(t["step"].startswith(stage) and t["seconds"] >= 0 for t in ops_progress.timings), stage


def test_quantization_error_summary_line():
    """The CLI line puts the relative error first: SQNR and max |err| as a share of the output range."""
    from tinyattend.convert.quant_error import describe, output_sqnr_db

    reference = np.array([[0.0, 1.0, -1.0, 0.5]])
    got = reference + np.array([[0.01, -0.01, 0.0, 0.0]])
    sqnr = output_sqnr_db(reference, got)
    assert sqnr == pytest.approx(10 * np.log10(2.25 / 2e-4), abs=0.01)
    assert output_sqnr_db(reference, reference) == 100.0 and output_sqnr_db(0 * reference, got) is None
    line = describe({"samples": 4, "top1_agreement": 1.0, "max_abs_error": 0.01, "mean_abs_error": 0.005,
                     "output_range": [-1.0, 1.0], "sqnr_db": sqnr, "max_error_over_range": 0.005})
    assert line == ("int8 vs float on 4 held-out samples: SQNR 40.5 dB, max |err| 0.5% of the output range "
                    "(0.01 over [-1, 1]), mean |err| 0.005, top-1 agreement 100.0%"), line


def test_top1_ties_at_the_int8_step_are_told_apart_from_disagreement():
    """An untrained head's classes closer than one int8 output step tie; argmax takes the first of them."""
    from tinyattend.convert.quant_error import describe, top1_agreement

    reference = np.array([[0.10, 0.11, 0.0], [0.3, 0.1, 0.0], [0.0, 0.2, 0.1], [0.0, 0.1, 0.2]])
    got = np.array([[0.1, 0.1, 0.0],          # tie, float's class 1 among the tied: argmax says 0
                    [0.3, 0.1, 0.0],          # agrees
                    [0.2, 0.1, 0.0],          # disagrees: the int8 output at class 1 is lower
                    [0.0, 0.2, 0.2]])         # tie, float's class 2 among the tied
    assert top1_agreement(reference, got) == (0.25, 0.5)
    line = describe({"samples": 4, "top1_agreement": 0.25, "top1_tied": 0.5, "max_abs_error": 0.2,
                     "mean_abs_error": 0.05, "output_range": [0.0, 0.3], "sqnr_db": 3.0, "max_error_over_range": 0.67})
    assert line.endswith("top-1 agreement 25.0% (+50.0% tied at the int8 output's step)"), line


# --- small units ---------------------------------------------------------------------------------------
def test_progress_lines():
    stream = io.StringIO()
    progress = Progress("convert", stream=stream)
    with progress.step("importing TensorFlow"):
        pass
    with progress.bar("calibrating", 4) as bar:
        for _ in range(4):
            bar.update()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[convert] importing TensorFlow... ") and lines[0].endswith(" s")
    assert lines[1].startswith("[convert] calibrating [####################] 4/4")


def test_model_stats_of_mlperf_models():
    expected_macs = {"pretrainedResnet_quant": 12.50e6, "vww_96_int8": 7.49e6, "ad01_int8": 0.26e6}
    for name, macs in expected_macs.items():
        stats = model_stats(mlperf_model(name).read_bytes())
        assert abs(stats["macs"] - macs) / macs < 0.02, name
        assert stats["params"] <= stats["weight_bytes"]
