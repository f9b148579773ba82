"""Bit-exactness of the activation kernels (SOFTMAX and the table ops) against TFLM.

Each case is a one-op int8 model made by the real TFLite converter; the
generated C is built with AddressSanitizer + UBSan and must match TFLM on
every one of 100 inputs (all -128 and all 127 among them). Input ranges vary
between cases so that the input scales, and with them the tables, differ.
"""
import pytest

from op_harness import assert_bit_exact, int8_tflite, op_types, with_output_quantization


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


def rewrite_single_op(tflite: bytes, op_name: str, output_scale: float | None = None,
                      output_zero_point: int | None = None) -> bytes:
    """The one-op model with its op replaced by `op_name` (no options) and, optionally, new output quantization.

    For ops the converter does not emit on their own (int8 -> int8 QUANTIZE).
    """
    def replace_op(op, model, schema):
        code = getattr(schema.BuiltinOperator, op_name)
        model.operatorCodes[op.opcodeIndex].builtinCode = code
        model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode = min(code, 127)
        model.operatorCodes[op.opcodeIndex].version = 1
        op.builtinOptionsType, op.builtinOptions = 0, None
    assert len(op_types(tflite)) == 1, "a one-op model is expected"
    return with_output_quantization(tflite, output_scale, output_zero_point, edit_op=replace_op)


TABLE_OPS = {
    "LOGISTIC": lambda tf, x: tf.sigmoid(x),
    "TANH": lambda tf, x: tf.tanh(x),
    "HARD_SWISH": lambda tf, x: x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0),
    "RELU": lambda tf, x: tf.nn.relu(x),
    "RELU6": lambda tf, x: tf.nn.relu6(x),
    "LEAKY_RELU": lambda tf, x: tf.nn.leaky_relu(x, alpha=0.1),
}

TABLE_CASES = [
    # (op, shape, calibration range): odd sizes, channels not a multiple of 4, asymmetric ranges (zero points)
    ("LOGISTIC", (1, 5, 7, 3), (-4.0, 4.0)),
    ("LOGISTIC", (1, 37), (-9.0, 2.0)),
    ("TANH", (1, 5, 7, 3), (-3.0, 3.0)),
    ("TANH", (1, 9, 6), (-0.7, 1.3)),
    ("HARD_SWISH", (1, 5, 7, 3), (-4.0, 4.0)),
    ("HARD_SWISH", (1, 3, 3, 17), (-1.0, 7.0)),
    ("HARD_SWISH", (1, 2, 5, 7), (-0.3, 0.4)),    # small input scale: the reluish multiplier's exponent is < 0
    ("RELU", (1, 5, 7, 3), (-2.0, 3.0)),
    ("RELU6", (1, 4, 3, 5), (-3.0, 9.0)),
    ("LEAKY_RELU", (1, 5, 7, 3), (-4.0, 4.0)),
    ("LEAKY_RELU", (1, 29), (-10.0, 1.5)),
]


@pytest.mark.parametrize("op,shape,value_range", TABLE_CASES)
def test_table_op(tmp_path, op, shape, value_range):
    tflite = int8_tflite(_function(TABLE_OPS[op], shape), [shape], low=value_range[0], high=value_range[1])
    assert_bit_exact(tflite, tmp_path, expect_ops=[op])


@pytest.mark.parametrize("op,shape,value_range", TABLE_CASES[::2])
def test_table_op_fast(tmp_path, op, shape, value_range):
    """The fast kernel set's lookup (ta_lut_s8_fast: unsigned-byte index, four elements per word, a tail)."""
    tflite = int8_tflite(_function(TABLE_OPS[op], shape), [shape], low=value_range[0], high=value_range[1])
    assert_bit_exact(tflite, tmp_path, expect_ops=[op], kernels="fast")
    assert "ta_lut_s8_fast(" in next(tmp_path.rglob("model.c")).read_text()


@pytest.mark.parametrize("shape,output_scale,output_zero_point", [((1, 5, 7, 3), 0.011, 17),
                                                                   ((1, 21), 0.25, -100)])
def test_quantize_int8_to_int8(tmp_path, shape, output_scale, output_zero_point):
    tflite = int8_tflite(_function(TABLE_OPS["RELU"], shape), [shape], low=-2.0, high=1.0)
    tflite = rewrite_single_op(tflite, "QUANTIZE", output_scale, output_zero_point)
    assert_bit_exact(tflite, tmp_path, expect_ops=["QUANTIZE"])


@pytest.mark.parametrize("shape,value_range", [((1, 5, 7, 3), (-3.0, 2.0)), ((1, 23), (-0.5, 0.7))])
def test_relu_n1_to_1_against_litert(tmp_path, shape, value_range):
    """TFLM has no RELU_N1_TO_1 kernel, so this one is compared with the TFLite (LiteRT) interpreter."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from tinyattend.boards import load_board
    from tinyattend.build.host import build_host, run_host
    from tinyattend.pipeline import write_project
    from tinyattend.verify import random_inputs

    tflite = int8_tflite(_function(lambda tf, x: tf.clip_by_value(x, -1.0, 1.0), shape), [shape],
                         low=value_range[0], high=value_range[1])
    report = write_project(tmp_path, tflite, load_board("host"), kernels="portable", optimize="balanced",
                           model_name="test_op", measure_tflm_arena=False)
    assert report["ops"] == ["RELU_N1_TO_1"]
    inputs = random_inputs(shape, 100, 0)
    inputs[0].fill(-128)
    inputs[1].fill(127)
    ours = run_host(build_host(tmp_path, sanitize=True), inputs, int(np.prod(shape)), tuple(report["output"]["shape"]))
    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    reference = []
    for sample in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample)
        interpreter.invoke()
        reference.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy())
    reference = np.stack(reference)
    assert np.array_equal(ours.reshape(reference.shape), reference)


def test_classifier_head(tmp_path):
    """Conv -> hard-swish -> global average pool (MEAN) -> dense -> softmax, the way MLPerf Tiny models end."""
    def build(tf):
        x = tf.keras.Input((9, 9, 3), batch_size=1)
        y = tf.keras.layers.Conv2D(6, 3, padding="same")(x)
        y = tf.keras.layers.Activation(lambda t: t * tf.nn.relu6(t + 3.0) * (1.0 / 6.0))(y)
        y = tf.keras.layers.GlobalAveragePooling2D()(y)
        y = tf.keras.layers.Dense(10)(y)
        return tf.keras.Model(x, tf.keras.layers.Softmax()(y))
    assert_bit_exact(int8_tflite(build, [(1, 9, 9, 3)]), tmp_path, expect_ops=["HARD_SWISH", "MEAN", "SOFTMAX"])


PRELU_CASES = [
    # (input shape without batch, shared axes, calibration range): per channel (the ONNX PReLU of a
    # conv net), one alpha in all, and a full-shape alpha (no broadcast)
    ((5, 7, 6), [1, 2], (-3.0, 2.0)),
    ((4, 3, 5), [1, 2, 3], (-1.0, 4.0)),
    ((3, 4, 3), None, (-2.0, 2.0)),
    ((9, 13), [1], (-5.0, 0.5)),
]


@pytest.mark.parametrize("shape,shared_axes,value_range,kernels", [(*case, "portable") for case in PRELU_CASES]
                         + [(*PRELU_CASES[0], "fast")])
def test_prelu(tmp_path, shape, shared_axes, value_range, kernels):
    """PRELU with its alpha constant and broadcast (alphas of both signs, above 1 too), against TFLM.
    The fast kernel set has no PRELU of its own: it takes the portable kernel beside its others."""
    import numpy as np
    alpha_shape = tuple(1 if shared_axes and axis + 1 in shared_axes else d for axis, d in enumerate(shape))
    alpha = np.random.default_rng(3).uniform(-0.5, 1.5, size=alpha_shape).astype(np.float32)

    def build(tf):
        x = tf.keras.Input(shape, batch_size=1)
        layer = tf.keras.layers.PReLU(shared_axes=shared_axes)
        y = layer(x)
        layer.set_weights([alpha])
        return tf.keras.Model(x, y)
    tflite = int8_tflite(build, [(1, *shape)], low=value_range[0], high=value_range[1])
    assert_bit_exact(tflite, tmp_path, expect_ops=["PRELU"], kernels=kernels)


def test_logistic_and_tanh_tables_on_arrays_equal_the_scalar_port():
    """LOGISTIC/TANH tables are computed on numpy arrays (codegen speed); the scalar port of TFLM's
    integer arithmetic is the reference: every entry equal over 80 input scales from 1e-4 to 100 (and
    powers of two), each with a random zero point. The bit-exact tests above check the tables against TFLM."""
    import numpy as np

    from tinyattend.codegen.ops.logistic import INPUT_INTEGER_BITS, input_scaling, reference_table, table

    rng = np.random.default_rng(14)
    scales = [*np.exp(rng.uniform(np.log(1e-4), np.log(100.0), 80)), *(2.0 ** -k for k in range(12)), 1 / 255]
    checked = 0
    for scale in scales:
        multiplier, shift, _ = input_scaling(scale)
        if multiplier >= 1 << 31 or shift < 0 or shift > 31 + INPUT_INTEGER_BITS:
            continue                                  # refused by the op's check
        for op in ("LOGISTIC", "TANH"):
            zero_point = -128 if op == "LOGISTIC" and checked % 3 == 0 else int(rng.integers(-128, 128))
            got, want = table(op, scale, zero_point), reference_table(op, scale, zero_point)
            assert got.dtype == want.dtype == np.int8
            assert np.array_equal(got, want), (op, scale, zero_point, np.nonzero(got != want)[0][:8])
            checked += 1
    assert checked > 150
