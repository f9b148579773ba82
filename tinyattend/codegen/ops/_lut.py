"""Lowering shared by the int8 -> int8 element-wise ops that run as a 256-entry table.

An op module computes `table[i]`, the output for input `i - 128`, with its
own port of TFLM's integer algorithm; `lut_call` makes the `ta_lut_s8` call.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg
from ._fast import wants_fast

INT8_INPUTS = range(-128, 128)


def build_table(function: Callable[[int], int]) -> np.ndarray:
    """The 256 outputs of `function` (int8 -> int in [-128, 127]) in input order -128..127."""
    values = [function(q) for q in INT8_INPUTS]
    if min(values) < -128 or max(values) > 127:
        raise ValueError("table values must be int8")
    return np.array(values, dtype=np.int8)


def clamp8(value: int) -> int:
    return max(-128, min(127, value))


def lut_call(op, graph, target, table: np.ndarray) -> KernelCall:
    x = graph.tensor(op.inputs[0])
    if wants_fast(target):
        # The fast form indexes the table with the input byte read as unsigned: entry u is
        # the output for int8(u), i.e. the table rotated by 128.
        return KernelCall(
            function="ta_lut_s8_fast",
            sources=("fast/ta_lut_s8_fast.c", "fast/ta_lut_s8_fast.h", "fast/ta_dsp.h"),
            params_type="ta_lut_fast_params",
            params=(("size", x.num_elements), ("table", ConstRef("lut"))),
            args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])),
            constants=(ConstArray("lut", "uint8_t", np.roll(np.asarray(table, dtype=np.int8), -128).view(np.uint8)),),
            in_place=True,
        )
    return KernelCall(
        function="ta_lut_s8",
        sources=("activation/ta_lut_s8.c", "activation/ta_lut_s8.h"),
        params_type="ta_lut_params",
        params=(("size", x.num_elements), ("table", ConstRef("lut"))),
        args=(TensorArg(op.inputs[0]), TensorArg(op.outputs[0])),
        constants=(ConstArray("lut", "int8_t", np.asarray(table, dtype=np.int8)),),
        in_place=True,
    )


def same_size(op, graph) -> str:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if x.num_elements != y.num_elements:
        return f"input {list(x.shape)} and output {list(y.shape)} differ in size"
    return ""
