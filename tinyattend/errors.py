"""User-facing errors. Each carries what went wrong, where, and how to fix it.

The CLI prints these without a traceback and exits non-zero; anything else
that escapes is a bug in tinyattend and keeps its traceback.
"""


class TinyattendError(Exception):
    """Base class: `str(err)` is the message, `err.fix` how to fix it."""

    exit_code = 2

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class BadModelError(TinyattendError):
    """The model file is missing, unreadable, corrupt or of the wrong kind."""


class UnsupportedOpError(TinyattendError):
    """One or more ops cannot be converted or run; `ops` lists (op, tensor, reason)."""

    def __init__(self, message: str, fix: str = "", ops=()):
        super().__init__(message, fix)
        self.ops = list(ops)


class CalibrationDataError(TinyattendError):
    """Calibration data has the wrong shape, dtype, count or format."""


class DataError(TinyattendError):
    """A search's labelled data is unreadable or unusable (shapes, one class, too few samples)."""


class BoardError(TinyattendError):
    """Unknown board, or an invalid board profile."""


class DoesNotFitError(TinyattendError):
    """The model's weights or arena do not fit the board's flash or RAM."""


class OutputDirError(TinyattendError):
    """The output directory exists and was not written by tinyattend."""


class OptionError(TinyattendError):
    """An option or API argument has a value tinyattend cannot use (e.g. --prefix)."""


class ToolchainError(TinyattendError):
    """A compiler, emulator or library the step needs is missing or failed."""


class RunError(TinyattendError):
    """A built model failed to run: crash, hang, timeout, or bad protocol reply."""


class ResourceLimitError(TinyattendError):
    """The model is over one of tinyattend's resource limits (tensor bytes, MACs, conversion time, memory)."""


class StageError(TinyattendError):
    """A third-party library (TensorFlow, LiteRT, ONNX Runtime, onnx2tf, TFLM, ...) failed inside a stage."""


class InternalError(TinyattendError):
    """A bug in tinyattend itself: an unexpected exception, reported without its traceback (see --debug)."""

    exit_code = 70     # EX_SOFTWARE
