"""TRANSPOSE: int8, up to 4-D, constant permutation (resolved at generation time)."""
from __future__ import annotations

from ..lowering import KernelCall, TensorArg, shape4, unsupported
from ._checks import constant_input, int8_activations, rank_at_most

OP_TYPES = ("TRANSPOSE",)
MAX_RANK = 4              # the highest tensor rank the kernel takes (the ONNX pre-check reads it too)


def _perm(op, graph) -> list[int]:
    return [int(v) for v in graph.tensor(op.inputs[1]).array().ravel()]


def check(op, graph, target) -> list[str]:
    reasons = [int8_activations(op, graph), rank_at_most(op, graph, MAX_RANK), constant_input(op, graph, 1, "permutation")]
    if not unsupported(reasons):
        x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        perm_t = graph.tensor(op.inputs[1])
        if perm_t.dtype != "int32":
            reasons.append(f"the permutation is {perm_t.dtype}; TFLM reads it as int32")
        elif sorted(_perm(op, graph)) != list(range(len(x.shape))):
            reasons.append(f"{_perm(op, graph)} is not a permutation of {len(x.shape)} axes")
        elif tuple(x.shape[k] for k in _perm(op, graph)) != tuple(y.shape):
            reasons.append(f"input {list(x.shape)} permuted by {_perm(op, graph)} is not the output {list(y.shape)}")
    return unsupported(reasons)


def lower(op, graph, target) -> KernelCall:
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    pad = 4 - len(x.shape)
    perm = list(range(pad)) + [k + pad for k in _perm(op, graph)]
    dims = shape4(x.shape)
    in_strides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1]
    return KernelCall(
        function="ta_transpose_s8",
        sources=("shape/ta_transpose_s8.c", "shape/ta_transpose_s8.h"),
        params_type="ta_transpose_params",
        params=(("out_dims", shape4(y.shape)), ("in_strides", tuple(in_strides[k] for k in perm))),
        args=(TensorArg(op.inputs[0], const=True), TensorArg(op.outputs[0])),
    )
