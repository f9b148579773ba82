"""Conversion speed: work the ONNX conversion must not do, and work it does on both cores.

Each test guards a saving that would otherwise regress silently (the output stays the same, only
slower): what the process imports, and that the parallel forms give the serial results exactly.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> dict:
    """Run `code` in a fresh interpreter (nothing imported yet); it prints one JSON line last. Without
    TF_USE_LEGACY_KERAS, which onnx2tf sets in the process that imported it (another test in this worker)."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_onnx_path_imports_tensorflow_without_keras3():
    """The ONNX path's TensorFlow import leaves Keras 3 out (about 1 s of CPU) and still leaves
    TensorFlow's package path as a plain import does, so `tf.keras` and `import tensorflow.keras` work."""
    blocked = _python(
        "import json, sys\n"
        "from tinyattend.convert.quiet import import_tensorflow\n"
        "from tinyattend.progress import SILENT\n"
        "tf = import_tensorflow(SILENT, keras3=False)\n"
        "keras_loaded = any(name == 'keras' or name.startswith('keras.') for name in sys.modules)\n"
        "path = list(tf.__path__)\n"
        "import tensorflow.keras\n"
        "print(json.dumps({'keras': keras_loaded, 'path': path,\n"
        "                  'dense': tf.keras.layers.Dense.__module__}))\n")
    plain = _python(
        "import json, sys\n"
        "sys.modules['sklearn'] = None\n"
        "import tensorflow as tf\n"
        "print(json.dumps({'path': list(tf.__path__), 'dense': tf.keras.layers.Dense.__module__}))\n")
    assert blocked["keras"] is False
    assert blocked["path"] == plain["path"]
    assert blocked["dense"] == plain["dense"]


@pytest.mark.slow
def test_measurements_beside_code_generation_equal_the_serial_ones(tmp_path):
    """`convert` runs the int8-vs-float error (its float half while TensorFlow imports) and the per-layer
    error in threads beside code generation: report.json holds exactly the figures and warnings a serial
    measurement of the same conversion gives, in the serial order."""
    import numpy as np

    import model_factory as mf
    from test_layer_error_convert import small_cnn
    from tinyattend.boards import load_board
    from tinyattend.convert import convert_model
    from tinyattend.pipeline import LAYER_ERROR_SAMPLES, convert_project
    from tinyattend.report.layer_error import layer_errors

    model = mf.save(small_cnn(), tmp_path / "small_cnn.onnx")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).random((24, 3, 16, 16), dtype=np.float32))
    report = convert_project(model, load_board("host"), tmp_path / "out", calib=str(calib), progress=False)
    serial = convert_model(model, calib=str(calib), progress=False)
    assert serial.pending_quantization_error is None
    assert report["quantization_error"] == serial.report["quantization_error"] is not None
    # a second conversion in one process names its Keras layers model_N+1/...: compare all but the names
    unnamed = lambda rows: [{k: v for k, v in row.items() if k != "tensor"} for row in rows]   # noqa: E731
    assert unnamed(report["layer_errors"]) == unnamed(layer_errors(serial.float_tflite, serial.tflite,
                                                                   serial.held_out_nhwc[:LAYER_ERROR_SAMPLES]))
    assert report["warnings"][:len(serial.report["warnings"])] == serial.report["warnings"]
    steps = [t["step"] for t in report["stage_seconds"]]
    assert "quantization error on held-out samples (beside code generation)" in steps
    assert any(step.startswith("per-layer quantization error") for step in steps)
    # TFLM's arena, measured by one child (report and probe together): the smallest TFLM prepares the model in
    arena = report["tflm_arena_bytes"]
    assert arena >= report["tflm_arena_total"] > 0
    fits = _python(
        "import json, sys\n"
        "from tflite_micro.python.tflite_micro import runtime\n"
        f"model = open({str(tmp_path / 'out' / 'model.tflite')!r}, 'rb').read()\n"
        "def fits(size):\n"
        "    try:\n"
        "        runtime.Interpreter.from_bytes(model, arena_size=size)\n"
        "        return True\n"
        "    except RuntimeError:\n"
        "        return False\n"
        f"print(json.dumps({{'at': fits({arena}), 'below': fits({arena - 16})}}))\n")
    assert fits == {"at": True, "below": False}


@pytest.mark.slow
def test_onnx2tf_loads_without_its_flatbuffer_direct_backend():
    """On the TensorFlow path, onnx2tf's own TFLite writer (unused there: TF's converter writes the model)
    stays unloaded through a whole ONNX conversion, and the package's own names still load on first use."""
    loaded = _python(
        "import json, os, sys, tempfile\n"
        "os.environ['TINYATTEND_ONNX_FRONTEND'] = 'tensorflow'\n"
        "from pathlib import Path\n"
        "sys.path.insert(0, 'tests')\n"
        "import model_factory as mf\n"
        "from test_layer_error_convert import small_cnn\n"
        "from tinyattend.convert import convert_model\n"
        "work = Path(tempfile.mkdtemp())\n"
        "result = convert_model(mf.save(small_cnn(), work / 'm.onnx'), progress=False)\n"
        "backend = sorted(m for m in sys.modules if m.startswith('onnx2tf.tflite_builder'))\n"
        "import onnx2tf.tflite_builder as package\n"
        "writer = package.export_tflite_model_flatbuffer_direct\n"
        "print(json.dumps({'tflite': len(result.tflite), 'backend': backend, 'writer': writer.__module__,\n"
        "                  'after': len([m for m in sys.modules if m.startswith('onnx2tf.tflite_builder')])}))\n")
    assert loaded["tflite"] > 0
    assert "onnx2tf.tflite_builder.lower_from_onnx2tf" not in loaded["backend"]
    assert len(loaded["backend"]) < 60, loaded["backend"]
    assert loaded["writer"].startswith("onnx2tf.tflite_builder")
    assert loaded["after"] > 200                     # the first use of a package name loads the backend


@pytest.mark.slow
def test_a_model_read_again_is_not_parsed_again(tmp_path, monkeypatch):
    """The int8 model is read three times a conversion: the second read of the same bytes gives the kept
    Graph (same tensors) under its own name; other limits in force or other bytes are parsed anew."""
    import model_factory as mf
    from tinyattend.errors import BadModelError
    from tinyattend.ir.tflite_reader import read_tflite

    tflite = mf.float_tflite()
    first = read_tflite(tflite, "first")
    again = read_tflite(bytes(bytearray(tflite)), "again")        # equal bytes, another object
    assert (first.name, again.name) == ("first", "again")
    assert again.tensors is first.tensors and again.ops is first.ops
    other = read_tflite(tflite + b"\0", "other")                 # other bytes (a trailing byte), same model
    assert other.tensors is not first.tensors and other.tensors == first.tensors
    largest = max(t.nbytes for t in first.tensors if t.nbytes is not None)
    monkeypatch.setenv("TINYATTEND_MAX_TENSOR_BYTES", str(largest - 1))
    with pytest.raises(BadModelError, match="over tinyattend's limit"):   # a stricter limit is checked again
        read_tflite(tflite, "strict")

