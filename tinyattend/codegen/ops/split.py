"""SPLIT and SPLIT_V: int8, constant axis (and sizes); one kernel call writes every output."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, unsupported
from ._checks import constant_input, int8_activations

OP_TYPES = ("SPLIT", "SPLIT_V")
MAX_OUTPUTS = 64          # TA_SPLIT_MAX_OUTPUTS in ta_split_s8.c


def _slots(op) -> tuple[int, int]:
    """(data input slot, axis input slot): SPLIT is (axis, input), SPLIT_V (input, size_splits, axis)."""
    return (1, 0) if op.type == "SPLIT" else (0, 2)


def _axis(op, graph) -> int:
    data, axis_slot = _slots(op)
    axis = int(graph.tensor(op.inputs[axis_slot]).array().ravel()[0])
    rank = len(graph.tensor(op.inputs[data]).shape)
    return axis + rank if axis < 0 else axis


def check(op, graph, target) -> list[str]:
    data, axis_slot = _slots(op)
    if len(op.inputs) <= max(data, axis_slot):
        return [f"{op.type} has {len(op.inputs)} inputs; {max(data, axis_slot) + 1} expected"]
    reasons = [int8_activations(op, graph, inputs=(data,), outputs=tuple(range(len(op.outputs)))),
               constant_input(op, graph, axis_slot, "axis")]
    if len(op.outputs) > MAX_OUTPUTS:
        reasons.append(f"{len(op.outputs)} outputs; at most {MAX_OUTPUTS} are supported (split in stages)")
    if not reasons[1]:
        axis_t = graph.tensor(op.inputs[axis_slot])
        x = graph.tensor(op.inputs[data])
        if axis_t.dtype not in ("int32", "int64") or axis_t.num_elements != 1:
            reasons.append("the axis must be one integer")
        else:
            axis = _axis(op, graph)
            if not 0 <= axis < len(x.shape):
                reasons.append(f"axis {axis} is out of range for rank {len(x.shape)}")
            else:
                total = 0
                for slot, index in enumerate(op.outputs):
                    y = graph.tensor(index)
                    if len(y.shape) != len(x.shape) or any(a != b for k, (a, b) in enumerate(zip(x.shape, y.shape)) if k != axis):
                        reasons.append(f"output {slot} shape {list(y.shape)} does not fit input {list(x.shape)} on axis {axis}")
                        break
                    total += y.shape[axis]
                else:
                    if total != x.shape[axis]:
                        reasons.append(f"outputs add up to {total} along axis {axis}, the input has {x.shape[axis]}")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    data, _ = _slots(op)
    x = graph.tensor(op.inputs[data])
    axis = _axis(op, graph)
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    sizes = np.array([graph.tensor(i).shape[axis] * inner for i in op.outputs], dtype=np.int32)
    return KernelCall(
        function="ta_split_s8",
        sources=("shape/ta_split_s8.c", "shape/ta_split_s8.h"),
        params_type="ta_split_params",
        params=(("num_outputs", len(op.outputs)), ("outer", outer), ("copy_sizes", ConstRef("sizes"))),
        args=(TensorArg(op.inputs[data], const=True), *(TensorArg(i) for i in op.outputs)),
        constants=(ConstArray("sizes", "int32_t", sizes),),
    )
