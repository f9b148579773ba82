"""CONCATENATION: int8 along any axis; every input must share the output's quantization (as TFLM requires)."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, unsupported
from ._checks import int8_activations

OP_TYPES = ("CONCATENATION",)
MAX_INPUTS = 64          # TA_CONCAT_MAX_INPUTS in ta_concat_s8.c


def _axis(op, graph) -> int:
    axis = int(op.options.get("axis", 0))
    rank = len(graph.tensor(op.outputs[0]).shape)
    return axis + rank if axis < 0 else axis


def check(op, graph, target) -> list[str]:
    inputs = tuple(range(len(op.inputs)))
    reasons = [int8_activations(op, graph, inputs=inputs)]
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        reasons.append("a fused activation on CONCATENATION is not supported (TFLM rejects it); "
                       "apply the activation before concatenating")
    if len(op.inputs) > MAX_INPUTS:
        reasons.append(f"{len(op.inputs)} inputs; at most {MAX_INPUTS} are supported (concatenate in stages)")
    y = graph.tensor(op.outputs[0])
    axis = _axis(op, graph)
    if not 0 <= axis < max(1, len(y.shape)):
        reasons.append(f"axis {op.options.get('axis')} is out of range for rank {len(y.shape)}")
    elif not reasons[0]:
        total = 0
        for slot, index in enumerate(op.inputs):
            x = graph.tensor(index)
            if len(x.shape) != len(y.shape) or any(a != b for k, (a, b) in enumerate(zip(x.shape, y.shape)) if k != axis):
                reasons.append(f"input {slot} shape {list(x.shape)} does not fit output {list(y.shape)} on axis {axis}")
                break
            total += x.shape[axis] if x.shape else 1
            if (x.scale, x.zero_point) != (y.scale, y.zero_point):
                reasons.append(
                    f"input {slot} (scale {x.scale:.6g}, zero point {x.zero_point}) is quantized differently from the "
                    f"output (scale {y.scale:.6g}, zero point {y.zero_point}); TFLM's int8 CONCATENATION rejects "
                    "this: give the converter inputs with one range (e.g. the same activation before each), "
                    "or requantize them first")
                break
        else:
            if y.shape and total != y.shape[axis]:
                reasons.append(f"inputs add up to {total} along axis {axis}, the output has {y.shape[axis]}")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    y = graph.tensor(op.outputs[0])
    axis = _axis(op, graph)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64)) if y.shape else 1
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64)) if y.shape else 1
    sizes = np.array([(graph.tensor(i).shape[axis] if y.shape else 1) * inner for i in op.inputs], dtype=np.int32)
    return KernelCall(
        function="ta_concat_s8",
        sources=("shape/ta_concat_s8.c", "shape/ta_concat_s8.h"),
        params_type="ta_concat_params",
        params=(("num_inputs", len(op.inputs)), ("outer", outer), ("copy_sizes", ConstRef("sizes"))),
        args=(TensorArg(op.outputs[0]), *(TensorArg(i, const=True) for i in op.inputs)),
        constants=(ConstArray("sizes", "int32_t", sizes),),
    )
