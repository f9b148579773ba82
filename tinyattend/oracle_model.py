"""A TFLM-runnable reference for a model with int8 ops TFLM has no kernel for (GELU, RELU_0_TO_1, ...).

Running the whole model in LiteRT instead would change the oracle of every other op too, and LiteRT's
reference kernels are not TFLM's everywhere (a FULLY_CONNECTED with a 1e-8 input scale rounds
differently). So each such op, an int8 -> int8 element-wise function, is measured once in LiteRT with
its reference kernels (BUILTIN_REF op resolver) on all 256 input bytes, and replaced in a copy of the
model by ops TFLM has that apply exactly that table:

    QUANTIZE int8 -> int32 (same scale, zero point + 128: the byte's index 0..255), then
    GATHER from a constant int8 table of LiteRT's 256 outputs, into the op's own output tensor.

TFLM runs the copy: every other op is TFLM's, these ops are LiteRT's kernel, bit for bit.
"""
from __future__ import annotations

import numpy as np

ALL_BYTES = np.arange(-128, 128, dtype=np.int8)


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def _pack(model) -> bytes:
    import flatbuffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _code(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _tensor(schema, name, dtype, shape, scale=None, zero_point=None, buffer=0):
    t = schema.TensorT()
    t.name, t.type, t.shape, t.buffer = name, dtype, np.array(shape, np.int32), buffer
    if scale is not None:
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale = np.array([scale], np.float32)
        t.quantization.zeroPoint = np.array([zero_point], np.int64)
    return t


def litert_table(model, subgraph, op) -> np.ndarray:
    """LiteRT's BUILTIN_REF output of the unary int8 op `op` for input bytes -128..127."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    schema = _schema()
    one = schema.ModelT()
    one.version, one.buffers = 3, [schema.BufferT(), schema.BufferT(), schema.BufferT()]
    x, y = (subgraph.tensors[i] for i in (op.inputs[0], op.outputs[0]))
    code = schema.OperatorCodeT()
    source = model.operatorCodes[op.opcodeIndex]
    code.builtinCode, code.deprecatedBuiltinCode, code.version = source.builtinCode, source.deprecatedBuiltinCode, source.version
    single = schema.OperatorT()
    single.opcodeIndex, single.inputs, single.outputs = 0, np.array([0], np.int32), np.array([1], np.int32)
    single.builtinOptionsType, single.builtinOptions = op.builtinOptionsType, op.builtinOptions
    graph = schema.SubGraphT()
    graph.tensors = [_tensor(schema, "x", schema.TensorType.INT8, [256], x.quantization.scale[0], x.quantization.zeroPoint[0], 1),
                     _tensor(schema, "y", schema.TensorType.INT8, [256], y.quantization.scale[0], y.quantization.zeroPoint[0], 2)]
    graph.operators, graph.inputs, graph.outputs = [single], np.array([0], np.int32), np.array([1], np.int32)
    one.operatorCodes, one.subgraphs = [code], [graph]
    interpreter = Interpreter(model_content=_pack(one), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ALL_BYTES)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def tflm_runnable(tflite: bytes, op_types) -> tuple[bytes, list[str]]:
    """`tflite` with every op whose type is in `op_types` replaced as the module docstring says, and the
    types replaced. Ops other than unary int8 ones are left alone (TFLM will then refuse the model)."""
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    names = {getattr(schema.BuiltinOperator, name): name for name in op_types}
    subgraph = model.subgraphs[0]
    wanted = [op for op in subgraph.operators if _code(model, op) in names and len(op.inputs) == 1
              and subgraph.tensors[op.inputs[0]].type == schema.TensorType.INT8]
    if not wanted:
        return tflite, []
    opcode = {}
    for builtin in (schema.BuiltinOperator.QUANTIZE, schema.BuiltinOperator.GATHER):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = builtin
        code.version = 1
        model.operatorCodes.append(code)
        opcode[builtin] = len(model.operatorCodes) - 1
    operators, replaced = [], []
    for op in subgraph.operators:
        if op not in wanted:
            operators.append(op)
            continue
        replaced.append(names[_code(model, op)])
        x = subgraph.tensors[op.inputs[0]]
        table = schema.BufferT()
        table.data = litert_table(model, subgraph, op).view(np.uint8)
        model.buffers.append(table)
        subgraph.tensors.append(_tensor(schema, f"{x.name}/litert_table", schema.TensorType.INT8, [256],
                                        subgraph.tensors[op.outputs[0]].quantization.scale[0],
                                        subgraph.tensors[op.outputs[0]].quantization.zeroPoint[0], len(model.buffers) - 1))
        table_index = len(subgraph.tensors) - 1
        subgraph.tensors.append(_tensor(schema, f"{x.name}/byte_index", schema.TensorType.INT32, list(x.shape),
                                        x.quantization.scale[0], int(x.quantization.zeroPoint[0]) + 128))
        index = len(subgraph.tensors) - 1
        to_index = schema.OperatorT()
        to_index.opcodeIndex, to_index.inputs, to_index.outputs = (opcode[schema.BuiltinOperator.QUANTIZE],
                                                                   np.array([op.inputs[0]], np.int32), np.array([index], np.int32))
        lookup = schema.OperatorT()
        lookup.opcodeIndex = opcode[schema.BuiltinOperator.GATHER]
        lookup.inputs, lookup.outputs = np.array([table_index, index], np.int32), np.array(op.outputs, np.int32)
        lookup.builtinOptionsType = schema.BuiltinOptions.GatherOptions
        lookup.builtinOptions = schema.GatherOptionsT()
        lookup.builtinOptions.axis, lookup.builtinOptions.batchDims = 0, 0
        operators += [to_index, lookup]
    subgraph.operators = operators
    return _pack(model), sorted(set(replaced))
