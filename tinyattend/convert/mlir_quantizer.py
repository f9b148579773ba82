"""TensorFlow's MLIR int8 quantizer, called on a calibrated float TFLite model, without importing TensorFlow.

TF's converter ends a full-integer conversion with one C++ call (`ExperimentalMlirQuantizeModel` in
`tensorflow/compiler/mlir/lite/python/_pywrap_converter_api`): a float TFLite flatbuffer whose tensors
carry calibration min/max in, the int8 flatbuffer out. The extension needs TensorFlow's shared libraries,
not its Python package, so it is loaded here by file (0.5 s warm) instead of through `import tensorflow`
(3-4 s). Where TensorFlow is already imported, the extension is taken from there: it is one module
either way. The arguments are those TF's converter passes for `optimizations=[DEFAULT]`, int8 input and
output, per-channel weights (tensorflow/lite/python/lite.py `_quantize`), so the result is the same
flatbuffer TF's converter writes from the same calibrated model (tests/test_direct_frontend.py).
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path

EXTENSION = "tensorflow.compiler.mlir.lite.python._pywrap_converter_api"
# tensorflow/compiler/mlir/lite/types.proto (IODataType): the values TF's converter passes.
QUANTIZED_INT8 = 9
INT8 = 18

_lock = threading.Lock()


class QuantizerUnavailable(RuntimeError):
    """TensorFlow (which ships the quantizer) is not installed, or its extension does not load."""


# The extension's shared libraries (its RUNPATH finds them here, relative to the package): loaded by ctypes,
# which releases the GIL while the dynamic linker works, they can load beside onnx2tf; the extension's own
# import then takes ~0.3 s instead of ~0.6-2 s. Only a head start: missing or failing ones are skipped.
SHARED_LIBRARIES = ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2", "python/lib_pywrap_tensorflow_common.so")


def preload_in_background() -> threading.Thread | None:
    """Start loading the quantizer's shared libraries in a daemon thread (None if TensorFlow is absent)."""
    import ctypes

    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0])

    def load():
        for name in SHARED_LIBRARIES:
            try:
                ctypes.CDLL(str(folder / name))
            except OSError:
                return
    thread = threading.Thread(target=load, daemon=True, name="tinyattend-quantizer-preload")
    thread.start()
    return thread


def converter_extension():
    """The `_pywrap_converter_api` module, loaded once."""
    with _lock:
        module = sys.modules.get(EXTENSION)
        if module is not None:
            return module
        spec = importlib.util.find_spec("tensorflow")     # finds the package without running its __init__
        if spec is None or not spec.submodule_search_locations:
            raise QuantizerUnavailable("TensorFlow is not installed (it ships the int8 quantizer)")
        folder = Path(spec.submodule_search_locations[0]) / "compiler" / "mlir" / "lite" / "python"
        files = [folder / f"_pywrap_converter_api{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES]
        found = next((f for f in files if f.is_file()), None)
        if found is None:
            raise QuantizerUnavailable(f"TensorFlow's quantizer extension is missing from {folder}")
        loader = importlib.machinery.ExtensionFileLoader(EXTENSION, str(found))
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(
            EXTENSION, found, loader=loader))
        try:
            loader.exec_module(module)
        except ImportError as err:
            raise QuantizerUnavailable(f"TensorFlow's quantizer extension does not load: {err}") from err
        sys.modules[EXTENSION] = module
        return module


def quantize_calibrated(calibrated_float: bytes) -> bytes:
    """The full-integer int8 model (int8 input and output) of a float TFLite model with calibration ranges."""
    api = converter_extension()
    result = api.ExperimentalMlirQuantizeModel(
        calibrated_float,
        False,            # disable_per_channel
        False,            # fully_quantize (TF passes its default; the int8 I/O types below still apply)
        QUANTIZED_INT8,   # inference_type
        INT8,             # input_data_type
        INT8,             # output_data_type
        False,            # enable_numeric_verify
        False,            # enable_whole_model_verify
        None,             # denylisted_ops
        None,             # denylisted_nodes
        False,            # enable_variable_quantization
        False,            # disable_per_channel_for_dense_layers
        b"",              # debug_options_str: TF's default DebugOptions serialise to nothing
    )
    return bytes(result)
