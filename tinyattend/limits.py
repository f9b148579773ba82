"""Resource limits: what tinyattend refuses before it starts work it cannot finish.

A model from a stranger can declare a 2^20 x 2^20 input, a convolution padded by 100,000 pixels or a
batch of 100,000: without limits, numpy, TensorFlow or onnx2tf try to allocate petabytes or run for
hours. Each limit below is checked before the work it bounds, and a model over it is refused with
the numbers (ResourceLimitError). They are far beyond any microcontroller model; raise them with the
environment variables named here when a bigger model is meant.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import ResourceLimitError


@dataclass(frozen=True)
class Limits:
    max_tensor_bytes: int = 1 << 30          # one tensor (input, weights, activation); TINYATTEND_MAX_TENSOR_BYTES
    max_macs: int = 50 * 10**9              # multiply-accumulates of one inference; TINYATTEND_MAX_MACS
    max_convert_seconds: float = 1800.0     # ONNX/Keras -> int8 TFLite conversion; TINYATTEND_MAX_CONVERT_SECONDS
    max_pad: int = 1024                     # one ONNX padding or dilated kernel extent, in pixels; TINYATTEND_MAX_PAD
    max_calibration_bytes: int = 1 << 30    # calibration data as float32; TINYATTEND_MAX_CALIBRATION_BYTES
    max_memory_bytes: int = 0               # resident memory of a conversion; 0: 3/4 of the machine's memory;
                                            # TINYATTEND_MAX_MEMORY_BYTES


ENVIRONMENT = {
    "max_tensor_bytes": "TINYATTEND_MAX_TENSOR_BYTES",
    "max_macs": "TINYATTEND_MAX_MACS",
    "max_convert_seconds": "TINYATTEND_MAX_CONVERT_SECONDS",
    "max_pad": "TINYATTEND_MAX_PAD",
    "max_calibration_bytes": "TINYATTEND_MAX_CALIBRATION_BYTES",
    "max_memory_bytes": "TINYATTEND_MAX_MEMORY_BYTES",
}


def limits() -> Limits:
    """The limits in force: the defaults, each overridable by its environment variable."""
    values = {}
    for field, variable in ENVIRONMENT.items():
        text = os.environ.get(variable)
        if text is None:
            continue
        try:
            value = float(text) if field == "max_convert_seconds" else int(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise ResourceLimitError(f"{variable}={text!r} is not a positive number", f"unset {variable} or give "
                                     "a positive number")
        values[field] = value
    if "max_memory_bytes" not in values:
        values["max_memory_bytes"] = _three_quarters_of_memory()
    return Limits(**values)


def _three_quarters_of_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4
    except (ValueError, OSError, AttributeError):
        return 0                         # unknown: no memory limit


def refuse(what: str, value: int | float, field: str, unit: str = "") -> None:
    """ResourceLimitError when `value` is over the limit `field`, naming both and the variable to raise it."""
    limit = getattr(limits(), field)
    if value > limit:
        raise ResourceLimitError(
            f"{what}: {value:,}{unit} is over tinyattend's limit of {limit:,}{unit}",
            f"check the model (a corrupt or hostile file often declares absurd sizes); if it is meant to be "
            f"this large, raise the limit with {ENVIRONMENT[field]}=N")
