"""GELU, int8, exact (erf) and tanh-approximate: a 256-entry table as LiteRT's int8 kernel builds it.

The int8 GELU of TFLite (and of TFLM, whose tflite-micro build we test against cannot allocate it)
is a table computed in single precision: for every input byte q, x = input_scale * (q - zero_point),
then GELU(x) in float32, then round(GELU(x) / output_scale) + output_zero_point (ties away from
zero), clamped to int8. The float formulas, operation for operation:

    exact:        0.5f * x * erfcf(x * -(float)M_SQRT1_2)         (erfc avoids cancellation for x << 0)
    approximate:  0.5f * x * (1 + tanhf((float)(2/sqrt(pi) * sqrt(1/2)) * (x + 0.044715f * x * x * x)))

erfcf and tanhf come from the C math library (the one LiteRT's kernel calls on the same machine),
so the table matches it bit for bit; the test compares all 256 inputs at many scales with LiteRT's
BUILTIN_REF kernel. The C kernel is the shared table lookup.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import lru_cache

import numpy as np

from ...ir.quant import round_half_away
from ..lowering import unsupported
from ._checks import int8_activations
from ._lut import build_table, clamp8, lut_call, same_size

OP_TYPES = ("GELU",)
# No TFLM kernel we can run: bit-exact means equal to LiteRT's reference kernel (see codegen.oracle).
LITERT_ONLY = ("GELU",)
f32 = np.float32


@lru_cache(maxsize=1)
def _libm():
    """erfcf and tanhf of the C library, single precision as C++'s std::erfc(float) calls them."""
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    for name in ("erfcf", "tanhf"):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return lib


def gelu_float(x: np.float32, approximate: bool) -> np.float32:
    """GELU of one float32 value with LiteRT's float32 operation order."""
    libm = _libm()
    half_x = f32(0.5) * x
    if not approximate:
        return half_x * f32(libm.erfcf(float(x * f32(-math.sqrt(0.5)))))
    cube_term = f32(f32(f32(0.044715) * x) * x) * x
    inner = f32(2.0 / math.sqrt(math.pi) * math.sqrt(0.5)) * f32(x + cube_term)
    return half_x * f32(f32(1.0) + f32(libm.tanhf(float(inner))))


def table(input_scale: float, input_zero_point: int, output_scale: float, output_zero_point: int,
          approximate: bool) -> np.ndarray:
    inverse_scale = f32(1.0) / f32(output_scale)

    def one(q: int) -> int:
        x = f32(input_scale) * f32(q - input_zero_point)
        rescaled = round_half_away(float(f32(gelu_float(x, approximate) * inverse_scale)))
        return clamp8(int(f32(rescaled) + f32(output_zero_point)))
    return build_table(one)


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph)]
    if reasons[0]:
        return unsupported(reasons)
    reasons.append(same_size(op, graph))
    return unsupported(reasons)


def lower(op, graph, target):
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    approximate = bool(op.options.get("approximate", False))
    return lut_call(op, graph, target, table(x.scale, x.zero_point, y.scale, y.zero_point, approximate))
