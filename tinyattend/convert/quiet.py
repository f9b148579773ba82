"""Keep TensorFlow, onnx2tf and the MLIR converter from flooding the terminal.

They print from Python (stdout/stderr) and from C++ straight to file descriptors
1 and 2, so silencing happens at the descriptor level. What they printed is
kept: `Captured.text` feeds error messages when a step fails.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import warnings

# Read by TensorFlow's C++ logging when it loads; must be set before the import.
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_VLOG_LEVEL": "0",
    "GLOG_minloglevel": "3",
    "ABSL_MIN_LOG_LEVEL": "3",
    "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "0"),
}


def set_quiet_environment() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


class Captured:
    """What a silenced block printed (filled in when the block ends)."""

    def __init__(self):
        self.text = ""

    def tail(self, lines: int = 15) -> str:
        """The last non-empty lines, without terminal colour codes."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.text)
        return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


@contextlib.contextmanager
def silenced(progress=None):
    """Redirect fds 1 and 2 (and sys.stdout/stderr) to a temp file for the block.

    A `progress` reporter writing to the real stderr keeps writing there (its
    stream is swapped for a duplicate of the original fd 2 during the block).
    """
    captured = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
        real_stderr = os.fdopen(os.dup(saved[2]), "w", buffering=1)
        old_streams = sys.stdout, sys.stderr
        swap_progress = progress is not None and progress._stream is None and _is_fd2(sys.stderr)
        py_sink = io.TextIOWrapper(io.BufferedWriter(io.FileIO(os.dup(sink.fileno()), "w")), write_through=True)
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            if _is_fd2(sys.stderr):
                sys.stderr = py_sink
            if _is_fd1(sys.stdout):
                sys.stdout = py_sink
            if swap_progress:
                progress._stream = real_stderr
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield captured
        finally:
            try:
                py_sink.flush()
            except Exception:   # noqa: BLE001 - best effort
                pass
            sys.stdout, sys.stderr = old_streams
            if swap_progress:
                progress._stream = None
            os.dup2(saved[1], 1)
            os.dup2(saved[2], 2)
            for fd in saved.values():
                os.close(fd)
            real_stderr.close()
            py_sink.close()
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "replace")


def _is_fd(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False


def _is_fd2(stream) -> bool:
    return _is_fd(stream, 2)


def _is_fd1(stream) -> bool:
    return _is_fd(stream, 1)


def quiet_python_loggers() -> None:
    """After importing TF/onnx2tf: their Python loggers at ERROR (or off)."""
    for name in ("tensorflow", "absl", "h5py", "onnx2tf", "keras", "tf_keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


_TF = None


@contextlib.contextmanager
def _without_sklearn():
    """`import tensorflow` imports Keras 3, whose scikit-learn wrappers import scikit-learn (and SciPy)
    when it is installed: a fifth of TensorFlow's import time, for wrappers tinyattend never uses. Keras
    imports it under `try/except ImportError`, so it is made unimportable while TensorFlow loads,
    unless something imported it already."""
    if "sklearn" in sys.modules:
        yield
        return
    sys.modules["sklearn"] = None          # `import sklearn` raises ImportError
    try:
        yield
    finally:
        if sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]


@contextlib.contextmanager
def _without_keras3():
    """`import tensorflow` ends by importing Keras 3 (`keras.src.optimizers`, for its SavedModel registry),
    about 1 s of CPU with the matplotlib it pulls in, under `try/except ImportError`. The ONNX path never
    uses Keras 3 (onnx2tf builds tf_keras models), so Keras 3 is made unimportable while TensorFlow loads.
    TensorFlow also puts Keras 3's folders on its own `__path__` (for `import tensorflow.keras`); with
    Keras 3 blocked it puts None there: those entries are filled in afterwards as TensorFlow computes
    them, and `tf.keras` (a lazy loader) imports Keras 3 on first use, as it does anyway."""
    if "keras" in sys.modules:
        yield
        return
    sys.modules["keras"] = None            # `import keras...` raises ImportError; find_spec gives None
    try:
        yield
    finally:
        if sys.modules.get("keras", 0) is None:
            del sys.modules["keras"]
        tf_module = sys.modules.get("tensorflow")
        if tf_module is not None and None in getattr(tf_module, "__path__", ()):
            from tensorflow.python.tools import module_util
            keras_dirs = [module_util.get_parent_dir_for_name("keras.api._v2.keras"),
                          module_util.get_parent_dir_for_name("keras._tf_keras.keras")]
            tf_module.__path__[:] = [keras_dirs.pop(0) if entry is None and keras_dirs else entry
                                     for entry in tf_module.__path__]
            tf_module.__path__[:] = [entry for entry in tf_module.__path__ if entry is not None]


def import_tensorflow(progress, keras3: bool = True):
    """Import TensorFlow once, silently, reporting the (slow) step. keras3=False: without importing
    Keras 3 (see _without_keras3), for a conversion that never uses it."""
    global _TF
    if _TF is None:
        set_quiet_environment()
        with progress.step("importing TensorFlow"), silenced(progress), _without_sklearn(), \
                (contextlib.nullcontext() if keras3 else _without_keras3()):
            import tensorflow as tf
            tf.get_logger().setLevel(logging.ERROR)
            try:
                tf.autograph.set_verbosity(0)
            except Exception:   # noqa: BLE001
                pass
        quiet_python_loggers()
        _TF = tf
    return _TF
