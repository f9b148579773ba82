"""Read a `.tflite` flatbuffer into the IR, checking everything we rely on.

The model is untrusted input: malformed flatbuffers, dangling tensor indices,
buffers shorter than their shapes, zero-sized or huge shapes all end in a
BadModelError that says what and where, never in a crash.
"""
from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from ..errors import BadModelError
from .graph import DTYPE_BYTES, Graph, Op, QuantParams, Tensor

# The most bytes one tensor may have: far beyond any microcontroller, small
# enough that sizes stay in 32-bit C arithmetic.
MAX_TENSOR_BYTES = 1 << 30

_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_PADDING = {v: k for k, v in vars(schema.Padding).items() if not k.startswith("_")}
_ACTIVATION = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _options(op) -> dict:
    """Builtin options as a snake_case dict; enums decoded to names."""
    raw = op.builtinOptions
    if raw is None:
        return {}
    out = {}
    for key, value in vars(raw).items():
        key = _snake(key)
        if isinstance(value, np.ndarray):
            value = tuple(int(v) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        if key == "padding":
            value = _PADDING.get(value, value)
        elif key == "fused_activation_function":
            value = _ACTIVATION.get(value, value)
        out[key] = value
    return out


def _op_name(code) -> str:
    # Since schema 3a, builtinCode holds codes >= 127; deprecatedBuiltinCode the small ones.
    value = max(code.builtinCode, code.deprecatedBuiltinCode)
    if value == schema.BuiltinOperator.CUSTOM:
        return f"CUSTOM:{(code.customCode or b'?').decode('utf-8', 'replace') if isinstance(code.customCode, bytes) else code.customCode}"
    return _OP_NAMES.get(value, f"UNKNOWN_OP_{value}")


def read_tflite(buffer: bytes, name: str = "model") -> Graph:
    """Parse a TFLite flatbuffer (subgraph 0) into a Graph."""
    if len(buffer) < 8 or buffer[4:8] != b"TFL3":
        raise BadModelError(f"{name}: not a TFLite flatbuffer (missing the 'TFL3' identifier)",
                            "give a .tflite file written by the TFLite converter")
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buffer, 0))
    except Exception as err:  # a corrupt flatbuffer raises anything from struct.error to RecursionError
        raise BadModelError(f"{name}: corrupt TFLite flatbuffer ({type(err).__name__}: {err})",
                            "re-export the model; the file is damaged or truncated") from None
    try:
        return _to_graph(model, buffer, name)
    except BadModelError:
        raise
    except Exception as err:
        raise BadModelError(f"{name}: malformed TFLite model ({type(err).__name__}: {err})",
                            "re-export the model with the TFLite converter") from None


def _to_graph(model, buffer: bytes, name: str) -> Graph:
    if not model.subgraphs:
        raise BadModelError(f"{name}: the model has no subgraph")
    if len(model.subgraphs) > 1:
        raise BadModelError(f"{name}: the model has {len(model.subgraphs)} subgraphs (control flow)",
                            "tinyattend runs single-subgraph models; remove WHILE/IF control flow")
    sub = model.subgraphs[0]
    buffers = model.buffers or []
    raw_tensors = sub.tensors or []
    tensors = []
    for index, raw in enumerate(raw_tensors):
        tensors.append(_tensor(index, raw, buffers, buffer, name))
    count = len(tensors)

    def check_index(i: int, where: str) -> int | None:
        if i == -1:
            return None
        if not 0 <= i < count:
            raise BadModelError(f"{name}: {where} refers to tensor {i}, but the model has {count} tensors",
                                "the model is corrupt; re-export it")
        return int(i)

    codes = model.operatorCodes or []
    ops = []
    for op_index, raw in enumerate(sub.operators or []):
        if not 0 <= raw.opcodeIndex < len(codes):
            raise BadModelError(f"{name}: operator {op_index} has opcode index {raw.opcodeIndex} out of range")
        op_type = _op_name(codes[raw.opcodeIndex])
        inputs = tuple(check_index(int(i), f"operator {op_index} ({op_type}) input") for i in (raw.inputs if raw.inputs is not None else ()))
        outputs = tuple(check_index(int(i), f"operator {op_index} ({op_type}) output") for i in (raw.outputs if raw.outputs is not None else ()))
        if any(o is None for o in outputs) or not outputs:
            raise BadModelError(f"{name}: operator {op_index} ({op_type}) has a missing output tensor")
        ops.append(Op(op_index, op_type, inputs, outputs, MappingProxyType(_options(raw)),
                      int(codes[raw.opcodeIndex].version or 1)))
    graph_inputs = tuple(check_index(int(i), "graph input") for i in (sub.inputs if sub.inputs is not None else ()))
    graph_outputs = tuple(check_index(int(i), "graph output") for i in (sub.outputs if sub.outputs is not None else ()))
    if None in graph_inputs or None in graph_outputs or not graph_inputs or not graph_outputs:
        raise BadModelError(f"{name}: the model's inputs or outputs are missing")
    description = model.description.decode("utf-8", "replace") if isinstance(model.description, bytes) else str(model.description or "")
    return Graph(name=name, tensors=tuple(tensors), ops=tuple(ops), inputs=graph_inputs,
                 outputs=graph_outputs, description=description)


def _tensor(index: int, raw, buffers, file_bytes: bytes, name: str) -> Tensor:
    tensor_name = raw.name.decode("utf-8", "replace") if isinstance(raw.name, bytes) else str(raw.name or "")
    where = f"{name}: tensor {index} ('{tensor_name[:60]!r}')"
    dtype = _TYPE_NAMES.get(raw.type, f"type{raw.type}")
    shape = tuple(int(d) for d in (raw.shape if raw.shape is not None else ()))
    if any(d < 0 for d in shape):
        raise BadModelError(f"{where} has a dynamic or negative dimension {shape}",
                            "give the converter a static input shape (--input-shape)")
    if dtype in DTYPE_BYTES:
        nbytes = int(np.prod(shape, dtype=np.int64)) * DTYPE_BYTES[dtype] if shape else DTYPE_BYTES[dtype]
        if nbytes > MAX_TENSOR_BYTES:
            raise BadModelError(f"{where} has shape {shape}: {nbytes} bytes, more than any board can hold")
    else:
        nbytes = None
    quant = None
    q = raw.quantization
    if q is not None and q.scale is not None and len(q.scale) > 0:
        zero_points = tuple(int(z) for z in (q.zeroPoint if q.zeroPoint is not None else [0] * len(q.scale)))
        scales = tuple(float(np.float32(s)) for s in q.scale)
        if len(zero_points) != len(scales):
            raise BadModelError(f"{where}: {len(scales)} scales but {len(zero_points)} zero points")
        quant = QuantParams(scales, zero_points, int(q.quantizedDimension or 0))
    data = None
    if raw.buffer and 0 < raw.buffer:
        if raw.buffer >= len(buffers):
            raise BadModelError(f"{where} refers to buffer {raw.buffer}, but the model has {len(buffers)}")
        buf = buffers[raw.buffer]
        blob = None
        if buf.data is not None and len(buf.data) > 0:
            blob = bytes(np.asarray(buf.data, dtype=np.uint8))
        elif getattr(buf, "offset", 0) and buf.offset > 1:   # large models keep buffers after the flatbuffer
            if buf.offset + buf.size > len(file_bytes):
                raise BadModelError(f"{where}: its buffer lies beyond the end of the file")
            blob = bytes(file_bytes[buf.offset:buf.offset + buf.size])
        if blob is not None:
            if nbytes is not None and len(blob) != nbytes:
                raise BadModelError(f"{where}: buffer has {len(blob)} bytes, shape {shape} of {dtype} needs {nbytes}",
                                    "the model is corrupt; re-export it")
            data = blob
    return Tensor(index=index, name=tensor_name, shape=shape, dtype=dtype, quant=quant, data=data)
