"""Parameters, MACs, weight bytes and op histogram of a .tflite, read from the flatbuffer.

Uses only the TFLite schema module shipped with ai_edge_litert (no TensorFlow import).
MACs count multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV and
BATCH_MATMUL (elementwise and pooling ops are not counted), as the MLPerf Tiny figures do.
Parameters are the elements of constant tensors other than small integer operands (shapes, axes,
paddings); weight_bytes is every constant buffer's size, i.e. what goes to flash.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
from ai_edge_litert import schema_py_generated as schema

OP_NAMES = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
TYPE_NAMES = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
INT_TYPES = {schema.TensorType.INT32, schema.TensorType.INT64}

# (op, input index) whose integer constant is a parameter (a bias), not a shape/axis operand.
_BIAS_INPUTS = {("CONV_2D", 2), ("DEPTHWISE_CONV_2D", 2), ("FULLY_CONNECTED", 2), ("TRANSPOSE_CONV", 3)}


def read_model(tflite: bytes):
    return schema.Model.GetRootAsModel(tflite, 0)


def op_name(model, op) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        return f"CUSTOM({custom.decode('utf-8', 'replace') if custom else '?'})"
    return OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def tensor_shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()


def buffer_size(model, tensor) -> int:
    """Bytes of constant data behind a tensor (0 for activations)."""
    index = tensor.Buffer()
    if index <= 0 or index >= model.BuffersLength():
        return 0
    buffer = model.Buffers(index)
    if buffer.DataLength():
        return buffer.DataLength()
    return int(buffer.Size()) if buffer.Offset() > 1 else 0


def _operators(model):
    for sg_index in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(sg_index)
        for op_index in range(subgraph.OperatorsLength()):
            yield sg_index, subgraph, subgraph.Operators(op_index)


def _macs(name: str, subgraph, op) -> int:
    """MACs of one op; 0 when its tensors do not have the ranks the op needs (a malformed model: the
    code generator's checks refuse it with the reason, this count must not fail first)."""
    def shape(position, outputs=False):
        indices = op.OutputsAsNumpy() if outputs else op.InputsAsNumpy()
        if isinstance(indices, int) or position >= len(indices) or not 0 <= indices[position] < subgraph.TensorsLength():
            return ()
        return tensor_shape(subgraph.Tensors(int(indices[position])))

    out = shape(0, outputs=True)
    if not out:
        return 0
    out_elems = math.prod(out)
    weights = shape(1)
    if name == "CONV_2D" and len(weights) == 4:
        _, kh, kw, cin_per_group = weights
        return out_elems * kh * kw * cin_per_group
    if name == "DEPTHWISE_CONV_2D" and len(weights) == 4:
        _, kh, kw, _ = weights
        return out_elems * kh * kw
    if name == "FULLY_CONNECTED" and weights:
        return out_elems * weights[-1]
    if name == "TRANSPOSE_CONV" and len(weights) == 4:
        cout, kh, kw, _ = weights
        return math.prod(shape(2)) * kh * kw * cout
    if name == "BATCH_MATMUL":
        a = shape(0)
        return out_elems * (a[-1] if a else 0)
    return 0


def model_stats(tflite: bytes) -> dict:
    """{'params', 'macs', 'weight_bytes', 'op_histogram': {op: count}} of a .tflite model."""
    model = read_model(tflite)
    histogram: Counter = Counter()
    macs = 0
    param_tensors: dict[tuple[int, int], int] = {}
    counted_buffers: set[int] = set()
    weight_bytes = 0
    for sg_index, subgraph, op in _operators(model):
        name = op_name(model, op)
        histogram[name] += 1
        macs += _macs(name, subgraph, op)
        for position, index in enumerate(op.InputsAsNumpy() if op.InputsLength() else []):
            if index < 0:
                continue
            tensor = subgraph.Tensors(index)
            size = buffer_size(model, tensor)
            if not size:
                continue
            if tensor.Buffer() not in counted_buffers:
                counted_buffers.add(tensor.Buffer())
                weight_bytes += size
            if tensor.Type() in INT_TYPES and (name, position) not in _BIAS_INPUTS:
                continue                               # shapes, axes, paddings, perms
            param_tensors[(sg_index, index)] = int(np.prod(tensor_shape(tensor))) if tensor.ShapeLength() else 1
    return {
        "params": int(sum(param_tensors.values())),
        "macs": int(macs),
        "weight_bytes": int(weight_bytes),
        "op_histogram": dict(sorted(histogram.items())),
    }


def io_details(tflite: bytes) -> dict:
    """{'input': {...}, 'output': {...}}: shape, dtype, scale, zero_point of the first input/output."""
    model = read_model(tflite)
    subgraph = model.Subgraphs(0)

    def describe(index):
        tensor = subgraph.Tensors(index)
        quant = tensor.Quantization()
        scale = quant.ScaleAsNumpy() if quant is not None and quant.ScaleLength() else None
        zero = quant.ZeroPointAsNumpy() if quant is not None and quant.ZeroPointLength() else None
        return {
            "name": tensor.Name().decode("utf-8", "replace") if tensor.Name() else "",
            "shape": list(tensor_shape(tensor)),
            "dtype": TYPE_NAMES.get(tensor.Type(), str(tensor.Type())).lower(),
            "scale": float(scale[0]) if scale is not None else None,
            "zero_point": int(zero[0]) if zero is not None else None,
        }

    return {"input": describe(subgraph.Inputs(0)), "output": describe(subgraph.Outputs(0)),
            "inputs": subgraph.InputsLength(), "outputs": subgraph.OutputsLength()}
