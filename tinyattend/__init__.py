"""tinyattend: ONNX/TFLite image models to bit-exact int8 C for Cortex-M.

Pipeline, one module per stage, data flowing one way:
  convert/ (ONNX -> int8 TFLite) -> ir/ (read .tflite into dataclasses)
  -> plan/ (lifetimes, arena offsets) -> codegen/ (C from templates/)
  -> build/ (firmware or host project) -> run/ (host, QEMU, serial) -> report/
"""
from pathlib import Path

__version__ = "0.1.0"

# Repository-level data folders (the package is installed editable from the repo).
REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = REPO_ROOT / "templates"
BOARDS_DIR = REPO_ROOT / "boards"
