"""Float-model fusions the TensorFlow converter makes and onnx2tf's direct writer leaves out.

On the float model before calibration (so the int8 model never has the unfused ops):
- an activation (RELU, RELU6, RELU_N1_TO_1) that alone reads a CONV_2D, DEPTHWISE_CONV_2D,
  FULLY_CONNECTED, ADD or SUB output without one becomes that op's fused activation: in int8 a clamp in
  the requantization instead of a pass over the tensor;
- BATCH_MATMUL of a tensor by a constant 2-D matrix (ONNX MatMul by weights) becomes FULLY_CONNECTED with
  the matrix transposed to [N, K] (our and TFLM's FULLY_CONNECTED kernels; per-channel int8 weights);
- an ADD of a constant vector over the last axis after a FULLY_CONNECTED without bias becomes its bias;
- the forms a LayerNorm takes in the direct writer's output, as ops with int8 kernels: POW(x, 2) becomes
  MUL(x, x), POW(x, -0.5) RSQRT(x), and DIV(a, SQRT(b)) becomes MUL(a, RSQRT(b)) (the TensorFlow path writes the latter itself);
- MUL by a constant of ones, ADD or SUB of zeros (a randomly initialised scale or bias) dropped, as TF's
  converter folds them (else the int8 model keeps them as requantizing QUANTIZE ops);
- SLICE with constant begin and size as STRIDED_SLICE (the op our kernels and the TensorFlow path use);
- PADV2's padding value as the 0-D tensor TF's quantizer requires (the direct writer gives it shape [1]:
  ResNet's MaxPool padding).
Values stay the same floats up to the last bit (x / sqrt(b) against x * (1 / sqrt(b))).
"""
from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .tflite_objects import builtin_code, constant_values, is_constant, new_constant, opcode_index, readers_of

OPS = schema.BuiltinOperator
ACT = schema.ActivationFunctionType
ACTIVATIONS = {OPS.RELU: ACT.RELU, OPS.RELU6: ACT.RELU6, OPS.RELU_N1_TO_1: ACT.RELU_N1_TO_1}
TAKES_ACTIVATION = {OPS.CONV_2D, OPS.DEPTHWISE_CONV_2D, OPS.FULLY_CONNECTED, OPS.ADD, OPS.SUB}


def fuse_all(model) -> int:
    """Make every fusion above in `model` (a private copy), in place; how many ops went or changed kind."""
    count = identities_dropped(model)
    count += matmuls_to_fully_connected(model) + squares_to_mul(model) + divisions_by_sqrt_to_rsqrt(model)
    count += scalar_pad_values(model) + slices_to_strided_slices(model)
    return count + fuse_biases(model) + fuse_activations(model)


def _single_reader(graph, readers, tensor: int):
    users = readers.get(tensor, [])
    outputs = set(int(i) for i in graph.outputs)
    return users[0] if len(users) == 1 and tensor not in outputs else None


def fuse_activations(model) -> int:
    graph = model.subgraphs[0]
    readers = readers_of(graph)
    gone = []
    for op in graph.operators:
        if builtin_code(model, op) not in TAKES_ACTIVATION or op.builtinOptions is None or len(op.outputs) != 1:
            continue
        if getattr(op.builtinOptions, "fusedActivationFunction", None) != ACT.NONE:
            continue
        user = _single_reader(graph, readers, int(op.outputs[0]))
        if user is None or builtin_code(model, user) not in ACTIVATIONS or any(user is g for g in gone):
            continue
        op.builtinOptions.fusedActivationFunction = ACTIVATIONS[builtin_code(model, user)]
        _absorb(op, user, gone)
    return _without(graph, gone)


def _absorb(op, user, gone: list) -> None:
    """`op` writes what `user` (its output's one reader) wrote; `user` goes."""
    op.outputs[0] = int(user.outputs[0])
    gone.append(user)


def _without(graph, gone: list) -> int:
    graph.operators = [op for op in graph.operators if not any(op is g for g in gone)]
    return len(gone)


def matmuls_to_fully_connected(model) -> int:
    graph = model.subgraphs[0]
    changed = 0
    for op in graph.operators:
        if builtin_code(model, op) != OPS.BATCH_MATMUL or len(op.inputs) != 2 or len(op.outputs) != 1:
            continue
        options = op.builtinOptions
        x, w = (graph.tensors[int(i)] for i in op.inputs)
        if options is None or options.adjX or options.adjY or not is_constant(model, w) or len(w.shape) != 2 \
                or w.type != schema.TensorType.FLOAT32 or len(x.shape) < 2 or is_constant(model, x):
            continue
        weights = constant_values(model, w).reshape([int(d) for d in w.shape])
        fc = schema.FullyConnectedOptionsT()
        fc.fusedActivationFunction = ACT.NONE
        fc.keepNumDims = len(x.shape) > 2
        op.opcodeIndex = opcode_index(model, OPS.FULLY_CONNECTED)
        op.inputs = np.asarray([int(op.inputs[0]), new_constant(model, np.ascontiguousarray(weights.T), w.type,
                                                             bytes(w.name or b"") + b"/transposed"), -1], np.int32)
        op.builtinOptionsType = schema.BuiltinOptions.FullyConnectedOptions
        op.builtinOptions = fc
        changed += 1
    return changed


def fuse_biases(model) -> int:
    graph = model.subgraphs[0]
    readers = readers_of(graph)
    gone = []
    for op in graph.operators:
        if builtin_code(model, op) != OPS.FULLY_CONNECTED or len(op.inputs) < 3 or int(op.inputs[2]) >= 0:
            continue
        if op.builtinOptions is None or op.builtinOptions.fusedActivationFunction != ACT.NONE:
            continue
        user = _single_reader(graph, readers, int(op.outputs[0]))
        if user is None or builtin_code(model, user) != OPS.ADD or user.builtinOptions is None:
            continue
        inputs = [int(i) for i in user.inputs]
        other = graph.tensors[inputs[1] if inputs[0] == int(op.outputs[0]) else inputs[0]]
        units = int(graph.tensors[int(op.inputs[1])].shape[0])
        shape = [int(d) for d in other.shape]
        if not is_constant(model, other) or other.type != schema.TensorType.FLOAT32 or \
                int(np.prod(shape)) != units or (shape and shape[-1] != units):
            continue
        bias = constant_values(model, other).astype(np.float32).reshape(units)
        op.inputs[2] = new_constant(model, bias, schema.TensorType.FLOAT32, bytes(other.name or b"") + b"/bias")
        op.builtinOptions.fusedActivationFunction = user.builtinOptions.fusedActivationFunction
        _absorb(op, user, gone)
    return _without(graph, gone)


def squares_to_mul(model) -> int:
    graph = model.subgraphs[0]
    changed = 0
    for op in graph.operators:
        if builtin_code(model, op) != OPS.POW or len(op.inputs) != 2:
            continue
        exponent = graph.tensors[int(op.inputs[1])]
        if not is_constant(model, exponent) or exponent.type != schema.TensorType.FLOAT32:
            continue
        values = constant_values(model, exponent)
        if values.size != 1 or float(values[0]) not in (2.0, -0.5):
            continue
        if float(values[0]) == -0.5:                 # x ** -0.5: a LayerNorm's 1 / sqrt(variance + eps)
            op.opcodeIndex = opcode_index(model, OPS.RSQRT)
            op.inputs = np.asarray([int(op.inputs[0])], np.int32)
            op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.NONE, None
            changed += 1
            continue
        op.opcodeIndex = opcode_index(model, OPS.MUL)
        op.inputs = np.asarray([int(op.inputs[0]), int(op.inputs[0])], np.int32)
        op.builtinOptionsType = schema.BuiltinOptions.MulOptions
        op.builtinOptions = schema.MulOptionsT()
        op.builtinOptions.fusedActivationFunction = ACT.NONE
        changed += 1
    return changed


def divisions_by_sqrt_to_rsqrt(model) -> int:
    graph = model.subgraphs[0]
    readers = readers_of(graph)
    producers = {int(o): op for op in graph.operators for o in op.outputs}
    changed = 0
    for op in graph.operators:
        if builtin_code(model, op) != OPS.DIV or len(op.inputs) != 2:
            continue
        root = producers.get(int(op.inputs[1]))
        if root is None or builtin_code(model, root) != OPS.SQRT or \
                _single_reader(graph, readers, int(root.outputs[0])) is not op:
            continue
        activation = op.builtinOptions.fusedActivationFunction if op.builtinOptions is not None else ACT.NONE
        root.opcodeIndex = opcode_index(model, OPS.RSQRT)
        op.opcodeIndex = opcode_index(model, OPS.MUL)
        op.builtinOptionsType = schema.BuiltinOptions.MulOptions
        op.builtinOptions = schema.MulOptionsT()
        op.builtinOptions.fusedActivationFunction = activation
        changed += 1
    return changed


def scalar_pad_values(model) -> int:
    graph = model.subgraphs[0]
    changed = 0
    for op in graph.operators:
        if builtin_code(model, op) != OPS.PADV2 or len(op.inputs) != 3:
            continue
        value = graph.tensors[int(op.inputs[2])]
        if len(value.shape) == 1 and int(value.shape[0]) == 1 and is_constant(model, value):
            scalar = constant_values(model, value).reshape(())
            op.inputs[2] = new_constant(model, scalar, value.type, bytes(value.name or b"") + b"/scalar")
            changed += 1
    return changed


def slices_to_strided_slices(model) -> int:
    graph = model.subgraphs[0]
    changed = 0
    for op in graph.operators:
        if builtin_code(model, op) != OPS.SLICE or len(op.inputs) != 3:
            continue
        x, begin_t, size_t = (graph.tensors[int(i)] for i in op.inputs)
        if not (is_constant(model, begin_t) and is_constant(model, size_t)) or \
                begin_t.type != schema.TensorType.INT32 or size_t.type != schema.TensorType.INT32:
            continue
        shape = [int(d) for d in x.shape]
        begin = [int(v) for v in constant_values(model, begin_t)]
        size = [int(v) for v in constant_values(model, size_t)]
        if len(begin) != len(shape) or len(size) != len(shape):
            continue
        end = [dim if n < 0 else b + n for b, n, dim in zip(begin, size, shape)]
        op.opcodeIndex = opcode_index(model, OPS.STRIDED_SLICE)
        op.inputs = np.asarray([int(op.inputs[0]),
                                new_constant(model, np.asarray(begin, np.int32), schema.TensorType.INT32, b"begin"),
                                new_constant(model, np.asarray(end, np.int32), schema.TensorType.INT32, b"end"),
                                new_constant(model, np.ones(len(shape), np.int32), schema.TensorType.INT32, b"strides")],
                               np.int32)
        op.builtinOptionsType = schema.BuiltinOptions.StridedSliceOptions
        op.builtinOptions = schema.StridedSliceOptionsT()
        changed += 1
    return changed


def identities_dropped(model) -> int:
    graph = model.subgraphs[0]
    outputs = set(int(i) for i in graph.outputs)
    neutral = {OPS.MUL: 1.0, OPS.ADD: 0.0, OPS.SUB: 0.0}
    gone = []
    for op in graph.operators:
        code = builtin_code(model, op)
        if code not in neutral or len(op.inputs) != 2 or int(op.outputs[0]) in outputs:
            continue
        if op.builtinOptions is not None and op.builtinOptions.fusedActivationFunction != ACT.NONE:
            continue
        inputs = [int(i) for i in op.inputs]
        for slot in ((0, 1) if code != OPS.SUB else (1,)):           # x - 0, not 0 - x
            constant, other = graph.tensors[inputs[slot]], inputs[1 - slot]
            if not is_constant(model, constant) or constant.type != schema.TensorType.FLOAT32 or \
                    is_constant(model, graph.tensors[other]):
                continue
            same_shape = [int(d) for d in graph.tensors[other].shape] == \
                [int(d) for d in graph.tensors[int(op.outputs[0])].shape]
            if same_shape and np.all(constant_values(model, constant) == neutral[code]):
                _replace_reads(graph, int(op.outputs[0]), other)
                gone.append(op)
                break
    return _without(graph, gone)


def _replace_reads(graph, old: int, new: int) -> None:
    for op in graph.operators:
        op.inputs = np.asarray([new if int(i) == old else int(i) for i in op.inputs], np.int32)
