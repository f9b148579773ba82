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

import os
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadModelError, OptionError, UnsupportedOpError
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
    # convert_model(defer_quantization_error=True): a Future of (quantization_error, its warnings), still
    # running; report["quantization_error"] is None until the caller puts the result there.
    pending_quantization_error: "Future | None" = None


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
                  tflite_only: bool = False, defer_quantization_error: bool = False,
                  frontend: str | None = None) -> ConversionResult:
    """Convert `model` to a full-integer int8 TFLite model.

    calib: .npy/.npz array (N x input, in `layout`, default the model's: NCHW for ONNX, NHWC otherwise)
        or a folder of images, normalised as (pixel_0_255 - mean) / std per channel (default mean 0,
        std 255: pixels in 0..1). None: synthetic noise, with a loud warning.
    input_shape: static input shape for models with dynamic dimensions (the model's layout, batch first).
    calib_samples: at most this many samples are read; a quarter of them is held out.
    progress: a tinyattend.progress.Progress; None prints step lines to stderr, False prints nothing.
    tflite_only: the ONNX pre-check asks only that the model converts to int8 TFLite, not that tinyattend's
        code generator has a kernel for each op it becomes (for a .tflite to run elsewhere).
    defer_quantization_error: for an ONNX model, the int8-vs-float error on the held-out samples is left
        running in a thread (`pending_quantization_error`) for the caller to collect, so that it runs
        beside the caller's next work (the pipeline's code generation).
    frontend: for ONNX, "auto" (the direct TensorFlow-free path, else onnx2tf's TensorFlow path), "direct" or
        "tensorflow" (that path only); None: $TINYATTEND_ONNX_FRONTEND, else auto.
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
                                          tflite_only, defer_quantization_error, frontend)
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


def _convert_float_model(model, fmt, calib, input_shape, mean, std, layout, calib_samples, progress, tflite_only,
                         defer_quantization_error=False, frontend=None):
    from .quiet import import_tensorflow, set_quiet_environment
    from .quant_error import float_reference_outputs

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
        float_fn = _onnxruntime_fn(onnx_model, onnx_in)
        # The float half of the quantization error needs only ONNX Runtime: it runs on the other core
        # while TensorFlow imports and onnx2tf converts (ONNX Runtime releases the GIL).
        references = in_background(float_reference_outputs, float_fn, data.held_out)
        tflite, perm, float_tflite, frontend = _convert_onnx(model, onnx_model, onnx_in, data.samples, progress,
                                                             float_fn, onnx_frontend(frontend))
    else:
        import_tensorflow(progress)
        from .keras_to_tflite import convert_tf, load_keras, load_saved_model
        source = (load_keras if fmt == "keras" else load_saved_model)(model, input_shape, progress)
        with progress.step("loading calibration data"):
            data = load_calibration(calib, source.input_shape, "nhwc", layout=layout, mean=mean, std=std,
                                    max_samples=calib_samples, progress=progress)
        warnings += data.warnings
        tflite, float_tflite = convert_tf(source, data.samples, progress)
        perm, float_fn, references = None, source.float_fn, None
        frontend = {"path": "tensorflow", "why": None}
    with progress.step("checking the int8 model"):
        check_converted(tflite, str(model))
    pending = None
    if defer_quantization_error and references is not None and len(data.held_out):
        # Its interpreter is made here: making one silences the process's output, which only this thread does.
        from .quant_error import int8_interpreter
        interpreter = int8_interpreter(tflite)
        pending = in_background(_measured_quantization_error, float_fn, tflite, data.held_out, perm, SILENT,
                                 references, data.synthetic, interpreter)
        quant_error = None
    else:
        quant_error, more = _measured_quantization_error(float_fn, tflite, data.held_out, perm, progress,
                                                         references, data.synthetic)
        warnings += more
    calibration = {"source": data.source, "samples": int(len(data.samples)), "held_out": int(len(data.held_out)),
                   "synthetic": data.synthetic}
    report = _report(model, fmt, tflite, calibration, quant_error, warnings)
    report["frontend"] = frontend
    calibration_int8 = None
    held = data.held_out if perm is None else np.transpose(data.held_out, perm)
    if not data.synthetic:
        inp = report["input"]
        calibration_int8 = quantize(held, inp["scale"], inp["zero_point"])
    return ConversionResult(tflite, report, calibration_int8, float_tflite=float_tflite,
                            held_out_nhwc=np.ascontiguousarray(held, np.float32) if len(held) else None,
                            pending_quantization_error=pending)


FRONTEND_VARIABLE = "TINYATTEND_ONNX_FRONTEND"
FRONTENDS = ("auto", "direct", "tensorflow")


def onnx_frontend(chosen: str | None = None) -> str:
    """auto (the default): the direct path, else onnx2tf's TensorFlow path; direct or tensorflow: that one only.
    `chosen` (--frontend) wins over $TINYATTEND_ONNX_FRONTEND."""
    if chosen is not None:
        if chosen not in FRONTENDS:
            raise OptionError(f"--frontend {chosen!r} is not a front end", f"use one of {', '.join(FRONTENDS)}")
        return chosen
    choice = os.environ.get(FRONTEND_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in FRONTENDS:
        raise OptionError(f"{FRONTEND_VARIABLE}={choice!r} is not a front end", f"use one of {', '.join(FRONTENDS)}")
    return choice


def _convert_onnx(model, onnx_model, onnx_in, samples, progress, float_fn, frontend: str):
    """(int8 TFLite, ONNX -> TFLite permutation or None, float TFLite, {"path", "why"}): onnx_direct's
    TensorFlow-free path first; where it cannot take the model, the TensorFlow path (onnx_to_tflite), which
    decides as before. "why" says why the direct path was not taken (None when it was, or not tried)."""
    from .quiet import import_tensorflow

    why = None
    if frontend != "tensorflow":
        from .onnx_direct import DirectPathUnavailable, convert_onnx_direct
        try:
            return (*convert_onnx_direct(model, onnx_model, onnx_in, samples, progress, float_fn),
                    {"path": "direct", "why": None})
        except DirectPathUnavailable as err:
            why = str(err)
            if frontend == "direct":
                raise UnsupportedOpError(f"{model}: the direct ONNX front end cannot convert this model: {why}",
                                         "use --frontend auto (the default) to fall back to the TensorFlow path",
                                         ops=[]) \
                    from None
            progress.note(f"direct front end: {why}; converting with onnx2tf's TensorFlow path instead")
    else:
        why = "front end chosen: tensorflow"
    import_tensorflow(progress, keras3=False)      # onnx2tf builds tf_keras models
    from .onnx_to_tflite import convert_onnx
    return (*convert_onnx(model, onnx_model, onnx_in, samples, progress, with_float=True, reference=float_fn),
            {"path": "tensorflow", "why": why})


def _measured_quantization_error(float_fn, tflite, held_out, perm, progress, references, synthetic,
                                 interpreter=None) -> tuple[dict | None, list[str]]:
    """(quantization_error, the warnings it gives); a failure to measure is a warning, never an error.
    `references` is a Future of the float outputs, or None."""
    from .quant_error import quantization_error

    warnings = []
    try:
        quant_error = quantization_error(float_fn, tflite, held_out, perm, progress,
                                         references.result() if references is not None else None, interpreter)
    except Exception as err:  # noqa: BLE001 - a measurement of the model, not the model: say so, go on
        quant_error = None
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        warnings.append(f"the int8-vs-float error was not measured: LiteRT could not run the int8 or the float "
                        f"model on the held-out samples ({type(err).__name__}: {first}); `tinyattend verify` "
                        f"still checks the generated C against TFLM")
    if quant_error is not None and quant_error["top1_agreement"] < 0.9 and not synthetic:
        tied = quant_error.get("top1_tied") or 0.0
        because = ""
        if tied:
            because = (f"; on {tied:.1%} the int8 output ties at its top, the float model's class among those tied: "
                       f"the classes are closer than one step of the int8 output (an untrained or uncalibrated "
                       f"head?), so check the model and the calibration data, not the kernels")
        warnings.append(f"int8 and float models agree on the top-1 output for only "
                        f"{quant_error['top1_agreement']:.1%} of held-out samples{because}")
    return quant_error, warnings


def in_background(fn, *args) -> Future:
    """fn(*args) started in a daemon thread: a Future of its value or error, with the thread's own
    `seconds` (wall) and `cpu_seconds` set when it ends (a step line for work done beside another)."""
    import threading

    future: Future = Future()

    def run():
        start, cpu = time.monotonic(), time.thread_time()
        try:
            value = fn(*args)
        except BaseException as err:   # noqa: BLE001 - handed to future.result()
            future.seconds, future.cpu_seconds = time.monotonic() - start, time.thread_time() - cpu
            future.set_exception(err)
        else:
            future.seconds, future.cpu_seconds = time.monotonic() - start, time.thread_time() - cpu
            future.set_result(value)
    threading.Thread(target=run, daemon=True, name=f"tinyattend-{getattr(fn, '__name__', 'job')}").start()
    return future


def _onnxruntime_fn(onnx_model, onnx_in):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Its threads sleep between runs instead of spinning: it runs beside the TensorFlow import, whose core
    # a spinning thread would take (same outputs; only the wait differs).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def run(x):
        return session.run(None, {onnx_in.name: x.astype(np.float32).reshape(onnx_in.shape)})[0]
    return run
