"""`tinyattend inspect`, per-layer quantization error and `tinyattend report`.

inspect lists every op of the MLPerf Tiny models as the flatbuffer has them and names an unsupported
op with its reason (exit 1); layer_errors flags a layer made to quantize badly (one outlier channel
crushing the per-tensor activation scale); report writes a self-contained page with every plot.
"""
from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyattend.cli import main

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def flatbuffer_ops(tflite: bytes) -> list[str]:
    """Op types straight from the flatbuffer (convert/model_stats' reader, not the IR)."""
    from tinyattend.convert.model_stats import op_name, read_model
    model = read_model(tflite)
    subgraph = model.Subgraphs(0)
    return [op_name(model, subgraph.Operators(i)) for i in range(subgraph.OperatorsLength())]


# ---------------------------------------------------------------- inspect

@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_inspect_lists_every_op_of_mlperf_models(name, capsys):
    path = mlperf_model(name)
    expected = flatbuffer_ops(path.read_bytes())
    code = main(["inspect", str(path)])
    printed = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+([A-Z0-9_]+)\s", printed, re.MULTILINE)
    assert [int(i) for i, _ in rows] == list(range(len(expected)))
    assert [op for _, op in rows] == expected
    assert f"{len(expected)} ops" in printed
    from tinyattend.inspect import inspect_model
    _, result = inspect_model(path)
    assert sum(r["macs"] for r in result["ops"]) > 0
    assert code == (1 if result["problems"] else 0)
    assert code == 0, f"{name}: every MLPerf Tiny op should be supported:\n{printed}"


def _exotic_op_model(tmp_path: Path) -> tuple[Path, str]:
    """An int8 model with an op no kernel set has (L2_NORMALIZATION, or SPACE_TO_DEPTH once it has one)."""
    from op_harness import int8_tflite
    from tinyattend.codegen.ops import registry
    candidates = {
        "L2_NORMALIZATION": lambda tf: tf.function(lambda x: tf.math.l2_normalize(x, axis=-1) * 2.0),
        "SPACE_TO_DEPTH": lambda tf: tf.function(lambda y: tf.nn.space_to_depth(y, 2) * 2.0),
    }
    op = next((op for op in candidates if op not in registry()), None)
    if op is None:
        pytest.skip("every candidate op has a kernel now; pick another exotic op")
    path = tmp_path / "exotic.tflite"
    path.write_bytes(int8_tflite(candidates[op], [(1, 4, 4, 8)], samples=8))
    assert op in flatbuffer_ops(path.read_bytes())
    return path, op


def test_inspect_names_an_unsupported_op_and_its_reason(tmp_path, capsys):
    path, op = _exotic_op_model(tmp_path)
    assert main(["inspect", str(path)]) == 1
    printed = capsys.readouterr().out
    assert re.search(rf"^\s+\d+\s+{op}\s.*\sNO$", printed, re.MULTILINE), printed
    assert re.search(rf"- {op} \(op \d+, portable\): {op} has no kernel in tinyattend", printed), printed
    # convert names the same op and writes nothing.
    out = tmp_path / "out"
    assert main(["convert", str(path), "--board", "cortex-m7", "-o", str(out)]) != 0
    assert op in capsys.readouterr().err
    assert not out.exists()


def test_inspect_gives_the_check_reason_for_a_float_model(tmp_path, capsys):
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 2), batch_size=1), tf.keras.layers.Conv2D(3, 3)])
    path = tmp_path / "float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    assert main(["inspect", str(path)]) == 1
    printed = capsys.readouterr().out
    assert re.search(r"- CONV_2D \(op 0, portable\): input 0 is float32.*only quantized int8", printed), printed


def test_inspect_onnx_lists_nodes_and_why_one_is_not_convertible(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.zeros(108, np.float32).tolist())
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0])
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Resize", ["c", "", "scales"], ["r"], name="upsample", mode="nearest",
                          coordinate_transformation_mode="half_pixel", nearest_mode="floor"),
         helper.make_node("Erf", ["r"], ["y"], name="erf")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], [weight, scales])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    assert main(["inspect", str(path)]) == 1
    printed = capsys.readouterr().out
    assert re.findall(r"^\s+\d+\s+(\w+)\s", printed, re.MULTILINE) == ["Conv", "Resize", "Erf"]
    assert "1x4x8x8" in printed
    assert ("- Resize (node 'upsample'): nearest Resize with coordinate_transformation_mode 'half_pixel' and "
            "nearest_mode 'floor' picks source pixels") in printed
    assert "- Erf (node 'erf'): no int8 TFLite lowering" in printed


def test_inspect_rejects_a_non_model(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert main(["inspect", str(path)]) != 0
    assert "inspect reads .tflite and .onnx" in capsys.readouterr().err


# ---------------------------------------------------------------- layer error

def _outlier_models() -> tuple[bytes, bytes, np.ndarray]:
    """(float tflite, int8 tflite, held-out samples) of a small CNN whose first conv has one output
    channel 500x larger than the others: the per-tensor int8 scale of that output crushes the rest."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((12, 12, 4), batch_size=1)
    first = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")
    x = first(inputs)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2D(16, 1, activation="relu")(x)
    x = tf.keras.layers.AveragePooling2D(12)(x)
    x = tf.keras.layers.Flatten()(x)
    outputs = tf.keras.layers.Dense(4)(x)
    model = tf.keras.Model(inputs, outputs)
    weights, bias = first.get_weights()
    weights[..., 0] *= 500.0
    first.set_weights([weights, bias])
    samples = np.random.default_rng(0).uniform(-1, 1, (24, 1, 12, 12, 4)).astype(np.float32)

    def convert(quantize: bool) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([s] for s in samples[:16])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()

    return convert(False), convert(True), samples[16:, 0]


@pytest.fixture(scope="module")
def outlier_models():
    return _outlier_models()


def test_layer_errors_flag_the_outlier_layer(outlier_models):
    from tinyattend.report.layer_error import layer_errors, worst_layers
    float_tflite, int8_tflite, samples = outlier_models
    rows = layer_errors(float_tflite, int8_tflite, samples)
    ops = flatbuffer_ops(int8_tflite)
    assert [r["op"] for r in rows] == [op for op in ops if op not in ("QUANTIZE", "DEQUANTIZE")]
    worst = [r for r in rows if r["worst"]]
    assert len(worst) == 1 and worst[0]["index"] == 0 and worst[0]["op"] == "CONV_2D", rows
    assert worst[0]["flagged"] and worst_layers(rows, 1) == worst
    # The tensor-wide SQNR hides it (the outlier channel dominates); the per-channel one does not.
    assert worst[0]["sqnr_db"] > 25 and worst[0]["channel_sqnr_db"] < 10, worst[0]
    assert all(not r["flagged"] for r in rows if not r["worst"]), rows
    json.dumps(rows)


# ---------------------------------------------------------------- report

def _assert_page(out: Path, expected_pngs: set[str]) -> dict:
    page = (out / "report" / "index.html").read_text()
    pngs = {p.name for p in (out / "report").glob("*.png")}
    assert expected_pngs <= pngs, pngs
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(embedded) == len(pngs)
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for data in embedded)
    assert not re.search(r"(src|href)=['\"]https?:", page), "the page must not need the network"
    report = json.loads((out / "report.json").read_text())
    assert report["figures"]["ops"] and report["figures"]["arena"]["buffers"]
    assert not list(out.glob(".report.tmp-*")), "staging directories left behind"
    return report


def test_report_on_a_converted_and_benched_mlperf_model(tmp_path, capsys):
    from tinyattend.errors import ToolchainError
    source = mlperf_model("kws_ref_model")
    out = tmp_path / "kws"
    if main(["convert", str(source), "--board", "cortex-m7", "-o", str(out)]) != 0:
        source = mlperf_model("ad01_int8")        # an op of kws is not supported (yet)
        assert main(["convert", str(source), "--board", "cortex-m7", "-o", str(out)]) == 0
    expected = {"arena_timeline.png", "weights_per_layer.png", "board_fit.png"}
    try:
        assert main(["bench", str(out), "--board", "cortex-m7", "--json"]) == 0
        expected.add("layer_instructions.png")
    except ToolchainError as err:                 # no arm-none-eabi-gcc / QEMU here: report without bench
        print(f"bench skipped: {err}")
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    report = _assert_page(out, expected)
    figures = report["figures"]
    assert [r["op"] for r in figures["ops"]] == flatbuffer_ops((out / "model.tflite").read_bytes())
    assert figures["fit"]["flash"]["capacity"] == 4 * 1024 * 1024
    if "layer_instructions.png" in expected:
        assert len(figures["timing"]["layers"]) == len(report["layers"])
    # Running it again replaces the page whole.
    assert main(["report", str(out)]) == 0
    _assert_page(out, expected)


def test_report_shows_layer_errors(tmp_path, outlier_models):
    from tinyattend.boards import load_board
    from tinyattend.pipeline import write_project
    from tinyattend.report.layer_error import layer_errors
    float_tflite, int8_tflite, samples = outlier_models
    out = tmp_path / "outlier"
    out.mkdir()
    report = write_project(out, int8_tflite, load_board("cortex-m7"), kernels="portable", optimize="balanced",
                           model_name="outlier", measure_tflm_arena=False)
    report["layer_errors"] = layer_errors(float_tflite, int8_tflite, samples)   # what the pipeline will add
    (out / "report.json").write_text(json.dumps(report))
    assert main(["report", str(out)]) == 0
    _assert_page(out, {"arena_timeline.png", "weights_per_layer.png", "board_fit.png", "layer_error.png"})
    assert "class='bad'" in (out / "report" / "index.html").read_text()


def test_report_without_report_json_writes_nothing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) != 0
    assert "no report.json" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
