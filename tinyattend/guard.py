"""The stage boundary: nothing but a TinyattendError leaves a stage.

A stage entry point (`convert_model`, `write_project`, the verbs) runs under `stage("name")`. What
escapes from a third-party library there (TensorFlow, LiteRT, ONNX Runtime, onnx2tf, TFLM, protobuf)
becomes a StageError that names the stage, the library and its message; anything else that escapes
is a bug in tinyattend and becomes an InternalError. Both keep the original exception as __cause__,
so `tinyattend --debug` (and the Python API's caller) can still see the full traceback.
"""
from __future__ import annotations

import contextlib
import functools
import traceback

from .errors import InternalError, ResourceLimitError, StageError, TinyattendError

# Top-level module -> the name users know it by. numpy is not here: a numpy error is tinyattend
# passing numpy bad data, i.e. a missing check in tinyattend (an InternalError).
LIBRARIES = {
    "tensorflow": "TensorFlow", "tf_keras": "TensorFlow (tf_keras)", "keras": "Keras",
    "onnx": "ONNX", "onnxruntime": "ONNX Runtime", "onnx2tf": "onnx2tf", "onnx_graphsurgeon": "onnx2tf",
    "ai_edge_litert": "LiteRT", "tflite_micro": "TFLite Micro", "google": "protobuf", "h5py": "h5py",
    "PIL": "Pillow", "jinja2": "Jinja2",
}
FIX_LIBRARY = ("the model (or data) is one this library cannot handle: check it opens in that library on its own; "
               "rerun with --debug for the full traceback, and report it to the tinyattend developers if it should work")
FIX_INTERNAL = "rerun with --debug for the full traceback and report it to the tinyattend developers with the model"


def _library_of(err: BaseException) -> str | None:
    """The third-party library whose code raised `err`: the innermost Python frame's package."""
    for tb_frame, _ in reversed(list(traceback.walk_tb(err.__traceback__))):
        module = (tb_frame.f_globals.get("__name__") or "").split(".")[0]
        if module in LIBRARIES:
            return LIBRARIES[module]
        if module == "tinyattend":
            return None
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {line[:300]}" if line else type(err).__name__


def as_user_error(err: BaseException, stage_name: str) -> TinyattendError:
    """The TinyattendError to report for an exception that escaped stage `stage_name`."""
    if isinstance(err, TinyattendError):
        return err
    if isinstance(err, MemoryError):
        return ResourceLimitError(f"{stage_name}: ran out of memory ({_first_line(err)})",
                                  "the model or its data is too large for this machine; use a smaller model "
                                  "or input shape")
    library = _library_of(err)
    if library is not None:
        return StageError(f"{stage_name}: {library} failed: {_first_line(err)}", FIX_LIBRARY)
    return InternalError(f"internal error in tinyattend ({stage_name}): {_first_line(err)}", FIX_INTERNAL)


@contextlib.contextmanager
def stage(stage_name: str):
    """Run a stage: any exception other than a TinyattendError (or Ctrl-C / exit) is translated."""
    try:
        yield
    except (TinyattendError, KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as err:  # noqa: BLE001 - the one place that turns anything into a user error
        raise as_user_error(err, stage_name) from err


def guarded(stage_name: str):
    """Decorator form of `stage` for stage entry points."""
    def wrap(function):
        @functools.wraps(function)
        def run(*args, **kwargs):
            with stage(stage_name):
                return function(*args, **kwargs)
        return run
    return wrap
