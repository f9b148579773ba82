"""Is a .tflite full-integer int8? (int8 input and output, no float compute, int8 per-channel weights.)

Used on .tflite models given as input (float and dynamic-range "hybrid" models are rejected) and on
every model tinyattend converts.
"""
from __future__ import annotations

from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

from ..codegen.cnames import c_comment_text
from ..errors import BadModelError
from ..ir.tflite_reader import read_tflite
from .model_stats import buffer_size, op_name, read_model

FLOAT_TYPES = {schema.TensorType.FLOAT32, schema.TensorType.FLOAT16, schema.TensorType.FLOAT64}
FIX_FLOAT = ("give the float model instead (ONNX, Keras .keras/.h5 or a SavedModel directory) together with "
             "--calib DATA: tinyattend quantizes it to full int8 itself")


def load_tflite(path: Path) -> bytes:
    if not path.is_file():
        raise BadModelError(f"{path}: no such file", "check the path to the model")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise BadModelError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)",
                            "give a .tflite written by the TFLite converter, or the ONNX/Keras model")
    try:
        model = read_model(data)
        if model.SubgraphsLength() < 1:
            raise ValueError("no subgraphs")
        model.Subgraphs(0).OperatorsLength()
    except Exception as err:   # noqa: BLE001 - a corrupt flatbuffer raises anything
        raise BadModelError(f"{path}: corrupt TFLite flatbuffer ({err})", "re-export the model") from None
    return data


def full_integer_problems(tflite: bytes) -> list[str]:
    """Why a model is not full-integer int8 (empty list when it is).

    int8 input and output, or a float32 interface that only QUANTIZE reads (input) or
    DEQUANTIZE writes (output) around an int8 body; no other op may touch a float tensor.
    """
    graph = read_tflite(tflite)
    problems = []
    if len(graph.inputs) != 1:
        problems.append(f"it has {len(graph.inputs)} inputs; tinyattend supports exactly one")
    for kind, indices in (("input", graph.inputs), ("output", graph.outputs)):
        for index in indices:
            tensor = graph.tensor(index)
            if tensor.dtype != "int8" and not graph.is_float_edge(index):
                problems.append(f"{kind} '{c_comment_text(tensor.name)}' is {tensor.dtype}, not int8")
    for op in graph.ops:
        floats = [i for i in (*op.inputs, *op.outputs)
                  if i is not None and graph.tensor(i).dtype in ("float32", "float16", "float64")
                  and not graph.is_float_edge(i)]
        if not floats:
            continue
        tensor = graph.tensor(floats[0])
        problems.append(f"op #{op.index} {op.type} computes in float (tensor '{c_comment_text(tensor.name)}' "
                        f"is {tensor.dtype})")
        if len(problems) > 8:
            problems.append("...")
            break
    return problems


def is_hybrid(tflite: bytes) -> bool:
    """Float activations with int8 constant weights: dynamic-range quantization."""
    model = read_model(tflite)
    subgraph = model.Subgraphs(0)
    tensors = [subgraph.Tensors(i) for i in range(subgraph.TensorsLength())]
    int8_weights = any(t.Type() == schema.TensorType.INT8 and buffer_size(model, t) for t in tensors)
    float_activations = any(t.Type() in FLOAT_TYPES and not buffer_size(model, t) for t in tensors)
    return int8_weights and float_activations


def check_full_integer(tflite: bytes, where: str) -> None:
    """BadModelError naming the float parts when the model is not full-integer int8."""
    problems = full_integer_problems(tflite)
    if problems:
        kind = "a hybrid (dynamic-range quantized)" if is_hybrid(tflite) else "a float"
        detail = "\n".join(f"    {p}" for p in problems)
        raise BadModelError(f"{where}: {kind} TFLite model, not full-integer int8:\n{detail}", FIX_FLOAT)


def check_converted(tflite: bytes, where: str) -> None:
    """After our own conversion: ops the converter left in float are unsupported ops (not a user's model kind)."""
    from ..errors import UnsupportedOpError

    model = read_model(tflite)
    subgraph = model.Subgraphs(0)
    float_ops = []
    for op_index in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(op_index)
        name = op_name(model, op)
        if name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        indices = [i for i in list(op.OutputsAsNumpy() if op.OutputsLength() else []) if i >= 0]
        floats = [subgraph.Tensors(i) for i in indices if subgraph.Tensors(i).Type() in FLOAT_TYPES]
        inputs = [i for i in list(op.InputsAsNumpy() if op.InputsLength() else []) if i >= 0]
        floats += [subgraph.Tensors(i) for i in inputs if subgraph.Tensors(i).Type() in FLOAT_TYPES]
        if floats:
            float_ops.append((name, floats[0].Name().decode("utf-8", "replace"), "left in float by the int8 converter"))
    problems = full_integer_problems(tflite)
    if float_ops or problems:
        listed = "\n".join(f"    {op} (tensor '{tensor}'): {reason}" for op, tensor, reason in float_ops[:10]) \
            or "\n".join(f"    {p}" for p in problems)
        raise UnsupportedOpError(
            f"{where}: the int8 TFLite converter could not make the model full-integer:\n{listed}",
            "some op has no int8 TFLite kernel (casts to integers, reversing slices, some math ops): find it with "
            "`tinyattend inspect` or Netron, and remove or replace it in the model before export", ops=float_ops)
