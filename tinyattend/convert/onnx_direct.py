"""ONNX -> float TFLite (onnx2tf's direct flatbuffer writer) -> our calibration -> TF's MLIR int8 quantizer.

The TensorFlow-free way in, tried first for every ONNX model. onnx2tf 2.x writes the float TFLite
flatbuffer itself (`tflite_backend="flatbuffer_direct"`), with no TensorFlow graph, Keras model or
re-trace; TRANSPOSE pairs it leaves around elementwise ops are cancelled (tflite_transposes); the ranges
and fusions the TensorFlow converter makes are made (tflite_fusions); the ranges
come from `ranges.calibrated` as on the TensorFlow path, and the int8 model from the same MLIR quantizer
call TF's converter makes, loaded without `import tensorflow` (mlir_quantizer). Measured on attendnext-
micro: onnx2tf 2.4 s here against 3.9 s of TensorFlow import + 6.7 s of onnx2tf's Keras graph + 1.3 s of
re-trace on the TensorFlow path.

The direct writer covers fewer ONNX patterns than the TensorFlow path, and its graphs differ. Whenever
the direct path fails, builds a float model that disagrees with ONNX Runtime, or yields an int8 model our
code generator cannot take, DirectPathUnavailable says why, and the caller takes the TensorFlow path
(onnx_to_tflite), which decides the model's fate as before: the direct path only ever adds speed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..progress import cpu_seconds
from .onnx2tf_lean import lean_direct_writer
from .onnx_graph import OnnxInput
from .onnx_rewrites import for_onnx2tf
from .quiet import quiet_python_loggers, silenced

ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
# What the float model may differ from ONNX Runtime by on one calibration sample, over the output's range:
# a wrong graph, not float rounding (as onnx_to_tflite.check_tf_model).
FLOAT_CHECK_RTOL = 0.05


class DirectPathUnavailable(Exception):
    """The direct path cannot take this model; the message says why (for the progress line)."""


def convert_onnx_direct(onnx_path: Path, onnx_model, onnx_in: OnnxInput, calib_nchw: np.ndarray, progress,
                        reference) -> tuple[bytes, tuple | None, bytes]:
    """(int8 TFLite, permutation ONNX -> TFLite layout or None, the float TFLite it was quantized from)."""
    from .mlir_quantizer import (QuantizerUnavailable, converter_extension, preload_in_background,
                                 quantize_calibrated)
    from .ranges import calibrated
    from .tflite_fusions import fuse_all
    from .tflite_objects import read_model, write_model
    from .tflite_transposes import sink_transposes

    float_tflite = direct_float_tflite(onnx_model, onnx_in, progress, beside_import=preload_in_background)
    try:
        with progress.step("loading the int8 quantizer"), silenced(progress):
            converter_extension()
    except QuantizerUnavailable as err:
        raise DirectPathUnavailable(str(err)) from None
    with progress.step("sinking layout TRANSPOSEs, fusing activations and biases"):
        # one object model through the rewrites, the op check and the calibration's ranges: each read or
        # write of the flatbuffer as objects costs 0.1-0.2 s
        model = read_model(float_tflite)
        if sink_transposes(model) + fuse_all(model):
            float_tflite = write_model(model)
    _check_op_types(model)
    perm = _layout_of(float_tflite, onnx_in.shape)
    samples = calib_nchw if perm is None else np.transpose(calib_nchw, perm)
    samples = np.ascontiguousarray(samples, np.float32)
    with progress.step("checking the float TFLite model against ONNX Runtime"):
        _check_float_model(float_tflite, samples[:1], calib_nchw[:1], perm, reference)
    with progress.bar("calibrating", len(samples)) as bar:
        with_ranges = calibrated(float_tflite, samples, bar, model)
    start, start_cpu = time.monotonic(), cpu_seconds()
    try:
        with silenced(progress) as captured:
            tflite = quantize_calibrated(with_ranges)
    except Exception as err:   # noqa: BLE001 - the C++ quantizer raises an empty RuntimeError; its log says why
        said = [line.strip() for line in captured.tail().splitlines() if "error:" in line]
        raise DirectPathUnavailable("the int8 quantizer refused the direct float model ("
                                    + (said[0][:300] if said else _first_line(err)) + ")") from None
    tflite = int8_slices_as_strided_slices(with_static_shapes(tflite))
    progress.done("quantizing to int8 (TF's MLIR quantizer)", time.monotonic() - start, cpu_seconds() - start_cpu)
    _check_generatable(tflite)
    return tflite, perm, float_tflite


def with_static_shapes(tflite: bytes) -> bytes:
    """The int8 model with every activation's shape as LiteRT computes it when it runs the model.

    TF's quantizer can write an output whose dimensions it did not infer as 1s with a -1 signature (a SLICE
    of mobilevitv2: [1, 1, 1, 1] for [1, 4, 36, 1]); LiteRT resizes such tensors when it runs the op, TFLM
    and our code generator take the flatbuffer's shapes as they are. One invoke on the zero input."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .tflite_objects import read_model, write_model

    if not _has_unknown_dimensions(tflite):
        return tflite
    model = read_model(tflite)
    graph = model.subgraphs[0]
    with silenced():
        interpreter = Interpreter(model_content=tflite, experimental_preserve_all_tensors=True,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
        interpreter.invoke()               # a tensor LiteRT marks dynamic gets its shape when its op runs
    shapes = {d["index"]: [int(v) for v in d["shape"]] for d in interpreter.get_tensor_details()}
    changed = 0
    for index, tensor in enumerate(graph.tensors):
        prepared = shapes.get(index)
        if prepared is None or [int(d) for d in tensor.shape] == prepared or min(prepared, default=0) < 0:
            continue
        tensor.shape, tensor.shapeSignature = np.asarray(prepared, np.int32), None
        changed += 1
    return write_model(model) if changed else tflite


def _has_unknown_dimensions(tflite: bytes) -> bool:
    """Some tensor of subgraph 0 has a -1 in its shape signature (read in place: no copy of the weights)."""
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.Model.GetRootAsModel(tflite, 0).Subgraphs(0)
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        if tensor.ShapeSignatureLength() and int(tensor.ShapeSignatureAsNumpy().min()) < 0:
            return True
    return False


def int8_slices_as_strided_slices(tflite: bytes) -> bytes:
    """TF's quantizer writes a stride-1 STRIDED_SLICE back as SLICE; as STRIDED_SLICE again (the same bytes
    move: int8 slicing does no arithmetic) it has our kernel, and TFLM's."""
    from ai_edge_litert import schema_py_generated as schema

    from .tflite_fusions import slices_to_strided_slices
    from .tflite_objects import read_model, write_model

    codes = schema.Model.GetRootAsModel(tflite, 0)
    slice_code = schema.BuiltinOperator.SLICE
    if not any(max(codes.OperatorCodes(i).BuiltinCode(), codes.OperatorCodes(i).DeprecatedBuiltinCode()) == slice_code
               for i in range(codes.OperatorCodesLength())):
        return tflite                      # no SLICE: not worth reading the model as objects
    model = read_model(tflite)
    return write_model(model) if slices_to_strided_slices(model) else tflite


def direct_float_tflite(onnx_model, onnx_in: OnnxInput, progress, beside_import=None) -> bytes:
    """The float32 TFLite model onnx2tf writes directly (NHWC for an image input). `beside_import`: a
    function that starts a thread (returned), joined before the import step ends: its output is silenced
    with the import's (the quantizer's libraries print on load)."""
    import onnx

    with progress.step("importing onnx2tf"), silenced(progress):
        beside = beside_import() if beside_import is not None else None
        import onnx2tf
        import onnx2tf.onnx2tf   # noqa: F401 - `import onnx2tf` alone defers the real import to convert()
        if beside is not None:
            beside.join()
    quiet_python_loggers()
    work = Path(tempfile.mkdtemp(prefix="tinyattend-onnx2tf-"))
    old_cwd, old_tempdir = os.getcwd(), tempfile.tempdir
    try:
        copy = work / "model.onnx"
        onnx.save(for_onnx2tf(onnx_model, reorder_gelu=False), str(copy))
        # onnx2tf validates 3-channel models on 20 sample images from this file; any images do.
        np.save(work / ONNX2TF_SAMPLE_FILE, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
        os.chdir(work)
        tempfile.tempdir = str(work)
        with progress.step("running onnx2tf (ONNX -> float TFLite, no TensorFlow)"):
            try:
                with silenced(progress), lean_direct_writer():
                    onnx2tf.convert(
                        input_onnx_file_path=str(copy),
                        output_folder_path=str(work / "out"),
                        overwrite_input_shape=[f"{onnx_in.name}:{','.join(map(str, onnx_in.shape))}"],
                        tflite_backend="flatbuffer_direct",
                        non_verbose=True,
                        verbosity="error",
                    )
            except (Exception, SystemExit) as err:  # noqa: BLE001 - onnx2tf raises anything, or exits
                raise DirectPathUnavailable(f"onnx2tf's direct writer failed: {_first_line(err)}") from None
        written = work / "out" / "model_float32.tflite"
        if not written.is_file():
            raise DirectPathUnavailable("onnx2tf's direct writer wrote no float32 model")
        return written.read_bytes()
    finally:
        tempfile.tempdir = old_tempdir
        os.chdir(old_cwd)
        shutil.rmtree(work, ignore_errors=True)


def _layout_of(float_tflite: bytes, onnx_shape) -> tuple | None:
    """The permutation ONNX -> TFLite input layout (channels last for rank >= 3), or None when unchanged."""
    from .model_stats import io_details

    shape = tuple(int(d) for d in io_details(float_tflite)["input"]["shape"])
    onnx_shape = tuple(int(d) for d in onnx_shape)
    rank = len(onnx_shape)
    if rank >= 3:
        perm = (0,) + tuple(range(2, rank)) + (1,)
        if shape == tuple(onnx_shape[i] for i in perm):
            return perm
    if shape == onnx_shape:
        return None
    raise DirectPathUnavailable(f"the direct float model's input shape {shape} is not the ONNX input "
                                f"{onnx_shape} in either layout")


def _check_float_model(float_tflite: bytes, sample: np.ndarray, sample_nchw: np.ndarray, perm, reference) -> None:
    """The float TFLite model's output on one sample against ONNX Runtime's (`reference`)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .quant_error import _match_layout

    if len(sample) == 0:
        return
    try:
        with silenced():
            interpreter = Interpreter(model_content=float_tflite,
                                      experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[:1])
        interpreter.invoke()
        got = np.asarray(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), np.float32)
    except Exception as err:  # noqa: BLE001 - LiteRT raises RuntimeError/ValueError for a graph it cannot run
        raise DirectPathUnavailable(f"LiteRT cannot run the direct float model ({_first_line(err)})") from None
    expected = np.asarray(reference(sample_nchw[:1].astype(np.float32)), np.float32)
    got = _match_layout(got, expected.shape, perm)
    if got.size != expected.size:
        raise DirectPathUnavailable(f"the direct float model's output has {got.size} values, ONNX Runtime's "
                                    f"{expected.size}")
    error = float(np.abs(got.reshape(-1) - expected.reshape(-1)).max())
    span = float(expected.max() - expected.min()) if expected.size else 0.0
    if not np.isfinite(error) or error > FLOAT_CHECK_RTOL * max(span, 1e-6) + 1e-5:
        raise DirectPathUnavailable(f"the direct float model disagrees with ONNX Runtime (max |error| {error:.3g}, "
                                    f"output range {span:.3g})")


def _check_op_types(model) -> None:
    """Every op of the float model (as objects) has a kernel: checked before calibration, so a model the
    direct path cannot take costs seconds, not a calibration (LayerNorm written with SQRT and DIV, for one)."""
    from ai_edge_litert import schema_py_generated as schema

    from ..codegen.ops import supported_op_types
    from .tflite_objects import builtin_code

    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    supported = set(supported_op_types())
    missing = sorted({names.get(builtin_code(model, op), "CUSTOM") for op in model.subgraphs[0].operators}
                     - supported)
    if missing:
        raise DirectPathUnavailable(f"the direct float model has ops without a kernel: {', '.join(missing)}")


def _check_generatable(tflite: bytes) -> None:
    """The int8 model is full-integer and every op has a portable kernel; else the TensorFlow path decides."""
    from ..errors import TinyattendError
    from ..inspect import inspect_tflite
    from ..ir.tflite_reader import read_tflite
    from .tflite_check import check_converted

    try:
        check_converted(tflite, "the direct int8 model")
        problems = inspect_tflite(read_tflite(tflite, "model.tflite"))["problems"]
    except TinyattendError as err:
        raise DirectPathUnavailable(_first_line(err)) from None
    blocking = [p for p in problems if p["kernels"] in ("all", "portable")]
    if blocking:
        first = blocking[0]
        raise DirectPathUnavailable(f"{len(blocking)} problem(s) in the direct int8 model, first: op {first['op']} "
                                    f"#{first['index']}: {first['reason']}")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0][:300] if text else type(err).__name__)
