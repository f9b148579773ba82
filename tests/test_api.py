"""The Python API (issue 15, part 2): tinyattend.convert / bench / verify / inspect return frozen
dataclasses with the figures report.json and `--json` give, from paths or in-memory models."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import tinyattend
from model_factory import ops_model
from op_harness import int8_tflite
from tinyattend.errors import BadModelError, BoardError


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The ops model, given as an onnx.ModelProto (not a file), converted for the host."""
    out = tmp_path_factory.mktemp("api") / "out"
    rng = np.random.default_rng(0)
    calib = tmp_path_factory.mktemp("calib") / "calib.npy"
    np.save(calib, rng.uniform(0, 1, size=(16, 3, 16, 16)).astype(np.float32))
    return tinyattend.convert(ops_model(size=16), board="host", out=out, calib=calib, kernels="portable")


@pytest.mark.slow
def test_convert_from_a_model_proto_gives_report_figures(converted):
    r = converted
    assert isinstance(r, tinyattend.ConvertResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.arena_bytes = 0
    report = json.loads((r.out / "report.json").read_text())
    assert r.report == report
    assert (r.board, r.kernels, r.prefix, r.model) == ("host", "portable", "ta", "ops_model.onnx")
    assert (r.arena_bytes, r.macs, r.params, r.weight_bytes) == (report["arena_bytes"], report["macs"],
                                                                 report["params"], report["weight_bytes"])
    assert r.input.shape == (1, 16, 16, 3) and r.input.dtype == "int8" and isinstance(r.input.scale, float)
    assert r.output.shape == tuple(report["output"]["shape"])
    assert len(r.layers) == len(report["layers"]) and all(isinstance(l, tinyattend.LayerRow) for l in r.layers)
    assert sum(l.macs for l in r.layers) == report["generated_macs"]
    assert r.quantization_error is not None and r.quantization_error.samples == report["quantization_error"]["samples"]
    assert isinstance(r.warnings, tuple)


@pytest.mark.slow
def test_verify_and_inspect_through_the_api(converted):
    checked = tinyattend.verify(converted.out, 10)
    assert isinstance(checked, tinyattend.VerifyResult) and checked.bit_exact
    assert [b.kind for b in checked.batches] == ["random", "calibration"]
    assert all(b.identical == b.samples and b.max_abs_diff_lsb == 0 for b in checked.batches)
    info = tinyattend.inspect(converted.out / "model.tflite")
    assert isinstance(info, tinyattend.ModelInfo) and info.format == "tflite" and info.supported
    assert [op.op for op in info.ops] == converted.report["ops"] or len(info.ops) >= len(converted.layers)
    assert info.macs == sum(op.macs for op in info.ops) and info.macs > 0


@pytest.mark.slow
def test_convert_tflite_bytes_then_bench_on_the_emulated_m7(tmp_path):
    def build(tf):
        return tf.keras.Sequential([tf.keras.Input((8, 8, 3), batch_size=1),
                                    tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                    tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(4)])
    result = tinyattend.convert(int8_tflite(build, [(1, 8, 8, 3)]), board="cortex-m7", out=tmp_path / "out")
    assert result.model == "model.tflite" and result.board == "cortex-m7"
    bench = tinyattend.bench(result.out)            # the board it was converted for
    assert isinstance(bench, tinyattend.BenchResult) and bench.board == "cortex-m7"
    assert bench.bit_exact and bench.bit_exact_error is None
    assert 0 < sum(l.instructions for l in bench.layers) <= bench.instructions   # + the harness's call overhead
    assert [l.macs for l in bench.layers] == [l.macs for l in result.layers]
    assert bench.peak_ram_bytes == bench.arena_bytes + bench.stack_bytes
    assert bench.report == json.loads((result.out / "bench.json").read_text())


@pytest.mark.slow
def test_convert_a_keras_model_object(tmp_path):
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), tf.keras.layers.Conv2D(4, 3), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(3)], name="tiny_keras")
    result = tinyattend.convert(model, board="host", out=tmp_path / "out")
    assert result.model == "tiny_keras.keras" and result.input.shape == (1, 6, 6, 1)
    assert tinyattend.verify(result.out, 5).bit_exact


def test_user_errors_raise_project_error_types(tmp_path):
    with pytest.raises(BoardError):
        tinyattend.convert(tmp_path / "m.tflite", board="no-such-board", out=tmp_path / "o")
    with pytest.raises(BadModelError):
        tinyattend.convert(tmp_path / "missing.onnx", board="host", out=tmp_path / "o")
    with pytest.raises(BadModelError):
        tinyattend.bench(tmp_path / "nothing-here")
    with pytest.raises(BadModelError):
        tinyattend.inspect(tmp_path / "missing.tflite")
