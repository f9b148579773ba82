"""The seed corpus: valid models the mutations start from.

.tflite: the MLPerf Tiny models in ../shared/models (when present), the demo model converted to int8
(corpus/attendnext_digits_int8.tflite, `tinyattend convert models/attendnext_digits.onnx --calib
models/attendnext_digits_calib.npy`) and the small FULLY_CONNECTED model of tests/test_hostile.py.
ONNX: small models from tests/model_factory.py, and the demo model itself (large: campaign only).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# ../shared/models beside the repository (a git worktree one level deeper: ../../shared/models)
# (or TINYATTEND_SHARED_MODELS)
SHARED_MODELS = next((Path(p) for p in (os.environ.get("TINYATTEND_SHARED_MODELS", ""), REPO.parent / "shared" / "models",
                                        REPO.parent.parent / "shared" / "models") if p and Path(p).is_dir()),
                     REPO.parent / "shared" / "models")
CORPUS = Path(__file__).resolve().parent / "corpus"


def _tests_on_path() -> None:
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def tflite_seeds() -> dict[str, bytes]:
    _tests_on_path()
    from test_hostile import serialise, tiny_model
    seeds = {"tiny_fc": serialise(tiny_model())}
    for path in sorted(CORPUS.glob("*.tflite")) + sorted(SHARED_MODELS.glob("*.tflite")):
        seeds[path.stem] = path.read_bytes()
    return seeds


def onnx_seeds(with_demo: bool = False) -> dict[str, bytes]:
    _tests_on_path()
    import model_factory as mf
    b = mf.OnnxBuilder([1, 3, 8, 8], "tiny_conv")
    x = b.relu(b.random_conv(b.input_name, 3, 4, stride=2))
    y = b.random_gemm(b.flatten(b.global_avg_pool(x)), 4, 3)
    seeds = {"tiny_conv": b.build(y, [1, 3]).SerializeToString(),
             "ops_model": mf.ops_model(size=16).SerializeToString()}
    if with_demo:
        seeds["attendnext_digits"] = (REPO / "models" / "attendnext_digits.onnx").read_bytes()
    return seeds
