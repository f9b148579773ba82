"""GATHER: int8 data, constant int32 indices, batch_dims 0 (blocks copied by a generation-time index list)."""
from __future__ import annotations

import numpy as np

from ..lowering import ConstArray, ConstRef, KernelCall, TensorArg, unsupported
from ._checks import constant_input, int8_activations

OP_TYPES = ("GATHER",)


def _axis(op, graph) -> int:
    axis = int(op.options.get("axis", 0))
    rank = len(graph.tensor(op.inputs[0]).shape)
    return axis + rank if axis < 0 else axis


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph), constant_input(op, graph, 1, "indices")]
    if unsupported(reasons):
        return unsupported(reasons)
    x, idx, y = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    axis = _axis(op, graph)
    if idx.dtype != "int32":
        reasons.append(f"indices are {idx.dtype}; TFLM's GATHER takes int32 indices")
    elif int(op.options.get("batch_dims", 0)) != 0:
        reasons.append("batch_dims other than 0 is not supported; gather per batch or reshape first")
    elif not 0 <= axis < len(x.shape):
        reasons.append(f"axis {op.options.get('axis')} is out of range for rank {len(x.shape)}")
    else:
        values = idx.array().ravel()
        if values.size and (values.min() < 0 or values.max() >= x.shape[axis]):
            reasons.append(f"indices {values.tolist()[:8]} fall outside [0, {x.shape[axis]})")
        expected = tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:])
        if expected != tuple(y.shape):
            reasons.append(f"the output should have shape {list(expected)}, it has {list(y.shape)}")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, idx = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    axis = _axis(op, graph)
    coords = idx.array().ravel().astype(np.int32)
    return KernelCall(
        function="ta_gather_s8",
        sources=("shape/ta_gather_s8.c", "shape/ta_gather_s8.h"),
        params_type="ta_gather_params",
        params=(
            ("outer", int(np.prod(x.shape[:axis], dtype=np.int64))), ("axis_size", x.shape[axis]),
            ("inner", int(np.prod(x.shape[axis + 1:], dtype=np.int64))),
            ("num_indices", int(coords.size)), ("indices", ConstRef("indices")),
        ),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
        constants=(ConstArray("indices", "int32_t", coords),),
    )
