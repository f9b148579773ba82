"""The stage boundary: nothing but a TinyattendError leaves a stage.

A stage entry point (`convert_model`, `write_project`; the CLI's top-level handler for every verb) runs
under `stage("name")`. What
escapes from a third-party library there (TensorFlow, LiteRT, ONNX Runtime, onnx2tf, TFLM, protobuf)
becomes a StageError that names the stage, the library and its message; anything else that escapes
is a bug in tinyattend and becomes an InternalError. Both keep the original exception as __cause__,
so `tinyattend --debug` (and the Python API's caller) can still see the full traceback.
"""
from __future__ import annotations

import contextlib
import signal
import threading
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
    except (TinyattendError, KeyboardInterrupt, SystemExit, GeneratorExit, LimitSignal):
        raise
    except BaseException as err:  # noqa: BLE001 - the one place that turns anything into a user error
        raise as_user_error(err, stage_name) from err


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that every `finally` (temporary folders, staging) still runs."""


class LimitSignal(BaseException):
    """Raised from a signal handler when a resource limit is reached; the limit's context manager turns it
    into a ResourceLimitError. A BaseException: a library's `except Exception` cannot swallow it, and
    stages let it through to that context manager."""


class TimeLimitExceeded(LimitSignal):
    """Raised by `time_limit`'s timer."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def cleanup_on_signals():
    """SIGTERM ends the process through Terminated (as Ctrl-C does through KeyboardInterrupt), so cleanup
    runs: no temporary folder or half-written OUT is left behind by `kill` or a CI time-out."""
    if not _main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """ResourceLimitError when the block runs longer than `seconds` (main thread only: a SIGALRM timer;
    elsewhere the block runs unbounded). Work inside C code is stopped when it next returns to Python."""
    if not _main_thread() or seconds <= 0:
        yield
        return

    fired = []

    def expire(signum, frame):
        fired.append(True)
        raise TimeLimitExceeded()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except BaseException as err:
        # a library may catch the signal's exception and raise its own (ONNX Runtime's import, interrupted,
        # raises "ImportError: initialization failed"): once the timer fired, the time limit is the cause
        if not (fired or isinstance(err, TimeLimitExceeded)):
            raise
        raise ResourceLimitError(f"{what} ran over tinyattend's time limit of {seconds:g} s",
                                 "check the model (huge paddings, shapes or batch sizes make the converter run "
                                 "for hours); if it is meant to take this long, raise the limit with "
                                 "TINYATTEND_MAX_CONVERT_SECONDS=N") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
