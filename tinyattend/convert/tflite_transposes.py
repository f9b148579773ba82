"""Cancel TRANSPOSE pairs that onnx2tf's direct TFLite writer leaves around layout-free ops, and fold a
TRANSPOSE into the reduction that reads it.

onnx2tf keeps the NHWC layout through convolutions, but for some ops it goes back to ONNX's NCHW and
returns: TRANSPOSE(NHWC->NCHW) -> LOGISTIC -> MUL by a (1, C, 1, 1) constant -> TRANSPOSE(NCHW->NHWC)
(the attention condensers' gates, squeeze-excite scales). The ops between are elementwise, so the pair
does nothing but move bytes: on a microcontroller two full passes over the tensor and a second buffer.
Here, on the float model before calibration, each such chain runs in the outer layout instead: the
TRANSPOSEs go, the chain's constants are transposed once, and the values are the same float values.
Likewise NHWC -> NCHW before a global MEAN (ONNX's ReduceMean over axes 2, 3): the MEAN reads the NHWC
tensor over axes 1, 2 (the same sum in another order: the last float bits may differ).
"""
from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .tflite_objects import builtin_code, is_constant, read_model, write_model

OPS = schema.BuiltinOperator
# One input, output[i] a function of input[i] alone.
UNARY = {OPS.LOGISTIC, OPS.TANH, OPS.RELU, OPS.RELU6, OPS.RELU_N1_TO_1, OPS.RELU_0_TO_1, OPS.HARD_SWISH,
         OPS.GELU, OPS.LEAKY_RELU, OPS.ABS, OPS.NEG, OPS.EXP, OPS.SQRT, OPS.RSQRT, OPS.SQUARE, OPS.ELU}
# Two inputs, broadcasting: elementwise when the other input is a constant.
BINARY = {OPS.ADD, OPS.SUB, OPS.MUL, OPS.DIV, OPS.MAXIMUM, OPS.MINIMUM, OPS.SQUARED_DIFFERENCE, OPS.POW}
# Reductions over constant axes: with keepdims false, a TRANSPOSE before one folds into its axes when the
# axes it keeps come out in the same order (NHWC -> NCHW then MEAN over H, W: MEAN over H, W of the NHWC).
REDUCTIONS = {OPS.MEAN, OPS.SUM, OPS.REDUCE_MAX, OPS.REDUCE_MIN, OPS.REDUCE_PROD}
NUMPY_TYPES = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32}


def without_transpose_pairs(float_tflite: bytes) -> tuple[bytes, int]:
    """(the model with every cancellable TRANSPOSE pair gone, how many pairs went)."""
    model = read_model(float_tflite)
    removed = cancel_transposes(model)
    return (write_model(model) if removed else float_tflite), removed


def cancel_transposes(model: "schema.ModelT") -> int:
    """Rewrite subgraph 0 of `model` (a private copy) in place; the number of TRANSPOSE pairs removed."""
    removed = 0
    while _cancel_one(model) or _fold_one_into_reduction(model):
        removed += 1
    return removed


def _cancel_one(model) -> bool:
    graph = model.subgraphs[0]
    readers = _readers(graph)
    outputs = set(int(i) for i in graph.outputs)
    for first in graph.operators:
        perm = _transpose_perm(model, first)
        if perm is None:
            continue
        chain, tensor = [], int(first.outputs[0])
        while True:
            users = readers.get(tensor, [])
            if tensor in outputs or len(users) != 1:
                break
            op = users[0]
            last_perm = _transpose_perm(model, op)
            if last_perm is not None:
                if np.array_equal(np.asarray(perm)[np.asarray(last_perm)], np.arange(len(perm))):
                    _rewire(model, first, chain, op, perm)
                    return True
                break
            if not _elementwise_on(model, op, tensor):
                break
            chain.append(op)
            tensor = int(op.outputs[0])
    return False


def _fold_one_into_reduction(model) -> bool:
    graph = model.subgraphs[0]
    readers = _readers(graph)
    outputs = set(int(i) for i in graph.outputs)
    for transpose in graph.operators:
        perm = _transpose_perm(model, transpose)
        tensor = int(transpose.outputs[0]) if perm is not None else None
        if perm is None or tensor in outputs or len(readers.get(tensor, [])) != 1:
            continue
        op = readers[tensor][0]
        if builtin_code(model, op) not in REDUCTIONS or len(op.inputs) != 2 or int(op.inputs[0]) != tensor:
            continue
        options = op.builtinOptions
        axes_tensor = graph.tensors[int(op.inputs[1])]
        if options is None or options.keepDims or not is_constant(model, axes_tensor):
            continue
        axes = np.frombuffer(bytes(model.buffers[axes_tensor.buffer].data), NUMPY_TYPES.get(axes_tensor.type, np.int32))
        rank = len(perm)
        reduced = sorted({int(a) % rank for a in axes})
        kept_outer = [perm[a] for a in range(rank) if a not in reduced]
        if kept_outer != sorted(kept_outer):
            continue
        new_axes = np.asarray(sorted(perm[a] for a in reduced), np.int32)
        op.inputs[0] = int(transpose.inputs[0])
        op.inputs[1] = _constant(model, new_axes, schema.TensorType.INT32, bytes(axes_tensor.name or b"") + b"/outer")
        graph.operators = [o for o in graph.operators if o is not transpose]
        return True
    return False


def _transpose_perm(model, op):
    """The permutation of a TRANSPOSE with a constant permutation, else None."""
    if builtin_code(model, op) != OPS.TRANSPOSE or len(op.inputs) < 2:
        return None
    graph = model.subgraphs[0]
    tensor = graph.tensors[int(op.inputs[1])]
    if not is_constant(model, tensor):
        return None
    perm = np.frombuffer(bytes(model.buffers[tensor.buffer].data), NUMPY_TYPES.get(tensor.type, np.int32))
    return [int(p) for p in perm]


def _elementwise_on(model, op, tensor: int) -> bool:
    code = builtin_code(model, op)
    graph = model.subgraphs[0]
    inputs = [int(i) for i in op.inputs]
    if len(op.outputs) != 1:
        return False
    if code in UNARY:
        return inputs == [tensor]
    if code in BINARY and len(inputs) == 2 and inputs.count(tensor) == 1:
        other = graph.tensors[inputs[1 - inputs.index(tensor)]]
        return is_constant(model, other) and other.type in NUMPY_TYPES and len(other.shape) <= len(
            graph.tensors[tensor].shape)
    return False


def _rewire(model, first, chain, last, perm) -> None:
    """Run `chain` on the first TRANSPOSE's input and write the last TRANSPOSE's output; both go dead."""
    graph = model.subgraphs[0]
    source, target = int(first.inputs[0]), int(last.outputs[0])
    outer_shape = np.asarray(graph.tensors[source].shape, np.int32)
    inverse = list(np.argsort(perm))
    current = source
    for position, op in enumerate(chain):
        inputs = [int(i) for i in op.inputs]
        for slot, index in enumerate(inputs):
            if index == int(chain[position - 1].outputs[0] if position else first.outputs[0]):
                op.inputs[slot] = current
            elif is_constant(model, graph.tensors[index]):
                op.inputs[slot] = _transposed_constant(model, index, len(perm), inverse)
        out = int(op.outputs[0])
        if op is chain[-1]:
            op.outputs[0] = target
            current = target
        else:
            graph.tensors[out].shape = outer_shape.copy()
            graph.tensors[out].shapeSignature = None
            current = out
    if not chain:
        _replace_reads(graph, target, source)
    # The first TRANSPOSE's output had one reader (the chain or the last TRANSPOSE); the last's output is
    # now written by the chain (or its readers read the source): both are dead.
    graph.operators = [op for op in graph.operators if op is not first and op is not last]


def _transposed_constant(model, index: int, rank: int, inverse: list[int]) -> int:
    graph = model.subgraphs[0]
    tensor = graph.tensors[index]
    dtype = NUMPY_TYPES[tensor.type]
    shape = [int(d) for d in tensor.shape]
    values = np.frombuffer(bytes(model.buffers[tensor.buffer].data), dtype).reshape(shape)
    values = np.ascontiguousarray(np.transpose(values.reshape([1] * (rank - len(shape)) + shape), inverse))
    return _constant(model, values, tensor.type, bytes(tensor.name or b"") + b"/outer_layout")


def _constant(model, values: np.ndarray, tensor_type: int, name: bytes) -> int:
    """A new constant tensor (and buffer) holding `values`; its index."""
    graph = model.subgraphs[0]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(np.ascontiguousarray(values).tobytes(), np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape = np.asarray(values.shape, np.int32)
    tensor.type = tensor_type
    tensor.buffer = len(model.buffers) - 1
    tensor.name = name
    graph.tensors.append(tensor)
    return len(graph.tensors) - 1


def _replace_reads(graph, old: int, new: int) -> None:
    for op in graph.operators:
        op.inputs = np.asarray([new if int(i) == old else int(i) for i in op.inputs], np.int32)
    graph.outputs = np.asarray([new if int(i) == old else int(i) for i in graph.outputs], np.int32)


def _readers(graph) -> dict[int, list]:
    readers: dict[int, list] = {}
    for op in graph.operators:
        for index in set(int(i) for i in op.inputs if i >= 0):
            readers.setdefault(index, []).append(op)
    return readers
