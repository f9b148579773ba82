"""tinyattend: ONNX/TFLite image models to bit-exact int8 C for Cortex-M.

Pipeline, one module per stage, data flowing one way:
  convert/ (ONNX -> int8 TFLite) -> ir/ (read .tflite into dataclasses)
  -> plan/ (lifetimes, arena offsets) -> codegen/ (C from templates/)
  -> build/ (firmware or host project) -> run/ (host, QEMU, serial) -> report/

The Python API (tinyattend.api): convert, bench, verify, inspect, search; results are frozen dataclasses.
Data folders (templates/, boards/, the demo model) are found by tinyattend.resources.
"""
__version__ = "0.1.0"

# `tinyattend.convert`, `.verify` and `.inspect` are the API's functions, yet stage modules of the same
# names exist. Importing a submodule binds it as an attribute of this package the first time only, so the
# stage modules are imported here first and the API's functions bound over them. The stages stay reachable
# with `from tinyattend.convert import convert_model` (or sys.modules), not `tinyattend.convert.x`.
from . import convert as _convert_stage, inspect as _inspect_stage, verify as _verify_stage  # noqa: E402,F401
from . import search as _search_stage  # noqa: E402,F401
from .api import (BenchResult, ConvertResult, LayerRow, ModelInfo, OpRow, QuantizationError,  # noqa: E402
                  TensorInfo, VerifyBatch, VerifyResult, bench, convert, inspect, search, verify)

__all__ = ["__version__", "convert", "bench", "verify", "inspect", "search", "ConvertResult", "BenchResult",
           "VerifyResult", "VerifyBatch", "ModelInfo", "OpRow", "LayerRow", "TensorInfo", "QuantizationError"]
