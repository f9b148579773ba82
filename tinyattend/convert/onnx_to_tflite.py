"""ONNX -> TensorFlow (onnx2tf, in memory) -> full-integer int8 TFLite.

onnx2tf builds a tf_keras model with NHWC tensors (an NCHW input becomes NHWC); we ask it for that
model only (no SavedModel, no TFLite variants of its own: `disable_model_save=True`) and give it to
our int8 converter call. onnx2tf rewrites the input .onnx in place and, for 3-channel images, loads
a sample-image file from its working directory (downloading it when missing): it therefore runs on
a copy in a temporary directory, as its working directory, with a local stand-in for that file. The
copy goes through `onnx_rewrites` first (Constant nodes -> initializers, torch's GELU reordered).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import traceback
from pathlib import Path

import numpy as np

from ..errors import UnsupportedOpError
from .int8_converter import quantize_int8
from .onnx2tf_fixes import onnx2tf_layout_fixes
from .onnx_graph import OnnxInput
from .onnx_rewrites import for_onnx2tf
from .quiet import quiet_python_loggers, silenced

ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def onnx_to_tf_model(onnx_path: Path, onnx_model, onnx_in: OnnxInput, progress, keep_dir: Path | None = None):
    """The onnx2tf tf_keras model (NHWC) of a loaded ONNX model. UnsupportedOpError names the failing node."""
    import onnx

    with progress.step("importing onnx2tf"), silenced(progress):
        import onnx2tf
        defer_flatbuffer_direct_backend()
        import onnx2tf.onnx2tf   # noqa: F401 - `import onnx2tf` alone defers the real import to convert()
    quiet_python_loggers()
    work = Path(tempfile.mkdtemp(prefix="tinyattend-onnx2tf-", dir=keep_dir))
    old_cwd, old_tempdir = os.getcwd(), tempfile.tempdir
    try:
        copy = work / "model.onnx"
        # weights inline, even if the original kept external data; rewritten for onnx2tf (onnx_rewrites)
        onnx.save(for_onnx2tf(onnx_model), str(copy))
        # onnx2tf validates 3-channel models on 20 sample images from this file; any images do.
        rng = np.random.default_rng(0)
        np.save(work / ONNX2TF_SAMPLE_FILE, rng.random((20, 128, 128, 3), dtype=np.float32))
        os.chdir(work)
        # onnx2tf's own temporary folders (onnx2tf_ort_mm_*, ...) go inside `work`, removed below on any exit.
        tempfile.tempdir = str(work)
        shape_arg = [f"{onnx_in.name}:{','.join(map(str, onnx_in.shape))}"]
        with progress.step("running onnx2tf (ONNX -> TensorFlow)"):
            try:
                with silenced(progress) as captured, onnx2tf_layout_fixes():
                    model = onnx2tf.convert(
                        input_onnx_file_path=str(copy),
                        output_folder_path=str(work / "saved_model"),
                        overwrite_input_shape=shape_arg,
                        disable_model_save=True,
                        tflite_backend="tf_converter",
                        non_verbose=True,
                        verbosity="error",
                    )
            except (Exception, SystemExit) as err:  # noqa: BLE001 - onnx2tf raises anything, or exits
                raise _translate_onnx2tf_error(err, captured.tail(), onnx_path) from None
        if model is None:
            raise UnsupportedOpError(f"{onnx_path}: onnx2tf produced no model", "see the ops listed by "
                                     "`tinyattend inspect`; simplify the model and re-export", ops=[])
        return model
    finally:
        tempfile.tempdir = old_tempdir
        os.chdir(old_cwd)
        shutil.rmtree(work, ignore_errors=True)


FLATBUFFER_DIRECT_PACKAGE = "onnx2tf.tflite_builder"


def defer_flatbuffer_direct_backend() -> None:
    """Keep onnx2tf 2.6.9's own TFLite writer (`flatbuffer_direct`, which we do not use: tflite_backend is
    "tf_converter") from loading with onnx2tf, about 0.5 s of CPU.

    `onnx2tf.onnx2tf` imports three small modules of the package `onnx2tf.tflite_builder`, whose
    `__init__` imports the whole backend (some 300 modules). The package is registered here without
    running that `__init__`: its submodules import as usual, and the first use of a name of the package
    itself runs the `__init__` then (PEP 562 module __getattr__), so nothing onnx2tf does can miss it.
    Only for the onnx2tf version this was written against, and only before onnx2tf loads."""
    import importlib.util
    import sys

    import onnx2tf

    if getattr(onnx2tf, "__version__", None) != "2.6.9" or FLATBUFFER_DIRECT_PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(FLATBUFFER_DIRECT_PACKAGE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)

    def load_on_first_use(name: str):
        package.__dict__.pop("__getattr__", None)
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = load_on_first_use
    sys.modules[FLATBUFFER_DIRECT_PACKAGE] = package


def _translate_onnx2tf_error(err: BaseException, log: str, onnx_path: Path) -> UnsupportedOpError:
    node = None
    for frame, _ in traceback.walk_tb(err.__traceback__):
        candidate = frame.f_locals.get("graph_node")
        if candidate is not None and hasattr(candidate, "op"):
            node = candidate
    detail = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    if node is not None:
        outputs = ", ".join(getattr(t, "name", "?") for t in getattr(node, "outputs", []))
        message = (f"{onnx_path}: onnx2tf cannot convert op {node.op} (node '{node.name}', output {outputs}): "
                   f"{detail}")
        ops = [(node.op, node.name, detail)]
    else:
        last = log.splitlines()[-1] if log else detail
        message = f"{onnx_path}: onnx2tf failed: {detail}\n    last log line: {last[:300]}"
        ops = []
    return UnsupportedOpError(message, "replace or simplify that op before export (e.g. export with a lower "
                              "opset, constant-fold shape computations with onnxsim), or give a static "
                              "--input-shape", ops=ops)


def convert_onnx(onnx_path: Path, onnx_model, onnx_in: OnnxInput, calib_nchw: np.ndarray, progress,
                 with_float: bool = False, reference=None):
    """Return (tflite bytes, permutation NCHW->TFLite layout or None); with_float: also the float TFLite
    the int8 model was quantized from (the per-layer error's reference) as a third item. `reference`:
    the ONNX model's float function (one ONNX Runtime session for the whole conversion), if at hand."""
    import tensorflow as tf

    model = onnx_to_tf_model(onnx_path, onnx_model, onnx_in, progress)
    tf_shape, perm = _layout_of(model, onnx_in.shape)
    samples = calib_nchw if perm is None else np.transpose(calib_nchw, perm)
    with progress.step("checking onnx2tf's graph against ONNX Runtime"):
        check_tf_model(model, onnx_model, onnx_in, calib_nchw[:1], perm, onnx_path, progress, reference)
    run_model = tf.function(lambda *inputs: model(inputs),
                            input_signature=[tf.TensorSpec(tf_shape, tensor.dtype, tensor.name.split(":")[0])
                                             for tensor in model.inputs])
    with silenced(progress):
        concrete = run_model.get_concrete_function()
    tflite, float_model = quantize_int8(concrete, samples, tf_shape, progress, str(onnx_path))
    return (tflite, perm, float_model) if with_float else (tflite, perm)


def check_tf_model(model, onnx_model, onnx_in: OnnxInput, sample_nchw: np.ndarray, perm, onnx_path: Path,
                   progress, reference=None, rtol: float = 0.05) -> None:
    """Run onnx2tf's model once on `sample_nchw` (1, ...) and compare it with ONNX Runtime.

    onnx2tf can build a graph that passes TF's static shape checks but is wrong (see onnx2tf_fixes);
    the TFLite converter then writes a model the interpreter refuses to prepare, far from the cause.
    An UnsupportedOpError here names the real problem. The tolerance only catches wrong graphs
    (`rtol` of the float output's range), not float rounding.
    """
    if len(sample_nchw) == 0:
        return
    import onnxruntime as ort

    from .quant_error import _match_layout

    x = sample_nchw[:1].astype(np.float32).reshape(onnx_in.shape)
    fix = ("the ONNX -> TensorFlow step (onnx2tf) built a wrong graph for this model: re-export it with a "
           "simpler layout around the op named (e.g. no Reshape straight into a ConvTranspose), and report it "
           "to the tinyattend developers")
    try:
        with silenced(progress):
            got = model(np.transpose(x, perm) if perm is not None else x)
        got = np.asarray(got[0] if isinstance(got, (list, tuple)) else got, np.float32)
    except Exception as err:   # noqa: BLE001 - TF raises many types for an inconsistent graph
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        layer = re.search(r"layer '([^']+)'", str(err))
        raise UnsupportedOpError(f"{onnx_path}: onnx2tf produced a TensorFlow graph that does not run"
                                 + (f" (at {layer.group(1)})" if layer else "") + f": {first}", fix,
                                 ops=[(layer.group(1) if layer else "?", "", first)]) from None
    if reference is None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        reference = lambda x: session.run(None, {onnx_in.name: x})[0]   # noqa: E731
    reference = np.asarray(reference(x), np.float32)
    got = _match_layout(got, reference.shape, perm)
    if got.size != reference.size:
        return                                   # an output layout we cannot match: nothing to compare
    error = float(np.abs(got.reshape(-1) - reference.reshape(-1)).max())
    span = float(reference.max() - reference.min()) if reference.size else 0.0
    if error > rtol * max(span, 1e-6) + 1e-5:
        raise UnsupportedOpError(f"{onnx_path}: onnx2tf's TensorFlow graph disagrees with ONNX Runtime on a "
                                 f"calibration sample (max |error| {error:.4g}, output range {span:.4g})", fix,
                                 ops=[])


def _layout_of(model, onnx_shape):
    """(static TF input shape, permutation ONNX -> TF or None): onnx2tf moves the channel axis last for
    rank >= 3 inputs; dimensions it leaves open (dynamic in the ONNX file) come from the ONNX shape."""
    onnx_shape = tuple(onnx_shape)
    raw = tuple(model.inputs[0].shape)
    rank = len(onnx_shape)
    perm = (0,) + tuple(range(2, rank)) + (1,) if rank >= 3 else None
    candidates = ([(tuple(onnx_shape[i] for i in perm), perm)] if perm else []) + [(onnx_shape, None)]
    for shape, candidate_perm in candidates:
        if len(raw) == rank and all(r is None or int(r) == s for r, s in zip(raw, shape)):
            return shape, candidate_perm
    raise UnsupportedOpError(f"onnx2tf changed the input shape from {onnx_shape} to {raw} in a way "
                             f"tinyattend does not understand", "report this model to the tinyattend developers")
