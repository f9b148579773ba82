"""Sink the TRANSPOSEs onnx2tf's direct TFLite writer leaves around layout-free ops, until they cancel.

onnx2tf keeps the NHWC layout through convolutions, but for some ops it goes back to ONNX's NCHW and
returns: TRANSPOSE(NHWC->NCHW) -> LOGISTIC -> MUL by a (1, C, 1, 1) constant -> TRANSPOSE(NCHW->NHWC) (the
attention condensers' gates), the same around a squeeze-excite block (MobileNetV3), or NHWC->NCHW before
the classifier's global MEAN. The ops in between do not care about the layout, so each TRANSPOSE does
nothing but move bytes: on a microcontroller a full pass over the tensor and a second buffer.

Here, on the float model before calibration, a TRANSPOSE(P) is removed when every op its output reaches
(the region, followed through) can run in the outer layout instead:
- elementwise ops: unary, or binary with the other input in the region, constant (transposed once), or a
  tensor whose dimensions other than 1 keep their order under P (read through a RESHAPE, which our code
  generator turns into an alias: no bytes move);
- reductions over constant axes: the axes are mapped through P (keep_dims: the result stays in the region;
  without: the kept axes must keep their order);
- RESHAPE of a region tensor whose dimensions other than 1 keep their order (the same bytes either way);
- SLICE / STRIDED_SLICE with constant bounds (no ellipsis, new or shrunk axes): the bounds are permuted;
- TRANSPOSE by the inverse of P: it goes too, its readers read the region's tensor.
Anything else reading the region (or the region reaching a model output) leaves the TRANSPOSE in place.
Values stay the same floats, except that a reduction sums in another order (the last bits may differ).
"""
from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .tflite_objects import (builtin_code, constant_values, is_constant, new_constant, opcode_index, read_model,
                             readers_of, write_model)

OPS = schema.BuiltinOperator
# One input, output[i] a function of input[i] alone.
UNARY = {OPS.LOGISTIC, OPS.TANH, OPS.RELU, OPS.RELU6, OPS.RELU_N1_TO_1, OPS.RELU_0_TO_1, OPS.HARD_SWISH,
         OPS.GELU, OPS.LEAKY_RELU, OPS.ABS, OPS.NEG, OPS.EXP, OPS.SQRT, OPS.RSQRT, OPS.SQUARE, OPS.ELU}
# Two inputs, broadcasting.
BINARY = {OPS.ADD, OPS.SUB, OPS.MUL, OPS.DIV, OPS.MAXIMUM, OPS.MINIMUM, OPS.SQUARED_DIFFERENCE, OPS.POW}
REDUCTIONS = {OPS.MEAN, OPS.SUM, OPS.REDUCE_MAX, OPS.REDUCE_MIN, OPS.REDUCE_PROD}


def without_transpose_pairs(float_tflite: bytes) -> tuple[bytes, int]:
    """(the model with every TRANSPOSE that can be sunk gone, how many TRANSPOSE ops went)."""
    model = read_model(float_tflite)
    removed = sink_transposes(model)
    return (write_model(model) if removed else float_tflite), removed


def sink_transposes(model: "schema.ModelT") -> int:
    """Rewrite subgraph 0 of `model` (a private copy) in place; the number of TRANSPOSE ops removed."""
    removed = 0
    while True:
        gone = _sink_one(model)
        if not gone:
            return removed
        removed += gone


def _sink_one(model) -> int:
    for transpose in model.subgraphs[0].operators:
        perm = _transpose_perm(model, transpose)
        if perm is not None:
            plan = _region(model, transpose, perm)
            if plan is not None:
                return _apply(model, transpose, perm, *plan)
    return 0


def _region(model, transpose, perm):
    """(region tensors, {id(op): (op, kind)}) if every reader of the region can take the outer layout."""
    graph = model.subgraphs[0]
    readers = readers_of(graph)
    outputs = set(int(i) for i in graph.outputs)
    rank = len(perm)
    start = int(transpose.outputs[0])
    region, frontier, plan = {start}, [start], {}
    while frontier:
        tensor = frontier.pop()
        if tensor in outputs:
            return None
        for op in readers.get(tensor, []):
            if id(op) in plan:
                continue
            kind = _kind(model, op, region, perm)
            if kind is None:
                return None
            plan[id(op)] = (op, kind)
            if kind in ("elementwise", "reduce_keep", "slice"):
                out = int(op.outputs[0])
                if len(graph.tensors[out].shape) != rank:
                    return None
                region.add(out)
                frontier.append(out)
            elif kind == "cancel" and int(op.outputs[0]) in outputs:
                return None
    # A binary op seen from one input before its other input joined the region was classified with that
    # input as outside: classify again now that the region is complete.
    for key, (op, kind) in list(plan.items()):
        if kind == "elementwise" and len(op.inputs) == 2:
            if _kind(model, op, region, perm) is None:
                return None
    return region, plan


def _kind(model, op, region: set, perm) -> str | None:
    graph = model.subgraphs[0]
    code = builtin_code(model, op)
    inputs = [int(i) for i in op.inputs]
    rank = len(perm)
    if code == OPS.TRANSPOSE:
        other = _transpose_perm(model, op)
        if other is not None and inputs[0] in region and \
                np.array_equal(np.asarray(perm)[np.asarray(other)], np.arange(rank)):
            return "cancel"
        return None
    if len(op.outputs) != 1:
        return None
    if code in UNARY:
        return "elementwise" if len(inputs) == 1 else None
    if code in BINARY and len(inputs) == 2:
        for index in inputs:
            tensor = graph.tensors[index]
            if index in region:
                continue
            if len(tensor.shape) > rank:
                return None
            if is_constant(model, tensor):
                if tensor.type not in (schema.TensorType.FLOAT32, schema.TensorType.INT32):
                    return None
            elif not _order_kept(_padded(tensor.shape, rank), perm):
                return None
        return "elementwise"
    if code in REDUCTIONS and len(inputs) == 2 and inputs[0] in region:
        axes_tensor = graph.tensors[inputs[1]]
        if not is_constant(model, axes_tensor) or op.builtinOptions is None:
            return None
        reduced = {int(a) % rank for a in constant_values(model, axes_tensor)}
        if op.builtinOptions.keepDims:
            return "reduce_keep"
        kept = [perm[a] for a in range(rank) if a not in reduced]
        return "reduce" if kept == sorted(kept) else None
    if code in (OPS.SLICE, OPS.STRIDED_SLICE) and inputs[0] in region:
        bounds = [graph.tensors[i] for i in inputs[1:]]
        options = op.builtinOptions
        if not bounds or not all(is_constant(model, t) and t.type == schema.TensorType.INT32 and len(t.shape) == 1
                                 and int(t.shape[0]) == rank for t in bounds):
            return None
        if code == OPS.STRIDED_SLICE and (options is None or options.ellipsisMask or options.newAxisMask
                                          or options.shrinkAxisMask or getattr(options, "offset", False)):
            return None
        return "slice"
    if code == OPS.RESHAPE and inputs[0] in region:
        return "reshape" if _order_kept(graph.tensors[inputs[0]].shape, perm) else None
    return None


def _apply(model, transpose, perm, region: set, plan: dict) -> int:
    graph = model.subgraphs[0]
    rank = len(perm)
    inverse = [int(i) for i in np.argsort(perm)]
    start, source = int(transpose.outputs[0]), int(transpose.inputs[0])
    for index in region - {start}:
        tensor = graph.tensors[index]
        tensor.shape = np.asarray([int(d) for d in tensor.shape], np.int32)[inverse]
        tensor.shapeSignature = None
    inserted = []                   # (before op, new RESHAPE op)
    removed = [transpose]
    for op, kind in plan.values():
        inputs = [int(i) for i in op.inputs]
        if kind == "cancel":
            removed.append(op)
            _replace_reads(graph, int(op.outputs[0]), source if inputs[0] == start else inputs[0])
            continue
        for slot, index in enumerate(inputs):
            if index == start:
                op.inputs[slot] = source
            elif kind == "elementwise" and index not in region:
                tensor = graph.tensors[index]
                if is_constant(model, tensor):
                    op.inputs[slot] = _transposed_constant(model, index, rank, inverse)
                else:
                    reshape, out = _reshape_to_outer(model, index, rank, inverse)
                    op.inputs[slot] = out
                    inserted.append((op, reshape))
        if kind == "slice":
            for slot in range(1, len(inputs)):
                bound = graph.tensors[inputs[slot]]
                values = constant_values(model, bound)[inverse]
                op.inputs[slot] = new_constant(model, np.ascontiguousarray(values.astype(np.int32)),
                                               schema.TensorType.INT32, bytes(bound.name or b"") + b"/outer")
            if builtin_code(model, op) == OPS.STRIDED_SLICE:
                options = op.builtinOptions
                options.beginMask = _permuted_mask(options.beginMask, perm)
                options.endMask = _permuted_mask(options.endMask, perm)
        if kind in ("reduce", "reduce_keep"):
            axes = constant_values(model, graph.tensors[inputs[1]])
            mapped = np.asarray(sorted({perm[int(a) % rank] for a in axes}), np.int32)
            op.inputs[1] = new_constant(model, mapped, schema.TensorType.INT32, b"tinyattend/outer_axes")
    operators = []
    for op in graph.operators:
        operators += [reshape for before, reshape in inserted if before is op]
        if not any(op is gone for gone in removed):
            operators.append(op)
    graph.operators = operators
    return len(removed)


def _permuted_mask(mask: int, perm) -> int:
    """A per-axis bit mask of the transposed layout, in the outer layout (bit k -> bit perm[k])."""
    return sum(1 << perm[k] for k in range(len(perm)) if mask & (1 << k))


def _order_kept(shape, perm) -> bool:
    """The tensor's dimensions other than 1, mapped through `perm`, keep their order: its bytes are the
    same in either layout."""
    axes = [perm[k] for k, size in enumerate(shape) if int(size) != 1]
    return axes == sorted(axes)


def _padded(shape, rank: int) -> list[int]:
    return [1] * (rank - len(shape)) + [int(d) for d in shape]


def _transpose_perm(model, op):
    """The permutation of a TRANSPOSE with a constant permutation, else None."""
    if builtin_code(model, op) != OPS.TRANSPOSE or len(op.inputs) < 2:
        return None
    tensor = model.subgraphs[0].tensors[int(op.inputs[1])]
    if not is_constant(model, tensor):
        return None
    return [int(p) for p in constant_values(model, tensor)]


def _transposed_constant(model, index: int, rank: int, inverse: list[int]) -> int:
    tensor = model.subgraphs[0].tensors[index]
    values = constant_values(model, tensor).reshape([int(d) for d in tensor.shape])
    values = np.transpose(values.reshape(_padded(tensor.shape, rank)), inverse)
    return new_constant(model, values, tensor.type, bytes(tensor.name or b"") + b"/outer_layout")


def _reshape_to_outer(model, index: int, rank: int, inverse: list[int]):
    """A RESHAPE of tensor `index` to its outer-layout shape (the same bytes): (the op, its output)."""
    graph = model.subgraphs[0]
    tensor = graph.tensors[index]
    shape = np.asarray(_padded(tensor.shape, rank), np.int32)[inverse]
    out = schema.TensorT()
    out.shape = shape.copy()
    out.type = tensor.type
    out.buffer = 0
    out.name = bytes(tensor.name or b"") + b"/outer_layout"
    graph.tensors.append(out)
    out_index = len(graph.tensors) - 1
    op = schema.OperatorT()
    op.opcodeIndex = opcode_index(model, OPS.RESHAPE)
    op.inputs = np.asarray([index, new_constant(model, shape, schema.TensorType.INT32, out.name + b"/shape")], np.int32)
    op.outputs = np.asarray([out_index], np.int32)
    op.builtinOptionsType = schema.BuiltinOptions.ReshapeOptions
    op.builtinOptions = schema.ReshapeOptionsT()
    op.builtinOptions.newShape = [int(d) for d in shape]
    return op, out_index


def _replace_reads(graph, old: int, new: int) -> None:
    for op in graph.operators:
        op.inputs = np.asarray([new if int(i) == old else int(i) for i in op.inputs], np.int32)
