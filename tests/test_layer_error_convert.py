"""`tinyattend convert` measures the per-layer quantization error (float TFLite vs int8 TFLite) into report.json."""
from __future__ import annotations

import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import model_factory as mf
from tinyattend.cli import main
from tinyattend.ir.tflite_reader import read_tflite


def small_cnn():
    b = mf.OnnxBuilder([1, 3, 16, 16], "small_cnn", seed=3)
    x = b.relu(b.random_conv(b.input_name, 3, 8, stride=2))
    x = b.relu(b.random_conv(x, 8, 8, depthwise=True))
    x = b.relu(b.random_conv(x, 8, 16, k=1))
    x = b.reduce_mean(x)
    return b.build(b.random_gemm(x, 16, 5), [1, 5])


def test_convert_reports_layer_errors(tmp_path, capsys):
    model = mf.save(small_cnn(), tmp_path / "small_cnn.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((24, 3, 16, 16), dtype=np.float32))
    out = tmp_path / "out"
    assert main(["convert", str(model), "--board", "host", "-o", str(out), "--calib", str(calib)]) == 0

    report = json.loads((out / "report.json").read_text())
    rows = report["layer_errors"]
    graph = read_tflite((out / "model.tflite").read_bytes(), "int8")
    int8_layers = [op for op in graph.ops if op.type not in ("QUANTIZE", "DEQUANTIZE")]
    assert 0 < len(rows) <= len(int8_layers)
    assert len(rows) == len(int8_layers)            # a plain CNN: every int8 layer has a float twin
    assert len({r["index"] for r in rows}) == len(rows)
    assert sum(r["worst"] for r in rows) == 1
    for row in rows:
        assert {"op", "tensor", "sqnr_db", "channel_sqnr_db", "input_sqnr_db", "loss_db", "flagged"} <= row.keys()
        assert row["sqnr_db"] is None or row["sqnr_db"] > 5.0     # int8 of a random CNN: far above noise
    assert not any("per-layer quantization error" in w for w in report["warnings"])

    printed = capsys.readouterr().out
    assert "layers losing the most SQNR" in printed
    worst = next(r for r in rows if r["worst"])
    assert worst["op"] in printed
