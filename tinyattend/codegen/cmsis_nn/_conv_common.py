"""What CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED share: checks, bias and per-channel constants."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, TensorArg
from ..ops._conv_quant import channel_multipliers


def per_channel_constants(graph, op, channels: int) -> tuple[ConstArray, ConstArray]:
    """TFLM's per-channel multipliers and shifts (a per-tensor scale is repeated per channel)."""
    mult, shift = channel_multipliers(graph, op, channels)
    if mult.size == 1 and channels > 1:
        mult, shift = np.repeat(mult, channels), np.repeat(shift, channels)
    return ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift)


def bias_arg(op, channels: int) -> tuple[object, tuple[ConstArray, ...]]:
    """The bias pointer and, when the model has none, a zero bias: CMSIS-NN's grouped paths
    advance the bias pointer, which must not be NULL."""
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if bias is not None:
        return TensorArg(bias, const=True), ()
    return ConstRef("bias"), (ConstArray("bias", "int32_t", np.zeros(channels, dtype=np.int32)),)


def weights_reasons(op, graph, what: str) -> list[str]:
    reasons = []
    w = graph.tensor(op.inputs[1])
    if w.dtype != "int8":
        reasons.append(f"{what} is {w.dtype}; CMSIS-NN s8 kernels need int8")
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        b = graph.tensor(op.inputs[2])
        if b.dtype != "int32" or not b.is_constant:
            reasons.append("bias must be constant int32 for CMSIS-NN s8 kernels")
    return reasons
