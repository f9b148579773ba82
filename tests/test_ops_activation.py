"""Bit-exactness of the activation kernels (SOFTMAX and the table ops) against TFLM.

Each case is a one-op int8 model made by the real TFLite converter; the
generated C is built with AddressSanitizer + UBSan and must match TFLM on
every one of 100 inputs (all -128 and all 127 among them). Input ranges vary
between cases so that the input scales, and with them the tables, differ.
"""
import pytest

from op_harness import assert_bit_exact, int8_tflite


def _function(op, shape):
    def build(tf):
        @tf.function
        def model(x):
            return op(tf, x)
        return model
    return build


def with_softmax_beta(tflite: bytes, beta: float) -> bytes:
    """The model with every SOFTMAX's beta set to `beta`.

    The converter folds no scaling into beta (tf.nn.softmax(x * b) becomes
    MUL + SOFTMAX with beta 1), so other betas are written into the flatbuffer.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    changed = 0
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if codes[op.opcodeIndex] == schema.BuiltinOperator.SOFTMAX:
                op.builtinOptions.beta = beta
                changed += 1
    assert changed, "the model has no SOFTMAX"
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


SOFTMAX_CASES = [
    # (shape, beta, calibration range)
    ((1, 10), 1.0, 4.0),
    ((1, 5, 7, 12), 1.0, 2.0),
    ((1, 10), 0.37, 8.0),
    ((1, 3, 13), 2.5, 1.0),
    ((1, 6, 33), 40.0, 3.0),      # a large beta * scale: most differences fall below diff_min
]


@pytest.mark.parametrize("shape,beta,spread", SOFTMAX_CASES)
def test_softmax(tmp_path, shape, beta, spread):
    tflite = int8_tflite(_function(lambda tf, x: tf.nn.softmax(x), shape), [shape], low=-spread, high=spread)
    if beta != 1.0:
        tflite = with_softmax_beta(tflite, beta)
    assert_bit_exact(tflite, tmp_path, expect_ops=["SOFTMAX"])
