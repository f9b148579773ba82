"""TFLite flatbuffers as mutable objects (the schema's object API), read and written without TensorFlow.

LiteRT ships the generated schema module; TensorFlow's `flatbuffer_utils` does the same two steps, but
importing it imports TensorFlow (3-4 s), which the ONNX path no longer needs.
"""
from __future__ import annotations

import flatbuffers
from ai_edge_litert import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"


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
