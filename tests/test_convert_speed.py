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
    """Run `code` in a fresh interpreter (nothing imported yet); it prints one JSON line last."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
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
