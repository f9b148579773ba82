"""TFLite flatbuffers as mutable objects (the schema's object API), read and written without TensorFlow.

LiteRT ships the generated schema module; TensorFlow's `flatbuffer_utils` does the same two steps, but
importing it imports TensorFlow (3-4 s), which the ONNX path no longer needs.
"""
from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"
NUMPY_TYPES = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32}


def read_model(tflite: bytes) -> "schema.ModelT":
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(tflite), 0))


def write_model(model: "schema.ModelT") -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def builtin_code(model: "schema.ModelT", op: "schema.OperatorT") -> int:
    """The op's BuiltinOperator (new models keep codes over 127 in `builtinCode` only)."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def is_constant(model: "schema.ModelT", tensor: "schema.TensorT") -> bool:
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


def constant_values(model, tensor) -> np.ndarray:
    """A constant tensor's values, flat (float32 or int32)."""
    return np.frombuffer(bytes(model.buffers[tensor.buffer].data), NUMPY_TYPES.get(tensor.type, np.int32))


def opcode_index(model, builtin: int) -> int:
    """The index of the builtin's operator code, added to the model when missing."""
    for index, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def new_constant(model, values: np.ndarray, tensor_type: int, name: bytes) -> int:
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


def readers_of(graph) -> dict[int, list]:
    """{tensor index: the ops that read it}."""
    readers: dict[int, list] = {}
    for op in graph.operators:
        for index in set(int(i) for i in op.inputs if i >= 0):
            readers.setdefault(index, []).append(op)
    return readers
