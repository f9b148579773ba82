"""Read a `.tflite` flatbuffer into the IR, checking everything we rely on.

The model is untrusted input: malformed flatbuffers, dangling tensor indices,
buffers shorter than their shapes, zero-sized or huge shapes all end in a
BadModelError that says what and where, never in a crash.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import re
import threading
from types import MappingProxyType

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from ..errors import BadModelError, ResourceLimitError, UnsupportedOpError
from ..limits import Limits, limits, refuse
from .graph import DTYPE_BYTES, Graph, Op, QuantParams, Tensor

# The most bytes one tensor may have (tinyattend/limits.py, TINYATTEND_MAX_TENSOR_BYTES): far beyond any
# microcontroller; at the default, sizes stay in 32-bit C arithmetic.
MAX_TENSOR_BYTES = Limits().max_tensor_bytes
# TFLite kernels handle at most 6 dimensions; more is a corrupt or hostile model.
MAX_RANK = 8
# More inputs or outputs than any builtin op takes (CONCATENATION included).
MAX_OP_TENSORS = 1024
# Zero points an integer tensor's type can hold.
_ZERO_POINT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}

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
        # The custom code is model text: it ends up in messages and reports, so keep it plain.
        custom = code.customCode.decode("utf-8", "replace") if isinstance(code.customCode, bytes) else str(code.customCode or "?")
        return "CUSTOM:" + (re.sub(r"[^A-Za-z0-9_.-]", "?", custom)[:64] or "?")
    return _OP_NAMES.get(value, f"UNKNOWN_OP_{value}")


def read_tflite(buffer: bytes, name: str = "model") -> Graph:
    """Parse a TFLite flatbuffer (subgraph 0) into a Graph.

    A conversion reads its int8 model three times (the int8 check, code generation, the per-layer error):
    the Graph of the last few `bytes` read under the same limits is kept (it is immutable through and
    through: frozen dataclasses, tuples, bytes) and given back under this call's `name`. `name` appears
    only in the Graph and in error messages, and a model that fails is never kept."""
    try:
        in_force = limits() if isinstance(buffer, bytes) else None
    except ResourceLimitError:                # a bad limit variable: the read says so where it always did
        in_force = None
    if in_force is None:
        return _read_tflite(buffer, name)
    graph = _read_kept(buffer, in_force)
    if graph is None:
        graph = _read_tflite(buffer, name)
        _keep(buffer, in_force, graph)
    return graph if graph.name == name else dataclasses.replace(graph, name=name)


_KEPT: "collections.OrderedDict[tuple[bytes, Limits], Graph]" = collections.OrderedDict()
_KEPT_MAX = 4
_KEPT_LOCK = threading.Lock()     # the per-layer error reads in a thread beside code generation


def _read_kept(buffer: bytes, in_force: Limits) -> Graph | None:
    with _KEPT_LOCK:
        graph = _KEPT.get((buffer, in_force))
        if graph is not None:
            _KEPT.move_to_end((buffer, in_force))
        return graph


def _keep(buffer: bytes, in_force: Limits, graph: Graph) -> None:
    with _KEPT_LOCK:
        _KEPT[(buffer, in_force)] = graph
        while len(_KEPT) > _KEPT_MAX:
            _KEPT.popitem(last=False)


def _read_tflite(buffer: bytes, name: str) -> Graph:
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
        for kind, vector in (("inputs", raw.inputs), ("outputs", raw.outputs)):
            if vector is not None and len(vector) > MAX_OP_TENSORS:
                raise BadModelError(f"{name}: operator {op_index} ({op_type}) has {len(vector)} {kind}",
                                    "the model is corrupt; re-export it")
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
    _check_dataflow(name, tensors, ops, graph_inputs, graph_outputs)
    description = model.description.decode("utf-8", "replace") if isinstance(model.description, bytes) else str(model.description or "")
    return Graph(name=name, tensors=tuple(tensors), ops=tuple(ops), inputs=graph_inputs,
                 outputs=graph_outputs, description=description)


def _check_dataflow(name: str, tensors, ops, graph_inputs, graph_outputs) -> None:
    """Every tensor an op reads is a constant, a graph input or an earlier op's output; ops
    write only fresh, non-constant tensors; the graph's outputs are computed; and every
    tensor in the dataflow has a type tinyattend knows the size of."""
    written = set(graph_inputs)
    for index in graph_inputs:
        if tensors[index].is_constant:
            raise BadModelError(f"{name}: graph input tensor {index} has constant data", "the model is corrupt; re-export it")
    for op in ops:
        for index in (*op.inputs, *op.outputs):
            if index is not None and tensors[index].dtype not in DTYPE_BYTES:
                raise UnsupportedOpError(
                    f"{name}: operator {op.index} ({op.type}) uses tensor {index} of type {tensors[index].dtype}, "
                    "which tinyattend does not support", "convert the model to full int8 (tinyattend convert)")
        for index in op.inputs:
            if (index is not None and index not in written and not tensors[index].is_constant
                    and tensors[index].num_elements > 0):
                raise BadModelError(f"{name}: operator {op.index} ({op.type}) reads tensor {index}, which is neither "
                                    "constant, a graph input, nor written by an earlier operator",
                                    "the model is corrupt, out of order, or uses variable tensors (not supported)")
        for index in op.outputs:
            if tensors[index].is_constant or index in written:
                what = "a constant" if tensors[index].is_constant else "already written"
                raise BadModelError(f"{name}: operator {op.index} ({op.type}) writes tensor {index}, which is {what}",
                                    "the model is corrupt; re-export it")
            written.add(index)
    for index in graph_outputs:
        if index not in written:
            raise BadModelError(f"{name}: graph output tensor {index} is not computed by any operator",
                                "the model is corrupt; re-export it")


def _tensor(index: int, raw, buffers, file_bytes: bytes, name: str) -> Tensor:
    tensor_name = raw.name.decode("utf-8", "replace") if isinstance(raw.name, bytes) else str(raw.name or "")
    where = f"{name}: tensor {index} ('{tensor_name[:60]!r}')"
    dtype = _TYPE_NAMES.get(raw.type, f"type{raw.type}")
    if raw.type not in _TYPE_NAMES:
        raise BadModelError(f"{where} has an unknown type code {raw.type}", "the model is corrupt; re-export it")
    if raw.shape is not None and len(raw.shape) > MAX_RANK:
        raise BadModelError(f"{where} has {len(raw.shape)} dimensions; TFLite tensors have at most 6",
                            "the model is corrupt; re-export it")
    shape = tuple(int(d) for d in (raw.shape if raw.shape is not None else ()))
    if any(d < 0 for d in shape):
        raise BadModelError(f"{where} has a dynamic or negative dimension {shape}",
                            "give the converter a static input shape (--input-shape)")
    if dtype in DTYPE_BYTES:
        nbytes = math.prod(shape) * DTYPE_BYTES[dtype]    # Python ints: no int64 wrap-around
        refuse(f"{where} has shape {shape}: its size", nbytes, "max_tensor_bytes", " bytes")
    else:
        nbytes = None
    quant = None
    q = raw.quantization
    if q is not None and q.scale is not None and len(q.scale) > 0:
        zero_points = tuple(int(z) for z in (q.zeroPoint if q.zeroPoint is not None else [0] * len(q.scale)))
        scales = tuple(float(np.float32(s)) for s in q.scale)
        if len(zero_points) != len(scales):
            raise BadModelError(f"{where}: {len(scales)} scales but {len(zero_points)} zero points")
        axis = int(q.quantizedDimension or 0)
        _check_quant(where, dtype, shape, scales, zero_points, axis, constant=bool(raw.buffer) and _has_data(raw, buffers))
        quant = QuantParams(scales, zero_points, axis)
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


def _has_data(raw, buffers) -> bool:
    if not 0 < raw.buffer < len(buffers):
        return False
    buf = buffers[raw.buffer]
    return (buf.data is not None and len(buf.data) > 0) or bool(getattr(buf, "offset", 0) and buf.offset > 1)


def _check_quant(where: str, dtype: str, shape, scales, zero_points, axis: int, constant: bool) -> None:
    """Scales finite and non-negative (positive for computed tensors), zero points in the type's range,
    one scale per channel of the quantized axis when there are several."""
    fix = "the model is corrupt; re-export it"
    if any(not math.isfinite(s) or s < 0 for s in scales):
        raise BadModelError(f"{where}: quantization scale {scales[:4]} is negative, infinite or NaN", fix)
    if not constant and any(s == 0 for s in scales):
        raise BadModelError(f"{where}: quantization scale is 0", fix)
    if dtype in _ZERO_POINT_RANGE:
        lo, hi = _ZERO_POINT_RANGE[dtype]
        if any(not lo <= z <= hi for z in zero_points):
            raise BadModelError(f"{where}: zero point outside the {dtype} range [{lo}, {hi}]", fix)
    elif any(not -(1 << 31) <= z < (1 << 31) for z in zero_points):
        raise BadModelError(f"{where}: zero point does not fit 32 bits", fix)
    if len(scales) > 1 and not (0 <= axis < len(shape) and shape[axis] == len(scales)):
        raise BadModelError(f"{where}: {len(scales)} per-channel scales on axis {axis} of shape {shape}", fix)
