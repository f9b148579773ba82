"""Converter stage: a model -> a full-integer int8 TFLite model and a conversion report.

MODEL may be
  * `.onnx`: onnx2tf (in memory, NCHW -> NHWC) then the TFLite converter with int8 calibration;
  * `.tflite`: taken as is once checked to be full-integer int8 (a float or dynamic-range "hybrid"
    .tflite is rejected: give its float ONNX/Keras model with --calib instead);
  * Keras `.keras`/`.h5`, or a SavedModel directory (NHWC), through the same int8 converter call.
Calibration data (`calib`) and the normalisation `mean`/`std`/`layout` are described in
`tinyattend.convert.calibration`. A quarter of the calibration samples is held out and used only to
measure the quantization error (float model vs int8 model), never to calibrate.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadModelError
from ..guard import stage, time_limit
from ..limits import limits
from ..progress import SILENT, Progress
from .calibration import load_calibration, quantize
from .model_stats import io_details, model_stats
from .tflite_check import check_converted, check_full_integer, load_tflite

__all__ = ["ConversionResult", "convert_model"]

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass
class ConversionResult:
    tflite: bytes        # the full-integer int8 model (int8 in/out, per-channel int8 conv weights, int32 bias)
    report: dict         # JSON-serialisable: source, input, output, params, macs, ..., quantization_error, warnings
    calibration: "np.ndarray | None"   # held-out inputs as int8, (N, *tflite_input_shape[1:]) (NHWC), quantized
                                       # with the TFLite input's scale/zero point; None if synthetic
    float_tflite: "bytes | None" = None        # the float TFLite of the same graph (per-layer error reference);
                                               # None for a .tflite passthrough or if its conversion failed
    held_out_nhwc: "np.ndarray | None" = None  # held-out float samples in the TFLite input layout (NHWC)


def model_format(model: Path) -> str:
    if model.is_dir():
        if (model / "saved_model.pb").is_file() or (model / "saved_model.pbtxt").is_file():
            return "saved_model"
        raise BadModelError(f"{model}: a directory without saved_model.pb",
                            "give an .onnx/.tflite/.keras/.h5 file, or a SavedModel directory")
    suffix = model.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".tflite":
        return "tflite"
    if suffix in KERAS_SUFFIXES:
        return "keras"
    if not model.exists():
        raise BadModelError(f"{model}: no such file", "check the path to the model")
    raise BadModelError(f"{model}: unknown model format '{suffix or '(no suffix)'}'",
                        "give an .onnx, .tflite (full int8), .keras/.h5 file or a SavedModel directory")


def convert_model(model: Path, *, calib: str | None = None, input_shape: tuple[int, ...] | None = None,
                  mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                  layout: str | None = None, calib_samples: int = 200, progress=None,
                  tflite_only: bool = False) -> ConversionResult:
    """Convert `model` to a full-integer int8 TFLite model.

    calib: .npy/.npz array (N x input, in `layout`, default the model's: NCHW for ONNX, NHWC otherwise)
        or a folder of images, normalised as (pixel_0_255 - mean) / std per channel (default mean 0,
        std 255: pixels in 0..1). None: synthetic noise, with a loud warning.
    input_shape: static input shape for models with dynamic dimensions (the model's layout, batch first).
    calib_samples: at most this many samples are read; a quarter of them is held out.
    progress: a tinyattend.progress.Progress; None prints step lines to stderr, False prints nothing.
    tflite_only: the ONNX pre-check asks only that the model converts to int8 TFLite, not that tinyattend's
        code generator has a kernel for each op it becomes (for a .tflite to run elsewhere).
    Raises the tinyattend.errors types (BadModelError, UnsupportedOpError, CalibrationDataError).
    """
    progress = SILENT if progress is False else (progress or Progress("convert"))
    model = Path(model)
    start = time.monotonic()
    # The stage boundary (tinyattend/guard.py): only TinyattendErrors leave; the whole conversion runs
    # under the conversion time limit (tinyattend/limits.py).
    with stage("convert"), time_limit(limits().max_convert_seconds, f"converting {model.name}"):
        fmt = model_format(model)
        if fmt == "tflite":
            result = _passthrough(model, calib, layout, mean, std, calib_samples, progress)
        else:
            result = _convert_float_model(model, fmt, calib, input_shape, mean, std, layout, calib_samples, progress,
                                          tflite_only)
    result.report["conversion_seconds"] = round(time.monotonic() - start, 2)
    for warning in result.report["warnings"]:
        if "SYNTHETIC" in warning:
            progress.note(f"WARNING: {warning}")
    return result


def _report(model: Path, fmt: str, tflite: bytes, calibration: dict, quant_error, warnings) -> dict:
    details = io_details(tflite)
    stats = model_stats(tflite)
    strip = lambda d: {k: d[k] for k in ("shape", "dtype", "scale", "zero_point")}  # noqa: E731
    return {
        "source": {"file": model.name, "path": str(model), "format": fmt},
        "input": strip(details["input"]),
        "output": strip(details["output"]),
        **stats,
        "conversion_seconds": None,
        "calibration": calibration,
        "quantization_error": quant_error,
        "warnings": list(warnings),
    }


def _passthrough(model, calib, layout, mean, std, calib_samples, progress) -> ConversionResult:
    tflite = load_tflite(model)
    # Validate the flatbuffer with the IR reader first: it turns every malformed
    # model (dangling indices, truncation, ...) into a BadModelError.
    from ..ir.tflite_reader import read_tflite
    read_tflite(tflite, Path(model).name)
    check_full_integer(tflite, str(model))
    warnings = ["the model is already int8 TFLite: there is no float model, so no quantization error "
                "is measured (quantization_error is null)"]
    inp = io_details(tflite)["input"]
    calibration_int8 = None
    calibration = {"source": None, "samples": 0, "held_out": 0, "synthetic": False}
    if calib is not None:
        data = load_calibration(calib, tuple(inp["shape"]), "nhwc", layout=layout, mean=mean, std=std,
                                max_samples=calib_samples, held_out=False)
        warnings += data.warnings
        calibration_int8 = quantize(data.samples, inp["scale"], inp["zero_point"])
        calibration = {"source": data.source, "samples": int(len(data.samples)), "held_out": 0, "synthetic": False,
                       "note": "used only as test inputs for later verification; the model is not recalibrated"}
    report = _report(model, "tflite", tflite, calibration, None, warnings)
    return ConversionResult(tflite, report, calibration_int8)


def _convert_float_model(model, fmt, calib, input_shape, mean, std, layout, calib_samples, progress, tflite_only):
    from .quiet import import_tensorflow, set_quiet_environment
    from .quant_error import quantization_error

    set_quiet_environment()
    warnings: list[str] = []
    if fmt == "onnx":
        from .onnx_checks import check_onnx_ops, load_onnx, onnx_input
        with progress.step("reading the ONNX model and checking its ops"):
            onnx_model = load_onnx(model)
            onnx_in = onnx_input(onnx_model, model, input_shape)
            if onnx_in.elem_type != 1:      # onnx.TensorProto.FLOAT
                raise BadModelError(f"{model}: input '{onnx_in.name}' is not float32 (ONNX type "
                                    f"{onnx_in.elem_type})",
                                    "export the model with a float32 input; tinyattend quantizes it to int8")
            check_onnx_ops(onnx_model, model, require_kernels=not tflite_only)
            from .onnx_validate import validate_onnx
            validate_onnx(onnx_model, model, onnx_in)
        model_shape, model_layout = onnx_in.shape, "nchw" if len(onnx_in.shape) >= 3 else "nhwc"
        with progress.step("loading calibration data"):
            data = load_calibration(calib, model_shape, model_layout, layout=layout, mean=mean, std=std,
                                    max_samples=calib_samples, progress=progress)
        warnings += data.warnings
        import_tensorflow(progress, keras3=False)      # onnx2tf builds tf_keras models
        from .onnx_to_tflite import convert_onnx
        float_fn = _onnxruntime_fn(onnx_model, onnx_in)
        tflite, perm, float_tflite = convert_onnx(model, onnx_model, onnx_in, data.samples, progress,
                                                  with_float=True, reference=float_fn)
    else:
        import_tensorflow(progress)
        from .keras_to_tflite import convert_tf, load_keras, load_saved_model
        source = (load_keras if fmt == "keras" else load_saved_model)(model, input_shape, progress)
        with progress.step("loading calibration data"):
            data = load_calibration(calib, source.input_shape, "nhwc", layout=layout, mean=mean, std=std,
                                    max_samples=calib_samples, progress=progress)
        warnings += data.warnings
        tflite, float_tflite = convert_tf(source, data.samples, progress)
        perm, float_fn = None, source.float_fn
    with progress.step("checking the int8 model"):
        check_converted(tflite, str(model))
    try:
        quant_error = quantization_error(float_fn, tflite, data.held_out, perm, progress)
    except Exception as err:  # noqa: BLE001 - a measurement of the model, not the model: say so, go on
        quant_error = None
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        warnings.append(f"the int8-vs-float error was not measured: LiteRT could not run the int8 or the float "
                        f"model on the held-out samples ({type(err).__name__}: {first}); `tinyattend verify` "
                        f"still checks the generated C against TFLM")
    if quant_error is not None and quant_error["top1_agreement"] < 0.9 and not data.synthetic:
        warnings.append(f"int8 and float models agree on the top-1 output for only "
                        f"{quant_error['top1_agreement']:.1%} of held-out samples")
    calibration = {"source": data.source, "samples": int(len(data.samples)), "held_out": int(len(data.held_out)),
                   "synthetic": data.synthetic}
    report = _report(model, fmt, tflite, calibration, quant_error, warnings)
    calibration_int8 = None
    held = data.held_out if perm is None else np.transpose(data.held_out, perm)
    if not data.synthetic:
        inp = report["input"]
        calibration_int8 = quantize(held, inp["scale"], inp["zero_point"])
    return ConversionResult(tflite, report, calibration_int8, float_tflite=float_tflite,
                            held_out_nhwc=np.ascontiguousarray(held, np.float32) if len(held) else None)


def _onnxruntime_fn(onnx_model, onnx_in):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def run(x):
        return session.run(None, {onnx_in.name: x.astype(np.float32).reshape(onnx_in.shape)})[0]
    return run
