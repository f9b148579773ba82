"""Table ops TFLM has no kernel for (GELU exact and tanh, RELU_0_TO_1, RELU_N1_TO_1), against LiteRT.

The tflite-micro we test against refuses GELU and RELU_0_TO_1 ("Didn't find op for builtin opcode"), so
their oracle is LiteRT's reference kernels (BUILTIN_REF op resolver). Each case is a hand-written one-op
model whose input holds all 256 int8 values, at input/output scales and zero points the converter would
not all pick: the table we generate must equal LiteRT's output for every byte. A few cases also go
through the generated C (host build, sanitizers) and the verify machinery, whose oracle for such a model
is TFLM running a copy with these ops as LiteRT's tables (tinyattend/oracle_model.py).
"""
import tempfile
from pathlib import Path

import numpy as np
import pytest

from op_harness import FlatbufferModel, assert_bit_exact, op_types

ALL_BYTES = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 16, 16)

# (input scale, zero point), (output scale, zero point): GELU's output lies in [-0.17, max(x)], so the
# converter's output zero points sit near -128; the others are odd on purpose.
GELU_QUANT = [
    ((0.05, 0), (0.05, -120)),
    ((0.0235, -17), (0.0193, -113)),
    ((0.1, 20), (0.07, -125)),
    ((0.004, 3), (0.0031, -70)),           # small scale: the quadratic part near 0
    ((0.31, -5), (0.2, -128)),             # wide range: erfc's tails
    ((0.0625, -128), (0.0625, -128)),      # power-of-two scales: ties in the final rounding
    ((0.125, 0), (0.03125, 0)),
    ((0.017, 40), (0.9, 100)),             # coarse output: most inputs land on a few codes
]
RELU_QUANT = [
    ((0.05, 0), (1 / 255, -128)),
    ((0.0235, -17), (0.0041, -128)),
    ((0.1, 20), (0.008, -3)),
    ((0.004, 3), (0.0039, 10)),
    ((0.5, -100), (0.0078125, 0)),
]


def one_op_model(op_name: str, in_quant, out_quant, *, approximate: bool | None = None, shape=(1, 1, 16, 16)) -> bytes:
    model = FlatbufferModel()
    schema = model.schema
    x = model.int8_tensor("x", shape, in_quant)
    y = model.int8_tensor("y", shape, out_quant)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, np.array([x], np.int32), np.array([y], np.int32)
    if approximate is not None:
        op.builtinOptionsType = schema.BuiltinOptions.GeluOptions
        op.builtinOptions = schema.GeluOptionsT()
        op.builtinOptions.approximate = approximate
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, op_name)
    code.deprecatedBuiltinCode = min(code.builtinCode, 127)    # 127: "see builtinCode"
    code.version = 1
    return model.build(code, [op], [x], [y], f"tinyattend {op_name} test")


def litert_table(tflite: bytes) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    interpreter = Interpreter(model_content=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ALL_BYTES)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).reshape(-1)


def our_table(tflite: bytes) -> np.ndarray:
    from tinyattend.codegen.ops import registry
    from tinyattend.ir.tflite_reader import read_tflite
    graph = read_tflite(tflite)
    (op,) = graph.ops
    module = registry()[op.type]
    assert module.check(op, graph, None) == []
    x, y = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
    if op.type == "GELU":
        return module.table(x.scale, x.zero_point, y.scale, y.zero_point, bool(op.options["approximate"]))
    return module.table(op, graph)


@pytest.mark.parametrize("approximate", [False, True], ids=["erf", "tanh"])
@pytest.mark.parametrize("in_quant,out_quant", GELU_QUANT)
def test_gelu_table_equals_litert(in_quant, out_quant, approximate):
    tflite = one_op_model("GELU", in_quant, out_quant, approximate=approximate)
    expected = litert_table(tflite)
    ours = our_table(tflite)
    assert np.array_equal(ours, expected), f"differs at inputs {np.flatnonzero(ours != expected) - 128}"


@pytest.mark.parametrize("op_name", ["RELU_0_TO_1", "RELU_N1_TO_1"])
@pytest.mark.parametrize("in_quant,out_quant", RELU_QUANT)
def test_relu_x_table_equals_litert(op_name, in_quant, out_quant):
    tflite = one_op_model(op_name, in_quant, out_quant)
    expected = litert_table(tflite)
    ours = our_table(tflite)
    assert np.array_equal(ours, expected), f"differs at inputs {np.flatnonzero(ours != expected) - 128}"


def test_gelu_forms_differ():
    """The two GELU tables are not the same table (the test above would not notice a swapped flag)."""
    quant = GELU_QUANT[1]
    exact = our_table(one_op_model("GELU", *quant, approximate=False))
    tanh = our_table(one_op_model("GELU", *quant, approximate=True))
    assert not np.array_equal(exact, tanh)


@pytest.mark.parametrize("op_name,approximate,kernels", [("GELU", False, "portable"), ("GELU", True, "fast"),
                                                         ("RELU_0_TO_1", None, "portable"),
                                                         ("RELU_0_TO_1", None, "fast")])
def test_generated_c_against_litert(tmp_path, op_name, approximate, kernels):
    """The generated C (sanitized host build) equals LiteRT's BUILTIN_REF on all bytes and random inputs,
    and the report names LiteRT as this op's and this model's oracle."""
    quant = GELU_QUANT[1] if op_name == "GELU" else RELU_QUANT[1]
    shape = (1, 3, 9, 10)                   # 270 elements: every byte once, then a tail for the fast lookup
    tflite = one_op_model(op_name, *quant, approximate=approximate, shape=shape)
    every_byte = np.resize(ALL_BYTES.reshape(-1), (1, *shape))
    report = assert_bit_exact(tflite, tmp_path, samples=20, kernels=kernels, expect_ops=[op_name],
                              extra_inputs=every_byte)
    assert report["oracle"] == {"model": "tflm+litert-builtin-ref-tables", "ops": {op_name: "litert-builtin-ref"}}


@pytest.mark.slow
@pytest.mark.parametrize("op_name,approximate", [("GELU", False), ("GELU", True), ("RELU_0_TO_1", None)])
def test_table_sweep_equals_litert(op_name, approximate):
    """300 random quantizations per op (log-uniform scales, any zero points): rounding corners that a
    handful of cases miss (an output landing within an ulp of a half step) turn up here."""
    rng = np.random.default_rng(14)
    for _ in range(300):
        in_quant = (float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))
        out_quant = (float(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))
        tflite = one_op_model(op_name, in_quant, out_quant, approximate=approximate)
        expected, ours = litert_table(tflite), our_table(tflite)
        assert np.array_equal(ours, expected), (in_quant, out_quant, np.flatnonzero(ours != expected) - 128)


@pytest.mark.parametrize("op_name,approximate", [("GELU", False), ("RELU_0_TO_1", None)])
def test_tflm_runnable_reference_is_litert_kernel(op_name, approximate):
    """The oracle for a model with an op TFLM lacks: TFLM runs a copy in which that op is QUANTIZE (to the
    byte's index) + GATHER from LiteRT's own 256 outputs. On every byte it must give LiteRT's output, and
    TFLM must refuse the original (else the substitution would be needless)."""
    from tinyattend.codegen.oracle import litert_only_op_types
    from tinyattend.errors import RunError
    from tinyattend.oracle_model import tflm_runnable
    from tinyattend.verify import tflm_reference
    quant = GELU_QUANT[4] if op_name == "GELU" else RELU_QUANT[2]
    tflite = one_op_model(op_name, *quant, approximate=approximate)
    runnable, replaced = tflm_runnable(tflite, litert_only_op_types())
    assert replaced == [op_name]
    assert op_types(runnable) == ["QUANTIZE", "GATHER"]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "original.tflite").write_bytes(tflite)
        (Path(tmp) / "runnable.tflite").write_bytes(runnable)
        outputs = tflm_reference(Path(tmp) / "runnable.tflite", ALL_BYTES[None])
        with pytest.raises(RunError, match=op_name):
            tflm_reference(Path(tmp) / "original.tflite", ALL_BYTES[None])
    assert np.array_equal(outputs.reshape(-1), litert_table(tflite))
